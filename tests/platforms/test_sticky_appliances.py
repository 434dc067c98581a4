"""Isolation that sticks on the appliances (FortiOS, Stormshield, PAN-OS, ASA): every rendered policy carries
the quarantine of the vendors isolated at render time, by identity, in the platform's own quarantine object,
and a deploy puts it on the device (added when missing, never a live member removed).

Render level: the multi-vendor example (one firewall per platform) rendered with an isolation record; each
file's quarantine object holds the isolated vendor's entry paths (a new VPN pool too), and what the file
means (``vendorwall.render.meaning``) accepts nothing from them while the must-keep flows stay. Device
level: the simulators (tests/platforms/fake*.py) deployed with each platform's pusher, then ``vendorwall
isolate --check`` and ``restore`` run through the drivers, as in test_isolate_appliances.py. Before this
change the appliance renderers printed an empty quarantine whatever the record said: every test here failed.
"""

from __future__ import annotations

import dataclasses
import shutil
from ipaddress import IPv4Network
from typing import Any

import pytest
import yaml
from fakeasa import FakeASA
from fakefortigate import FakeFortiGate
from fakepanos import FakePanos
from fakesns import FakeSNS
from vendorwall_testlib import NOW, REPO

from vendorwall import pipeline, render
from vendorwall.deploy import asa as asa_push
from vendorwall.deploy import fortios as fortios_push
from vendorwall.deploy import panos as panos_push
from vendorwall.deploy import stormshield as sns_push
from vendorwall.deploy.common import Options
from vendorwall.deploy.session import Target
from vendorwall.devices import appliances
from vendorwall.isolate import actions, manifest, run
from vendorwall.isolate.isolated import Entry, Isolation
from vendorwall.render import asa_cli, fortios_cli, panos_xml, stormshield_cli
from vendorwall.render import meaning as M

MULTIVENDOR = REPO / "inventories" / "example-multivendor"
PUSH = {"fortios": fortios_push.push, "stormshield": sns_push.push, "panos": panos_push.push, "asa": asa_push.push}
VENDOR = "climatec"  # reaches systems through every firewall of the example
ENTRY = {IPv4Network("10.249.0.107/32"), IPv4Network("10.200.6.0/27")}  # its entry paths (bastion source, VPN pool)
NEW_POOL = IPv4Network("10.200.99.0/27")


def _isolation(vendor: str = VENDOR, scope: str = "access") -> Isolation:
    return Isolation({vendor: Entry(vendor, "2026-11-28T03:00:00.000Z", "breach at the vendor", "INC-7", scope)})


def _render(root, isolation: Isolation) -> tuple[pipeline.Result, dict[str, tuple[str, str]]]:
    """-> (the pipeline result, firewall -> (platform, rendered text))."""
    res = pipeline.run(str(root), NOW, check_lock=False, isolation=isolation)
    out = {}
    for name, intent in sorted(res.model.devices.items()):
        if intent.role == "firewall":
            r, diags = render.render_device(res.model, intent)
            assert r is not None and not diags, diags
            out[name] = (intent.platform, r.text)
    assert sorted(p for p, _t in out.values()) == ["asa", "fortios", "panos", "stormshield"]
    return res, out


def rendered_quarantine(platform: str, text: str) -> set[IPv4Network]:
    """The prefixes a rendered file puts in the platform's quarantine object (read by the platform's parser)."""
    if platform == "fortios":
        cfg = fortios_cli.parse(text)
        members = cfg["firewall addrgrp"].entries["vw-quarantine"].values("member")
        addrs = cfg["firewall address"].entries
        out = set()
        for m in members:
            if m != "none":
                a, mask = addrs[m].values("subnet")
                out.add(IPv4Network(f"{a}/{mask}"))
        return out
    if platform == "stormshield":
        sns = stormshield_cli.parse_script(text)
        out = set()
        for m in sns.members["vw-quarantine"]:
            _kind, attrs = sns.objects[m]
            if m != "vw-q-none":
                out.add(IPv4Network(f"{attrs['ip']}/{attrs.get('mask') or 32}"))
        return out
    if platform == "asa":
        body = asa_cli.parse(text).blocks["object-group network vw-quarantine"]
        out = set()
        for line in body:
            w = line.split()
            if w[0] == "network-object" and w[1:3] != ["host", "0.0.0.0"]:
                out.add(IPv4Network(f"{w[2]}/32" if w[1] == "host" else f"{w[1]}/{w[2]}"))
        return out
    assert platform == "panos"
    return set(panos_xml.parse(text).registered.get("vw-quarantine", []))


def _from(meaning: M.Meaning, nets: set[IPv4Network]) -> set[M.FlowTuple]:
    return {t for t in meaning if t.action == "accept" and any(t.src.subnet_of(n) for n in nets)}


def test_every_appliance_renders_the_quarantine_of_an_isolated_vendor():
    _res0, plain = _render(MULTIVENDOR, Isolation())
    res, isolated = _render(MULTIVENDOR, _isolation())
    for fw, (plat, text) in isolated.items():
        assert rendered_quarantine(plat, plain[fw][1]) == set(), fw
        assert rendered_quarantine(plat, text) == ENTRY, fw
        assert f"isolated at render time: {VENDOR} (access)" in text, fw
        # what the file means: the vendor's access is closed, the must-keep flows stay, others unchanged
        before, after = M.meaning_of(plat, plain[fw][1]), M.meaning_of(plat, text)
        assert _from(before, ENTRY), f"{fw}: the example gives {VENDOR} access through this firewall"
        assert not _from(after, ENTRY), fw
        assert {t for t in M.intent_meaning(res.model.devices[fw]) if t.keep} <= after, fw
        assert before - _from(before, ENTRY) == after, f"{fw}: only {VENDOR}'s tuples are gone"


def test_segment_scope_quarantines_the_segments_this_firewall_routes():
    res, isolated = _render(MULTIVENDOR, _isolation("magnetika", "segment"))
    segs = [s for s in res.model.segments if s.vendor == "magnetika"]
    assert segs
    paths = {p for e in res.model.inventory.vendors["magnetika"].entry_paths if not e.shared for p in e.prefixes}
    for fw, (plat, text) in isolated.items():
        want = paths | {s.subnet for s in segs if s.firewall == fw}
        assert rendered_quarantine(plat, text) == want, fw


def _with_new_pool(tmp_path) -> str:
    root = tmp_path / "inv"
    shutil.copytree(MULTIVENDOR, root)
    f = root / "vendorwall" / "vendors" / f"{VENDOR}.yml"
    data = yaml.safe_load(f.read_text())
    data["vendors"][VENDOR]["entry_paths"].append({"name": "climatec-vpn2", "kind": "vpn", "pool": str(NEW_POOL)})
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(root)


def test_a_new_vpn_pool_of_an_isolated_vendor_is_quarantined_in_the_render(tmp_path):
    """The issue's bug on the appliances: the vendor is isolated, then a new VPN pool is added to the inventory."""
    root = _with_new_pool(tmp_path)
    _res, plain = _render(root, Isolation())
    _res, isolated = _render(root, _isolation())
    opened = []
    for fw, (plat, text) in isolated.items():
        assert rendered_quarantine(plat, text) == ENTRY | {NEW_POOL}, fw
        if _from(M.meaning_of(plat, plain[fw][1]), {NEW_POOL}):
            opened.append(fw)
        assert not _from(M.meaning_of(plat, text), ENTRY | {NEW_POOL}), fw
    assert opened, "without the isolation the new pool reaches the vendor's systems somewhere"


# --- on the simulated devices ---------------------------------------------------------------------------


def _devices(monkeypatch) -> dict[str, Any]:
    devs = {"fortios": FakeFortiGate(), "stormshield": FakeSNS(), "panos": FakePanos(), "asa": FakeASA()}
    for plat, dev in devs.items():
        monkeypatch.setitem(appliances.SESSIONS, plat, dev.session)
    return devs


def _deploy(devs, rendered: dict[str, tuple[str, str]], tmp_path) -> dict[str, bool]:
    changed = {}
    for fw, (plat, text) in rendered.items():
        t = Target(fw, plat, "192.0.2.9", backup_dir=str(tmp_path / "b"))
        out = PUSH[plat](t, text, Options(), session_factory=devs[plat].session)
        assert out.error is None, (fw, out.error)
        changed[fw] = out.changed
    return changed


def _live(rendered) -> dict[str, set[IPv4Network]]:
    """What each device's quarantine holds, read by its isolation driver."""
    out = {}
    for fw, (plat, _text) in rendered.items():
        q = appliances.quarantine(Target(fw, plat, "192.0.2.9"), [], [], [], check=True)
        assert q.ok and q.before is not None, (fw, q.error)
        out[fw] = set(q.before)
    return out


def _targets(m) -> list[Target]:
    return [Target(fw.name, fw.platform, "192.0.2.9") for fw in sorted(m.firewalls.values(), key=lambda f: f.name)]


def test_a_deploy_after_isolate_closes_the_vendor_on_a_rebuilt_device_then_restore_lifts_it(tmp_path, monkeypatch):
    """A firewall rebuilt (or rolled back to a config from before the isolation) gets the quarantine back with
    the next deploy; ``isolate --check`` then finds it ALREADY there; ``restore`` lifts it; the next render
    (nobody isolated) neither puts it back nor removes anything."""
    devs = _devices(monkeypatch)
    res, isolated = _render(MULTIVENDOR, _isolation())
    _deploy(devs, isolated, tmp_path)
    assert _live(isolated) == {fw: ENTRY for fw in isolated}
    # a second deploy of the same render changes nothing (idempotent, state compared as the driver writes it)
    assert _deploy(devs, isolated, tmp_path) == {fw: False for fw in isolated}
    # isolate --check agrees with what the render put there
    mpath = tmp_path / "manifest.json"
    manifest.write_manifest(str(mpath), res.model)
    m = manifest.load(str(mpath))
    check = run.execute(m, dataclasses.replace(actions.plan(m, VENDOR, "access"), check=True), _targets(m),
                        reason="check", accounts=False)
    assert all(x.status == "checked" and not x.would_add and sorted(x.already) for x in check.results), [
        (x.device, x.would_add, x.error) for x in check.results]
    assert {x.device: sorted(x.isolated_vendors) for x in check.results if x.isolated_vendors} == {
        fw: [VENDOR] for fw, (p, _t) in isolated.items() if p in ("fortios", "stormshield")}  # comments kept there
    # restore lifts what the render put there
    back = run.execute(m, actions.plan(m, VENDOR, "access", action="restore"), _targets(m), reason="end",
                       accounts=False)
    assert all(x.status == "restored" and x.removed for x in back.results), [
        (x.device, x.error, x.removed) for x in back.results]
    assert _live(isolated) == {fw: set() for fw in isolated}
    # the next render (the record no longer names the vendor) quarantines nothing, and its deploy adds nothing
    _res, plain = _render(MULTIVENDOR, Isolation())
    _deploy(devs, plain, tmp_path)
    assert _live(plain) == {fw: set() for fw in plain}


def test_a_deploy_never_removes_a_live_isolation_the_render_does_not_know(tmp_path, monkeypatch):
    """A vendor isolated on the devices after the render (its record newer than the file) stays isolated."""
    devs = _devices(monkeypatch)
    res, plain = _render(MULTIVENDOR, Isolation())
    _deploy(devs, plain, tmp_path)
    mpath = tmp_path / "manifest.json"
    manifest.write_manifest(str(mpath), res.model)
    m = manifest.load(str(mpath))
    r = run.execute(m, actions.plan(m, VENDOR, "access"), _targets(m), reason="incident", accounts=False)
    assert not r.failed
    _deploy(devs, plain, tmp_path)
    assert _live(plain) == {fw: ENTRY for fw in plain}


def test_a_new_vpn_pool_of_an_isolated_vendor_is_quarantined_by_the_deploy_that_adds_it(tmp_path, monkeypatch):
    devs = _devices(monkeypatch)
    _res, before = _render(MULTIVENDOR, _isolation())
    _deploy(devs, before, tmp_path)
    assert _live(before) == {fw: ENTRY for fw in before}
    _res, after = _render(_with_new_pool(tmp_path), _isolation())
    assert _deploy(devs, after, tmp_path) == {fw: True for fw in after}
    assert _live(after) == {fw: ENTRY | {NEW_POOL} for fw in after}


@pytest.mark.parametrize("platform", ["fortios", "stormshield", "panos", "asa"])
def test_check_mode_shows_the_quarantine_it_would_add(tmp_path, monkeypatch, platform):
    devs = _devices(monkeypatch)
    _res, plain = _render(MULTIVENDOR, Isolation())
    _deploy(devs, plain, tmp_path)
    _res, isolated = _render(MULTIVENDOR, _isolation())
    fw, (plat, text) = next((f, v) for f, v in isolated.items() if v[0] == platform)
    t = Target(fw, plat, "192.0.2.9", backup_dir=str(tmp_path / "b"))
    out = PUSH[plat](t, text, Options(check=True), session_factory=devs[plat].session)
    assert out.error is None and out.changed
    assert any("10.200.6.0" in c for c in out.commands), out.commands
    assert _live({fw: (plat, text)})[fw] == set()  # check mode: nothing sent
