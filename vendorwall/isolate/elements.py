"""What isolating a vendor quarantines, computed one way for everyone.

The compiler (the quarantine every rendered policy carries for the vendors isolated at render time)
and ``vendorwall isolate`` (from the manifest, when the inventory may not compile) both call
:func:`wanted` then :func:`choose`, so a rendered policy and a live isolation always agree on the
elements: the vendor's entry-path prefixes (never a bastion's shared egress: that vendor is cut on
the bastion, by its accounts) and, with scope ``segment``, its segments; minus anything that
overlaps management (never quarantined), nested elements folded into the one that covers them.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Network

from ..model import QuarantineElement

SCOPES = ("access", "segment")


def _key(n: IPv4Network) -> tuple[int, int]:
    return int(n.network_address), n.prefixlen


def wanted(vendor: str, entry_paths: Iterable[tuple[str, tuple[IPv4Network, ...], bool]],
           segments: Iterable[tuple[str, IPv4Network]], scope: str) -> list[QuarantineElement]:
    """``entry_paths``: (name, prefixes, shared egress); ``segments``: (key, subnet)."""
    out = [QuarantineElement(p, vendor, "entry", name) for name, prefixes, shared in entry_paths if not shared
           for p in prefixes]
    if scope == "segment":
        out += [QuarantineElement(subnet, vendor, "segment", key) for key, subnet in segments]
    return out


def choose(want: Iterable[QuarantineElement], protected: list[tuple[IPv4Network, str]]) -> tuple[
        list[QuarantineElement], list[tuple[QuarantineElement, str]]]:
    """-> (elements to quarantine, refused (element, reason)). Deterministic: sorted by prefix."""
    refused: list[tuple[QuarantineElement, str]] = []
    chosen: list[QuarantineElement] = []
    for e in sorted(set(want), key=lambda e: (_key(e.prefix), e.vendor, e.kind, e.name)):
        hit = next(((n, what) for n, what in protected if n.overlaps(e.prefix)), None)
        if hit:
            refused.append((e, f"overlaps the {hit[1]} {hit[0]}: management is never quarantined"))
            continue
        cover = next((c for c in chosen if e.prefix.subnet_of(c.prefix)), None)
        if cover is not None:
            if cover.prefix != e.prefix:  # an identical prefix twice is one element
                refused.append((e, f"inside {cover.prefix} ({cover.vendor} {cover.kind} {cover.name}), "
                                   "already quarantined by it"))
            continue
        chosen.append(e)
    return chosen, refused
