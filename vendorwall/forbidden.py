"""Forbidden services are ports, not names.

``policy.forbidden_services`` lists what a vendor may reach only with a justified exception. Each entry
is a protocol and port range (``tcp/23``, ``tcp/137-139``, ``udp/161``), ``any`` (a service of protocol
``any``: every protocol and port), or a service name: a name of the built-in table below (the well-known
ports of telnet and SMB, whatever the catalogue calls them) or of the catalogue, which stands for that
service's ports. A vendor access is checked on the ports it really opens, never on the service's name,
so a renamed or widened service (``robot-logs: tcp/445``, port 23 added to ``vnc``) is caught.

A service of protocol ``any`` reaches every port, so every forbidden entry concerns it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .model import Inventory, Service

PORT_SPEC = re.compile(r"^(tcp|udp)/(\d{1,5})(?:-(\d{1,5}))?$", re.ASCII)
# Well-known ports of the default forbidden names: forbidden by port even when the catalogue defines none
WELL_KNOWN: dict[str, tuple[tuple[str, int, int], ...]] = {
    "telnet": (("tcp", 23, 23),),
    "smb": (("tcp", 139, 139), ("tcp", 445, 445)),
    "any": (("any", 0, 0),),
}


@dataclass(frozen=True)
class Forbidden:
    entry: str  # the policy's entry (a name or a port spec)
    protocol: str  # tcp | udp | any (a service of protocol any)
    lo: int = 0
    hi: int = 0

    @property
    def label(self) -> str:
        if self.protocol == "any":
            return "any protocol"
        port = str(self.lo) if self.lo == self.hi else f"{self.lo}-{self.hi}"
        return f"{self.protocol}/{port}"

    def hit_by(self, protocol: str, ports: Iterable[int]) -> bool:
        """Does a service of ``protocol`` opening ``ports`` reach this forbidden entry?"""
        if protocol == "any":
            return True  # every protocol and port
        if self.protocol == "any":
            return False
        return protocol == self.protocol and any(self.lo <= p <= self.hi for p in ports)


def parse_spec(entry: str) -> tuple[str, int, int] | None:
    """``tcp/23`` -> ("tcp", 23, 23); ``udp/137-139`` -> ("udp", 137, 139); None when not a valid spec."""
    m = PORT_SPEC.match(entry)
    if not m:
        return None
    lo = int(m.group(2))
    hi = int(m.group(3)) if m.group(3) else lo
    if not 1 <= lo <= hi <= 65535:
        return None
    return m.group(1), lo, hi


def specs(inv: Inventory) -> list[Forbidden]:
    """Every forbidden protocol/port range of the policy (unknown entries: none; validation reports them)."""
    out: list[Forbidden] = []
    for entry in inv.policy.forbidden_services:
        spec = parse_spec(entry)
        if spec is not None:
            out.append(Forbidden(entry, *spec))
            continue
        for proto, lo, hi in WELL_KNOWN.get(entry, ()):
            out.append(Forbidden(entry, proto, lo, hi))
        svc = inv.services.get(entry)
        if svc is not None:
            out += _of_service(entry, svc)
    return sorted(set(out), key=lambda f: (f.protocol, f.lo, f.hi, f.entry))


def _of_service(entry: str, svc: Service) -> list[Forbidden]:
    if svc.protocol == "any":
        return [Forbidden(entry, "any")]
    out = []
    ports = sorted(svc.ports)
    i = 0
    while i < len(ports):  # runs of consecutive ports
        j = i
        while j + 1 < len(ports) and ports[j + 1] == ports[j] + 1:
            j += 1
        out.append(Forbidden(entry, svc.protocol, ports[i], ports[j]))
        i = j + 1
    return out


def hits(forbidden: list[Forbidden], protocol: str, ports: Iterable[int]) -> list[Forbidden]:
    ports = tuple(ports)
    return [f for f in forbidden if f.hit_by(protocol, ports)]


def describe(found: list[Forbidden]) -> str:
    """``smb (tcp/139, tcp/445), tcp/23``: the entries hit, with their ranges."""
    by: dict[str, list[str]] = {}
    for f in found:
        by.setdefault(f.entry, []).append(f.label)
    return ", ".join(e if labels == [e] else f"{e} ({', '.join(labels)})" for e, labels in sorted(by.items()))
