"""First-match evaluation of an ordered rule list into a meaning (flow tuples with their conditions).

The parsers of the platforms whose policy is an ordered list of rules over named objects (Stormshield,
PAN-OS, ASA) read their text into :class:`ERule` objects, then :func:`evaluate` computes what the list
allows, as :mod:`vendorwall.render.meaning` defines it:

- a rule is (action, source prefixes, destination prefixes, (protocol, port) pairs or any, schedule);
- an accepted tuple is shadowed by an earlier deny covering it on an "always" schedule;
- an earlier deny on an "after D" schedule (active from day D on) turns the tuple's condition into an
  end date (D - 1): the dated-window idiom of every renderer;
- tuples accepted before the first quarantine deny are "keep" (spared by an isolation);
- closed schedules (a grant window that is not open, or any schedule vendorwall does not write) allow
  nothing; an on-demand window allows its tuples under the condition ``on_demand``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from ipaddress import IPv4Network

from .meaning import ON_DEMAND, PERMANENT, FlowTuple, Meaning

ANY = IPv4Network("0.0.0.0/0")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOSED_BEFORE = dt.datetime(2001, 1, 2)  # a window ending before this is a closed grant window
FAR = dt.datetime(2037, 12, 31)


@dataclass(frozen=True)
class Schedule:
    kind: str  # always | until | window | after | on_demand | never | open
    until: dt.date | None = None
    days: tuple[str, ...] = ()
    start: str = ""
    end: str = ""
    after: dt.date | None = None  # kind "after": active from this day on


ALWAYS = Schedule("always")


def classify_range(name: str, start: dt.datetime, end: dt.datetime) -> Schedule:
    """A one-time schedule (start, end) as vendorwall writes them: closed grant window, end date, "from
    the day after", or something else (an open grant window, a schedule vendorwall does not write)."""
    if end <= CLOSED_BEFORE:
        return Schedule("on_demand" if name.startswith("vw-od-") else "never")
    if start <= CLOSED_BEFORE and end.time() == dt.time(0, 0):
        return Schedule("until", until=end.date() - dt.timedelta(days=1))
    if end >= FAR and start.time() == dt.time(0, 0):
        return Schedule("after", after=start.date())
    return Schedule("open", start=start.isoformat(), end=end.isoformat())


def window(days: list[str], start: str, end: str) -> Schedule:
    return Schedule("window", days=tuple(sorted(set(days), key=DAYS.index)), start=start, end=end)


def condition(s: Schedule) -> str | None:
    if s.kind == "always":
        return PERMANENT
    if s.kind == "until" and s.until:
        return f"until:{s.until.isoformat()}"
    if s.kind == "window":
        return f"window:{','.join(s.days)} {s.start}-{s.end}"
    if s.kind == "on_demand":
        return ON_DEMAND
    return None


Pair = tuple[str, int | None]


@dataclass
class ERule:
    action: str  # accept | deny
    src: list[IPv4Network]
    dst: list[IPv4Network]
    pairs: list[Pair]  # [("any", None)] for every protocol
    schedule: Schedule = ALWAYS
    quarantine: bool = False
    enabled: bool = True
    name: str = ""
    svc_set: set[Pair] = field(default_factory=set, repr=False)


def _inside(n: IPv4Network, nets: list[IPv4Network]) -> bool:
    """``n`` within one of ``nets``; a /0 covers both families (ASA's any), otherwise families never mix."""
    return any(x.prefixlen == 0 or (n.version == x.version and n.subnet_of(x)) for x in nets)


def evaluate(rules: list[ERule]) -> Meaning:
    out: set[FlowTuple] = set()
    denies: list[ERule] = []
    seen_quarantine = False
    for r in rules:
        if not r.enabled:
            continue
        r.svc_set = set(r.pairs)
        if r.action != "accept":
            seen_quarantine = seen_quarantine or r.quarantine
            denies.append(r)
            continue
        cond = condition(r.schedule)
        if cond is None:
            continue
        for s in r.src:
            for d in r.dst:
                for proto, port in r.pairs:
                    shadowed = False
                    ends: list[dt.date] = []
                    for dn in denies:
                        if not (_inside(s, dn.src) and _inside(d, dn.dst)):
                            continue
                        if not (("any", None) in dn.svc_set or (proto, port) in dn.svc_set):
                            continue
                        if dn.schedule.kind == "always":
                            shadowed = True
                            break
                        if dn.schedule.kind == "after" and dn.schedule.after:
                            ends.append(dn.schedule.after - dt.timedelta(days=1))
                    c = cond
                    if ends:  # the earliest "from the day after" deny ends the tuple
                        last = min(ends).isoformat()
                        c = f"{c};until:{last}" if c != PERMANENT else f"until:{last}"
                    if not shadowed:
                        out.add(FlowTuple(s, d, proto, port, "accept", c, keep=not seen_quarantine))
    return frozenset(out)
