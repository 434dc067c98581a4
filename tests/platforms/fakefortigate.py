"""A small FortiOS CLI simulator standing in for a netmiko ``fortinet`` session (no FortiGate here).

It keeps a configuration in memory and answers what vendorwall's FortiOS pusher and driver send
through :class:`vendorwall.deploy.session.Session` (``open``, ``show``, ``configure``, ``close``):

- ``config <table>`` / ``edit`` / ``set`` (the syslog slots ``log syslogd[2-4] setting|filter``: ``set``
  without ``edit``) / ``unset`` / ``append`` / ``unselect`` / ``delete`` /
  ``move A before|after B`` / ``next`` / ``end`` / ``abort``;
- workspace mode: ``execute config-transaction start`` buffers every change until ``commit``;
  ``abort`` discards it (FortiOS administration guide, "Workspace mode");
- ``diagnose sys session filter ...`` / ``clear`` (recorded, no sessions are modelled);
- ``show <table>`` prints entries the way a FortiGate does: a ``uuid`` the device adds, strings
  quoted, keywords and numbers bare;
- a rejected command answers as FortiOS does (``command parse error before ...`` then ``Command
  fail. Return code -61``), which the capability file's error patterns match: the fake raises the
  same CommandError the real Session raises, naming the command.

Unknown attributes (outside what the fake knows per table) and commands listed in ``reject`` are
rejected. Every exchange is kept in ``transcript`` (what was sent, what came back).
"""

from __future__ import annotations

import copy
import hashlib
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from vendorwall.deploy.errors import CommandError
from vendorwall.deploy.session import Target, error_pattern

KNOWN = {
    "system interface": {"vdom", "ip", "description", "alias", "role", "interface", "vlanid", "type", "allowaccess"},
    "system zone": {"description", "intrazone", "interface"},
    "firewall address": {"subnet", "comment", "type"},
    "firewall addrgrp": {"member", "comment"},
    "firewall service custom": {"tcp-portrange", "udp-portrange", "comment"},
    "firewall schedule onetime": {"start", "end"},
    "firewall schedule recurring": {"start", "end", "day"},
    "firewall policy": {"name", "srcintf", "dstintf", "srcaddr", "dstaddr", "action", "schedule", "service",
                        "logtraffic", "logtraffic-start", "schedule-timeout", "comments", "status"},
}
# the syslog slots (singleton tables: settings without edit); a FortiGate shows only what differs from defaults
SYSLOG_SETTING = {"status", "server", "mode", "port", "facility", "source-ip", "format", "enc-algorithm",
                  "certificate", "ssl-min-proto-version"}
SYSLOG_FILTER = {"severity", "forward-traffic", "local-traffic", "multicast-traffic", "sniffer-traffic", "anomaly",
                 "voip", "filter", "filter-type"}
SINGLETONS = {f"log {s} {t}" for s in ("syslogd", "syslogd2", "syslogd3", "syslogd4") for t in ("setting", "filter")}
KNOWN.update({t: SYSLOG_SETTING if t.endswith("setting") else SYSLOG_FILTER for t in SINGLETONS})
BARE = {"status", "mode", "port", "facility", "format", "enc-algorithm", "ssl-min-proto-version", "severity",
        "forward-traffic", "local-traffic", "multicast-traffic", "sniffer-traffic", "anomaly", "voip", "filter-type",
        "ip", "subnet", "action", "logtraffic", "logtraffic-start", "schedule-timeout", "role", "vlanid", "intrazone",
        "day", "tcp-portrange", "udp-portrange", "type"}
FAIL = "command parse error before '{}'\nCommand fail. Return code -61"


@dataclass
class FakeFortiGate:
    config: dict[str, dict[str, dict[str, list[str]]]] = field(default_factory=dict)  # table -> key -> attrs
    reject: set[str] = field(default_factory=set)  # exact commands the device refuses
    transcript: list[tuple[str, str]] = field(default_factory=list)
    sessions_cleared: list[list[str]] = field(default_factory=list)
    after_commit: Any = None  # test hook: called with the fake after each commit (drift injection)

    def session(self, target: Target) -> FakeSession:
        return FakeSession(self, target)

    def show(self, table: str) -> str:
        lines = [f"config {table}"]
        if table in SINGLETONS:
            for a, vals in self.config.get(table, {}).get("", {}).items():
                lines.append(f"    set {a} " + " ".join(v if a in BARE else f'"{v}"' for v in vals))
            return "\n".join([*lines, "end"])
        for key, attrs in self.config.get(table, {}).items():
            lines.append(f"    edit {key if key.isdigit() else chr(34) + key + chr(34)}")
            uuid = hashlib.sha256(f"{table}/{key}".encode()).hexdigest()
            lines.append(f"        set uuid {uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:32]}")
            if table == "system interface" and "vlanid" in attrs:
                lines.append("        set type vlan")
            for a, vals in attrs.items():
                out = " ".join(v if a in BARE or (table.endswith("recurring") and a in ("start", "end"))
                               else f'"{v}"' for v in vals)
                lines.append(f"        set {a} {out}")
            lines.append("    next")
        lines.append("end")
        return "\n".join(lines)


class FakeSession:
    def __init__(self, dev: FakeFortiGate, target: Target):
        self.dev = dev
        self.t = target
        self.log: list[str] = []
        self.work: dict[str, dict[str, dict[str, list[str]]]] | None = None  # open transaction
        self.table: str | None = None
        self.entry: str | None = None
        self.pending: dict[str, list[str]] | None = None

    def open(self) -> FakeSession:
        return self

    def close(self) -> None:
        self.work = None  # a transaction left open is discarded (the device's idle timeout)

    def show(self, command: str, *, timeout: float | None = None) -> str:
        table = command.removeprefix("show ").strip()
        out = self.dev.show(table)
        self.dev.transcript.append((command, out))
        self.log.append(command)
        return out

    def _cfg(self) -> dict[str, dict[str, dict[str, list[str]]]]:
        return self.work if self.work is not None else self.dev.config

    def _fail(self, command: str, word: str) -> None:
        out = FAIL.format(word)
        self.dev.transcript.append((command, out))
        assert re.search(error_pattern("fortios"), out), "the capability file's patterns must match FortiOS errors"
        raise CommandError(self.t.device, self.t.platform, command, f"rejected: {out}")

    def configure(self, commands: list[str], *, timeout: float | None = None) -> str:
        for raw in commands:
            self.log.append(raw.strip())
            self._one(raw.strip())
            self.dev.transcript.append((raw.strip(), ""))
        return ""

    def _one(self, cmd: str) -> None:
        if cmd in self.dev.reject:
            self._fail(cmd, cmd.split()[-1])
        toks = shlex.split(cmd)
        if not toks:
            return
        if cmd == "execute config-transaction start":
            self.work = copy.deepcopy(self.dev.config)
            return
        if cmd == "execute config-transaction commit":
            if self.work is None:
                self._fail(cmd, "commit")
            assert self.work is not None
            self.dev.config = self.work
            self.work = None
            if self.dev.after_commit:
                self.dev.after_commit(self.dev)
            return
        if cmd == "execute config-transaction abort":
            self.work = None
            return
        if toks[0] == "diagnose":
            self.dev.sessions_cleared.append(toks)
            return
        if toks[0] == "config":
            table = " ".join(toks[1:])
            if table not in KNOWN:
                self._fail(cmd, toks[-1])
            self.table = table
            if table in SINGLETONS:  # settings without edit: the one entry ""
                self.entry = ""
                self.pending = copy.deepcopy(self._cfg().get(table, {}).get("", {}))
            return
        if toks[0] == "abort":  # leave the edit without saving it, then the config block
            if self.entry is not None:
                self.pending, self.entry = None, None
            else:
                self.table = None
            return
        if self.table is None:
            self._fail(cmd, toks[0])
        assert self.table is not None
        cfg = self._cfg().setdefault(self.table, {})
        if toks[0] == "edit":
            if self.table in SINGLETONS:
                self._fail(cmd, toks[0])
            self.entry = toks[1]
            self.pending = copy.deepcopy(cfg.get(self.entry, {}))
        elif toks[0] in ("set", "unset", "append", "unselect"):
            if self.pending is None or toks[1] not in KNOWN[self.table]:
                self._fail(cmd, toks[1])
            assert self.pending is not None
            if toks[0] == "set":
                self.pending[toks[1]] = toks[2:]
            elif toks[0] == "unset":
                self.pending.pop(toks[1], None)
            elif toks[0] == "append":
                self.pending.setdefault(toks[1], []).extend(v for v in toks[2:] if v not in self.pending[toks[1]])
            else:
                left = [v for v in self.pending.get(toks[1], []) if v not in toks[2:]]
                if not left:
                    self._fail(cmd, toks[-1])  # FortiOS refuses to empty a member list
                self.pending[toks[1]] = left
        elif toks[0] == "next":
            if self.entry is not None and self.pending is not None:
                cfg[self.entry] = self.pending
            self.entry, self.pending = None, None
        elif toks[0] == "end":
            if self.entry is not None and self.pending is not None:
                cfg[self.entry] = self.pending
            self.table, self.entry, self.pending = None, None, None
        elif toks[0] == "delete":
            if toks[1] not in cfg:
                self._fail(cmd, toks[1])
            del cfg[toks[1]]
        elif toks[0] == "move":
            a, where, b = toks[1], toks[2], toks[3]
            if a not in cfg or b not in cfg:
                self._fail(cmd, a if a not in cfg else b)
            items = [(k, v) for k, v in cfg.items() if k != a]
            i = [k for k, _ in items].index(b) + (1 if where == "after" else 0)
            items.insert(i, (a, cfg[a]))
            cfg.clear()
            cfg.update(items)
        else:
            self._fail(cmd, toks[0])
