"""A scripted stand-in for a netmiko connection to an NX-OS or AOS-CX switch (test double).

The first ``show running-config`` answers the recorded-format fixture (what the OS prints, with
drift); the commands the pusher sends are then applied to the parsed state by a small interpreter
of the commands vendorwall uses, and later ``show running-config`` answers print that state the
way the OS does (the dialect's printer, which the planner reads back). Every command sent is
recorded, so tests assert the exact session. Faults: a command can be rejected (the OS's error
text), the session can die at a given command, a checkpoint rollback can fail.

This is not a switch simulator: no real NX-OS or AOS-CX was available (docs/switches.md).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field, replace
from typing import Any

from netmiko.exceptions import ConfigInvalidException

from vendorwall.deploy import aoscx_plan, nxos_plan
from vendorwall.deploy.ios_plan import parse_vlan_list
from vendorwall.deploy.switch_plan import Port, SwitchConfig

REJECT = {"nxos": "% Invalid command at '^' marker.", "aoscx": "Invalid input: {cmd}"}


@dataclass
class Emulator:
    platform: str  # nxos | aoscx
    recorded: str  # the first 'show running-config'
    reject: set[str] = field(default_factory=set)  # configuration commands the switch refuses
    die_at: str = ""  # a command after which the session is gone
    rollback_fails: bool = False
    sent: list[str] = field(default_factory=list)
    saved: int = 0
    confirmed: int = 0
    checkpoints: dict[str, SwitchConfig] = field(default_factory=dict)
    dead: bool = False

    def __post_init__(self) -> None:
        mod = nxos_plan if self.platform == "nxos" else aoscx_plan
        self.mod = mod
        self.state = mod.parse(self.recorded)
        self.shown = 0

    # --- what the Session calls ------------------------------------------------------------------
    def _alive(self, cmd: str) -> None:
        if self.dead:
            raise OSError("Socket is closed")
        if self.die_at and cmd == self.die_at:
            self.dead = True
            raise OSError("Socket is closed")

    def send_command(self, cmd: str, **_: Any) -> str:
        self.sent.append(cmd)
        self._alive(cmd)
        if cmd == "show running-config":
            self.shown += 1
            return self.recorded if self.shown == 1 else self.mod.canonical(self.state)
        if m := re.fullmatch(r"checkpoint (vendorwall_\w+)", cmd):
            self.checkpoints[m.group(1)] = copy.deepcopy(self.state)
            return "Done"
        if m := re.fullmatch(r"rollback running-config checkpoint (\S+)", cmd):
            if self.rollback_fails or m.group(1) not in self.checkpoints:
                return "Rollback Status: Failed"
            self.state = copy.deepcopy(self.checkpoints[m.group(1)])
            return "Rollback completed successfully."
        if m := re.fullmatch(r"no checkpoint (\S+)", cmd):
            self.checkpoints.pop(m.group(1), None)
            return ""
        if re.fullmatch(r"checkpoint auto \d+", cmd):
            return "Auto checkpoint mode expires in 1 minute(s)"
        if cmd == "checkpoint auto confirm":
            self.confirmed += 1
            return "checkpoint AUTO20261128091402 created"
        if cmd in ("copy running-config startup-config", "write memory"):
            self.saved += 1
            return "Copy complete." if self.platform == "nxos" else "Configuration changes will take time to process"
        return f"% Invalid command at '^' marker: {cmd}"

    def send_config_set(self, cmds: list[str], error_pattern: str = "", **_: Any) -> str:
        out = []
        ctx: tuple[str, str] | None = None
        for raw in cmds:
            cmd = raw.strip()
            self.sent.append(raw)
            self._alive(raw)
            if raw in self.reject or cmd in self.reject:
                text = REJECT[self.platform].format(cmd=cmd)
                out.append(f"{raw}\n{text}")
                if error_pattern and re.search(error_pattern, text):
                    # netmiko's own message (base_connection.send_config_set)
                    raise ConfigInvalidException(f"Invalid input detected at command: {raw}, matched error: {text}")
                continue
            ctx = self._apply(cmd, ctx)
            out.append(raw)
        return "\n".join(out)

    def exit_config_mode(self, **_: Any) -> str:
        return ""

    def check_config_mode(self, **_: Any) -> bool:
        return False

    def send_command_timing(self, cmd: str, **_: Any) -> str:
        return ""

    def check_enable_mode(self) -> bool:
        return True

    def disconnect(self) -> None:
        pass

    # --- the interpreter -------------------------------------------------------------------------
    def _port(self, name: str) -> Port:
        return self.state.ports.get(name, self.mod.DIALECT.missing_port)

    def _set(self, name: str, **kw: Any) -> None:
        self.state.ports[name] = replace(self._port(name), **kw)

    def _apply(self, cmd: str, ctx: tuple[str, str] | None) -> tuple[str, str] | None:
        if cmd == "exit":
            return None
        if m := re.fullmatch(r"no vlan (\d+)", cmd):
            self.state.vlans.pop(int(m.group(1)), None)
            return None
        if m := re.fullmatch(r"vlan (\d+)", cmd):
            self.state.vlans.setdefault(int(m.group(1)), "")
            return ("vlan", m.group(1))
        if m := re.fullmatch(r"interface (\S+)", cmd):
            self.state.ports.setdefault(m.group(1), self._port(m.group(1)))
            return ("interface", m.group(1))
        assert ctx is not None, f"{cmd!r} outside a block"
        kind, key = ctx
        if kind == "vlan":
            m = re.fullmatch(r"name (\S+)|no name", cmd)
            assert m, cmd
            self.state.vlans[int(key)] = m.group(1) or ""
            return ctx
        p = self._port(key)
        rules: list[tuple[str, Any]] = [
            (r"description (.+)", lambda m: self._set(key, description=m.group(1))),
            (r"no description", lambda m: self._set(key, description=None)),
            (r"shutdown", lambda m: self._set(key, shutdown=True)),
            (r"no shutdown", lambda m: self._set(key, shutdown=False)),
            # NX-OS
            (r"switchport", lambda m: self._set(key, mode=p.mode or "access")),
            (r"switchport mode (access|trunk)", lambda m: self._set(key, mode=m.group(1))),
            (r"switchport access vlan (\d+)", lambda m: self._set(key, access_vlan=int(m.group(1)))),
            (r"no switchport access vlan", lambda m: self._set(key, access_vlan=None)),
            (r"switchport trunk allowed vlan ([\d,\-]+|none)",
             lambda m: self._set(key, trunk_allowed=parse_vlan_list(m.group(1)))),
            (r"no switchport trunk allowed vlan", lambda m: self._set(key, trunk_allowed=None)),
            # AOS-CX
            (r"vlan access (\d+)", lambda m: self._set(key, access_vlan=int(m.group(1)), mode="access")),
            (r"no vlan access", lambda m: self._set(key, access_vlan=None)),
            (r"no vlan trunk allowed all", lambda m: self._set(key, trunk_allowed=())),
            (r"vlan trunk allowed ([\d,\-]+)", lambda m: self._set(key, mode="trunk", trunk_allowed=tuple(sorted(
                set(p.trunk_allowed or ()) | set(parse_vlan_list(m.group(1))))))),
            (r"no vlan trunk allowed ([\d,\-]+)", lambda m: self._set(key, trunk_allowed=tuple(sorted(
                set(p.trunk_allowed or ()) - set(parse_vlan_list(m.group(1))))))),
        ]
        for rx, fn in rules:
            if m := re.fullmatch(rx, cmd):
                fn(m)
                return ctx
        raise AssertionError(f"the emulator does not know {cmd!r}")
