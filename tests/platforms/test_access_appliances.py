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


# --- access list / reconcile: the appliances' open windows are live grants ---------------------------------------


def _open(model, fw: str, jpath: str, duration: str = "2h") -> tuple[str, str]:
    system = _on_demand_system(model, fw)
    s = model.inventory.systems[system]
    approver = (s.approvers or model.inventory.vendors[s.vendor].approvers)[0]
    out = grants.open_grant(model, policy.Request(s.vendor, system, "CHG-43", "alice@chu-exemple.example", approver,
                                                  duration), access_devices.ConnOptions(), jpath, today=NOW)
    assert out.exit == 0, out.lines
    return out.data["grant"], system


@pytest.mark.parametrize("fw", ["fw-nord", "fw-sud", "fw-centre", "fw-rive"])
def test_access_list_shows_an_appliance_grant_and_reconcile_keeps_it(deployed, fw, tmp_path) -> None:
    """Before: list read the nftables firewalls only, so an appliance grant was missing AND the reconcile that
    list runs journaled it 'expired' at once ('gone from the firewalls before its expiry')."""
    model, _devs = deployed
    jpath = str(tmp_path / "access.jsonl")
    gid, system = _open(model, fw, jpath)
    out = grants.list_grants(model, access_devices.ConnOptions(), jpath)
    assert out.exit == 0, out.lines
    row = next(r for r in out.data["grants"] if r["grant"] == gid)
    assert row["system"] == system and row["firewalls"] == [fw]
    assert [w["window"] for w in row["windows"]] == [f"vw-od-{system}"[:63 if fw != "fw-nord" else 31]]
    assert 3600 < row["seconds_left"] <= 2 * 3600 + 60
    assert any(line.startswith(gid) and "window vw-od-" in line for line in out.lines), out.lines
    assert out.data["expired"] == [] and out.data["unreachable"] == {}
    live, errors = grants.read_live(model, access_devices.ConnOptions(), jpath)
    assert gid in live and not errors
    assert grants.reconcile(jpath, live, errors, detected_by="reconcile") == []
    assert "expired" not in [e["event"] for e in grants.journal.read(jpath)]
    # closing it: the window closes, the next list shows nothing live and journals no expiry
    assert grants.close_grant(model, gid, access_devices.ConnOptions(), jpath).exit == 0
    after = grants.list_grants(model, access_devices.ConnOptions(), jpath)
    assert after.data["grants"] == [] and after.data["expired"] == []


def test_reconcile_journals_an_appliance_grant_whose_window_was_closed_outside_vendorwall(deployed, tmp_path) -> None:
    model, _devs = deployed
    jpath = str(tmp_path / "access.jsonl")
    gid, system = _open(model, "fw-rive", jpath)
    closed = appliances.grant_close(Target("fw-rive", "asa", "192.0.2.9"), system, [], [])  # by hand, on the ASA
    assert closed.ok, closed.error
    out = grants.list_grants(model, access_devices.ConnOptions(), jpath)
    assert out.data["expired"] == [gid] and out.data["grants"] == []
    last = grants.journal.read(jpath)[-1]
    assert last["event"] == "expired" and last["grant"] == gid and last["on_time"] is False


def test_an_appliance_grant_past_its_journaled_expiry_is_reconciled_on_time(deployed, tmp_path, monkeypatch) -> None:
    model, _devs = deployed
    jpath = str(tmp_path / "access.jsonl")
    gid, _system = _open(model, "fw-centre", jpath, "1h")  # PAN-OS: the registration's timeout is the device's
    later = grants.time.time() + 2 * 3600
    monkeypatch.setattr(grants.time, "time", lambda: later)
    live, errors = grants.read_live(model, access_devices.ConnOptions(), jpath)
    assert gid not in live and not errors  # the simulator keeps the registration: the journaled expiry decides
    assert grants.reconcile(jpath, live, errors, detected_by="reconcile") == [gid]
    assert grants.journal.read(jpath)[-1]["on_time"] is True


def test_an_unreadable_appliance_is_said_and_stops_the_reconcile(deployed, tmp_path, monkeypatch) -> None:
    from vendorwall.deploy.errors import ConnectError

    model, _devs = deployed
    jpath = str(tmp_path / "access.jsonl")
    gid, _system = _open(model, "fw-sud", jpath)

    class Down:
        def __init__(self, t: Target) -> None:
            self.t = t

        def open(self) -> None:
            raise ConnectError(self.t.device, self.t.platform, "connect", "connection refused")

        def close(self) -> None:
            pass

    monkeypatch.setitem(appliances.SESSIONS, "stormshield", Down)
    out = grants.list_grants(model, access_devices.ConnOptions(), jpath)
    assert out.exit == 1
    assert any(line.startswith("UNREACHABLE fw-sud") and "windows could not be read" in line for line in out.lines)
    assert out.data["expired"] == [] and gid not in [r["grant"] for r in out.data["grants"]]
    assert "expired" not in [e["event"] for e in grants.journal.read(jpath)]


def test_a_window_no_open_grant_explains_is_listed_not_hidden(deployed, tmp_path) -> None:
    model, _devs = deployed
    system = _on_demand_system(model, "fw-nord")
    import datetime as dt

    start = dt.datetime.now(dt.UTC)
    opened = appliances.grant_open(Target("fw-nord", "fortios", "192.0.2.9"), system, [], start,
                                   start + dt.timedelta(hours=1))  # by hand, outside vendorwall
    assert opened.ok, opened.error
    out = grants.list_grants(model, access_devices.ConnOptions(), str(tmp_path / "access.jsonl"))
    row = next(r for r in out.data["grants"] if r["grant"] == grants.NO_ID)
    assert row["firewalls"] == ["fw-nord"] and row["windows"][0]["window"].startswith("vw-od-")
    assert any("not in the journal" in line for line in out.lines)
