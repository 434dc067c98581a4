"""Read Cisco ASA configuration text back (a rendered file, or ``show running-config`` output).

- :func:`parse` turns the text into an :class:`AsaConfig`: blocks (``interface``, ``object-group``,
  ``time-range``: a header line and its indented lines), access-list lines per ACL, ``access-group``
  bindings;
- :func:`meaning` computes what the globally bound access list allows (ACEs first match in order,
  time-ranges as conditions; :mod:`vendorwall.render.evaluate`).

Used by the meaning tests and the lab (``--as-platform asa``), and by the ASA pusher and driver.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from ipaddress import IPv4Network, ip_network

from . import evaluate as ev
from .meaning import Meaning, register

DAYS = {"monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu", "friday": "fri",
        "saturday": "sat", "sunday": "sun"}
PORTS = {"ssh": 22, "telnet": 23, "www": 80, "http": 80, "https": 443, "domain": 53, "ntp": 123, "snmp": 161,
         "syslog": 514, "ldap": 389, "ldaps": 636, "smtp": 25, "ftp": 21, "rdp": 3389}
QUARANTINE = "vw-quarantine"


@dataclass
class AsaConfig:
    blocks: dict[str, list[str]] = field(default_factory=dict)  # header -> its lines (stripped), in order
    acls: dict[str, list[str]] = field(default_factory=dict)  # ACL name -> its lines after the name, in order
    bindings: list[str] = field(default_factory=list)  # access-group lines
    logging: list[str] = field(default_factory=list)  # logging lines (logging list / logging host ...)

    def groups(self, kind: str) -> dict[str, tuple[str, list[str]]]:
        """``object-group <kind>`` name -> (protocol or "", lines)."""
        out: dict[str, tuple[str, list[str]]] = {}
        for head, lines in self.blocks.items():
            w = head.split()
            if w[:2] == ["object-group", kind] and len(w) >= 3:
                out[w[2]] = (w[3] if len(w) > 3 else "", lines)
        return out

    def time_ranges(self) -> dict[str, list[str]]:
        return {h.split()[1]: lines for h, lines in self.blocks.items() if h.startswith("time-range ")}

    def global_acl(self) -> str:
        for b in self.bindings:
            w = b.split()
            if len(w) == 3 and w[0] == "access-group" and w[2] == "global":
                return w[1]
        return ""


def parse(text: str) -> AsaConfig:
    cfg = AsaConfig()
    current: list[str] | None = None
    for raw in text.replace("\r", "").splitlines():
        if not raw.strip() or raw.lstrip().startswith(("!", ":")):
            if raw.startswith("!"):
                current = None
            continue
        if raw[0] == " " and current is not None:
            current.append(raw.strip())
            continue
        line = raw.strip()
        w = line.split()
        if w[0] == "access-list" and len(w) > 2:
            cfg.acls.setdefault(w[1], []).append(" ".join(w[2:]))
            current = None
        elif w[0] == "access-group":
            cfg.bindings.append(line)
            current = None
        elif w[0] == "logging":
            cfg.logging.append(line)
            current = None
        elif w[0] in ("interface", "object-group", "time-range"):
            current = cfg.blocks.setdefault(line, [])
        else:
            current = None
    return cfg


def _net(tokens: list[str]) -> IPv4Network:
    if tokens[0] == "host":
        return ip_network(tokens[1])  # type: ignore[return-value]
    if "/" in tokens[0]:
        return ip_network(tokens[0], strict=False)  # type: ignore[return-value]
    return ip_network(f"{tokens[0]}/{tokens[1]}", strict=False)  # type: ignore[return-value]


def networks(cfg: AsaConfig) -> dict[str, list[IPv4Network]]:
    out: dict[str, list[IPv4Network]] = {}
    groups = cfg.groups("network")

    def resolve(name: str, seen: frozenset[str]) -> list[IPv4Network]:
        if name in out:
            return out[name]
        if name not in groups or name in seen:
            return []
        nets: list[IPv4Network] = []
        for line in groups[name][1]:
            w = line.split()
            if w[0] == "network-object" and w[1:3] != ["host", "0.0.0.0"]:
                nets.append(_net(w[1:]))
            elif w[0] == "group-object":
                nets += resolve(w[1], seen | {name})
        return nets

    for name in groups:
        out[name] = resolve(name, frozenset())
    return out


def _port(tok: str) -> int:
    return int(tok) if tok.isdigit() else PORTS[tok]


def services(cfg: AsaConfig) -> dict[str, list[ev.Pair]]:
    out: dict[str, list[ev.Pair]] = {}
    for name, (proto, lines) in cfg.groups("service").items():
        pairs: list[ev.Pair] = []
        for line in lines:
            w = line.split()
            if w[0] != "port-object":
                continue
            if w[1] == "eq":
                pairs.append((proto, _port(w[2])))
            elif w[1] == "range":
                pairs += [(proto, p) for p in range(_port(w[2]), _port(w[3]) + 1)]
        out[name] = pairs
    return out


def _when(tokens: list[str]) -> dt.datetime:
    """``HH:MM DD Month YYYY``."""
    return dt.datetime.strptime(" ".join(tokens[:4]), "%H:%M %d %B %Y")


def schedules(cfg: AsaConfig) -> dict[str, ev.Schedule]:
    out: dict[str, ev.Schedule] = {}
    for name, lines in cfg.time_ranges().items():
        absolute = [ln.split()[1:] for ln in lines if ln.startswith("absolute ")]
        periodic = [ln.split()[1:] for ln in lines if ln.startswith("periodic ")]
        if absolute and not periodic and len(absolute) == 1:
            w = absolute[0]
            start = _when(w[w.index("start") + 1:]) if "start" in w else ev.CLOSED_BEFORE - dt.timedelta(days=1)
            end = _when(w[w.index("end") + 1:]) if "end" in w else ev.FAR
            out[name] = ev.classify_range(name, start, end)
        elif periodic and not absolute:
            spans = {(p[0].lower(), p[1], p[3]) for p in periodic if len(p) == 4 and p[2] == "to"}
            times = {(s, e) for _d, s, e in spans}
            if len(times) == 1 and all(d in DAYS for d, _s, _e in spans):
                t0, t1 = next(iter(times))
                out[name] = ev.window([DAYS[d] for d, _s, _e in spans], t0.zfill(5), t1.zfill(5))
            else:
                out[name] = ev.Schedule("open")
        else:
            out[name] = ev.Schedule("open")  # a time-range vendorwall does not write
    return out


def _endpoint(w: list[str], i: int, nets: dict[str, list[IPv4Network]]) -> tuple[list[IPv4Network], str, int]:
    """(prefixes, group name or "", next index) of an ACE endpoint at ``w[i]``."""
    if w[i] in ("any", "any4", "any6"):
        return [ev.ANY], "", i + 1
    if w[i] == "object-group":
        return nets.get(w[i + 1], []), w[i + 1], i + 2
    if w[i] == "host":
        return [ip_network(w[i + 1])], "", i + 2  # type: ignore[list-item]
    if "/" in w[i]:
        return [ip_network(w[i], strict=False)], "", i + 1  # type: ignore[list-item]
    return [ip_network(f"{w[i]}/{w[i + 1]}", strict=False)], "", i + 2  # type: ignore[list-item]


def rules(cfg: AsaConfig, acl: str = "") -> list[ev.ERule]:
    nets, svcs, scheds = networks(cfg), services(cfg), schedules(cfg)
    out: list[ev.ERule] = []
    for line in cfg.acls.get(acl or cfg.global_acl(), []):
        w = line.split()
        if w[0] != "extended" or w[1] not in ("permit", "deny"):
            continue
        proto = w[2]
        src, sg, i = _endpoint(w, 3, nets)
        dst, dg, i = _endpoint(w, i, nets)
        if proto == "ip":
            pairs: list[ev.Pair] = [("any", None)]
        elif i < len(w) and w[i] == "object-group":
            pairs = [p for p in svcs.get(w[i + 1], []) if p[0] == proto]
            i += 2
        elif i < len(w) and w[i] == "eq":
            pairs = [(proto, _port(w[i + 1]))]
            i += 2
        elif i < len(w) and w[i] == "range":
            pairs = [(proto, p) for p in range(_port(w[i + 1]), _port(w[i + 2]) + 1)]
            i += 3
        else:
            pairs = []  # a whole protocol without ports: not something vendorwall writes
        rest = w[i:]
        sched = scheds.get(rest[rest.index("time-range") + 1], ev.Schedule("never")) if "time-range" in rest \
            else ev.ALWAYS
        out.append(ev.ERule("accept" if w[1] == "permit" else "deny", src, dst, pairs, sched,
                            QUARANTINE in (sg, dg), "inactive" not in rest))
    return out


def meaning(text: str) -> Meaning:
    return ev.evaluate(rules(parse(text)))


register("asa")(meaning)
