"""What a firewall policy means, as data: the set of allowed flow tuples.

Every firewall platform's rendered text can be read back into the same shape: one
:class:`FlowTuple` per (source prefix, destination prefix, protocol, port) it accepts, with the
condition under which it accepts it (permanent, until a date, inside a weekly window, only while
an on-demand grant is open) and whether an isolation's quarantine spares it (must-keep clinical
flows). Anything not in the set is denied (default deny).

- :func:`intent_meaning` is the reference: what the compiled intent of a device says;
- ``MEANINGS[platform](text)`` reads a platform's rendered text back (registered by each
  platform's parser, e.g. :mod:`vendorwall.render.fortios_cli`);
- :func:`as_rules` turns a meaning back into rules, so the lab's nftables firewall can be loaded
  from it (``vendorwall lab deploy --as-platform NAME``): the lab's probes then test what the
  platform's policy means, with real packets.

Management flows (the management networks to the firewall itself) are not forwarded traffic:
every platform keeps its own management access (nftables: its input chain; FortiOS: trusted
hosts and local-in policies, which vendorwall never changes), so they are not part of a meaning.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from ipaddress import IPv4Network

from ..compile import expand
from ..model import DeviceIntent, Rule, Validity, Window

PERMANENT = "permanent"
ON_DEMAND = "on_demand"


@dataclass(frozen=True, order=True)
class FlowTuple:
    src: IPv4Network
    dst: IPv4Network
    protocol: str  # tcp | udp | any
    port: int | None  # None for protocol any
    action: str = "accept"
    condition: str = PERMANENT  # permanent | until:DATE | window:DAYS HH:MM-HH:MM[;until:DATE] | on_demand
    keep: bool = False  # spared by a quarantine (must-keep clinical flow)

    def key(self) -> tuple[str, str, str, int | None]:
        return str(self.src), str(self.dst), self.protocol, self.port

    def text(self) -> str:
        port = "" if self.port is None else f"/{self.port}"
        keep = " keep" if self.keep else ""
        return f"{self.src} -> {self.dst} {self.protocol}{port} {self.action} [{self.condition}{keep}]"


Meaning = frozenset[FlowTuple]


def condition_of(v: Validity) -> str:
    """The condition string of a rule's validity (the vocabulary every platform parser returns)."""
    if v.kind == "on_demand":
        return ON_DEMAND
    parts = []
    if v.kind == "scheduled" and v.window:
        parts.append(window_text(v.window))
    if v.until:
        parts.append(f"until:{v.until.isoformat()}")
    return ";".join(parts) or PERMANENT


def window_text(w: Window) -> str:
    return f"window:{','.join(w.days)} {w.start}-{w.end}"


def parse_condition(cond: str) -> Validity:
    """The inverse of :func:`condition_of` (for :func:`as_rules`)."""
    if cond == ON_DEMAND:
        return Validity("on_demand", max_hours=1)
    until = None
    window = None
    for part in cond.split(";"):
        if part.startswith("until:"):
            until = dt.date.fromisoformat(part[len("until:"):])
        elif part.startswith("window:"):
            days, span = part[len("window:"):].split(" ")
            start, end = span.split("-")
            window = Window(tuple(days.split(",")), start, end)
    if window is not None:
        return Validity("scheduled", until=until, window=window)
    if until is not None:
        return Validity("until", until=until)
    return Validity("permanent")


def intent_meaning(intent: DeviceIntent) -> Meaning:
    """The reference meaning of a firewall's compiled intent (management flows excluded)."""
    out: set[FlowTuple] = set()
    for r in intent.rules:
        if r.kind == "management":
            continue
        cond = condition_of(r.validity)
        keep = r.kind == "clinical" and r.keep
        for src, dst, proto, port in expand(r):
            out.add(FlowTuple(src, dst, proto, port, "accept", cond, keep))
    return frozenset(out)


def differences(want: Iterable[FlowTuple], have: Iterable[FlowTuple]) -> tuple[list[FlowTuple], list[FlowTuple]]:
    """(missing from ``have``, extra in ``have``), sorted."""
    w, h = set(want), set(have)
    return sorted(w - h), sorted(h - w)


MeaningFn = Callable[[str], Meaning]
MEANINGS: dict[str, MeaningFn] = {}


def register(platform: str) -> Callable[[MeaningFn], MeaningFn]:
    def deco(fn: MeaningFn) -> MeaningFn:
        MEANINGS[platform] = fn
        return fn

    return deco


def meaning_of(platform: str, text: str) -> Meaning:
    """What ``text`` (rendered for ``platform``) means; KeyError for a platform without a parser."""
    from . import asa_cli, fortios_cli, panos_xml, stormshield_cli  # noqa: F401  (register their parsers)

    return MEANINGS[platform](text)


def as_rules(meaning: Iterable[FlowTuple], label: str) -> tuple[Rule, ...]:
    """Rules allowing exactly ``meaning`` (accept tuples), one per (condition, keep, protocol, port):
    what the lab's nftables renderer loads for ``--as-platform``."""
    groups: dict[tuple[str, bool, str, int | None], set[tuple[IPv4Network, IPv4Network]]] = defaultdict(set)
    for t in meaning:
        if t.action == "accept":
            groups[(t.condition, t.keep, t.protocol, t.port)].add((t.src, t.dst))
    rules: list[Rule] = []
    for n, ((cond, keep, proto, port), pairs) in enumerate(sorted(groups.items(), key=lambda kv: (
            kv[0][0], kv[0][1], kv[0][2], kv[0][3] or 0))):
        by_dst: dict[IPv4Network, set[IPv4Network]] = defaultdict(set)
        for src, dst in pairs:
            by_dst[dst].add(src)
        v = parse_condition(cond)
        kind = "clinical" if keep or v.kind != "on_demand" else "vendor_access"
        for m, (dst, srcs) in enumerate(sorted(by_dst.items())):
            rules.append(Rule(f"{label}/{n:05d}/{m:05d}", kind, "", "", tuple(sorted(srcs)), (dst,),
                              f"{proto}/{port}", proto, () if port is None else (port,), v, keep=keep))
    return tuple(rules)
