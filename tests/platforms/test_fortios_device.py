"""FortiOS deploy, isolation and grants against a FortiOS CLI simulator (no FortiGate exists here).

The pusher (vendorwall/deploy/fortios.py) and the driver (vendorwall/devices/fortios.py) talk to
tests/platforms/fakefortigate.py exactly as they talk to netmiko's ``fortinet`` session (open,
show, configure with the capability file's error patterns, close). What these tests prove: the
commands, the transaction (all or nothing), check mode, idempotency, that live state (quarantine,
open grants) survives a deploy, that foreign objects are never touched, rollback after a failed
verification, and that what the simulated FortiGate runs afterwards *means* the intent.
What they cannot prove: that a real FortiGate accepts every command (see test_vendor_schema.py
for the objects, and docs/platforms.md for the paths never run against a device).
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from ipaddress import IPv4Network

import pytest
from fakefortigate import FakeFortiGate

from vendorwall import render
from vendorwall.deploy import fanout
from vendorwall.deploy import fortios as pusher
from vendorwall.deploy.common import Options
from vendorwall.deploy.session import Target
from vendorwall.devices import fortios as driver
from vendorwall.render import meaning as M


@pytest.fixture(scope="module")
def rendered(example_result) -> str:
    r, diags = render.render_as(example_result.model, "fw-nord", "fortios")
    assert r is not None and not diags
    return r.text


@pytest.fixture()
def target(tmp_path) -> Target:
    return Target("fw-nord", "fortios", "192.0.2.1", backup_dir=str(tmp_path / "backups"))


def _running(dev: FakeFortiGate) -> str:
    return "\n".join(dev.show(t) for t in ("system interface", "system zone", "firewall address", "firewall addrgrp",
                                           "firewall service custom", "firewall schedule onetime",
                                           "firewall schedule recurring", "firewall policy"))


def _push(dev: FakeFortiGate, target: Target, text: str, **kw) -> object:
    return pusher.push(target, text, Options(**kw), session_factory=dev.session)


def test_first_deploy_one_transaction_then_idempotent(rendered, target, example_result) -> None:
    dev = FakeFortiGate()
    r = _push(dev, target, rendered)
    assert r.error is None and r.changed and not r.rolled_back
    sent = [c for c, _ in dev.transcript if not c.startswith("show ")]
    assert sent[0] == pusher.START and sent[-1] == pusher.COMMIT and sent.count(pusher.START) == 1
    # what the FortiGate now runs means the intent
    want = M.intent_meaning(example_result.model.devices["fw-nord"])
    assert M.meaning_of("fortios", _running(dev)) == want
    # backup 0600, in a 0700 directory
    assert stat.S_IMODE(os.stat(r.backup).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(r.backup)).st_mode) == 0o700
    dev.transcript.clear()
    again = _push(dev, target, rendered)
    assert again.error is None and not again.changed and again.commands == []
    assert all(c.startswith("show ") for c, _ in dev.transcript), "a no-change rerun only reads"


def test_check_mode_lists_commands_and_changes_nothing(rendered, target) -> None:
    dev = FakeFortiGate()
    r = _push(dev, target, rendered, check=True)
    assert r.changed and r.commands and r.diff and not r.backup
    assert dev.config == {}
    assert any(c.startswith("config firewall policy") for c in r.commands)


def test_live_state_survives_a_deploy(rendered, target) -> None:
    dev = FakeFortiGate()
    assert _push(dev, target, rendered).error is None
    vpn = IPv4Network("10.200.1.0/27")
    out = driver.run(target, driver.quarantine_commands([driver.QElement(vpn, "vw-isolate acme entry acme-vpn")]),
                     clear=driver.clear_sessions_commands([(vpn, None)]), session_factory=dev.session)
    assert out.ok and out.state and vpn in out.state.quarantine
    now = dt.datetime(2026, 11, 28, 9, 0, 10, tzinfo=dt.UTC)
    out = driver.run(target, driver.grant_open_commands("pacs-dr-nord", now, now + dt.timedelta(hours=4),
                                                        "Europe/Paris"), session_factory=dev.session)
    assert out.ok and out.state and out.state.grants == {"vw-od-pacs-dr-nord": ("10:00 2026/11/28",
                                                                                 "14:01 2026/11/28")}
    r = _push(dev, target, rendered)  # a deploy neither lifts the isolation nor closes the grant
    assert r.error is None and not r.changed, r.commands
    st = driver.run(target, [], session_factory=dev.session).state
    assert st and vpn in st.quarantine and "vw-od-pacs-dr-nord" in st.grants
    # the quarantine shadows the vendor's tuples in what the FortiGate means now
    tuples = M.meaning_of("fortios", _running(dev))
    assert not any(t.src == vpn for t in tuples)
    # release
    out = driver.run(target, driver.quarantine_commands([], [vpn]), session_factory=dev.session)
    assert out.ok and out.state and not out.state.quarantine
    assert dev.config["firewall addrgrp"]["vw-quarantine"]["member"] == ["none"]


def test_rejected_command_aborts_the_transaction(rendered, target) -> None:
    dev = FakeFortiGate()
    dev.reject.add("set vlanid 3005")
    r = _push(dev, target, rendered)
    assert r.error is not None and r.error.kind == "command" and "set vlanid 3005" in r.error.command
    assert r.rolled_back and dev.config == {}, "workspace mode: nothing of the transaction applied"
    assert "Command fail" in r.error.message
    assert (pusher.ABORT, "") in dev.transcript


def test_failed_verification_rolls_back(rendered, target) -> None:
    dev = FakeFortiGate()
    foreign = {"firewall policy": {"1": {"name": ["lan-out"], "srcintf": ["port1"], "dstintf": ["wan1"],
                                         "action": ["accept"]}},
               "firewall address": {"printer": {"subnet": ["10.10.9.9", "255.255.255.255"]}}}
    dev.config = {k: dict(v) for k, v in foreign.items()}
    before = _running(dev)
    calls = []

    def drift(d: FakeFortiGate) -> None:  # something else changes a vendorwall object right after the commit
        if not calls:
            calls.append(1)
            d.config["firewall service custom"]["vw-svc-ssh"]["tcp-portrange"] = ["2222"]

    dev.after_commit = drift
    r = _push(dev, target, rendered)
    assert r.error is not None and r.error.kind == "verify" and r.rolled_back
    # the backup's state of vendorwall's objects is back; only the (empty) quarantine group stays, as
    # isolation's state is never deleted by a deploy
    assert dev.config["firewall addrgrp"].pop("vw-quarantine")["member"] == ["none"]
    assert _running(dev).replace("config firewall addrgrp\nend", "") == before.replace(
        "config firewall addrgrp\nend", "")


def test_foreign_objects_untouched_and_vendorwall_policies_on_top(rendered, target) -> None:
    dev = FakeFortiGate()
    dev.config = {"firewall policy": {"7": {"name": ["lan-out"], "srcintf": ["port1"], "dstintf": ["wan1"],
                                            "action": ["accept"]}},
                  "firewall address": {"printer": {"subnet": ["10.10.9.9", "255.255.255.255"]}}}
    assert _push(dev, target, rendered).error is None
    pol = list(dev.config["firewall policy"])
    assert pol[-1] == "7" and dev.config["firewall policy"]["7"]["name"] == ["lan-out"]
    assert dev.config["firewall address"]["printer"] == {"subnet": ["10.10.9.9", "255.255.255.255"]}


def test_objects_the_intent_drops_are_deleted(rendered, target) -> None:
    dev = FakeFortiGate()
    assert _push(dev, target, rendered).error is None
    dev.config["firewall address"]["vw-10.99.0.1"] = {"subnet": ["10.99.0.1", "255.255.255.255"]}
    dev.config["firewall policy"]["900999"] = {"name": ["vw-old"], "action": ["accept"], "srcaddr": ["all"],
                                               "dstaddr": ["vw-10.99.0.1"], "service": ["ALL"]}
    r = _push(dev, target, rendered)
    assert r.error is None and r.changed
    assert '    delete 900999' in r.commands and '    delete "vw-10.99.0.1"' in r.commands
    assert r.commands.index("    delete 900999") < r.commands.index('    delete "vw-10.99.0.1"')
    assert "900999" not in dev.config["firewall policy"]


def test_fanout_registers_the_fortios_pusher() -> None:
    assert "fortios" in fanout.PUSHERS


# --------------------------------------------------------------------------- driver planning (pure)


def test_quarantine_commands_exact() -> None:
    cmds = driver.quarantine_commands([driver.QElement(IPv4Network("10.249.0.101/32"),
                                                       "vw-isolate acme-imaging entry acme-bastion")])
    assert cmds == ['config firewall address', '    edit "vw-q-10.249.0.101"',
                    '        set subnet 10.249.0.101 255.255.255.255',
                    '        set comment "vw-isolate acme-imaging entry acme-bastion"', '    next', 'end',
                    'config firewall addrgrp', '    edit "vw-quarantine"', '        append member "vw-q-10.249.0.101"',
                    '    next', 'end']


def test_session_clear_never_without_filter() -> None:
    cmds = driver.clear_sessions_commands([(IPv4Network("10.200.1.0/27"), None),
                                           (None, IPv4Network("10.64.0.2/32"))])
    assert cmds == ["diagnose sys session filter clear", "diagnose sys session filter src 10.200.1.0 10.200.1.31",
                    "diagnose sys session clear", "diagnose sys session filter clear",
                    "diagnose sys session filter dst 10.64.0.2 10.64.0.2", "diagnose sys session clear",
                    "diagnose sys session filter clear"]
    for i, c in enumerate(cmds):
        if c == "diagnose sys session clear":
            assert cmds[i - 1].startswith(("diagnose sys session filter src", "diagnose sys session filter dst"))
    with pytest.raises(ValueError):
        driver.clear_sessions_commands([(None, None)])


def test_rejected_filter_stops_before_clear(target) -> None:
    dev = FakeFortiGate()
    dev.reject.add("diagnose sys session filter src 10.200.1.0 10.200.1.31")
    out = driver.run(target, [], clear=driver.clear_sessions_commands([(IPv4Network("10.200.1.0/27"), None)]),
                     session_factory=dev.session)
    assert not out.ok and out.error_kind == "command"
    assert not any(t[-1] == "clear" and t[-2] == "session" for t in dev.sessions_cleared)


def test_grant_window_rounds_up_and_uses_device_time() -> None:
    start = dt.datetime(2026, 7, 1, 21, 59, 30, tzinfo=dt.UTC)
    cmds = driver.grant_open_commands("ris-server-centre", start, start + dt.timedelta(hours=2), "Europe/Paris")
    assert cmds[2:4] == ['        set start "23:59 2026/07/01"', '        set end "02:00 2026/07/02"']
    with pytest.raises(ValueError):
        driver.grant_open_commands("x", start, start, "Europe/Paris")


RECORDED_STATE = """\
config firewall addrgrp
    edit "vw-quarantine"
        set uuid 5e2c1a52-8b1c-51ef-4d3e-2f6a0c1b9e11
        set member "none" "vw-q-10.200.1.0_27"
        set comment "vendorwall isolate: quarantined sources and segments"
    next
end
config firewall address
    edit "vw-q-10.200.1.0_27"
        set uuid 6a1d2b63-8b1c-51ef-a1f5-0c3b1e2f4d22
        set subnet 10.200.1.0 255.255.255.224
        set comment "vw-isolate acme-imaging entry acme-vpn"
    next
end
config firewall schedule onetime
    edit "vw-od-pacs-dr-nord"
        set start "10:00 2026/11/28"
        set end "14:01 2026/11/28"
    next
    edit "vw-od-ct-nord-1"
        set start "00:00 2001/01/01"
        set end "00:01 2001/01/01"
    next
end
"""


def test_parse_state_of_show_output() -> None:
    st = driver.parse_state(RECORDED_STATE)
    assert st.quarantine == {IPv4Network("10.200.1.0/27"): "vw-isolate acme-imaging entry acme-vpn"}
    assert st.grants == {"vw-od-pacs-dr-nord": ("10:00 2026/11/28", "14:01 2026/11/28")}
    assert st.closed == ["vw-od-ct-nord-1"]
