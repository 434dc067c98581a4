"""Isolation that sticks, on the controller side: the isolation record in the state directory, read by every
render; each firewall's policy carries the quarantine of the vendors isolated at render time, by identity
(the entry paths and segments of the inventory as it is now). Fails on a main that ignores the record."""

from __future__ import annotations

import copy
import json
import os
from ipaddress import IPv4Network

import pytest
from vendorwall_testlib import NOW, add_systems, base_inventory, nft_chain, nft_sets, run_cli, system, write_inventory

from vendorwall import pipeline
from vendorwall.isolate import isolated
from vendorwall.state import StateDir


def _inv() -> dict:
    inv = base_inventory(2)
    return add_systems(inv, [system("va-a", "va", "s0", "on_demand", ("ssh",)),
                             system("va-b", "va", "s1", "permanent", ("https",)),
                             system("vc-a", "vc", "s1", "on_demand", ("ssh",), shared=True)])


def _isolate(root, vendor: str, scope: str = "access") -> str:
    path = StateDir.for_inventory(str(root)).isolation_file
    rec = isolated.with_isolated(isolated.read(path), [isolated.Entry(vendor, "2026-11-28T03:00:00.000Z",
                                                                      "breach", "INC-1", scope)])
    isolated.write(path, rec)
    return path


def _isolated_set(text: str) -> set[str]:
    return {e[0] for e in nft_sets(text)[("vendorwall", "isolated")].elements}


def test_render_carries_the_quarantine_of_isolated_vendors(tmp_path):
    root = write_inventory(_inv(), tmp_path / "inv")
    res = pipeline.run(str(root), NOW, check_lock=False)
    for r in res.configs.values():
        if r.platform == "nftables":
            assert _isolated_set(r.text) == set()
            assert "# isolated at render time: none" in r.text
    _isolate(root, "va")
    res = pipeline.run(str(root), NOW, check_lock=False)
    fws = [n for n, r in res.configs.items() if r.platform == "nftables"]
    assert fws == ["fw-s0", "fw-s1"]
    for fw in fws:
        text = res.configs[fw].text
        # every entry path of va, on every firewall (a vendor source may reach any site)
        assert _isolated_set(text) == {"10.249.0.1", "10.200.0.0/27"}, fw
        assert "# isolated at render time: va (access)" in text
        chain = nft_chain(text, "vendorwall", "every_set")
        drops = [i for i, r in enumerate(chain) if "@isolated" in r and r.endswith("drop")]
        assert len(drops) == 2 and max(drops) < chain.index("ct state established,related accept")
        assert {r.split(" @isolated")[0].rsplit(" ", 1)[1] for r in (chain[i] for i in drops)} == {"saddr", "daddr"}
        # established packets of a classified connection: its class drops the isolated set first
        cls = nft_chain(text, "vendorwall", "class_ondemand")
        assert [r.split(" @isolated")[0] for r in cls[1:3]] == ["ip saddr", "ip daddr"], cls
    # vc is not isolated: its VPN pool is nowhere
    assert all("10.200.1.0/27" not in _isolated_set(res.configs[fw].text) for fw in fws)


def test_segment_scope_quarantines_the_segments_where_they_are_routed(tmp_path):
    root = write_inventory(_inv(), tmp_path / "inv")
    _isolate(root, "vc", "segment")
    res = pipeline.run(str(root), NOW, check_lock=False)
    seg = next(s for s in res.model.segments if s.vendor == "vc")
    assert seg.firewall == "fw-s1"
    assert _isolated_set(res.configs["fw-s1"].text) == {"10.200.1.0/27", str(seg.subnet)}
    assert _isolated_set(res.configs["fw-s0"].text) == {"10.200.1.0/27"}


def test_a_new_entry_path_of_an_isolated_vendor_is_quarantined_in_the_same_render(tmp_path):
    """The issue's bug: a deploy introducing a new VPN pool re-opened an isolated vendor."""
    inv = _inv()
    root = write_inventory(inv, tmp_path / "inv")
    _isolate(root, "va")
    inv2 = copy.deepcopy(inv)
    inv2["vendors"]["va"]["entry_paths"].append({"name": "va-vpn2", "kind": "vpn", "pool": "10.200.9.0/27"})
    write_inventory(inv2, root)
    res = pipeline.run(str(root), NOW, check_lock=False)
    text = res.configs["fw-s0"].text
    assert "10.200.9.0/27" in _isolated_set(text)
    # and the new pool is an allowed vendor source in the same file: the quarantine is what stops it
    assert "10.200.9.0/27" in {e[0] for e in nft_sets(text)[("vendorwall", "vendor_src")].elements}


def test_a_vendor_no_longer_in_the_inventory_is_ignored(tmp_path):
    root = write_inventory(_inv(), tmp_path / "inv")
    path = StateDir.for_inventory(str(root)).isolation_file
    isolated.write(path, isolated.Isolation({"gone": isolated.Entry("gone", "2026-11-28T03:00:00.000Z", "x")}))
    res = pipeline.run(str(root), NOW, check_lock=False)
    assert res.model.isolated == {}
    assert _isolated_set(res.configs["fw-s0"].text) == set()


@pytest.mark.parametrize("content", ["{not json", json.dumps({"version": 1, "vendors": {"va": "yes"}}),
                                     json.dumps({"vendors": {}}), "dir"])
def test_an_unreadable_record_stops_plan(tmp_path, content):
    root = write_inventory(_inv(), tmp_path / "inv")
    path = StateDir.for_inventory(str(root)).isolation_file
    if content == "dir":
        os.makedirs(path)
    else:
        with open(path, "w") as fh:
            fh.write(content)
    with pytest.raises(isolated.IsolationStateError) as exc:
        pipeline.run(str(root), NOW, check_lock=False)
    assert path in exc.value.message
    with pytest.raises(AssertionError) as err:
        run_cli("plan", str(root), "--out", str(tmp_path / "out"), "--now", NOW.isoformat())
    assert "exited 1" in str(err.value) and "cannot read the isolation state" in str(err.value)


def test_record_round_trip_and_scope_widens():
    iso = isolated.Isolation({})
    iso = isolated.with_isolated(iso, [isolated.Entry("va", "2026-11-28T03:00:00.000Z", "first", "T1")])
    again = isolated.with_isolated(iso, [isolated.Entry("va", "2026-11-29T03:00:00.000Z", "second", "T2",
                                                        "segment")])
    assert again.vendors["va"].since == "2026-11-28T03:00:00.000Z" and again.vendors["va"].scope == "segment"
    text = json.dumps(again.to_data())
    assert isolated.parse(text, "x").vendors == again.vendors
    assert isolated.without(again, ["va"]).vendors == {}


def test_quarantine_never_holds_management(tmp_path):
    """Belt and braces: even if a vendor source overlapped management, the compiler would refuse it."""
    from vendorwall.compile import protected

    root = write_inventory(_inv(), tmp_path / "inv")
    _isolate(root, "va")
    res = pipeline.run(str(root), NOW, check_lock=False)
    prot = [n for n, _ in protected(res.inventory)]
    for intent in res.model.devices.values():
        for e in intent.quarantine:
            assert not any(e.prefix.overlaps(p) for p in prot)
    assert IPv4Network("10.250.0.21/32") in prot  # the bastion's management address


def test_plan_with_a_warm_cache_renders_a_new_isolation(tmp_path):
    """The plan cache (run and per-device render entries) must count the isolation record as an input:
    a rerun after an isolation, inventory unchanged, writes the quarantine."""
    root = write_inventory(_inv(), tmp_path / "inv")
    out = tmp_path / "out"
    args = ("plan", str(root), "--out", str(out), "--now", NOW.isoformat(), "--cache-dir", str(tmp_path / "cache"))
    run_cli(*args)
    run_cli(*args)  # warm
    _isolate(root, "va")
    run_cli(*args)
    text = (out / "fw-s0.nft").read_text()
    assert "# isolated at render time: va (access)" in text and "10.249.0.1" in _isolated_set(text)
    # and the per-device entries too (the run entry missed: another output directory)
    out2 = tmp_path / "out2"
    run_cli(*args[:3], str(out2), *args[4:])
    assert _isolated_set((out2 / "fw-s1.nft").read_text()) == {"10.249.0.1", "10.200.0.0/27"}


def test_deploy_refuses_files_planned_before_the_isolation_changed(tmp_path):
    """Files rendered by plan, then a vendor isolated: the deploy (which renders too) refuses the stale files."""
    from vendorwall.deploy import job

    root = write_inventory(_inv(), tmp_path / "inv")
    out = tmp_path / "out"
    run_cli("plan", str(root), "--out", str(out), "--now", NOW.isoformat(), "--no-cache")
    res = pipeline.run(str(root), NOW, check_lock=False)
    job.check_reviewed(res, ["fw-s0", "fw-s1"], str(out))
    _isolate(root, "va")
    res = pipeline.run(str(root), NOW, check_lock=False)
    with pytest.raises(job.JobError) as exc:
        job.check_reviewed(res, ["fw-s0"], str(out))
    assert "isolation record changed since they were rendered" in exc.value.message and "fw-s0.nft" in exc.value.message


def test_reading_the_record_creates_nothing(tmp_path, monkeypatch):
    base = tmp_path / "state-base"
    monkeypatch.setenv("VENDORWALL_STATE_DIR", str(base))
    root = write_inventory(_inv(), tmp_path / "inv")
    assert isolated.read_for(str(root)).vendors == {}
    assert not base.exists()
