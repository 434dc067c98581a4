"""Isolation without devices: manifest, planning, device script, output parsing, journal, CLI errors.

One test runs the device script for real in a throwaway network namespace (``unshare --net``, root
and nft needed): the transaction, its per-element fallback and the add+delete restore.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import threading
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from vendorwall import pipeline
from vendorwall.errors import UsageError, VendorwallError
from vendorwall.isolate import actions, journal, manifest, run

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = str(ROOT / "inventories" / "example")
NOW = dt.date(2026, 11, 28)


@pytest.fixture(scope="module")
def model():
    return pipeline.run(INVENTORY, NOW, check_lock=False, do_render=False).model


@pytest.fixture()
def mpath(model, tmp_path) -> str:
    path = str(tmp_path / "manifest.json")
    manifest.write_manifest(path, model)
    return path


def edit(path: str, fn) -> None:  # type: ignore[no-untyped-def]
    """Change the manifest's data and write it back laid out and indexed like vendorwall plan does."""
    data = json.loads(Path(path).read_text())
    fn(data)
    Path(path).write_text(manifest.dumps(data))


# --------------------------------------------------------------------------- manifest


def test_manifest_deterministic_and_complete(model, mpath):
    assert manifest.dumps(manifest.build_manifest(model)) == Path(mpath).read_text()
    assert manifest.write_manifest(mpath, model) is False  # unchanged: not rewritten
    m = manifest.load(mpath)
    assert sorted(m.firewalls) == ["fw-centre", "fw-nord", "fw-rive", "fw-sud"]
    assert m.firewalls["fw-nord"].mgmt_address == "10.250.1.1" and m.firewalls["fw-nord"].site == "nord"
    assert m.firewalls["fw-nord"].platform == "nftables"
    rad = m.vendors["radiante"]
    assert [t.name for t in rad.tunnels] == ["radiante-l2l"] and rad.tunnels[0].peer == "203.0.113.5"
    assert {str(p) for p in rad.entry_prefixes} == {"203.0.113.128/28", "10.249.0.109/32"}
    assert all(a.bastions == ("bst-1",) for a in rad.accounts) and len(rad.accounts) == 2
    assert {s.firewall for s in rad.segments} == {"fw-centre"}
    keep = [f for f in rad.flows if f.keep]
    assert keep and all(f.kind == "clinical" for f in keep)
    assert IPv4Network("10.250.0.0/24") in m.management


def test_manifest_errors(tmp_path, mpath):
    with pytest.raises(UsageError) as e:
        manifest.load(str(tmp_path / "nope.json"))
    assert "vendorwall plan INVENTORY" in e.value.render()
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    with pytest.raises(VendorwallError) as ve:
        manifest.load(str(bad))
    assert "not a version 2 isolation manifest" in ve.value.render()
    edit(mpath, lambda d: d["vendors"]["sonexa"]["entry_paths"][0].update(prefixes=["10.200.4.0/33"]))
    manifest.load(mpath)  # the header is fine: vendor records are checked when read
    with pytest.raises(VendorwallError) as ve:
        manifest.load(mpath).vendors["sonexa"]
    assert "vendors.sonexa.entry_paths[0].prefixes[0]: not an IPv4 prefix" in ve.value.render()
    edit(mpath, lambda d: d["firewalls"]["fw-nord"].update(platform=7))
    edit(mpath, lambda d: d["firewalls"]["fw-sud"].pop("site"))
    with pytest.raises(VendorwallError) as ve:
        manifest.load(mpath)
    text = ve.value.render()
    assert "firewalls.fw-nord.platform: does not match the manifest schema" in text
    assert "firewalls.fw-sud: does not match the manifest schema" in text and "2 errors found" in text


def test_resolve(tmp_path, mpath):
    # an inventory resolves to the manifest in its state directory (tests: under VENDORWALL_STATE_DIR)
    assert manifest.resolve("inventories/example") == os.path.join(
        os.environ["VENDORWALL_STATE_DIR"], "example", "manifest", "manifest.json")
    assert manifest.resolve(mpath) == mpath
    assert manifest.resolve("x", "y.json") == "y.json"


# --------------------------------------------------------------------------- planning


def test_plan_scopes_and_flows(mpath):
    m = manifest.load(mpath)
    p = actions.plan(m, "acme-imaging")
    assert [(str(e.prefix), e.kind) for e in p.elements] == [("10.200.1.0/27", "entry"), ("10.249.0.101/32", "entry")]
    assert p.cut and all(f.kind == "vendor_access" for f in p.cut) and p.keep and p.stay and not p.needs_keep
    seg = actions.plan(m, "acme-imaging", "segment")
    assert {e.kind for e in seg.elements} == {"entry", "segment"} and seg.needs_keep
    assert {f.kind for f in seg.cut} == {"vendor_access", "clinical"} and not seg.stay
    assert not any(f.keep for f in seg.cut)
    rest = actions.plan(m, "acme-imaging", "access", "restore")
    assert rest.elements == seg.elements  # a restore lifts both kinds
    every = actions.plan(m, "all")
    assert every.vendors == sorted(m.vendors) and len(every.elements) == len({p for v in m.vendors.values()
                                                                              for p in v.entry_prefixes})
    assert actions.plan(m, "sonexa", "segment").needs_keep is False  # no must-keep flow: no keep guard


def test_unknown_vendor_lists_known_ones(mpath):
    with pytest.raises(VendorwallError) as e:
        actions.plan(manifest.load(mpath), "dedalus")
    text = e.value.render()
    assert "--vendor: unknown vendor: nothing was changed" in text and "found:    'dedalus'" in text
    assert "known vendors: acme-imaging, anestra, appelia" in text


def test_management_overlap_refused(mpath):
    edit(mpath, lambda d: d["vendors"]["sonexa"]["entry_paths"].append(
        {"name": "bad", "kind": "vpn", "prefixes": ["10.250.0.0/16"], "bastion": None, "peer": None}))
    p = actions.plan(manifest.load(mpath), "sonexa")
    assert [str(e.prefix) for e in p.elements] == ["10.200.4.0/27"]
    [ref] = p.refused
    assert str(ref.element.prefix) == "10.250.0.0/16" and "management is never quarantined" in ref.reason
    r = run.Run(p, manifest.load(mpath), "x", "", 0.0, 0.0)
    assert r.exit_code == 1 and "REFUSED 10.250.0.0/16" in r.report()


def test_nested_prefixes_collapse(mpath):
    edit(mpath, lambda d: d["vendors"]["sonexa"]["entry_paths"].append(
        {"name": "inner", "kind": "vpn", "prefixes": ["10.200.4.8/29"], "bastion": None, "peer": None}))
    p = actions.plan(manifest.load(mpath), "sonexa")
    assert [str(e.prefix) for e in p.elements] == ["10.200.4.0/27"]
    assert "already quarantined by it" in p.refused[0].reason
    assert run.Run(p, manifest.load(mpath), "x", "", 0.0, 0.0).exit_code == 0  # not a management refusal


def test_device_scripts(mpath):
    m = manifest.load(mpath)
    iso = actions.device_script(actions.plan(m, "acme-imaging"))
    assert iso.startswith("{\n") and iso.rstrip().endswith("}  </dev/null")
    assert iso.count("<<'__VW_EOF'") == 1 and "VW_KEEP" not in iso
    assert ('add element inet vendorwall_state quarantine { 10.200.1.0/27 comment "vw-isolate acme-imaging entry '
            'acme-vpn", 10.249.0.101 comment "vw-isolate acme-imaging entry acme-bastion" }') in iso
    seg = actions.device_script(actions.plan(m, "acme-imaging", "segment"))
    assert actions.KEEP_GUARD in seg and seg.count("<<'__VW_EOF'") == 2  # all, or entry paths only
    rest = actions.device_script(actions.plan(m, "acme-imaging", action="restore"))
    assert "add element" in rest and "delete element" in rest and "comment" not in rest.split("__VW_TXN")[1]
    chk = actions.device_script(actions.plan(m, "acme-imaging", check=True))
    assert "add element" not in chk and "delete element" not in chk
    assert "conntrack -L -s 10.200.1.0/27" in chk and "conntrack -L -d 10.249.0.101/32" in chk


# --------------------------------------------------------------------------- parsing and evaluation

SET_EMPTY = ('{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"set": {"family": "inet", "name": "quarantine", '
             '"table": "vendorwall_state", "type": "ipv4_addr", "flags": ["interval"]}}]}')
SET_ACME = ('{"nftables": [{"metainfo": {}}, {"set": {"family": "inet", "name": "quarantine", "table": '
            '"vendorwall_state", "type": "ipv4_addr", "flags": ["interval"], "elem": [{"elem": {"val": {"prefix": '
            '{"addr": "10.200.1.0", "len": 27}}, "comment": "vw-isolate acme-imaging entry acme-vpn"}}, {"elem": '
            '{"val": "10.249.0.101", "comment": "vw-isolate acme-imaging entry acme-bastion"}}, {"range": '
            '["10.9.0.0", "10.9.0.255"]}]}}]}')


def _chain(keep: bool) -> str:
    def rule(field: str) -> dict:
        m = [{"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, actions.MARK_KEEP]}, "right": 0}}]
        return {"rule": {"expr": (m if keep else []) + [
            {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": field}}, "right": "@quarantine"}},
            {"log": {"prefix": "vw-quarantine", "group": 1}}, {"drop": None}]}}
    return json.dumps({"nftables": [{"chain": {"name": "forward", "hook": "forward", "prio": 10}},
                                    rule("saddr"), rule("daddr")]})


def _out(before: str, after: str, chain: str, extra: str = "") -> str:
    return (f"__VW_SET\n{before}\n{extra}__VW_T0=1790000000.100000000\n__VW_TXN\n__VW_T1=1790000000.104000000\n"
            f"__VW_RC=0\n__VW_AFTER\n{after}\n__VW_CHAIN\n{chain}\n__VW_END\n")


def test_parse_set_forms():
    live, err = actions.parse_set(SET_ACME)
    assert err == "" and live is not None
    assert [str(e.prefix) for e in live] == ["10.9.0.0/24", "10.200.1.0/27", "10.249.0.101/32"]
    assert actions.isolated_vendors(live) == ["acme-imaging"]
    assert actions.parse_set("Error: No such file or directory\nlist set inet vendorwall_state quarantine")[0] is None


def test_evaluate_isolate_then_idempotent(mpath):
    p = actions.plan(manifest.load(mpath), "acme-imaging")
    dev = run.DeviceResult("fw", "nftables", "")
    res = run.evaluate(p, actions.parse(_out(SET_EMPTY, SET_ACME, _chain(False))), dev)
    assert res.status == "isolated" and res.changed and res.added == ["10.200.1.0/27", "10.249.0.101"]
    assert res.device_t1 == pytest.approx(1790000000.104)
    dev = run.DeviceResult("fw", "nftables", "")
    res = run.evaluate(p, actions.parse(_out(SET_ACME, SET_ACME, _chain(False))), dev)
    assert res.status == "isolated" and not res.changed and len(res.already) == 2


def test_evaluate_failures(mpath):
    p = actions.plan(manifest.load(mpath), "acme-imaging")
    missing = actions.parse(_out("Error: No such file or directory", "Error: No such file or directory", "Error"))
    res = run.evaluate(p, missing, run.DeviceResult("fw", "nftables", ""))
    assert res.failed and res.error_kind == "no quarantine set" and "deploy vendorwall" in res.error
    no_chain = actions.parse(_out(SET_EMPTY, SET_ACME, '{"nftables": [{"chain": {"name": "forward"}}]}'))
    res = run.evaluate(p, no_chain, run.DeviceResult("fw", "nftables", ""))
    assert res.failed and res.error_kind == "quarantine not enforced" and "NOT isolated" in res.error
    not_added = actions.parse(_out(SET_EMPTY, SET_EMPTY, _chain(False)).replace(
        "__VW_RC=0", "__VW_RC=1\n__VW_FAIL 10.200.1.0/27"))
    res = run.evaluate(p, not_added, run.DeviceResult("fw", "nftables", ""))
    assert res.failed and res.missing == ["10.200.1.0/27", "10.249.0.101"]


def test_evaluate_segment_scope_without_keep_support_is_partial(mpath):
    p = actions.plan(manifest.load(mpath), "acme-imaging", "segment")
    o = actions.parse(_out(SET_EMPTY, SET_ACME, _chain(False), extra="__VW_NOKEEP\n"))
    res = run.evaluate(p, o, run.DeviceResult("fw", "nftables", ""))
    assert res.status == "partial" and res.failed and "segments NOT quarantined" in res.error
    assert res.added == ["10.200.1.0/27", "10.249.0.101"]
    assert actions.quarantine_active(actions.parse_chain(_chain(True))[0]) == (True, True)
    assert actions.quarantine_active(actions.parse_chain(_chain(False))[0]) == (True, False)


def test_conntrack_parse_and_keep_match(mpath):
    text = ("tcp      6 431999 ESTABLISHED src=10.200.1.1 dst=10.66.0.18 sport=40000 dport=443 src=10.66.0.18 "
            "dst=10.200.1.1 sport=443 dport=40000 [ASSURED] mark=0 use=1\n"
            "udp      17 29 src=10.66.0.226 dst=10.66.0.10 sport=5000 dport=104 [UNREPLIED] src=10.66.0.10 "
            "dst=10.66.0.226 sport=104 dport=5000 mark=0 use=1\n"
            "conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.\n")
    conns = actions.parse_conntrack(text + text)
    assert [c.text() for c in conns] == ["udp 10.66.0.226 -> 10.66.0.10 5000->104",
                                         "tcp 10.200.1.1 -> 10.66.0.18 40000->443 ESTABLISHED"]
    p = actions.plan(manifest.load(mpath), "acme-imaging", "segment")
    tcp = actions.Conn("tcp", "ESTABLISHED", "10.66.0.226", "10.66.0.10", 40001, 104)
    assert run.keep_match(tcp, p) == "clinical/ct-centre-1/to/pacs-archive-centre/dicom"
    assert run.keep_match(conns[1], p) == ""


# --------------------------------------------------------------------------- the script, for real


@pytest.mark.lab
def test_device_script_in_a_throwaway_namespace(mpath):
    if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("unshare"):
        pytest.skip("needs root, nft and unshare")
    m = manifest.load(mpath)
    setup = ("nft -f - <<'EOF'\ntable inet vendorwall_state {\n set quarantine { type ipv4_addr; flags interval; }\n"
             " chain forward { type filter hook forward priority filter + 10; policy accept;\n"
             "  ip saddr @quarantine drop\n  ip daddr @quarantine drop\n }\n}\n"
             "add element inet vendorwall_state quarantine { 10.200.1.8/29 comment \"by hand\" }\nEOF\n")

    def device(*plans: actions.Plan) -> list[actions.Observed]:
        script = setup + "".join(f"echo __VW_SPLIT\n{actions.device_script(p)}" for p in plans)
        out = subprocess.run(["unshare", "--net", "sh", "-s"], input=script, capture_output=True, text=True,
                             check=True).stdout
        return [actions.parse(part) for part in out.split("__VW_SPLIT\n")[1:]]

    iso, again, rest = device(actions.plan(m, "acme-imaging"), actions.plan(m, "acme-imaging"),
                              actions.plan(m, "acme-imaging", action="restore"))
    # 10.200.1.0/27 overlaps the hand-made /29: the transaction fails, the fallback adds the rest
    assert iso.rc == 1 and iso.failed_elements == ["10.200.1.0/27"]
    r1 = run.evaluate(actions.plan(m, "acme-imaging"), iso, run.DeviceResult("d", "nftables", ""))
    assert r1.failed and r1.missing == ["10.200.1.0/27"] and r1.added == ["10.249.0.101"]
    assert again.failed_elements == ["10.200.1.0/27"]
    r3 = run.evaluate(actions.plan(m, "acme-imaging", action="restore"), rest, run.DeviceResult("d", "nftables", ""))
    assert r3.status == "restored" and r3.removed == ["10.249.0.101"]
    assert [str(e.prefix) for e in rest.after or []] == ["10.200.1.8/29"]  # the hand-made element is left alone
    clean = setup.replace('add element inet vendorwall_state quarantine { 10.200.1.8/29 comment "by hand" }\n', "")
    out = subprocess.run(["unshare", "--net", "sh", "-s"], check=True, capture_output=True, text=True,
                         input=clean + actions.device_script(actions.plan(m, "all"))).stdout
    o = actions.parse(out)
    assert o.rc == 0 and not o.failed_elements and o.t0 and o.t1 and o.t1 >= o.t0
    assert run.evaluate(actions.plan(m, "all"), o, run.DeviceResult("d", "nftables", "")).status == "isolated"


# --------------------------------------------------------------------------- journal


def test_journal_chain_and_tampering(tmp_path):
    path = str(tmp_path / "j.jsonl")
    for i in range(3):
        e = journal.append(path, {"event": "x", "i": i, "why": "é"})
    assert e["seq"] == 3 and journal.verify(path) == []
    lines = Path(path).read_text().splitlines()
    Path(path).write_text("\n".join([lines[0], lines[1].replace('"i":1', '"i":9'), lines[2]]) + "\n")
    assert any("line 2: hash does not match" in p for p in journal.verify(path))
    Path(path).write_text("\n".join([lines[0], lines[2]]) + "\n")
    problems = journal.verify(path)
    assert any("line 2: prev does not match" in p for p in problems) and any("seq 3 after 1" in p for p in problems)


def test_journal_concurrent_appends_stay_chained(tmp_path):
    path = str(tmp_path / "j.jsonl")
    threads = [threading.Thread(target=lambda k=k: [journal.append(path, {"t": k, "n": n}) for n in range(10)])
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert journal.verify(path) == [] and len(journal.read(path)) == 40
    assert journal.main(["verify", path]) == 0


def test_who_names_the_sudo_caller(monkeypatch):
    monkeypatch.setenv("SUDO_USER", "alice")
    assert journal.who()["user"] == "alice"


# --------------------------------------------------------------------------- CLI errors


def test_cli_errors(tmp_path, capsys, mpath):
    from vendorwall.isolate.__main__ import main

    assert main(["isolate", str(tmp_path / "inv"), "--vendor", "x", "--reason", "r"]) == 2
    err = capsys.readouterr().err
    assert f"no isolation manifest at {os.environ['VENDORWALL_STATE_DIR']}/inv/manifest/manifest.json" in err
    assert "vendorwall plan INVENTORY" in err
    assert main(["restore", mpath, "--vendor", "sonexa", "--reason", "  "]) == 2
    assert "--reason: empty" in capsys.readouterr().err
    assert main(["isolate", mpath, "--vendor", "nobody", "--reason", "r"]) == 2
    assert "known vendors:" in capsys.readouterr().err
    assert not (tmp_path / "incident-journal.jsonl").exists()
    with pytest.raises(SystemExit):
        main(["isolate", mpath, "--vendor", "sonexa", "--reason", "r", "--scope", "building"])


def test_connection_failures_are_typed_and_print_no_traceback(mpath, capfd):
    """A peer that accepts and hangs up (on loopback): a typed connect error, no paramiko traceback."""
    import socket

    from vendorwall.deploy.session import Target

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    port = srv.getsockname()[1]
    stop = threading.Event()

    def hang_up() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                srv.accept()[0].close()
            except OSError:
                continue

    t = threading.Thread(target=hang_up, daemon=True)
    t.start()
    try:
        p = actions.plan(manifest.load(mpath), "sonexa")
        res = run.run_device(Target("fw-x", "nftables", "127.0.0.1", port=port, connect_timeout=2), p)
        closed = run.run_device(Target("fw-y", "nftables", "127.0.0.1", port=1, connect_timeout=2), p)
    finally:
        stop.set()
        t.join(2)
        srv.close()
    assert res.failed and res.error_kind == "connect" and "fw-x (nftables)" in res.error
    assert closed.failed and closed.error_kind == "connect"
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
