"""Isolation impact of every vendor a change touches: what ``isolate`` would cut, what it keeps.

Isolating a vendor puts its entry paths (bastion source, VPN pool, LAN-to-LAN subnets) in the
firewalls' quarantine set, checked before anything else in both directions; with the segment
scope its segments go there too, and only the flows the inventory marks ``keep: true`` stay open.
From the compiled flows of a side this module counts, per vendor:

- the vendor-access flows, systems and firewalls the isolation cuts, the accounts disabled on the
  bastions (a shared bastion egress is never quarantined: those accounts are what cuts the vendor there),
  and what is left to do by hand: the accounts of a VPN-only vendor (on the concentrator), the
  LAN-to-LAN tunnels to bring down;
- the clinical flows with one of its systems at either end (declared on its systems, or on another
  vendor's system towards them), which the default (access) isolation leaves alone, the
  non-must-keep ones a segment quarantine would cut, and the must-keep ones it keeps;
- must-keep flows that would *not* survive: any whose source or destination overlaps one of the
  vendor's entry prefixes (the quarantine drops them whatever the scope). There should be none.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Network

from ..model import Inventory
from .compare import FlowFacts, FlowKey


@dataclass(frozen=True)
class Impact:
    vendor: str
    title: str
    status: str  # added | changed | removed (of the vendor in this change)
    side: str  # head, or base for a removed vendor
    entry_paths: tuple[tuple[str, str, tuple[str, ...]], ...]  # (name, kind, prefixes)
    access_flows: int  # vendor-access flows isolation cuts
    access_flows_before: int  # the same on the base (0 for a new vendor)
    systems: tuple[str, ...]  # systems the vendor can no longer reach once isolated
    firewalls: tuple[str, ...]  # firewalls that enforce the isolation
    accounts: tuple[str, ...]  # vendor accounts disabled on the bastions
    tunnels: tuple[str, ...]  # LAN-to-LAN tunnels brought down
    segments: tuple[str, ...]  # the vendor's segments (quarantined with the segment scope)
    clinical_flows: int  # clinical flows with one of its systems at either end: kept by the access isolation
    keep_flows: int  # of which must-keep: kept by the segment quarantine too
    quarantine_cuts: int  # clinical flows a segment quarantine cuts (not must-keep)
    broken_keep: tuple[str, ...]  # must-keep flows isolation would cut (rule ids, with the flow)
    accounts_manual: tuple[str, ...] = ()  # accounts of a vendor without a bastion path (VPN-only): by hand
    shared_paths: tuple[tuple[str, str], ...] = ()  # (entry path, bastion): shared egress, cut by the accounts
    isolated: str = ""  # the vendor is isolated now (the isolation record): since, why

    @property
    def manual(self) -> list[str]:
        """What an isolation leaves to the on-call engineer (vendorwall drives no VPN concentrator)."""
        out = []
        if self.accounts_manual:
            out.append(f"lock {len(self.accounts_manual)} account(s) on the VPN concentrator "
                       f"({', '.join(self.accounts_manual)}): vendorwall manages accounts on bastions only")
        if self.tunnels:
            out.append(f"bring down LAN-to-LAN tunnel(s) {', '.join(self.tunnels)} on the concentrator (their "
                       "subnets are quarantined by the isolation)")
        return out

    @property
    def keep_survive(self) -> bool:
        return not self.broken_keep


class PrefixIndex:
    """Which owners' prefixes overlap a prefix (IPv4 prefixes either nest or are disjoint)."""

    def __init__(self, items: Iterable[tuple[IPv4Network, str]]) -> None:
        self.exact: dict[tuple[int, int], set[str]] = {}
        spans: list[tuple[int, int, str]] = []
        for net, owner in items:
            lo = int(net.network_address)
            self.exact.setdefault((lo, net.prefixlen), set()).add(owner)
            spans.append((lo, net.prefixlen, owner))
        spans.sort()
        self.starts = [lo for lo, _, _ in spans]
        self.spans = spans
        self.lengths = sorted({plen for _, plen in self.exact})

    def overlapping(self, net: IPv4Network) -> set[str]:
        lo, plen = int(net.network_address), net.prefixlen
        hi = lo | ((1 << (32 - plen)) - 1)
        out: set[str] = set()
        for length in self.lengths:  # indexed prefixes that contain net (or equal it)
            if length > plen:
                break
            mask = (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF
            out |= self.exact.get((lo & mask, length), set())
        i = bisect.bisect_left(self.starts, lo)  # indexed prefixes inside net
        while i < len(self.spans) and self.starts[i] <= hi:
            if self.spans[i][1] >= plen:
                out.add(self.spans[i][2])
            i += 1
        return out


def impacts(vendors: dict[str, str], head: Inventory, base: Inventory,
            head_flows: dict[FlowKey, tuple[FlowFacts, ...]], base_flows: dict[FlowKey, tuple[FlowFacts, ...]],
            head_segments: Iterable[tuple[str, str]], base_segments: Iterable[tuple[str, str]],
            isolated_now: dict[str, str] | None = None) -> list[Impact]:
    """``vendors``: touched vendor -> status; ``*_segments``: (segment key, vendor) of each side;
    ``isolated_now``: vendor -> a description of its isolation (the isolation record)."""
    sides = {"head": (head, _index(head, head_flows, vendors), _segments(head_segments), head_flows),
             "base": (base, _index(base, base_flows, vendors), _segments(base_segments), base_flows)}
    removed = [n for n in vendors if n not in head.vendors]
    broken = {"head": _broken_keep(head, head_flows, [n for n in vendors if n in head.vendors]),
              "base": _broken_keep(base, base_flows, removed) if removed else {}}
    base_idx = sides["base"][1]
    out = []
    for name, status in vendors.items():
        side = "base" if name not in head.vendors else "head"
        inv, idx, segs, _ = sides[side]
        v = inv.vendors.get(name)
        if v is None:
            continue
        flows = idx.get(name, [])
        access = [(k, f) for k, f in flows if k[0] == "vendor_access" and k[1] == name]
        clinical = [(k, f) for k, f in flows if k[0] == "clinical"]
        keep = sum(1 for _, f in clinical if any(x.keep for x in f))
        on_bastion = any(ep.kind == "bastion" for ep in v.entry_paths)
        accounts = tuple(sorted(a.id for a in v.accounts))
        out.append(Impact(
            name, v.title, status, side,
            tuple((ep.name, ep.kind, tuple(str(p) for p in ep.prefixes)) for ep in v.entry_paths),
            len(access), sum(1 for k, _ in base_idx.get(name, []) if k[0] == "vendor_access" and k[1] == name),
            tuple(sorted({k[2] for k, _ in access})),
            tuple(sorted({fw for _, f in access for x in f for fw in x.firewalls})),
            accounts if on_bastion else (),
            tuple(sorted(ep.name for ep in v.entry_paths if ep.kind == "lan_to_lan")),
            tuple(sorted(segs.get(name, ()))),
            len(clinical), keep, len(clinical) - keep, tuple(sorted(broken[side].get(name, ()))),
            () if on_bastion else accounts,
            tuple(sorted((ep.name, ep.bastion or "") for ep in v.entry_paths if ep.shared)),
            (isolated_now or {}).get(name, "")))
    return out


def _broken_keep(inv: Inventory, flows: dict[FlowKey, tuple[FlowFacts, ...]],
                 vendors: list[str]) -> dict[str, set[str]]:
    """Vendor -> the must-keep flows (any vendor's) whose ends overlap that vendor's entry prefixes."""
    index = PrefixIndex((p, name) for name in vendors for ep in inv.vendors[name].entry_paths for p in ep.prefixes)
    nets: dict[str, IPv4Network] = {}
    out: dict[str, set[str]] = {}
    for k, facts in flows.items():
        if k[0] != "clinical" or not any(f.keep for f in facts):
            continue
        for end in (k[3], k[4]):
            net = nets.get(end)
            if net is None:
                net = nets[end] = IPv4Network(end)
            for owner in index.overlapping(net):
                out.setdefault(owner, set()).add(f"{facts[0].id} ({k[3]} -> {k[4]})")
    return out


def _index(inv: Inventory, flows: dict[FlowKey, tuple[FlowFacts, ...]],
           vendors: dict[str, str]) -> dict[str, list[tuple[FlowKey, tuple[FlowFacts, ...]]]]:
    """Vendor -> the flows that touch it: its access flows, and every clinical flow with one of its
    systems at either end (declared on its system, or on another vendor's system towards it)."""
    idx: dict[str, list[tuple[FlowKey, tuple[FlowFacts, ...]]]] = {}
    for k, f in flows.items():
        owners = {k[1]}
        if k[0] == "clinical":
            peer = inv.systems.get(f[0].peer)
            if peer is not None:
                owners.add(peer.vendor)
        for owner in owners:
            if owner in vendors:
                idx.setdefault(owner, []).append((k, f))
    return idx


def _segments(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, vendor in pairs:
        out.setdefault(vendor, []).append(key)
    return out
