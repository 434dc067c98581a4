"""Load an inventory directory into typed objects, collecting every problem.

Layout (see docs/inventory.md)::

    INVENTORY/hosts.yml                      Ansible inventory: devices by role and site (or any source
                                             Ansible reads: INI, group_vars/, host_vars/, plugins)
    INVENTORY/vendorwall/**/*.yml            domain files, merged (policy, services, sites, ...)
    INVENTORY/vendorwall/allocations.lock.yml  generated allocation lock (not a domain file)

``load`` does the structural part (YAML, schema, merge, types); ``vendorwall.validate`` does
the semantic checks on the result.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import re
from collections.abc import Mapping
from dataclasses import astuple, dataclass, field, replace
from ipaddress import IPv4Address, IPv4Network, ip_address, ip_network
from typing import Any

from . import cache, hostsrc, schema
from .errors import Diagnostic, UsageError
from .model import (
    Access,
    Account,
    Alerts,
    ClientGroup,
    ConnectionLogs,
    Device,
    EmailChannel,
    EntryPath,
    ExistingNetwork,
    Flow,
    InfraService,
    Inventory,
    Origin,
    Policy,
    Service,
    Site,
    StaffPath,
    SwitchLink,
    SwitchPort,
    SyslogTarget,
    System,
    Vendor,
    WebhookChannel,
    Window,
)
from .yamlsrc import Path, Source, dotted, leaves, leaves_diag, load_bytes, load_file, read_file, undotted

DOMAIN_DIR = "vendorwall"
LOCK_FILE = "allocations.lock.yml"
ROLE_GROUPS = hostsrc.ROLE_GROUPS
SITE_GROUP_PREFIX = hostsrc.SITE_GROUP_PREFIX
MAX_PORT_RANGE = 1024
_SINGULAR = {"services": "service", "sites": "site", "client_groups": "client group", "vendors": "vendor",
             "infrastructure": "infrastructure service", "staff": "staff path"}
ENTRY_KEYS = ("services", "sites", "client_groups", "vendors", "infrastructure", "staff")  # top-level maps of names
ALL_DEVICES = "*devices*"  # in Inventory.broken: hosts.yml could not be read, every device reference is moot


@dataclass(frozen=True)
class Loc:
    """A value's place: its file's Source and its path inside that file."""

    src: Source
    path: Path

    def at(self, *more: str | int) -> Loc:
        return Loc(self.src, (*self.path, *more))

    @property
    def origin(self) -> Origin:
        return Origin(self.src.file, self.src.line(self.path), dotted(self.path))

    def diag(self, message: str, expected: str = "", found: str = "", hint: str = "",
             code: str = "invalid") -> Diagnostic:
        return Diagnostic(self.src.file, self.src.line(self.path), dotted(self.path), message, expected,
                          found, hint, code)


class Collector:
    def __init__(self) -> None:
        self.diags: list[Diagnostic] = []
        self.broken_devices: set[str] = set()  # hosts left out of the device list (bad platform, address)

    def add(self, d: Diagnostic) -> None:
        self.diags.append(d)

    # typed conversions that report instead of raising ---------------------------------
    def network(self, value: str, loc: Loc) -> IPv4Network | None:
        try:
            return IPv4Network(value)
        except ValueError:
            pass
        try:
            net = ip_network(value, strict=False)
        except ValueError:
            self.add(loc.diag("malformed prefix", "an IPv4 prefix such as 10.1.20.0/24", repr(value),
                              code="prefix"))
            return None
        if isinstance(net, IPv4Network):
            self.add(loc.diag("malformed prefix: host bits set", f"the network address ({net})",
                              repr(value), f"write {net}", code="prefix"))
        else:  # pragma: no cover - the schema only lets dotted quads through
            self.add(loc.diag("IPv6 is not supported yet", "an IPv4 prefix", repr(value), code="prefix"))
        return None

    def address(self, value: str, loc: Loc) -> IPv4Address | None:
        try:
            addr = ip_address(value)
        except ValueError:
            self.add(loc.diag("malformed address", "an IPv4 address such as 10.64.0.18", repr(value),
                              code="prefix"))
            return None
        return addr if isinstance(addr, IPv4Address) else None

    def date(self, value: Any, loc: Loc) -> dt.date | None:
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            self.add(loc.diag("invalid date", "a calendar date YYYY-MM-DD", repr(value), code="date"))
            return None


# --------------------------------------------------------------------------- hosts.yml


def _load_hosts(root: str, shown_root: str, col: Collector,
                hosts: Mapping[str, Any] | None = None) -> dict[str, Device]:
    """The devices: from ``hosts`` (the play's inventory, sent by the action plugins) when given, else from
    the inventory directory, read the way Ansible reads it (:mod:`vendorwall.hostsrc`)."""
    if hosts is not None:
        return _devices(hostsrc.from_snapshot(hosts.get("hosts") or {}, hosts.get("secrets")), col)
    path = os.path.join(root, hostsrc.HOSTS_FILE)
    shown = os.path.join(shown_root, hostsrc.HOSTS_FILE)
    entries: list[hostsrc.HostEntry] | None
    if os.path.exists(path) and leaves(path, root):  # never read: its content would reach the messages
        col.add(leaves_diag(shown))
        entries = None
    elif os.path.exists(path):
        data, src, diags = load_file(path, shown)
        for d in diags:
            col.add(d)
        if diags:
            col.broken_devices.add(ALL_DEVICES)
            return {}
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            text = ""
        if hostsrc.fast_eligible(root, data, text):
            entries = hostsrc.read_fast(data, Loc(src, ()), col.add)
        else:
            entries = hostsrc.read_ansible(root, shown_root, col.add)
    elif hostsrc.ansible_sources(root):
        entries = hostsrc.read_ansible(root, shown_root, col.add)
    else:
        col.add(Diagnostic(shown, 0, "", "missing device inventory",
                           "an Ansible inventory: hosts.yml (YAML), an INI file or an inventory plugin's configuration",
                           "no such file", "see docs/inventory.md for its layout", code="io"))
        entries = None
    if entries is None:
        col.broken_devices.add(ALL_DEVICES)
        return {}
    return _devices(entries, col)


def _devices(entries: list[hostsrc.HostEntry], col: Collector) -> dict[str, Device]:
    """Devices from host entries: role from the role group, sites from the site groups, platform, address."""
    from .platforms import registry

    devices: dict[str, Device] = {}
    for e in sorted(entries, key=lambda e: e.name):
        roles = [g for g in e.groups if g in ROLE_GROUPS]
        sites = tuple(sorted(g[len(SITE_GROUP_PREFIX):] for g in e.groups if g.startswith(SITE_GROUP_PREFIX)))
        if not roles:
            if sites:
                g = next(g for g in e.groups if g.startswith(SITE_GROUP_PREFIX))
                place = e.group_where.get(g, e.where)
                col.add(place.diag(f"site group lists unknown device {e.name!r}",
                                   "a host of firewalls, switches or bastions", repr(e.name),
                                   "declare it in a role group with vw_platform and ansible_host", code="reference"))
            continue  # another host of the inventory (localhost, a jump host...): not a device of vendorwall
        role = ROLE_GROUPS[roles[0]]
        if len(roles) > 1:  # its variables mix both listings: nothing more to check until it has one role
            for other in roles[1:]:
                col.add(e.group_where.get(other, e.where).diag(
                    "device in two role groups", "each device in one of firewalls, switches, bastions",
                    f"also in {roles[0]}"))
            col.broken_devices.add(e.name)
            continue
        hvars = e.vars

        def at(key: str, e: hostsrc.HostEntry = e) -> hostsrc.Place:
            return e.origins.get(key) or e.where.at(key)

        platform = hostsrc.platform_of(hvars)
        mgmt = hvars.get("ansible_host")
        ok = True
        known = registry.platforms_for_role(role)
        if platform not in known:
            other_p = registry.platforms().get(str(platform))
            msg = (f"platform {platform} is for a {other_p.role}, not a {role}" if other_p is not None
                   else f"unknown platform for a {role}")
            col.add(at("vw_platform").diag(msg, "one of: " + ", ".join(known),
                                           "nothing" if platform is None else repr(platform),
                                           "run 'vendorwall platforms' to list them", code="reference"))
            ok = False
        mloc = at("ansible_host")
        if not isinstance(mgmt, str) or col.address(mgmt, mloc) is None:  # type: ignore[arg-type]
            if not isinstance(mgmt, str):
                col.add(mloc.diag("missing management address", "ansible_host: an IPv4 address",
                                  "nothing" if mgmt is None else repr(mgmt),
                                  "the controller reaches the device on this address"))
            ok = False
        parent = hvars.get("vw_vlan_parent", "")
        if not isinstance(parent, str) or not re.fullmatch(r"[A-Za-z0-9._/-]{0,35}", parent):
            col.add(at("vw_vlan_parent").diag("invalid interface name",
                                              "a port or aggregate name such as port2 or ethernet1/2",
                                              repr(parent), "letters, digits, '.', '_', '/' and '-' only",
                                              code="invalid"))
            ok = False
        slot, slot_ok = _syslog_slot(hvars, registry.platforms().get(str(platform)), at, col)
        if not ok or not slot_ok:
            col.broken_devices.add(e.name)
            continue
        devices[e.name] = Device(e.name, role, str(platform), str(mgmt), sites, e.where.origin,
                                 vlan_parent=str(parent), syslog_slot=slot, vars=dict(hvars))
    return devices


SYSLOG_VARS = ("vw_syslog_slot", "vw_syslog_interface")


def _syslog_slot(hvars: dict[str, Any], plat: Any, at: Any, col: Collector) -> tuple[str, bool]:
    """The device-wide syslog slot the device lets vendorwall own (its platform's ``syslog_optin``
    variable), validated: ("", True) when the device does not opt in."""
    if plat is None:  # an unknown platform: already an error
        return "", True
    optin = plat.syslog_optin
    ok = True
    for var in SYSLOG_VARS:
        if var not in hvars or var == optin.get("var"):
            continue
        other = ", ".join(sorted({f"{n}: {p.syslog_optin['var']}" for n, p in _registry().platforms().items()
                                  if p.syslog_optin.get("var") == var}))
        why = {"panos": "this platform's log forwarding profiles are vendorwall's own (vw-syslog, vw-logs)",
               "nftables": "deploy installs vendorwall's own log pipeline, which forwards to "
                           "policy.connection_logs.syslog"}.get(plat.name, "")
        col.add(at(var).diag(f"{var} is not a setting of platform {plat.name}",
                             "nothing: " + (why or (f"{optin['var']} on this platform" if optin else
                                                    "this platform has no syslog slot vendorwall writes")),
                             f"{var}: {hvars[var]!r}", f"the variable is read on {other}", code="invalid"))
        ok = False
    var = optin.get("var")
    if not var or var not in hvars:
        return "", ok
    raw = hvars[var]
    value = str(raw) if isinstance(raw, (str, int)) and not isinstance(raw, bool) else None
    if value is None or not re.fullmatch(optin["pattern"], value):
        col.add(at(var).diag(f"invalid {var}", optin["expected"], repr(raw),
                             f"e.g. {var}: {optin['example']} (docs/platforms.md, connection logs per platform)",
                             code="invalid"))
        return "", False
    return value, ok


def _registry() -> Any:
    from .platforms import registry

    return registry


# --------------------------------------------------------------------------- domain files


@dataclass
class _Raw:
    policy: tuple[dict[str, Any], Loc] | None
    entries: dict[str, dict[str, tuple[Any, Loc]]]
    broken: set[str] = field(default_factory=set)  # names of entries left out (structural errors)
    skip_items: dict[tuple[str, str, str], set[int]] = field(default_factory=dict)  # (file, vendor, list) -> indices


_NAME_KEY = re.compile(r"(?:^|[\s{,-])name:\s*['\"]?([a-z0-9][a-z0-9-]{0,39})")
_MAP_KEY = re.compile(r"^\s*(?:-\s+)?([a-z0-9][a-z0-9-]{0,39}):")


def _names_in_text(path: str) -> set[str]:
    """Names a file that did not parse probably defines: ``name: X`` values and the keys of its
    top-level mappings. Used only to keep references to them from being called unknown."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return set()
    out = set()
    for line in text.splitlines():
        out.update(_NAME_KEY.findall(line))
        m = _MAP_KEY.match(line)
        if m:
            out.add(m.group(1))
    return out


def _unit(path: tuple[str | int, ...]) -> tuple[str | int, ...] | None:
    """The smallest entry a schema error makes unusable: a system, a named entry, the policy;
    None when the file's own shape is wrong."""
    if not path or path[0] not in ("policy", *ENTRY_KEYS):
        return None
    if path[0] == "policy":
        return ("policy",)
    if len(path) < 2:
        return None
    if path[0] == "vendors" and len(path) >= 4 and path[2] in _ITEMS and isinstance(path[3], int):
        return path[:4]
    return path[:2]


_ITEMS = ("systems", "entry_paths", "accounts")  # a vendor's lists whose items load one by one


def _entry_names(entry: Any) -> set[str]:
    """A broken entry's own name and those of what it defines (a vendor's systems, entry paths)."""
    out: set[str] = set()
    if isinstance(entry, dict):
        for key in ("systems", "entry_paths"):
            items = entry.get(key)
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    out.add(item["name"])
        if isinstance(entry.get("name"), str):
            out.add(entry["name"])
    return out


def domain_files(root: str) -> list[str]:
    base = os.path.join(root, DOMAIN_DIR)
    found = glob.glob(os.path.join(base, "**", "*.yml"), recursive=True)
    found += glob.glob(os.path.join(base, "**", "*.yaml"), recursive=True)
    return sorted(f for f in found if os.path.basename(f) != LOCK_FILE)


def _parse(raw: bytes, shown: str) -> tuple[Any, Source, list[Diagnostic], list[Diagnostic]]:
    """One domain file: YAML with its line map, then the JSON Schema -> data, source, YAML and schema problems."""
    data, src, diags = load_bytes(raw, shown)
    if diags or data is None:
        return data, src, diags, []
    return data, src, diags, schema.check(data, src) + schema.text_problems(data, src, raw.decode("utf-8", "replace"))


def _parsed(path: str, shown: str) -> tuple[Any, Source, list[Diagnostic], list[Diagnostic]]:
    """:func:`_parse`, answered from the active cache when this file's bytes were parsed before."""
    raw, diags = read_file(path, shown)
    if raw is None:
        return None, Source(shown), diags, []
    c = cache.active()
    if c is None:
        return _parse(raw, shown)
    key = cache.digest("parsed", shown, raw)
    hit = c.get("parsed", key)
    if hit is not None:
        data, lines, ytuples, stuples = hit
        return data, Source(shown, lines), [Diagnostic(*t) for t in ytuples], [Diagnostic(*t) for t in stuples]
    data, src, diags, sdiags = _parse(raw, shown)
    c.put("parsed", key, (data, src.lines, [astuple(d) for d in diags], [astuple(d) for d in sdiags]))
    return data, src, diags, sdiags


def _load_domain(root: str, shown_root: str, col: Collector, sources: dict[str, Source]) -> _Raw:
    raw = _Raw(None, {k: {} for k in ENTRY_KEYS})
    files = domain_files(root)
    if not files:
        col.add(Diagnostic(os.path.join(shown_root, DOMAIN_DIR), 0, "", "no domain files",
                           "YAML files with policy, services, sites, client_groups and vendors",
                           "no *.yml file", "see docs/inventory.md and inventories/example", code="io"))
    for path in files:
        shown = os.path.join(shown_root, os.path.relpath(path, root))
        if leaves(path, root):
            col.add(leaves_diag(shown))
            continue
        data, src, diags, sdiags = _parsed(path, shown)
        sources[shown] = src
        for d in diags:
            col.add(d)
        if diags:
            raw.broken.update(_names_in_text(path))
            continue
        if data is None:
            col.add(Diagnostic(shown, 1, "", "empty file",
                               "top-level keys among: policy, services, sites, client_groups, infrastructure, staff, "
                               "vendors",
                               "nothing", "delete the file or add content", code="schema"))
            continue
        for d in sdiags:
            col.add(d)
        # Leave out only the entries the schema errors are in: the rest of the file is checked too.
        units = {_unit(undotted(d.path)) for d in sdiags}
        if None in units:
            raw.broken.update(_names_in_text(path))
            continue
        for unit in units:
            assert unit is not None
            key, name = str(unit[0]), str(unit[-1]) if len(unit) == 2 else ""
            entry = data.get(key) if key == "policy" else (data.get(key) or {}).get(unit[1])
            if len(unit) == 4:  # one system, entry path or account of a vendor
                raw.skip_items.setdefault((shown, str(unit[1]), str(unit[2])), set()).add(int(unit[3]))
                items = entry.get(str(unit[2])) if isinstance(entry, dict) else None
                if isinstance(items, list) and isinstance(unit[3], int) and unit[3] < len(items):
                    raw.broken.update(_entry_names(items[unit[3]]))
            elif key != "policy":
                raw.broken.add(name)
                raw.broken.update(_entry_names(entry))
        for key, value in data.items():
            if (key,) in units:
                raw.broken.add("policy")
                continue
            loc = Loc(src, (key,))
            if key == "policy":
                if raw.policy is not None:
                    col.add(loc.diag("policy defined twice", "one policy mapping",
                                     f"also at {raw.policy[1].origin}", "merge the two", code="duplicate"))
                else:
                    raw.policy = (value or {}, loc)
                continue
            for name, entry in (value or {}).items():
                if (key, name) in units:
                    continue
                eloc = loc.at(name)
                prev = raw.entries[key].get(name)
                if prev is not None:
                    col.add(eloc.diag(f"duplicate {_SINGULAR.get(key, key)} name {name!r}", "unique names",
                                      f"also defined at {prev[1].origin}", "rename or merge one of them",
                                      code="duplicate"))
                    continue
                raw.entries[key][name] = (entry, eloc)
    return raw


# --------------------------------------------------------------------------- typed objects


def _service(name: str, d: dict[str, Any], loc: Loc, col: Collector) -> Service:
    proto = d["protocol"]
    ports: set[int] = set()
    for i, p in enumerate(d.get("ports", [])):
        if isinstance(p, int):
            ports.add(p)
            continue
        lo, hi = (int(x) for x in p.split("-"))
        if not (1 <= lo <= hi <= 65535) or hi - lo + 1 > MAX_PORT_RANGE:
            col.add(loc.at("ports", i).diag("bad port range", f"FIRST-LAST with 1 <= FIRST <= LAST <= 65535, "
                                            f"at most {MAX_PORT_RANGE} ports", repr(p),
                                            "list the ports a vendor really needs", code="service"))
            continue
        ports.update(range(lo, hi + 1))
    if proto == "any" and d.get("ports"):
        col.add(loc.at("ports").diag("protocol any takes no ports", "no ports", str(d["ports"]), code="service"))
    if proto != "any" and not d.get("ports"):
        col.add(loc.diag(f"{proto} service without ports", "ports: [...]", "none", code="service"))
    return Service(name, proto, tuple(sorted(ports)), loc.origin)


def _site(name: str, d: dict[str, Any], loc: Loc, col: Collector) -> Site:
    pools = tuple(n for i, p in enumerate(d["segment_pool"])
                  if (n := col.network(p, loc.at("segment_pool", i))) is not None)
    mgmt = tuple(n for i, p in enumerate(d["management"])
                 if (n := col.network(p, loc.at("management", i))) is not None)
    lo, hi = d["vlan_range"]
    if lo > hi:
        col.add(loc.at("vlan_range").diag("empty VLAN range", "[first, last] with first <= last",
                                          str(d["vlan_range"]), code="vlan"))
    pref = d.get("segment_prefix", {})
    networks = {}
    for nname, n in sorted((d.get("existing_networks") or {}).items()):
        nloc = loc.at("existing_networks", nname)
        subnet = col.network(n["subnet"], nloc.at("subnet"))
        gateway = col.address(n["gateway"], nloc.at("gateway"))
        if subnet is not None and gateway is not None:
            networks[nname] = ExistingNetwork(nname, name, subnet, n["vlan"], gateway, n["routed_by"], nloc.origin)
    return Site(name, d["title"], d.get("kind", "hospital"), d["firewall"],
                tuple(SwitchLink(s["name"], s["uplink"]) for s in d.get("switches", [])),
                pools, (lo, hi), pref.get("dedicated", 29), pref.get("shared", 27), mgmt, loc.origin, networks,
                d.get("timezone", ""))


def _entry_path(d: dict[str, Any], loc: Loc, col: Collector) -> EntryPath:
    kind = d["kind"]
    shared = bool(d.get("shared_egress"))
    if shared and "source" in d:
        col.add(loc.at("source").diag("a shared egress has no per-vendor source", "shared_egress: true, or a source",
                                      "both", "keep source (the bastion uses it for this vendor only) or "
                                      "shared_egress (one egress for every vendor, hosts.yml vw_egress)"))
    if kind == "bastion":  # a shared egress: its bastion's (hosts.yml vw_egress), filled in by load()
        raw = [] if shared and "source" not in d else [(d["source"], loc.at("source"))]
    elif kind == "vpn":
        raw = [(d["pool"], loc.at("pool"))]
    else:
        raw = [(p, loc.at("remote_subnets", i)) for i, p in enumerate(d["remote_subnets"])]
    prefixes = tuple(n for p, ploc in raw if (n := col.network(p, ploc)) is not None)
    return EntryPath(d["name"], kind, prefixes, d.get("bastion"), d.get("peer"),
                     (d.get("justification") or "").strip(), col.date(d.get("retire_by"), loc.at("retire_by")),
                     loc.origin, shared, purpose=d.get("purpose", "maintenance"), systems=tuple(d.get("systems", ())),
                     services=tuple(d.get("services", ())), replacement=d.get("replacement", ""),
                     checklist=tuple(str(c).strip() for c in d.get("checklist", ())))


EGRESS_VAR = "vw_egress"


def _egress(devices: dict[str, Device], col: Collector) -> dict[str, tuple[IPv4Network, ...]]:
    """Bastion -> its shared egress (hosts.yml ``vw_egress``: an address or prefix, or a list of them)."""
    out: dict[str, tuple[IPv4Network, ...]] = {}
    for name, dev in sorted(devices.items()):
        if dev.role != "bastion" or EGRESS_VAR not in (dev.vars or {}):
            continue
        raw = dev.vars[EGRESS_VAR]
        items = raw if isinstance(raw, list) else [raw]
        nets = []
        for i, x in enumerate(items):
            sub = f".{EGRESS_VAR}" + (f"[{i}]" if isinstance(raw, list) else "")
            try:
                nets.append(IPv4Network(str(x)) if "/" in str(x) else IPv4Network(f"{x}/32"))
            except ValueError:
                col.add(Diagnostic(dev.origin.file, dev.origin.line, dev.origin.path + sub,
                                   "malformed shared egress", "an IPv4 address or prefix the bastion connects from",
                                   repr(x), "e.g. vw_egress: 10.249.0.10", code="prefix"))
        out[name] = tuple(nets)
    return out


def _with_egress(v: Vendor, egress: dict[str, tuple[IPv4Network, ...]]) -> Vendor:
    if not any(p.shared for p in v.entry_paths):
        return v
    paths = tuple(replace(p, prefixes=egress.get(p.bastion or "", ())) if p.shared and not p.prefixes else p
                  for p in v.entry_paths)
    return replace(v, entry_paths=paths)


def _system(vendor: str, vendor_paths: tuple[str, ...], vendor_approvers: tuple[str, ...], d: dict[str, Any],
            loc: Loc, col: Collector) -> System:
    a = d["access"]
    aloc = loc.at("access")
    w = a.get("window")
    exc = a.get("exception") or {}
    access = Access(a["mode"], tuple(a["services"]), tuple(a.get("via") or vendor_paths), a.get("max_hours"),
                    Window(tuple(w["days"]), w["start"], w["end"]) if w else None,
                    (a.get("justification") or "").strip(), col.date(a.get("until"), aloc.at("until")),
                    tuple(exc.get("services", ())), (exc.get("justification") or "").strip(), aloc.origin)
    flows = []
    for i, f in enumerate(d.get("flows", [])):
        direction = "from" if "from" in f else "to"
        flows.append(Flow(direction, f[direction], tuple(f["services"]), bool(f.get("keep", False)),
                          loc.at("flows", i).origin, (f.get("justification") or "").strip()))
    addrs = tuple(x for i, a_ in enumerate(d.get("addresses", []))
                  if (x := col.address(a_, loc.at("addresses", i))) is not None)
    infra = d.get("infrastructure") or {}
    current = d.get("current") or {}
    cur_addr = col.address(current["address"], loc.at("current", "address")) if "address" in current else None
    return System(d["name"], vendor, d["site"], d["function"], d["criticality"], d["owner"],
                  d.get("segment", "dedicated"), addrs, d.get("vlan"),
                  tuple(SwitchPort(p["switch"], p["interface"]) for p in d.get("switch_ports", [])),
                  tuple(d.get("approvers") or vendor_approvers), access, tuple(flows), loc.origin,
                  tags=tuple(d.get("tags", ())), infra_skip=tuple(infra.get("skip", ())),
                  infra_add=tuple(infra.get("add", ())), network=d.get("network", ""), current_address=cur_addr,
                  current_vlan=current.get("vlan"))


def _vendor(name: str, d: dict[str, Any], loc: Loc, col: Collector,
            skip: dict[str, set[int]] | None = None) -> Vendor:
    skip = skip or {}
    paths = tuple(_entry_path(p, loc.at("entry_paths", i), col) for i, p in enumerate(d["entry_paths"])
                  if i not in skip.get("entry_paths", ()))
    def default_via(system: Any) -> tuple[str, ...]:
        """Without access.via: every bastion and VPN path, and the maintenance tunnels that list the
        system (a LAN-to-LAN tunnel reaches only the systems it is confined to, never the whole vendor)."""
        me = system.get("name") if isinstance(system, dict) else None
        return tuple(p.name for p in paths if p.kind != "lan_to_lan" or (p.purpose == "maintenance"
                                                                         and me in p.systems))
    approvers = tuple(d["approvers"])
    accounts = []
    for i, a in enumerate(d.get("accounts", [])):
        if i in skip.get("accounts", ()):
            continue
        aloc = loc.at("accounts", i)
        expires = col.date(a["expires"], aloc.at("expires"))
        accounts.append(Account(a["id"], a["person"], a["email"], expires or dt.date.min,
                                col.date(a.get("created"), aloc.at("created")), a.get("owner", ""),
                                bool(a.get("shared", False)), a.get("ssh_key", ""), aloc.origin))
    systems = tuple(_system(name, default_via(s), approvers, s, loc.at("systems", i), col)
                    for i, s in enumerate(d.get("systems", [])) if i not in skip.get("systems", ()))
    contract = d["contract"]
    ends = col.date(contract["ends"], loc.at("contract", "ends"))
    return Vendor(name, d["title"], d["hotline"].strip(), d["security_contact"], contract["reference"],
                  ends or dt.date.min, paths, approvers, tuple(accounts), systems, loc.origin)


def _policy(raw: tuple[dict[str, Any], Loc] | None) -> Policy:
    if raw is None:
        return Policy()
    d, loc = raw
    kw = {k: v for k, v in d.items() if k not in ("forbidden_services", "connection_logs", "alerts")}
    if "forbidden_services" in d:
        kw["forbidden_services"] = tuple(d["forbidden_services"])
    if "connection_logs" in d:
        kw["connection_logs"] = _connection_logs(d["connection_logs"])
    if "alerts" in d:
        kw["alerts"] = _alerts(d["alerts"])
    return Policy(**kw, origin=loc.origin)


def _syslog(d: dict[str, Any] | None, tls_port: int = 514) -> SyslogTarget | None:
    if not d:
        return None
    tls = bool(d.get("tls", False))
    return SyslogTarget(d["host"], int(d.get("port") or (6514 if tls else tls_port)), tls, d.get("ca_file", ""),
                        d.get("permitted_peer", ""), d.get("protocol", "tcp"))


def _connection_logs(d: dict[str, Any]) -> ConnectionLogs:
    return ConnectionLogs(int(d.get("local_keep_days", 14)), bool(d.get("install_packages", False)),
                          _syslog(d.get("syslog")))


def _alerts(d: dict[str, Any]) -> Alerts:
    e, w = d.get("email"), d.get("webhook")
    email = EmailChannel(e["server"], e["from"], tuple(e["to"]), int(e.get("port", 25)), e.get("security", "starttls"),
                         e.get("username", ""), e.get("password_env", "")) if e else None
    hook = WebhookChannel(w.get("url", ""), w.get("url_env", ""), w.get("token_env", ""),
                          w.get("format", "generic")) if w else None
    return Alerts(tuple(d.get("events", ())), int(d.get("repeat_days", 7)), int(d.get("retries", 2)),
                  float(d.get("timeout_seconds", 5)), email, hook, _syslog(d.get("syslog")))


def load(root: str, shown_root: str | None = None, *,
         hosts: Mapping[str, Any] | None = None) -> tuple[Inventory, list[Diagnostic], dict[str, Loc]]:
    """Load INVENTORY; returns the typed inventory (possibly partial), the structural diagnostics,
    and the location of each named entity (for semantic checks). ``hosts``: the devices from the play's
    inventory (:func:`vendorwall.hostsrc.from_snapshot`) instead of the directory's."""
    if not os.path.isdir(root):
        raise UsageError(f"inventory directory not found: {shown_root or root}",
                         "pass an inventory directory such as inventories/example")
    shown_root = os.path.normpath(shown_root if shown_root is not None else root)
    col = Collector()
    devices = _load_hosts(root, shown_root, col, hosts)
    sources: dict[str, Source] = {}
    raw = _load_domain(root, shown_root, col, sources)
    locs: dict[str, Loc] = {}
    services = {}
    for name, (d, loc) in sorted(raw.entries["services"].items()):
        services[name] = _service(name, d, loc, col)
        locs[f"services.{name}"] = loc
    sites = {}
    for name, (d, loc) in sorted(raw.entries["sites"].items()):
        sites[name] = _site(name, d, loc, col)
        locs[f"sites.{name}"] = loc
    groups = {}
    for name, (d, loc) in sorted(raw.entries["client_groups"].items()):
        prefixes = tuple(n for i, p in enumerate(d["prefixes"])
                         if (n := col.network(p, loc.at("prefixes", i))) is not None)
        groups[name] = ClientGroup(name, d["title"], d.get("site"), prefixes, loc.origin)
        locs[f"client_groups.{name}"] = loc
    infrastructure = {}
    for name, (d, loc) in sorted(raw.entries["infrastructure"].items()):
        prefixes = tuple(n for i, p in enumerate(d["prefixes"])
                         if (n := col.network(p, loc.at("prefixes", i))) is not None)
        infrastructure[name] = InfraService(name, d["title"], d.get("site"), prefixes, tuple(d["services"]),
                                            d.get("direction", "to"), bool(d.get("default", True)),
                                            bool(d.get("keep", False)), loc.origin)
    staff = {name: StaffPath(name, d["title"], d["from"], tuple(d["to"]), tuple(d["services"]),
                             bool(d.get("keep", True)), loc.origin)
             for name, (d, loc) in sorted(raw.entries["staff"].items())}
    vendors = {}
    egress = _egress(devices, col)
    for name, (d, loc) in sorted(raw.entries["vendors"].items()):
        vendors[name] = _with_egress(_vendor(name, d, loc, col, {lst: idx for (f, v, lst), idx
                                                                 in raw.skip_items.items()
                                                                 if f == loc.src.file and v == name}), egress)
        locs[f"vendors.{name}"] = loc
    systems: dict[str, System] = {}
    for v in vendors.values():
        for s in v.systems:
            first = systems.get(s.name)
            if first is not None:
                col.add(Diagnostic(s.origin.file, s.origin.line, s.origin.path, f"duplicate system name {s.name!r}",
                                   "system names unique across all vendors",
                                   f"also defined at {first.origin} (vendor {first.vendor})",
                                   "rename one, e.g. with a site suffix", code="duplicate"))
                continue
            systems[s.name] = s
    inv = Inventory(os.path.abspath(root), _policy(raw.policy), services, devices, sites, groups, vendors, systems,
                    sources, frozenset(raw.broken | col.broken_devices), infrastructure, staff)
    if raw.policy is not None:
        locs["policy"] = raw.policy[1]
    return inv, col.diags, locs
