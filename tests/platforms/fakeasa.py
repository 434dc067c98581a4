"""A small Cisco ASA CLI simulator standing in for a netmiko ``cisco_asa`` session (no ASA here).

It keeps a running configuration in memory and answers what vendorwall's ASA pusher and driver send
through :class:`vendorwall.deploy.session.Session` (``open``, ``show``, ``configure``, ``close``):

- configuration mode: ``interface`` / ``object-group network|service`` / ``time-range`` blocks and their
  sub-commands (``no <line>`` removes one), ``access-list NAME ...`` (a reference to an unknown
  object-group or time-range is an error, as on an ASA), ``access-group NAME global`` (the list must
  exist), ``clear configure access-list NAME`` (refused while bound), ``no object-group`` / ``no
  time-range`` (refused while an access list uses it), ``no interface``;
- exec: ``show running-config <section>``, ``clear conn address ...`` (recorded; never without an
  address), ``write memory``;
- a rejected command answers as an ASA does (``ERROR: ...``), which the capability file's error patterns
  match: the fake raises the CommandError the real Session raises, naming the command. Commands listed
  in ``reject`` are refused too. What was sent is kept in ``transcript``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from vendorwall.deploy.errors import CommandError
from vendorwall.deploy.session import Target, error_pattern


@dataclass
class FakeASA:
    blocks: dict[str, list[str]] = field(default_factory=dict)
    acls: dict[str, list[str]] = field(default_factory=dict)
    bindings: list[str] = field(default_factory=list)
    logging: list[str] = field(default_factory=list)  # as shown: logging host ... 6/<port> for tcp/<port>
    reject: set[str] = field(default_factory=set)
    transcript: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)
    saved: int = 0
    after_configure: Any = None  # test hook: called with the fake after each configure() (drift injection)

    def session(self, target: Target) -> FakeSession:
        return FakeSession(self, target)

    def show(self, section: str) -> str:
        out: list[str] = []
        kind = section.split()[0]
        for head, body in self.blocks.items():
            if head.split()[0] == kind:
                out += [head, *(f" {x}" for x in body)]
        if kind == "access-list":
            out += [f"access-list {n} {x}" for n, lines in self.acls.items() for x in lines]
        if kind == "access-group":
            out += self.bindings
        if kind == "logging":
            out += self.logging
        return "\n".join(out)


class FakeSession:
    def __init__(self, dev: FakeASA, target: Target):
        self.dev = dev
        self.t = target
        self.log: list[str] = []
        self.block: str | None = None

    def open(self) -> FakeSession:
        return self

    def close(self) -> None:
        pass

    def _fail(self, command: str, why: str) -> None:
        out = f"ERROR: {why}"
        assert re.search(error_pattern("asa"), out), "the capability file's patterns must match ASA errors"
        raise CommandError(self.t.device, self.t.platform, command, f"rejected: {out}")

    def show(self, command: str, *, timeout: float | None = None) -> str:
        self.log.append(command)
        self.dev.transcript.append(command)
        if command in self.dev.reject:
            self._fail(command, "% Invalid input detected")
        w = command.split()
        if w[:2] == ["show", "running-config"]:
            return self.dev.show(" ".join(w[2:]))
        if w[:2] == ["clear", "conn"]:
            if "address" not in w:
                self._fail(command, "vendorwall never clears every connection")
            self.dev.cleared.append(command)
            return ""
        if command == "write memory":
            self.dev.saved += 1
            return "[OK]"
        self._fail(command, "% Invalid input detected")
        raise AssertionError

    def configure(self, commands: list[str], *, timeout: float | None = None) -> str:
        try:
            for raw in commands:
                self.log.append(raw.strip())
                self.dev.transcript.append(raw.strip())
                if raw.strip() in self.dev.reject:
                    self._fail(raw.strip(), "% Invalid input detected")
                self._one(raw)
        finally:
            self.block = None
            if self.dev.after_configure:
                self.dev.after_configure(self.dev)
        return ""

    def _used(self, name: str) -> bool:
        return any(re.search(rf"(object-group|time-range) {re.escape(name)}(\s|$)", x)
                   for lines in self.dev.acls.values() for x in lines)

    def _one(self, raw: str) -> None:
        line = raw.strip()
        w = line.split()
        sub = raw.startswith(" ")
        if sub:
            if self.block is None:
                self._fail(line, "not in a configuration block")
            assert self.block is not None
            body = self.dev.blocks[self.block]
            if w[0] == "no":
                rest = " ".join(w[1:])
                if rest == "absolute":
                    body[:] = [x for x in body if not x.startswith("absolute ")]
                elif rest in body:
                    body.remove(rest)
                else:
                    self._fail(line, f"{rest} not found")
            elif line not in body:
                if self.block.startswith("object-group service") and w[0] != "port-object" and w[0] != "description":
                    self._fail(line, "% Invalid input detected")
                body.append(line)
            return
        self.block = None
        if w[0] in ("interface", "time-range") or (w[0] == "object-group" and w[1] in ("network", "service")):
            self.block = line
            self.dev.blocks.setdefault(line, [])
        elif w[0] == "access-list":
            for m in re.finditer(r"object-group (\S+)", line):
                if not any(h.split()[:3][-1] == m.group(1) for h in self.dev.blocks if h.startswith("object-group")):
                    self._fail(line, f"object-group {m.group(1)} does not exist")
            m = re.search(r"time-range (\S+)", line)
            if m and f"time-range {m.group(1)}" not in self.dev.blocks:
                self._fail(line, f"time-range {m.group(1)} does not exist")
            self.dev.acls.setdefault(w[1], []).append(" ".join(w[2:]))
        elif w[0] == "access-group" and w[-1] == "global":
            if w[1] not in self.dev.acls:
                self._fail(line, f"access-list {w[1]} does not exist")
            self.dev.bindings = [b for b in self.dev.bindings if not b.endswith(" global")] + [line]
        elif w[0] == "no" and w[1] == "access-group" and w[-1] == "global":
            self.dev.bindings = [b for b in self.dev.bindings if b != " ".join(w[1:])]
        elif w[:3] == ["clear", "configure", "access-list"]:
            if f"access-group {w[3]} global" in self.dev.bindings:
                self._fail(line, f"access-list {w[3]} is in use by access-group")
            self.dev.acls.pop(w[3], None)
        elif w[0] == "no" and w[1] in ("object-group", "time-range", "interface"):
            head = next((h for h in self.dev.blocks if h.split()[:len(w) - 1] == w[1:]), None)
            if head is None:
                self._fail(line, "not found")
            assert head is not None
            name = head.split()[2] if w[1] == "object-group" else head.split()[1]
            if w[1] != "interface" and self._used(name):
                self._fail(line, f"{name} is in use")
            del self.dev.blocks[head]
        elif w[:2] == ["logging", "list"] and len(w) == 5 and w[3] == "message" and \
                re.fullmatch(r"\d{6}(-\d{6})?", w[4]):
            if line not in self.dev.logging:
                self.dev.logging.append(line)
        elif w[:2] == ["logging", "host"] and 4 <= len(w) <= 6:
            shown = [*w[:4]]
            if len(w) > 4:
                m = re.fullmatch(r"(tcp|udp)/(\d{1,5})", w[4])
                if not m:
                    self._fail(line, "% Invalid input detected")
                assert m is not None
                shown.append(("6/" if m.group(1) == "tcp" else "17/") + m.group(2))
            if len(w) == 6:
                if w[5] != "secure" or not w[4].startswith("tcp/"):
                    self._fail(line, "% Invalid input detected")
                shown.append("secure")
            self.dev.logging = [x for x in self.dev.logging if x.split()[:4] != w[:4]] + [" ".join(shown)]
        elif w[:3] == ["no", "logging", "list"] or w[:3] == ["no", "logging", "host"]:
            rest = " ".join(w[1:])
            left = [x for x in self.dev.logging if x != rest and not (w[2] == "host" and x.split()[:4] == w[1:5])]
            if len(left) == len(self.dev.logging):
                self._fail(line, f"{rest} not found")
            self.dev.logging = left
        elif line in ("exit", "end"):
            return
        else:
            self._fail(line, "% Invalid input detected")
