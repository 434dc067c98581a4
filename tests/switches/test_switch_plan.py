"""Want-vs-have planning for NX-OS, AOS-CX and Junos (pure): recorded-format configurations
(``fixtures/``: what each OS prints, with drift an operator left), exact commands, ownership
(VLANs outside the site's range and ports vendorwall does not own are never named), idempotency
and rollback commands."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from vendorwall.deploy import aoscx_plan, junos_plan, nxos_plan, switch_plan
from vendorwall.deploy.switch_plan import Port, SwitchConfig

FIX = Path(__file__).parent / "fixtures"
NORD, SUD, CENTRE = (3000, 3199), (3200, 3399), (3400, 3599)


def fix(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


def applied(dialect: switch_plan.Dialect, have: SwitchConfig, p: switch_plan.SwitchPlan) -> SwitchConfig:
    """The switch after a plan: its target on what vendorwall owns, everything else as it was."""
    vlans = {v: n for v, n in have.vlans.items() if not NORD[0] <= v <= CENTRE[1]} | dict(p.target.vlans)
    return SwitchConfig(vlans, {**have.ports, **p.target.ports})


# --------------------------------------------------------------------------- NX-OS


def nxos_plan_() -> tuple[SwitchConfig, switch_plan.SwitchPlan]:
    have = nxos_plan.parse(fix("sw-nord-1.running.nxos.txt"))
    want = nxos_plan.parse(fix("sw-nord-1.intended.nxos"))
    return have, switch_plan.plan(nxos_plan.DIALECT, "sw-nord-1", have, want, NORD)


def test_nxos_parse_recorded_running_config() -> None:
    cfg = nxos_plan.parse(fix("sw-nord-1.running.nxos.txt"))
    # unnamed VLANs appear only in the compressed list; named ones have a block
    assert cfg.vlans == {1: "", 100: "USERS", 3000: "", 3001: "OLD-NAME", 3050: "GONE-VENDOR", 3500: "OTHER-SITE"}
    assert cfg.ports["Ethernet1/1"] == Port("vendorwall magnetika mri-nord-1", "access", 3001, None, False)
    assert cfg.ports["Ethernet1/2"] == Port(None, "access", None, None, True)  # never configured: down
    assert cfg.ports["Ethernet1/48"].trunk_allowed == (3000, 3001, 3050)  # 'add' continuation line read
    assert cfg.ports["Ethernet1/48"].mode == "trunk"


def test_nxos_exact_commands() -> None:
    _, p = nxos_plan_()
    c = p.commands
    assert c[:3] == ["vlan 3000", "  name VW3000-ACME-IMAGING-PACS-DR-NORD", "exit"]
    blk = lambda name: c[c.index(f"interface {name}") + 1:c.index("exit", c.index(f"interface {name}"))]  # noqa: E731
    assert blk("Ethernet1/1") == ["  switchport access vlan 3005"]  # only what differs
    assert blk("Ethernet1/2") == ["  description vendorwall tomora ct-nord-1", "  switchport access vlan 3011",
                                  "  no shutdown"]  # never configured: brought up, last
    assert blk("Ethernet1/3") == ["  description vendorwall tomora ct-nord-2"]  # the operator's shutdown stays
    assert blk("Ethernet1/5") == ["  shutdown", "  description vendorwall retired (was VLAN 3050)",
                                  "  no switchport access vlan"]  # shut first, then out of the VLAN
    assert blk("Ethernet1/10")[-1] == "  no shutdown"  # vendorwall retired it: back up
    assert blk("Ethernet1/11") == ["  description vendorwall nordlys-robotics unit-dose-packager-nord",
                                   "  switchport", "  switchport mode access", "  switchport access vlan 3008",
                                   "  no shutdown"]  # absent from the config: layer 2 set explicitly
    assert blk("Ethernet1/48")[-1] == "  switchport trunk allowed vlan 3000-3013"
    assert c[-1] == "no vlan 3050"
    # never: VLANs outside the range (1, 100, 3500), ports vendorwall does not own
    assert not [x for x in c if re.search(r"vlan (1|100|3500)\b", x) or re.search(r"1/7\b|1/9\b|mgmt0", x)]


def test_nxos_rerun_after_apply_changes_nothing() -> None:
    have, p = nxos_plan_()
    after = applied(nxos_plan.DIALECT, have, p)
    again = switch_plan.plan(nxos_plan.DIALECT, "sw-nord-1", after, nxos_plan.parse(fix("sw-nord-1.intended.nxos")),
                             NORD)
    assert not again.changed and again.commands == []
    # the device would print the target the way the parser reads it back
    assert nxos_plan.parse(nxos_plan.canonical(p.target)) == p.target


def test_nxos_rollback_commands_restore_the_backup() -> None:
    have, p = nxos_plan_()
    after = applied(nxos_plan.DIALECT, have, p)
    back = switch_plan.rollback_commands(nxos_plan.DIALECT, after, have, p.target.ports, NORD)
    assert back[:4] == ["vlan 3000", "  no name", "exit", "vlan 3001"]  # names as they were (3000 had none)
    i = back.index("interface Ethernet1/5")
    assert back[i + 1:i + 4] == ["  description vendorwall gone-vendor box", "  switchport access vlan 3050",
                                 "  no shutdown"]
    i = back.index("interface Ethernet1/11")  # absent before: down again, description removed
    assert back[i + 1:i + 4] == ["  shutdown", "  no description", "  no switchport access vlan"]
    assert "no vlan 3013" in back and "no vlan 1" not in back and "vlan 3050" in back
    assert switch_plan.rollback_commands(nxos_plan.DIALECT, have, have, p.target.ports, NORD) == []


def test_intent_outside_the_range_refused() -> None:
    want = nxos_plan.parse("vlan 3500\n  name X\n")
    with pytest.raises(ValueError, match="outside the site's vlan_range"):
        switch_plan.plan(nxos_plan.DIALECT, "x", SwitchConfig(), want, NORD)


# --------------------------------------------------------------------------- AOS-CX


def aoscx_plan_() -> tuple[SwitchConfig, switch_plan.SwitchPlan]:
    have = aoscx_plan.parse(fix("sw-sud-1.running.aoscx.txt"))
    want = aoscx_plan.parse(fix("sw-sud-1.intended.aoscx"))
    return have, switch_plan.plan(aoscx_plan.DIALECT, "sw-sud-1", have, want, SUD)


def test_aoscx_parse_recorded_running_config() -> None:
    cfg = aoscx_plan.parse(fix("sw-sud-1.running.aoscx.txt"))
    assert cfg.vlans == {1: "", 100: "USERS", 3201: "OLD-NAME", 3250: "GONE-VENDOR", 3500: "OTHER-SITE"}
    assert cfg.ports["1/1/2"] == Port(None, "access", None, None, True)  # 'vlan access 1' is the default
    assert cfg.ports["1/1/48"] == Port("uplink fw-sud", "trunk", None, (3200, 3201, 3250), False)
    assert "mgmt" not in cfg.ports


def test_aoscx_exact_commands() -> None:
    _, p = aoscx_plan_()
    c = p.commands
    blk = lambda name: c[c.index(f"interface {name}") + 1:c.index("exit", c.index(f"interface {name}"))]  # noqa: E731
    assert blk("1/1/1") == ["    vlan access 3207"]
    assert blk("1/1/2")[-1] == "    no shutdown"
    assert blk("1/1/4") == ["    shutdown", "    description vendorwall retired (was VLAN 3250)", "    no vlan access"]
    assert "    no shutdown" not in blk("1/1/5")  # the operator's shutdown stays
    assert blk("1/1/10")[-1] == "    no shutdown"  # absent from the config: down by default, brought up
    # the allowed list changes by differences (AOS-CX adds with 'vlan trunk allowed')
    assert blk("1/1/48")[1:] == ["    vlan trunk allowed 3202-3212", "    no vlan trunk allowed 3250"]
    assert c[-1] == "no vlan 3250"
    assert not [x for x in c if re.search(r"vlan (1|100|3500)\b", x) or "1/1/3" in x]


def test_aoscx_rerun_after_apply_changes_nothing() -> None:
    have, p = aoscx_plan_()
    after = applied(aoscx_plan.DIALECT, have, p)
    again = switch_plan.plan(aoscx_plan.DIALECT, "x", after, aoscx_plan.parse(fix("sw-sud-1.intended.aoscx")), SUD)
    assert again.commands == []
    assert aoscx_plan.parse(aoscx_plan.canonical(p.target)) == p.target


def test_aoscx_allow_all_trunk_is_narrowed() -> None:
    have = aoscx_plan.parse("interface 1/1/48\n    no shutdown\n    vlan trunk native 1\n    vlan trunk allowed all\n")
    want = aoscx_plan.parse("vlan 3200\n    name A\ninterface 1/1/48\n    vlan trunk allowed 3200\n")
    c = switch_plan.plan(aoscx_plan.DIALECT, "x", have, want, SUD).commands
    i = c.index("interface 1/1/48")
    assert c[i + 1:i + 3] == ["    no vlan trunk allowed all", "    vlan trunk allowed 3200"]


# --------------------------------------------------------------------------- Junos


def junos_plan_() -> tuple[SwitchConfig, switch_plan.SwitchPlan]:
    have = junos_plan.parse_xml(fix("sw-centre-1.running.junos.xml"))
    want = junos_plan.parse_set(fix("sw-centre-1.intended.junos"))
    return have, switch_plan.plan(junos_plan.DIALECT, "sw-centre-1", have, want, CENTRE)


def test_junos_parse_recorded_get_config() -> None:
    cfg = junos_plan.parse_xml(fix("sw-centre-1.running.junos.xml"))
    assert cfg.vlans == {3415: "OLD-NAME", 3450: "GONE-VENDOR", 100: "USERS", 3700: "OTHER-SITE",
                         3400: "VW3400-ACME-IMAGING-PACS-3D-CENTRE"}
    assert cfg.ports["ge-0/0/0"].access_vlan == 3415  # a member given by name, resolved
    assert cfg.ports["ge-0/0/8"].access_vlan == 100  # no interface-mode: access (ELS default)
    assert cfg.ports["ge-0/0/47"].trunk_allowed == (3400, 3401, 3450)
    assert cfg.ports["ge-0/0/1"].shutdown and cfg.ports["me0"].mode is None


def test_junos_exact_operations() -> None:
    _, p = junos_plan_()
    c = p.commands
    es = "unit 0 family ethernet-switching"
    # a range VLAN under another name, and one out of the intent: deleted, first
    assert c[:2] == ["delete vlans OLD-NAME", "delete vlans GONE-VENDOR"]
    assert "set vlans VW3415-MAGNETIKA-MRI-CENTRE-1 vlan-id 3415" in c
    # ge-0/0/0's member was the old VLAN's *name*: its list is rewritten by id
    assert c.index(f"delete interfaces ge-0/0/0 {es} vlan") < c.index(f"set interfaces ge-0/0/0 {es} vlan members 3415")
    # the operator's disable stays; the port of the vendor that left: disabled, out of its VLAN, retired
    assert "delete interfaces ge-0/0/1 disable" not in c
    assert [x for x in c if "ge-0/0/5 " in x] == [
        "set interfaces ge-0/0/5 disable", 'set interfaces ge-0/0/5 description "vendorwall retired (was VLAN 3450)"',
        f"delete interfaces ge-0/0/5 {es} vlan members 3450"]
    # the trunk: member by member (3400, 3401 stay untouched)
    trunk = [x for x in c if x.startswith("delete interfaces ge-0/0/47") or "ge-0/0/47 " + es + " vlan" in x]
    assert f"delete interfaces ge-0/0/47 {es} vlan members 3450" in trunk
    assert not [x for x in trunk if x.endswith(("members 3400", "members 3401"))]
    # never: VLANs outside the range, unowned ports
    assert not [x for x in c if re.search(r"USERS|OTHER-SITE|ge-0/0/8\b|me0", x)]


def test_junos_edit_config_payload_matches_the_lines() -> None:
    have, p = junos_plan_()
    ops = junos_plan.ops_for(switch_plan.owned(have, p.target.ports, CENTRE), p.target, CENTRE)
    assert [o.line() for o in ops] == p.commands
    deletes = ET.fromstring(junos_plan.edit_config([o for o in ops if o.verb == "delete"]))
    sets = ET.fromstring(junos_plan.edit_config([o for o in ops if o.verb == "set"]))
    dvlans = [v.findtext("name") for v in deletes.iter("vlan") if v.get("operation") == "delete" and v.find("name")
              is not None]
    assert dvlans == ["OLD-NAME", "GONE-VENDOR"]
    ge5 = next(i for i in deletes.iter("interface") if i.findtext("name") == "ge-0/0/5")
    assert [(m.text, m.get("operation")) for m in ge5.iter("members")] == [("3450", "delete")]
    new_vlans = {v.findtext("name"): v.findtext("vlan-id") for v in sets.iter("vlan") if v.find("vlan-id") is not None}
    assert new_vlans["VW3415-MAGNETIKA-MRI-CENTRE-1"] == "3415" and not sets.findall(".//*[@operation]")


def test_junos_rerun_after_apply_changes_nothing() -> None:
    have, p = junos_plan_()
    after = applied(junos_plan.DIALECT, have, p)
    again = switch_plan.plan(junos_plan.DIALECT, "x", after, junos_plan.parse_set(fix("sw-centre-1.intended.junos")),
                             CENTRE)
    assert again.commands == []


def test_junos_rejects_what_it_does_not_render() -> None:
    with pytest.raises(ValueError, match="not a line vendorwall renders"):
        junos_plan.parse_set("set system host-name x\n")
    with pytest.raises(ValueError, match="not XML"):
        junos_plan.parse_xml("<rpc-reply><data>")
