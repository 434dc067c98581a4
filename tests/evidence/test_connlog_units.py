"""The connection-log pipeline without devices: what deploy uploads, the agent's reading across
rotations (run here as the program it is, on files of this test), the records' names, the join of a
connection's opening with its close."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import subprocess
import sys

import pytest

from vendorwall import pipeline
from vendorwall.access import logpipe, logs
from vendorwall.devices import agents
from vendorwall.model import SyslogTarget

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "inventories", "example")


@pytest.fixture(scope="module")
def model():
    return pipeline.run(EXAMPLE, dt.date(2026, 11, 28), check_lock=False, do_render=False).model


def test_ulogd_conf_records_every_vendor_prefix_within_ulogds_value_limit(model):
    text = logpipe.ulogd_conf(model, "/var/lib/vendorwall/connlog")
    filters = [ln.split("=", 1)[1] for ln in text.splitlines() if ln.startswith("accept_src_filter=")]
    assert len(filters) >= 2 and all(len(f) <= logpipe.ULOGD_VALUE_MAX for f in filters)
    got = sorted(p for f in filters for p in f.split(","))
    assert got == sorted(str(n) for n in logpipe.vendor_prefixes(model))
    assert "group=2\nnetlink_qthreshold=1" in text and "[drop1]\ngroup=1" in text
    assert text.count('file="/var/lib/vendorwall/connlog/flow.json"') == len(filters)
    assert logpipe.files(model, "/var/lib/vendorwall") == logpipe.files(model, "/var/lib/vendorwall")  # pure


def test_filter_chunks_split_at_the_limit_and_keep_order():
    prefixes = [f"10.{i}.0.0/16" for i in range(40)]
    chunks = logpipe.filter_chunks(prefixes, 50)
    assert all(len(c) <= 50 for c in chunks) and ",".join(chunks).split(",") == prefixes
    assert logpipe.filter_chunks([]) == []


def test_rsyslog_conf_plain_tcp_and_tls():
    plain = logpipe.rsyslog_conf(SyslogTarget("192.0.2.10", 514), "/d")
    assert 'protocol="tcp"' in plain and 'tcp_framing="octet-counted"' in plain and "gtls" not in plain
    assert 'template="RSYSLOG_SyslogProtocol23Format"' in plain and 'queue.saveOnShutdown="on"' in plain
    tls = logpipe.rsyslog_conf(SyslogTarget("syslog.example", 6514, True, "/etc/ssl/ca.pem"), "/d")
    assert 'streamDriver="gtls"' in tls and 'streamDriverPermittedPeers="syslog.example"' in tls
    assert 'defaultNetstreamDriverCAFile="/etc/ssl/ca.pem"' in tls and 'streamDriverAuthMode="x509/name"' in tls


def test_tls_without_ca_is_a_problem_before_any_device(model):
    from dataclasses import replace

    pol = model.inventory.policy
    bad = replace(pol, connection_logs=replace(pol.connection_logs, syslog=SyslogTarget("s.example", 6514, True)))
    inv = replace(model.inventory, policy=bad)
    assert logpipe.problems(replace(model, inventory=inv))
    assert logpipe.problems(model) == []


def _agent(request: dict) -> dict:
    p = subprocess.run([sys.executable, "-c", agents.source("connlog"), "connlog"], input=json.dumps(request),
                       capture_output=True, text=True, timeout=30, check=False)
    return json.loads(p.stdout)


def _lines(ans: dict, name: str) -> list[str]:
    return base64.b64decode(ans["files"][name]["data"]).decode().splitlines()


def test_agent_read_follows_copytruncate_rotation_without_loss_or_repeat(tmp_path):
    d = str(tmp_path)
    f = os.path.join(d, "new.json")
    with open(f, "w") as fh:
        fh.write('{"n": 1}\n{"n": 2}\n{"n": 3, "partial')  # the last line is still being written
    a = _agent({"op": "read", "dir": d})
    assert _lines(a, "new.json") == ['{"n": 1}', '{"n": 2}'] and a["files"]["flow.json"].get("absent")
    cur = {k: v["cursor"] for k, v in a["files"].items()}
    with open(f, "a") as fh:
        fh.write('"}\n{"n": 4}\n')
    # logrotate copytruncate: copy to .1, truncate in place (same inode); then a new line
    shutil.copyfile(f, f + ".1")
    with open(f, "r+") as fh:
        fh.truncate(0)
    with open(f, "a") as fh:
        fh.write('{"n": 5}\n')
    b = _agent({"op": "read", "dir": d, "cursors": cur})
    assert _lines(b, "new.json") == ['{"n": 3, "partial"}', '{"n": 4}', '{"n": 5}']
    assert b["files"]["new.json"]["rotated"]
    c = _agent({"op": "read", "dir": d, "cursors": {k: v["cursor"] for k, v in b["files"].items()}})
    assert _lines(c, "new.json") == []


def test_agent_read_sees_a_rotation_that_grew_past_the_old_offset(tmp_path):
    d = str(tmp_path)
    f = os.path.join(d, "new.json")
    first = "".join(f'{{"old": {i}, "pad": "{"x" * 40}"}}\n' for i in range(10))
    with open(f, "w") as fh:
        fh.write(first)
    a = _agent({"op": "read", "dir": d})
    cur = {k: v["cursor"] for k, v in a["files"].items()}
    shutil.copyfile(f, f + ".1")
    with open(f, "w") as fh:  # truncated, then more than the old size written before the next read
        fh.write("".join(f'{{"new": {i}, "pad": "{"y" * 40}"}}\n' for i in range(20)))
    b = _agent({"op": "read", "dir": d, "cursors": cur})
    assert next(json.loads(x) for x in _lines(b, "new.json")) == {"new": 0, "pad": "y" * 40}
    assert len(_lines(b, "new.json")) == 20


@pytest.mark.parametrize("request_", [
    {"op": "read", "dir": "relative/path"},
    {"op": "read", "dir": "/tmp/../etc"},
    {"op": "read", "dir": "/tmp/x; rm -rf /"},
    {"op": "install", "dir": "/tmp/x", "files": {"../../etc/passwd": "x", "ulogd.conf": "", "logrotate.conf": ""}},
    {"op": "install", "dir": "/tmp/x", "files": {"ulogd.conf": "", "logrotate.conf": ""}, "supervisor": "sh"},
    {"op": "nope"},
])
def test_agent_refuses_bad_requests(request_):
    a = _agent(request_)
    assert a["ok"] is False and a["error"]


def test_agent_refuses_sysctls_it_does_not_own(tmp_path):
    req = {"op": "install", "dir": str(tmp_path / "c"), "files": {"ulogd.conf": "", "logrotate.conf": ""},
           "supervisor": "process", "sysctl": {"net.ipv4.ip_forward": "0"}}
    if shutil.which("ulogd") is None:
        pytest.skip("needs ulogd to get past the package check")
    a = _agent(req)
    assert a["ok"] is False and "net.ipv4.ip_forward" in a["error"]


FLOW = {"flow.start.sec": 100, "flow.start.usec": 500000, "flow.end.sec": 112, "flow.end.usec": 0,
        "orig.ip.protocol": 6, "orig.l4.sport": 40000, "orig.l4.dport": 22, "orig.raw.pktlen": 3000,
        "orig.raw.pktcount": 5, "reply.raw.pktlen": 500, "reply.raw.pktcount": 4, "src_ip": "10.200.1.1",
        "dest_ip": "10.66.0.26"}
NEW = {"oob.time.sec": 100, "oob.time.usec": 500100, "ip.protocol": 6, "src_port": 40000, "dest_port": 22,
       "src_ip": "10.200.1.1", "dest_ip": "10.66.0.26", "oob.prefix": "vw-vendor-new"}


def test_parse_event_end_and_new():
    e = logs.parse_event("fw", "flow.json", FLOW)
    assert e is not None and (e["bytes"], e["bytes_out"], e["packets"], e["duration"]) == (3500, 3000, 9, 11.5)
    n = logs.parse_event("fw", "new.json", NEW)
    assert n is not None
    assert (n["event"], n["verdict"], n["reason"], n["dport"]) == ("new", "accept", "vw-vendor-new", 22)
    assert logs.parse_event("fw", "new.json", {**NEW, "src_ip": "not-an-ip"}) is None
    assert logs.parse_event("fw", "flow.json", {"oops": 1}) is None


def test_names_of_a_record(model):
    names = logs.Names(model, None)
    r = logs.parse_event("fw-centre", "flow.json", FLOW)
    assert r is not None
    hit = names.vendor(r["src"])
    assert hit == ("acme-imaging", "acme-vpn")
    out = names.enrich({**r, "vendor": hit[0], "entry_path": hit[1]})
    assert out["system"] == "pacs-test-centre" and out["service"] == "ssh"
    assert out["grant"] == "" and out["access"] == "unexplained"  # no journal: no grant covers it


def _archive(tmp_path, recs: list[dict]) -> str:
    import gzip
    import hashlib

    from vendorwall.isolate import journal

    arch = str(tmp_path / "arch")
    os.makedirs(arch)
    data = "".join(json.dumps(r) + "\n" for r in recs).encode()
    comp = gzip.compress(data, mtime=0)
    with open(os.path.join(arch, "s1.jsonl.gz"), "wb") as fh:
        fh.write(comp)
    journal.append(os.path.join(arch, logs.INDEX), {"event": "segment", "file": "s1.jsonl.gz",
                                                   "sha256": hashlib.sha256(comp).hexdigest(), "last_ts": 200})
    return arch


def test_connections_join_the_opening_and_the_close(tmp_path):
    n = logs.parse_event("fw", "new.json", NEW)
    e = logs.parse_event("fw", "flow.json", FLOW)
    other = logs.parse_event("fw", "new.json", {**NEW, "src_port": 40001})
    orphan = logs.parse_event("fw", "flow.json", {**FLOW, "orig.l4.sport": 40002})
    drop = logs.parse_event("fw", "drop.json", {**NEW, "dest_port": 23, "oob.prefix": "vw-drop"})
    arch = _archive(tmp_path, [r for r in (n, e, other, orphan, drop) if r])
    conns = logs.connections(arch)
    got = sorted((c["sport"], c["closed"], c.get("bytes")) for c in conns)
    assert got == [(40000, True, 3500), (40001, False, None), (40002, True, 3500)]
    assert logs.verify(arch) == []


def test_inventory_errors_for_the_log_and_alert_settings(tmp_path):
    import yaml

    from vendorwall.errors import VendorwallError

    inv = str(tmp_path / "example")
    shutil.copytree(EXAMPLE, inv)
    path = os.path.join(inv, "vendorwall", "policy.yml")
    with open(path) as fh:
        data = yaml.safe_load(fh)
    data["policy"]["connection_logs"] = {"syslog": {"host": "syslog.chu-exemple.example", "tls": True}}
    data["policy"]["alerts"] = {"webhook": {"format": "teams"}, "email": {"server": "smtp example", "from": "x",
                                                                         "to": []}}
    with open(path, "w") as fh:
        yaml.safe_dump(data, fh, sort_keys=False)
    with pytest.raises(VendorwallError) as exc:
        pipeline.run(inv, dt.date(2026, 11, 28), check_lock=False, do_render=False)
    text = exc.value.render()
    print(text)
    assert "policy.yml" in text and "policy.alerts.email" in text  # schema: bad server, from, empty to
    for d in exc.value.diagnostics:
        assert d.line > 0, d
    # the schema errors stop the load; alone, the semantic ones speak too
    data["policy"]["alerts"] = {"webhook": {"format": "teams"}}
    with open(path, "w") as fh:
        yaml.safe_dump(data, fh, sort_keys=False)
    with pytest.raises(VendorwallError) as exc:
        pipeline.run(inv, dt.date(2026, 11, 28), check_lock=False, do_render=False)
    msgs = {d.message: d.path for d in exc.value.diagnostics}
    assert msgs == {"syslog over TLS without a CA certificate": "policy.connection_logs.syslog",
                    "webhook without an address": "policy.alerts.webhook"}


def test_names_find_the_grant_that_covers_the_connection_start(model, tmp_path):
    from vendorwall.isolate import journal

    j = str(tmp_path / "access.jsonl")

    def z(t: float) -> str:
        return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    for i, (start, hours) in enumerate(((50.0, 1), (100.0, 2), (20000.0, 1))):
        journal.append(j, {"event": "opened", "grant": f"g00000000000{i}", "vendor": "acme-imaging",
                           "system": "pacs-test-centre", "ticket": "T", "opened_at": z(start),
                           "expires_at": z(start + hours * 3600), "emergency": i == 2,
                           "elements": ["grants_tcp 10.200.1.0/27 . 10.66.0.26/32 . 22 @fw-centre"]})
    names = logs.Names(model, j)
    base = logs.parse_event("fw-centre", "flow.json", FLOW)
    assert base is not None

    def at(t: float, port: int = 22) -> dict:
        return names.enrich({**base, "start": t, "ts": t + 5, "dport": port, "vendor": "acme-imaging"})

    assert at(3700.0)["grant"] in ("g000000000000", "g000000000001")  # both windows hold it
    assert at(7000.0)["grant"] == "g000000000001"  # only the 2 h one
    assert (at(20100.0)["grant"], at(20100.0)["access"]) == ("g000000000002", "break-glass")
    assert at(9000.0) == {**at(9000.0), "grant": "", "access": "unexplained"}  # between grants
    assert at(7000.0, 443)["grant"] == ""  # another port: not in the grant's tuples


def test_the_deploy_step_reports_the_pipeline_per_device(monkeypatch, model):
    """After the policy push: check mode plans, a missing package fails the device with the command to
    run (the policy stays applied, said so), an unreachable agent too; a rerun that changes nothing is ok."""
    from vendorwall.deploy import nftables
    from vendorwall.deploy.common import Options, Result
    from vendorwall.devices.errors import ConnectError
    from vendorwall.devices.target import Target

    t = Target("fw-centre", "nftables", "192.0.2.1")
    t.extra = {"connlog": logpipe.install_request(model, "/var/lib/vendorwall")}
    answers: list = []

    def fake(target, name, request, timeout=None):
        assert name == "connlog" and request["op"] == "install" and request["dir"] == "/var/lib/vendorwall/connlog"
        answers.append(request)
        a = replies.pop(0)
        if isinstance(a, Exception):
            raise a
        return a

    monkeypatch.setattr("vendorwall.devices.agents.run_agent", fake)
    replies = [{"ok": True, "changed": ["ulogd.conf"], "would_start": ["ulogd"], "check": True}]
    r = Result("fw-centre", "nftables")
    nftables.connlog(t, r, Options(check=True))
    assert answers[-1]["check"] is True and r.changed and r.error is None
    assert r.log == ["connection log: would change ulogd.conf, would start ulogd"]
    replies = [{"ok": False, "missing": ["ulogd"], "error": "missing on the firewall: ulogd (Debian: apt-get install "
                                                            "ulogd2 ulogd2-json logrotate)"}]
    r = Result("fw-centre", "nftables")
    nftables.connlog(t, r, Options())
    assert r.error is not None and "policy applied, pipeline not installed" in r.error.message
    assert "apt-get install ulogd2" in r.error.message
    replies = [ConnectError("fw-centre", "nftables", "ssh", "timed out")]
    r = Result("fw-centre", "nftables")
    nftables.connlog(t, r, Options())
    assert r.error is not None and "timed out" in r.error.message
    replies = [{"ok": True, "changed": [], "started": [], "restarted": [], "running": {"ulogd": 42}}]
    r = Result("fw-centre", "nftables")
    nftables.connlog(t, r, Options())
    assert r.error is None and not r.changed
    assert r.log == ["connection log: changed nothing; started none; running ulogd"]
