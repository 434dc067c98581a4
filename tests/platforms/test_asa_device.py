"""Cisco ASA deploy, isolation and grants against an ASA CLI simulator (no ASA exists here).

The pusher (vendorwall/deploy/asa.py) and the driver (vendorwall/devices/asa.py) talk to
tests/platforms/fakeasa.py exactly as they talk to netmiko's ``cisco_asa`` session. What these tests
prove: the access list built under the spare name and bound at once, check mode, idempotency, that live
state (quarantine, open grants) survives a deploy, that another global access list is never replaced,
foreign objects untouched, the rollback after a rejected command or a failed verification, write memory
only after a verified change, and that what the simulated ASA runs afterwards *means* the intent. What
they cannot prove: that a real ASA accepts every command (see test_asa_collection.py for the syntax).
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from ipaddress import IPv4Network

import pytest
from fakeasa import FakeASA

from vendorwall import render
from vendorwall.deploy import asa as pusher
from vendorwall.deploy import asa_plan as ap
from vendorwall.deploy import fanout
from vendorwall.deploy.common import Options
from vendorwall.deploy.session import Target
from vendorwall.devices import asa as driver
from vendorwall.render import meaning as M


@pytest.fixture(scope="module")
def rendered(example_result) -> str:
    r, diags = render.render_as(example_result.model, "fw-rive", "asa", vlan_parent="GigabitEthernet0/1")
    assert r is not None and not diags
    return r.text


@pytest.fixture()
def target(tmp_path) -> Target:
    return Target("fw-rive", "asa", "192.0.2.4", backup_dir=str(tmp_path / "backups"))


def _push(dev: FakeASA, target: Target, text: str, **kw):
    return pusher.push(target, text, Options(**kw), session_factory=dev.session)


def _running(dev: FakeASA) -> str:
    return "\n".join(dev.show(" ".join(c.split()[2:])) for c in ap.SHOW)


def test_first_deploy_binds_the_list_at_once_then_idempotent(rendered, target, example_result) -> None:
    dev = FakeASA()
    r = _push(dev, target, rendered)
    assert r.error is None and r.changed and not r.rolled_back, r.error
    assert dev.bindings == ["access-group vw-global-a global"] and dev.saved == 1
    assert r.commands.index("access-group vw-global-a global") > max(
        i for i, c in enumerate(r.commands) if c.startswith("access-list vw-global-a "))
    assert M.meaning_of("asa", _running(dev)) == M.intent_meaning(example_result.model.devices["fw-rive"])
    assert stat.S_IMODE(os.stat(r.backup).st_mode) == 0o600
    dev.transcript.clear()
    again = _push(dev, target, rendered)
    assert again.error is None and not again.changed and again.commands == []
    assert all(c.startswith("show running-config") for c in dev.transcript) and dev.saved == 1


def test_a_changed_list_is_swapped(rendered, target) -> None:
    dev = FakeASA()
    assert _push(dev, target, rendered).error is None
    dev.acls["vw-global-a"].insert(0, "extended permit ip any any log informational")  # drift in the list
    r = _push(dev, target, rendered)
    assert r.error is None and r.changed
    assert dev.bindings == ["access-group vw-global-b global"] and "vw-global-a" not in dev.acls
    assert r.commands[-1] == "clear configure access-list vw-global-a"


def test_check_mode_lists_commands_and_changes_nothing(rendered, target) -> None:
    dev = FakeASA()
    r = _push(dev, target, rendered, check=True)
    assert r.changed and r.commands and not r.backup
    assert not dev.blocks and not dev.acls and not dev.saved


def test_another_global_list_is_never_replaced(rendered, target) -> None:
    dev = FakeASA()
    dev.acls["hospital"] = ["extended permit ip any any"]
    dev.bindings = ["access-group hospital global"]
    r = _push(dev, target, rendered)
    assert r.error is not None and "binds another global access list (hospital)" in r.error.message
    assert dev.bindings == ["access-group hospital global"] and list(dev.acls) == ["hospital"] and not dev.blocks


def test_live_state_survives_a_deploy(rendered, target, example_result) -> None:
    dev = FakeASA()
    assert _push(dev, target, rendered).error is None
    vpn = IPv4Network("10.200.4.0/27")
    out = driver.run(target, lambda st: driver.quarantine_commands(st, [vpn]), clear=[(vpn, None)],
                     session_factory=dev.session)
    assert out.ok and out.state and out.state.quarantine == [vpn], out.error
    assert dev.cleared == ["clear conn address 10.200.4.0 netmask 255.255.255.224"]
    od = next(h.split()[1] for h in dev.blocks if h.startswith("time-range vw-od-"))
    now = dt.datetime(2026, 11, 28, 9, 0, 10, tzinfo=dt.UTC)
    out = driver.run(target, driver.grant_open_commands(od.removeprefix("vw-od-"), now, now + dt.timedelta(hours=4),
                                                        "Europe/Paris"), session_factory=dev.session)
    assert out.ok and out.state and out.state.grants == {
        od: "absolute start 10:00 28 November 2026 end 14:01 28 November 2026"}
    r = _push(dev, target, rendered)  # a deploy neither lifts the isolation nor closes the grant
    assert r.error is None and not r.changed, r.commands
    assert not any(t.src.subnet_of(vpn) for t in M.meaning_of("asa", _running(dev)))
    out = driver.run(target, lambda st: driver.quarantine_commands(st, [], [vpn]), session_factory=dev.session)
    assert out.ok and out.state and out.state.quarantine == []
    assert dev.blocks["object-group network vw-quarantine"][-1] == "network-object host 0.0.0.0"
    assert driver.run(target, lambda st: driver.quarantine_commands(st, [], [vpn]),
                      session_factory=dev.session).commands == [], "a second release sends nothing"


def test_rejected_command_rolls_back(rendered, target) -> None:
    dev = FakeASA()
    first = next(c for c in ap.plan_asa("x", "", rendered).commands if c.startswith("access-list vw-global-a")
                 and "time-range" in c)
    dev.reject.add(first)
    r = _push(dev, target, rendered)
    assert r.error is not None and r.error.kind == "command" and r.error.command == first and r.rolled_back
    assert not dev.acls and not dev.bindings and not dev.saved, "back to nothing, unsaved"
    # but the (empty) quarantine group: isolation's state is never deleted by a deploy
    assert list(dev.blocks) == ["object-group network vw-quarantine"]


def test_failed_verification_rolls_back_to_the_bound_list(rendered, target) -> None:
    dev = FakeASA()
    assert _push(dev, target, rendered).error is None
    before = _running(dev)
    # the intent changes (one more port), and something edits a vendorwall group right after the change
    changed = rendered.replace(" port-object eq 443\n", " port-object eq 443\n port-object eq 8443\n", 1)
    assert changed != rendered
    calls: list[int] = []

    def drift(d: FakeASA) -> None:
        if not calls:  # the first configure of this push
            calls.append(1)
            head = next(h for h in d.blocks if h.startswith("object-group service vw-svc-"))
            d.blocks[head].append("port-object eq 9999")

    dev.after_configure = drift
    r = _push(dev, target, changed)
    assert r.error is not None and r.error.kind == "verify" and r.rolled_back, r.error
    assert len(dev.bindings) == 1 and dev.bindings[0].startswith("access-group vw-global-")
    assert not ap.satisfied(_running(dev), before) and dev.saved == 1, "back to the backup, nothing more saved"


def test_foreign_objects_untouched(rendered, target) -> None:
    dev = FakeASA()
    dev.blocks["object-group network printers"] = ["network-object host 10.10.9.9"]
    dev.acls["outside_in"] = ["extended permit tcp any object-group printers eq 9100"]
    dev.bindings = ["access-group outside_in in interface outside"]
    assert _push(dev, target, rendered).error is None
    assert dev.blocks["object-group network printers"] == ["network-object host 10.10.9.9"]
    assert dev.acls["outside_in"] == ["extended permit tcp any object-group printers eq 9100"]
    assert "access-group outside_in in interface outside" in dev.bindings


def test_stale_objects_deleted_after_the_swap(rendered, target) -> None:
    dev = FakeASA()
    assert _push(dev, target, rendered).error is None
    dev.blocks["object-group network vw-sys-gone"] = ["network-object host 10.99.0.1"]
    dev.acls["vw-global-a"].insert(0, "extended permit ip any object-group vw-sys-gone log informational")
    r = _push(dev, target, rendered)
    assert r.error is None, r.error
    assert r.commands.index("access-group vw-global-b global") < r.commands.index("no object-group network vw-sys-gone")
    assert "object-group network vw-sys-gone" not in dev.blocks


def test_fanout_registers_the_asa_pusher() -> None:
    assert "asa" in fanout.PUSHERS


# --------------------------------------------------------------------------- driver planning (pure)


def test_quarantine_commands_exact() -> None:
    st = driver.State(quarantine=[IPv4Network("10.200.1.0/27")])
    cmds = driver.quarantine_commands(st, [IPv4Network("10.249.0.101/32"), IPv4Network("10.200.1.0/27")],
                                      [IPv4Network("10.1.1.0/24")])
    assert cmds == ["object-group network vw-quarantine", " network-object host 10.249.0.101"]
    assert driver.quarantine_commands(st, [], [IPv4Network("10.200.1.0/27")]) == [
        "object-group network vw-quarantine", " no network-object 10.200.1.0 255.255.255.224"]


def test_clear_conn_never_without_an_address() -> None:
    cmds, wide = driver.clear_conn_commands([(IPv4Network("10.200.1.0/27"), IPv4Network("10.67.0.2/32")),
                                             (IPv4Network("10.0.0.0/16"), None)])
    assert cmds == ["clear conn address 10.200.1.0 netmask 255.255.255.224 address 10.67.0.2"]
    assert wide == [IPv4Network("10.0.0.0/16")]
    with pytest.raises(ValueError):
        driver.clear_conn_commands([(None, None)])


def test_grant_window_rounds_up_and_uses_device_time() -> None:
    start = dt.datetime(2026, 7, 1, 21, 59, 30, tzinfo=dt.UTC)
    cmds = driver.grant_open_commands("ris-server-centre", start, start + dt.timedelta(hours=2), "Europe/Paris")
    assert cmds == ["time-range vw-od-ris-server-centre", " no absolute",
                    " absolute start 23:59 01 July 2026 end 02:00 02 July 2026"]
    with pytest.raises(ValueError):
        driver.grant_open_commands("x", start, start, "Europe/Paris")


RECORDED_STATE = """\
object-group network vw-quarantine
 description vendorwall isolate: quarantined sources and segments
 network-object host 0.0.0.0
 network-object 10.200.1.0 255.255.255.224
object-group network vw-sys-pacs-gw-rive
 network-object host 10.67.0.2
time-range vw-od-pacs-gw-rive
 absolute start 10:00 28 November 2026 end 14:01 28 November 2026
time-range vw-od-us-rive-1
 absolute start 00:00 01 January 2001 end 00:01 01 January 2001
"""


def test_parse_state_of_recorded_output() -> None:
    st = driver.parse_state(RECORDED_STATE)
    assert st.quarantine == [IPv4Network("10.200.1.0/27")]
    assert st.grants == {"vw-od-pacs-gw-rive": "absolute start 10:00 28 November 2026 end 14:01 28 November 2026"}
    assert st.closed == ["vw-od-us-rive-1"]
