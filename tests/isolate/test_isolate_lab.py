"""Emergency isolation in the lab: real SSH to the firewalls, real nftables, real packets.

The tests run in file order and share one lab (conftest.py): a live vendor session cut at its next
packet, clinical flows intact, idempotence, isolation surviving a redeploy, restore, an unreachable
firewall, an invalid (then missing) inventory at isolation time, vendor=all, scope segment with its
must-keep flows, a firewall without keep-flow tagging, an unknown vendor, the journal's chain.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from ipaddress import IPv4Network
from pathlib import Path

import pytest
from labsupport import Stream

from vendorwall.isolate import actions, journal, labcheck, manifest, run
from vendorwall.lab import runner

pytestmark = pytest.mark.lab

VENDOR = "acme-imaging"
STREAM_PORT = 7001
ROOT = Path(__file__).resolve().parents[2]


def execute(lab, vendor: str = VENDOR, *, action: str = "isolate", scope: str = "access", check: bool = False,
            probe: bool = True, connect_timeout: float = 3.0) -> run.Run:
    m = manifest.load(lab.manifest_path)
    p = actions.plan(m, vendor, scope, action, check=check)
    tg = run.lab_targets(m, lab.lab_dir, connect_timeout=connect_timeout)
    r = run.execute(m, p, tg, reason=f"lab test {action} {vendor}", ticket="LAB-6", journal_path=lab.journal,
                    lab_dir=lab.lab_dir if probe else None)
    print(r.report())
    return r


def qset(lab, dev: str) -> list[actions.LiveElement]:
    out = subprocess.run(["ip", "netns", "exec", lab.fw_ns(dev), "nft", "-j", "list", "set", "inet",
                          "vendorwall_state", "quarantine"], capture_output=True, text=True, check=True).stdout
    live, err = actions.parse_set(out)
    assert live is not None, err
    return live


def qvalues(lab, dev: str) -> set[str]:
    return {str(e.prefix) for e in qset(lab, dev)}


def vendor_prefixes(lab, vendor: str, scope: str = "access") -> set[str]:
    m = manifest.load(lab.manifest_path)
    return {str(e.prefix) for e in actions.plan(m, vendor, scope).elements}


@pytest.fixture(scope="module")
def stream(iso_lab):
    """acme-imaging's VPN pool -> pacs-core-centre on a test port the policy table allows for the test."""
    m = manifest.load(iso_lab.manifest_path)
    flow = next(f for f in m.vendors[VENDOR].flows if f.id == f"vendor/{VENDOR}/pacs-core-centre/https/acme-vpn")
    src_ns, src = labcheck._place(iso_lab.state.places, flow.src[0])
    dst_ns, dst = labcheck._place(iso_lab.state.places, flow.dst[0])
    fw = flow.firewalls[0]
    subprocess.run(["ip", "netns", "exec", iso_lab.fw_ns(fw), "nft", "add", "element", "inet", "vendorwall",
                    "allow_tcp", f"{{ {src} . {dst} . {STREAM_PORT} }}"], check=True)
    s = Stream(src_ns, src, dst_ns, dst, STREAM_PORT, interval=0.002)
    s.fw = fw  # type: ignore[attr-defined]
    time.sleep(0.2)
    assert s.arrivals, "the vendor session does not stream"
    yield s
    s.close()


def test_01_check_lists_the_live_session_and_changes_nothing(iso_lab, stream):
    before = {dev: qvalues(iso_lab, dev) for dev in iso_lab.state.firewalls}
    r = execute(iso_lab, check=True, probe=False)
    assert r.exit_code == 0 and all(x.status == "checked" for x in r.results)
    res = next(x for x in r.results if x.device == stream.fw)
    assert sorted(res.would_add) == sorted(actions.Element(IPv4Network(p), "", "", "").value
                                           for p in vendor_prefixes(iso_lab, VENDOR))
    assert any(c.dport == STREAM_PORT and c.state == "ESTABLISHED" for c in res.conns or []), res.conns
    report = r.report()
    assert f"{STREAM_PORT} ESTABLISHED: would be cut" in report
    assert "must-keep clinical flows that stay up" in report and "NOT AUTOMATED YET" in report
    assert {dev: qvalues(iso_lab, dev) for dev in iso_lab.state.firewalls} == before, "--check changed a device"
    n = len(stream.arrivals)
    time.sleep(0.1)
    assert len(stream.arrivals) > n, "--check cut the session"


def test_02_live_session_cut_at_its_next_packet_clinical_flows_intact(iso_lab, stream):
    r = execute(iso_lab)
    assert r.exit_code == 0, r.report()
    assert all(x.status == "isolated" and x.changed for x in r.results)
    for dev in iso_lab.state.firewalls:
        assert vendor_prefixes(iso_lab, VENDOR) <= qvalues(iso_lab, dev)
    assert r.lab and r.lab["mismatches"] == [] and r.lab["counts"]["vendor_side"][1] > 0
    assert r.lab["counts"]["clinical_keep"][1] > 0 and r.lab["counts"]["clinical"][1] > 0
    res = next(x for x in r.results if x.device == stream.fw)
    time.sleep(0.3)
    last = stream.arrivals[-1]
    assert res.device_t0 and res.device_t1
    delay = last - res.device_t0
    print(f"last vendor byte {1000 * (last - res.device_t1):+.1f} ms after the device's nft returned, "
          f"{1000 * delay:+.1f} ms after it started")
    assert last > res.device_t0 - 0.05, "the session had stopped before the change"
    assert last - res.device_t1 < 0.05, "a vendor byte was delivered more than 50 ms after the change"


def test_03_idempotent(iso_lab, stream):
    before = {dev: qvalues(iso_lab, dev) for dev in iso_lab.state.firewalls}
    r = execute(iso_lab, probe=False)
    assert r.exit_code == 0
    assert all(x.status == "isolated" and not x.changed and not x.added for x in r.results)
    assert all(len(x.already) == len(vendor_prefixes(iso_lab, VENDOR)) for x in r.results)
    assert {dev: qvalues(iso_lab, dev) for dev in iso_lab.state.firewalls} == before


def test_04_isolation_survives_a_redeploy(iso_lab, stream):
    n = len(stream.arrivals)
    for dev in iso_lab.state.firewalls:  # drift: the deploy must really replace the policy table
        subprocess.run(["ip", "netns", "exec", iso_lab.fw_ns(dev), "nft", "add", "rule", "inet", "vendorwall",
                        "forward", "ip", "saddr", "192.0.2.97", "accept"], check=True)
    results = runner.deploy(iso_lab.state, configs=iso_lab.configs(), confirm_s=60)
    assert [str(x.error) for x in results if x.error] == []
    assert all(x.changed for x in results)
    for dev in iso_lab.state.firewalls:
        assert vendor_prefixes(iso_lab, VENDOR) <= qvalues(iso_lab, dev), f"{dev}: the deploy lifted the isolation"
    m = manifest.load(iso_lab.manifest_path)
    lab = labcheck.probe(iso_lab.lab_dir, m, actions.plan(m, VENDOR))
    assert lab["mismatches"] == [] and lab["counts"]["vendor_side"][1] > 0
    assert len(stream.arrivals) == n, "the cut vendor session delivered bytes again after the deploy"


def test_05_restore_removes_exactly_the_vendors_elements(iso_lab):
    other = "sonexa"
    assert execute(iso_lab, other, probe=False).exit_code == 0
    r = execute(iso_lab, action="restore")
    assert r.exit_code == 0, r.report()
    assert all(x.status == "restored" and x.changed for x in r.results)
    assert r.lab and r.lab["mismatches"] == [] and r.lab["counts"]["vendor_side"][1] > 0
    for dev in iso_lab.state.firewalls:
        assert qvalues(iso_lab, dev) == vendor_prefixes(iso_lab, other), dev
        assert actions.isolated_vendors(qset(iso_lab, dev)) == [other]
    again = execute(iso_lab, action="restore", probe=False)  # idempotent too
    assert again.exit_code == 0 and not any(x.changed for x in again.results)
    assert execute(iso_lab, other, action="restore", probe=False).exit_code == 0
    assert all(qvalues(iso_lab, dev) == set() for dev in iso_lab.state.firewalls)


def _block(lab, dev: str, on: bool) -> None:
    ctl = lab.state.controller
    if on:
        mgmt = lab.state.firewalls[dev]["mgmt"]
        subprocess.run(["ip", "netns", "exec", ctl, "nft", "-f", "-"], check=True, text=True,
                       input=f"table inet vwtest {{\n chain out {{\n type filter hook output priority 0;\n"
                             f" ip daddr {mgmt} drop\n }}\n}}\n")
    else:
        subprocess.run(["ip", "netns", "exec", ctl, "nft", "delete", "table", "inet", "vwtest"], check=False)


def test_06_unreachable_firewall_named_others_isolated_rerun_finishes(iso_lab, capsys):
    from vendorwall.isolate.__main__ import main

    dev = "fw-nord"
    _block(iso_lab, dev, True)
    try:
        t = time.monotonic()
        rc = main(["isolate", iso_lab.manifest_path, "--vendor", "vitalis", "--reason", "lab: unreachable",
                   "--lab-dir", iso_lab.lab_dir, "--connect-timeout", "1", "--journal", iso_lab.journal])
        took = time.monotonic() - t
        out, err = capsys.readouterr()
        print(out, err)
        assert rc == 1
        assert f"NOT ISOLATED: 1 of 4 devices failed: {dev} (connect)" in out
        assert "vendor flows still open" in out and "NOT CUT vitalis" in out  # what the failure leaves open
        assert f"{dev}" in err and "NOT done" in err and "rerun the same command" in err
        assert took < 10
        for other in iso_lab.state.firewalls:
            if other != dev:
                assert vendor_prefixes(iso_lab, "vitalis") <= qvalues(iso_lab, other)
    finally:
        _block(iso_lab, dev, False)
    assert qvalues(iso_lab, dev) == set()
    capsys.readouterr()
    rc = main(["isolate", iso_lab.manifest_path, "--vendor", "vitalis", "--reason", "lab: rerun",
               "--lab-dir", iso_lab.lab_dir, "--journal", iso_lab.journal, "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0 and data["failed_devices"] == []
    assert data["devices"][dev]["result"] == "isolated" and data["devices"][dev]["changed"]
    assert all(not d["changed"] for name, d in data["devices"].items() if name != dev)
    assert execute(iso_lab, "vitalis", action="restore", probe=False).exit_code == 0


def test_07_invalid_then_missing_inventory_at_isolation_time(iso_lab, tmp_path):
    from vendorwall.cli import main as vendorwall_main

    inv = tmp_path / "inv" / "example"
    shutil.copytree(ROOT / "inventories" / "example", inv)
    state = tmp_path / "state" / "example"  # the state directory (VENDORWALL_STATE_DIR base below)
    (state / "manifest").mkdir(parents=True)
    shutil.copy(iso_lab.manifest_path, state / "manifest" / "manifest.json")
    (inv / "vendorwall" / "vendors" / "vitalis.yml").write_text("vendors:\n  vitalis: [unclosed\n")
    assert vendorwall_main(["validate", str(inv)]) == 2  # the inventory no longer compiles
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VENDORWALL_STATE_DIR": str(tmp_path / "state")}
    cmd = [sys.executable, "-m", "vendorwall.isolate", "isolate", "inv/example", "--vendor", "vitalis",
           "--reason", "lab: broken inventory", "--ticket", "LAB-7", "--lab-dir", iso_lab.lab_dir]
    p = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    print(p.stdout, p.stderr)
    assert p.returncode == 0, p.stderr
    assert "isolated on all 4 devices" in p.stdout and "vendor side cut" in p.stdout
    assert (state / "journals" / "incident.jsonl").exists()
    shutil.rmtree(tmp_path / "inv")  # no checkout at all: the manifest is enough
    cmd[3] = "restore"
    cmd[cmd.index("--reason") + 1] = "lab: no checkout"
    p = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    print(p.stdout, p.stderr)
    assert p.returncode == 0, p.stderr
    assert "restored on all 4 devices" in p.stdout
    assert all(qvalues(iso_lab, dev) == set() for dev in iso_lab.state.firewalls)
    assert journal.verify(str(state / "journals" / "incident.jsonl")) == []


def test_08_vendor_all(iso_lab):
    r = execute(iso_lab, "all")
    assert r.exit_code == 0, r.report()
    m = manifest.load(iso_lab.manifest_path)
    every = {str(p) for v in m.vendors.values() for p in v.entry_prefixes}
    for dev in iso_lab.state.firewalls:
        assert qvalues(iso_lab, dev) == every
        assert actions.isolated_vendors(qset(iso_lab, dev)) == sorted(m.vendors)
    assert r.lab and r.lab["mismatches"] == []
    assert r.lab["counts"]["vendor_side"][1] > 10 and r.lab["counts"]["clinical_keep"][1] > 50
    r = execute(iso_lab, "all", action="restore", probe=False)
    assert r.exit_code == 0
    assert all(qvalues(iso_lab, dev) == set() for dev in iso_lab.state.firewalls)


def test_09_scope_segment_keeps_only_the_must_keep_flows(iso_lab):
    r = execute(iso_lab, scope="segment")
    assert r.exit_code == 0, r.report()
    for dev in iso_lab.state.firewalls:
        assert vendor_prefixes(iso_lab, VENDOR, "segment") == qvalues(iso_lab, dev)
    counts = r.lab["counts"] if r.lab else {}
    assert r.lab and r.lab["mismatches"] == [], r.lab
    assert counts["clinical_keep"][1] > 0 and counts["clinical"][1] > 0  # kept up / cut, both probed
    r = execute(iso_lab, action="restore")
    assert r.exit_code == 0 and r.lab and r.lab["mismatches"] == []
    assert all(qvalues(iso_lab, dev) == set() for dev in iso_lab.state.firewalls)


def test_10_scope_segment_on_a_firewall_without_keep_tagging_cuts_access_only(iso_lab):
    dev = "fw-rive"
    from keepsim import without_keep

    keep = iso_lab.configs()
    plain = {dev: without_keep(keep[dev])}
    assert plain[dev] != keep[dev]
    [res] = [x for x in runner.deploy(iso_lab.state, configs={**keep, dev: plain[dev]}, confirm_s=60)
             if x.device == dev]
    assert res.error is None and res.changed
    try:
        r = execute(iso_lab, scope="segment", probe=False)
        assert r.exit_code == 1
        [bad] = r.failed
        assert bad.device == dev and bad.status == "partial" and "segments NOT quarantined" in bad.error
        assert qvalues(iso_lab, dev) == vendor_prefixes(iso_lab, VENDOR)  # the access is cut anyway
        for other in iso_lab.state.firewalls:
            if other != dev:
                assert qvalues(iso_lab, other) == vendor_prefixes(iso_lab, VENDOR, "segment")
        assert "PARTIAL" in r.report()
    finally:
        assert execute(iso_lab, action="restore", probe=False).exit_code == 0
        results = runner.deploy(iso_lab.state, configs=keep, confirm_s=60)
        assert [str(x.error) for x in results if x.error] == []


def test_11_unknown_vendor_changes_nothing(iso_lab, capsys):
    from vendorwall.isolate.__main__ import main

    size = os.path.getsize(iso_lab.journal)
    rc = main(["isolate", iso_lab.manifest_path, "--vendor", "dedalus", "--reason", "lab",
               "--lab-dir", iso_lab.lab_dir])
    err = capsys.readouterr().err
    assert rc == 2
    assert "unknown vendor: nothing was changed" in err and "known vendors: acme-imaging, anestra" in err
    assert "found:    'dedalus'" in err
    assert os.path.getsize(iso_lab.journal) == size
    assert all(qvalues(iso_lab, dev) == set() for dev in iso_lab.state.firewalls)


def test_12_journal_chain_intact_and_complete(iso_lab):
    assert journal.verify(iso_lab.journal) == []
    entries = journal.read(iso_lab.journal)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    finished = [e for e in entries if e["event"] == "finished"]
    started = {e["run"] for e in entries if e["event"] == "started"}
    assert {e["run"] for e in finished} == started
    e = next(x for x in finished if x["ticket"] == "LAB-6")
    assert e["who"]["user"] and e["reason"] and e["when"].endswith("Z")
    assert set(e["devices"]) == set(iso_lab.state.firewalls)
    assert all({"result", "seconds", "device_change_at"} <= set(d) for d in e["devices"].values())
