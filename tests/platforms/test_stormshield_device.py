"""Stormshield SNS deploy, isolation and grants against a serverd simulator (no SNS exists here).

The pusher (vendorwall/deploy/stormshield.py) and the driver (vendorwall/devices/stormshield.py) talk to
tests/platforms/fakesns.py exactly as they talk to a firewall's serverd client (open, one command, one
answer read by vendorwall's own answer reader, close). What these tests prove: the phases and their
activations, check mode, idempotency, that live state (quarantine, open grants) survives a deploy, that
foreign objects and rules are never touched, the cancel on a rejected command, rollback after a failed
verification, and that what the simulated firewall runs afterwards *means* the intent. What they cannot
prove: that a real SNS accepts every command and answers in this exact format (docs/platforms.md).
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from ipaddress import IPv4Network

import pytest
from fakesns import FakeSNS

from vendorwall import render
from vendorwall.deploy import fanout
from vendorwall.deploy import stormshield as pusher
from vendorwall.deploy import stormshield_plan as plan
from vendorwall.deploy.common import Options
from vendorwall.deploy.session import Target
from vendorwall.devices import serverd
from vendorwall.devices import stormshield as driver
from vendorwall.render import evaluate
from vendorwall.render import meaning as M
from vendorwall.render import stormshield_cli as S

READ_ONLY = ("MODIFY ON", "CONFIG OBJECT LIST", "CONFIG FILTER EXPLICIT", "CONFIG NETWORK INTERFACE SHOW",
             "CONFIG COMMUNICATION SYSLOG PROFILE SHOW",
             "CONFIG OBJECT GROUP SHOW", "CONFIG OBJECT SERVICEGROUP SHOW")


@pytest.fixture(scope="module")
def rendered(example_result) -> str:
    r, diags = render.render_as(example_result.model, "fw-sud", "stormshield", vlan_parent="in")
    assert r is not None and not diags
    return r.text


@pytest.fixture()
def target(tmp_path) -> Target:
    return Target("fw-sud", "stormshield", "192.0.2.2", backup_dir=str(tmp_path / "backups"))


def _push(dev: FakeSNS, target: Target, text: str, **kw) -> object:
    return pusher.push(target, text, Options(**kw), session_factory=dev.session)


def _meaning(dev: FakeSNS) -> M.Meaning:
    return evaluate.evaluate(S.rules(dev.live))


def _sent(dev: FakeSNS) -> list[str]:
    return [c for c, _ in dev.transcript]


def test_first_deploy_in_phases_then_idempotent(rendered, target, example_result) -> None:
    dev = FakeSNS()
    r = _push(dev, target, rendered)
    assert r.error is None and r.changed and not r.rolled_back, r.error
    assert dev.activations == ["network", "object", "filter"]
    sent = _sent(dev)
    # every rule is inserted after the objects it names are active, and checked before the slot activates
    assert sent.index("CONFIG OBJECT ACTIVATE") < next(i for i, c in enumerate(sent) if "FILTER RULE INSERT" in c)
    assert sent.index("CONFIG FILTER CHECK index=9 type=filter") == sent.index("CONFIG FILTER ACTIVATE") - 1
    # what the simulated firewall now runs means the intent
    assert _meaning(dev) == M.intent_meaning(example_result.model.devices["fw-sud"])
    assert all(a.get("ifname", "").startswith("vlan") for a in dev.live.interfaces.values())
    # backup 0600, in a 0700 directory
    assert stat.S_IMODE(os.stat(r.backup).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(r.backup)).st_mode) == 0o700
    dev.transcript.clear()
    again = _push(dev, target, rendered)
    assert again.error is None and not again.changed and again.commands == []
    assert all(c.startswith(READ_ONLY) for c in _sent(dev)), "a no-change rerun only reads"


def test_check_mode_lists_commands_and_changes_nothing(rendered, target) -> None:
    dev = FakeSNS()
    r = _push(dev, target, rendered, check=True)
    assert r.changed and r.commands and r.diff and not r.backup
    assert dev.live == S.SnsConfig() and not dev.activations
    assert any(c.startswith("CONFIG FILTER RULE INSERT index=9") for c in r.commands)


def test_live_state_survives_a_deploy(rendered, target, example_result) -> None:
    dev = FakeSNS()
    assert _push(dev, target, rendered).error is None
    vpn = IPv4Network("10.200.1.0/29")
    out = driver.run(target, lambda st: driver.quarantine_commands(st, [driver.QElement(vpn, "vw-isolate acme entry")]),
                     flush=[vpn], session_factory=dev.session)
    assert out.ok and out.state and vpn in out.state.quarantine, out.error
    assert dev.flushed == [f"10.200.1.{i}" for i in range(1, 7)]
    od = next(n for n in dev.live.objects if n.startswith("vw-od-"))
    system = od.removeprefix("vw-od-")
    now = dt.datetime(2026, 11, 28, 9, 0, 10, tzinfo=dt.UTC)
    out = driver.run(target, driver.grant_open_commands(system, now, now + dt.timedelta(hours=4), "Europe/Paris"),
                     session_factory=dev.session)
    assert out.ok and out.state and out.state.grants == {od: "2026:11:28:10:00-2026:11:28:14:01"}
    r = _push(dev, target, rendered)  # a deploy neither lifts the isolation nor closes the grant
    assert r.error is None and not r.changed, r.commands
    st = driver.run(target, [], session_factory=dev.session).state
    assert st and vpn in st.quarantine and od in st.grants
    # the quarantine shadows the vendor's tuples in what the firewall means now
    assert not any(t.src.subnet_of(vpn) for t in _meaning(dev))
    # release, idempotent: a second release sends nothing but the reads
    out = driver.run(target, lambda st: driver.quarantine_commands(st, [], [vpn]), session_factory=dev.session)
    assert out.ok and out.state and not out.state.quarantine
    assert dev.live.members["vw-quarantine"] == ["vw-q-none"] and "vw-q-10.200.1.0_29" not in dev.live.objects
    out = driver.run(target, lambda st: driver.quarantine_commands(st, [], [vpn]), session_factory=dev.session)
    assert out.ok and out.commands == []
    # released: the firewall means the intent again, but for the open grant (its tuples are open now)
    intent = example_result.model.devices["fw-sud"]
    hosts = {IPv4Network(f"{a}/32") for seg in intent.segments for a in seg.hosts.get(system, ())}
    assert hosts
    assert _meaning(dev) == {t for t in M.intent_meaning(intent) if not (t.condition == "on_demand" and t.dst in hosts)}


def test_quarantine_twice_adds_nothing_twice(rendered, target) -> None:
    dev = FakeSNS()
    assert _push(dev, target, rendered).error is None
    e = driver.QElement(IPv4Network("10.249.0.101/32"), "vw-isolate acme-imaging entry acme-bastion")
    for _ in range(2):
        out = driver.run(target, lambda st: driver.quarantine_commands(st, [e]), session_factory=dev.session)
        assert out.ok, out.error
    assert dev.live.members["vw-quarantine"] == ["vw-q-none", "vw-q-10.249.0.101"]


def test_rejected_command_cancels_pending_changes(rendered, target) -> None:
    dev = FakeSNS()
    first_object = next(x for x in rendered.splitlines() if x.startswith("CONFIG OBJECT GROUP NEW"))
    dev.reject.add(first_object)
    r = _push(dev, target, rendered)
    assert r.error is not None and r.error.kind == "command" and r.error.command == first_object
    assert "200 code=" in r.error.message
    assert pusher.CANCEL in _sent(dev)
    # interfaces were activated in the first phase; no object, no rule is
    assert dev.activations == ["network"] and not dev.live.objects and not dev.live.rules
    assert not r.rolled_back, "an earlier phase was activated: not everything is back"


def test_rejected_rule_leaves_the_slot_unchanged(rendered, target) -> None:
    dev = FakeSNS()
    dev.live.rules = [{"type": "filter", "state": "on", "action": "pass", "srctarget": "any", "dsttarget": "any",
                       "rulename": "hospital-any"}]
    third = next(c for c in plan.plan_stormshield("fw-sud", "", rendered).commands
                 if "FILTER RULE INSERT" in c and "position=3 " in c)
    dev.reject.add(third)
    r = _push(dev, target, rendered)
    assert r.error is not None and r.error.command == third
    assert dev.activations == ["network", "object"], "the filter slot is never activated"
    assert [x["rulename"] for x in dev.live.rules] == ["hospital-any"]


def test_failed_verification_rolls_back(rendered, target) -> None:
    dev = FakeSNS()
    dev.live.objects["printer"] = ("host", {"ip": "10.10.9.9", "comment": "hospital"})
    dev.live.rules = [{"type": "filter", "state": "on", "action": "pass", "srctarget": "any", "dsttarget": "printer",
                       "rulename": "hospital-print"}]
    before = plan.canonical(dev.live, S.SnsConfig())
    calls: list[int] = []

    def drift(d: FakeSNS) -> None:  # something else changes a vendorwall object right after the filter activation
        if d.activations == ["network", "object", "filter"] and not calls:
            calls.append(1)
            d.live.objects["vw-svc-ssh"] = ("service", {"port": "2222", "proto": "tcp", "comment": "x"})

    dev.after_activate = drift
    r = _push(dev, target, rendered)
    assert r.error is not None and r.error.kind == "verify" and r.rolled_back, r.error
    # vendorwall's rules are gone, the hospital's stay; only the (empty) quarantine group remains, as
    # isolation's state is never deleted by a deploy
    assert [x["rulename"] for x in dev.live.rules] == ["hospital-print"]
    assert dev.live.objects["printer"] == ("host", {"ip": "10.10.9.9", "comment": "hospital"})
    assert dev.live.members.pop("vw-quarantine") == ["vw-q-none"]
    dev.live.objects.pop("vw-quarantine")
    assert plan.canonical(dev.live, S.SnsConfig()) == before


def test_foreign_rules_stay_below_and_untouched(rendered, target) -> None:
    dev = FakeSNS()
    dev.live.rules = [{"type": "filter", "state": "on", "action": "pass", "srctarget": "any", "dsttarget": "any",
                       "rulename": "hospital-any"}]
    assert _push(dev, target, rendered).error is None
    names = [x["rulename"] for x in dev.live.rules]
    assert names[-1] == "hospital-any" and all(n.startswith("vw-") for n in names[:-1])


def test_stale_objects_deleted_after_the_rules(rendered, target) -> None:
    dev = FakeSNS()
    assert _push(dev, target, rendered).error is None
    dev.live.objects["vw-10.99.0.1"] = ("host", {"ip": "10.99.0.1", "resolve": "static", "comment": "old"})
    dev.live.rules.insert(0, {"type": "filter", "state": "on", "action": "pass", "srctarget": "any",
                              "dsttarget": "vw-10.99.0.1", "rulename": "vw-old"})
    dev.transcript.clear()
    r = _push(dev, target, rendered)
    assert r.error is None and r.changed, r.error
    sent = _sent(dev)
    assert sent.index("CONFIG FILTER RULE REMOVE index=9 type=filter position=1") < sent.index(
        "CONFIG FILTER ACTIVATE") < sent.index("CONFIG OBJECT HOST DELETE name=vw-10.99.0.1")
    assert "vw-10.99.0.1" not in dev.live.objects


def test_fanout_registers_the_stormshield_pusher() -> None:
    assert "stormshield" in fanout.PUSHERS


# --------------------------------------------------------------------------- driver planning (pure)


def test_quarantine_commands_exact() -> None:
    cmds = driver.quarantine_commands(driver.State(members=["vw-q-none"]), [
        driver.QElement(IPv4Network("10.249.0.101/32"), "vw-isolate acme-imaging entry acme-bastion"),
        driver.QElement(IPv4Network("10.64.0.0/29"), "vw-isolate acme-imaging segment nord/acme-imaging")])
    assert cmds == [
        'CONFIG OBJECT NETWORK NEW update=1 name=vw-q-10.64.0.0_29 ip=10.64.0.0 mask=255.255.255.248 '
        'comment="vw-isolate acme-imaging segment nord/acme-imaging"',
        "CONFIG OBJECT GROUP ADDTO group=vw-quarantine node=vw-q-10.64.0.0_29",
        'CONFIG OBJECT HOST NEW update=1 name=vw-q-10.249.0.101 ip=10.249.0.101 resolve=static '
        'comment="vw-isolate acme-imaging entry acme-bastion"',
        "CONFIG OBJECT GROUP ADDTO group=vw-quarantine node=vw-q-10.249.0.101",
        "CONFIG OBJECT ACTIVATE"]
    assert driver.quarantine_commands(driver.State(), [], []) == []


def test_flush_host_by_host_up_to_the_limit() -> None:
    cmds, wide = driver.flush_commands([IPv4Network("10.200.1.0/30"), IPv4Network("10.249.0.7/32"),
                                        IPv4Network("10.0.0.0/16")], 24)
    assert cmds == ["MONITOR FLUSH STATE 10.200.1.1", "MONITOR FLUSH STATE 10.200.1.2",
                    "MONITOR FLUSH STATE 10.249.0.7"]
    assert wide == [IPv4Network("10.0.0.0/16")]


def test_grant_window_rounds_up_and_uses_device_time() -> None:
    start = dt.datetime(2026, 7, 1, 21, 59, 30, tzinfo=dt.UTC)
    cmds = driver.grant_open_commands("ris-server-centre", start, start + dt.timedelta(hours=2), "Europe/Paris")
    assert "date=2026:07:01:23:59-2026:07:02:02:00" in cmds[0] and cmds[-1] == "CONFIG OBJECT ACTIVATE"
    assert "date=2001:01:01:00:00-2001:01:01:00:01" in driver.grant_close_commands("ris-server-centre")[0]
    with pytest.raises(ValueError):
        driver.grant_open_commands("x", start, start, "Europe/Paris")


RECORDED_STATE = (
    "[vw-quarantine]\n"
    "name=vw-q-none type=host\n"
    "name=vw-q-10.200.1.0_27 type=network\n"
    "[Object]\n"
    'type=host global=0 modify=1 comment="vendorwall isolate: placeholder" name=vw-q-none ip=0.0.0.0 ipv6= '
    "resolve=static used=1\n"
    'type=network global=0 modify=1 comment="vw-isolate acme-imaging entry acme-vpn" name=vw-q-10.200.1.0_27 '
    "ip=10.200.1.0 mask=255.255.255.224 prefixlen=27 ipv6= prefixlenv6= used=1\n"
    'type=time global=0 modify=1 comment="open" name=vw-od-pacs-dr-nord time= weekday= yearday= '
    "date=2026:11:28:10:00-2026:11:28:14:01 used=1\n"
    'type=time global=0 modify=1 comment="closed" name=vw-od-ct-nord-1 time= weekday= yearday= '
    "date=2001:01:01:00:00-2001:01:01:00:01 used=1\n")


def test_parse_state_of_recorded_answers() -> None:
    st = driver.parse_state(RECORDED_STATE)
    assert st.quarantine == {IPv4Network("10.200.1.0/27"): "vw-isolate acme-imaging entry acme-vpn"}
    assert st.grants == {"vw-od-pacs-dr-nord": "2026:11:28:10:00-2026:11:28:14:01"}
    assert st.closed == ["vw-od-ct-nord-1"]


# --------------------------------------------------------------------------- the serverd answer reader


def test_answer_reader_on_recorded_output() -> None:
    out = ['Welcome to the serverd client', '101 code=00a01000 msg="Begin" format="section_line"', "[Result]",
           "name=ntp1.example.net keynum=none type=host", '100 code=00a00100 msg="Ok"', '100 code=00a00100 msg="Ok"']
    ans, used = serverd.read_answer(out)
    assert ans is not None and ans.ok and used == 5 and ans.fmt == "section_line"
    assert ans.text == "[Result]\nname=ntp1.example.net keynum=none type=host\n"
    err, _ = serverd.read_answer(['200 code=00a00200 msg="Object already exists"'])
    assert err is not None and not err.ok and err.msg == "Object already exists"
    assert serverd.read_answer(['101 code=00a01000 msg="Begin" format="section_line"', "[Object]"]) == (None, 0)


def test_session_refuses_a_command_with_a_line_break(target) -> None:
    s = serverd.ServerdSession(target)
    with pytest.raises(serverd.CommandError, match="not one serverd command line"):
        s.run("CONFIG OBJECT HOST NEW name=x ip=10.0.0.1\nCONFIG FILTER ACTIVATE")
