"""Aruba AOS-CX: read ``show running-config`` (and vendorwall's rendering) into the neutral switch
state, print it, and plan the configuration commands (pure, no device I/O; see ``switch_plan``).

What AOS-CX prints, and how it is read (format as in the arubanetworks.aoscx collection's
``aoscx_l2_interface`` examples): ``vlan N`` blocks with ``name``; interfaces with four-space
children ``description``, ``no shutdown`` (a port is down unless shown), ``vlan access N`` (an
access port; VLAN 1 is the default), ``vlan trunk native N`` / ``vlan trunk allowed LIST`` (a
trunk). On AOS-CX ``vlan trunk allowed LIST`` *adds* to the allowed list and ``no vlan trunk
allowed LIST`` removes from it, so the plan sends the differences, never a replacement.
"""

from __future__ import annotations

import re

from .ios_plan import _blocks, _port_key, parse_vlan_list, vlan_ranges
from .switch_plan import Dialect, Port, SwitchConfig

_VLAN = re.compile(r"^vlan (?P<id>\d+)$")
_NAME = re.compile(r"^name (?P<v>.+)$")
_IFACE = re.compile(r"^interface (?P<name>\d+/\d+/\d+(?::\d+)?|lag\d+)$")


def parse(text: str) -> SwitchConfig:
    cfg = SwitchConfig()
    for head, children in _blocks(text):
        if m := _VLAN.match(head):
            name = ""
            for c in children:
                if n := _NAME.match(c):
                    name = n.group("v").strip()
            cfg.vlans[int(m.group("id"))] = name
        elif m := _IFACE.match(head):
            cfg.ports[m.group("name")] = _port(children)
    return cfg


def _port(children: list[str]) -> Port:
    desc: str | None = None
    access: int | None = None
    trunk: set[int] | None = None
    is_trunk = False
    shutdown = True
    for c in children:
        if c.startswith("description "):
            desc = c[len("description "):].strip()
        elif m := re.match(r"^vlan access (\d+)$", c):
            access = int(m.group(1))
        elif c == "vlan trunk allowed all":
            trunk, is_trunk = None, True
        elif m := re.match(r"^vlan trunk allowed ([\d,\-]+)$", c):
            trunk = (trunk or set()) | set(parse_vlan_list(m.group(1)))
            is_trunk = True
        elif c.startswith("vlan trunk "):
            is_trunk = True
        elif c == "no shutdown":
            shutdown = False
        elif c == "shutdown":
            shutdown = True
    return Port(desc, "trunk" if is_trunk else "access", None if access == 1 else access,
                tuple(sorted(trunk)) if trunk is not None else None, shutdown)


def canonical(cfg: SwitchConfig) -> str:
    lines: list[str] = []
    for vid in sorted(cfg.vlans):
        lines.append(f"vlan {vid}")
        if cfg.vlans[vid]:
            lines.append(f"    name {cfg.vlans[vid]}")
    for name in sorted(cfg.ports, key=_port_key):
        p = cfg.ports[name]
        lines.append(f"interface {name}")
        lines.append("    shutdown" if p.shutdown else "    no shutdown")
        if p.description is not None:
            lines.append(f"    description {p.description}")
        if p.access_vlan is not None:
            lines.append(f"    vlan access {p.access_vlan}")
        if p.trunk_allowed is not None:
            lines.append(f"    vlan trunk allowed {vlan_ranges(p.trunk_allowed)}")
    return "\n".join(lines) + ("\n" if lines else "")


def commands(have: SwitchConfig, target: SwitchConfig, vlan_range: tuple[int, int]) -> list[str]:
    cmds: list[str] = []
    for vid in sorted(target.vlans):
        if have.vlans.get(vid) != target.vlans[vid]:
            name = target.vlans[vid]
            cmds += [f"vlan {vid}", f"    name {name}" if name else "    no name", "exit"]
    for name in sorted(target.ports, key=_port_key):
        want, cur = target.ports[name], have.ports.get(name, Port())
        body: list[str] = []
        if want.shutdown and not cur.shutdown:
            body.append("    shutdown")
        if want.description != cur.description:
            body.append(f"    description {want.description}" if want.description is not None
                        else "    no description")
        if want.access_vlan != cur.access_vlan:
            body.append(f"    vlan access {want.access_vlan}" if want.access_vlan is not None else "    no vlan access")
        if want.trunk_allowed != cur.trunk_allowed and want.trunk_allowed is not None:
            add = sorted(set(want.trunk_allowed) - set(cur.trunk_allowed or ()))
            drop = sorted(set(cur.trunk_allowed or ()) - set(want.trunk_allowed))
            if cur.mode == "trunk" and cur.trunk_allowed is None:
                body.append("    no vlan trunk allowed all")  # an 'allow all' trunk narrows to the list
            body += [f"    vlan trunk allowed {vlan_ranges(add)}"] if add else []
            body += [f"    no vlan trunk allowed {vlan_ranges(drop)}"] if drop else []
        if not want.shutdown and cur.shutdown:
            body.append("    no shutdown")
        if body:
            cmds += [f"interface {name}", *body, "exit"]
    for vid in sorted(have.vlans):
        if vid not in target.vlans and vlan_range[0] <= vid <= vlan_range[1]:
            cmds.append(f"no vlan {vid}")
    return cmds


DIALECT = Dialect("aoscx", canonical, commands, ports_down_by_default=True,
                  missing_port=Port(mode="access", shutdown=True))  # absent: down
