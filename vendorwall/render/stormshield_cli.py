"""Read Stormshield SNS serverd text back: a rendered command script, or what the firewall answers.

- :func:`parse_script` applies ``CONFIG ...`` commands (interfaces, objects, group members, filter
  rules by position) to an :class:`SnsConfig`, as the firewall would;
- :func:`parse_answers` reads serverd listings (``section_line`` format: ``[Object]`` / ``[Filter]`` /
  ``[<group>]`` sections of ``key=value`` lines, as ``CONFIG OBJECT LIST``, ``CONFIG OBJECT GROUP SHOW``
  and ``CONFIG FILTER EXPLICIT`` print them) into the same :class:`SnsConfig`;
- :func:`meaning` computes what a configuration allows (first match in slot order, the time objects as
  conditions; :mod:`vendorwall.render.evaluate`).

Used by the meaning tests and the lab (``--as-platform stormshield``), and by the Stormshield pusher
and driver to read what a firewall runs.
"""

from __future__ import annotations

import datetime as dt
import shlex
from dataclasses import dataclass, field
from ipaddress import IPv4Network

from . import evaluate as ev
from .meaning import Meaning, register

WEEKDAY = {"0": "sun", "1": "mon", "2": "tue", "3": "wed", "4": "thu", "5": "fri", "6": "sat", "7": "sun"}
GROUP_TYPES = ("group", "servicegroup")
TYPES = ("host", "network", "group", "service", "servicegroup", "time")


class ParseError(ValueError):
    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass
class SnsConfig:
    interfaces: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> attributes
    objects: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)  # name -> (type, attributes)
    members: dict[str, list[str]] = field(default_factory=dict)  # group / servicegroup -> members, in order
    rules: list[dict[str, str]] = field(default_factory=list)  # the slot's filter rules, in order
    syslog: dict[str, dict[str, str]] = field(default_factory=dict)  # syslog profile index -> its attributes

    def of_type(self, kind: str) -> dict[str, dict[str, str]]:
        return {n: a for n, (t, a) in self.objects.items() if t == kind}


def tokens(line: str, n: int = 0) -> tuple[list[str], dict[str, str]]:
    """(words, key=value arguments) of one serverd line (values may be double-quoted)."""
    try:
        toks = shlex.split(line, posix=True)
    except ValueError as exc:
        raise ParseError(n, f"{exc}: {line.strip()[:80]}") from None
    words: list[str] = []
    args: dict[str, str] = {}
    for t in toks:
        k, eq, v = t.partition("=")
        if eq and k.replace("_", "").isalnum():
            args[k] = v
        else:
            words.append(t.upper())
    return words, args


def _apply(cfg: SnsConfig, words: list[str], a: dict[str, str], n: int) -> None:
    if words[:1] != ["CONFIG"]:
        return  # MODIFY, MONITOR, QUIT...: not configuration
    w = words[1:]
    if w[:3] == ["NETWORK", "INTERFACE", "CREATE"] or w[:3] == ["NETWORK", "INTERFACE", "UPDATE"]:
        name = a.get("name", "")
        cfg.interfaces[name] = {**cfg.interfaces.get(name, {}), **a}
    elif w[:3] == ["NETWORK", "INTERFACE", "REMOVE"]:
        cfg.interfaces.pop(a.get("name", ""), None)
    elif len(w) >= 3 and w[0] == "OBJECT" and w[1].lower() in TYPES and w[2] == "NEW":
        kind, name = w[1].lower(), a.get("name", "")
        if not name:
            raise ParseError(n, f"CONFIG OBJECT {w[1]} NEW without a name")
        attrs = {k: v for k, v in a.items() if k not in ("name", "update")}
        cfg.objects[name] = (kind, attrs)
        if kind in GROUP_TYPES:
            cfg.members.setdefault(name, [])
    elif len(w) >= 3 and w[0] == "OBJECT" and w[1].lower() in GROUP_TYPES and w[2] in ("ADDTO", "REMOVEFROM"):
        group, node = a.get("group", ""), a.get("node", "")
        members = cfg.members.setdefault(group, [])
        if w[2] == "ADDTO" and node not in members:
            members.append(node)
        elif w[2] == "REMOVEFROM" and node in members:
            members.remove(node)
    elif len(w) >= 3 and w[0] == "OBJECT" and w[1].lower() in TYPES and w[2] == "DELETE":
        cfg.objects.pop(a.get("name", ""), None)
        cfg.members.pop(a.get("name", ""), None)
    elif w[:3] == ["FILTER", "RULE", "INSERT"]:
        at = int(a.get("position", str(len(cfg.rules) + 1)))
        rule = {k: v for k, v in a.items() if k not in ("index", "position", "global")}
        cfg.rules.insert(max(0, min(at - 1, len(cfg.rules))), rule)
    elif w[:4] == ["COMMUNICATION", "SYSLOG", "PROFILE", "UPDATE"]:
        attrs = {k: v for k, v in a.items() if k.lower() != "index"}
        index = next((v for k, v in a.items() if k.lower() == "index"), "")
        cfg.syslog[index] = {**cfg.syslog.get(index, {}), **attrs}
    elif w[:3] == ["FILTER", "RULE", "REMOVE"]:
        pos = a.get("position", "")
        if pos == "all":
            cfg.rules.clear()
        elif pos.isdigit() and 1 <= int(pos) <= len(cfg.rules):
            del cfg.rules[int(pos) - 1]
        else:
            raise ParseError(n, f"CONFIG FILTER RULE REMOVE: no rule at position {pos!r}")


def parse_script(text: str, cfg: SnsConfig | None = None) -> SnsConfig:
    cfg = cfg or SnsConfig()
    for n, raw in enumerate(text.replace("\r", "").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words, a = tokens(line, n)
        _apply(cfg, words, a, n)
    return cfg


def sections(text: str) -> dict[str, list[dict[str, str]]]:
    """``[Section]`` headers followed by ``key=value`` lines (serverd ``section_line``); answer code lines
    (``100 code=... msg=...``) are skipped."""
    out: dict[str, list[dict[str, str]]] = {}
    current: list[dict[str, str]] | None = None
    for n, raw in enumerate(text.replace("\r", "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = out.setdefault(line[1:-1], [])
            continue
        if line[:3].isdigit() and line[3:9] == " code=":
            current = None
            continue
        if current is None:
            continue
        _words, a = tokens(line, n)
        current.append(a)
    return out


def parse_answers(objects: str = "", groups: str = "", rules: str = "", interfaces: str = "",
                  syslog: str = "") -> SnsConfig:
    """What the firewall answers: ``CONFIG OBJECT LIST`` (``[Object]``), ``CONFIG OBJECT GROUP SHOW`` /
    ``SERVICEGROUP SHOW`` (one ``[<group>]`` section of ``name=<member>`` lines each), ``CONFIG FILTER
    EXPLICIT`` (``[Filter]``, in slot order), ``CONFIG NETWORK INTERFACE SHOW`` (``[<name>]`` sections) and
    ``CONFIG COMMUNICATION SYSLOG PROFILE SHOW`` (``[<index>]`` sections)."""
    cfg = SnsConfig()
    for a in sections(objects).get("Object", []):
        kind, name = a.get("type", ""), a.get("name", "")
        if kind in TYPES and name:
            cfg.objects[name] = (kind, {k: v for k, v in a.items()
                                        if k not in ("type", "name", "global", "modify", "used")})
            if kind in GROUP_TYPES:
                cfg.members.setdefault(name, [])
    for group, lines in sections(groups).items():
        cfg.members[group] = [a["name"] for a in lines if "name" in a]
    cfg.rules = [{k: v for k, v in a.items() if k not in ("index", "position", "ruleid", "global")}
                 for a in sections(rules).get("Filter", [])]
    for index, lines in sections(syslog).items():  # CONFIG COMMUNICATION SYSLOG PROFILE SHOW: [<index>]
        cfg.syslog[index] = {k: v for a in lines for k, v in a.items()}
    for ifname, lines in sections(interfaces).items():
        if lines:
            attrs = {k: v for a in lines for k, v in a.items()}
            cfg.interfaces[attrs.get("name", ifname)] = {**attrs, "ifname": ifname}
    return cfg


# --------------------------------------------------------------------------- meaning


def addresses(cfg: SnsConfig) -> dict[str, list[IPv4Network]]:
    out: dict[str, list[IPv4Network]] = {"any": [ev.ANY]}
    for name, (kind, a) in cfg.objects.items():
        if kind == "host" and a.get("ip"):
            out[name] = [IPv4Network(f"{a['ip']}/32")]
        elif kind == "network" and a.get("ip"):
            out[name] = [IPv4Network(f"{a['ip']}/{a.get('mask') or a.get('prefixlen', '32')}")]

    def resolve(name: str, seen: frozenset[str]) -> list[IPv4Network]:
        if name in out:
            return out[name]
        if name in seen or cfg.objects.get(name, ("", {}))[0] != "group":
            return []
        return [n for m in cfg.members.get(name, []) for n in resolve(m, seen | {name})]

    for name, (kind, _a) in list(cfg.objects.items()):
        if kind == "group":
            out[name] = resolve(name, frozenset())
    return out


def services(cfg: SnsConfig) -> dict[str, list[ev.Pair]]:
    out: dict[str, list[ev.Pair]] = {"any": [("any", None)]}
    for name, (kind, a) in cfg.objects.items():
        if kind == "service":
            proto = a.get("proto", "any")
            if proto == "any" or not a.get("port"):
                out[name] = [("any", None)] if proto == "any" else []
                continue
            lo = int(a["port"])
            hi = int(a.get("toport") or lo)
            out[name] = [(proto, p) for p in range(lo, hi + 1)]
    for name, (kind, _a) in cfg.objects.items():
        if kind == "servicegroup":
            out[name] = [p for m in cfg.members.get(name, []) for p in out.get(m, [])]
    return out


def _when(text: str) -> dt.datetime:
    parts = text.split(":")
    if len(parts) == 3:
        parts += ["00", "00"]
    return dt.datetime(*(int(x) for x in parts))  # type: ignore[arg-type]


def schedules(cfg: SnsConfig) -> dict[str, ev.Schedule]:
    out: dict[str, ev.Schedule] = {"anytime": ev.ALWAYS, "": ev.ALWAYS}
    for name, (kind, a) in cfg.objects.items():
        if kind != "time":
            continue
        date, time, weekday = a.get("date", ""), a.get("time", ""), a.get("weekday", "")
        if date and not time and not weekday:
            start, _, end = date.partition("-")
            out[name] = ev.classify_range(name, _when(start), _when(end))
        elif time and weekday and not date:
            t0, _, t1 = time.partition("-")
            out[name] = ev.window([WEEKDAY[d] for d in weekday.split(";") if d in WEEKDAY], t0, t1)
        else:
            out[name] = ev.Schedule("open")  # a combination vendorwall does not write
    return out


def rules(cfg: SnsConfig, quarantine_group: str = "vw-quarantine") -> list[ev.ERule]:
    addrs, svcs, scheds = addresses(cfg), services(cfg), schedules(cfg)
    out: list[ev.ERule] = []
    for r in cfg.rules:
        if r.get("type", "filter") != "filter" or r.get("action") not in ("pass", "block", "reset"):
            continue
        src_names = r.get("srctarget", "any").split(",")
        dst_names = r.get("dsttarget", "any").split(",")
        ports = r.get("dstport", "any") or "any"
        pairs = [p for s in ports.split(",") for p in svcs.get(s, [])]
        if r.get("ipproto", "any") not in ("any", "") and ports == "any":
            pairs = []  # a protocol vendorwall does not write: allows nothing it knows
        out.append(ev.ERule("accept" if r["action"] == "pass" else "deny",
                            [n for a in src_names for n in addrs.get(a, [])],
                            [n for a in dst_names for n in addrs.get(a, [])], pairs,
                            scheds.get(r.get("schedule", "anytime"), ev.Schedule("never")),
                            quarantine_group in src_names or quarantine_group in dst_names,
                            r.get("state", "on") == "on", r.get("rulename", "")))
    return out


def meaning(text: str) -> Meaning:
    return ev.evaluate(rules(parse_script(text)))


register("stormshield")(meaning)
