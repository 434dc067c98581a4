"""Semantic checks on a loaded inventory: references, prefixes, names, policy.

Each check appends diagnostics; none stops the others. Policy checks cite the guidance they
enforce (ANSSI PA-022, CNIL, ISO/IEC 27001:2022 Annex A, PCI DSS as a numeric analogue).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import functools
import importlib.util
import os
import re
from collections.abc import Iterable
from ipaddress import IPv4Network
from typing import Any

from . import forbidden
from .errors import Diagnostic
from .model import EntryPath, Inventory, Origin, System, Vendor
from .yamlsrc import undotted

# Reached for hints.
_LIST_HINT = "run 'vendorwall list {what} INVENTORY' to see them"


def _d(origin: Origin, message: str, expected: str = "", found: str = "", hint: str = "",
       code: str = "invalid", sub: str = "") -> Diagnostic:
    path = f"{origin.path}.{sub}" if sub else origin.path
    return Diagnostic(origin.file, origin.line, path, message, expected, found, hint, code)


@functools.cache
def _accounts_agent() -> Any:
    """The bastion accounts agent's own module (standard library only), loaded from its file without the
    device layer: validation refuses exactly the names the agent refuses on the bastion."""
    path = os.path.join(os.path.dirname(__file__), "devices", "agents", "accounts.py")
    spec = importlib.util.spec_from_file_location("vendorwall_accounts_agent", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def reserved_account(name: str) -> str:
    """Why ``name`` cannot be a vendor account id ("" when it can): root, system users, their patterns."""
    return str(_accounts_agent().reserved(name))


# Interface types whose names switch CLIs accept abbreviated (any unambiguous prefix, any case).
_IF_TYPES = ("GigabitEthernet", "FastEthernet", "TenGigabitEthernet", "TwentyFiveGigE", "FortyGigabitEthernet",
             "HundredGigE", "Ethernet", "Port-channel", "AppGigabitEthernet", "TwoGigabitEthernet",
             "FiveGigabitEthernet")
_IF_NAME = re.compile(r"^\s*([A-Za-z][A-Za-z-]*)\s*(\d[\d/.:]*)\s*$", re.ASCII)


@functools.lru_cache(maxsize=1 << 16)  # few distinct names (uplinks, access ports), asked per system
def port_key(interface: str) -> str:
    """An interface as the switch understands it, for comparisons: ``Gi1/0/48``, ``gi 1/0/48`` and
    ``GigabitEthernet1/0/48`` are one port (IOS/NX-OS take any unambiguous prefix of the type, any case)."""
    m = _IF_NAME.match(interface)
    if not m:
        return interface.strip().lower()
    kind, number = m.group(1).lower(), m.group(2)
    full = [t for t in _IF_TYPES if t.lower().startswith(kind)]
    exact = [t for t in full if t.lower() == kind]
    if exact or len(full) == 1:
        kind = (exact or full)[0].lower()
    elif kind in ("gi", "g"):
        kind = "gigabitethernet"
    elif kind in ("te", "ten"):
        kind = "tengigabitethernet"
    return f"{kind}{number}"


def _ref_hint(name: str, known: Iterable[str], what: str) -> str:
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    if len(known) <= 8:
        return f"known {what}: {', '.join(known) or 'none'}"
    return _LIST_HINT.format(what=what)


def check(inv: Inventory, now: dt.date) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    _check_sites(inv, out)
    _check_prefixes(inv, out)
    _check_cuttable(inv, out)
    _check_names(inv, out)
    _check_policy_services(inv, out)
    _check_groups(inv, out)
    _check_networks(inv, out)
    _check_infrastructure(inv, out)
    _check_staff(inv, out)
    banned = forbidden.specs(inv)
    for v in inv.vendors.values():
        _check_vendor(inv, v, now, out)
        for s in v.systems:
            _check_system(inv, v, s, now, out, banned)
    return precise(inv, [d for d in out if not _about_broken(inv, d)])


_DEVICE_WORDS = ("firewall", "switch", "bastion")


def _about_broken(inv: Inventory, d: Diagnostic) -> bool:
    """A reference to an entry the loader left out (its own errors are reported): not 'unknown'."""
    if d.code != "reference" or not inv.broken:
        return False
    if "*devices*" in inv.broken and any(w in d.message for w in _DEVICE_WORDS):
        return True
    return d.found.strip("'") in inv.broken


def precise(inv: Inventory, diags: list[Diagnostic]) -> list[Diagnostic]:
    return [_precise(inv, d) for d in diags]


def _precise(inv: Inventory, d: Diagnostic) -> Diagnostic:
    """Point at the exact line of the dotted path (checks know the entity, the file knows lines)."""
    src = inv.sources.get(d.file)
    if src is None or not d.path:
        return d
    line = src.line(undotted(d.path))
    return d if line == d.line else dataclasses.replace(d, line=line)


# --------------------------------------------------------------------------- sites & devices


def _check_timezones(inv: Inventory, out: list[Diagnostic]) -> None:
    """Scheduled windows run on the site's clock: an IANA time zone this machine knows."""
    from .render.windows import zone

    if zone(inv.policy.timezone) is None:
        out.append(_d(inv.policy.origin, f"unknown time zone {inv.policy.timezone!r}",
                      "an IANA time zone name such as Europe/Paris", repr(inv.policy.timezone),
                      "windows follow it across daylight-saving changes", "invalid", "timezone"))
    for site in sorted(inv.sites.values(), key=lambda s: s.name):
        if site.timezone and zone(site.timezone) is None:
            out.append(_d(site.origin, f"unknown time zone {site.timezone!r}",
                          "an IANA time zone name such as Europe/Paris", repr(site.timezone),
                          "remove it to use the policy's time zone", "invalid", "timezone"))


def _check_sites(inv: Inventory, out: list[Diagnostic]) -> None:
    _check_timezones(inv, out)
    firewalls = {n for n, d in inv.devices.items() if d.role == "firewall"}
    served: dict[str, list[tuple[int, int, str]]] = {}
    for site in sorted(inv.sites.values(), key=lambda s: s.name):
        lo, hi = site.vlan_range
        for olo, ohi, oname in served.get(site.firewall, []):
            if lo <= ohi and olo <= hi:
                out.append(_d(site.origin, f"VLAN range overlaps site {oname}, served by the same firewall",
                              f"a range disjoint from {olo}..{ohi} (site {oname})", f"{lo}..{hi}",
                              f"firewall {site.firewall} routes both sites' vendor VLANs: each VLAN id once",
                              "vlan", "vlan_range"))
        served.setdefault(site.firewall, []).append((lo, hi, site.name))
    switches = {n for n, d in inv.devices.items() if d.role == "switch"}
    for site in inv.sites.values():
        o = site.origin
        if site.firewall not in firewalls:
            out.append(_d(o, f"unknown firewall {site.firewall!r}", "a host of the firewalls group in hosts.yml",
                          repr(site.firewall), _ref_hint(site.firewall, firewalls, "firewalls"), "reference",
                          "firewall"))
        elif site.name not in inv.devices[site.firewall].sites:
            out.append(_d(o, f"firewall {site.firewall!r} is not in group site_{site.name}",
                          f"hosts.yml: all.children.site_{site.name}.hosts.{site.firewall}", "not listed",
                          f"add {site.firewall} under site_{site.name} in hosts.yml", "reference", "firewall"))
        for i, sw in enumerate(site.switches):
            if sw.name not in switches:
                out.append(_d(o, f"unknown switch {sw.name!r}", "a host of the switches group in hosts.yml",
                              repr(sw.name), _ref_hint(sw.name, switches, "switches"), "reference",
                              f"switches[{i}].name"))
            elif site.name not in inv.devices[sw.name].sites:
                out.append(_d(o, f"switch {sw.name!r} is not in group site_{site.name}",
                              f"hosts.yml: all.children.site_{site.name}.hosts.{sw.name}", "not listed",
                              f"add {sw.name} under site_{site.name} in hosts.yml", "reference",
                              f"switches[{i}].name"))


def _check_prefixes(inv: Inventory, out: list[Diagnostic]) -> None:
    """Overlaps that would make the policy ambiguous or let one party pass for another."""
    owned: list[tuple[IPv4Network, str, Origin, str]] = []  # (prefix, owner label, origin, subpath)
    for site in inv.sites.values():
        for i, p in enumerate(site.segment_pool):
            owned.append((p, f"segment pool of site {site.name}", site.origin, f"segment_pool[{i}]"))
    egress_seen: set[str] = set()
    for v in inv.vendors.values():
        for ep in v.entry_paths:
            if ep.shared:  # one owner for every vendor of the bastion: its shared egress
                if ep.bastion in inv.devices and ep.bastion not in egress_seen:
                    egress_seen.add(ep.bastion)
                    dev = inv.devices[ep.bastion]
                    owned += [(p, f"shared egress of bastion {ep.bastion}", dev.origin, "vw_egress")
                              for p in ep.prefixes]
                continue
            for i, p in enumerate(ep.prefixes):
                sub = {"bastion": "source", "vpn": "pool"}.get(ep.kind, f"remote_subnets[{i}]")
                owned.append((p, f"entry path {ep.name} of vendor {v.name}", ep.origin, sub))
    for g in inv.client_groups.values():
        for i, p in enumerate(g.prefixes):
            owned.append((p, f"client group {g.name}", g.origin, f"prefixes[{i}]"))
    for infra in inv.infrastructure.values():
        for i, p in enumerate(infra.prefixes):
            owned.append((p, f"infrastructure service {infra.name}", infra.origin, f"prefixes[{i}]"))
    for site in inv.sites.values():
        for en in site.networks.values():
            owned.append((en.subnet, f"existing network {en.name} of site {site.name}", en.origin, "subnet"))
    mgmt: list[tuple[IPv4Network, str, Origin, str]] = []
    seen_mgmt: set[IPv4Network] = set()
    for site in inv.sites.values():
        for i, p in enumerate(site.management):
            if p not in seen_mgmt:  # sites may share an admin network
                seen_mgmt.add(p)
                mgmt.append((p, f"management network of site {site.name}", site.origin, f"management[{i}]"))
    # Sort by network then find overlaps with a sweep: O(n log n), not O(n^2).
    items = sorted(owned + mgmt, key=lambda t: (int(t[0].network_address), -t[0].prefixlen))
    active: list[tuple[IPv4Network, str, Origin, str]] = []
    for item in items:
        net = item[0]
        active = [a for a in active if int(a[0].broadcast_address) >= int(net.network_address)]
        for a in active:
            if _both_client_groups(a[1], item[1]):
                continue  # client groups may nest (e.g. all nursing stations / ICU stations)
            if _pool_and_network(a[1], item[1]):
                continue  # an existing network inside a segment pool: allocation works around it
            later, first = (item, a) if (item[2].file, item[2].line) >= (a[2].file, a[2].line) else (a, item)
            first_at = _line_of(inv, first[2], first[3])
            out.append(_d(later[2], "overlapping prefixes",
                          f"{later[0]} ({later[1]}) disjoint from {first[1]}",
                          f"overlaps {first[0]} ({first[1]}, {first_at})",
                          "each party needs its own addresses so the firewall can tell them apart",
                          "prefix", later[3]))
        active.append(item)


def _check_cuttable(inv: Inventory, out: list[Diagnostic]) -> None:
    """Every vendor entry path can be cut: none overlaps a device's management address, which isolation
    never quarantines (management networks, client groups and infrastructure are refused by the overlap
    sweep above). A bastion's shared egress is cut on the bastion, by the vendor's accounts: it needs some."""
    addrs = sorted(((IPv4Network(f"{d.mgmt_address}/32"), n, d.role) for n, d in inv.devices.items()
                    if _is_address(d.mgmt_address)), key=lambda t: (int(t[0].network_address), t[1]))
    for v in sorted(inv.vendors.values(), key=lambda v: v.name):
        for ep in v.entry_paths:
            if ep.shared:
                dev = inv.devices.get(ep.bastion or "")
                if dev is not None and dev.role == "bastion" and not ep.prefixes:
                    out.append(_d(ep.origin, f"bastion {ep.bastion} declares no shared egress",
                                  f"hosts.yml: vw_egress on {ep.bastion} (the address it connects to targets from)",
                                  "no vw_egress", f"add vw_egress to {ep.bastion} in hosts.yml ({dev.origin}), or "
                                  "give the vendor its own source", "reference", "shared_egress"))
                if not v.accounts:
                    out.append(_d(ep.origin, "vendor behind a shared bastion egress without any account",
                                  "the vendor's accounts on the bastion: isolating the vendor locks them (the shared "
                                  "egress is never quarantined)", "no accounts",
                                  "declare the vendor's individual accounts, or give it its own source", "policy",
                                  "shared_egress"))
                continue
            for i, p in enumerate(ep.prefixes):
                sub = {"bastion": "source", "vpn": "pool"}.get(ep.kind, f"remote_subnets[{i}]")
                for net, name, role in addrs:
                    if net.overlaps(p):
                        out.append(_d(ep.origin, "vendor source overlaps a device's management address",
                                      f"{p} disjoint from every device's management address",
                                      f"contains {net.network_address}, the management address of {role} {name} "
                                      f"({inv.devices[name].origin})",
                                      "isolation never quarantines management, so this entry path could never be "
                                      "cut: give the vendor its own source address", "prefix", sub))


def _is_address(text: str) -> bool:
    try:
        IPv4Network(f"{text}/32")
    except ValueError:
        return False
    return True


def _line_of(inv: Inventory, origin: Origin, sub: str) -> str:
    """``file:line`` of a sub-path of an object (for texts that point at a second place)."""
    src = inv.sources.get(origin.file)
    if src is None or not sub:
        return str(origin)
    return f"{origin.file}:{src.line(undotted(f'{origin.path}.{sub}'))}"


def _pool_and_network(a: str, b: str) -> bool:
    labels = sorted((a.split(" of site ")[0].split(" ")[0], b.split(" of site ")[0].split(" ")[0]))
    return labels == ["existing", "segment"] and a.rsplit(" ", 1)[-1] == b.rsplit(" ", 1)[-1]


def _both_client_groups(a: str, b: str) -> bool:
    """Client groups (and the infrastructure servers inside them) may nest."""
    internal = ("client group", "infrastructure service")
    return a.startswith(internal) and b.startswith(internal)


def _check_names(inv: Inventory, out: list[Diagnostic]) -> None:
    for name, g in inv.client_groups.items():
        if name in inv.systems:
            s = inv.systems[name]
            out.append(_d(s.origin, f"system name {name!r} is also a client group", "names unique across "
                          "systems and client groups", f"client group at {g.origin}",
                          "flows refer to both by name: rename one", "duplicate", "name"))
        if g.site and g.site not in inv.sites:
            out.append(_d(g.origin, f"unknown site {g.site!r}", "a site of sites", repr(g.site),
                          _ref_hint(g.site, inv.sites, "sites"), "reference", "site"))
    accounts: dict[str, Origin] = {}
    for v in inv.vendors.values():
        for a in v.accounts:
            if a.id in accounts:
                out.append(_d(a.origin, f"duplicate account id {a.id!r}", "account ids unique across vendors",
                              f"also at {accounts[a.id]}", "one login per person, named after the person "
                              "(ANSSI PA-022: individual accounts)", "duplicate", "id"))
            accounts.setdefault(a.id, a.origin)
    ports: dict[tuple[str, str], Origin] = {}
    for s in inv.systems.values():
        for i, p in enumerate(s.switch_ports):
            key = (p.switch, port_key(p.interface))
            if key in ports:
                out.append(_d(s.origin, f"switch port {p.switch} {p.interface} used twice",
                              "one system per access port", f"also at {ports[key]}", "", "duplicate",
                              f"switch_ports[{i}]"))
            ports.setdefault(key, s.origin)


def _check_policy_services(inv: Inventory, out: list[Diagnostic]) -> None:
    for i, name in enumerate(inv.policy.forbidden_services):
        if "/" in name and forbidden.parse_spec(name) is None:
            out.append(_d(inv.policy.origin, f"malformed port range {name!r} in forbidden_services",
                          "tcp/PORT or udp/FIRST-LAST with 1 <= FIRST <= LAST <= 65535", repr(name), "",
                          "invalid", f"forbidden_services[{i}]"))
        elif "/" not in name and name not in inv.services and name not in forbidden.WELL_KNOWN:
            out.append(_d(inv.policy.origin, f"unknown service {name!r} in forbidden_services",
                          "a service of the catalogue, telnet, smb, any, or a port range such as tcp/23",
                          repr(name), _ref_hint(name, inv.services, "services"), "reference", "forbidden_services"))

    logs, alerts = inv.policy.connection_logs, inv.policy.alerts
    if logs.syslog is not None and logs.syslog.tls and not logs.syslog.ca_file:
        out.append(_d(inv.policy.origin, "syslog over TLS without a CA certificate",
                      "ca_file: the CA certificate on the firewalls that signed the server's certificate",
                      "tls: true and no ca_file", "without it the firewall cannot check the server (docs/access.md)",
                      sub="connection_logs.syslog"))
    if alerts.webhook is not None and not (alerts.webhook.url or alerts.webhook.url_env):
        out.append(_d(inv.policy.origin, "webhook without an address", "url, or url_env: the environment variable "
                      "holding it (a URL with a token)", "neither", "docs/alerts.md", sub="alerts.webhook"))


def _check_tunnel(inv: Inventory, v: Vendor, ep: EntryPath, out: list[Diagnostic]) -> None:
    """A LAN-to-LAN tunnel's confinement and retirement plan refer to real things."""
    mine = {s.name for s in v.systems}
    for i, name in enumerate(ep.systems):
        if name not in mine:
            out.append(_d(ep.origin, f"tunnel confined to unknown system {name!r}", f"a system of vendor {v.name}",
                          repr(name), _ref_hint(name, mine, "systems"), "reference", f"systems[{i}]"))
    for i, name in enumerate(ep.services):
        if name not in inv.services:
            out.append(_d(ep.origin, f"unknown service {name!r}", "a service of the catalogue", repr(name),
                          _ref_hint(name, inv.services, "services"), "reference", f"services[{i}]"))
    if ep.replacement:
        rep = next((p for p in v.entry_paths if p.name == ep.replacement), None)
        if rep is None or rep.kind == "lan_to_lan":
            out.append(_d(ep.origin, f"replacement {ep.replacement!r} is not a bastion or VPN of vendor {v.name}",
                          "the name of the vendor's bastion or vpn entry path", repr(ep.replacement),
                          _ref_hint(ep.replacement, [p.name for p in v.entry_paths if p.kind != "lan_to_lan"],
                                    "entry paths"), "reference", "replacement"))
    if ep.purpose == "interface" and (ep.systems or ep.services):
        out.append(_d(ep.origin, "interface tunnel with maintenance confinement", "no systems/services on an "
                      "interface tunnel", "systems or services", "the flows naming the tunnel say what it carries",
                      "invalid", "systems" if ep.systems else "services"))


# --------------------------------------------------------------------------- brownfield: existing networks


def _check_networks(inv: Inventory, out: list[Diagnostic]) -> None:
    """Existing networks and the segments adopting them. Each conflict says which migration step
    resolves it (docs/migration.md): vendorwall confines one vendor per segment."""
    vlans: dict[tuple[str, int], str] = {}  # (firewall, vid) -> network or site range
    for site in sorted(inv.sites.values(), key=lambda s: s.name):
        for net in site.networks.values():
            o = net.origin
            if net.gateway not in net.subnet or net.gateway in (net.subnet.network_address,
                                                                  net.subnet.broadcast_address):
                out.append(_d(o, "gateway outside its network", f"a host address of {net.subnet}", str(net.gateway),
                              "the address the network's devices use as their gateway today", "prefix", "gateway"))
            key = (site.firewall, net.vlan)
            if key in vlans:
                out.append(_d(o, f"VLAN {net.vlan} used twice on firewall {site.firewall}", "one VLAN id per firewall",
                              f"also network {vlans[key]}", "", "vlan", "vlan"))
            vlans.setdefault(key, f"{net.name} of site {site.name}")
    users: dict[tuple[str, str], list[System]] = {}
    for s in sorted(inv.systems.values(), key=lambda s: s.name):
        if not s.network:
            continue
        st = inv.sites.get(s.site)
        if st is None:
            continue
        nw = st.networks.get(s.network)
        if nw is None:
            known = sorted(st.networks)
            out.append(_d(s.origin, f"unknown existing network {s.network!r}",
                          f"a network of sites.{st.name}.existing_networks", repr(s.network),
                          _ref_hint(s.network, known, "existing networks") if known else
                          f"declare it under sites.{st.name}.existing_networks (subnet, vlan, gateway, routed_by)",
                          "reference", "network"))
            continue
        users.setdefault((st.name, nw.name), []).append(s)
        if not s.addresses:
            out.append(_d(s.origin, "system in an existing network without its address",
                          f"addresses: the device's address in {nw.subnet} (it keeps it)", "no addresses",
                          f"write the address it has today, or remove 'network: {nw.name}' to have a new segment "
                          "allocated (the migration plan then re-addresses it)", "prefix", "network"))
        for i, a in enumerate(s.addresses):
            if a not in nw.subnet:
                out.append(_d(s.origin, f"address outside network {nw.name}", f"an address in {nw.subnet}",
                              str(a), f"migration step: re-address the device into {nw.subnet}, or remove "
                              f"'network: {nw.name}' so it moves to a segment of its own (write its address today "
                              "as current.address: the migration plan lists the re-addressing)", "prefix",
                              f"addresses[{i}]"))
            elif a == nw.gateway:
                out.append(_d(s.origin, "address is the network's gateway", f"a host address of {nw.subnet} other "
                              f"than {nw.gateway}", str(a), "the firewall takes the gateway address over",
                              "prefix", f"addresses[{i}]"))
    for (_site_name, net_name), members in sorted(users.items()):
        vendors = sorted({m.vendor for m in members})
        if len(vendors) > 1:
            first = vendors[0]
            for m in members:
                if m.vendor == first:
                    continue
                mine = ", ".join(x.name for x in members if x.vendor == first)
                out.append(_d(m.origin, f"two vendors in existing network {net_name}",
                              f"the systems of one vendor per adopted network (it holds {first}'s {mine})",
                              f"{m.name} of vendor {m.vendor}",
                              f"migration step: {m.name} moves to a segment of its own: remove 'network: {net_name}' "
                              f"here and write its address today as current: {{address: ...}}; 'vendorwall plan "
                              "--migration' then lists its re-addressing (a firewall cannot filter between two "
                              "devices of one subnet)", "prefix", "network"))
            continue
        keys = sorted({m.segment_key for m in members})
        if len(keys) > 1:
            for m in members[1:]:
                out.append(_d(m.origin, f"existing network {net_name} adopted by {len(keys)} segments",
                              "one segment per existing network", f"{m.name} (segment {m.segment_key}) and "
                              f"{members[0].name} (segment {members[0].segment_key})",
                              f"make the vendor's systems of {net_name} 'segment: shared' (one segment, as today), "
                              "or move this one out (remove 'network:'; the migration plan re-addresses it)",
                              "prefix", "network"))


# --------------------------------------------------------------------------- groups, infrastructure, staff


def _check_groups(inv: Inventory, out: list[Diagnostic]) -> None:
    for s in inv.systems.values():
        for i, t in enumerate(s.tags):
            if t in inv.systems or t in inv.client_groups:
                what = "system" if t in inv.systems else "client group"
                out.append(_d(s.origin, f"tag {t!r} is also a {what} name", "names unique across systems, client "
                              "groups and tags", repr(t), "flows name all three: rename the tag", "duplicate",
                              f"tags[{i}]"))


def _check_infrastructure(inv: Inventory, out: list[Diagnostic]) -> None:
    for infra in inv.infrastructure.values():
        o = infra.origin
        if infra.site is not None and infra.site not in inv.sites:
            out.append(_d(o, f"unknown site {infra.site!r}", "a site of sites (or no site: every site)",
                          repr(infra.site), _ref_hint(infra.site, inv.sites, "sites"), "reference", "site"))
        for i, name in enumerate(infra.services):
            if name not in inv.services:
                out.append(_d(o, f"unknown service {name!r}", "a service of the catalogue", repr(name),
                              _ref_hint(name, inv.services, "services"), "reference", f"services[{i}]"))
    for s in inv.systems.values():
        for key, names in (("skip", s.infra_skip), ("add", s.infra_add)):
            for i, name in enumerate(names):
                entry = inv.infrastructure.get(name)
                sub = f"infrastructure.{key}[{i}]"
                if entry is None:
                    out.append(_d(s.origin, f"unknown infrastructure service {name!r}", "a key of infrastructure",
                                  repr(name), _ref_hint(name, inv.infrastructure, "infrastructure services"),
                                  "reference", sub))
                elif entry.site is not None and entry.site != s.site:
                    out.append(_d(s.origin, f"infrastructure service {name!r} is for site {entry.site}",
                                  f"a service of site {s.site} or of every site", repr(name), "", "invalid", sub))
                elif key == "add" and entry.default:
                    out.append(_d(s.origin, f"infrastructure service {name!r} already applies to every system",
                                  "add: only services declared with default: false", repr(name),
                                  "remove it from add", "invalid", sub))
                elif key == "skip" and not entry.default:
                    out.append(_d(s.origin, f"infrastructure service {name!r} is opt-in (default: false)",
                                  "skip: only services that apply by default", repr(name), "remove it from skip",
                                  "invalid", sub))


def _check_staff(inv: Inventory, out: list[Diagnostic]) -> None:
    for path in inv.staff.values():
        o = path.origin
        if path.source not in inv.client_groups:
            out.append(_d(o, f"unknown client group {path.source!r}", "the client group of the team's workstations",
                          repr(path.source), _ref_hint(path.source, inv.client_groups, "client groups"), "reference",
                          "from"))
        for i, t in enumerate(path.targets):
            if t not in inv.systems and t not in inv.tags:
                out.append(_d(o, f"unknown system or tag {t!r}", "a system or a tag of systems", repr(t),
                              _ref_hint(t, [*inv.systems, *inv.tags], "systems and tags"), "reference", f"to[{i}]"))
        for i, name in enumerate(path.services):
            if name not in inv.services:
                out.append(_d(o, f"unknown service {name!r}", "a service of the catalogue", repr(name),
                              _ref_hint(name, inv.services, "services"), "reference", f"services[{i}]"))


# --------------------------------------------------------------------------- vendors


def _check_vendor(inv: Inventory, v: Vendor, now: dt.date, out: list[Diagnostic]) -> None:
    o = v.origin
    pol = inv.policy
    if not v.hotline:
        out.append(_d(o, "vendor without a hotline", "the phone number the vendor's support answers",
                      "an empty hotline", "the on-call engineer needs it to reach the vendor", "policy", "hotline"))
    if dt.date.min < v.contract_ends < now:  # date.min: the date did not parse (reported by the loader)
        out.append(_d(o, "contract ended", f"a contract valid on {now.isoformat()}",
                      f"ended {v.contract_ends.isoformat()}",
                      "renew the contract or remove the vendor's access (ISO/IEC 27001 A.5.20)", "policy",
                      "contract.ends"))
    names: set[str] = set()
    bastions = {n for n, d in inv.devices.items() if d.role == "bastion"}
    for ep in v.entry_paths:
        if ep.name in names:
            out.append(_d(ep.origin, f"duplicate entry path name {ep.name!r}", "unique names per vendor",
                          "a second one", "", "duplicate", "name"))
        names.add(ep.name)
        if ep.kind == "bastion" and ep.bastion not in bastions:
            out.append(_d(ep.origin, f"unknown bastion {ep.bastion!r}", "a host of the bastions group",
                          repr(ep.bastion), _ref_hint(ep.bastion or "", bastions, "bastions"), "reference",
                          "bastion"))
        if ep.kind == "lan_to_lan":
            missing = [w for w, ok in (("justification", ep.justification), ("retire_by", ep.retire_by)) if not ok]
            if missing:
                out.append(_d(ep.origin, "LAN-to-LAN tunnel without " + " and ".join(missing),
                              "justification and retire_by (a date to retire the tunnel)",
                              "missing " + ", ".join(missing),
                              "LAN-to-LAN access is to be avoided; when kept, say why and until when",
                              "policy"))
            elif ep.retire_by and ep.retire_by < now:
                out.append(_d(ep.origin, "LAN-to-LAN tunnel past its retirement date",
                              f"retire_by after {now.isoformat()}", ep.retire_by.isoformat(),
                              "retire the tunnel or set a new date with a fresh justification", "policy",
                              "retire_by"))
            _check_tunnel(inv, v, ep, out)
    for a in v.accounts:
        why = reserved_account(a.id)
        if why:
            out.append(_d(a.origin, "reserved account name", "a personal login, not a system account's name",
                          f"{a.id!r}: {why}", "name the account after the person (e.g. acme.jmartin); vendorwall "
                          "never creates or changes root, system accounts (uid < 1000) or administrators' names",
                          "policy", "id"))
        if a.shared:
            out.append(_d(a.origin, "shared account", "an individual account per person", "shared: true",
                          "individual accounts only (ANSSI PA-022)", "policy", "shared"))
        if a.expires == dt.date.min:
            continue
        # the lifetime runs from the creation, or from today if that is earlier (a 'created' in the future
        # would otherwise let an account live longer than the policy allows)
        start = min(a.created, now) if a.created else now
        life = (a.expires - start).days
        if life > pol.account_max_lifetime_days:
            out.append(_d(a.origin, "account lifetime over the policy maximum",
                          f"at most {pol.account_max_lifetime_days} days from "
                          f"{'creation' if a.created and a.created <= now else 'today'} ({start.isoformat()})",
                          f"{life} days (expires {a.expires.isoformat()})",
                          f"set expires on or before {(start + dt.timedelta(days=pol.account_max_lifetime_days))}",
                          "policy", "expires"))
        if a.expires < now:
            out.append(_d(a.origin, "account expired", f"expires after {now.isoformat()}", a.expires.isoformat(),
                          "remove the account or renew it after review", "policy", "expires"))


def _check_system(inv: Inventory, v: Vendor, s: System, now: dt.date, out: list[Diagnostic],
                  banned: list[forbidden.Forbidden]) -> None:
    o = s.origin
    pol = inv.policy
    site = inv.sites.get(s.site)
    if site is None:
        out.append(_d(o, f"unknown site {s.site!r}", "a site of sites", repr(s.site),
                      _ref_hint(s.site, inv.sites, "sites"), "reference", "site"))
    elif s.network:
        pass  # an adopted existing network: checked by _check_networks
    else:
        for i, addr in enumerate(s.addresses):
            if not any(addr in p for p in site.segment_pool):
                inside = next((n for n in site.networks.values() if addr in n.subnet), None)
                hint = ("remove the address to have one allocated" if inside is None else
                        f"it is in existing network {inside.name} ({inside.subnet}): adopt it with 'network: "
                        f"{inside.name}' (the device keeps its address), or move the device: replace 'addresses' "
                        f"by current: {{address: {addr}}} (the migration plan lists its re-addressing)")
                out.append(_d(o, "system address outside its site",
                              f"an address in the segment pool of site {site.name} "
                              f"({', '.join(map(str, site.segment_pool))})", str(addr),
                              hint, "prefix", f"addresses[{i}]"))
        if s.vlan is not None and not site.vlan_range[0] <= s.vlan <= site.vlan_range[1]:
            out.append(_d(o, "VLAN id outside the site range",
                          f"{site.vlan_range[0]}..{site.vlan_range[1]} (site {site.name})", str(s.vlan),
                          "remove 'vlan' to have one allocated", "vlan", "vlan"))
        site_switches = {sw.name for sw in site.switches}
        uplinks = {(sw.name, port_key(sw.uplink)) for sw in site.switches}
        for i, p in enumerate(s.switch_ports):
            if p.switch not in site_switches:
                out.append(_d(o, f"switch {p.switch!r} does not serve site {site.name}",
                              "a switch listed in the site's switches", repr(p.switch),
                              _ref_hint(p.switch, site_switches, "switches"), "reference", f"switch_ports[{i}]"))
            elif (p.switch, port_key(p.interface)) in uplinks:
                out.append(_d(o, "access port is the switch's uplink", "an access port",
                              f"{p.switch} {p.interface}", "the uplink trunks every vendor VLAN to the firewall",
                              "invalid", f"switch_ports[{i}]"))
    a = s.access
    ao = a.origin
    paths = {ep.name for ep in v.entry_paths}
    by_name = {ep.name: ep for ep in v.entry_paths}
    for i, name in enumerate(a.via):
        if name not in paths:
            out.append(_d(ao, f"unknown entry path {name!r}", f"an entry path of vendor {v.name}", repr(name),
                          _ref_hint(name, paths, "entry paths"), "reference", f"via[{i}]"))
            continue
        ep = by_name[name]
        if ep.kind == "lan_to_lan" and ep.purpose == "interface":
            out.append(_d(ao, f"access via interface tunnel {name!r}", "a maintenance entry path",
                          f"{name} carries an application interface (purpose: interface)",
                          "model the interface as a flow naming the tunnel, with its justification; reach the "
                          "system for maintenance through a bastion or a VPN", "policy", f"via[{i}]"))
        elif ep.kind == "lan_to_lan" and ep.systems and s.name not in ep.systems:
            rep = by_name.get(ep.replacement)
            instead = ep.replacement if rep is not None and rep.kind != "lan_to_lan" else "a bastion or a VPN"
            out.append(_d(ao, f"tunnel {name!r} is confined to other systems", f"one of: {', '.join(ep.systems)}",
                          s.name, f"add {s.name} to the tunnel's systems (a reviewer sees the tunnel widen) or reach "
                          f"it through {instead}", "policy", f"via[{i}]"))
    for i, name in enumerate(a.services):
        svc = inv.services.get(name)
        if svc is None:
            out.append(_d(ao, f"unknown service {name!r}", "a service of the catalogue", repr(name),
                          _ref_hint(name, inv.services, "services"), "reference", f"services[{i}]"))
            continue
        hit = forbidden.hits(banned, svc.protocol, svc.ports)
        if hit and name not in a.exception_services:  # by the ports it opens, whatever its name
            what = f"forbidden service {name!r}" if name in pol.forbidden_services else \
                f"service {name!r} ({svc.label}) opens forbidden ports"
            out.append(_d(ao, f"{what} without exception",
                          "ports outside policy.forbidden_services, or an exception with a justification",
                          f"{name}: {svc.label}; forbidden: {forbidden.describe(hit)}",
                          f"add access.exception: {{services: [{name}], justification: ...}} "
                          "or use a narrower service", "policy", f"services[{i}]"))
    for i, name in enumerate(a.exception_services):
        if name not in a.services:
            out.append(_d(ao, f"exception for {name!r}, which the access does not use",
                          "exception services listed in access.services", repr(name),
                          "remove it from the exception", "invalid", f"exception.services[{i}]"))
    if a.mode == "permanent":
        missing = [w for w, ok in (("justification", a.justification), ("until", a.until)) if not ok]
        if missing:
            out.append(_d(ao, "permanent access without " + " and ".join(missing),
                          "justification and until (an end date)", "missing " + ", ".join(missing),
                          "prefer on_demand; permanent access needs a reason and an end (CNIL)", "policy"))
    if a.until is not None:
        if a.until < now:
            out.append(_d(ao, "access past its end date", f"until after {now.isoformat()}", a.until.isoformat(),
                          "remove the access or renew it after review", "policy", "until"))
        elif (a.until - now).days > pol.max_validity_days:
            out.append(_d(ao, "access validity over the policy maximum",
                          f"until at most {pol.max_validity_days} days ahead "
                          f"({(now + dt.timedelta(days=pol.max_validity_days)).isoformat()})",
                          a.until.isoformat(), "review it yearly", "policy", "until"))
        if a.until > v.contract_ends >= now:
            out.append(_d(ao, "access outlives the vendor's contract",
                          f"until at most the contract end ({v.contract_ends.isoformat()})", a.until.isoformat(),
                          "", "policy", "until"))
    if a.mode == "on_demand":
        limit = pol.on_demand_max_hours
        if a.max_hours is not None and a.max_hours > limit:
            out.append(_d(ao, "on-demand window over the policy maximum", f"at most {limit} hours",
                          f"{a.max_hours} hours", "", "policy", "max_hours"))
    elif a.max_hours is not None:
        out.append(_d(ao, "max_hours applies to on_demand access only", "no max_hours", str(a.max_hours),
                      "", "invalid", "max_hours"))
    if a.mode == "scheduled":
        if a.window is None:
            out.append(_d(ao, "scheduled access without a window", "window: {days, start, end}", "no window",
                          "", "invalid"))
        elif a.window.start >= a.window.end:
            out.append(_d(ao, "empty or overnight window", "start before end, same day",
                          f"{a.window.start}-{a.window.end}", "split an overnight window in two days",
                          "invalid", "window"))
    elif a.window is not None:
        out.append(_d(ao, "a window applies to scheduled access only", "no window", "window", "", "invalid",
                      "window"))
    seen_flows: dict[tuple[str, str, str], Origin] = {}
    for f in s.flows:
        for name in f.services:
            key = (f.direction, f.peer, name)
            if key in seen_flows:
                out.append(_d(f.origin, f"flow declared twice: {f.direction} {f.peer} on {name}",
                              "each (direction, peer, service) once per system", f"also at {seen_flows[key]}",
                              "merge the two entries (keep: true wins if either needs it)", "duplicate"))
            seen_flows.setdefault(key, f.origin)
        if f.peer == s.name:
            out.append(_d(f.origin, "flow to itself", "another system or a client group", repr(f.peer), "",
                          "invalid", f.direction))
        elif (tunnel := next((p for p in v.entry_paths if p.name == f.peer and p.kind == "lan_to_lan"), None)):
            if tunnel.purpose != "interface":
                out.append(_d(f.origin, f"flow through maintenance tunnel {f.peer!r}", "an interface tunnel "
                              "(purpose: interface) of the vendor", f"{f.peer} is a maintenance entry path",
                              "a tunnel that carries an application interface is declared with purpose: interface",
                              "policy", f.direction))
            elif not f.justification:
                out.append(_d(f.origin, f"interface flow through LAN-to-LAN tunnel {f.peer!r} without justification",
                              "justification: why the interface needs the vendor's network", "no justification",
                              "an application interface crossing a LAN-to-LAN tunnel is a clinical flow with its own "
                              "justification, reviewed like a permanent access", "policy", f.direction))
        elif f.peer not in inv.client_groups and f.peer not in inv.systems and f.peer not in inv.tags:
            known = list(inv.client_groups) + list(inv.systems) + list(inv.tags)
            out.append(_d(f.origin, f"unknown flow peer {f.peer!r}", "a client group, a system or a tag",
                          repr(f.peer), _ref_hint(f.peer, known, "client groups and systems"), "reference",
                          f.direction))
        elif f.peer in inv.tags and inv.tags[f.peer] == (s.name,):
            out.append(_d(f.origin, f"flow to its own group {f.peer!r}", "a group with other systems than this one",
                          f"group {f.peer} holds only {s.name}", "", "invalid", f.direction))
        for j, name in enumerate(f.services):
            if name not in inv.services:
                out.append(_d(f.origin, f"unknown service {name!r}", "a service of the catalogue", repr(name),
                              _ref_hint(name, inv.services, "services"), "reference", f"services[{j}]"))
