"""The connection-log pipeline on real (lab) firewalls: deploy installs it, a vendor connection through a
firewall reaches the collected archive with vendor, system, service, grant and bytes, and a real rsyslog
server over TLS; rotation loses nothing; retention purge is journaled and the chain stays intact.

The lab is the example inventory's (a copy, whose policy names the lab's syslog server). Kernel facts the
test leans on: conntrack reports a closed TCP flow (DESTROY, with its byte counters) when the entry leaves
TIME_WAIT and the garbage collector reaps it: up to ~60 s later. The test shortens TIME_WAIT to 1 s in the
firewall's namespace (a lab setting, not the pipeline's) and waits for the record.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time

import labsupport
import pytest
import yaml

from vendorwall import pipeline
from vendorwall.access import devices, grants, logpipe, logs, policy
from vendorwall.devices.agents import run_agent
from vendorwall.isolate import journal
from vendorwall.lab import netns, runner

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "alerts"))
import servers
import syslog_server

pytestmark = pytest.mark.lab

LAB_ID = "el" + format(os.getpid() % 4096, "03x")
FW = "fw-centre"
VENDOR, SYSTEM = "acme-imaging", "pacs-test-centre"
APPROVER = "pacs.admin@chu-exemple.example"
PEER = "syslog.lab.example"


class Lab:
    def __init__(self, state, model, inv, base, server, alert_servers):
        self.state, self.model, self.inv, self.base, self.server = state, model, inv, base, server
        self.smtp, self.http, _ = alert_servers
        self.journal = os.path.join(base, "access.jsonl")
        self.arch = os.path.join(base, "archive")

    @property
    def o(self) -> devices.ConnOptions:
        return devices.ConnOptions(lab_dir=self.state.lab_dir)

    def fw_ns(self, fw: str = FW) -> str:
        return self.state.firewalls[fw]["netns"]

    def connlog_dir(self, fw: str = FW) -> str:
        return logpipe.device_dir(self.state.firewalls[fw]["remote_dir"])

    def where(self) -> tuple[str, str, str, str]:
        src_ns, src = self.state.places["10.200.1.0/27"]
        addr = next(str(a) for seg in self.model.segments for n, ads in seg.hosts.items() if n == SYSTEM for a in ads)
        dst_ns, dst = self.state.places[f"{addr}/32"]
        return src_ns, src, dst_ns, dst


def _with_syslog(inv: str, host: str, ca: str, alert_servers: tuple) -> None:
    path = os.path.join(inv, "vendorwall", "policy.yml")
    with open(path) as fh:
        data = yaml.safe_load(fh)
    data["policy"]["connection_logs"] = {"local_keep_days": 3, "syslog": {"host": host, "port": 6514, "tls": True,
                                                                          "ca_file": ca, "permitted_peer": PEER}}
    smtp, _http, _syslog = alert_servers
    data["policy"]["alerts"] = {"email": {"server": "127.0.0.1", "port": smtp.port, "security": "none",
                                          "from": "vendorwall@chu-exemple.example", "to": ["rssi@chu-exemple.example"]},
                                "webhook": {"url_env": "VW_LAB_ALERT_HOOK"}}
    with open(path, "w") as fh:
        yaml.safe_dump(data, fh, sort_keys=False)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    reason = labsupport.lab_available("ulogd", "rsyslogd", "logrotate")
    if reason:
        pytest.skip(reason)
    base = str(tmp_path_factory.mktemp("connlog"))
    inv = os.path.join(base, "example")
    shutil.copytree(labsupport.EXAMPLE_INVENTORY, inv)
    prefix = f"vw{LAB_ID}-"
    server = None
    alert_servers = (servers.Smtp(), servers.Http(), None)
    try:
        state = runner.up(inv, lab_dir=os.path.join(base, "lab"), lab_id=LAB_ID, now=None)
        ctl_addr = state.firewalls[FW]["controller"]
        pki = syslog_server.make_pki(base, PEER, ctl_addr)
        server = syslog_server.start(state.controller, os.path.join(base, "syslog"), ctl_addr, 6514, pki)
        _with_syslog(inv, ctl_addr, pki[0], alert_servers)
        model = pipeline.run(inv, dt.date.fromisoformat(state.now), check_lock=False, do_render=False).model
        labsupport.deploy(state)
        yield Lab(state, model, inv, base, server, alert_servers)
    finally:
        if server:
            server.stop()
        alert_servers[0].stop()
        alert_servers[1].stop()
        runner.down(os.path.join(base, "lab"), prefix)
        left = [n for n in netns.list_netns() if n.startswith(prefix)]
        assert not left, f"namespaces left behind: {left}"


def _agent(lab: Lab, request: dict, fw: str = FW) -> dict:
    t = devices.targets(lab.model.inventory, [fw], lab.o)[0]
    return run_agent(t, "connlog", {"dir": lab.connlog_dir(fw), **request})


def test_01_deploy_installs_the_pipeline_on_every_firewall_and_a_rerun_changes_nothing(lab):
    for fw in lab.state.firewalls:
        st = _agent(lab, {"op": "status"}, fw)
        assert set(st["running"]) == {"ulogd", "rsyslog"}, (fw, st)
        with open(os.path.join(lab.connlog_dir(fw), "ulogd.conf")) as fh:
            text = fh.read()
        assert "accept_src_filter=10.200.1.0/27" in text and "@PLUGINDIR@" not in text
        assert os.stat(lab.connlog_dir(fw)).st_mode & 0o777 == 0o700
    for fw in lab.state.firewalls:  # the kernel counts bytes and times flows in each firewall's namespace
        out = subprocess.run(["ip", "netns", "exec", lab.fw_ns(fw), "sysctl", "-n", "net.netfilter.nf_conntrack_acct",
                              "net.netfilter.nf_conntrack_timestamp"], capture_output=True, text=True, check=True)
        assert out.stdout.split() == ["1", "1"]
    results = runner.deploy(lab.state, confirm_s=60)
    logs_of = {r.device: r.log for r in results if r.device in lab.state.firewalls}
    assert all(any("connection log: changed nothing; started none" in line for line in log)
               for log in logs_of.values()), logs_of


def _wait(pred, timeout: float, step: float = 1.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def test_02_a_vendor_connection_reaches_the_archive_with_vendor_system_grant_and_bytes(lab):
    out = grants.open_grant(lab.model, policy.Request(VENDOR, SYSTEM, "CHG-LOG-1", "alice@chu-exemple.example",
                                                      APPROVER, "10m"), lab.o, lab.journal)
    assert out.exit == 0, out.lines
    gid = out.data["grant"]
    subprocess.run(["ip", "netns", "exec", lab.fw_ns(), "sysctl", "-q",
                    "net.netfilter.nf_conntrack_tcp_timeout_time_wait=1"], check=True)
    src_ns, src, _dns, dst = lab.where()
    s = netns.socket_in(src_ns)
    s.settimeout(3)
    s.bind((src, 0))
    s.connect((dst, 22))
    sport = s.getsockname()[1]
    assert s.recv(64).startswith(b"vw ")
    s.sendall(b"v" * 3000)
    time.sleep(0.2)
    s.close()
    # a vendor packet the policy drops (telnet is never allowed): a drop record, with the policy's reason
    t = netns.socket_in(src_ns)
    t.settimeout(0.3)
    t.bind((src, 0))
    with pytest.raises(OSError):
        t.connect((dst, 23))
    t.close()
    flow = os.path.join(lab.connlog_dir(), "flow.json")
    t0 = time.monotonic()
    assert _wait(lambda: os.path.exists(flow) and os.path.getsize(flow) > 0, 150), "no conntrack DESTROY in 150 s"
    print(f"flow record on the firewall {time.monotonic() - t0:.0f} s after the close")
    c = logs.collect(lab.model, lab.o, lab.arch, access_journal=lab.journal)
    print(c.lines)
    assert c.exit == 0 and c.data["counts"]["end"] >= 1
    recs = logs.records(lab.arch)
    end = [r for r in recs if r["event"] == "end" and r["sport"] == sport]
    assert len(end) == 1, recs
    r = end[0]
    assert (r["vendor"], r["entry_path"], r["system"], r["service"], r["verdict"]) == \
        (VENDOR, "acme-vpn", SYSTEM, "ssh", "accept")
    assert r["grant"] == gid and r["access"] == "grant"
    assert r["bytes_out"] >= 3000 and r["bytes"] > r["bytes_out"] and r["duration"] > 0
    conn = [x for x in logs.connections(lab.arch) if x["sport"] == sport]
    assert len(conn) == 1 and conn[0]["closed"] and conn[0]["event"] == "new" and conn[0]["bytes"] == r["bytes"]
    drops = [x for x in recs if x["event"] == "drop" and x["dport"] == 23]
    assert drops and drops[0]["vendor"] == VENDOR and drops[0]["verdict"] == "drop" and drops[0]["reason"]
    assert logs.verify(lab.arch) == []
    # the same flow reached the syslog server, RFC 5424 over TLS, from the firewall's host name
    assert _wait(lambda: any(f'"orig.l4.sport": {sport}' in x for x in lab.server.lines()), 30), lab.server.lines()
    line = next(x for x in lab.server.lines() if f'"orig.l4.sport": {sport}' in x)
    assert line.startswith("<") and ">1 " in line.split(" ", 1)[0] + " " and f" {FW} vendorwall-flow " in line


def test_03_rotation_on_the_firewall_loses_and_repeats_nothing(lab):
    before = logs.collect(lab.model, lab.o, lab.arch, access_journal=lab.journal)
    assert before.exit == 0
    rot = _agent(lab, {"op": "rotate"})
    assert rot["ok"], rot
    assert os.path.exists(os.path.join(lab.connlog_dir(), "new.json.1"))
    src_ns, src, _dns, dst = lab.where()
    s = netns.socket_in(src_ns)
    s.settimeout(3)
    s.bind((src, 0))
    s.connect((dst, 22))
    sport = s.getsockname()[1]
    s.close()
    time.sleep(0.5)
    n0 = len(logs.records(lab.arch))
    c = logs.collect(lab.model, lab.o, lab.arch, access_journal=lab.journal)
    assert c.exit == 0
    recs = logs.records(lab.arch)
    assert [r["event"] for r in recs if r["sport"] == sport] == ["new"]
    assert len(recs) - n0 == c.data["records"]  # nothing collected twice
    keys = [(r["event"], r["firewall"], r["sport"], r["ts"]) for r in recs]
    assert len(keys) == len(set(keys))


def test_04_retention_purge_is_journaled_and_the_archive_stays_verifiable(lab):
    idx = os.path.join(lab.arch, logs.INDEX)
    segs = [e for e in journal.read(idx) if e.get("file")]
    assert segs
    days = lab.model.inventory.policy.log_retention_days
    newest = max(e["last_ts"] for e in segs)
    # a day before the newest segment would expire: nothing goes
    p = logs.purge(lab.model, lab.arch, now=newest + (days - 1) * 86400)
    assert p.data["purged"] == []
    p = logs.purge(lab.model, lab.arch, now=newest + (days + 1) * 86400)
    assert sorted(p.data["purged"]) == sorted(e["file"] for e in segs)
    assert not any(os.path.exists(os.path.join(lab.arch, e["file"])) for e in segs)
    last = journal.read(idx)[-1]
    assert last["event"] == "purged" and last["retention_days"] == days
    assert last["sha256"] == {e["file"]: e["sha256"] for e in segs}
    assert logs.verify(lab.arch) == [] and logs.records(lab.arch) == []
    # the purge entry cannot be rewritten unseen
    with open(idx) as fh:
        lines = fh.readlines()
    lines[-1] = lines[-1].replace(f'"retention_days":{days}', f'"retention_days":{days * 10}', 1)
    with open(idx, "w") as fh:
        fh.writelines(lines)
    assert any("hash does not match" in x for x in logs.verify(lab.arch))


def test_05_a_break_glass_opening_sends_an_email_and_a_webhook(lab):
    for gid, g in grants.journal_grants(lab.journal).items():  # the grant of test 02 still holds the tuples
        if g["ended"] is None:
            assert grants.close_grant(lab.model, gid, lab.o, lab.journal, reason="test 05").exit == 0
    env = {**os.environ, "VW_LAB_ALERT_HOOK": lab.http.url("/hook/t0ken")}
    p = subprocess.run([sys.executable, "-m", "vendorwall", "access", "open", lab.inv, "--vendor", VENDOR,
                        "--system", SYSTEM, "--ticket", "INC-BG-1", "--requester", "oncall@chu-exemple.example",
                        "--duration", "30m", "--emergency", "--lab-dir", lab.state.lab_dir, "--journal", lab.journal],
                       capture_output=True, text=True, timeout=120, check=False, env=env,
                       cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    print(p.stdout, p.stderr)
    assert p.returncode == 0, p.stderr
    assert "alerts: " in p.stderr and " sent (email " in p.stderr and "FAILED" not in p.stderr
    assert servers.wait_for(lambda: lab.smtp.messages and lab.http.posts)
    glass = [m for m in lab.smtp.messages if "BREAK-GLASS" in m["Subject"]]
    assert len(glass) == 1 and "INC-BG-1" in glass[0].get_payload()
    hook = [x for x in lab.http.posts if x["kind"] == "break_glass_opened"]
    assert len(hook) == 1 and hook[0]["data"]["ticket"] == "INC-BG-1"
    assert "t0ken" not in p.stdout + p.stderr

