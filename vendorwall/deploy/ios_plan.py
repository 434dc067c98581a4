"""Pure planning for Cisco IOS switches: want vs. have -> target state -> commands (no device I/O).

Both sides are parsed by the same declarative parser: the running configuration
(``show running-config``) and the rendered intent (``build/<inventory>/<switch>.ios``).

What vendorwall owns on a switch, and therefore compares and changes:

- the VLANs inside the site's ``vlan_range`` (the inventory reserves that range for vendor VLANs):
  intended ones are created or renamed, the others **in that range** are removed; VLANs outside
  the range are never touched, whatever their name;
- the access ports of the intent (description, access mode, access VLAN);
- the uplink trunk (description, trunk mode, allowed list: the vendor VLANs only);
- access ports that left the intent (an access port still in a VLAN of the range, not intended
  any more): shut down first, then taken out of the vendor VLAN, described as retired. A retired
  port that comes back into the intent is brought up again (only ports vendorwall retired itself;
  a port an operator shut down stays down).

Everything else in the running configuration is ignored: it is neither compared nor changed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

RETIRED = "vendorwall retired"


@dataclass(frozen=True)
class Port:
    description: str | None = None
    mode: str | None = None  # access | trunk | None (not set)
    access_vlan: int | None = None
    trunk_allowed: tuple[int, ...] | None = None  # None: not set (all VLANs)
    shutdown: bool = False


@dataclass
class IosConfig:
    vlans: dict[int, str] = field(default_factory=dict)  # id -> name ("" when unnamed)
    ports: dict[str, Port] = field(default_factory=dict)


# --- parsing: one table of (block regex, child regex, setter) -----------------------------------

def parse_vlan_list(text: str) -> tuple[int, ...]:
    """``3000-3002,3005`` -> (3000, 3001, 3002, 3005); ``none`` -> ()."""
    text = text.strip()
    if text in ("", "none"):
        return ()
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return tuple(sorted(out))


def vlan_ranges(vlans: Iterable[int]) -> str:
    """(3000, 3001, 3002, 3005) -> ``3000-3002,3005``; () -> ``none``."""
    vs = sorted(set(vlans))
    out: list[str] = []
    i = 0
    while i < len(vs):
        j = i
        while j + 1 < len(vs) and vs[j + 1] == vs[j] + 1:
            j += 1
        out.append(str(vs[i]) if i == j else f"{vs[i]}-{vs[j]}")
        i = j + 1
    return ",".join(out) or "none"


_PORT_LINES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^description (?P<v>.+)$"), "description"),
    (re.compile(r"^switchport mode (?P<v>access|trunk)$"), "mode"),
    (re.compile(r"^switchport access vlan (?P<v>\d+)$"), "access_vlan"),
    (re.compile(r"^switchport trunk allowed vlan (?P<v>[\d,\-]+|none)$"), "trunk_allowed"),
    (re.compile(r"^(?P<v>shutdown)$"), "shutdown"),
]
_CONVERT: dict[str, Callable[[str], Any]] = {
    "access_vlan": int, "trunk_allowed": parse_vlan_list, "shutdown": lambda _: True, "description": str.strip,
    "mode": str}
_TRUNK_ADD = re.compile(r"^switchport trunk allowed vlan add (?P<v>[\d,\-]+)$")  # continuation lines (real IOS)


def _blocks(text: str) -> Iterable[tuple[str, list[str]]]:
    """Top-level lines with their indented children."""
    head: str | None = None
    children: list[str] = []
    for raw in text.replace("\r", "").splitlines():
        if not raw.strip() or raw.strip() == "!":
            continue
        if raw[0] in " \t":
            if head is not None:
                children.append(raw.strip())
            continue
        if head is not None:
            yield head, children
        head, children = raw.strip(), []
    if head is not None:
        yield head, children


_VLAN = re.compile(r"^vlan (?P<id>\d+)$")
_NAME = re.compile(r"^name (?P<v>.+)$")
_IFACE = re.compile(r"^interface (?P<name>\S+)$")


def parse(text: str) -> IosConfig:
    """The VLANs (with names) and physical-port settings vendorwall owns, from IOS configuration text."""
    cfg = IosConfig()
    for head, children in _blocks(text):
        if m := _VLAN.match(head):
            name = ""
            for c in children:
                if n := _NAME.match(c):
                    name = n.group("v").strip()
            cfg.vlans[int(m.group("id"))] = name
        elif m := _IFACE.match(head):
            values: dict[str, Any] = {}
            for c in children:
                for rx, attr in _PORT_LINES:
                    if v := rx.match(c):
                        values[attr] = _CONVERT[attr](v.group("v"))
                        break
                else:
                    if v := _TRUNK_ADD.match(c):
                        added = set(values.get("trunk_allowed") or ()) | set(parse_vlan_list(v.group("v")))
                        values["trunk_allowed"] = tuple(sorted(added))
            cfg.ports[m.group("name")] = Port(**values)
    return cfg


# --- canonical text: what before/after/diff show -------------------------------------------------

def canonical(cfg: IosConfig) -> str:
    lines: list[str] = []
    for vid in sorted(cfg.vlans):
        lines.append(f"vlan {vid}")
        if cfg.vlans[vid]:
            lines.append(f" name {cfg.vlans[vid]}")
    for name in sorted(cfg.ports, key=_port_key):
        p = cfg.ports[name]
        lines.append(f"interface {name}")
        if p.description is not None:
            lines.append(f" description {p.description}")
        if p.mode is not None:
            lines.append(f" switchport mode {p.mode}")
        if p.access_vlan is not None:
            lines.append(f" switchport access vlan {p.access_vlan}")
        if p.trunk_allowed is not None:
            lines.append(f" switchport trunk allowed vlan {vlan_ranges(p.trunk_allowed)}")
        if p.shutdown:
            lines.append(" shutdown")
    return "\n".join(lines) + ("\n" if lines else "")


def _port_key(name: str) -> tuple[str, tuple[int, ...]]:
    m = re.match(r"^(\D+)([\d/.]+)$", name)
    if not m:
        return name, ()
    return m.group(1), tuple(int(x) for x in re.split(r"[/.]", m.group(2)) if x)


# --- planning ------------------------------------------------------------------------------------

@dataclass
class IosPlan:
    device: str
    before: str  # canonical: what vendorwall owns, as it runs
    after: str  # canonical: the target state
    target: IosConfig
    commands: list[str]
    changed: bool
    diff: str


def in_range(vid: int, vlan_range: tuple[int, int]) -> bool:
    return vlan_range[0] <= vid <= vlan_range[1]


def owned(have: IosConfig, ports: Iterable[str], vlan_range: tuple[int, int]) -> IosConfig:
    """The part of ``have`` vendorwall owns: the VLANs of the range and the named ports."""
    return IosConfig({v: n for v, n in have.vlans.items() if in_range(v, vlan_range)},
                     {p: have.ports.get(p, Port()) for p in ports})


def target_state(have: IosConfig, want: IosConfig, vlan_range: tuple[int, int]) -> IosConfig:
    """The state vendorwall wants on the switch: ``want`` plus the retirement of ports that left it."""
    bad = [v for v in want.vlans if not in_range(v, vlan_range)]
    if bad:
        raise ValueError(f"intended VLANs outside the site's vlan_range {vlan_range[0]}-{vlan_range[1]}: {bad}")
    ports: dict[str, Port] = {}
    for name, p in want.ports.items():
        cur = have.ports.get(name, Port())
        # a port vendorwall retired comes back up; any other shutdown (an operator's) is kept
        keep_down = cur.shutdown and not (cur.description or "").startswith(RETIRED)
        ports[name] = replace(p, shutdown=keep_down)
    for name, cur in have.ports.items():
        if name in want.ports or cur.mode == "trunk":
            continue
        if cur.access_vlan is not None and in_range(cur.access_vlan, vlan_range):
            ports[name] = Port(description=f"{RETIRED} (was VLAN {cur.access_vlan})", mode=cur.mode,
                               access_vlan=None, trunk_allowed=cur.trunk_allowed, shutdown=True)
    return IosConfig(dict(want.vlans), ports)


def commands_for(have: IosConfig, target: IosConfig, vlan_range: tuple[int, int]) -> list[str]:
    """Configuration commands turning ``have`` into ``target`` on what vendorwall owns (ordered: VLANs
    first, ports next, retired VLANs last; every block closed with ``exit``)."""
    cmds: list[str] = []
    for vid in sorted(target.vlans):
        if have.vlans.get(vid) != target.vlans[vid]:
            cmds += [f"vlan {vid}"] + ([f" name {target.vlans[vid]}"] if target.vlans[vid] else []) + ["exit"]
    for name in sorted(target.ports, key=_port_key):
        want, cur = target.ports[name], have.ports.get(name, Port())
        body: list[str] = []
        if want.shutdown and not cur.shutdown:
            body.append(" shutdown")  # first: the port is down before it leaves its VLAN
        if want.description != cur.description:
            body.append(f" description {want.description}" if want.description is not None else " no description")
        if want.mode != cur.mode:
            body.append(f" switchport mode {want.mode}" if want.mode else " no switchport mode")
        if want.access_vlan != cur.access_vlan:
            body.append(f" switchport access vlan {want.access_vlan}" if want.access_vlan is not None
                        else " no switchport access vlan")
        if want.trunk_allowed != cur.trunk_allowed:
            body.append(f" switchport trunk allowed vlan {vlan_ranges(want.trunk_allowed)}"
                        if want.trunk_allowed is not None else " no switchport trunk allowed vlan")
        if not want.shutdown and cur.shutdown:
            body.append(" no shutdown")  # last: up only once it is in its VLAN
        if body:
            cmds += [f"interface {name}", *body, "exit"]
    for vid in sorted(have.vlans):
        if vid not in target.vlans and in_range(vid, vlan_range):
            cmds.append(f"no vlan {vid}")
    return cmds


def unified(before: str, after: str, device: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                        f"{device}: running", f"{device}: intended"))


def plan_ios(device: str, running: str, intended: str, vlan_range: tuple[int, int]) -> IosPlan:
    have_all = parse(running)
    target = target_state(have_all, parse(intended), vlan_range)
    have = owned(have_all, target.ports, vlan_range)
    cmds = commands_for(have, target, vlan_range)
    before, after = canonical(have), canonical(target)
    changed = bool(cmds)
    return IosPlan(device, before, after, target, cmds, changed, unified(before, after, device) if changed else "")


def rollback_commands(running_now: str, backup: str, ports: Iterable[str], vlan_range: tuple[int, int]) -> list[str]:
    """Commands restoring, on what a push touched (``ports`` and the range's VLANs), the backup's state."""
    ports = list(ports)
    now = owned(parse(running_now), ports, vlan_range)
    old = owned(parse(backup), ports, vlan_range)
    return commands_for(now, old, vlan_range)


def satisfied(running: str, target: IosConfig, vlan_range: tuple[int, int]) -> bool:
    have = owned(parse(running), target.ports, vlan_range)
    return canonical(have) == canonical(target)
