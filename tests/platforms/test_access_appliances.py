"""``vendorwall access open/close`` on the appliances: a grant opens the system's on-demand window through
the platform's driver (FortiOS schedule, Stormshield time object, PAN-OS tag registration with a timeout,
ASA time-range), journaled like an nftables grant; closing it closes the window.

The multi-vendor example's four appliance firewalls are simulators (tests/platforms/fake*.py) first
deployed with their own pushers; ``grants.open_grant`` / ``close_grant`` run unchanged. What it proves:
the dispatch by platform, the window on each device after the opening (and closed again after the
close), the journal entries. What it cannot prove: a real device's clock and its end of the window.
"""

from __future__ import annotations

import pytest
from fakeasa import FakeASA
from fakefortigate import FakeFortiGate
from fakepanos import FakePanos
from fakesns import FakeSNS
from vendorwall_testlib import NOW, REPO

from vendorwall import pipeline, render
from vendorwall.access import devices as access_devices
from vendorwall.access import grants, policy
from vendorwall.deploy import asa as asa_push
from vendorwall.deploy import fortios as fortios_push
from vendorwall.deploy import panos as panos_push
from vendorwall.deploy import stormshield as sns_push
from vendorwall.deploy.common import Options
from vendorwall.deploy.session import Target
from vendorwall.devices import appliances
from vendorwall.render import stormshield as sns_render

MULTIVENDOR = REPO / "inventories" / "example-multivendor"
PUSH = {"fortios": fortios_push.push, "stormshield": sns_push.push, "panos": panos_push.push, "asa": asa_push.push}


def _window(plat: str, dev, system: str) -> str:
    """The on-demand window of ``system`` as the simulated device holds it ("closed" when closed)."""
    if plat == "fortios":
        e = dev.config["firewall schedule onetime"][f"vw-od-{system}"]
        return "closed" if e["start"] == ["00:00 2001/01/01"] else f"{e['start'][0]} - {e['end'][0]}"
    if plat == "stormshield":
        date = dev.live.objects[f"vw-od-{system}"][1]["date"]
        return "closed" if date == sns_render.CLOSED else date
    if plat == "asa":
        line = next(x for x in dev.blocks[f"time-range vw-od-{system}"] if x.startswith("absolute"))
        return "closed" if "01 January 2001" in line else line
    tags = [t for ip, ts in dev.registered.items() for t, timeout in ts.items() if t == f"vw-od-{system}"]
    return "closed" if not tags else f"registered ({len(tags)})"


@pytest.fixture()
def deployed(tmp_path, monkeypatch):
    res = pipeline.run(str(MULTIVENDOR), NOW, check_lock=False)
    devs = {"fortios": FakeFortiGate(), "stormshield": FakeSNS(), "panos": FakePanos(), "asa": FakeASA()}
    for plat, dev in devs.items():
        monkeypatch.setitem(appliances.SESSIONS, plat, dev.session)
    for name, intent in res.model.devices.items():
        if intent.role == "firewall":
            r, _ = render.render_device(res.model, intent)
            assert r is not None
            t = Target(name, intent.platform, "192.0.2.9", backup_dir=str(tmp_path / "b"))
            pushed = PUSH[intent.platform](t, r.text, Options(), session_factory=devs[intent.platform].session)
            assert pushed.error is None
    monkeypatch.setattr(grants.devices, "targets",
                        lambda inv, names, o: [Target(n, inv.devices[n].platform, "192.0.2.9") for n in names])
    return res.model, devs


def _on_demand_system(model, fw: str) -> str:
    return sorted(r.system for r in model.rules if r.kind == "vendor_access" and r.validity.kind == "on_demand"
                  and r.firewalls == (fw,))[0]


@pytest.mark.parametrize("fw", ["fw-nord", "fw-sud", "fw-centre", "fw-rive"])
def test_grant_opens_and_closes_the_window(deployed, fw, tmp_path) -> None:
    model, devs = deployed
    plat = model.inventory.devices[fw].platform
    system = _on_demand_system(model, fw)
    s = model.inventory.systems[system]
    approver = (s.approvers or model.inventory.vendors[s.vendor].approvers)[0]
    jpath = str(tmp_path / "access.jsonl")
    assert _window(plat, devs[plat], system) == "closed"
    out = grants.open_grant(model, policy.Request(s.vendor, system, "CHG-42", "alice@chu-exemple.example", approver,
                                                  "2h"), access_devices.ConnOptions(), jpath, today=NOW)
    assert out.exit == 0, out.lines
    assert out.data["firewalls"][fw]["result"] == "opened" and out.data["firewalls"][fw]["platform"] == plat
    assert _window(plat, devs[plat], system) != "closed"
    assert any("on-demand window of" in line for line in out.lines)
    gid = out.data["grant"]
    closed = grants.close_grant(model, gid, access_devices.ConnOptions(), jpath, reason="done")
    assert closed.exit == 0, closed.lines
    assert _window(plat, devs[plat], system) == "closed"
    events = [e["event"] for e in grants.journal.read(jpath)]
    assert events == ["opening", "opened", "closed"]  # "opening": journaled before any firewall is touched
    # a second close: the journal says it is no longer live
    again = grants.close_grant(model, gid, access_devices.ConnOptions(), jpath)
    assert again.data["result"] == "not live"
