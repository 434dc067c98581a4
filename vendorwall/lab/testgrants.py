"""Test grants for lab probes (``vendorwall lab test``, ``isolate/restore --lab-dir``), that never touch an
operator's grant.

An on-demand tuple is probed with a grant of the test's own. In an interval set, adding a key equal to a
live grant's resets its timeout and drops its comment, and deleting a key that a live grant covers deletes
that grant: so a test grant is created only where no live element holds the tuple (the firewall's
``nft_state`` agent checks coverage and says which it created), and only those are removed afterwards.
A tuple a live grant holds is not probed "without a grant" either (it would connect: a false mismatch).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import Any

from ..devices.agents import run_local

AGENT = "nft_state"
TEST_COMMENT = "vendorwall lab test grant"


@dataclass(frozen=True)
class Tuple:
    firewall: str
    proto: str  # tcp | udp | any
    src: str
    dst: str
    port: int | None

    def data(self) -> dict[str, Any]:
        return {"set": f"grants_{self.proto}", "src": self.src, "dst": self.dst,
                "port": None if self.proto == "any" else self.port}


@dataclass
class Held:
    """The live grants of the lab's firewalls: (set, source, destination, port) per firewall."""

    live: dict[str, list[tuple[str, IPv4Network, IPv4Network, int | None]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def holds(self, t: Tuple) -> bool:
        src, dst = IPv4Network(t.src), IPv4Network(t.dst)
        for s, ls, ld, lp in self.live.get(t.firewall, []):
            if s == f"grants_{t.proto}" and (t.proto == "any" or lp == t.port) and src.overlaps(ls) \
                    and dst.overlaps(ld):
                return True
        return False


def _agent(ns: str, request: dict[str, Any]) -> dict[str, Any]:
    return run_local(AGENT, request, prefix=("ip", "netns", "exec", ns))


def _nets(text: str) -> IPv4Network | None:
    try:
        return IPv4Network(text.split("-")[0] if "-" in text else text)
    except ValueError:
        return None


def held(firewalls: dict[str, str]) -> Held:
    """``firewalls``: device -> its network namespace."""
    from ..access.grants import live_elements

    out = Held()
    for fw, ns in sorted(firewalls.items()):
        ans = _agent(ns, {"op": "grants_list"})
        if not ans.get("ok"):
            out.errors[fw] = str(ans.get("error"))
            continue
        rows = []
        for name, elems in (ans.get("sets") or {}).items():
            for x in live_elements(fw, name, elems):
                parts = x.key.split(" . ")
                s, d = _nets(parts[0]), _nets(parts[1]) if len(parts) > 1 else None
                if s is None or d is None:
                    continue
                rows.append((name, s, d, int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else None))
        out.live[fw] = rows
    return out


def add(firewalls: dict[str, str], tuples: Iterable[Tuple], minutes: int = 10) -> dict[str, list[dict[str, Any]]]:
    """Create the test grants no live grant holds; -> firewall -> the elements created (to remove later)."""
    by_fw: dict[str, list[Tuple]] = {}
    for t in sorted(set(tuples), key=lambda t: (t.firewall, t.proto, t.src, t.dst, t.port or 0)):
        by_fw.setdefault(t.firewall, []).append(t)
    created: dict[str, list[dict[str, Any]]] = {}
    for fw, ts in by_fw.items():
        ns = firewalls.get(fw)
        if not ns:
            continue
        ans = _agent(ns, {"op": "grants_open", "elements": [t.data() for t in ts], "timeout": minutes * 60,
                          "comment": TEST_COMMENT, "only_missing": True})
        created[fw] = [c for c in ans.get("created") or [] if isinstance(c, dict)]
    return created


def remove(firewalls: dict[str, str], created: dict[str, list[dict[str, Any]]]) -> None:
    """Remove exactly the test grants :func:`add` created."""
    for fw, elems in created.items():
        if elems and firewalls.get(fw):
            _agent(firewalls[fw], {"op": "grants_close", "elements": elems})
