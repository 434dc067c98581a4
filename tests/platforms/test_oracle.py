"""Differential oracle: Aerleon's FortiGate generator vs vendorwall's FortiOS renderer, same intent.

Aerleon (PyPI ``aerleon``, test extra) is fed the flows of each firewall from ``vendorwall export``
(tests/platforms/oracle.py); both outputs are read back with the oracle's own FortiOS parser into
(source, destination, protocol, port) tuples and compared. Every difference found is listed below
and asserted, so a new one fails the test:

1. MANAGEMENT: Aerleon allows the management networks to the firewall's own address as a forward
   policy; vendorwall renders no policy for them on FortiOS (management access to a FortiGate is its
   trusted hosts and local-in policies, which vendorwall never changes, so a deploy cannot lock the
   network team out). Asserted: Aerleon's extra tuples are exactly the management flows.
2. CONDITIONS: Aerleon's FortiGate schedule is always "always" (dates only drop expired terms when
   the file is generated; windows and on-demand access cannot be expressed), vendorwall gates the
   same tuples by schedules the FortiGate enforces. Asserted: every Aerleon policy uses "always";
   vendorwall's non-"always" policies carry exactly the intent's dated, windowed and on-demand tuples.
3. LOGGING: Aerleon logs nothing for an accept term without a logging option ("set logtraffic
   disable"); vendorwall logs all traffic of every policy. Asserted on both outputs.
4. DEFAULT DENY SCOPE: Aerleon's last term denies everything (any to any); vendorwall's logged denies
   cover the vendor zones and the vendor entry paths only (the rest of the FortiGate's traffic is not
   vendorwall's to decide). Asserted: no vendorwall deny has both "any" interfaces and "all" addresses.

Nothing else differs: the allowed tuples are otherwise equal, on the example's four firewalls and on
a synthetic inventory using every access mode.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("aerleon", reason="the oracle needs Aerleon: pip install -e '.[test]'")

import oracle

from vendorwall import export, render
from vendorwall.render import fortios_cli
from vendorwall.render import meaning as M


def _policies(text: str) -> list[dict[str, list[str]]]:
    return [s for _k, s in oracle._blocks(text)["firewall policy"]]


def _compare(result, dev: str) -> dict[str, int]:
    data = export.to_data(result.model)
    flows = oracle.firewall_flows(data, dev)
    peer = oracle.aerleon_generate(flows, dev)
    ours, diags = render.render_as(result.model, dev, "fortios")
    assert ours is not None and not diags
    a, v = oracle.fortigate_tuples(peer), oracle.fortigate_tuples(ours.text)
    # the oracle parser agrees with vendorwall's own reading of its output
    assert v == {(str(t.src), str(t.dst), t.protocol, t.port) for t in M.meaning_of("fortios", ours.text)}
    mgmt = oracle.export_tuples([f for f in flows if f["kind"] == "management"])
    # difference 1: management flows only in Aerleon's output
    assert a - v == mgmt, sorted(a - v - mgmt)[:5]
    assert not v - a, sorted(v - a)[:5]
    # difference 2: conditions
    assert {s.get("schedule", ["always"])[0] for s in _policies(peer)} == {"always"}
    gated = {(str(t.src), str(t.dst), t.protocol, t.port)
             for t in M.intent_meaning(result.model.devices[dev]) if t.condition != M.PERMANENT}
    cfg = fortios_cli.parse(ours.text)
    timed: set[tuple[str, str, str, int | None]] = set()
    addrs, svcs = fortios_cli.addresses(cfg), fortios_cli.services(cfg)
    for p in fortios_cli.policies(cfg):
        if p.get("schedule") != "always" and p.get("action") == "accept":
            timed |= {(str(s), str(d), proto, port) for a_ in p.values("srcaddr") for s in addrs[a_]
                      for b_ in p.values("dstaddr") for d in addrs[b_] for x in p.values("service")
                      for proto, port in svcs[x]}
    assert timed == gated
    # difference 3: logging
    accepts = [s for s in _policies(peer) if s.get("action") == ["accept"]]
    assert accepts and all(s.get("logtraffic") == ["disable"] for s in accepts)
    assert all(s.get("logtraffic") == ["all"] for s in _policies(ours.text))
    # difference 4: default deny scope
    assert any(s.get("action") is None and s.get("srcaddr") == ["all"] and s.get("dstaddr") == ["all"]
               for s in _policies(peer)), "Aerleon's default deny (no 'set action' = deny)"
    for s in _policies(ours.text):
        if s.get("action") == ["deny"]:
            assert not (s["srcintf"] == s["dstintf"] == ["any"] and s["srcaddr"] == s["dstaddr"] == ["all"])
    return {"tuples": len(v), "management": len(mgmt), "gated": len(gated)}


def test_oracle_on_the_example(example_result) -> None:
    counts = {dev: _compare(example_result, dev) for dev, i in sorted(example_result.model.devices.items())
              if i.role == "firewall"}
    assert sum(c["tuples"] for c in counts.values()) > 300
    assert sum(c["gated"] for c in counts.values()) > 100  # on-demand, dated and windowed tuples exist


def test_oracle_on_every_access_mode(big_result) -> None:
    for dev, i in sorted(big_result.model.devices.items()):
        if i.role == "firewall":
            _compare(big_result, dev)


def test_oracle_catches_a_wrong_port(example_result) -> None:
    """The oracle is not blind: a renderer printing one wrong port is a difference."""
    data = export.to_data(example_result.model)
    flows = oracle.firewall_flows(data, "fw-nord")
    ours, _ = render.render_as(example_result.model, "fw-nord", "fortios")
    assert ours is not None
    broken = re.sub(r"set tcp-portrange 22\n", "set tcp-portrange 2222\n", ours.text, count=1)
    assert broken != ours.text
    a = oracle.fortigate_tuples(oracle.aerleon_generate(flows, "fw-nord"))
    mgmt = oracle.export_tuples([f for f in flows if f["kind"] == "management"])
    assert a - oracle.fortigate_tuples(broken) != mgmt


# --------------------------------------------------------------------------- PAN-OS: Aerleon's paloalto generator
#
# The same oracle for PAN-OS: Aerleon's paloalto output and vendorwall's rendering are read by the
# oracle's own PAN-OS reader (tests/platforms/oracle.py, apart from vendorwall.render.panos_xml). The
# allowed tuples are equal except for these differences, each asserted:
#
# 1. MANAGEMENT: as for FortiOS, Aerleon allows the management networks to the firewall as a security
#    rule; vendorwall renders none (a PAN-OS firewall's management is its management interface profile).
# 2. CONDITIONS: Aerleon writes no schedule (an expired term is only dropped when the file is generated,
#    windows and on-demand access cannot be expressed); vendorwall gates the same tuples by schedules and,
#    for on-demand access, by the dynamic group vw-od-<system> that grants fill (User-ID registration
#    with a timeout). Asserted: no Aerleon rule has a schedule; vendorwall's scheduled and on-demand allow
#    rules carry exactly the intent's dated, windowed and on-demand tuples.
# 3. LOGGING: Aerleon writes no log setting on allow rules (the firewall's default applies) and log-end
#    on its deny; vendorwall writes log-end on every rule and log-start on vendor access.
# 4. DEFAULT DENY SCOPE: Aerleon's last rule denies any to any; vendorwall's denies cover the vendor zones
#    and entry paths only.
# 5. ZONES: Aerleon's rules go from any zone to any zone; vendorwall names the vendor's zone on the
#    system side (the tuples are the same: the address must sit behind the zone anyway).


def _pan_rules(text: str) -> list:
    return oracle._pan_containers(text)["rules"]


def _compare_panos(result, dev: str) -> dict[str, int]:
    data = export.to_data(result.model)
    flows = oracle.firewall_flows(data, dev)
    peer = oracle.aerleon_generate(flows, dev, "paloalto")
    ours, diags = render.render_as(result.model, dev, "panos", vlan_parent="ethernet1/2")
    assert ours is not None and not diags
    a, v = oracle.paloalto_tuples(peer), oracle.paloalto_tuples(ours.text)
    assert v == {(str(t.src), str(t.dst), t.protocol, t.port) for t in M.meaning_of("panos", ours.text)}
    mgmt = oracle.export_tuples([f for f in flows if f["kind"] == "management"])
    assert a - v == mgmt, sorted(a - v - mgmt)[:5]  # difference 1
    assert not v - a, sorted(v - a)[:5]
    # difference 2: conditions
    assert not any(r.findtext("schedule") for r in _pan_rules(peer))
    gated = {(str(t.src), str(t.dst), t.protocol, t.port)
             for t in M.intent_meaning(result.model.devices[dev]) if t.condition != M.PERMANENT}
    from vendorwall.render import panos_xml

    cfg = panos_xml.parse(ours.text)
    timed_rules = [r for r in cfg.under("/rulebase/security/rules") if r.findtext("action") == "allow" and (
        r.findtext("schedule") or any((m.text or "").startswith("vw-od-") for m in r.findall("destination/member")))]
    addrs, svcs = panos_xml.addresses(cfg), panos_xml.services(cfg)
    timed = {(str(s), str(d), proto, port) for r in timed_rules for a_ in r.findall("source/member")
             for s in addrs[a_.text] for b_ in r.findall("destination/member") for d in addrs[b_.text]
             for x in r.findall("service/member") for proto, port in svcs[x.text]}
    assert timed == gated
    # difference 3: logging
    assert all(r.find("log-end") is None and r.find("log-start") is None
               for r in _pan_rules(peer) if r.findtext("action") == "allow")
    assert all(r.findtext("log-end") == "yes" for r in _pan_rules(ours.text))
    # difference 4: default deny scope
    assert any(r.findtext("action") == "deny" and r.findtext("source/member") == "any-ipv4"
               and r.findtext("destination/member") == "any-ipv4" for r in _pan_rules(peer))
    for r in _pan_rules(ours.text):
        if r.findtext("action") == "deny":
            assert not (r.findtext("source/member") == r.findtext("destination/member") == "any")
    # difference 5: zones
    assert {(r.findtext("from/member"), r.findtext("to/member")) for r in _pan_rules(peer)} == {("any", "any")}
    return {"tuples": len(v), "management": len(mgmt), "gated": len(gated)}


def test_panos_oracle_on_the_example(example_result) -> None:
    counts = {dev: _compare_panos(example_result, dev) for dev, i in sorted(example_result.model.devices.items())
              if i.role == "firewall"}
    assert sum(c["tuples"] for c in counts.values()) > 300
    assert sum(c["gated"] for c in counts.values()) > 100


def test_panos_oracle_on_every_access_mode(big_result) -> None:
    for dev, i in sorted(big_result.model.devices.items()):
        if i.role == "firewall":
            _compare_panos(big_result, dev)


def test_panos_oracle_catches_a_wrong_port(example_result) -> None:
    data = export.to_data(example_result.model)
    flows = oracle.firewall_flows(data, "fw-centre")
    ours, _ = render.render_as(example_result.model, "fw-centre", "panos", vlan_parent="ethernet1/2")
    assert ours is not None
    broken = re.sub(r"<port>22</port>", "<port>2222</port>", ours.text, count=1)
    assert broken != ours.text
    a = oracle.paloalto_tuples(oracle.aerleon_generate(flows, "fw-centre", "paloalto"))
    mgmt = oracle.export_tuples([f for f in flows if f["kind"] == "management"])
    assert a - oracle.paloalto_tuples(broken) != mgmt


# --------------------------------------------------------------------------- Cisco ASA: Aerleon's ciscoasa generator
#
# Both outputs read by the oracle's own ASA reader (tests/platforms/oracle.py, apart from
# vendorwall.render.asa_cli). The allowed tuples are equal except for these differences, each asserted:
#
# 1. MANAGEMENT: Aerleon permits the management networks to the firewall in the access list; vendorwall
#    does not (the ASA's own management is its ssh/http/icmp commands, and a global access list does not
#    filter traffic to the box).
# 2. CONDITIONS: Aerleon writes no time-range (it drops an expired term when generating); vendorwall
#    gates the same tuples by time-ranges the ASA enforces (absolute, periodic, the on-demand windows).
# 3. LOGGING: Aerleon's permits carry no log keyword, its final deny "log"; every vendorwall ACE is
#    "log informational".
# 4. DEFAULT DENY SCOPE: Aerleon ends with "deny ip any any"; vendorwall's denies cover the vendor
#    segments and entry paths only.
# 5. OBJECTS: Aerleon writes addresses and ports inline (port names such as "https"); vendorwall writes
#    object-groups (same tuples).
# 6. IPv6: a flow with IPv6 addresses is dropped by Aerleon without a word (its ciscoasa generator only
#    writes IPv4 terms); vendorwall writes the IPv6 prefixes in its object-groups (ASA 9 unified access
#    lists) and the flow is allowed.


def _compare_asa(result, dev: str) -> dict[str, int]:
    data = export.to_data(result.model)
    flows = oracle.firewall_flows(data, dev)
    peer = oracle.aerleon_generate(flows, dev, "ciscoasa")
    ours, diags = render.render_as(result.model, dev, "asa", vlan_parent="GigabitEthernet0/1")
    assert ours is not None and not diags
    a, v = oracle.asa_tuples(peer), oracle.asa_tuples(ours.text)
    assert v == {(str(t.src), str(t.dst), t.protocol, t.port) for t in M.meaning_of("asa", ours.text)}
    mgmt = oracle.export_tuples([f for f in flows if f["kind"] == "management"])
    assert a - v == mgmt, sorted(a - v - mgmt)[:5]  # difference 1
    assert not v - a, sorted(v - a)[:5]
    peer_aces = [x for x in peer.splitlines() if " extended " in x]
    our_aces = [x for x in ours.text.splitlines() if " extended " in x]
    # difference 2: conditions
    assert not any("time-range" in x for x in peer_aces)
    gated = {(str(t.src), str(t.dst), t.protocol, t.port)
             for t in M.intent_meaning(result.model.devices[dev]) if t.condition != M.PERMANENT}
    timed_only = "\n".join(x for x in ours.text.splitlines() if " extended " not in x or (
        " permit " in x and "time-range" in x)).replace("access-group vw-global global", "")
    assert oracle.asa_tuples(timed_only) == gated
    # difference 3: logging
    assert all(" log" not in x for x in peer_aces if " permit " in x)
    assert our_aces and all(x.endswith(" log informational") or " log informational time-range " in x
                            for x in our_aces)
    # difference 4: default deny scope
    assert peer_aces[-1].endswith("extended deny ip any any log")
    assert not any(" deny ip any any" in x for x in our_aces)
    # difference 5: objects
    assert not any("object-group" in x for x in peer_aces) and all("object-group" in x for x in our_aces)
    return {"tuples": len(v), "management": len(mgmt), "gated": len(gated)}


def test_asa_oracle_on_the_example(example_result) -> None:
    counts = {dev: _compare_asa(example_result, dev) for dev, i in sorted(example_result.model.devices.items())
              if i.role == "firewall"}
    assert sum(c["tuples"] for c in counts.values()) > 300
    assert sum(c["gated"] for c in counts.values()) > 100


def test_asa_oracle_on_every_access_mode(big_result) -> None:
    for dev, i in sorted(big_result.model.devices.items()):
        if i.role == "firewall":
            _compare_asa(big_result, dev)


def test_asa_keeps_ipv6_that_aerleon_drops(example_result) -> None:
    """Difference 6: the same IPv6 flow is written by vendorwall and silently dropped by Aerleon."""
    import dataclasses
    from ipaddress import IPv6Network

    from vendorwall import render as rnd

    intent = example_result.model.devices["fw-rive"]
    base = next(r for r in intent.rules if r.kind == "clinical" and r.protocol == "tcp")
    v6 = dataclasses.replace(base, id=f"clinical/v6-host/from/v6-clients/{base.service}", system="v6-host",
                             peer="v6-clients", keep=False, src=(IPv6Network("2001:db8:40::/64"),),
                             dst=(IPv6Network("2001:db8:67::2/128"),))
    intent6 = dataclasses.replace(intent, platform="asa", rules=(*intent.rules, v6))
    model = dataclasses.replace(example_result.model, devices={**example_result.model.devices, "fw-rive": intent6})
    dev = model.inventory.devices["fw-rive"]
    model = dataclasses.replace(model, inventory=dataclasses.replace(model.inventory, devices={
        **model.inventory.devices, "fw-rive": dataclasses.replace(dev, vlan_parent="GigabitEthernet0/1")}))
    ours, diags = rnd.render_device(model, intent6)
    assert ours is not None and not diags
    assert " network-object 2001:db8:40::/64" in ours.text and " network-object host 2001:db8:67::2" in ours.text
    want = M.intent_meaning(intent6)
    assert M.meaning_of("asa", ours.text) == want, "the IPv6 flow is allowed as the intent says"
    flows = oracle.firewall_flows(export.to_data(example_result.model), "fw-rive")
    flow = {"id": v6.id, "kind": "clinical", "src": "2001:db8:40::/64", "dst": "2001:db8:67::2/128",
            "protocol": "tcp", "port": base.ports[0], "firewalls": ["fw-rive"]}
    peer = oracle.aerleon_generate([*flows, flow], "fw-rive", "ciscoasa")
    assert "2001:db8" not in peer, "Aerleon's ciscoasa output has no trace of the IPv6 flow"
    assert ("2001:db8:40::/64", "2001:db8:67::2/128", "tcp", base.ports[0]) in oracle.asa_tuples(ours.text)


def test_asa_oracle_catches_a_wrong_port(example_result) -> None:
    data = export.to_data(example_result.model)
    flows = oracle.firewall_flows(data, "fw-centre")
    ours, _ = render.render_as(example_result.model, "fw-centre", "asa", vlan_parent="GigabitEthernet0/1")
    assert ours is not None
    broken = re.sub(r"port-object eq 22\n", "port-object eq 2222\n", ours.text, count=1)
    assert broken != ours.text
    a = oracle.asa_tuples(oracle.aerleon_generate(flows, "fw-centre", "ciscoasa"))
    mgmt = oracle.export_tuples([f for f in flows if f["kind"] == "management"])
    assert a - oracle.asa_tuples(broken) != mgmt
