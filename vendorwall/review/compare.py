"""What changes between two compiled sides: flows, segments, device configurations, definitions.

Access changes are exhaustive by construction: every allowed flow of each side is expanded from
its compiled rules exactly as :func:`vendorwall.export.flows` does, keyed on
``(kind, vendor, system, src, dst, protocol, port)``; a key on one side only is ``added`` or
``removed``, a key on both sides whose validity, entry path, firewalls, keep or log flag differ
is ``changed``. Nothing is sampled and nothing is summarised away: the report's sentences are a
grouping of these flow changes, and the JSON evidence lists every one of them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from ..model import Inventory, Model, Origin, Rule, Segment

# (kind, vendor, system, src, dst, protocol, port); port None for protocol any
FlowKey = tuple[str, str, str, str, str, str, int | None]
KEY_FIELDS = ("kind", "vendor", "system", "src", "dst", "protocol", "port")
Window = tuple[tuple[str, ...], str, str]


@dataclass(frozen=True)
class FlowFacts:
    """Everything a compiled flow carries besides its key."""

    id: str
    service: str
    validity: str  # permanent | until | scheduled | on_demand
    until: str | None
    window: Window | None
    max_hours: int | None
    via: str
    peer: str
    keep: bool
    log: bool
    firewalls: tuple[str, ...]
    origin: Origin

    @property
    def compared(self) -> tuple[Any, ...]:
        """What makes a flow 'changed': validity, path (entry path, firewalls), keep and log."""
        return (self.validity, self.until, self.window, self.max_hours, self.via, self.firewalls, self.keep,
                self.log)

    def sort_key(self) -> tuple[Any, ...]:
        return (repr(self.compared), self.id)


@dataclass(frozen=True)
class FlowChange:
    change: str  # added | removed | changed
    key: FlowKey
    before: tuple[FlowFacts, ...]  # empty for added
    after: tuple[FlowFacts, ...]  # empty for removed

    @property
    def kind(self) -> str:
        return self.key[0]

    @property
    def vendor(self) -> str:
        return self.key[1]

    @property
    def system(self) -> str:
        return self.key[2]

    @property
    def facts(self) -> FlowFacts:
        """The flow's facts on the side where it exists (the head's when on both)."""
        return (self.after or self.before)[0]


def flow_sort_key(key: FlowKey) -> tuple[Any, ...]:
    return (*key[:6], -1 if key[6] is None else key[6])


def _facts(rule: Rule) -> FlowFacts:
    v = rule.validity
    window = (tuple(v.window.days), v.window.start, v.window.end) if v.window else None
    return FlowFacts(rule.id, rule.service, v.kind, v.until.isoformat() if v.until else None, window, v.max_hours,
                     rule.via, rule.peer, rule.keep, rule.log, tuple(rule.firewalls), rule.origin)


def side_flows(model: Model) -> dict[FlowKey, tuple[FlowFacts, ...]]:
    """Every allowed flow of a compiled model, keyed as above (the same set as ``export.flows``,
    expanded like :func:`vendorwall.compile.expand`: every source x destination x port)."""
    text: dict[tuple[int, int], str] = {}  # prefix -> its text, computed once per distinct prefix

    def name(net: Any) -> str:
        k = (int(net.network_address), net.prefixlen)
        s = text.get(k)
        if s is None:
            s = text[k] = str(net)
        return s

    out: dict[FlowKey, tuple[FlowFacts, ...]] = {}
    for rule in model.rules:
        facts = (_facts(rule),)
        ports: tuple[int | None, ...] = rule.ports if rule.protocol != "any" else (None,)
        head = (rule.kind, rule.vendor, rule.system)
        dsts = [name(d) for d in rule.dst]
        for src in rule.src:
            s = name(src)
            for d in dsts:
                for port in ports:
                    key = (*head, s, d, rule.protocol, port)
                    prev = out.get(key)
                    out[key] = facts if prev is None else tuple(sorted(prev + facts, key=FlowFacts.sort_key))
    return out


def diff_flows(base: dict[FlowKey, tuple[FlowFacts, ...]],
               head: dict[FlowKey, tuple[FlowFacts, ...]]) -> list[FlowChange]:
    changes = [FlowChange("removed", k, f, ()) for k, f in base.items() if k not in head]
    changes += [FlowChange("added", k, (), f) for k, f in head.items() if k not in base]
    for k, after in head.items():
        before = base.get(k)
        if before is not None and before != after and (
                sorted(repr(f.compared) for f in before) != sorted(repr(f.compared) for f in after)):
            changes.append(FlowChange("changed", k, before, after))
    changes.sort(key=lambda c: (flow_sort_key(c.key), c.change))
    return changes


# --------------------------------------------------------------------------- segments


@dataclass(frozen=True)
class SegmentState:
    vlan: int
    subnet: str
    mode: str
    firewall: str
    hosts: tuple[tuple[str, tuple[str, ...]], ...]  # (system, addresses), sorted

    @property
    def systems(self) -> tuple[str, ...]:
        return tuple(s for s, _ in self.hosts)


@dataclass(frozen=True)
class SegmentChange:
    change: str  # allocated | freed | changed
    key: str
    site: str
    vendor: str
    before: SegmentState | None
    after: SegmentState | None

    @property
    def state(self) -> SegmentState:
        state = self.after or self.before
        assert state is not None
        return state


def _seg_state(seg: Segment) -> SegmentState:
    return SegmentState(seg.vlan, str(seg.subnet), seg.mode, seg.firewall,
                        tuple((s, tuple(str(a) for a in addrs)) for s, addrs in sorted(seg.hosts.items())))


def diff_segments(base: Iterable[Segment], head: Iterable[Segment]) -> list[SegmentChange]:
    b = {s.key: s for s in base}
    h = {s.key: s for s in head}
    out = []
    for key in sorted(set(b) | set(h)):
        if key in b and key in h and b[key] == h[key]:
            continue
        sb = _seg_state(b[key]) if key in b else None
        sh = _seg_state(h[key]) if key in h else None
        if sb == sh:
            continue
        seg = h.get(key) or b[key]
        change = "allocated" if sb is None else "freed" if sh is None else "changed"
        out.append(SegmentChange(change, key, seg.site, seg.vendor, sb, sh))
    return out


# --------------------------------------------------------------------------- devices


@dataclass(frozen=True)
class DeviceChange:
    device: str
    platform: str
    change: str  # added | removed | changed
    path: str  # the rendered file name, e.g. fw-nord.nft
    diff: str  # unified diff, base -> head
    added: int  # lines added
    removed: int  # lines removed


def diff_devices(base: dict[str, Any], head: dict[str, Any]) -> list[DeviceChange]:
    """Unified diffs of every rendered configuration that differs (``Rendered`` by device name)."""
    out = []
    for name in sorted(set(base) | set(head)):
        rb, rh = base.get(name), head.get(name)
        text_b = rb.text if rb is not None else ""
        text_h = rh.text if rh is not None else ""
        if rb is not None and rh is not None and text_b == text_h:
            continue
        ref = rh or rb
        assert ref is not None
        path = f"{name}.{ref.extension}"
        change = "added" if rb is None else "removed" if rh is None else "changed"
        lines = list(difflib.unified_diff(text_b.splitlines(), text_h.splitlines(),
                                          "/dev/null" if rb is None else f"base/{path}",
                                          "/dev/null" if rh is None else f"head/{path}", n=3, lineterm=""))
        added = sum(1 for line in lines[2:] if line.startswith("+"))
        removed = sum(1 for line in lines[2:] if line.startswith("-"))
        out.append(DeviceChange(name, ref.platform, change, path, "\n".join(lines) + "\n", added, removed))
    return out


# --------------------------------------------------------------------------- definitions


_PLAIN = (str, int, float, bool, type(None), dt.date, IPv4Network, IPv4Address)


_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _field_names(cls: type) -> tuple[str, ...] | None:
    if cls not in _FIELDS:
        _FIELDS[cls] = (tuple(f.name for f in dataclasses.fields(cls) if f.name not in ("origin", "sources", "systems"))
                        if dataclasses.is_dataclass(cls) else None)
    return _FIELDS[cls]


def strip(obj: Any) -> Any:
    """A comparable form of an inventory object without its origins (line numbers move when a
    file is edited above) and without nested systems (compared on their own)."""
    if isinstance(obj, _PLAIN):
        return obj
    names = _field_names(type(obj))
    if names is not None:
        return (type(obj).__name__, *(strip(getattr(obj, n)) for n in names))
    if isinstance(obj, tuple | list):
        return tuple(strip(x) for x in obj)
    if isinstance(obj, dict):
        return tuple(sorted((k, strip(v)) for k, v in obj.items()))
    return obj


def _same(a: Any, b: Any) -> bool:
    return a == b or strip(a) == strip(b)


@dataclass(frozen=True)
class Touched:
    """Which vendors and systems a change touches, and how (added | removed | changed)."""

    vendors: dict[str, str]
    systems: dict[str, str]
    vendor_defs: frozenset[str]  # vendors whose own definition (not their systems) changed


def touched(base: Inventory, head: Inventory, flow_changes: Iterable[FlowChange],
            segment_changes: Iterable[SegmentChange]) -> Touched:
    systems: dict[str, str] = {}
    for name in set(base.systems) | set(head.systems):
        sb, sh = base.systems.get(name), head.systems.get(name)
        if sb is None:
            systems[name] = "added"
        elif sh is None:
            systems[name] = "removed"
        elif not _same(sb, sh):
            systems[name] = "changed"
    for fc in flow_changes:
        if fc.system:
            systems.setdefault(fc.system, "changed")
    for sc in segment_changes:
        for s in set((sc.before.systems if sc.before else ()) + (sc.after.systems if sc.after else ())):
            systems.setdefault(s, "changed")
    vendors: dict[str, str] = {}
    defs = set()
    for name in set(base.vendors) | set(head.vendors):
        vb, vh = base.vendors.get(name), head.vendors.get(name)
        if vb is None:
            vendors[name] = "added"
        elif vh is None:
            vendors[name] = "removed"
        elif not (vb == vh or strip(vb) == strip(vh)):
            vendors[name] = "changed"
            defs.add(name)
    for s in systems:
        sys_ = head.systems.get(s) or base.systems.get(s)
        if sys_ is not None:
            vendors.setdefault(sys_.vendor, "changed")
    for fc in flow_changes:
        if fc.vendor:
            vendors.setdefault(fc.vendor, "changed")
    return Touched(dict(sorted(vendors.items())), dict(sorted(systems.items())), frozenset(defs))
