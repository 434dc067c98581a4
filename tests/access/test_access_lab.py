"""On-demand access in the lab: real SSH to the firewalls, real nftables, real packets.

A grant of a few seconds opens the vendor's path, and the firewall alone closes it at expiry (the
controller process has exited); a live TCP session is cut at its first packet after expiry; an early
close; a second grant on the same tuples is refused; ``list`` shows time left, then journals the expiry.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from labsupport import Stream

from vendorwall.access import devices, grants, policy
from vendorwall.isolate import journal
from vendorwall.lab import netns

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
INV = str(ROOT / "inventories" / "example")
VENDOR, SYSTEM = "acme-imaging", "pacs-test-centre"
APPROVER = "pacs.admin@chu-exemple.example"
FW = "fw-centre"
STREAM_PORT = 7003


def _where(lab) -> tuple[str, str, str, str]:
    """(vendor ns, vendor address, system ns, system address): acme's VPN pool -> pacs-test-centre."""
    src_ns, src = lab.state.places["10.200.1.0/27"]
    addr = str(lab.model.inventory.systems[SYSTEM].addresses[0]) if lab.model.inventory.systems[SYSTEM].addresses \
        else next(str(a) for seg in lab.model.segments for n, ads in seg.hosts.items() if n == SYSTEM for a in ads)
    dst_ns, dst = lab.state.places[f"{addr}/32"]
    return src_ns, src, dst_ns, dst


def connects(lab, port: int = 22, timeout: float = 0.5) -> bool:
    src_ns, src, _dns, dst = _where(lab)
    s = netns.socket_in(src_ns)
    s.settimeout(timeout)
    try:
        s.bind((src, 0))
        s.connect((dst, port))
        return s.recv(64).startswith(b"vw ")
    except OSError:
        return False
    finally:
        s.close()


def cli(lab, *args: str) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([sys.executable, "-m", "vendorwall.access", *args, "--lab-dir", lab.lab_dir,
                        "--journal", lab.journal], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    print(p.stdout, p.stderr)
    return p


def live_grants(lab) -> list[grants.LiveElement]:
    out = []
    for s in grants.GRANT_SETS:
        text = subprocess.run(["ip", "netns", "exec", lab.fw_ns(FW), "nft", "-j", "list", "set", "inet",
                               "vendorwall_state", s], capture_output=True, text=True, check=True).stdout
        out += grants.parse_set(FW, s, text)[0] or []
    return out


def test_01_short_grant_works_then_the_firewall_ends_it(access_lab):
    assert not connects(access_lab), "the vendor reaches the system without a grant"
    t0 = time.time()
    p = cli(access_lab, "access", "open", INV, "--vendor", VENDOR, "--system", SYSTEM, "--ticket", "CHG-LAB-1",
            "--requester", "alice@chu-exemple.example", "--approver", APPROVER, "--duration", "5s", "--json")
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    print(f"open (CLI process, start to exit): {time.time() - t0:.2f} s")
    # the controller process has exited: only the firewall can end the access now
    assert connects(access_lab), "the grant does not open the vendor's path"
    assert connects(access_lab, 443) and connects(access_lab, 3389)
    expires = grants.parse_stamp(res["expires_at"])
    assert all(e.grant == res["grant"] for e in live_grants(access_lab))
    while time.time() < expires - 0.3:
        assert connects(access_lab, timeout=0.3)
        time.sleep(0.2)
    first_fail = None
    while time.time() < expires + 3:
        attempt = time.time()
        if not connects(access_lab, timeout=0.2):
            first_fail = attempt  # the SYN of this attempt was dropped
            break
        time.sleep(0.05)
    assert first_fail is not None, "still open 3 s after the expiry"
    print(f"first refused connection {1000 * (first_fail - expires):+.0f} ms after the grant's expiry")
    assert first_fail - expires < 1.5
    time.sleep(0.3)
    assert not connects(access_lab) and not connects(access_lab, 443)
    assert live_grants(access_lab) == []


def test_02_list_journals_the_expiry(access_lab):
    p = cli(access_lab, "access", "list", INV)
    assert p.returncode == 0 and "no live grant" in p.stdout and "expired since the last look" in p.stdout
    ev = [e["event"] for e in journal.read(access_lab.journal)]
    assert ev[-2:] == ["opened", "expired"]
    assert journal.verify(access_lab.journal) == []


def test_03_live_session_cut_at_expiry(access_lab):
    src_ns, src, dst_ns, dst = _where(access_lab)
    # a test port of the same on-demand tuple (the listener holds the system's real ports): the policy
    # table tags it as on-demand, the grant carries it like the system's own ports
    subprocess.run(["ip", "netns", "exec", access_lab.fw_ns(FW), "nft", "add", "element", "inet", "vendorwall",
                    "ondemand_tcp", f"{{ 10.200.1.0/27 . {dst} . {STREAM_PORT} }}"], check=True)
    extra = [grants.Element(FW, "tcp", "10.200.1.0/27", dst, STREAM_PORT)]
    req = policy.Request(VENDOR, SYSTEM, "CHG-LAB-3", "alice@chu-exemple.example", APPROVER, "4s")
    out = grants.open_grant(access_lab.model, req, devices.ConnOptions(lab_dir=access_lab.lab_dir),
                            access_lab.journal, extra=extra)
    assert out.exit == 0, out.lines
    expires = grants.parse_stamp(out.data["expires_at"])
    s = Stream(src_ns, src, dst_ns, dst, STREAM_PORT, interval=0.005)
    try:
        time.sleep(0.3)
        assert s.arrivals, "the session does not stream under the grant"
        time.sleep(max(0.0, expires - time.time()) + 2.0)
        last = s.arrivals[-1]
    finally:
        s.close()
    print(f"last vendor byte {1000 * (last - expires):+.0f} ms after the grant's expiry "
          f"({len(s.arrivals)} chunks delivered)")
    assert last > expires - 0.5, "the session stopped well before the expiry"
    assert last - expires < 1.5, "vendor bytes still delivered more than 1.5 s after the expiry"


def test_04_refused_while_open_then_closed_early(access_lab):
    args = ("access", "open", INV, "--vendor", VENDOR, "--system", SYSTEM, "--requester", "alice@chu-exemple.example",
            "--approver", APPROVER, "--duration", "1h")
    p = cli(access_lab, *args, "--ticket", "CHG-LAB-4")
    assert p.returncode == 0
    gid = next(e.grant for e in live_grants(access_lab))
    n = len(live_grants(access_lab))
    p = cli(access_lab, *args, "--ticket", "CHG-LAB-5")
    assert p.returncode == 2 and "rule already_open" in p.stderr and gid in p.stderr
    assert len(live_grants(access_lab)) == n
    p = cli(access_lab, "access", "list", INV)
    assert p.returncode == 0 and gid in p.stdout and ("59m" in p.stdout or "1h00m" in p.stdout)
    assert connects(access_lab)
    p = cli(access_lab, "access", "close", INV, "--grant", gid, "--reason", "work done")
    assert p.returncode == 0 and "closed early" in p.stdout
    assert live_grants(access_lab) == [] and not connects(access_lab)
    p = cli(access_lab, "access", "close", INV, "--grant", gid)
    assert p.returncode == 0 and "no longer live" in p.stdout
    mine = [e["event"] for e in journal.read(access_lab.journal) if e.get("grant") == gid]
    assert mine == ["opening", "opened", "closed"]  # "opening": journaled before the firewall is touched
    assert journal.read(access_lab.journal)[-1]["event"] == "closed"  # no "expired" after a close


def test_05_policy_refusal_changes_nothing(access_lab):
    p = cli(access_lab, "access", "open", INV, "--vendor", VENDOR, "--system", SYSTEM, "--ticket", "T",
            "--requester", APPROVER, "--approver", APPROVER, "--duration", "2h")
    assert p.returncode == 2 and "rule approver" in p.stderr and "four eyes" in p.stderr
    assert live_grants(access_lab) == [] and not connects(access_lab)
    p = cli(access_lab, "access", "open", INV, "--vendor", VENDOR, "--system", SYSTEM, "--ticket", "INC-9",
            "--requester", "oncall@chu-exemple.example", "--duration", "3h", "--emergency")
    assert p.returncode == 2 and "rule duration" in p.stderr and "emergency_max_hours" in p.stderr
    p = cli(access_lab, "access", "open", INV, "--vendor", VENDOR, "--system", SYSTEM, "--ticket", "INC-9",
            "--requester", "oncall@chu-exemple.example", "--duration", "5s", "--emergency")
    assert p.returncode == 0 and "BREAK-GLASS" in p.stdout and "flagged for review" in p.stdout
    assert connects(access_lab)
    last = journal.read(access_lab.journal)[-1]
    assert last["event"] == "opened" and last["emergency"] and last["review_by"] and last["approver"] == ""
    assert journal.verify(access_lab.journal) == []


def playbook(lab, name: str, *extra: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    import os
    import shutil

    tool = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable)) or shutil.which("ansible-playbook")
    if not tool:
        pytest.skip("ansible-playbook not found")
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    cmd = [tool, "-i", INV, str(ROOT / "playbooks" / name), "-e", f"vendorwall_lab_dir={lab.lab_dir}",
           "-e", f"vendorwall_access_journal_file={lab.journal}", *extra] + (["--check"] if check else [])
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    print(p.stdout[-3000:], p.stderr[-2000:])
    return p


def test_06_playbooks_open_refuse_close(access_lab):
    time.sleep(5.5)  # the break-glass grant of test_05 expires
    args = ("-e", f"vendor={VENDOR}", "-e", f"system={SYSTEM}", "-e", "ticket=CHG-PB", "-e",
            "requester=alice@chu-exemple.example", "-e", f"approver={APPROVER}")
    p = playbook(access_lab, "access_open.yml", *args, "-e", "duration=12h")
    assert p.returncode != 0 and "rule duration" in p.stdout and "nothing was changed" in p.stdout
    assert live_grants(access_lab) == []
    p = playbook(access_lab, "access_open.yml", *args, "-e", "duration=30m", check=True)
    assert p.returncode == 0 and "would open 6 elements" in p.stdout and live_grants(access_lab) == []
    p = playbook(access_lab, "access_open.yml", *args, "-e", "duration=30m")
    assert p.returncode == 0 and connects(access_lab)
    gid = live_grants(access_lab)[0].grant
    p = playbook(access_lab, "access_close.yml", "-e", f"grant={gid}", "-e", "reason=done")
    assert p.returncode == 0 and "closed early" in p.stdout
    assert live_grants(access_lab) == [] and not connects(access_lab)
    assert journal.verify(access_lab.journal) == []


def test_07_connection_logs_and_audit_flag_a_connection_outside_any_grant(access_lab, tmp_path):
    import argparse
    import os

    from vendorwall.access import audit, logs

    # the connection-log pipeline is deploy's (ulogd2 in each firewall namespace): nothing to start here
    out = grants.open_grant(access_lab.model, policy.Request(VENDOR, SYSTEM, "CHG-AUD", "alice@chu-exemple.example",
                                                             APPROVER, "3s"),
                            devices.ConnOptions(lab_dir=access_lab.lab_dir), access_lab.journal)
    assert out.exit == 0 and connects(access_lab)
    time.sleep(4.5)
    # someone adds a grant by hand, outside vendorwall (no journal entry): the audit must flag its use
    _s, _src, _d, dst = _where(access_lab)
    subprocess.run(["ip", "netns", "exec", access_lab.fw_ns(FW), "nft", "add", "element", "inet",
                    "vendorwall_state", "grants_tcp", f"{{ 10.200.1.0/27 . {dst} . 443 timeout 5s }}"], check=True)
    assert connects(access_lab, 443)
    time.sleep(0.5)
    arch = str(tmp_path / "archive")
    c = logs.collect(access_lab.model, devices.ConnOptions(lab_dir=access_lab.lab_dir), arch,
                     access_journal=access_lab.journal)
    print(c.lines)
    assert c.exit == 0 and c.data["records"] >= 2
    assert logs.verify(arch) == []
    again = logs.collect(access_lab.model, devices.ConnOptions(lab_dir=access_lab.lab_dir), arch)
    assert again.data["records"] == 0  # offsets: nothing collected twice
    args = argparse.Namespace(inventory=INV, archive=arch, journal=access_lab.journal, seed=7, size=50,
                              out=str(tmp_path / "audit"))
    res = audit.run(args, access_lab.model)
    print("\n".join(res.lines))
    verdicts = {(r["dport"], r["verdict"]) for r in res.data["rows"]}
    assert (22, "grant") in verdicts and (443, "unexplained") in verdicts
    assert audit.run(args, access_lab.model).data["rows"] == res.data["rows"]  # same seed, same sample
    with open(res.data["markdown"]) as fh:
        assert os.path.exists(res.data["csv"]) and "seed 7" in fh.read()
    # tampering with a segment shows
    seg = os.path.join(arch, c.data["file"])
    with open(seg, "ab") as fh:
        fh.write(b"x")
    assert any("content changed" in p for p in logs.verify(arch))
