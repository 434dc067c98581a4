"""PAN-OS deploy, isolation and grants against an XML API simulator (no PAN-OS firewall exists here).

The pusher (vendorwall/deploy/panos.py) and the driver (vendorwall/devices/panos.py) call
tests/platforms/fakepanos.py exactly as they call ``vendorwall.devices.panos_api.PanApi`` (pan-python's
XML API client). What these tests prove: the locks, the refusal of someone else's pending changes, the
calls and the single commit, check mode, idempotency, the candidate reverted on a failed call or commit,
rollback after a failed verification, foreign rules untouched, and that what the simulated firewall runs
afterwards *means* the intent; isolation and grants are one User-ID call each, no commit. What they
cannot prove: that a real PAN-OS accepts every call (see test_panos_objects.py for the objects).
"""

from __future__ import annotations

import datetime as dt
import os
import stat
import xml.etree.ElementTree as ET
from ipaddress import IPv4Network

import pytest
from fakepanos import FakePanos, _find

from vendorwall import render
from vendorwall.deploy import fanout
from vendorwall.deploy import panos as pusher
from vendorwall.deploy import panos_plan as pp
from vendorwall.deploy.common import Options
from vendorwall.deploy.session import Target
from vendorwall.devices import panos as driver
from vendorwall.render import evaluate
from vendorwall.render import meaning as M
from vendorwall.render import panos_xml as P


@pytest.fixture(scope="module")
def rendered(example_result) -> str:
    r, diags = render.render_as(example_result.model, "fw-centre", "panos", vlan_parent="ethernet1/2")
    assert r is not None and not diags
    return r.text


@pytest.fixture()
def target(tmp_path) -> Target:
    return Target("fw-centre", "panos", "192.0.2.3", backup_dir=str(tmp_path / "backups"))


def _push(dev: FakePanos, target: Target, text: str, **kw):
    return pusher.push(target, text, Options(**kw), session_factory=dev.session)


def _running(dev: FakePanos, text: str) -> str:
    return pp.running_text({x: _find(dev.running, x) for x in P.parse(text).sets})


def _meaning(dev: FakePanos, text: str) -> M.Meaning:
    return evaluate.evaluate(P.rules(P.parse(_running(dev, text))))


def test_first_deploy_one_commit_then_idempotent(rendered, target, example_result) -> None:
    dev = FakePanos()
    r = _push(dev, target, rendered)
    assert r.error is None and r.changed and not r.rolled_back, r.error
    assert dev.commits == 1 and not dev.locks, "one commit, every lock released"
    t = dev.transcript
    assert t.index("op request") < t.index("op check") < t.index("commit")
    assert _meaning(dev, rendered) == M.intent_meaning(example_result.model.devices["fw-centre"])
    assert stat.S_IMODE(os.stat(r.backup).st_mode) == 0o600
    dev.transcript.clear()
    again = _push(dev, target, rendered)
    assert again.error is None and not again.changed and again.commands == []
    assert dev.commits == 1 and all(c.startswith(("get ", "op ")) for c in dev.transcript)


def test_check_mode_lists_the_calls_and_changes_nothing(rendered, target) -> None:
    dev = FakePanos()
    r = _push(dev, target, rendered, check=True)
    assert r.changed and r.commands and not r.backup and dev.commits == 0
    assert ET.tostring(dev.candidate) == b"<config />" and not dev.locks
    assert any(c.startswith("set /config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']"
                            "/rulebase/security/rules element=<entry") for c in r.commands)


def test_someone_elses_pending_changes_are_refused(rendered, target) -> None:
    dev = FakePanos()
    ET.SubElement(dev.candidate, "devices")  # an uncommitted change of another administrator
    before = ET.tostring(dev.candidate)
    r = _push(dev, target, rendered)
    assert r.error is not None and "uncommitted changes" in r.error.message
    assert ET.tostring(dev.candidate) == before and dev.commits == 0 and not dev.locks


def test_a_lock_held_by_another_administrator_refuses_the_push(rendered, target) -> None:
    dev = FakePanos()
    dev.locks["config"] = "admin2"
    r = _push(dev, target, rendered)
    assert r.error is not None and "locked by admin2" in r.error.message and dev.commits == 0
    assert dev.locks == {"config": "admin2"}, "another holder's lock is never removed"


def test_a_rejected_call_reverts_the_candidate(rendered, target) -> None:
    dev = FakePanos()
    sched = next(c for c in pp.plan_panos("x", "<vendorwall-panos/>", rendered).calls if c.xpath.endswith("/schedule"))
    dev.reject.add(f"set {sched.xpath}")
    r = _push(dev, target, rendered)
    assert r.error is not None and r.error.kind == "command" and r.rolled_back
    assert ET.tostring(dev.candidate) == ET.tostring(dev.running) == b"<config />" and dev.commits == 0


def test_a_failed_commit_reverts_the_candidate(rendered, target, monkeypatch) -> None:
    dev = FakePanos()
    # a plan that forgets the schedules: the rules' references dangle and the commit's validation fails
    real = pp.plan_panos

    def forgetful(*a, **kw):
        p = real(*a, **kw)
        p.calls = [c for c in p.calls if not c.xpath.endswith("/schedule")]
        return p

    monkeypatch.setattr(pp, "plan_panos", forgetful)
    r = _push(dev, target, rendered)
    assert r.error is not None and "Validation Error" in r.error.message and r.rolled_back
    assert ET.tostring(dev.running) == b"<config />" and ET.tostring(dev.candidate) == b"<config />"


def test_failed_verification_rolls_back(rendered, target) -> None:
    dev = FakePanos()
    vsys = "/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']"
    for tree in (dev.running, dev.candidate):
        rules = _find(tree, f"{vsys}/rulebase/security/rules", create=True)
        assert rules is not None
        rules.append(ET.fromstring('<entry name="lan-out"><from><member>any</member></from><to><member>any</member>'
                                   '</to><source><member>any</member></source><destination><member>any</member>'
                                   '</destination><service><member>any</member></service><action>allow</action>'
                                   "</entry>"))

    def drift(d: FakePanos) -> None:  # something changes a vendorwall service right after the first commit
        if d.commits == 1:
            for tree in (d.running, d.candidate):
                port = tree.find(".//service/entry[@name='vw-svc-ssh']/protocol/tcp/port")
                assert port is not None
                port.text = "2222"

    dev.after_commit = drift
    r = _push(dev, target, rendered)
    assert r.error is not None and r.error.kind == "verify" and r.rolled_back, r.error
    assert dev.commits == 2
    names = [e.get("name") for e in dev.running.findall(".//rulebase/security/rules/entry")]
    assert names == ["lan-out"], "vendorwall's rules are gone, the hospital's stays"
    assert not dev.running.findall(".//address/entry")


def test_foreign_rules_stay_below(rendered, target) -> None:
    dev = FakePanos()
    vsys = "/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']"
    for tree in (dev.running, dev.candidate):
        rules = _find(tree, f"{vsys}/rulebase/security/rules", create=True)
        assert rules is not None
        rules.append(ET.fromstring('<entry name="lan-out"><action>allow</action></entry>'))
    assert _push(dev, target, rendered).error is None
    names = [e.get("name") for e in dev.running.findall(".//rulebase/security/rules/entry")]
    assert names[-1] == "lan-out" and all(n.startswith("vw-") for n in names[:-1])


def test_stale_rules_and_objects_deleted(rendered, target) -> None:
    dev = FakePanos()
    assert _push(dev, target, rendered).error is None
    vsys = "/config/devices/entry[@name='localhost.localdomain']/vsys/entry[@name='vsys1']"
    for tree in (dev.running, dev.candidate):
        addr = _find(tree, f"{vsys}/address", create=True)
        rules = _find(tree, f"{vsys}/rulebase/security/rules")
        assert addr is not None and rules is not None
        addr.append(ET.fromstring('<entry name="vw-10.99.0.1"><ip-netmask>10.99.0.1/32</ip-netmask></entry>'))
        rules.insert(0, ET.fromstring('<entry name="vw-old"><from><member>any</member></from><to><member>any'
                                      '</member></to><source><member>any</member></source><destination><member>'
                                      'vw-10.99.0.1</member></destination><service><member>any</member></service>'
                                      "<action>allow</action></entry>"))
    r = _push(dev, target, rendered)
    assert r.error is None and r.changed, r.error
    cmds = r.commands
    assert cmds.index(f"delete {vsys}/rulebase/security/rules/entry[@name='vw-old']") < cmds.index(
        f"delete {vsys}/address/entry[@name='vw-10.99.0.1']")
    assert dev.running.find(".//address/entry[@name='vw-10.99.0.1']") is None


def test_fanout_registers_the_panos_pusher() -> None:
    assert "panos" in fanout.PUSHERS


# --------------------------------------------------------------------------- isolation and grants


def test_quarantine_is_one_user_id_call_without_commit(rendered, target, example_result) -> None:
    dev = FakePanos()
    assert _push(dev, target, rendered).error is None
    commits = dev.commits
    vpn, seg = IPv4Network("10.200.1.0/29"), IPv4Network("10.66.0.0/29")
    dev.transcript.clear()
    out = driver.run(target, driver.quarantine_message([vpn, seg]), clear=[vpn], session_factory=dev.session)
    assert out.ok and out.state and out.state.quarantine == [seg, vpn], out.error
    assert dev.transcript.count("user-id") == 1 and dev.commits == commits
    assert dev.cleared == [f"10.200.1.{i}" for i in range(1, 7)], "entry-path hosts cleared, the segment not"
    assert dev.registered["10.200.1.0/29"] == {"vw-quarantine": None}
    out = driver.run(target, driver.release_message([vpn, seg]), session_factory=dev.session)
    assert out.ok and out.state and out.state.quarantine == [] and not dev.registered


def test_grant_registers_with_a_timeout(target) -> None:
    dev = FakePanos()
    start = dt.datetime(2026, 11, 28, 9, 0, 10, tzinfo=dt.UTC)
    addrs = [IPv4Network("10.66.0.10/32")]
    msg = driver.grant_open_message("pacs-archive-centre", addrs, start, start + dt.timedelta(hours=2, seconds=0.5))
    assert msg == ('<uid-message><version>2.0</version><type>update</type><payload><register>'
                   '<entry ip="10.66.0.10"><tag><member timeout="7201">vw-od-pacs-archive-centre</member></tag></entry>'
                   "</register></payload></uid-message>")
    out = driver.run(target, msg, session_factory=dev.session)
    assert out.ok and out.state and out.state.grants == {"vw-od-pacs-archive-centre": addrs}
    assert dev.registered["10.66.0.10"] == {"vw-od-pacs-archive-centre": 7201}
    out = driver.run(target, driver.grant_close_message("pacs-archive-centre", addrs), session_factory=dev.session)
    assert out.ok and out.state and not out.state.grants
    with pytest.raises(ValueError):
        driver.grant_open_message("x", addrs, start, start)


def test_on_demand_rules_open_only_for_registered_addresses(rendered) -> None:
    """The meaning reads the on-demand group as what grants register (its description names it)."""
    cfg = P.parse(rendered)
    groups = cfg.entries("/address-group")
    od = [n for n in groups if n.startswith("vw-od-")]
    assert od and all(groups[n].find("dynamic/filter").text == f"'{n}'" for n in od)
    assert all(P.addresses(cfg)[n] for n in od)


RECORDED_STATE = """<result><entry ip="10.200.1.0/27" from_agent="0" persistent="1"><tag>
<member>vw-quarantine</member></tag></entry><entry ip="10.66.0.10" from_agent="0" persistent="0"><tag>
<member>vw-od-pacs-archive-centre</member></tag></entry><entry ip="10.1.1.1" from_agent="0" persistent="1"><tag>
<member>hospital-tag</member></tag></entry></result>"""


def test_parse_state_of_recorded_output() -> None:
    st = driver.parse_state(ET.fromstring(RECORDED_STATE))
    assert st.quarantine == [IPv4Network("10.200.1.0/27")]
    assert st.grants == {"vw-od-pacs-archive-centre": [IPv4Network("10.66.0.10/32")]}
