"""Compile a validated inventory plus its allocation into the model: segments and rules.

Default deny: the rules below are everything that is allowed. Vendor traffic comes only from
the vendor's declared entry paths and goes only to its own systems and services; clinical
flows are kept; the firewall's management is reachable from the management networks only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cache
from ipaddress import IPv4Address, IPv4Network

from . import forbidden
from .allocate import Allocation
from .errors import Diagnostic
from .isolate import elements
from .model import DeviceIntent, Inventory, Model, Rule, Segment, System, Validity
from .platforms import registry


@cache  # one tuple per system, shared by its vendor and clinical rules and its peers' rules
def _host_nets(addrs: tuple[IPv4Address, ...]) -> tuple[IPv4Network, ...]:
    return tuple(IPv4Network((int(a), 32)) for a in addrs)


def compile_model(inv: Inventory, allocs: dict[str, Allocation], now: dt.date,
                  isolated: Mapping[str, str] | None = None) -> tuple[Model, list[Diagnostic]]:
    """``isolated``: vendor -> scope of the vendors isolated now (:mod:`vendorwall.isolate.isolated`); their
    quarantine goes into every firewall's intent."""
    segments: dict[str, Segment] = {}
    for key, a in sorted(allocs.items()):
        site_name, vendor = key.split("/")[:2]
        site = inv.sites[site_name]
        systems = tuple(sorted(a.hosts))
        mode = inv.systems[systems[0]].segment_mode if systems else "dedicated"
        network = site.networks.get(a.adopted) if a.adopted else None
        segments[key] = Segment(key, site_name, vendor, mode, systems, a.vlan, a.subnet,
                                a.gateway or a.subnet.network_address + 1, dict(sorted(a.hosts.items())),
                                f"vl{a.vlan}", f"vendor_{vendor}", site.firewall, a.adopted,
                                network.routed_by if network else "")
    addr_of: dict[str, tuple[IPv4Address, ...]] = {}
    for seg in segments.values():
        for name, addrs in seg.hosts.items():
            addr_of[name] = addrs
    rules: list[Rule] = []
    for s in sorted(inv.systems.values(), key=lambda s: s.name):
        if s.name not in addr_of or s.site not in inv.sites:
            continue
        rules.extend(_vendor_rules(inv, s, addr_of))
        rules.extend(_clinical_rules(inv, s, addr_of))
        rules.extend(_infrastructure_rules(inv, s, addr_of))
    rules.extend(_staff_rules(inv, addr_of))
    rules.extend(_mgmt_rules(inv))
    rules.sort(key=lambda r: r.id)
    forbidden_diags = _forbidden_rules(inv, rules)
    iso = {v: s for v, s in sorted((isolated or {}).items()) if v in inv.vendors}
    model = Model(now, inv, tuple(segments.values()), tuple(rules), isolated=iso)
    devices, diags = _device_intents(inv, model)
    devices, qdiags = _quarantine(inv, model, devices)
    return Model(now, inv, model.segments, model.rules, devices, iso), forbidden_diags + diags + qdiags


def _forbidden_rules(inv: Inventory, rules: list[Rule]) -> list[Diagnostic]:
    """Invariant: no vendor-access rule opens a forbidden protocol/port without the system's exception for
    its service (validation checks the declarations; this checks what was compiled)."""
    banned = forbidden.specs(inv)
    out = []
    for r in rules:
        if r.kind != "vendor_access":
            continue
        hit = forbidden.hits(banned, r.protocol, r.ports)
        s = inv.systems.get(r.system)
        if hit and (s is None or r.service not in s.access.exception_services):
            out.append(Diagnostic(r.origin.file, r.origin.line, r.origin.path, f"rule {r.id} opens forbidden ports",
                                  "no forbidden port without an exception", forbidden.describe(hit),
                                  "add an access exception with a justification", "policy"))
    return out


def protected(inv: Inventory) -> list[tuple[IPv4Network, str]]:
    """Management networks and device management addresses: never quarantined, never a vendor source."""
    out: list[tuple[IPv4Network, str]] = []
    for site in sorted(inv.sites.values(), key=lambda s: s.name):
        out += [(n, f"management network of site {site.name}") for n in site.management]
    for name, dev in sorted(inv.devices.items()):
        with contextlib.suppress(ValueError):
            out.append((IPv4Network(f"{dev.mgmt_address}/32"), f"management address of {dev.role} {name}"))
    return out


def _quarantine(inv: Inventory, model: Model, intents: dict[str, DeviceIntent]) -> tuple[
        dict[str, DeviceIntent], list[Diagnostic]]:
    """The quarantine of the vendors isolated at compile time, on every firewall: their entry paths
    everywhere (a vendor source may reach any site), their segments (scope segment) where they are routed."""
    if not model.isolated:
        return intents, []
    facts = model.by_vendor
    want = []
    for vendor, scope in model.isolated.items():
        v = inv.vendors[vendor]
        segs = facts[vendor].segments if vendor in facts else ()
        want += elements.wanted(vendor, [(p.name, p.prefixes, p.shared) for p in v.entry_paths],
                                [(s.key, s.subnet) for s in segs], scope)
    chosen, refused = elements.choose(want, protected(inv))
    diags = [Diagnostic(inv.vendors[e.vendor].origin.file, inv.vendors[e.vendor].origin.line,
                        inv.vendors[e.vendor].origin.path, f"isolated vendor {e.vendor}: {e.kind} {e.name} cannot be "
                        "quarantined", "vendor sources and segments disjoint from management", f"{e.prefix}: {why}",
                        "fix the inventory: validation refuses such sources", "isolation")
             for e, why in refused if "management" in why]
    fw_of = {s.key: s.firewall for s in model.segments}
    out = dict(intents)
    for name, intent in intents.items():
        if intent.role != "firewall":
            continue
        mine = tuple(e for e in chosen if e.kind == "entry" or fw_of.get(e.name) == name)
        out[name] = replace(intent, quarantine=mine)
    return out, diags


def _validity(inv: Inventory, s: System) -> Validity:
    a = s.access
    if a.mode == "on_demand":
        return Validity("on_demand", max_hours=a.max_hours or inv.policy.on_demand_max_hours)
    if a.mode == "scheduled":  # without an end date, a window lasts as long as the contract: the firewall ends it
        return Validity("scheduled", until=a.until or inv.vendors[s.vendor].contract_ends, window=a.window)
    if a.until is not None:
        return Validity("until", until=a.until)
    return Validity("permanent")


def _vendor_rules(inv: Inventory, s: System, addr_of: dict[str, tuple[IPv4Address, ...]]) -> Iterator[Rule]:
    vendor = inv.vendors[s.vendor]
    paths = {p.name: p for p in vendor.entry_paths}
    fw = inv.sites[s.site].firewall
    validity = _validity(inv, s)
    dst = _host_nets(addr_of[s.name])
    for svc_name in s.access.services:
        svc = inv.services.get(svc_name)
        if svc is None:
            continue
        for path_name in s.access.via:
            path = paths.get(path_name)
            if path is None or not path.prefixes:
                continue
            if path.kind == "lan_to_lan" and (path.purpose != "maintenance" or (path.systems and s.name not in
                                              path.systems) or (path.services and svc_name not in path.services)):
                continue  # a tunnel carries only its declared systems and services
            yield Rule(f"vendor/{s.vendor}/{s.name}/{svc_name}/{path_name}", "vendor_access", s.vendor, s.name,
                       path.prefixes, dst, svc_name, svc.protocol, svc.ports, validity, via=path_name,
                       peer=path_name, firewalls=(fw,), origin=s.access.origin)


def _peer(inv: Inventory, name: str, addr_of: dict[str, tuple[IPv4Address, ...]], me: str = "") -> tuple[
        tuple[IPv4Network, ...], tuple[str, ...]]:
    """A flow peer's prefixes and the firewalls that front it (client groups: none). A tag is every
    system that carries it (but ``me``), so a flow to a group follows the inventory as it changes."""
    if name in inv.client_groups:
        return inv.client_groups[name].prefixes, ()
    mine = inv.systems.get(me)
    tunnel = next((p for p in inv.vendors[mine.vendor].entry_paths if p.name == name and p.kind == "lan_to_lan"
                   and p.purpose == "interface"), None) if mine is not None and mine.vendor in inv.vendors else None
    if tunnel is not None and name not in inv.systems:  # an application interface through the vendor's tunnel
        return tunnel.prefixes, ()
    if name not in inv.systems and name in inv.tags:
        nets: list[IPv4Network] = []
        fws: set[str] = set()
        for member in inv.tags[name]:
            if member == me:
                continue
            p, f = _peer(inv, member, addr_of)
            nets.extend(p)
            fws.update(f)
        return tuple(sorted(set(nets), key=lambda n: (int(n.network_address), n.prefixlen))), tuple(sorted(fws))
    peer = inv.systems.get(name)
    if peer is None or name not in addr_of or peer.site not in inv.sites:
        return (), ()
    return _host_nets(addr_of[name]), (inv.sites[peer.site].firewall,)


def _clinical_rules(inv: Inventory, s: System, addr_of: dict[str, tuple[IPv4Address, ...]]) -> Iterator[Rule]:
    fw = inv.sites[s.site].firewall
    me = _host_nets(addr_of[s.name])
    for f in s.flows:
        prefixes, peer_fws = _peer(inv, f.peer, addr_of, s.name)
        if not prefixes:
            continue
        fws = tuple(sorted({fw, *peer_fws}))
        src, dst = (prefixes, me) if f.direction == "from" else (me, prefixes)
        for svc_name in f.services:
            svc = inv.services.get(svc_name)
            if svc is None:
                continue
            yield Rule(f"clinical/{s.name}/{f.direction}/{f.peer}/{svc_name}", "clinical", s.vendor, s.name,
                       src, dst, svc_name, svc.protocol, svc.ports, Validity("permanent"), keep=f.keep,
                       peer=f.peer, firewalls=fws, origin=f.origin)


def _infrastructure_rules(inv: Inventory, s: System,
                          addr_of: dict[str, tuple[IPv4Address, ...]]) -> Iterator[Rule]:
    """The shared services a system uses (its site's and the global ones, minus its opt-outs,
    plus its opt-ins): declared once in ``infrastructure:``, one rule per system and service."""
    fw = inv.sites[s.site].firewall
    me = _host_nets(addr_of[s.name])
    for infra in inv.infrastructure.values():
        if infra.site is not None and infra.site != s.site:
            continue
        if (infra.name in s.infra_skip) or (not infra.default and infra.name not in s.infra_add):
            continue
        src, dst = (me, infra.prefixes) if infra.direction == "to" else (infra.prefixes, me)
        for svc_name in infra.services:
            svc = inv.services.get(svc_name)
            if svc is None or not infra.prefixes:
                continue
            yield Rule(f"infrastructure/{s.name}/{infra.direction}/{infra.name}/{svc_name}", "infrastructure",
                       s.vendor, s.name, src, dst, svc_name, svc.protocol, svc.ports, Validity("permanent"),
                       keep=infra.keep, peer=infra.name, firewalls=(fw,), origin=infra.origin)


def _staff_rules(inv: Inventory, addr_of: dict[str, tuple[IPv4Address, ...]]) -> Iterator[Rule]:
    """Hospital staff administration paths: the team's client group to each system it operates."""
    for path in inv.staff.values():
        group = inv.client_groups.get(path.source)
        if group is None:
            continue
        targets = sorted({m for t in path.targets for m in ((t,) if t in inv.systems else inv.tags.get(t, ()))})
        for name in targets:
            s = inv.systems[name]
            if name not in addr_of or s.site not in inv.sites:
                continue
            for svc_name in path.services:
                svc = inv.services.get(svc_name)
                if svc is None:
                    continue
                yield Rule(f"staff/{name}/from/{path.name}/{svc_name}", "staff", s.vendor, name, group.prefixes,
                           _host_nets(addr_of[name]), svc_name, svc.protocol, svc.ports, Validity("permanent"),
                           keep=path.keep, peer=path.name, firewalls=(inv.sites[s.site].firewall,),
                           origin=path.origin)


def _mgmt_rules(inv: Inventory) -> Iterator[Rule]:
    """Management networks to each firewall: always allowed, any protocol, never cut (input chain)."""
    for site in sorted(inv.sites.values(), key=lambda s: s.name):
        dev = inv.devices.get(site.firewall)
        if dev is None or not site.management:
            continue
        yield Rule(f"management/{site.firewall}/{site.name}", "management", "", "", site.management,
                   (IPv4Network(f"{dev.mgmt_address}/32"),), "management", "any", (), Validity("permanent"),
                   log=False, firewalls=(site.firewall,), origin=site.origin)


_FEATURE_OF_VALIDITY = {"until": "validity_until", "scheduled": "scheduled_windows", "on_demand": "on_demand_grants"}
_ALL_FEATURES = (*_FEATURE_OF_VALIDITY.values(), "protocol_any")  # every feature required_features() names


def required_features(rule: Rule) -> list[str]:
    feats = []
    if rule.validity.kind in _FEATURE_OF_VALIDITY:
        feats.append(_FEATURE_OF_VALIDITY[rule.validity.kind])
    if rule.validity.kind == "scheduled" and rule.validity.until:
        feats.append("validity_until")
    if rule.protocol == "any":
        feats.append("protocol_any")
    return feats


@dataclass
class _FwAcc:
    mgmt: set[IPv4Network]
    rules: list[Rule]
    sources: set[IPv4Network]


def _device_intents(inv: Inventory, model: Model) -> tuple[dict[str, DeviceIntent], list[Diagnostic]]:
    diags: list[Diagnostic] = []
    intents: dict[str, DeviceIntent] = {}
    by_fw: dict[str, list[Rule]] = {}
    for r in model.rules:
        for fw in r.firewalls:
            by_fw.setdefault(fw, []).append(r)
    segs_by_site: dict[str, list[Segment]] = {}
    for seg in model.segments:
        segs_by_site.setdefault(seg.site, []).append(seg)
    ports_by_switch: dict[str, list[tuple[str, System]]] = {}  # one pass, not one per switch
    for s in sorted(inv.systems.values(), key=lambda s: s.name):
        for p in s.switch_ports:
            ports_by_switch.setdefault(p.switch, []).append((p.interface, s))
    for name, dev in sorted(inv.devices.items()):
        plat = registry.platforms().get(dev.platform)
        if plat is None or not plat.renderer:
            continue
        if dev.role == "firewall":
            sites = sorted((s for s in inv.sites.values() if s.firewall == name), key=lambda s: s.name)
            if not sites:
                continue  # a firewall no site uses: nothing to render
            rules = by_fw.get(name, [])
            lacks = not all(plat.supports(f) for f in _ALL_FEATURES)
            for r in rules if lacks else ():  # a platform with every feature expresses every rule
                for feat in required_features(r):
                    if not plat.supports(feat):
                        diags.append(Diagnostic(r.origin.file, r.origin.line, r.origin.path,
                                                f"platform {plat.name} of {name} cannot express this rule",
                                                f"a feature {plat.name} has ({', '.join(sorted(plat.features))})",
                                                f"needs {feat} (rule {r.id})",
                                                "change the access mode or the firewall platform", "platform"))
            srcs = {id(r.src): r.src for r in rules if r.kind == "vendor_access"}  # rules share their tuples
            sources = {p for t in srcs.values() for p in t}
            mgmt = sorted({n for s in sites for n in s.management}, key=lambda n: (int(n.network_address), n.prefixlen))
            segs = tuple(seg for s in sites for seg in segs_by_site.get(s.name, []))
            intents[name] = DeviceIntent(name, "firewall", plat.name, ",".join(s.name for s in sites), tuple(mgmt),
                                         tuple(sorted(segs, key=lambda g: g.vlan)), tuple(rules),
                                         tuple(sorted(sources, key=lambda n: (int(n.network_address), n.prefixlen))))
        elif dev.role == "switch":
            for site in inv.sites.values():
                link = next((sw for sw in site.switches if sw.name == name), None)
                if link is None:
                    continue
                # An adopted VLAN outside the site's vlan_range is the hospital's, not vendorwall's: the
                # switch keeps it as configured (the migration plan lists the trunk step by hand).
                lo, hi = site.vlan_range
                segs = tuple(g for g in segs_by_site.get(site.name, []) if not g.adopted or lo <= g.vlan <= hi)
                vlan_of = {sys: seg.vlan for seg in segs for sys in seg.systems}
                ports = []
                for ifname, s in ports_by_switch.get(name, ()):
                    if s.name in vlan_of:
                        ports.append((ifname, vlan_of[s.name], f"vendorwall {s.vendor} {s.name}"))
                intents[name] = DeviceIntent(name, "switch", plat.name, site.name, site.management, segs,
                                             uplink=link.uplink, access_ports=tuple(sorted(ports)))
                break
    return intents, diags


def expand(rule: Rule) -> Iterator[tuple[IPv4Network, IPv4Network, str, int | None]]:
    """Every (src, dst, protocol, port) tuple a rule allows; port None for protocol any."""
    ports: tuple[int | None, ...] = rule.ports if rule.protocol != "any" else (None,)
    for src in rule.src:
        for dst in rule.dst:
            for port in ports:
                yield src, dst, rule.protocol, port
