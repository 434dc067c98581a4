"""Juniper Junos EX (ELS): read the configuration (NETCONF ``get-config`` XML, and vendorwall's
``set`` rendering) into the neutral switch state, and plan the change as a list of operations
printed two ways from the same list: ``set``/``delete`` lines (what check mode shows and the
reviewer reads) and the NETCONF ``edit-config`` payload the switch receives. Pure, no device I/O.

Junos keys VLANs by name (``vlans NAME vlan-id N``); vendorwall owns the VLANs whose id is in
the site's range, whatever their name: a VLAN of the range under another name is deleted and
created again under vendorwall's name in the same commit. Ports name their VLANs by id in
``vlan members`` (a member given as a VLAN name or a range on the switch is resolved when read).
A member change on an access port deletes the old member before adding the new one (an ELS access
port takes one VLAN); a trunk's members are changed one by one, so nothing else on it moves.
Interfaces are enabled unless ``disable`` is set (Junos default), unlike NX-OS and AOS-CX.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from .ios_plan import _port_key
from .switch_plan import Dialect, Port, SwitchConfig

ES = "unit 0 family ethernet-switching"


@dataclass(frozen=True)
class JunosPort(Port):
    """A port as read from the switch, with its ``vlan members`` exactly as written there (a member
    can be a VLAN name or a range, which a member-by-member change could not delete)."""

    literals: tuple[str, ...] = ()

    @property
    def literal_only_ids(self) -> bool:
        return all(v.isdigit() for v in self.literals)


# --- reading -------------------------------------------------------------------------------------

def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(el: ET.Element | None, *path: str) -> ET.Element | None:
    for name in path:
        if el is None:
            return None
        el = next((c for c in el if _local(c.tag) == name), None)
    return el


def _children(el: ET.Element | None, name: str) -> list[ET.Element]:
    return [] if el is None else [c for c in el if _local(c.tag) == name]


def _text(el: ET.Element | None) -> str | None:
    return None if el is None or el.text is None else el.text.strip()


def _members(values: list[str], by_name: dict[str, int]) -> set[int]:
    out: set[int] = set()
    for v in values:
        if m := re.fullmatch(r"(\d+)-(\d+)", v):
            out.update(range(int(m.group(1)), int(m.group(2)) + 1))
        elif v.isdigit():
            out.add(int(v))
        elif v in by_name:
            out.add(by_name[v])
        else:
            raise ValueError(f"vlan member {v!r} names no VLAN of the configuration")
    return out


def parse_xml(text: str) -> SwitchConfig:
    """The ``<configuration>`` (or a reply containing one) of ``get-config``, filtered or not."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"not XML: {exc}") from None
    conf = root if _local(root.tag) == "configuration" else next(
        (e for e in root.iter() if _local(e.tag) == "configuration"), None)
    cfg = SwitchConfig()
    if conf is None:
        return cfg
    by_name: dict[str, int] = {}
    for v in _children(_child(conf, "vlans"), "vlan"):
        name, vid = _text(_child(v, "name")), _text(_child(v, "vlan-id"))
        if name and vid and vid.isdigit():
            cfg.vlans[int(vid)] = name
            by_name[name] = int(vid)
    for i in _children(_child(conf, "interfaces"), "interface"):
        name = _text(_child(i, "name"))
        if not name:
            continue
        unit0 = next((u for u in _children(i, "unit") if _text(_child(u, "name")) == "0"), None)
        es = _child(unit0, "family", "ethernet-switching")
        mode = _text(_child(es, "interface-mode")) or _text(_child(es, "port-mode"))
        literals = tuple(_text(m) or "" for m in _children(_child(es, "vlan"), "members"))
        members = _members(list(literals), by_name)
        if es is not None and mode is None:
            mode = "access"  # ELS default
        cfg.ports[name] = JunosPort(_text(_child(i, "description")), mode,
                                    min(members) if mode == "access" and members else None,
                                    tuple(sorted(members)) if mode == "trunk" else None,
                                    _child(i, "disable") is not None, literals)
    return cfg


_SET = re.compile(r'^set (?P<path>.+?)(?: "(?P<q>[^"]*)")?$')


def parse_set(text: str) -> SwitchConfig:
    """vendorwall's rendering (``set`` lines; comments and blank lines ignored)."""
    cfg = SwitchConfig()
    raw: dict[str, dict[str, Any]] = {}
    by_name: dict[str, int] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if m := re.fullmatch(r"set vlans (\S+) vlan-id (\d+)", line):
            cfg.vlans[int(m.group(2))] = m.group(1)
            by_name[m.group(1)] = int(m.group(2))
        elif m := re.fullmatch(r'set interfaces (\S+) description "([^"]*)"', line):
            raw.setdefault(m.group(1), {})["description"] = m.group(2)
        elif m := re.fullmatch(rf"set interfaces (\S+) {ES} interface-mode (access|trunk)", line):
            raw.setdefault(m.group(1), {})["mode"] = m.group(2)
        elif m := re.fullmatch(rf"set interfaces (\S+) {ES} vlan members (.+)", line):
            vals = m.group(2).strip().strip("[]").split()
            raw.setdefault(m.group(1), {}).setdefault("members", []).extend(vals)
        elif m := re.fullmatch(r"set interfaces (\S+) disable", line):
            raw.setdefault(m.group(1), {})["disable"] = True
        else:
            raise ValueError(f"not a line vendorwall renders for Junos: {line!r}")
    for name, d in raw.items():
        mode = d.get("mode")
        members = _members(d.get("members", []), by_name)
        cfg.ports[name] = Port(d.get("description"), mode, min(members) if mode == "access" and members else None,
                               tuple(sorted(members)) if mode == "trunk" else None, bool(d.get("disable")))
    return cfg


# --- operations ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Op:
    verb: str  # set | delete
    kind: str  # vlan | vlan_id | description | disable | mode | member | members (all of a port's)
    target: str  # VLAN name or interface name
    value: str = ""

    def line(self) -> str:
        if self.kind == "vlan":
            return f"delete vlans {self.target}"
        if self.kind == "vlan_id":
            return f"set vlans {self.target} vlan-id {self.value}"
        base = f"{self.verb} interfaces {self.target}"
        if self.kind == "description":
            return f'{base} description "{self.value}"' if self.verb == "set" else f"{base} description"
        if self.kind == "disable":
            return f"{base} disable"
        if self.kind == "members":
            return f"{base} {ES} vlan"
        if self.kind == "mode":
            return f"{base} {ES} interface-mode {self.value}" if self.verb == "set" else f"{base} {ES} interface-mode"
        return f"{base} {ES} vlan members {self.value}"


def ops_for(have: SwitchConfig, target: SwitchConfig, vlan_range: tuple[int, int]) -> list[Op]:
    ops: list[Op] = []
    deleted: set[str] = set()
    for vid in sorted(have.vlans):  # a range VLAN under another name, or out of the intent: deleted
        if vlan_range[0] <= vid <= vlan_range[1] and target.vlans.get(vid) != have.vlans[vid]:
            ops.append(Op("delete", "vlan", have.vlans[vid]))
            deleted.add(have.vlans[vid])
    for vid in sorted(target.vlans):
        if have.vlans.get(vid) != target.vlans[vid]:
            ops.append(Op("set", "vlan_id", target.vlans[vid], str(vid)))
    for name in sorted(target.ports, key=_port_key):
        want, cur = target.ports[name], have.ports.get(name, Port())
        if want.shutdown != cur.shutdown:
            ops.append(Op("set" if want.shutdown else "delete", "disable", name))
        if want.description != cur.description:
            ops.append(Op("set", "description", name, want.description) if want.description is not None
                       else Op("delete", "description", name))
        if want.mode != cur.mode:
            ops.append(Op("set", "mode", name, want.mode) if want.mode is not None else Op("delete", "mode", name))
        old = set(cur.trunk_allowed or ()) | ({cur.access_vlan} if cur.access_vlan is not None else set())
        new = set(want.trunk_allowed or ()) | ({want.access_vlan} if want.access_vlan is not None else set())
        if isinstance(cur, JunosPort) and not cur.literal_only_ids and (old != new or deleted & set(cur.literals)):
            # members written as names or ranges on the switch (a changed list, or a name this commit
            # deletes): the whole list is written again by id
            ops.append(Op("delete", "members", name))
            old = set()
        ops += [Op("delete", "member", name, str(v)) for v in sorted(old - new)]
        ops += [Op("set", "member", name, str(v)) for v in sorted(new - old)]
    return ops


def commands(have: SwitchConfig, target: SwitchConfig, vlan_range: tuple[int, int]) -> list[str]:
    return [op.line() for op in ops_for(have, target, vlan_range)]


def edit_config(ops: list[Op]) -> str:
    """The ``<config>`` content of a NETCONF ``edit-config`` carrying ``ops`` (deletes as
    ``operation="delete"`` on the element, RFC 6241 section 7.2). The pusher sends the deletes and
    the sets as two edit-configs of the same candidate (one commit), so a member list deleted as a
    whole and written again is never one element deleted and filled in the same request."""
    conf = ET.Element("configuration")
    vlans: dict[str, ET.Element] = {}
    ifaces: dict[str, ET.Element] = {}

    def vlan_el(name: str) -> ET.Element:
        if name not in vlans:
            parent = _child(conf, "vlans")
            if parent is None:
                parent = ET.SubElement(conf, "vlans")
            vlans[name] = ET.SubElement(parent, "vlan")
            ET.SubElement(vlans[name], "name").text = name
        return vlans[name]

    def iface_el(name: str) -> ET.Element:
        if name not in ifaces:
            parent = _child(conf, "interfaces")
            if parent is None:
                parent = ET.SubElement(conf, "interfaces")
            ifaces[name] = ET.SubElement(parent, "interface")
            ET.SubElement(ifaces[name], "name").text = name
        return ifaces[name]

    def es_el(name: str) -> ET.Element:
        i = iface_el(name)
        unit = _child(i, "unit")
        if unit is None:
            unit = ET.SubElement(i, "unit")
            ET.SubElement(unit, "name").text = "0"
            ET.SubElement(ET.SubElement(unit, "family"), "ethernet-switching")
        es = _child(unit, "family", "ethernet-switching")
        assert es is not None
        return es

    for op in ops:
        delete = {"operation": "delete"} if op.verb == "delete" else {}
        if op.kind == "vlan":
            vlan_el(op.target).set("operation", "delete")
        elif op.kind == "vlan_id":
            ET.SubElement(vlan_el(op.target), "vlan-id").text = op.value
        elif op.kind in ("description", "disable"):
            el = ET.SubElement(iface_el(op.target), op.kind, delete)
            if op.kind == "description" and op.verb == "set":
                el.text = op.value
        elif op.kind == "members":
            ET.SubElement(es_el(op.target), "vlan", delete)
        elif op.kind == "mode":
            el = ET.SubElement(es_el(op.target), "interface-mode", delete)
            el.text = op.value or None
        else:
            es = es_el(op.target)
            vlan = _child(es, "vlan")
            if vlan is None:
                vlan = ET.SubElement(es, "vlan")
            ET.SubElement(vlan, "members", delete).text = op.value
    return ET.tostring(conf, encoding="unicode")


def canonical(cfg: SwitchConfig) -> str:
    lines: list[str] = []
    for vid in sorted(cfg.vlans):
        lines.append(f"set vlans {cfg.vlans[vid]} vlan-id {vid}")
    for name in sorted(cfg.ports, key=_port_key):
        p = cfg.ports[name]
        if p.description is not None:
            lines.append(f'set interfaces {name} description "{p.description}"')
        if p.shutdown:
            lines.append(f"set interfaces {name} disable")
        if p.mode is not None:
            lines.append(f"set interfaces {name} {ES} interface-mode {p.mode}")
        members = p.trunk_allowed if p.mode == "trunk" else ((p.access_vlan,) if p.access_vlan is not None else ())
        for v in members or ():
            lines.append(f"set interfaces {name} {ES} vlan members {v}")
        if not (p.description is not None or p.shutdown or p.mode):
            lines.append(f"# interfaces {name}: nothing configured")
    return "\n".join(lines) + ("\n" if lines else "")


DIALECT = Dialect("junos", canonical, commands, ports_down_by_default=False)

# The filter of get-config: only the two hierarchies vendorwall reads.
GET_FILTER = "<configuration><vlans/><interfaces/></configuration>"


def ansible_resources(cfg: SwitchConfig) -> dict[str, Any]:
    """The same state as the ``config`` of junipernetworks.junos junos_vlans / junos_l2_interfaces /
    junos_interfaces."""
    return {
        "junos_vlans": [{"name": n, "vlan_id": v} for v, n in sorted(cfg.vlans.items())],
        "junos_l2_interfaces": [
            {"name": name, "unit": 0, "enhanced_layer": True,
             **({"access": {"vlan": cfg.vlans.get(p.access_vlan, str(p.access_vlan))}}
                if p.mode == "access" and p.access_vlan is not None else {}),
             **({"trunk": {"allowed_vlans": [cfg.vlans.get(v, str(v)) for v in p.trunk_allowed]}}
                if p.mode == "trunk" and p.trunk_allowed is not None else {})}
            for name, p in sorted(cfg.ports.items()) if p.mode is not None],
        "junos_interfaces": [
            {"name": name, "enabled": not p.shutdown,
             **({"description": p.description} if p.description is not None else {})}
            for name, p in sorted(cfg.ports.items())],
    }
