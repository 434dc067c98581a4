"""nftables renderer: one policy table replaced atomically, one state table never replaced.

Design (measured figures in the project notes):

- ``table inet vendorwall`` holds the inventory's intent. A deploy replaces it in one ``nft -f``
  transaction (``table``/``delete table``/``table {...}``): all or nothing.
- Allowed tuples sit in concatenated interval sets (``ip saddr . ip daddr . tcp dport``): the
  per-packet cost stays flat from a handful to 50,000 tuples, unlike linear rules.
- ``table inet vendorwall_state`` holds the live state other playbooks write: ``quarantine``
  (emergency isolation) and ``grants_*`` (on-demand access, elements with a timeout). A deploy
  only (re)declares it and rewrites its one chain; its sets and their elements survive.
- The policy table's set ``isolated`` carries the quarantine of the vendors isolated at render time
  (the controller's isolation record), by identity: their entry paths and segments as the inventory
  says now. Its drops sit before ``ct state established``, like the state table's, so a redeploy
  after a reboot (empty state table), a rollback or a new VPN pool never re-opens an isolated vendor.
- Every vendor packet of an on-demand tuple is tagged in the policy table (a meta mark) before it is
  accepted, and the state table drops tagged packets without a live grant, so a grant's expiry ends
  live sessions too; quarantined addresses are dropped there before any accept, so an isolation cuts
  established sessions at their next packet.
- Packet path: a connection is classified once, by its first packet (or its first packet after a
  deploy changed the policy), into its conntrack mark: the policy's generation (a digest of its sets),
  its validity category and the must-keep bit. Its later packets only look that mark up in the map
  ``classes`` and run the few checks of their category that can cut a live session (the isolated set,
  the window's clock, the end date, the on-demand tag), instead of every set of the policy. A
  connection whose tuple sits in two categories, a related packet, or anything the map does not name
  goes through ``every_set``: the same checks of every set on every packet, as before the fast path.
- Drops are logged with ``log group`` (NFLOG, read by ulogd2); new vendor connections too.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Any

from ..errors import Diagnostic
from ..model import DeviceIntent, Model, Rule, Window
from ..platforms.registry import Platform
from . import register, template, windows

POLICY_TABLE = "vendorwall"
STATE_TABLE = "vendorwall_state"
GENERATION = "vw_generation"  # the nft variable holding the policy's generation (one line of the file)
MARK_REQUEST = 0x00100000  # packet of an on-demand tuple, vendor -> system
MARK_REPLY = 0x00200000  # packet of an on-demand tuple, system -> vendor
MARK_KEEP = 0x00400000  # packet of a must-keep clinical flow, either direction: the quarantine skips it
MARK_WINDOW = 0x00800000  # packet of a scheduled tuple inside its window (set per packet, before the checks)
_DAYS = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday",
         "sat": "Saturday", "sun": "Sunday"}
_KEY = {"tcp": "ipv4_addr . ipv4_addr . inet_service", "udp": "ipv4_addr . ipv4_addr . inet_service",
        "any": "ipv4_addr . ipv4_addr"}
_MATCH = {"tcp": "ip saddr . ip daddr . tcp dport", "udp": "ip saddr . ip daddr . udp dport",
          "any": "ip saddr . ip daddr"}
_REPLY_MATCH = {"tcp": "ip daddr . ip saddr . tcp sport", "udp": "ip daddr . ip saddr . udp sport",
                "any": "ip daddr . ip saddr"}

Tuple = tuple[IPv4Network, IPv4Network, int | None]


@dataclass(frozen=True)
class NftSet:
    name: str
    key: str
    flags: str
    elements: tuple[str, ...]
    comment: str = ""


@dataclass(frozen=True)
class NftRule:
    text: str
    comment: str = ""


def _net(n: IPv4Network) -> str:
    return str(n.network_address) if n.prefixlen == 32 else str(n)


def _comment(text: str, limit: int) -> str:
    text = text.replace('"', "'").replace("\n", " ")
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode(errors="ignore") + "..."


def collapse(tuples: dict[Tuple, str]) -> dict[Tuple, str]:
    """Drop tuples another tuple covers: nftables refuses overlapping interval elements.

    One side of every tuple is a system address (validation keeps client groups, entry paths and
    segment pools disjoint), so overlaps are nestings along one dimension only.
    """
    out = dict(tuples)
    for dim in (0, 1):
        def net_of(t: Tuple, d: int = dim) -> IPv4Network:
            return t[0] if d == 0 else t[1]

        groups: dict[tuple[object, ...], list[Tuple]] = defaultdict(list)
        for t in out:
            groups[(t[1 - dim], t[2])].append(t)
        for members in groups.values():
            if len(members) < 2:
                continue
            members.sort(key=lambda t: (int(net_of(t).network_address), net_of(t).prefixlen))
            cover_hi = -1  # last address of the current cover: sorted by start, nested = ends inside it
            for t in members:
                net = net_of(t)
                hi = int(net.network_address) | (0xFFFFFFFF >> net.prefixlen)
                if hi <= cover_hi:
                    out.pop(t, None)
                else:
                    cover_hi = hi
    return out


_Key = tuple[int, int, int, int, "int | None"]  # source (first address, length), destination, port


class _Keys:
    """Set elements as integers: (src first address, src length, dst first address, dst length, port).

    The same tuples, collapse and order as :func:`collapse` and a sort by (source, destination, port) on
    networks, without
    hashing ``IPv4Network`` objects (a Python-level ``__hash__``) hundreds of thousands of times; each
    prefix's text and each rule id's comment is computed once per device.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.text: dict[tuple[int, int], str] = {}
        self.comments: dict[str, str] = {}
        self._nets: dict[int, tuple[tuple[IPv4Network, ...], list[tuple[int, int]]]] = {}

    def nets(self, nets: tuple[IPv4Network, ...]) -> list[tuple[int, int]]:
        hit = self._nets.get(id(nets))
        if hit is not None and hit[0] is nets:
            return hit[1]
        out = []
        for n in nets:
            k = (int(n.network_address), n.prefixlen)
            if k not in self.text:
                self.text[k] = _net(n)
            out.append(k)
        self._nets[id(nets)] = (nets, out)  # keeps ``nets`` alive: its id is not reused
        return out

    def add(self, bucket: dict[_Key, str], rule: Rule) -> None:
        """Every (src, dst, port) of ``rule`` (as :func:`vendorwall.compile.expand`), first rule id kept."""
        ports: tuple[int | None, ...] = rule.ports if rule.protocol != "any" else (None,)
        dsts = self.nets(rule.dst)
        rid = rule.id
        for s0, s1 in self.nets(rule.src):
            for d0, d1 in dsts:
                for port in ports:
                    bucket.setdefault((s0, s1, d0, d1, port), rid)

    def elements(self, bucket: dict[_Key, str]) -> tuple[str, ...]:
        text, comments = self.text, self.comments
        out = []
        for k, rid in sorted(_collapse_keys(bucket).items(), key=lambda kv: (*kv[0][:4], kv[0][4] or 0)):
            c = comments.get(rid)
            if c is None:
                c = comments[rid] = _comment(rid, self.limit)
            body = f"{text[(k[0], k[1])]} . {text[(k[2], k[3])]}"
            out.append(f'{body} comment "{c}"' if k[4] is None else f'{body} . {k[4]} comment "{c}"')
        return tuple(out)


def _collapse_keys(tuples: dict[_Key, str]) -> dict[_Key, str]:
    """:func:`collapse` on integer keys."""
    out = dict(tuples)
    for lo_i, other in ((0, (2, 3, 4)), (2, (0, 1, 4))):
        groups: dict[tuple[object, ...], list[_Key]] = defaultdict(list)
        for t in out:
            groups[(t[other[0]], t[other[1]], t[other[2]])].append(t)
        for members in groups.values():
            if len(members) < 2:
                continue
            members.sort(key=lambda t: (t[lo_i], t[lo_i + 1]))
            cover_hi = -1
            for t in members:
                hi = t[lo_i] | (0xFFFFFFFF >> t[lo_i + 1])  # type: ignore[operator]  # lo_i indexes ints
                if hi <= cover_hi:
                    out.pop(t, None)
                else:
                    cover_hi = hi
    return out


def _epoch_end(day: dt.date) -> int:
    """End of ``day`` (UTC) in epoch seconds: an access 'until D' is valid through day D."""
    return calendar.timegm((day + dt.timedelta(days=1)).timetuple())


def _window_marks(w: Window, tz_name: str, since: dt.date, until: dt.date | None) -> tuple[str, ...]:
    """The conditions true inside the window: one per daylight-saving period and UTC day group, with the
    period's absolute bounds and the hours as numbers (UTC seconds: nft loads them as they are)."""
    out = []
    for a, b, days, lo, hi in windows.conditions(w.days, w.start, w.end, tz_name, since, until):
        names = ", ".join(f'"{_DAYS[d]}"' for d in days)
        parts = [f"meta time >= {a}" if a is not None else "", f"meta time < {b}" if b is not None else "",
                 f"meta day {{ {names} }}", f"meta hour {lo}-{hi}"]
        out.append(" ".join(x for x in parts if x))
    return tuple(out)


@dataclass(frozen=True)
class _Category:
    stem: str  # set name without the protocol suffix
    match: str  # extra match of the accept rule (the clock condition)
    outside: tuple[str, ...]  # matches true when the clock condition no longer holds
    description: str
    marks: tuple[str, ...] = ()  # scheduled: the conditions that mark a packet as inside the window


def _category(rule: Rule, tz_name: str = "UTC", since: dt.date | None = None, default_tz: str = "UTC") -> _Category:
    """One set per validity condition; timed sets also get 'outside' matches that end live sessions.
    ``tz_name``: the clock of the rule's site (scheduled windows); ``since``: the compile date."""
    v = rule.validity
    if v.kind == "on_demand":
        return _Category("ondemand", "", (), "on demand: accepted here, enforced per packet against the live grants")
    until = f"meta time < {_epoch_end(v.until)}" if v.until else ""
    expired = (f"meta time >= {_epoch_end(v.until)}",) if v.until else ()
    if v.kind == "scheduled" and v.window:
        w = v.window
        stem = f"window_{'_'.join(w.days)}_{w.start.replace(':', '')}_{w.end.replace(':', '')}"
        if v.until:
            stem += f"_until_{v.until.strftime('%Y%m%d')}"
        if tz_name != default_tz:
            stem += "_" + "".join(c if c.isalnum() else "_" for c in tz_name)
        inside = f"meta mark & {MARK_WINDOW:#010x} == {MARK_WINDOW:#010x}"
        outside = (f"meta mark & {MARK_WINDOW:#010x} == 0",)
        marks = _window_marks(w, tz_name, since or dt.date(1970, 1, 1), v.until)
        return _Category(stem, inside, outside, f"scheduled window {','.join(w.days)} {w.start}-{w.end} "
                         f"{tz_name}" + (f", until {v.until.isoformat()}" if v.until else ""), marks)
    if v.until:
        return _Category(f"until_{v.until.strftime('%Y%m%d')}", until, expired,
                         f"valid through {v.until.isoformat()} (UTC, firewall clock)")
    return _Category("allow", "", (), "permanent")


def _tz_of(inv: Any, rule: Rule) -> str:
    """The clock of the rule's system's site (scheduled windows): the site's, else the policy's."""
    s = inv.systems.get(rule.system)
    site = inv.sites.get(s.site) if s is not None else None
    return (site.timezone if site is not None and site.timezone else "") or inv.policy.timezone


@dataclass(frozen=True)
class NftChain:
    """A regular chain of the policy table (the template prints it as it is)."""

    name: str
    comment: str
    rules: tuple[str, ...]


@dataclass(frozen=True)
class _Layout:
    """The conntrack mark of a classified connection: ``generation << shift | multi | keep | class``.

    ``class`` is the category's number (1..n, 0: in no category), ``keep`` the must-keep bit, ``multi``
    set when the tuple is in two categories (such a connection takes ``every_set``), ``generation`` the
    policy's digest: a mark written by another policy never matches the map, the connection is classified
    again by its next packet."""

    width: int
    generation: int

    @property
    def field(self) -> int:
        return (1 << self.width) - 1

    @property
    def keep(self) -> int:
        return 1 << self.width

    @property
    def multi(self) -> int:
        return 1 << (self.width + 1)

    @property
    def shift(self) -> int:
        return self.width + 2

    @property
    def gen(self) -> int:
        return self.generation << self.shift

    @property
    def gen_mask(self) -> int:
        return (0xFFFFFFFF >> self.shift) << self.shift

    @property
    def low_mask(self) -> int:
        """The class, keep and multi bits: the map's key (the generation is matched apart, so a policy
        change touches three rules of the file, not every element of the map)."""
        return (1 << self.shift) - 1

    def mark(self, number: int, keep: bool) -> int:
        return self.gen | (self.keep if keep else 0) | number


def _layout(categories: int, digest_parts: list[str]) -> _Layout:
    """Class numbers in the low bits, the generation (never 0, so a fresh connection's mark 0 never
    matches) in every bit above the keep and multi bits."""
    width = max(1, categories.bit_length())
    shift = width + 2
    h = hashlib.sha256("\n".join(digest_parts).encode()).digest()
    generation = int.from_bytes(h[:4], "big") >> shift
    return _Layout(width, generation or 1)


def _hex(v: int) -> str:
    return f"{v:#010x}"


def _class_rules(cat: _Category | None, keep: bool, log_group: int) -> tuple[str, ...]:
    """The checks every packet of a connection of one class goes through: the same as ``every_set`` runs
    for a tuple of this one category (isolated drops unless must-keep, the on-demand tag, the clock),
    then ``open`` (established: accept; new: ``admit``)."""
    out: list[str] = []
    if keep:
        out.append(f"meta mark set meta mark | {_hex(MARK_KEEP)}")
    else:
        out += [f'ip {d} @isolated log group {log_group} prefix "vw-isolated" drop' for d in ("saddr", "daddr")]
    if cat is None:  # in no set: established accepted (as every_set does), new refused
        return (*out, "ct state established accept", "goto refuse")
    if cat.stem == "ondemand":
        out += [f"ct direction original meta mark set meta mark | {_hex(MARK_REQUEST)}",
                f"ct direction reply meta mark set meta mark | {_hex(MARK_REPLY)}"]
    if cat.marks:  # scheduled: open inside one of the window's periods, else out of time
        out += [f"{cond} goto open" for cond in cat.marks]
        out.append(f'log group {log_group} prefix "vw-out-of-time" drop')
    elif cat.match:  # dated: open until the end of the day
        out += [f"{cat.match} goto open", f'log group {log_group} prefix "vw-out-of-time" drop']
    else:
        out.append("goto open")
    return tuple(out)


ISOLATED_MARK = "# isolated at render time: "


def isolated_line(model: Model) -> str:
    """The header line naming the vendors isolated at render time (deploy checks a planned file's against
    the isolation record of the moment: a file rendered before an isolation is never pushed)."""
    return ISOLATED_MARK + (", ".join(f"{v} ({s})" for v, s in sorted(model.isolated.items())) or "none")


@register("nftables")
def render(model: Model, intent: DeviceIntent, plat: Platform) -> tuple[str, dict[str, int], list[Diagnostic]]:
    limit = plat.limits.get("comment_max", 128)
    pol = model.inventory.policy
    diags: list[Diagnostic] = []
    for seg in intent.segments:
        if len(seg.interface) > plat.limits.get("interface_name_max", 15):
            diags.append(Diagnostic(intent.device, 0, seg.key, "interface name too long for nftables",
                                    f"at most {plat.limits['interface_name_max']} characters", seg.interface,
                                    "", "platform"))
    keys = _Keys(limit)
    buckets: dict[tuple[str, str], dict[_Key, str]] = defaultdict(dict)
    info: dict[str, _Category] = {}
    inv = model.inventory
    keep_of: set[str | None] = set()  # the categories must-keep tuples sit in (None: in none)
    for rule in intent.rules:
        if rule.kind == "management":
            if rule.keep:
                keep_of.add(None)
            continue  # the input chain accepts the management networks as a whole
        cat = _category(rule, _tz_of(inv, rule), model.now, pol.timezone)
        info[cat.stem] = cat
        keys.add(buckets[(cat.stem, rule.protocol)], rule)
        if rule.keep:
            keep_of.add(cat.stem)
    sets: list[NftSet] = []
    allow_rules: list[NftRule] = []
    tag_rules: list[NftRule] = []
    end_rules: list[NftRule] = []  # before 'ct state established': a closed window also ends live sessions
    mark_rules: list[NftRule] = []  # every 'inside its window' mark comes before any 'outside' drop
    elements = 0
    # Order: permanent, then dated, then windows, on-demand last; protocols tcp, udp, any.
    order = {"allow": 0, "until": 1, "window": 2, "ondemand": 3}
    for stem, proto in sorted(buckets, key=lambda k: (order[k[0].split("_")[0]], k[0], k[1])):
        name = f"{stem}_{proto}"
        elems = keys.elements(buckets[(stem, proto)])
        elements += len(elems)
        cat = info[stem]
        sets.append(NftSet(name, _KEY[proto], "interval", elems, cat.description))
        text = " ".join(x for x in (f"{_MATCH[proto]} @{name}", cat.match, "accept") if x)
        for cond in cat.marks:
            for m in (_MATCH[proto], _REPLY_MATCH[proto]):
                mark_rules.append(NftRule(f"{m} @{name} {cond} meta mark set meta mark | {MARK_WINDOW:#010x}"))
        for cond in cat.outside:
            for m in (_MATCH[proto], _REPLY_MATCH[proto]):
                end_rules.append(NftRule(f'{m} @{name} {cond} log group {pol.log_group} prefix "vw-out-of-time" drop'))
        allow_rules.append(NftRule(text))
        if stem == "ondemand":
            tag_rules.append(NftRule(f"{_MATCH[proto]} @{name} meta mark set meta mark | {MARK_REQUEST:#010x}"))
            tag_rules.append(NftRule(f"{_REPLY_MATCH[proto]} @{name} meta mark set meta mark | {MARK_REPLY:#010x}"))
    # Must-keep clinical flows: every packet (both directions) is tagged, and the state table's
    # quarantine drops skip tagged packets, so isolating a vendor's segments keeps them up.
    keep: dict[str, dict[_Key, str]] = defaultdict(dict)
    for rule in intent.rules:
        if rule.keep:  # must-keep clinical, infrastructure and staff flows (vendor access is never kept)
            keys.add(keep[rule.protocol], rule)
    keep_sets: list[NftSet] = []
    keep_rules: list[NftRule] = []
    for proto in ("tcp", "udp", "any"):
        if not keep[proto]:
            continue
        name = f"keep_{proto}"
        elems = keys.elements(keep[proto])
        keep_sets.append(NftSet(name, _KEY[proto], "interval", elems, "must-keep clinical flows: never quarantined"))
        keep_rules += [NftRule(f"{_MATCH[proto]} @{name} meta mark set meta mark | {MARK_KEEP:#010x}"),
                       NftRule(f"{_REPLY_MATCH[proto]} @{name} meta mark set meta mark | {MARK_KEEP:#010x}")]
    mgmt = sorted(set(intent.mgmt), key=lambda n: (int(n.network_address), n.prefixlen))
    isolated = tuple(f'{e.value} comment "{_comment(e.comment, limit)}"' for e in intent.quarantine)
    category_sets = sets
    sets = [NftSet("mgmt", "ipv4_addr", "interval", tuple(_net(n) for n in mgmt), "management networks: never cut"),
            NftSet("vendor_src", "ipv4_addr", "interval", tuple(_net(n) for n in intent.vendor_sources),
                   "vendor entry paths (bastion, VPN pool, LAN-to-LAN subnets)"),
            NftSet("isolated", "ipv4_addr", "interval", isolated,
                   "quarantine of the vendors isolated at render time (vendorwall isolate)"),
            *keep_sets, *sets]
    quarantine_rules = [NftRule(f"meta mark & {MARK_KEEP:#010x} == 0 ip {d} @isolated log group {pol.log_group} "
                                f'prefix "vw-isolated" drop') for d in ("saddr", "daddr")]
    # every_set: the checks of every set on every packet (connections the fast path does not classify)
    every_set = (*(r.text for r in keep_rules + tag_rules), *(r.text for r in quarantine_rules),
                 *(r.text for r in mark_rules + end_rules), "ct state invalid drop",
                 "ct state established,related accept",
                 f'fib saddr . iif oif missing log group {pol.log_group} prefix "vw-spoofed" drop',
                 f'ct state new ip saddr @vendor_src log group {pol.connection_log_group} prefix "vw-vendor-new"',
                 *(r.text for r in allow_rules), f'log group {pol.log_group} prefix "vw-drop" drop')
    chains, class_map, layout = _fast_path(info, keep_of, category_sets, keep_sets, pol.log_group,
                                           pol.connection_log_group)
    chains.append(NftChain("every_set", "every set's checks on every packet: related packets, tuples in two "
                           "categories, anything the map classes does not name", every_set))
    text = template(
        "firewall", "nftables",
        device=intent.device, site=intent.site, now=model.now.isoformat(),
        policy_table=POLICY_TABLE, state_table=STATE_TABLE,
        sets=sets, chains=chains, class_map=class_map,
        generation=_hex(layout.gen), generation_var=GENERATION,
        established_fast=(f"ct state established ct mark & {_hex(layout.gen_mask)} == ${GENERATION} "
                          f"ct mark & {_hex(layout.low_mask)} vmap @classes"),
        stale=f"ct state established ct mark & {_hex(layout.gen_mask)} != ${GENERATION} jump classify",
        classified=f"ct state new,established ct mark & {_hex(layout.low_mask)} vmap @classes",
        isolated_line=isolated_line(model),
        segments=[(s.interface, str(s.vlan), f"{s.gateway}/{s.subnet.prefixlen}", s.key) for s in intent.segments],
        mark_request=f"{MARK_REQUEST:#010x}", mark_reply=f"{MARK_REPLY:#010x}",
        mark_any=f"{MARK_REQUEST | MARK_REPLY:#010x}", mark_keep=f"{MARK_KEEP:#010x}",
        log_group=pol.log_group, conn_log_group=pol.connection_log_group,
        grant_sets=[(f"grants_{p}", _KEY[p], _MATCH[p], _REPLY_MATCH[p]) for p in ("tcp", "udp", "any")],
    )
    summary = {"rules": len([r for r in intent.rules if r.kind != "management"]), "elements": elements,
               "sets": len(sets) - 3 - len(keep_sets), "segments": len(intent.segments)}
    return text, summary, diags


def _fast_path(info: dict[str, _Category], keep_of: set[str | None], category_sets: list[NftSet],
               keep_sets: list[NftSet], log_group: int,
               conn_log_group: int) -> tuple[list[NftChain], list[tuple[str, str]], _Layout]:
    """The chains that classify a connection once into its conntrack mark, the class chains its later
    packets take, and the map ``classes`` (mark -> chain)."""
    order = {"allow": 0, "until": 1, "window": 2, "ondemand": 3}
    stems = sorted(info, key=lambda st: (order[st.split("_")[0]], st))
    number = {st: i + 1 for i, st in enumerate(stems)}
    digest = [f"{st} {number[st]}" for st in stems]
    digest += [f"{s.name} {s.key} {s.flags}\n" + "\n".join(s.elements) for s in (*keep_sets, *category_sets)]
    layout = _layout(len(stems), digest)
    classes: list[tuple[str | None, bool]] = [(st, False) for st in stems] + [(None, False)]
    classes += [(st, True) for st in [*stems, None] if st in keep_of]
    chains = [
        NftChain("refuse", "a new connection in no set: spoofing checked, vendor attempts logged, dropped (logged)",
                 (f'fib saddr . iif oif missing log group {log_group} prefix "vw-spoofed" drop',
                  f'ip saddr @vendor_src log group {conn_log_group} prefix "vw-vendor-new"',
                  f'log group {log_group} prefix "vw-drop" drop')),
        NftChain("admit", "a new connection its class allows: spoofing checked, vendor connections logged",
                 (f'fib saddr . iif oif missing log group {log_group} prefix "vw-spoofed" drop',
                  f'ip saddr @vendor_src log group {conn_log_group} prefix "vw-vendor-new"', "accept")),
        NftChain("open", "its class's checks passed", ("ct state established accept", "goto admit")),
    ]
    class_map: list[tuple[str, str]] = []
    for st, kp in classes:
        name = f"class_{st or 'none'}" + ("_keep" if kp else "")
        what = info[st].description if st else "in no set"
        chains.append(NftChain(name, f"{what}{', must-keep' if kp else ''}",
                               _class_rules(info[st] if st else None, kp, log_group)))
        class_map.append((_hex(layout.mark(number[st] if st else 0, kp) & layout.low_mask), name))
    for st in stems:
        n = number[st]
        chains.append(NftChain(f"hit_{st}", f"the tuple is in a set of {st}", (
            f"ct mark & {_hex(layout.field)} == 0 ct mark set ct mark | {_hex(n)} return",
            f"ct mark & {_hex(layout.field)} != {_hex(n)} ct mark set ct mark | {_hex(layout.multi)}")))
    by_stem = {s.name: s.name.rsplit("_", 1)[0] for s in category_sets}
    for name, match in (("classify_reply", _REPLY_MATCH), ("classify", _MATCH)):
        rules = [f"ct mark set ${GENERATION}"] if name == "classify" else []
        if name == "classify":
            rules.append("ct direction reply goto classify_reply")
        rules += [f"{match[s.name[5:]]} @{s.name} ct mark set ct mark | {_hex(layout.keep)}" for s in keep_sets]
        rules += [f"{match[s.name.rsplit('_', 1)[1]]} @{s.name} jump hit_{by_stem[s.name]}" for s in category_sets]
        chains.append(NftChain(name, "the connection's class, from the direction of this packet" if name ==
                               "classify_reply" else "the connection's class into its conntrack mark", tuple(rules)))
    return chains, class_map, layout
