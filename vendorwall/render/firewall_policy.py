"""A firewall's compiled intent as an ordered, platform-neutral rule base (Stormshield, PAN-OS, ASA).

Platforms whose policy is "named objects + an ordered list of first-match rules" print the same
structure; this module computes it once, the renderers only name and print it:

- **groups**: one address group per system (``vw-sys-<system>``), entry path
  (``vw-path-<vendor>-<path>``), client group (``vw-cg-<group>``), infrastructure service
  (``vw-infra-<name>``) and staff path (``vw-staff-<name>``); ``vw-vendor-sources`` (every entry path
  of the firewall), ``vw-seg-<vendor>`` (the vendor's segment subnets, for the default deny) and the
  quarantine (``vw-quarantine``, live state filled by isolation);
- **services**: one per catalogue service (``vw-svc-<service>``), protocol ``any`` is the platform's
  "any";
- **schedules**: ``vw-until-<date>`` (an end date), ``vw-w-<days>-<start>-<end>`` (a weekly window),
  ``vw-after-<date>`` (from the day after a dated window's last day: a deny above the window's allow,
  because a rule has one schedule and a platform's schedule groups are unions, not intersections) and
  ``vw-od-<system>`` (an on-demand system's grant window, rendered closed: grants open it);
- **policies**, in order: must-keep flows (clinical, infrastructure, staff flows marked keep: above
  the quarantine, so an isolation spares them); the quarantine (deny from and to it); the allow
  policies (with their ended-window denies just above them); the logged default deny to and from each
  vendor's segments and from the vendor sources. One policy per (source group, destination group,
  schedule) with the services merged, then policies differing only by destination merged (exact).

Management flows are not forwarded traffic and are left out (each platform keeps its own management
access). :mod:`vendorwall.render.fortios` predates this module and builds the same structure itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from ipaddress import IPv4Network

from ..model import DeviceIntent, Model, QuarantineElement, Rule, Segment, Window

QUARANTINE = "vw-quarantine"
VENDOR_SOURCES = "vw-vendor-sources"
ALWAYS = ""  # a policy's schedule when it has none


def fit(name: str, limit: int) -> str:
    """``name`` within ``limit`` characters, unique: long names keep a stable hash suffix."""
    if len(name) <= limit:
        return name
    h = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:limit - 9]}-{h}"


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def net_key(n: IPv4Network) -> tuple[int, int]:
    return int(n.network_address), n.prefixlen


def isolated_names(model: Model) -> str:
    """``acme (access), beta (segment)``: the vendors isolated at render time (``none``), for a header line."""
    return ", ".join(f"{v} ({s})" for v, s in sorted(model.isolated.items())) or "none"


def q_name(n: IPv4Network) -> str:
    """The quarantine object of one prefix, as the appliance drivers name it (``vw-q-<address>[_<len>]``)."""
    return f"vw-q-{n.network_address}" if n.prefixlen == 32 else f"vw-q-{n.network_address}_{n.prefixlen}"


def quarantine_comment(e: QuarantineElement) -> str:
    """``vw-isolate <vendor> <kind> <name>``: the comment isolation puts on the element (so a render and a
    live isolation write the same object, and restore finds it by vendor)."""
    return f"vw-isolate {e.vendor} {e.kind} {e.name}"


def port_ranges(ports: tuple[int, ...]) -> list[tuple[int, int]]:
    """(22,) -> [(22, 22)]; (8000..8010, 9000) -> [(8000, 8010), (9000, 9000)]."""
    out: list[tuple[int, int]] = []
    for p in sorted(set(ports)):
        if out and out[-1][1] == p - 1:
            out[-1] = (out[-1][0], p)
        else:
            out.append((p, p))
    return out


@dataclass
class Group:
    name: str
    nets: list[IPv4Network]
    comment: str
    state: bool = False  # live state (the quarantine): created when missing, members never overwritten


@dataclass(frozen=True)
class Service:
    name: str
    protocol: str  # tcp | udp
    ports: tuple[int, ...]
    comment: str


@dataclass(frozen=True)
class Schedule:
    name: str
    kind: str  # until | window | after | on_demand
    until: dt.date | None = None  # until: the last day; after: the window's last day
    window: Window | None = None
    system: str = ""  # on_demand

    @property
    def state(self) -> bool:
        return self.kind == "on_demand"


@dataclass
class Policy:
    name: str
    role: str  # keep | quarantine | allow | ended | deny
    action: str  # accept | deny
    src: list[str]  # group names; ["any"]
    dst: list[str]
    services: list[str]  # service names; ["any"]
    schedule: str = ALWAYS
    src_zone: str = "any"  # the vendor zone a side sits in (platforms with zones), else "any"
    dst_zone: str = "any"
    comment: str = ""
    rule_ids: list[str] = field(default_factory=list)
    log_start: bool = False  # vendor access: log the session start too

    @property
    def timed(self) -> bool:
        return self.schedule != ALWAYS


@dataclass
class Ruleset:
    device: str
    site: str
    segments: tuple[Segment, ...]
    zones: dict[str, list[Segment]]  # vendor zone -> its segments
    groups: dict[str, Group]  # sorted by name
    services: dict[str, Service]  # sorted by name
    schedules: dict[str, Schedule]  # sorted by name
    policies: list[Policy]
    rules: int  # intent rules rendered (management excluded)
    vendor_segments: dict[str, str] = field(default_factory=dict)  # vendor -> its vw-seg-<vendor> group


@dataclass(frozen=True)
class Limits:
    group: int = 63
    service: int = 63
    schedule: int = 31
    policy: int = 31
    comment: int = 255
    zone: int = 31


def window_name(w: Window, limit: int) -> str:
    return fit(f"vw-w-{'-'.join(w.days)}-{w.start.replace(':', '')}-{w.end.replace(':', '')}", limit)


def od_name(system: str, limit: int) -> str:
    """The on-demand window of ``system`` (stable: grants find it by this name)."""
    return fit(f"vw-od-{system}", limit)


class _Builder:
    def __init__(self, model: Model, intent: DeviceIntent, lim: Limits):
        self.inv = model.inventory
        self.intent = intent
        self.lim = lim
        self.groups: dict[str, Group] = {}
        self.seen: dict[tuple[str, tuple[IPv4Network, ...]], str] = {}
        self.services: dict[str, Service] = {}
        self.schedules: dict[str, Schedule] = {}
        self.zone_of_system: dict[str, str] = {}

    def group(self, name: str, nets: tuple[IPv4Network, ...], comment: str) -> str:
        done = self.seen.get((name, nets))
        if done is not None:
            return done
        self.seen[(name, nets)] = name = fit(name, self.lim.group)
        old = self.groups.get(name)
        members = sorted(set(nets) | set(old.nets if old else ()), key=net_key)
        self.groups[name] = Group(name, members, cut(old.comment if old else comment, self.lim.comment))
        return name

    def endpoint(self, rule: Rule, side: str) -> tuple[str, str]:
        """(zone, group) of one side of a rule."""
        nets = rule.src if side == "src" else rule.dst
        if rule.kind == "vendor_access":
            system_side = side == "dst"
        else:  # <kind>/<system>/<from|to>/<peer>/<service>
            system_side = (side == "dst") == (rule.id.split("/")[2] == "from")
        if system_side:
            return (self.zone_of_system.get(rule.system, "any"),
                    self.group(f"vw-sys-{rule.system}", nets, f"vendorwall system {rule.system}"))
        if rule.kind == "vendor_access":
            return "any", self.group(f"vw-path-{rule.vendor}-{rule.via}", nets,
                                     f"vendorwall entry path {rule.via} of {rule.vendor}")
        peer = rule.peer
        if rule.kind == "infrastructure":
            return "any", self.group(f"vw-infra-{peer}", nets, f"vendorwall infrastructure {peer}")
        if rule.kind == "staff":
            return "any", self.group(f"vw-staff-{peer}", nets, f"vendorwall staff path {peer}")
        if peer in self.inv.client_groups:
            return "any", self.group(f"vw-cg-{peer}", nets, f"vendorwall client group {peer}")
        if peer in self.inv.systems:
            return self.zone_of_system.get(peer, "any"), self.group(f"vw-sys-{peer}", nets,
                                                                      f"vendorwall system {peer}")
        return "any", self.group(f"vw-tag-{peer}", nets, f"vendorwall systems tagged {peer}")

    def service(self, rule: Rule) -> str:
        if rule.protocol == "any":
            return "any"
        name = fit(f"vw-svc-{rule.service}", self.lim.service)
        self.services.setdefault(name, Service(name, rule.protocol, tuple(sorted(set(rule.ports))),
                                               f"vendorwall service {rule.service}"))
        return name

    def schedule_for(self, rule: Rule) -> tuple[str, str | None]:
        """(accept schedule, deny-after schedule or None) of a rule's validity."""
        v = rule.validity
        smax = self.lim.schedule
        if v.kind == "on_demand":
            name = od_name(rule.system, smax)
            self.schedules.setdefault(name, Schedule(name, "on_demand", system=rule.system))
            return name, None
        if v.kind == "scheduled" and v.window:
            name = window_name(v.window, smax)
            self.schedules.setdefault(name, Schedule(name, "window", window=v.window))
            after = None
            if v.until:
                after = fit(f"vw-after-{v.until.strftime('%Y%m%d')}", smax)
                self.schedules.setdefault(after, Schedule(after, "after", until=v.until))
            return name, after
        if v.until:
            name = fit(f"vw-until-{v.until.strftime('%Y%m%d')}", smax)
            self.schedules.setdefault(name, Schedule(name, "until", until=v.until))
            return name, None
        return ALWAYS, None

    def policy_name(self, key: str, label: str) -> str:
        h = hashlib.sha256(key.encode()).hexdigest()[:8]
        return f"vw-{h}-{label}"[: self.lim.policy]


def _merge_destinations(pols: list[Policy], paired: set[int]) -> list[Policy]:
    """Accept policies that differ only by destination become one (exact: same sources, services and
    schedule). Policies paired with an ended-window deny stay as they are (the pair must stay adjacent)."""
    out: list[Policy] = []
    merged: dict[tuple[object, ...], Policy] = {}
    for p in pols:
        if id(p) in paired:
            out.append(p)
            continue
        mkey = (p.action, p.src_zone, p.dst_zone, tuple(p.src), tuple(p.services), p.schedule, p.log_start)
        m = merged.get(mkey)
        if m is None:
            merged[mkey] = p
            out.append(p)
        else:
            m.dst = sorted(set(m.dst) | set(p.dst))
            m.rule_ids += p.rule_ids
            if m.dst_zone != p.dst_zone:
                m.dst_zone = "any"
    return out


def build(model: Model, intent: DeviceIntent, lim: Limits) -> Ruleset:
    b = _Builder(model, intent, lim)
    zones: dict[str, list[Segment]] = {}
    for s in intent.segments:
        z = fit(s.zone, lim.zone)
        zones.setdefault(z, []).append(s)
        for sys in s.systems:
            b.zone_of_system[sys] = z
    keep: list[Policy] = []
    allow: list[Policy] = []
    grouped: dict[tuple[str, ...], Policy] = {}
    paired: set[int] = set()
    n_rules = 0
    for r in intent.rules:
        if r.kind == "management":
            continue
        n_rules += 1
        sz, sg = b.endpoint(r, "src")
        dz, dg = b.endpoint(r, "dst")
        svc = b.service(r)
        sched, after = b.schedule_for(r)
        # one policy per endpoints + schedule, services merged (exact); protocol "any" stays apart, so a
        # policy's services are either ["any"] or named services
        gkey = ("keep" if r.keep else r.kind, sz, dz, sg, dg, sched, after or "", "any" if svc == "any" else "")
        p = grouped.get(gkey)
        if p is None:
            label = (r.system or "x")[:21]
            p = Policy(b.policy_name("|".join(gkey), label), "keep" if r.keep else "allow", "accept", [sg], [dg], [],
                       sched, sz, dz, log_start=r.kind == "vendor_access")
            grouped[gkey] = p
            if after:
                ended = Policy(b.policy_name("after|" + "|".join(gkey), label), "ended", "deny", [sg], [dg], [],
                               after, sz, dz)
                grouped[(*gkey, "after")] = ended
                allow.append(ended)
                paired |= {id(p), id(ended)}
            (keep if r.keep else allow).append(p)
        if svc not in p.services:
            p.services.append(svc)
            if after:
                grouped[(*gkey, "after")].services.append(svc)
        p.rule_ids.append(r.id)
        if after:
            grouped[(*gkey, "after")].rule_ids.append(r.id)
    for p in grouped.values():
        p.services.sort()
    keep, allow = _merge_destinations(keep, paired), _merge_destinations(allow, paired)
    sources = b.group(VENDOR_SOURCES, intent.vendor_sources, "vendorwall: every vendor entry path of this firewall")
    vendor_segs: dict[str, str] = {}
    for s in intent.segments:
        vendor_segs[s.vendor] = b.group(f"vw-seg-{s.vendor}", tuple(x.subnet for x in intent.segments
                                                                    if x.vendor == s.vendor),
                                        f"vendorwall segments of {s.vendor}")
    b.groups[QUARANTINE] = Group(QUARANTINE, [], "vendorwall isolate: quarantined sources and segments", state=True)
    quarantine = [
        Policy("vw-quarantine-from", "quarantine", "deny", [QUARANTINE], ["any"], ["any"],
               comment="vendorwall isolate: traffic from quarantined sources and segments"),
        Policy("vw-quarantine-to", "quarantine", "deny", ["any"], [QUARANTINE], ["any"],
               comment="vendorwall isolate: traffic to quarantined segments")]
    denies: list[Policy] = []
    zone_of_vendor = {s.vendor: fit(s.zone, lim.zone) for s in intent.segments}
    for vendor, g in sorted(vendor_segs.items()):
        zone = zone_of_vendor[vendor]
        denies.append(Policy(fit(f"vw-deny-to-{vendor}", lim.policy), "deny", "deny", ["any"], [g], ["any"],
                             dst_zone=zone, comment=f"vendorwall default deny to the segments of {vendor}"))
        denies.append(Policy(fit(f"vw-deny-from-{vendor}", lim.policy), "deny", "deny", [g], ["any"], ["any"],
                             src_zone=zone, comment=f"vendorwall default deny from the segments of {vendor}"))
    if intent.vendor_sources:
        denies.append(Policy("vw-deny-vendor-sources", "deny", "deny", [sources], ["any"], ["any"],
                             comment="vendorwall default deny from the vendor entry paths"))
    for p in [*keep, *allow]:
        word = "ended window: " if p.action == "deny" else ""
        p.comment = cut(f"vendorwall {word}{', '.join(sorted(p.rule_ids))}", lim.comment)
    if not intent.vendor_sources:
        b.groups.pop(VENDOR_SOURCES, None)
    return Ruleset(intent.device, intent.site, intent.segments, zones,
                   dict(sorted(b.groups.items())), dict(sorted(b.services.items())),
                   dict(sorted(b.schedules.items())), [*keep, *quarantine, *allow, *denies], n_rules,
                   vendor_segs)
