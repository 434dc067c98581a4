"""Read FortiOS CLI configuration text (a rendered file, or ``show`` output of a FortiGate) back.

- :func:`parse` turns ``config <table> / edit <key> / set <attr> <values...> / next / end`` into
  :class:`Table` objects (nested ``config`` blocks inside an entry are kept apart, never mixed in);
- :func:`meaning` computes what the policy means (:mod:`vendorwall.render.meaning`): every
  accepted (source, destination, protocol, port) with its schedule as a condition, evaluated first
  match in policy order (an earlier deny shadows; a deny on a "from date D" schedule turns into an
  end date), each address required to sit behind the policy's interface or zone.

Used by the meaning tests and the lab (``--as-platform fortios``), and by the FortiOS pusher and
driver to read what a FortiGate runs.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Network

from .meaning import ON_DEMAND, PERMANENT, FlowTuple, Meaning, register

_DAY_ABBR = {"monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu", "friday": "fri",
             "saturday": "sat", "sunday": "sun"}
_DAY_ORDER = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ANY = IPv4Network("0.0.0.0/0")


@dataclass
class Entry:
    key: str
    settings: dict[str, list[str]] = field(default_factory=dict)
    children: dict[str, Table] = field(default_factory=dict)  # nested config blocks

    def get(self, attr: str, default: str = "") -> str:
        v = self.settings.get(attr)
        return " ".join(v) if v else default

    def values(self, attr: str) -> list[str]:
        return list(self.settings.get(attr, []))


@dataclass
class Table:
    name: str
    entries: dict[str, Entry] = field(default_factory=dict)  # insertion order = CLI order


class ParseError(ValueError):
    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line


def _tokens(line: str, n: int) -> list[str]:
    try:
        return shlex.split(line, posix=True)
    except ValueError as exc:
        raise ParseError(n, f"{exc}: {line.strip()[:80]}") from None


def parse(text: str) -> dict[str, Table]:
    """Every top-level ``config`` table of ``text``, by name (``firewall policy``...)."""
    tables: dict[str, Table] = {}
    stack: list[tuple[Table, Entry | None]] = []
    for n, raw in enumerate(text.replace("\r", "").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word == "config":
            t = Table(rest.strip())
            if stack and stack[-1][1] is not None:
                parent = stack[-1][1]
                assert parent is not None
                parent.children[t.name] = t
            elif stack:
                raise ParseError(n, f"config {t.name} inside a table outside any edit")
            else:
                t = tables.setdefault(t.name, t)
            stack.append((t, None))
        elif word == "edit":
            if not stack:
                raise ParseError(n, "edit outside config")
            key = _tokens(rest, n)[0] if rest.strip() else ""
            table = stack[-1][0]
            entry = table.entries.get(key) or Entry(key)
            table.entries[key] = entry
            stack[-1] = (table, entry)
        elif word in ("set", "append", "unset", "unselect"):
            if not stack:
                raise ParseError(n, f"{word} outside config")
            e = stack[-1][1]
            toks = _tokens(rest, n)
            if not toks:
                raise ParseError(n, f"{word} without an attribute")
            if e is None:  # settings of a singleton table (config system global): entry ""
                table = stack[-1][0]
                e = table.entries.setdefault("", Entry(""))
            if word == "set":
                e.settings[toks[0]] = toks[1:]
            elif word == "append":
                e.settings.setdefault(toks[0], []).extend(t for t in toks[1:] if t not in e.settings[toks[0]])
            elif word == "unselect":
                e.settings[toks[0]] = [v for v in e.settings.get(toks[0], []) if v not in toks[1:]]
            else:
                e.settings.pop(toks[0], None)
        elif word == "next":
            if not stack:
                raise ParseError(n, "next outside config")
            stack[-1] = (stack[-1][0], None)
        elif word == "end":
            if not stack:
                raise ParseError(n, "end without config")
            stack.pop()
        elif word in ("delete", "move", "purge", "clone", "rename"):
            continue  # commands, not configuration (a plan's command list)
        else:
            raise ParseError(n, f"unexpected line: {line[:80]}")
    if stack:
        raise ParseError(0, f"config {stack[-1][0].name} not closed with end")
    return tables


def _table(cfg: dict[str, Table], name: str) -> dict[str, Entry]:
    t = cfg.get(name)
    return t.entries if t else {}


def _when(text: str) -> dt.datetime:
    """``hh:mm yyyy/mm/dd`` (FortiOS schedule onetime) -> datetime."""
    return dt.datetime.strptime(text, "%H:%M %Y/%m/%d")


@dataclass(frozen=True)
class Schedule:
    kind: str  # always | until | window | after | never | on_demand | open
    until: dt.date | None = None
    days: tuple[str, ...] = ()
    start: str = ""
    end: str = ""
    after: dt.date | None = None  # kind "after": active from this day on


CLOSED_BEFORE = dt.datetime(2001, 1, 2)  # a onetime schedule ending before this is a closed grant window
FAR = dt.datetime(2037, 12, 31)


def schedules(cfg: dict[str, Table]) -> dict[str, Schedule]:
    out = {"always": Schedule("always")}
    for name, e in _table(cfg, "firewall schedule onetime").items():
        start, end = _when(e.get("start")), _when(e.get("end"))
        if end <= CLOSED_BEFORE:
            out[name] = Schedule("on_demand" if name.startswith("vw-od-") else "never")
        elif start <= CLOSED_BEFORE and end.time() == dt.time(0, 0):
            out[name] = Schedule("until", until=end.date() - dt.timedelta(days=1))
        elif end >= FAR and start.time() == dt.time(0, 0):
            out[name] = Schedule("after", after=start.date())
        else:  # an open grant window, or a schedule vendorwall does not write
            out[name] = Schedule("open", start=e.get("start"), end=e.get("end"))
    for name, e in _table(cfg, "firewall schedule recurring").items():
        days = tuple(sorted((_DAY_ABBR[d] for d in e.values("day") if d in _DAY_ABBR), key=_DAY_ORDER.index))
        out[name] = Schedule("window", days=days, start=e.get("start"), end=e.get("end"))
    return out


def addresses(cfg: dict[str, Table]) -> dict[str, list[IPv4Network]]:
    out: dict[str, list[IPv4Network]] = {"all": [ANY], "none": []}
    for name, e in _table(cfg, "firewall address").items():
        sub = e.values("subnet")
        if e.get("type", "ipmask") == "ipmask" and len(sub) == 2:
            out[name] = [IPv4Network(f"{sub[0]}/{sub[1]}")]
        elif len(sub) == 1 and "/" in sub[0]:
            out[name] = [IPv4Network(sub[0])]
    groups = _table(cfg, "firewall addrgrp")

    def resolve(name: str, seen: frozenset[str]) -> list[IPv4Network]:
        if name in out:
            return out[name]
        if name in seen or name not in groups:
            return []
        nets: list[IPv4Network] = []
        for m in groups[name].values("member"):
            nets += resolve(m, seen | {name})
        return nets

    for name in groups:
        out[name] = resolve(name, frozenset())
    return out


_RANGE = re.compile(r"^(\d+)(?:-(\d+))?(?::.*)?$")


def services(cfg: dict[str, Table]) -> dict[str, list[tuple[str, int | None]]]:
    """Service name -> (protocol, port) pairs; ``ALL`` -> any protocol."""
    out: dict[str, list[tuple[str, int | None]]] = {"ALL": [("any", None)]}
    for name, e in _table(cfg, "firewall service custom").items():
        pairs: list[tuple[str, int | None]] = []
        for proto in ("tcp", "udp"):
            for part in e.values(f"{proto}-portrange"):
                m = _RANGE.match(part)
                if m:
                    lo = int(m.group(1))
                    hi = int(m.group(2) or lo)
                    pairs += [(proto, p) for p in range(lo, hi + 1)]
        out[name] = pairs
    groups = _table(cfg, "firewall service group")
    for name, e in groups.items():
        out[name] = [p for m in e.values("member") for p in out.get(m, [])]
    return out


def interface_nets(cfg: dict[str, Table]) -> dict[str, list[IPv4Network]]:
    """Interface or zone name -> the subnets behind it (VLAN interfaces vendorwall renders)."""
    out: dict[str, list[IPv4Network]] = {}
    for name, e in _table(cfg, "system interface").items():
        ip = e.values("ip")
        if len(ip) == 2:
            out[name] = [IPv4Network(f"{ip[0]}/{ip[1]}", strict=False)]
    for name, e in _table(cfg, "system zone").items():
        out[name] = [n for i in e.values("interface") for n in out.get(i, [])]
    return out


def _inside(n: IPv4Network, nets: list[IPv4Network]) -> bool:
    return any(n.subnet_of(x) for x in nets)


def _cond(s: Schedule) -> str | None:
    if s.kind == "always":
        return PERMANENT
    if s.kind == "until" and s.until:
        return f"until:{s.until.isoformat()}"
    if s.kind == "window":
        return f"window:{','.join(s.days)} {s.start}-{s.end}"
    if s.kind == "on_demand":
        return ON_DEMAND
    return None  # never (a closed window that is not a grant's), open (a grant's live window)


@dataclass
class _Deny:
    src: list[IPv4Network]
    dst: list[IPv4Network]
    svcs: set[tuple[str, int | None]]
    any_svc: bool
    sched: Schedule
    quarantine: bool


def _covers(d: _Deny, src: IPv4Network, dst: IPv4Network, proto: str, port: int | None) -> bool:
    if not (_inside(src, d.src) and _inside(dst, d.dst)):
        return False
    return d.any_svc or (proto, port) in d.svcs


def policies(cfg: dict[str, Table]) -> Iterator[Entry]:
    yield from _table(cfg, "firewall policy").values()


def meaning(text: str, *, quarantine_group: str = "vw-quarantine") -> Meaning:
    cfg = parse(text)
    addrs = addresses(cfg)
    svcs = services(cfg)
    scheds = schedules(cfg)
    behind = interface_nets(cfg)
    out: set[FlowTuple] = set()
    denies: list[_Deny] = []
    seen_quarantine = False
    for p in policies(cfg):
        if p.get("status", "enable") == "disable":
            continue
        sched = scheds.get(p.get("schedule", "always").strip('"'), Schedule("never"))
        src = [n for a in p.values("srcaddr") for n in addrs.get(a, [])]
        dst = [n for a in p.values("dstaddr") for n in addrs.get(a, [])]
        pairs = [x for s in p.values("service") for x in svcs.get(s, [])]
        is_q = quarantine_group in p.values("srcaddr") or quarantine_group in p.values("dstaddr")
        if p.get("action", "deny") != "accept":
            seen_quarantine = seen_quarantine or is_q
            denies.append(_Deny(src, dst, set(pairs), ("any", None) in pairs, sched, is_q))
            continue
        cond = _cond(sched)
        if cond is None:
            continue
        sif, dif = p.values("srcintf"), p.values("dstintf")
        src_ok = [n for n in src if "any" in sif or any(_inside(n, behind.get(i, [])) for i in sif)]
        dst_ok = [n for n in dst if "any" in dif or any(_inside(n, behind.get(i, [])) for i in dif)]
        for s in src_ok:
            for d in dst_ok:
                for proto, port in pairs:
                    c = cond
                    shadowed = False
                    for dn in denies:
                        if not _covers(dn, s, d, proto, port):
                            continue
                        if dn.sched.kind == "always":
                            shadowed = True
                            break
                        if dn.sched.kind == "after" and dn.sched.after:
                            end = dn.sched.after - dt.timedelta(days=1)
                            c = f"{c};until:{end.isoformat()}" if c != PERMANENT else f"until:{end.isoformat()}"
                    if not shadowed:
                        out.add(FlowTuple(s, d, proto, port, "accept", c, keep=not seen_quarantine))
    return frozenset(out)


register("fortios")(meaning)
