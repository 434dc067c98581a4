"""Flow changes in the reviewer's words.

The flow changes of one system are grouped into statements: flows with the same change, kind,
entry path (or clinical peer) and validity become one sentence listing their services and ports.
Every flow change belongs to exactly one statement, so the sentences are as exhaustive as the flow
list they come from::

    Vendor Acme Imaging (PACS / RIS) can now reach pacs-archive-centre (PACS long-term archive;
    site centre, VLAN 3401) on ssh tcp/22 via bastion bst-1, on demand, at most 4 h per opening.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..model import Inventory, Origin, Segment
from .compare import FlowChange, FlowFacts, flow_sort_key

KIND_ORDER = {"vendor_access": 0, "clinical": 1, "staff": 2, "infrastructure": 3, "management": 4}
CHANGE_ORDER = {"added": 0, "changed": 1, "removed": 2}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Statement:
    """One sentence and the flow changes it stands for."""

    change: str  # added | removed | changed
    kind: str  # vendor_access | clinical | management
    text: str
    origin: Origin  # where the flows come from (head side, base side for removals)
    side: str  # head | base
    flows: tuple[FlowChange, ...]


class Names:
    """Look-ups of one side: titles, functions, VLANs, entry paths."""

    def __init__(self, inv: Inventory, segments: Iterable[Segment]) -> None:
        self.inv = inv
        self.vlan_of: dict[str, int] = {}
        for seg in segments:
            for name in seg.systems:
                self.vlan_of[name] = seg.vlan

    def vendor(self, name: str) -> str:
        v = self.inv.vendors.get(name)
        return v.title if v else name

    def system(self, name: str) -> str:
        s = self.inv.systems.get(name)
        if s is None:
            return name
        vlan = self.vlan_of.get(name)
        return f"{name} ({s.function}; site {s.site}{f', VLAN {vlan}' if vlan is not None else ''})"

    def party(self, name: str) -> str:
        """A clinical flow's end: a client group or a system."""
        g = self.inv.client_groups.get(name)
        if g is not None:
            return f"{g.title} ({name})"
        s = self.inv.systems.get(name)
        if s is not None:
            return f"{name} ({s.function}, vendor {self.vendor(s.vendor)})"
        return name

    def path(self, vendor: str, via: str) -> str:
        v = self.inv.vendors.get(vendor)
        ep = next((p for p in v.entry_paths if p.name == via), None) if v else None
        if ep is None:
            return f"entry path {via}"
        prefixes = ", ".join(str(p) for p in ep.prefixes)
        if ep.kind == "bastion":
            return f"bastion {ep.bastion} ({via})"
        if ep.kind == "vpn":
            return f"VPN {via} ({prefixes})"
        return f"LAN-to-LAN tunnel {via} (peer {ep.peer}, {prefixes})"


def ports_label(pairs: Iterable[tuple[str, str, int | None]]) -> str:
    """``[(service, protocol, port)]`` -> ``ssh tcp/22, acme-viewer tcp/8000-8010``."""
    by_service: dict[tuple[str, str], list[int]] = {}
    anyproto: set[str] = set()
    for service, proto, port in pairs:
        if port is None:
            anyproto.add(service)
        else:
            by_service.setdefault((service, proto), []).append(port)
    parts = [f"{svc} (every protocol and port)" for svc in sorted(anyproto)]
    for (svc, proto), ports in sorted(by_service.items()):
        parts.append(f"{svc} {proto}/{compress(ports)}")
    return _join(parts)


def compress(ports: Iterable[int]) -> str:
    """``[22, 8000, 8001, 8002]`` -> ``22,8000-8002``."""
    ps = sorted(set(ports))
    runs: list[str] = []
    i = 0
    while i < len(ps):
        j = i
        while j + 1 < len(ps) and ps[j + 1] == ps[j] + 1:
            j += 1
        runs.append(str(ps[i]) if i == j else f"{ps[i]}-{ps[j]}")
        i = j + 1
    return ",".join(runs)


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def validity(f: FlowFacts) -> str:
    if f.validity == "on_demand":
        return f"on demand, at most {f.max_hours} h per opening"
    if f.validity == "until":
        return f"permanently until {f.until}"
    if f.validity == "scheduled" and f.window:
        days, start, end = f.window
        text = f"on schedule ({'/'.join(d for d in DAYS if d in days)} {start}-{end})"
        return text + (f" until {f.until}" if f.until else ", with no end date")
    return "permanently, with no end date"


def _firewalls(f: FlowFacts) -> str:
    return ", ".join(f.firewalls) or "no firewall"


def _differences(before: FlowFacts, after: FlowFacts, names: Names, vendor: str) -> list[str]:
    out = []
    if (before.validity, before.until, before.window, before.max_hours) != (
            after.validity, after.until, after.window, after.max_hours):
        out.append(f"validity changed from {validity(before)} to {validity(after)}")
    if before.via != after.via and vendor:
        out.append(f"entry path changed from {before.via} to {names.path(vendor, after.via)}")
    if before.firewalls != after.firewalls:
        out.append(f"enforced on {_firewalls(after)} instead of {_firewalls(before)}")
    if before.keep != after.keep:
        out.append("now kept open when the vendor is isolated" if after.keep
                   else "no longer kept open when the vendor is isolated")
    if before.log != after.log:
        out.append("new connections now logged" if after.log else "new connections no longer logged")
    return out


def _changed(fc: FlowChange, names: Names, vendor: str) -> str:
    """What changed on a flow present on both sides; never empty (a flow changes when the rules that allow
    it change: a second service name on the same port is one, and is said)."""
    diffs = _differences(fc.before[0], fc.after[0], names, vendor)
    b = sorted({f.service for f in fc.before})
    a = sorted({f.service for f in fc.after})
    gained, lost = [x for x in a if x not in b], [x for x in b if x not in a]
    if gained:
        diffs.append(f"now also allowed as service {_join(gained)}")
    if lost:
        diffs.append(f"no longer allowed as service {_join(lost)}")
    if not diffs:
        diffs.append(f"allowed by {len(fc.after)} rule(s) instead of {len(fc.before)}")
    return "; ".join(diffs)


def _clinical_direction(f: FlowFacts) -> str:
    # rule id: clinical/<system>/<from|to>/<peer>/<service>
    parts = f.id.split("/")
    return parts[2] if len(parts) > 2 else "from"


def _group_key(fc: FlowChange) -> tuple[Any, ...]:
    f = fc.facts
    if fc.change == "changed":
        b, a = fc.before[0], fc.after[0]
        facts: tuple[Any, ...] = (b.compared, a.compared, b.via, a.via)
    else:
        facts = (f.compared, f.via)
    if fc.kind == "clinical":
        return (fc.change, fc.kind, _clinical_direction(f), f.peer, facts)
    if fc.kind == "management":
        return (fc.change, fc.kind, f.id, facts)
    return (fc.change, fc.kind, facts)


def statements(vendor: str, system: str, changes: list[FlowChange], base: Names, head: Names) -> list[Statement]:
    """The sentences of one system's flow changes (``vendor``/``system`` are "" for management)."""
    groups: dict[tuple[Any, ...], list[FlowChange]] = {}
    for fc in changes:
        groups.setdefault(_group_key(fc), []).append(fc)
    out = []
    for flows in groups.values():
        flows.sort(key=lambda c: flow_sort_key(c.key))
        out.append(_statement(vendor, system, flows, base, head))
    out.sort(key=lambda s: (KIND_ORDER.get(s.kind, 9), CHANGE_ORDER[s.change], s.text))
    return out


def _statement(vendor: str, system: str, flows: list[FlowChange], base: Names, head: Names) -> Statement:
    first = flows[0]
    change, kind = first.change, first.kind
    names = base if change == "removed" else head
    f = first.facts
    ports = ports_label((c.facts.service, c.key[5], c.key[6]) for c in flows)
    if kind == "vendor_access":
        who = f"Vendor {names.vendor(vendor)}"
        target = names.system(system)
        path = names.path(vendor, f.via)
        if change == "added":
            text = f"{who} can now reach {target} on {ports} via {path}, {validity(f)}."
        elif change == "removed":
            text = f"{who} can no longer reach {target} on {ports} via {path} (was: {validity(f)})."
        else:
            text = f"{who}'s access to {target} on {ports} via {path}: {_changed(first, head, vendor)}."
    elif kind == "clinical":
        direction = _clinical_direction(f)
        peer = names.party(f.peer)
        here = names.system(system)
        src, dst = (peer, here) if direction == "from" else (here, peer)
        keep = ", kept open when the vendor is isolated" if f.keep else ""
        if change == "added":
            text = f"Clinical flow: {src} can now reach {dst} on {ports}{keep}."
        elif change == "removed":
            text = f"Clinical flow removed: {src} can no longer reach {dst} on {ports}{keep}."
        else:
            text = f"Clinical flow {src} to {dst} on {ports}: {_changed(first, head, '')}."
    elif kind in ("infrastructure", "staff"):
        inv = (base if change == "removed" else head).inv
        here = names.system(system)
        keep = ", kept open when the vendor is isolated" if f.keep else ""
        if kind == "infrastructure":
            infra = inv.infrastructure.get(f.peer)
            peer = f"{infra.title} ({f.peer})" if infra is not None else f.peer
            src, dst = (here, peer) if _clinical_direction(f) == "to" else (peer, here)
            head_text = "Infrastructure"
        else:
            staff = inv.staff.get(f.peer)
            group = inv.client_groups.get(staff.source) if staff is not None else None
            peer = (f"{staff.title} ({f.peer}" + (f", from {group.title}" if group else "") + ")") if staff else f.peer
            src, dst = peer, here
            head_text = "Staff administration"
        if change == "added":
            text = f"{head_text}: {src} can now reach {dst} on {ports}{keep}."
        elif change == "removed":
            text = f"{head_text} removed: {src} can no longer reach {dst} on {ports}{keep}."
        else:
            text = f"{head_text} {src} to {dst} on {ports}: {_changed(first, head, '')}."
    else:
        srcs = ", ".join(sorted({c.key[3] for c in flows}))
        dsts = ", ".join(sorted({c.key[4] for c in flows}))
        fws = _firewalls(f)
        verb = {"added": "can now reach", "removed": "can no longer reach"}.get(change)
        if verb:
            text = f"Management: {srcs} {verb} firewall {fws} ({dsts}) on {ports}."
        else:
            text = f"Management: {srcs} to firewall {fws} ({dsts}) on {ports}: {_changed(first, head, '')}."
    return Statement(change, kind, text, f.origin, "base" if change == "removed" else "head", tuple(flows))
