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
    done = [run.DeviceResult(fw, "nftables", "", status="isolated") for fw in p.firewalls]
    assert run.Run(p, manifest.load(mpath), "x", "", 0.0, 0.0, results=done).exit_code == 0  # not a management refusal
    # without a firewall's result its flows are not cut: not isolated
    r = run.Run(p, manifest.load(mpath), "x", "", 0.0, 0.0, results=[x for x in done if x.device != "fw-nord"])
    assert r.exit_code == 1 and r.open_flows() and "NOT ISOLATED" in run.summary_line(r)


def test_device_request_is_data(mpath):
    """The firewall's agent gets data (JSON), never a script assembled from manifest strings."""
    m = manifest.load(mpath)
    req = actions.request(actions.plan(m, "acme-imaging"), persist_dir="/var/lib/vendorwall")
    assert req == {"op": "quarantine", "action": "isolate", "vendors": [], "segments_need_keep": False,
                   "conntrack": False, "persist_dir": "/var/lib/vendorwall", "revoke_grants": False,
                   "elements": [{"prefix": "10.200.1.0/27", "vendor": "acme-imaging", "kind": "entry",
                                 "name": "acme-vpn"},
                                {"prefix": "10.249.0.101/32", "vendor": "acme-imaging", "kind": "entry",
                                 "name": "acme-bastion"}]}
    seg = actions.request(actions.plan(m, "acme-imaging", "segment"))
    assert seg["segments_need_keep"] and {e["kind"] for e in seg["elements"]} == {"entry", "segment"}
    rest = actions.request(actions.plan(m, "acme-imaging", action="restore"))
    assert rest["action"] == "restore" and rest["vendors"] == ["acme-imaging"] and rest["revoke_grants"]
    chk = actions.request(actions.plan(m, "acme-imaging", check=True))
    assert chk["action"] == "check" and chk["conntrack"] and chk["persist_dir"] == "" and not chk["revoke_grants"]


# --------------------------------------------------------------------------- the agent's answers and evaluation

ACME = [{"prefix": "10.200.1.0/27", "comment": "vw-isolate acme-imaging entry acme-vpn"},
        {"prefix": "10.249.0.101/32", "comment": "vw-isolate acme-imaging entry acme-bastion"},
        {"prefix": "10.9.0.0/24", "comment": ""}]


def _chain(keep: bool) -> list:
    def rule(field: str) -> dict:
        m = [{"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, actions.MARK_KEEP]}, "right": 0}}]
        return {"expr": (m if keep else []) + [
            {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": field}}, "right": "@quarantine"}},
            {"log": {"prefix": "vw-quarantine", "group": 1}}, {"drop": None}]}
    return [rule("saddr"), rule("daddr")]


def _answer(before: list | None, after: list | None, chain: list | None, **more) -> dict:
    return {"ok": True, "before": {"quarantine": before, "isolated": more.pop("iso_before", [])},
            "after": {"quarantine": after, "isolated": more.pop("iso_after", [])}, "chain": chain,
            "chain_error": "" if chain is not None else "no chain", "t0": 1790000000.1, "t1": 1790000000.104,
            "rc": 0, "txn_output": "", "failed": [], **more}


def test_observed_forms():
    o = actions.observed(_answer([], ACME, _chain(False)))
    assert [str(e.prefix) for e in o.after or []] == ["10.9.0.0/24", "10.200.1.0/27", "10.249.0.101/32"]
    assert actions.isolated_vendors(o.after or []) == ["acme-imaging"]
    assert actions.observed({"ok": True}).before is None  # a damaged answer: empty, no exception
    bad = actions.observed({"before": {"quarantine": [{"prefix": "x"}, 3]}, "failed": None, "conns": ["junk"]})
    assert bad.before == [] and bad.conns == []


def test_evaluate_isolate_then_idempotent(mpath):
    p = actions.plan(manifest.load(mpath), "acme-imaging")
    res = run.evaluate(p, actions.observed(_answer([], ACME, _chain(False))), run.DeviceResult("fw", "nftables", ""))
    assert res.status == "isolated" and res.changed and res.added == ["10.200.1.0/27", "10.249.0.101"]
    assert res.device_t1 == pytest.approx(1790000000.104)
    res = run.evaluate(p, actions.observed(_answer(ACME, ACME, _chain(False))), run.DeviceResult("fw", "nftables", ""))
    assert res.status == "isolated" and not res.changed and len(res.already) == 2


def test_evaluate_counts_the_render_time_quarantine_as_already_cut(mpath):
    """A vendor whose prefixes the deployed policy already quarantines (isolated set): 'already there'."""
    p = actions.plan(manifest.load(mpath), "acme-imaging")
    o = actions.observed(_answer([], ACME[:2], _chain(False), iso_before=ACME[:2], iso_after=ACME[:2]))
    res = run.evaluate(p, o, run.DeviceResult("fw", "nftables", ""))
    assert res.status == "isolated" and res.already == ["10.200.1.0/27", "10.249.0.101"] and not res.added
    chk = actions.plan(manifest.load(mpath), "acme-imaging", check=True)
    res = run.evaluate(chk, actions.observed(_answer([], [], _chain(False), iso_before=ACME[:1])),
                       run.DeviceResult("fw", "nftables", ""))
    assert res.already == ["10.200.1.0/27"] and res.would_add == ["10.249.0.101"]


def test_evaluate_restore_lifts_both_sets_and_old_prefixes(mpath):
    p = actions.plan(manifest.load(mpath), "acme-imaging", action="restore")
    old = {"prefix": "10.200.77.0/27", "comment": "vw-isolate acme-imaging entry acme-old-pool"}
    o = actions.observed(_answer([*ACME, old], ACME[2:], _chain(False), iso_before=ACME[:1], iso_after=[]))
    res = run.evaluate(p, o, run.DeviceResult("fw", "nftables", ""))
    assert res.status == "restored" and res.removed == ["10.200.1.0/27", "10.200.77.0/27", "10.249.0.101"]
    o = actions.observed(_answer(ACME, ACME[2:], _chain(False), iso_before=ACME[:1], iso_after=ACME[:1]))
    res = run.evaluate(p, o, run.DeviceResult("fw", "nftables", ""))
    assert res.failed and res.missing == ["10.200.1.0/27"]


def test_evaluate_failures(mpath):
    p = actions.plan(manifest.load(mpath), "acme-imaging")
    missing = actions.observed(_answer(None, None, None, set_error="Error: No such file or directory"))
    res = run.evaluate(p, missing, run.DeviceResult("fw", "nftables", ""))
    assert res.failed and res.error_kind == "no quarantine set" and "deploy vendorwall" in res.error
    res = run.evaluate(p, actions.observed(_answer([], ACME, None)), run.DeviceResult("fw", "nftables", ""))
    assert res.failed and res.error_kind == "quarantine not enforced" and "NOT isolated" in res.error
    not_added = actions.observed(_answer([], [], _chain(False), rc=1, failed=["10.200.1.0/27"]))
    res = run.evaluate(p, not_added, run.DeviceResult("fw", "nftables", ""))
    assert res.failed and res.missing == ["10.200.1.0/27", "10.249.0.101"]


def test_evaluate_segment_scope_without_keep_support_is_partial(mpath):
    p = actions.plan(manifest.load(mpath), "acme-imaging", "segment")
    o = actions.observed(_answer([], ACME, _chain(False), no_keep=True))
    res = run.evaluate(p, o, run.DeviceResult("fw", "nftables", ""))
    assert res.status == "partial" and res.failed and "segments NOT quarantined" in res.error
    assert res.added == ["10.200.1.0/27", "10.249.0.101"]
    assert actions.quarantine_active(_chain(True)) == (True, True)
    assert actions.quarantine_active(_chain(False)) == (True, False)


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


# --------------------------------------------------------------------------- the agent, for real

SETUP = ("table inet vendorwall_state {\n set quarantine { type ipv4_addr; flags interval; }\n"
         " chain forward { type filter hook forward priority filter + 10; policy accept;\n"
         "  ip saddr @quarantine drop\n  ip daddr @quarantine drop\n }\n}\n")


def _in_netns(requests: list[dict], setup: str, tmp_path) -> list[dict]:
    """Run the agent for each request in one throwaway network namespace (``unshare --net``), after ``setup``."""
    from vendorwall.devices import agents

    req = tmp_path / "req"
    req.mkdir(exist_ok=True)
    (req / "setup.nft").write_text(setup)
    (req / "agent.py").write_text(agents.source("nft_state"))
    lines = ["nft -f setup.nft || exit 9"]
    for i, r in enumerate(requests):
        (req / f"{i}.json").write_text(json.dumps(r))
        lines.append(f"echo __VW_SPLIT; python3 agent.py nft_state < {i}.json")
    out = subprocess.run(["unshare", "--net", "sh", "-c", "\n".join(lines)], cwd=req, capture_output=True, text=True,
                         check=True).stdout
    return [json.loads(part) for part in out.split("__VW_SPLIT\n")[1:]]


def _need_netns() -> None:
    if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("unshare"):
        pytest.skip("needs root, nft and unshare")


@pytest.mark.lab
def test_agent_in_a_throwaway_namespace(mpath, tmp_path):
    _need_netns()
    m = manifest.load(mpath)
    hand = SETUP + 'add element inet vendorwall_state quarantine { 10.200.1.8/29 comment "by hand" }\n'
    iso_p, rest_p = actions.plan(m, "acme-imaging"), actions.plan(m, "acme-imaging", action="restore")
    iso, again, rest = _in_netns([actions.request(iso_p), actions.request(iso_p), actions.request(rest_p)], hand,
                                 tmp_path)
    o = actions.observed(iso)
    # 10.200.1.0/27 overlaps the hand-made /29: the transaction fails, the fallback adds the rest
    assert o.rc == 1 and o.failed_elements == ["10.200.1.0/27"]
    r1 = run.evaluate(iso_p, o, run.DeviceResult("d", "nftables", ""))
    assert r1.failed and r1.missing == ["10.200.1.0/27"] and r1.added == ["10.249.0.101"]
    assert actions.observed(again).failed_elements == ["10.200.1.0/27"]
    r3 = run.evaluate(rest_p, actions.observed(rest), run.DeviceResult("d", "nftables", ""))
    assert r3.status == "restored" and r3.removed == ["10.249.0.101"]
    assert [str(e.prefix) for e in actions.observed(rest).after or []] == ["10.200.1.8/29"]  # hand-made: left alone
    [allv] = _in_netns([actions.request(actions.plan(m, "all"))], SETUP, tmp_path)
    o = actions.observed(allv)
    assert o.rc == 0 and not o.failed_elements and o.t0 and o.t1 and o.t1 >= o.t0
    assert run.evaluate(actions.plan(m, "all"), o, run.DeviceResult("d", "nftables", "")).status == "isolated"


EVIL = "x\n__VW_EOF\ntouch /tmp/vw-pwned-{tag}\n__VW_EOF"


@pytest.mark.lab
def test_agent_refuses_unsafe_strings_and_runs_nothing(tmp_path):
    """Data as data: names with a newline and a heredoc terminator, shell metacharacters, an address that
    is not one: the agent refuses the request (exit 2, a JSON error), changes nothing and runs nothing."""
    _need_netns()
    marker = f"/tmp/vw-pwned-{os.getpid()}"
    reqs = [{"op": "quarantine", "action": "isolate", "vendors": [], "elements": [
                {"prefix": "10.200.1.0/27", "vendor": "acme", "kind": "entry", "name": EVIL.format(tag=os.getpid())}]},
            {"op": "quarantine", "action": "isolate", "vendors": [], "elements": [
                {"prefix": "10.200.1.0/27", "vendor": f"a$(touch {marker})", "kind": "entry", "name": "p"}]},
            {"op": "quarantine", "action": "isolate", "vendors": [], "elements": [
                {"prefix": f"10.200.1.0/27; touch {marker}", "vendor": "acme", "kind": "entry", "name": "p"}]},
            {"op": "grants_open", "timeout": 60, "comment": f'x" }}; flush ruleset; touch {marker} #',
             "elements": [{"set": "grants_tcp", "src": "10.200.1.1", "dst": "10.66.0.2", "port": 22}]},
            {"op": "persist", "dir": "/tmp/../etc"},
            {"op": "quarantine", "action": "isolate", "vendors": [], "elements": [],
             "persist_dir": f"/tmp/x;touch {marker}"}]
    answers = _in_netns([*reqs, {"op": "quarantine", "action": "check", "elements": []}], SETUP, tmp_path)
    assert [a["ok"] for a in answers[:4]] == [False] * 4
    assert all("not allowed" in a["error"] or "not an IPv4 prefix" in a["error"] or "comment" in a["error"]
               for a in answers[:4])
    assert "safe characters" in answers[4]["persist_error"] and "safe characters" in answers[5]["persist_error"]
    assert answers[-1]["before"]["quarantine"] == []  # nothing was added
    assert not os.path.exists(marker)


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


def test_who_is_the_real_uid_and_the_sudo_caller_only_via(monkeypatch):
    import pwd

    monkeypatch.setenv("SUDO_USER", "alice")  # anyone can set it: recorded, never trusted as the user
    w = journal.who()
    assert w["user"] == pwd.getpwuid(os.getuid()).pw_name and w.get("via") == "alice"


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


GRANTS_SETUP = ("table inet vendorwall_state {\n"
                " set grants_tcp { type ipv4_addr . ipv4_addr . inet_service; flags interval,timeout; }\n"
                " set grants_udp { type ipv4_addr . ipv4_addr . inet_service; flags interval,timeout; }\n"
                " set grants_any { type ipv4_addr . ipv4_addr; flags interval,timeout; }\n}\n"
                'add element inet vendorwall_state grants_tcp { 10.200.1.0/27 . 10.64.0.2 . 22 timeout 1h '
                'comment "vwgrant=g0123456789ab va/sys OPS-1" }\n')


@pytest.mark.lab
def test_test_grants_never_replace_or_delete_an_operators_grant(tmp_path):
    """In an interval set, adding the operator's key again resets its timeout and comment, and deleting a
    host key inside it deletes it (what 'lab test' and 'isolate --lab-dir' did): the agent's only_missing
    creates test grants only where no live grant holds the tuple and says which; only those are closed."""
    _need_netns()
    held = {"set": "grants_tcp", "src": "10.200.1.1", "dst": "10.64.0.2", "port": 22}  # inside the operator's /27
    same = {"set": "grants_tcp", "src": "10.200.1.0/27", "dst": "10.64.0.2", "port": 22}  # the operator's own key
    free = {"set": "grants_tcp", "src": "10.200.1.1", "dst": "10.64.0.3", "port": 22}
    opened, listing = _in_netns([
        {"op": "grants_open", "elements": [held, same, free], "timeout": 600, "comment": "vendorwall lab test grant",
         "only_missing": True},
        {"op": "grants_list"}], GRANTS_SETUP, tmp_path)
    assert opened["ok"] and opened["created"] == [free]
    # then close what was created, and list again (a fresh namespace: replay the open first)
    _, closed, after = _in_netns([
        {"op": "grants_open", "elements": [held, same, free], "timeout": 600, "comment": "vendorwall lab test grant",
         "only_missing": True},
        {"op": "grants_close", "elements": opened["created"]}, {"op": "grants_list"}], GRANTS_SETUP, tmp_path)
    assert closed["ok"] and closed["rc"] == 0
    [op] = after["sets"]["grants_tcp"]
    assert op["elem"]["comment"] == "vwgrant=g0123456789ab va/sys OPS-1" and op["elem"]["expires"] > 3000
    assert len(listing["sets"]["grants_tcp"]) == 2
