"""A small Stormshield SNS serverd simulator standing in for vendorwall's serverd session (no SNS here).

It keeps an active configuration and a pending one (SNS edits "clones" until an ``ACTIVATE``) and
answers what vendorwall's Stormshield pusher and driver send through the session interface (``open``,
``run(command) -> Answer``, ``close``), each answer built as serverd prints it (python-SNS-API's format:
``101 code=00a01000 msg="Begin" format="section_line"`` ... ``100 code=00a00100 msg="Ok"``) and read back
by vendorwall's own answer reader, so the code lines' parsing is exercised too:

- ``MODIFY ON``; ``CONFIG OBJECT <TYPE> NEW`` (``update=1`` updates; without it an existing name is an
  error), ``ADDTO`` / ``REMOVEFROM`` (an unknown node is an error), ``DELETE`` (an object a rule of the
  active or pending slot uses is refused), ``LIST``, ``<GROUP> SHOW``, ``ACTIVATE``;
- ``CONFIG FILTER RULE INSERT`` / ``REMOVE`` by position (a rule naming an unknown object is refused),
  ``EXPLICIT``, ``CHECK``, ``ACTIVATE``; ``CONFIG NETWORK INTERFACE CREATE/UPDATE/REMOVE/SHOW``,
  ``CONFIG NETWORK ACTIVATE``; ``CONFIG CANCELALL``; ``MONITOR FLUSH STATE <ip>`` (recorded);
- a rejected command answers ``200 code=...`` with a message; commands listed in ``reject`` too.

Every exchange is kept in ``transcript`` (what was sent, the final code line).
"""

from __future__ import annotations

import copy
import shlex
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import Any, ClassVar

from vendorwall.deploy.errors import CommandError
from vendorwall.deploy.session import Target
from vendorwall.devices.serverd import Answer, read_answer
from vendorwall.render.stormshield_cli import GROUP_TYPES, TYPES, SnsConfig, tokens

OK = '100 code=00a00100 msg="Ok"'
SYSLOG_DEFAULTS = {"State": "0", "Port": "514", "Protocol": "UDP", "SyslogProtocol": "Legacy", "Facility": "0",
                   "LogAlarm": "0", "LogConnection": "0", "LogFilter": "0", "LogSystem": "0"}
BEGIN = '101 code=00a01000 msg="Begin" format="section_line"'


def _fmt(v: str) -> str:
    return f'"{v}"' if any(c in v for c in ' ;,"') else v


def _line(attrs: dict[str, str]) -> str:
    return " ".join(f"{k}={_fmt(v)}" for k, v in attrs.items())


@dataclass
class FakeSNS:
    live: SnsConfig = field(default_factory=SnsConfig)
    reject: set[str] = field(default_factory=set)
    transcript: list[tuple[str, str]] = field(default_factory=list)
    flushed: list[str] = field(default_factory=list)
    activations: list[str] = field(default_factory=list)
    after_activate: Any = None  # test hook: called with the fake after each activation (drift injection)

    def session(self, target: Target) -> FakeSession:
        return FakeSession(self, target)

    def profile(self, index: str) -> dict[str, str]:
        """Syslog profile ``index`` as the firewall shows it: every key, the defaults where unset."""
        attrs = self.live.syslog.get(index, {})
        return {k: attrs.get(k, SYSLOG_DEFAULTS.get(k, "")) for k in FakeSession.SYSLOG_KEYS}


class FakeSession:
    def __init__(self, dev: FakeSNS, target: Target):
        self.dev = dev
        self.t = target
        self.log: list[str] = []
        self.pending = copy.deepcopy(dev.live)
        self.modify = False

    def open(self) -> FakeSession:
        return self

    def close(self) -> None:
        self.pending = copy.deepcopy(self.dev.live)

    # the wire: the answer text is read back by vendorwall's reader
    def run(self, command: str, *, timeout: float | None = None) -> Answer:
        try:
            body = self._one(command)
            wire = (BEGIN + "\n" + body + OK + "\n") if body is not None else OK + "\n"
        except _Refused as exc:
            wire = f'200 code=00a00200 msg="{exc}"\n'
        ans, _used = read_answer(wire.splitlines())
        assert ans is not None
        self.dev.transcript.append((command, ans.line()))
        self.log.append(command)
        if not ans.ok:
            raise CommandError(self.t.device, self.t.platform, command, f"rejected: {ans.line()}")
        return ans

    # ------------------------------------------------------------------ commands
    def _one(self, cmd: str) -> str | None:
        if cmd in self.dev.reject:
            raise _Refused("command refused (test)")
        words, a = tokens(cmd)
        if words == ["MODIFY", "ON"]:
            self.modify = True
            return None
        if words[:3] == ["MONITOR", "FLUSH", "STATE"]:
            IPv4Network(words[3])  # an address, or the command is malformed
            self.dev.flushed.append(words[3])
            return None
        if words[:1] != ["CONFIG"]:
            raise _Refused(f"unknown command {words[:2]}")
        w = words[1:]
        writes = w[-1:] not in (["LIST"], ["SHOW"], ["EXPLICIT"], ["CHECK"])
        if writes and not self.modify:
            raise _Refused("modify right needed (MODIFY ON)")
        p = self.pending
        if w == ["CANCELALL"]:
            self.pending = copy.deepcopy(self.dev.live)
            return None
        if w[:1] == ["OBJECT"]:
            return self._object(w[1:], a)
        if w[:2] == ["FILTER", "RULE"]:
            return self._rule(w[2:], a)
        if w == ["FILTER", "EXPLICIT"]:
            lines = [_line({"position": str(i), "ruleid": str(i), **r, "count": "off"})
                     for i, r in enumerate(self.dev.live.rules, start=1)]
            return "[Filter]\n" + "".join(x + "\n" for x in lines)
        if w == ["FILTER", "CHECK"]:
            for r in p.rules:
                self._check_rule(r, p)
            return "[Result]\n"
        if w == ["FILTER", "ACTIVATE"]:
            self.dev.live.rules = copy.deepcopy(p.rules)
            return self._activated("filter")
        if w[:2] == ["NETWORK", "INTERFACE"]:
            return self._iface(w[2:], a)
        if w[:3] == ["COMMUNICATION", "SYSLOG", "PROFILE"]:
            return self._syslog(w[3:], a)
        if w == ["COMMUNICATION", "ACTIVATE"]:
            self.dev.live.syslog = copy.deepcopy(p.syslog)
            return self._activated("communication")
        if w == ["NETWORK", "ACTIVATE"]:
            self.dev.live.interfaces = copy.deepcopy(p.interfaces)
            return self._activated("network")
        raise _Refused(f"unknown command {' '.join(w[:3])}")

    SYSLOG_CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
        "state": ("0", "1"), "protocol": ("UDP", "TCP", "TLS"), "syslogprotocol": ("Legacy", "Legacy_long", "RFC5424"),
        "logconnection": ("0", "1"), "logfilter": ("0", "1")}
    SYSLOG_KEYS: ClassVar[tuple[str, ...]] = (
        "State", "Name", "Comment", "Server", "Port", "Protocol", "SyslogProtocol", "CAServer", "Facility", "LogAlarm",
        "LogConnection", "LogFilter", "LogSystem")

    def _syslog(self, w: list[str], a: dict[str, str]) -> str | None:
        """Syslog profiles 0..3: SHOW answers ``[<index>]`` sections of Key=Value (the firewall's key case);
        UPDATE checks the index, the values and that Server names an existing host object."""
        if w == ["SHOW"]:
            idx = a.get("index") or a.get("Index")
            out = ""
            for i in ("0", "1", "2", "3"):  # every profile, every key (unset: its default), as the firewall answers
                if idx in (None, i):
                    out += f"[{i}]\n" + "".join(f"{k}={_fmt(v)}\n" for k, v in self.dev.profile(i).items())
            return out
        if w != ["UPDATE"]:
            raise _Refused(f"unknown syslog profile command {w}")
        low = {k.lower(): v for k, v in a.items()}
        index = low.pop("index", "")
        if index not in ("0", "1", "2", "3"):
            raise _Refused(f"invalid syslog profile index {index!r}")
        for k, v in low.items():
            key = next((x for x in self.SYSLOG_KEYS if x.lower() == k), None)
            if key is None or (k in self.SYSLOG_CHOICES and v not in self.SYSLOG_CHOICES[k]):
                raise _Refused(f"invalid syslog profile argument {k}={v}")
        if low.get("server") and self.pending.objects.get(low["server"], ("", {}))[0] != "host":
            raise _Refused(f"syslog server {low['server']} is not a host object")
        cur = self.pending.syslog.setdefault(index, {})
        for k, v in low.items():
            cur[next(x for x in self.SYSLOG_KEYS if x.lower() == k)] = v
        return None

    def _activated(self, what: str) -> None:
        self.dev.activations.append(what)
        if self.dev.after_activate:
            self.dev.after_activate(self.dev)
        return None

    def _object(self, w: list[str], a: dict[str, str]) -> str | None:
        p = self.pending
        if w == ["LIST"]:
            kinds = a.get("type", "all").split(",")
            lines = []
            for name, (kind, attrs) in self.dev.live.objects.items():
                if "all" in kinds or kind in kinds:
                    extra = {"global": "0", "modify": "1"}
                    if kind == "network":
                        extra["prefixlen"] = str(IPv4Network(f"0.0.0.0/{attrs.get('mask', '32')}").prefixlen)
                        extra["ipv6"] = ""
                    if kind == "service" and "toport" not in attrs:
                        extra["toport"] = ""
                    lines.append(_line({"type": kind, "name": name, **extra, **attrs, "used": "0"}))
            return "[Object]\n" + "".join(x + "\n" for x in lines)
        if w == ["ACTIVATE"]:
            self.dev.live.objects = copy.deepcopy(p.objects)
            self.dev.live.members = copy.deepcopy(p.members)
            return self._activated("object")
        kind = w[0].lower()
        if kind not in TYPES or len(w) < 2:
            raise _Refused(f"unknown object command {w}")
        verb = w[1]
        name = a.get("name", "")
        if verb == "NEW":
            if name in p.objects and a.get("update") not in ("1", "2"):
                raise _Refused(f"object {name} already exists")
            if name in p.objects and p.objects[name][0] != kind:
                raise _Refused(f"object {name} exists with another type")
            if kind == "host":
                IPv4Network(a["ip"] + "/32")
            attrs = {k: v for k, v in a.items() if k not in ("name", "update")}
            p.objects[name] = (kind, attrs)
            if kind in GROUP_TYPES:
                p.members.setdefault(name, [])
            return None
        if verb in ("ADDTO", "REMOVEFROM"):
            group, node = a.get("group", ""), a.get("node", "")
            if p.objects.get(group, ("", {}))[0] != kind:
                raise _Refused(f"no {kind} {group}")
            members = p.members.setdefault(group, [])
            if verb == "ADDTO":
                if node not in p.objects:
                    raise _Refused(f"object {node} not found")
                if node in members:
                    raise _Refused(f"{node} already in {group}")
                members.append(node)
            else:
                if node not in members:
                    raise _Refused(f"{node} not in {group}")
                members.remove(node)
            return None
        if verb == "DELETE":
            if name not in p.objects:
                raise _Refused(f"object {name} not found")
            users = [r for r in [*self.dev.live.rules, *p.rules]
                     if name in (r.get("srctarget", "").split(",") + r.get("dsttarget", "").split(",")
                                 + r.get("dstport", "").split(",") + [r.get("schedule", "")])]
            in_groups = [g for g, m in p.members.items() if name in m]
            in_groups += [f"syslog profile {i}" for i, s in {**self.dev.live.syslog, **p.syslog}.items()
                          if s.get("Server") == name]
            if (users or in_groups) and a.get("force") != "1":
                raise _Refused(f"object {name} is used")
            del p.objects[name]
            p.members.pop(name, None)
            return None
        if verb == "SHOW" and kind in GROUP_TYPES:
            if name not in self.dev.live.objects:
                raise _Refused(f"no group {name}")
            members = self.dev.live.members.get(name, [])
            return f"[{name}]\n" + "".join(
                _line({"name": m, "type": self.dev.live.objects.get(m, ("host", {}))[0]}) + "\n" for m in members)
        raise _Refused(f"unknown object command {w}")

    def _check_rule(self, r: dict[str, str], cfg: SnsConfig) -> None:
        for key in ("srctarget", "dsttarget", "dstport"):
            for n in r.get(key, "any").split(","):
                if n not in ("any", "") and n not in cfg.objects:
                    raise _Refused(f"rule {r.get('rulename', '?')}: object {n} not found")
        sched = r.get("schedule", "anytime")
        if sched not in ("anytime", "") and cfg.objects.get(sched, ("", {}))[0] != "time":
            raise _Refused(f"rule {r.get('rulename', '?')}: time object {sched} not found")

    def _rule(self, w: list[str], a: dict[str, str]) -> str | None:
        p = self.pending
        if w == ["INSERT"]:
            rule = {k: v for k, v in a.items() if k not in ("index", "position", "global")}
            self._check_rule(rule, p)
            pos = int(a.get("position", str(len(p.rules) + 1)))
            if not 1 <= pos <= len(p.rules) + 1:
                raise _Refused(f"invalid position {pos}")
            p.rules.insert(pos - 1, rule)
            return None
        if w == ["REMOVE"]:
            pos = a.get("position", "")
            if not pos.isdigit() or not 1 <= int(pos) <= len(p.rules):
                raise _Refused(f"no rule at position {pos}")
            del p.rules[int(pos) - 1]
            return None
        raise _Refused(f"unknown rule command {w}")

    def _iface(self, w: list[str], a: dict[str, str]) -> str | None:
        p = self.pending
        if w == ["SHOW"]:
            out = ""
            for name, attrs in self.dev.live.interfaces.items():
                ifname = attrs.get("ifname", name)
                out += f"[{ifname}]\n" + _line({"name": name, **{k: v for k, v in attrs.items()
                                                                   if k != "ifname"}}) + "\n"
            return out
        ifname = a.get("ifname", "")
        if w == ["CREATE"]:
            if not ifname or any(x.get("ifname") == ifname for x in p.interfaces.values()):
                raise _Refused(f"invalid or used ifname {ifname!r}")
            p.interfaces[a["name"]] = {k: v for k, v in a.items() if k != "name"}
            return None
        if w in (["UPDATE"], ["REMOVE"]):
            name = next((n for n, x in p.interfaces.items() if x.get("ifname") == ifname), None)
            if name is None:
                raise _Refused(f"no interface {ifname}")
            if w == ["REMOVE"]:
                del p.interfaces[name]
            else:
                p.interfaces.pop(name)
                p.interfaces[a.get("name", name)] = {k: v for k, v in a.items() if k != "name"}
            return None
        raise _Refused(f"unknown interface command {w}")


class _Refused(Exception):
    pass


def script_lines(text: str) -> list[str]:
    """The command lines of a rendered script (comments and blanks dropped)."""
    return [x for x in text.splitlines() if x.strip() and not x.startswith("#")]


__all__ = ["FakeSNS", "script_lines", "shlex"]
