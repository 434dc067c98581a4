"""Cisco NX-OS: read ``show running-config`` (and vendorwall's rendering) into the neutral switch
state, print it, and plan the configuration commands (pure, no device I/O; see ``switch_plan``).

What NX-OS prints, and how it is read:

- ``vlan 1,3000-3002`` (the compressed list of every VLAN) then ``vlan 3000`` blocks with
  ``name``: a VLAN without a name appears only in the list;
- interfaces: ``switchport mode trunk`` (``access`` is the default and not shown),
  ``switchport access vlan N`` (VLAN 1, the default, not shown), ``switchport trunk allowed vlan
  LIST`` (continued by ``switchport trunk allowed vlan add LIST`` lines when long), ``shutdown`` /
  ``no shutdown``: an Ethernet port is down unless ``no shutdown`` is shown, and ``no switchport``
  marks a routed port (never an access port of vendorwall's).
"""

from __future__ import annotations

import re
from typing import Any

from .ios_plan import _blocks, _port_key, parse_vlan_list, vlan_ranges
from .switch_plan import Dialect, Port, SwitchConfig

_VLAN_LIST = re.compile(r"^vlan (?P<v>[\d,\-]+)$")
_NAME = re.compile(r"^name (?P<v>.+)$")
_IFACE = re.compile(r"^interface (?P<name>\S+)$")


def parse(text: str) -> SwitchConfig:
    cfg = SwitchConfig()
    for head, children in _blocks(text):
        if m := _VLAN_LIST.match(head):
            ids = parse_vlan_list(m.group("v"))
            for vid in ids:
                cfg.vlans.setdefault(vid, "")
            if len(ids) == 1:
                for c in children:
                    if n := _NAME.match(c):
                        cfg.vlans[ids[0]] = n.group("v").strip()
        elif m := _IFACE.match(head):
            cfg.ports[m.group("name")] = _port(children)
    return cfg


def _port(children: list[str]) -> Port:
    desc: str | None = None
    mode: str | None = "access"
    access: int | None = None
    trunk: set[int] | None = None
    shutdown = True  # NX-OS: an Ethernet port is down unless 'no shutdown' is shown
    for c in children:
        if c.startswith("description "):
            desc = c[len("description "):].strip()
        elif c == "no switchport":
            mode = None
        elif c in ("switchport mode trunk", "switchport mode access"):
            mode = c.rsplit(" ", 1)[1]
        elif m := re.match(r"^switchport access vlan (\d+)$", c):
            access = int(m.group(1))
        elif m := re.match(r"^switchport trunk allowed vlan add ([\d,\-]+)$", c):
            trunk = (trunk or set()) | set(parse_vlan_list(m.group(1)))
        elif m := re.match(r"^switchport trunk allowed vlan ([\d,\-]+|none)$", c):
            trunk = set(parse_vlan_list(m.group(1)))
        elif c == "shutdown":
            shutdown = True
        elif c == "no shutdown":
            shutdown = False
    return Port(desc, mode, None if access == 1 else access, tuple(sorted(trunk)) if trunk is not None else None,
                shutdown)


def canonical(cfg: SwitchConfig) -> str:
    lines: list[str] = []
    for vid in sorted(cfg.vlans):
        lines.append(f"vlan {vid}")
        if cfg.vlans[vid]:
            lines.append(f"  name {cfg.vlans[vid]}")
    for name in sorted(cfg.ports, key=_port_key):
        p = cfg.ports[name]
        lines.append(f"interface {name}")
        if p.description is not None:
            lines.append(f"  description {p.description}")
        if p.mode is not None:
            lines.append(f"  switchport mode {p.mode}")
        if p.access_vlan is not None:
            lines.append(f"  switchport access vlan {p.access_vlan}")
        if p.trunk_allowed is not None:
            lines.append(f"  switchport trunk allowed vlan {vlan_ranges(p.trunk_allowed)}")
        lines.append("  shutdown" if p.shutdown else "  no shutdown")
    return "\n".join(lines) + ("\n" if lines else "")


def commands(have: SwitchConfig, target: SwitchConfig, vlan_range: tuple[int, int]) -> list[str]:
    """VLANs first, ports next (a port is shut before it leaves its VLAN, brought up last), VLANs that
    left the intent last; every block closed with ``exit``."""
    cmds: list[str] = []
    for vid in sorted(target.vlans):
        if have.vlans.get(vid) != target.vlans[vid]:
            name = target.vlans[vid]
            cmds += [f"vlan {vid}", f"  name {name}" if name else "  no name", "exit"]
    for name in sorted(target.ports, key=_port_key):
        want, cur = target.ports[name], have.ports.get(name, Port())
        body: list[str] = []
        if want.shutdown and not cur.shutdown:
            body.append("  shutdown")
        if want.description != cur.description:
            body.append(f"  description {want.description}" if want.description is not None else "  no description")
        if want.mode != cur.mode and want.mode is not None:
            body += ["  switchport", f"  switchport mode {want.mode}"]
        if want.access_vlan != cur.access_vlan:
            body.append(f"  switchport access vlan {want.access_vlan}" if want.access_vlan is not None
                        else "  no switchport access vlan")
        if want.trunk_allowed != cur.trunk_allowed:
            body.append(f"  switchport trunk allowed vlan {vlan_ranges(want.trunk_allowed)}"
                        if want.trunk_allowed is not None else "  no switchport trunk allowed vlan")
        if not want.shutdown and cur.shutdown:
            body.append("  no shutdown")
        if body:
            cmds += [f"interface {name}", *body, "exit"]
    for vid in sorted(have.vlans):
        if vid not in target.vlans and vlan_range[0] <= vid <= vlan_range[1]:
            cmds.append(f"no vlan {vid}")
    return cmds


DIALECT = Dialect("nxos", canonical, commands, ports_down_by_default=True,
                  missing_port=Port(mode=None, shutdown=True))  # absent: down


def ansible_resources(cfg: SwitchConfig) -> dict[str, Any]:
    """The same state as the ``config`` of cisco.nxos nxos_vlans / nxos_l2_interfaces / nxos_interfaces."""
    return {
        "nxos_vlans": [{"vlan_id": v, "name": n} if n else {"vlan_id": v} for v, n in sorted(cfg.vlans.items())],
        "nxos_l2_interfaces": [
            {"name": name, "mode": p.mode,
             **({"access": {"vlan": p.access_vlan}} if p.access_vlan is not None else {}),
             **({"trunk": {"allowed_vlans": vlan_ranges(p.trunk_allowed)}} if p.trunk_allowed is not None else {})}
            for name, p in sorted(cfg.ports.items()) if p.mode is not None],
        "nxos_interfaces": [
            {"name": name, "enabled": not p.shutdown, "mode": "layer2",
             **({"description": p.description} if p.description is not None else {})}
            for name, p in sorted(cfg.ports.items())],
    }
