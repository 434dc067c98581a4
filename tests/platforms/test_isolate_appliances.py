"""``vendorwall isolate/restore`` on the appliances: the multi-vendor example's four firewalls (FortiOS,
Stormshield, PAN-OS, ASA) isolated through their drivers, one session each, the same report and journal.

Each firewall is a simulator (tests/platforms/fake*.py) first deployed with its own pusher, so the
rendered quarantine rules and groups exist; then the journey runs unchanged (``isolate.run.execute``),
the drivers reached through ``vendorwall.devices.appliances.SESSIONS``. What it proves: the dispatch by
platform, the per-device results (added, already, restored), idempotency, entry-path sessions cleared,
the journal entries, and that on the simulated firewall the vendor's access tuples are gone from what
the policy means while its must-keep flows stay. What it cannot prove: a real device (docs/platforms.md).
"""

from __future__ import annotations

import dataclasses
from ipaddress import ip_network

import pytest
from fakeasa import FakeASA
from fakefortigate import FakeFortiGate
from fakepanos import FakePanos, _find
from fakesns import FakeSNS
from vendorwall_testlib import NOW, REPO

from vendorwall import pipeline, render
from vendorwall.deploy import asa as asa_push
from vendorwall.deploy import fortios as fortios_push
from vendorwall.deploy import panos as panos_push
from vendorwall.deploy import panos_plan
from vendorwall.deploy import stormshield as sns_push
from vendorwall.deploy.common import Options
from vendorwall.deploy.session import Target
from vendorwall.devices import appliances
from vendorwall.isolate import actions, journal, manifest, run
from vendorwall.render import evaluate, fortios_cli, panos_xml, stormshield_cli
from vendorwall.render import meaning as M

MULTIVENDOR = REPO / "inventories" / "example-multivendor"
PUSH = {"fortios": fortios_push.push, "stormshield": sns_push.push, "panos": panos_push.push, "asa": asa_push.push}


@pytest.fixture()
def lab(tmp_path, monkeypatch):
    res = pipeline.run(str(MULTIVENDOR), NOW, check_lock=False)
    devs = {"fortios": FakeFortiGate(), "stormshield": FakeSNS(), "panos": FakePanos(), "asa": FakeASA()}
    for plat, dev in devs.items():
        monkeypatch.setitem(appliances.SESSIONS, plat, dev.session)
    texts = {}
    for name, intent in res.model.devices.items():
        if intent.role != "firewall":
            continue
        r, diags = render.render_device(res.model, intent)
        assert r is not None and not diags
        texts[name] = r.text
        t = Target(name, intent.platform, "192.0.2.9", backup_dir=str(tmp_path / "b"))
        out = PUSH[intent.platform](t, r.text, Options(), session_factory=devs[intent.platform].session)
        assert out.error is None, out.error
    path = tmp_path / "manifest.json"
    manifest.write_manifest(str(path), res.model)
    m = manifest.load(str(path))
    tgts = [Target(fw.name, fw.platform, "192.0.2.9") for fw in sorted(m.firewalls.values(), key=lambda f: f.name)]
    return res, devs, m, tgts, texts, tmp_path


def _meaning(plat: str, dev, text: str) -> M.Meaning:
    if plat == "fortios":
        return M.meaning_of("fortios", "\n".join(dev.show(t) for t in fortios_cli.parse(text)))
    if plat == "stormshield":
        return evaluate.evaluate(stormshield_cli.rules(dev.live))
    if plat == "asa":
        return M.meaning_of("asa", "\n".join(dev.show(s) for s in ("interface", "object-group", "time-range",
                                                                    "access-list", "access-group")))
    return evaluate.evaluate(panos_xml.rules(panos_xml.parse(panos_plan.running_text(
        {x: _find(dev.running, x) for x in panos_xml.parse(text).sets}))))


def test_isolate_and_restore_every_appliance(lab) -> None:
    res, devs, m, tgts, texts, tmp = lab
    vendor = "acme-imaging"
    jpath = str(tmp / "incident.jsonl")
    p = actions.plan(m, vendor, "access")
    r = run.execute(m, p, tgts, reason="test", journal_path=jpath, accounts=False)
    assert not r.failed, [(x.device, x.error) for x in r.results]
    assert {x.device: x.status for x in r.results} == {t.device: "isolated" for t in tgts}
    assert all(x.added and not x.missing for x in r.results)
    # on the devices: acme-imaging's entry paths are in each quarantine
    entry = [e.prefix for e in p.elements if e.kind == "entry"]
    registered = {ip_network(k) for k, tags in devs["panos"].registered.items() if "vw-quarantine" in tags}
    assert entry and set(entry) <= registered
    assert devs["asa"].cleared and devs["fortios"].sessions_cleared and devs["stormshield"].flushed
    # what each firewall means now: no vendor-access tuple from acme-imaging's entry paths
    for name, intent in res.model.devices.items():
        if intent.role != "firewall" or intent.platform == "panos":
            continue  # PAN-OS: the quarantine is run-time registrations, which a configuration's meaning does not hold
        now = _meaning(intent.platform, devs[intent.platform], texts[name])
        assert not any(any(t.src.subnet_of(n) for n in entry) for t in now), name
        assert {t for t in M.intent_meaning(intent) if t.keep} <= now, f"{name}: must-keep flows stay"
    # a rerun: already there, nothing changed
    again = run.execute(m, p, tgts, reason="test again", journal_path=jpath, accounts=False)
    assert all(x.status == "isolated" and not x.added and x.already for x in again.results)
    # restore: lifted everywhere
    back = run.execute(m, actions.plan(m, vendor, "access", action="restore"), tgts, reason="end", journal_path=jpath,
                       accounts=False)
    assert not back.failed and all(x.status == "restored" and x.removed for x in back.results), [
        (x.device, x.error, x.removed) for x in back.results]
    assert not devs["panos"].registered
    events = [e["event"] for e in journal.read(jpath)]
    assert events.count("started") == 3 and len(events) >= 6


def test_check_mode_changes_nothing(lab) -> None:
    _res, devs, m, tgts, _texts, _tmp = lab
    p = dataclasses.replace(actions.plan(m, "magnetika", "segment"), check=True)
    r = run.execute(m, p, tgts, reason="check", accounts=False)
    assert all(x.status == "checked" and x.would_add for x in r.results), [(x.device, x.error) for x in r.results]
    assert not devs["panos"].registered and not devs["asa"].cleared
