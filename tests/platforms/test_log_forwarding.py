"""Log forwarding of vendorwall's traffic on the appliances (docs/platforms.md, "Connection logs per platform").

The log-forwarding variant of the multi-vendor example (``inventories/example-syslog``: a syslog server over
TLS in the policy, the FortiGate opting in with ``vw_syslog_slot: syslogd2``, the SNS with
``vw_syslog_slot: 3``, the ASA with ``vw_syslog_interface: inside``) is rendered and pushed to the platform simulators:

- each simulator accepts the pushed configuration, a second push changes nothing, and a FortiGate's other
  syslog slots, an SNS's other syslog profiles (and the families vendorwall does not set in its own) and an
  ASA's other logging hosts are exactly as they were; a failed verification restores the SNS profile;
- without the opt-in nothing device-wide is rendered (and the file's header says so); PAN-OS renders its own
  ``vw-syslog`` / ``vw-logs`` profiles without one, referenced by every vendorwall rule;
- a bad opt-in variable is an error naming file, variable, expected and found.
"""

from __future__ import annotations

import dataclasses
import shutil
import xml.etree.ElementTree as ET

import pytest
from fakeasa import FakeASA
from fakefortigate import FakeFortiGate
from fakepanos import FakePanos
from fakesns import FakeSNS
from vendorwall_testlib import NOW, REPO

from vendorwall import inventory, pipeline, render
from vendorwall.deploy import asa as asa_pusher
from vendorwall.deploy import asa_plan as ap
from vendorwall.deploy import fortios as forti_pusher
from vendorwall.deploy import panos as pan_pusher
from vendorwall.deploy import stormshield as sns_pusher
from vendorwall.deploy.common import Options
from vendorwall.deploy.session import Target
from vendorwall.render import fortios_cli, panos_xml

SYSLOG = REPO / "inventories" / "example-syslog"
MULTIVENDOR = REPO / "inventories" / "example-multivendor"


@pytest.fixture(scope="module")
def syslog_result():
    return pipeline.run(str(SYSLOG), NOW, shown_root="inventories/example-syslog")  # raises on any error


def _text(res, device: str) -> str:
    r, diags = render.render_device(res.model, res.model.devices[device])
    assert r is not None and not diags, [d.render() for d in diags]
    return r.text


def _target(tmp_path, device: str, platform: str) -> Target:
    return Target(device, platform, "192.0.2.1", backup_dir=str(tmp_path / "backups"))


# --------------------------------------------------------------------------- FortiOS


OTHER_SLOTS = {  # what the hospital already runs: its own syslog server in syslogd, a SIEM in syslogd3
    "log syslogd setting": {"": {"status": ["enable"], "server": ["siem.hospital.example"], "mode": ["udp"]}},
    "log syslogd3 setting": {"": {"status": ["enable"], "server": ["10.9.9.9"], "port": ["5514"]}},
    "log syslogd3 filter": {"": {"severity": ["warning"], "forward-traffic": ["disable"]}},
}


def test_fortios_slot_pushed_and_other_slots_untouched(syslog_result, tmp_path) -> None:
    import copy

    text = _text(syslog_result, "fw-nord")
    dev = FakeFortiGate(config=copy.deepcopy(OTHER_SLOTS))
    r = forti_pusher.push(_target(tmp_path, "fw-nord", "fortios"), text, Options(), session_factory=dev.session)
    assert r.error is None and r.changed, r.error
    setting = dev.config["log syslogd2 setting"][""]
    assert setting["server"] == ["10.250.0.50"] and setting["port"] == ["6514"]
    assert setting["mode"] == ["reliable"] and setting["enc-algorithm"] == ["high"] and setting["status"] == ["enable"]
    assert dev.config["log syslogd2 filter"][""]["forward-traffic"] == ["enable"]
    for table, entries in OTHER_SLOTS.items():
        assert dev.config[table] == entries, f"{table} changed"
    assert not any(c.startswith(("config log syslogd setting", "config log syslogd3", "config log syslogd4"))
                   for c in r.commands)
    again = forti_pusher.push(_target(tmp_path, "fw-nord", "fortios"), text, Options(), session_factory=dev.session)
    assert again.error is None and not again.changed and again.commands == []


def test_fortios_slot_drift_is_corrected_in_place(syslog_result, tmp_path) -> None:
    text = _text(syslog_result, "fw-nord")
    dev = FakeFortiGate()
    assert forti_pusher.push(_target(tmp_path, "fw-nord", "fortios"), text, Options(),
                             session_factory=dev.session).error is None
    dev.config["log syslogd2 setting"][""]["enc-algorithm"] = ["disable"]  # someone turned TLS off
    r = forti_pusher.push(_target(tmp_path, "fw-nord", "fortios"), text, Options(), session_factory=dev.session)
    assert r.error is None and r.changed
    assert r.commands == ["config log syslogd2 setting", "    set enc-algorithm high", "end"], r.commands
    assert dev.config["log syslogd2 setting"][""]["enc-algorithm"] == ["high"]


# --------------------------------------------------------------------------- PAN-OS


def test_panos_profiles_pushed_and_referenced_by_every_rule(syslog_result, tmp_path) -> None:
    text = _text(syslog_result, "fw-centre")
    cfg = panos_xml.parse(text)
    rules = next(els for x, els in cfg.sets.items() if x.endswith("/rulebase/security/rules"))
    assert rules and all(r.findtext("log-setting") == "vw-logs" for r in rules)
    dev = FakePanos()
    r = pan_pusher.push(_target(tmp_path, "fw-centre", "panos"), text, Options(), session_factory=dev.session)
    assert r.error is None and r.changed and dev.commits == 1, r.error
    vs = dev.running.find("devices/entry/vsys/entry")
    assert vs is not None
    server = vs.find("log-settings/syslog/entry[@name='vw-syslog']/server/entry")
    assert server is not None and server.findtext("transport") == "SSL" and server.findtext("port") == "6514"
    again = pan_pusher.push(_target(tmp_path, "fw-centre", "panos"), text, Options(), session_factory=dev.session)
    assert again.error is None and not again.changed


def test_panos_commit_refuses_a_rule_naming_a_missing_profile(syslog_result, tmp_path) -> None:
    """The simulator checks the reference (the test above could not fail otherwise)."""
    text = _text(syslog_result, "fw-centre").replace("<log-setting>vw-logs</log-setting>",
                                                     "<log-setting>vw-nothing</log-setting>", 1)
    dev = FakePanos()
    r = pan_pusher.push(_target(tmp_path, "fw-centre", "panos"), text, Options(), session_factory=dev.session)
    assert r.error is not None and "vw-nothing" in str(r.error.message)


def test_panos_profiles_deleted_when_the_inventory_drops_the_server(syslog_result, tmp_path) -> None:
    """vw-syslog / vw-logs are vendorwall's: gone with the syslog server (the rules edited first, then the
    profiles deleted, one commit); a profile of the firewall's own stays."""
    dev = FakePanos()
    t = _target(tmp_path, "fw-centre", "panos")
    assert pan_pusher.push(t, _text(syslog_result, "fw-centre"), Options(), session_factory=dev.session).error is None
    for root in (dev.candidate, dev.running):  # the firewall's own profile, committed
        theirs = root.find("devices/entry/vsys/entry/log-settings/profiles")
        assert theirs is not None
        theirs.append(ET.fromstring('<entry name="default"><match-list/></entry>'))
    inv = syslog_result.inventory
    policy = dataclasses.replace(inv.policy, connection_logs=dataclasses.replace(inv.policy.connection_logs,
                                                                                 syslog=None))
    model = dataclasses.replace(syslog_result.model, inventory=dataclasses.replace(inv, policy=policy))
    r, _ = render.render_device(model, model.devices["fw-centre"])
    assert r is not None and "<log-setting>" not in r.text
    res = pan_pusher.push(t, r.text, Options(), session_factory=dev.session)
    assert res.error is None and res.changed, res.error
    vs = dev.running.find("devices/entry/vsys/entry")
    assert vs is not None
    assert [e.get("name") for e in vs.findall("log-settings/profiles/entry")] == ["default"]
    assert vs.findall("log-settings/syslog/entry") == []
    assert not any(r.findtext("log-setting") for r in vs.findall("rulebase/security/rules/entry"))


# --------------------------------------------------------------------------- ASA


def test_asa_logging_pushed_other_hosts_untouched(syslog_result, tmp_path) -> None:
    text = _text(syslog_result, "fw-rive")
    theirs = ["logging enable", "logging trap informational", "logging host inside 10.9.9.9"]
    dev = FakeASA(logging=list(theirs))
    r = asa_pusher.push(_target(tmp_path, "fw-rive", "asa"), text, Options(), session_factory=dev.session)
    assert r.error is None and r.changed, r.error
    assert dev.logging[:3] == theirs
    assert "logging host inside 10.250.0.50 6/6514 secure" in dev.logging  # as an ASA shows tcp/6514
    assert {"logging list vw-conn message 106100", "logging list vw-conn message 302013-302014"} <= set(dev.logging)
    again = asa_pusher.push(_target(tmp_path, "fw-rive", "asa"), text, Options(), session_factory=dev.session)
    assert again.error is None and not again.changed and again.commands == [], again.commands


def test_asa_changed_port_replaces_only_vendorwalls_host() -> None:
    running = "logging host inside 10.9.9.9\nlogging host inside 10.250.0.50 6/514\n"
    intended = "logging host inside 10.250.0.50 tcp/6514 secure\n"
    cmds = ap.plan_asa("fw", running, intended).commands
    assert cmds == ["no logging host inside 10.250.0.50 tcp/514", "logging host inside 10.250.0.50 tcp/6514 secure"]


# --------------------------------------------------------------------------- Stormshield


THEIR_PROFILES = {"0": {"State": "1", "Name": "siem", "Server": "siem-host", "Port": "514", "Protocol": "UDP",
                        "LogAlarm": "1"},
                  "3": {"State": "0", "Name": "spare", "Protocol": "UDP", "LogSystem": "1"}}


def _sns(profiles: dict[str, dict[str, str]]) -> FakeSNS:
    import copy

    dev = FakeSNS()
    dev.live.objects["siem-host"] = ("host", {"ip": "10.9.9.9", "resolve": "static"})
    dev.live.syslog = copy.deepcopy(profiles)
    return dev


def test_stormshield_profile_pushed_other_profiles_untouched(syslog_result, tmp_path) -> None:
    text = _text(syslog_result, "fw-sud")
    dev = _sns(THEIR_PROFILES)
    r = sns_pusher.push(_target(tmp_path, "fw-sud", "stormshield"), text, Options(), session_factory=dev.session)
    assert r.error is None and r.changed, r.error
    assert dev.live.syslog["0"] == THEIR_PROFILES["0"], "another profile changed"
    mine = dev.live.syslog["3"]
    assert mine["Server"] == "vw-syslog" and mine["Port"] == "6514" and mine["Protocol"] == "TLS"
    assert mine["SyslogProtocol"] == "RFC5424" and mine["LogConnection"] == "1" and mine["LogFilter"] == "1"
    assert mine["LogSystem"] == "1", "a family vendorwall does not set is left as it was"
    assert dev.live.objects["vw-syslog"][1]["ip"] == "10.250.0.50"
    # the server object is active before the profile names it
    assert dev.activations.index("object") < dev.activations.index("communication")
    again = sns_pusher.push(_target(tmp_path, "fw-sud", "stormshield"), text, Options(), session_factory=dev.session)
    assert again.error is None and not again.changed and again.commands == [], again.commands


def test_stormshield_failed_verification_restores_the_profile(syslog_result, tmp_path) -> None:
    """A drift injected after the activations fails the verification: the rollback puts profile 3 back as the
    backup had it (and profile 0 was never written)."""
    text = _text(syslog_result, "fw-sud")
    dev = _sns(THEIR_PROFILES)
    shown = {i: dev.profile(i) for i in "0123"}

    def drift(d: FakeSNS) -> None:  # someone edits vendorwall's profile right after the filter activation
        if d.activations.count("filter") == 1 and d.activations[-1] == "filter":
            d.live.syslog["3"]["Port"] = "1"

    dev.after_activate = drift
    r = sns_pusher.push(_target(tmp_path, "fw-sud", "stormshield"), text, Options(), session_factory=dev.session)
    assert r.error is not None and r.rolled_back, r.error
    assert dev.live.syslog["0"] == THEIR_PROFILES["0"]
    assert {i: dev.profile(i) for i in "0123"} == shown
    assert "vw-syslog" not in dev.live.objects, "the server object is deleted once no profile names it"


def test_stormshield_opt_in_removed_later_leaves_the_profile_and_its_server(syslog_result, tmp_path) -> None:
    """The device stops opting in: the next deploy neither writes the profile nor deletes the host object it
    still names (the firewall would refuse: the deploy failed before)."""
    dev = _sns(THEIR_PROFILES)
    first = sns_pusher.push(_target(tmp_path, "fw-sud", "stormshield"), _text(syslog_result, "fw-sud"), Options(),
                            session_factory=dev.session)
    assert first.error is None
    inv = syslog_result.inventory
    devices = {**inv.devices, "fw-sud": dataclasses.replace(inv.devices["fw-sud"], syslog_slot="")}
    model = dataclasses.replace(syslog_result.model, inventory=dataclasses.replace(inv, devices=devices))
    r, _ = render.render_device(model, model.devices["fw-sud"])
    assert r is not None
    again = sns_pusher.push(_target(tmp_path, "fw-sud", "stormshield"), r.text, Options(), session_factory=dev.session)
    assert again.error is None, again.error
    assert dev.live.syslog["3"]["Server"] == "vw-syslog" and "vw-syslog" in dev.live.objects


# --------------------------------------------------------------------------- without the opt-in


def test_without_opt_in_nothing_device_wide_is_rendered(syslog_result) -> None:
    inv = syslog_result.inventory
    devices = {n: dataclasses.replace(d, syslog_slot="") for n, d in inv.devices.items()}
    model = dataclasses.replace(syslog_result.model, inventory=dataclasses.replace(inv, devices=devices))
    forti = render.render_device(model, model.devices["fw-nord"])[0]
    asa = render.render_device(model, model.devices["fw-rive"])[0]
    sns = render.render_device(model, model.devices["fw-sud"])[0]
    assert forti is not None and asa is not None and sns is not None
    assert not any(t.startswith("log ") for t in fortios_cli.parse(forti.text))
    assert "config log" not in forti.text and "\nlogging " not in asa.text
    assert "COMMUNICATION" not in sns.text and "vw-syslog" not in sns.text
    for r in (forti, asa, sns):
        assert "not rendered, the device does not opt in" in r.text
    # PAN-OS needs no opt-in: its profiles are vendorwall's own objects
    pan = render.render_device(model, model.devices["fw-centre"])[0]
    assert pan is not None and "vw-syslog" in pan.text


def test_without_a_syslog_server_nothing_is_rendered(example_result) -> None:
    for platform in ("fortios", "panos", "asa", "stormshield"):
        r, _ = render.render_as(example_result.model, "fw-centre", platform)
        assert r is not None
        assert "names no policy.connection_logs.syslog" in r.text
        assert "vw-syslog" not in r.text and "config log" not in r.text and "\nlogging " not in r.text


def test_asa_needs_an_address(syslog_result) -> None:
    inv = syslog_result.inventory
    logs = dataclasses.replace(inv.policy.connection_logs,
                               syslog=dataclasses.replace(inv.policy.connection_logs.syslog, host="syslog.example"))
    model = dataclasses.replace(syslog_result.model, inventory=dataclasses.replace(
        inv, policy=dataclasses.replace(inv.policy, connection_logs=logs)))
    _r, diags = render.render_device(model, model.devices["fw-rive"])
    text = "\n".join(d.render() for d in diags)
    assert "policy.yml" in text and "IPv4" in text and "syslog.example" in text and "vw_syslog_interface" in text


# --------------------------------------------------------------------------- the opt-in variables


@pytest.mark.parametrize(("old", "new", "words"), [
    ("vw_syslog_slot: syslogd2", "vw_syslog_slot: syslogd9", ["invalid vw_syslog_slot", "syslogd2, syslogd3 or",
                                                              "'syslogd9'"]),
    ("vw_syslog_slot: syslogd2", "vw_syslog_slot: syslogd", ["invalid vw_syslog_slot", "'syslogd'"]),
    ("vw_syslog_interface: inside", 'vw_syslog_interface: "in side; x"', ["invalid vw_syslog_interface", "nameif"]),
    ("vw_syslog_slot: 3}", "vw_syslog_slot: 7}", ["invalid vw_syslog_slot", "0 to 3", "found:    7"]),
    ("vw_syslog_slot: 3}", "vw_syslog_slot: true}", ["invalid vw_syslog_slot", "found:    True"]),
    ("vw_vlan_parent: ethernet1/2}", "vw_vlan_parent: ethernet1/2, vw_syslog_slot: syslogd2}",
     ["vw_syslog_slot is not a setting of platform panos", "vendorwall's own", "fortios"]),
])
def test_bad_opt_in_is_an_error_with_place(tmp_path, old, new, words) -> None:
    inv = tmp_path / "inv"
    shutil.copytree(SYSLOG, inv)
    hosts = inv / "hosts.yml"
    assert old in hosts.read_text()
    hosts.write_text(hosts.read_text().replace(old, new))
    _inv, diags, _ = inventory.load(str(inv), str(inv))
    text = "\n".join(d.render() for d in diags)
    assert "hosts.yml:" in text, text
    for w in words:
        assert w in text, (w, text)


def test_the_variant_shares_the_example_domain_files() -> None:
    """Only hosts.yml and the syslog server in policy.yml differ from the multi-vendor example."""
    for p in sorted((MULTIVENDOR / "vendorwall").rglob("*.yml")):
        rel = p.relative_to(MULTIVENDOR)
        mine = (SYSLOG / rel).read_text()
        if rel.name == "policy.yml":
            extra = [x for x in mine.splitlines() if x not in p.read_text().splitlines()]
            assert len(extra) == 2 and "connection_logs" in extra[0] and "syslog" in extra[1], extra
        else:
            assert mine == p.read_text(), rel


def test_plan_says_per_firewall_what_is_forwarded(tmp_path) -> None:
    from vendorwall import plan

    inv = tmp_path / "inv"
    shutil.copytree(SYSLOG, inv)
    hosts = inv / "hosts.yml"
    hosts.write_text(hosts.read_text().replace(", vw_syslog_slot: syslogd2}", "}"))
    text = plan.preview(str(inv), NOW, str(tmp_path / "out"), "inv").summary.text()
    lines = {x.split()[0]: x for x in text.splitlines()[text.splitlines().index(
        "  log forwarding (policy.connection_logs.syslog):") + 1:] if x.startswith("    fw-")}
    assert "not rendered, the device does not opt in (vw_syslog_slot" in lines["fw-nord"]
    assert "(slot 3)" in lines["fw-sud"] and "(slot inside)" in lines["fw-rive"] and "TLS" in lines["fw-centre"]
    # an inventory without a syslog server: no such section
    assert "log forwarding" not in plan.preview(str(MULTIVENDOR), NOW, str(tmp_path / "out2"), "mv").summary.text()
