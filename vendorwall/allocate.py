"""Stable allocation of VLAN ids, subnets and system addresses, pinned in a lock file.

Priority: what the inventory pins (``vlan``, ``addresses``) > what the lock file holds > the
lowest free value of the site's pools. New segments are allocated in sorted key order, so the
result depends only on the inventory and the lock file. Adding or removing a system never
renumbers another segment; freed values are only reused by later allocations.
"""

from __future__ import annotations

import bisect
import os
import re
import socket
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from .errors import Diagnostic
from .inventory import DOMAIN_DIR, LOCK_FILE
from .model import Inventory, Site, System
from .yamlsrc import leaves, leaves_diag, load_file, undotted

LOCK_VERSION = 1
LOCK_HEADER = """\
# vendorwall allocation lock: written by 'vendorwall plan', commit it with the inventory.
# It pins each vendor segment's VLAN, subnet and system addresses, so adding or removing a
# system never renumbers another segment. 'vendorwall validate' fails when it is stale.
"""


@dataclass(frozen=True)
class Allocation:
    key: str
    vlan: int
    subnet: IPv4Network
    hosts: dict[str, tuple[IPv4Address, ...]]
    adopted: str = ""  # the existing network (site's existing_networks) this segment adopts: declared, not allocated
    gateway: IPv4Address | None = None  # adopted: the gateway its devices use today (else the subnet's first host)


@dataclass
class Lock:
    path: str
    shown: str
    exists: bool
    segments: dict[str, Allocation] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)


def lock_path(root: str) -> str:
    return os.path.join(root, DOMAIN_DIR, LOCK_FILE)


def read_lock(root: str, shown_root: str) -> tuple[Lock, list[Diagnostic]]:
    path = lock_path(root)
    shown = os.path.join(shown_root, DOMAIN_DIR, LOCK_FILE)
    lock = Lock(path, shown, os.path.exists(path))
    if not lock.exists:
        return lock, []
    if leaves(path, root):  # never read, nor written by plan, through a link leaving the inventory
        return lock, [leaves_diag(shown)]
    if _read_lock_fast(lock):
        return lock, []
    data, src, diags = load_file(path, shown)
    if diags:
        return lock, diags
    out: list[Diagnostic] = []

    def bad(p: tuple[str | int, ...], msg: str, expected: str, found: str) -> None:
        out.append(Diagnostic(shown, src.line(p), ".".join(str(x) for x in p), msg, expected, found,
                              "fix the entry or delete it and run 'vendorwall plan' to allocate anew", "lock"))

    if not isinstance(data, dict) or data.get("version") != LOCK_VERSION or not isinstance(
            data.get("segments", {}), dict):
        version = data.get("version") if isinstance(data, dict) else None
        if isinstance(version, int) and version != LOCK_VERSION:
            out.append(Diagnostic(shown, src.line(("version",)), "version", "lock file of another format version",
                                  f"version {LOCK_VERSION}", f"version {version}",
                                  "it was written by another vendorwall release: use that release, or delete the "
                                  "file and run 'vendorwall plan' (allocations are then recomputed)", "lock"))
        else:
            bad((), "unreadable lock file", f"version: {LOCK_VERSION} and a segments mapping",
                "a YAML document without them")
        return lock, out
    for key, entry in (data.get("segments") or {}).items():
        p = ("segments", key)
        try:
            vlan = int(entry["vlan"])
            subnet = IPv4Network(entry["subnet"])
            hosts = {str(k): tuple(IPv4Address(a) for a in v) for k, v in (entry.get("hosts") or {}).items()}
            gateway = IPv4Address(entry["gateway"]) if entry.get("gateway") else None
            adopted = str(entry.get("adopted") or "")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            bad(p, "malformed lock entry", "{vlan: N, subnet: PREFIX, hosts: {SYSTEM: [ADDRESS]}}", str(exc))
            continue
        lock.segments[str(key)] = Allocation(str(key), vlan, subnet, hosts, adopted, gateway)
        lock.lines[str(key)] = src.line(p)
    return lock, out


_OCTET = r"(?:0|[1-9]\d{0,2})"
_ADDR = rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}"
_LOCK_ENTRY = re.compile(rf"  ([a-z0-9][a-z0-9/-]*): \{{vlan: (\d+), subnet: ({_ADDR})/(\d{{1,2}}), "
                         rf"hosts: \{{(.*)\}}\}}", re.ASCII)
_LOCK_HOSTS = re.compile(rf"([a-z0-9][a-z0-9-]*): \[({_ADDR}(?:, {_ADDR})*)\](?:, |$)", re.ASCII)


def _addr(text: str) -> IPv4Address:
    """A dotted quad the patterns above matched (no leading zeros) -> address; OSError above 255."""
    return IPv4Address(int.from_bytes(socket.inet_aton(text), "big"))


def _read_lock_fast(lock: Lock) -> bool:
    """Read a lock file exactly as :func:`render_lock` writes it (one flow mapping per line) without
    YAML; False, with ``lock`` untouched, at the first line that differs (the YAML path then reads it
    and reports what is wrong where)."""
    try:
        with open(lock.path, encoding="utf-8") as fh:
            lines = fh.read().split("\n")
    except (OSError, UnicodeDecodeError):
        return False
    i = 0
    while i < len(lines) and (not lines[i] or lines[i].startswith("#")):
        i += 1
    if lines[i:i + 2] == [f"version: {LOCK_VERSION}", "segments: {}"]:
        return all(not x for x in lines[i + 2:])
    if lines[i:i + 2] != [f"version: {LOCK_VERSION}", "segments:"]:
        return False
    segments: dict[str, Allocation] = {}
    where: dict[str, int] = {}
    try:
        for n in range(i + 2, len(lines)):
            line = lines[n]
            if not line:
                continue
            m = _LOCK_ENTRY.fullmatch(line)
            if m is None:
                return False
            key, vlan, net, plen, body = m.groups()
            hosts: dict[str, tuple[IPv4Address, ...]] = {}
            pos = 0
            for h in _LOCK_HOSTS.finditer(body):
                if h.start() != pos or h.group(1) in hosts:
                    return False
                hosts[h.group(1)] = tuple(_addr(a) for a in h.group(2).split(", "))
                pos = h.end()
            if pos != len(body) or key in segments:
                return False
            segments[key] = Allocation(key, int(vlan), IPv4Network((int(_addr(net)), int(plen))), hosts)
            where[key] = n + 1
    except (ValueError, OSError):  # an address or prefix out of range: let the YAML path word it
        return False
    lock.segments.update(segments)
    lock.lines.update(where)
    return True


def render_lock(allocs: dict[str, Allocation]) -> str:
    lines = [LOCK_HEADER, f"version: {LOCK_VERSION}", "segments:" if allocs else "segments: {}"]
    for key in sorted(allocs):
        a = allocs[key]
        hosts = ", ".join(f"{s}: [{', '.join(map(str, addrs))}]" for s, addrs in sorted(a.hosts.items()))
        adopted = f", adopted: {a.adopted}, gateway: {a.gateway}" if a.adopted else ""  # declared, not allocated
        lines.append(f"  {key}: {{vlan: {a.vlan}, subnet: {a.subnet}{adopted}, hosts: {{{hosts}}}}}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- allocation


class _Space:
    """Used intervals of integers (subnets or VLAN ids) with first-fit search."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def overlaps(self, lo: int, hi: int) -> tuple[int, int] | None:
        i = bisect.bisect_right(self.starts, hi)
        # candidates: the interval starting at or before hi with the greatest start; intervals
        # are disjoint, so one check of the predecessor plus a scan of at most a few suffices
        j = i - 1
        while j >= 0:
            if self.ends[j] >= lo:
                return self.starts[j], self.ends[j]
            if self.starts[j] < lo:
                break
            j -= 1
        return None

    def add(self, lo: int, hi: int) -> None:
        i = bisect.bisect_left(self.starts, lo)
        self.starts.insert(i, lo)
        self.ends.insert(i, hi)


@dataclass
class _Need:
    key: str
    site: Site
    mode: str
    systems: list[System]


def allocate(inv: Inventory, lock: Lock) -> tuple[dict[str, Allocation], list[Diagnostic]]:
    needs: dict[str, _Need] = {}
    for s in sorted(inv.systems.values(), key=lambda s: s.name):
        site = inv.sites.get(s.site)
        if site is None:
            continue
        need = needs.setdefault(s.segment_key, _Need(s.segment_key, site, s.segment_mode, []))
        need.systems.append(s)
    by_site: dict[str, list[_Need]] = {}
    for need in needs.values():
        by_site.setdefault(need.site.name, []).append(need)
    result: dict[str, Allocation] = {}
    diags: list[Diagnostic] = []
    for site_name in sorted(by_site):
        _allocate_site(inv, inv.sites[site_name], sorted(by_site[site_name], key=lambda n: n.key), lock, result,
                       diags)
    return result, diags


def _diag(s: System, sub: str, message: str, expected: str, found: str, hint: str, code: str) -> Diagnostic:
    return Diagnostic(s.origin.file, s.origin.line, f"{s.origin.path}.{sub}" if sub else s.origin.path,
                      message, expected, found, hint, code)


def _at(inv: Inventory, s: System, sub: str) -> str:
    """``file:line`` of a key of a system, for messages that point at a second place."""
    src = inv.sources.get(s.origin.file)
    if src is None:
        return str(s.origin)
    return f"{s.origin.file}:{src.line(undotted(f'{s.origin.path}.{sub}'))}"


def _allocate_site(inv: Inventory, site: Site, needs: list[_Need], lock: Lock, out: dict[str, Allocation],
                   diags: list[Diagnostic]) -> None:
    vlans: dict[int, str] = {}
    vlan_pinned_at: dict[int, str] = {}
    nets = _Space()
    net_owner: dict[int, str] = {}
    vlan_of: dict[str, int] = {}
    subnet_of: dict[str, IPv4Network] = {}
    lo_v, hi_v = site.vlan_range

    def plen(need: _Need) -> int:
        return site.prefix_shared if need.mode == "shared" else site.prefix_dedicated

    pools = [(int(p.network_address), int(p.broadcast_address)) for p in site.segment_pool]

    def in_pool(net: IPv4Network) -> bool:
        lo = int(net.network_address)
        hi = lo | (0xFFFFFFFF >> net.prefixlen)
        return any(plo <= lo and hi <= phi for plo, phi in pools)

    # 0. adopted existing networks (brownfield): declared subnet, VLAN and gateway, reserved first
    adopted: dict[str, str] = {}  # segment key -> network name
    for need in needs:
        names = {s.network for s in need.systems if s.network}
        net_name = min(names) if names else ""
        network = site.networks.get(net_name)
        if network is None:
            continue  # unknown network or none: validation reports the unknown name
        if net_name in adopted.values():
            continue  # adopted by another segment: validation explains the conflict
        adopted[need.key] = net_name
        vlans[network.vlan] = need.key
        vlan_pinned_at.setdefault(network.vlan, str(network.origin))
        vlan_of[need.key] = network.vlan
        nets.add(*_span(network.subnet))
        net_owner[int(network.subnet.network_address)] = need.key
        subnet_of[need.key] = network.subnet

    # 1. pins from the inventory --------------------------------------------------------
    for need in needs:
        if need.key in adopted:
            continue
        pinned_vlans = {s.vlan for s in need.systems if s.vlan is not None}
        if len(pinned_vlans) > 1:
            s = next(s for s in need.systems if s.vlan is not None)
            diags.append(_diag(s, "vlan", "systems of one shared segment pin different VLANs",
                               "one VLAN per segment", ", ".join(map(str, sorted(pinned_vlans))), "", "vlan"))
        for s in need.systems:
            if s.vlan is None or not lo_v <= s.vlan <= hi_v:
                continue  # out-of-range pins are reported by validation
            owner = vlans.get(s.vlan)
            if owner is not None and owner != need.key:
                diags.append(_diag(s, "vlan", "VLAN id reused", f"a VLAN of its own on site {site.name}",
                                   f"{s.vlan}, also pinned by segment {owner} ({vlan_pinned_at[s.vlan]})",
                                   "pick another VLAN or remove 'vlan'", "vlan"))
                continue
            vlans[s.vlan] = need.key
            vlan_pinned_at.setdefault(s.vlan, _at(inv, s, "vlan"))
            vlan_of[need.key] = s.vlan
        pinned_addrs = [(s, a) for s in need.systems for a in s.addresses]
        if pinned_addrs:
            s0, a0 = pinned_addrs[0]
            net = IPv4Network(f"{a0}/{plen(need)}", strict=False)
            if not in_pool(net):
                continue  # reported by validation (address outside its site)
            if any(a not in net for _, a in pinned_addrs):
                diags.append(_diag(s0, "addresses", "pinned addresses span several subnets",
                                   f"all addresses of the segment inside {net}",
                                   ", ".join(str(a) for _, a in pinned_addrs), "", "prefix"))
                continue
            clash = nets.overlaps(*_span(net))
            if clash:
                diags.append(_diag(s0, "addresses", "pinned subnet already used", f"a free subnet of site {site.name}",
                                   f"{net}, used by segment {net_owner[clash[0]]}", "pin another address", "prefix"))
                continue
            nets.add(*_span(net))
            net_owner[int(net.network_address)] = need.key
            subnet_of[need.key] = net
    # 2. the lock file -------------------------------------------------------------------
    for need in needs:
        prev = lock.segments.get(need.key)
        if prev is None or need.key in adopted:
            continue
        if need.key not in vlan_of:
            if not lo_v <= prev.vlan <= hi_v:
                diags.append(Diagnostic(lock.shown, lock.lines.get(need.key, 1), f"segments.{need.key}",
                                        "VLAN id outside the site range", f"{lo_v}..{hi_v}", str(prev.vlan),
                                        "delete the entry and run 'vendorwall plan' to allocate anew", "vlan"))
            elif prev.vlan in vlans:
                diags.append(Diagnostic(lock.shown, lock.lines.get(need.key, 1), f"segments.{need.key}",
                                        "VLAN id reused", f"a VLAN of its own on site {site.name}",
                                        f"{prev.vlan}, also used by segment {vlans[prev.vlan]}",
                                        "delete one of the entries and run 'vendorwall plan'", "vlan"))
            else:
                vlans[prev.vlan] = need.key
                vlan_of[need.key] = prev.vlan
        if need.key not in subnet_of:
            net = prev.subnet
            clash = nets.overlaps(*_span(net))
            if not in_pool(net):
                diags.append(Diagnostic(lock.shown, lock.lines.get(need.key, 1), f"segments.{need.key}",
                                        "subnet outside the site's segment pool",
                                        ", ".join(map(str, site.segment_pool)), str(net),
                                        "delete the entry and run 'vendorwall plan' to allocate anew", "prefix"))
            elif clash:
                diags.append(Diagnostic(lock.shown, lock.lines.get(need.key, 1), f"segments.{need.key}",
                                        "overlapping prefixes", "a subnet of its own",
                                        f"{net}, overlaps segment {net_owner[clash[0]]}",
                                        "delete one of the entries and run 'vendorwall plan'", "prefix"))
            else:
                nets.add(*_span(net))
                net_owner[int(net.network_address)] = need.key
                subnet_of[need.key] = net
    # 3. new allocations, lowest free first ------------------------------------------------
    next_vlan = lo_v
    cursor: dict[int, tuple[int, int]] = {}  # prefix length -> (pool index, next candidate)
    for need in needs:
        if need.key not in vlan_of:
            while next_vlan <= hi_v and next_vlan in vlans:
                next_vlan += 1
            if next_vlan > hi_v:
                diags.append(_diag(need.systems[0], "", "VLAN pool exhausted",
                                   f"a free VLAN id in {lo_v}..{hi_v} (site {site.name})", "all in use",
                                   "widen the site's vlan_range or use shared segments", "pool"))
            else:
                vlans[next_vlan] = need.key
                vlan_of[need.key] = next_vlan
        if need.key not in subnet_of:
            length = plen(need)
            free_net = _first_free(site.segment_pool, length, nets, cursor)
            if free_net is None:
                diags.append(_diag(need.systems[0], "", "address pool exhausted",
                                   f"a free /{length} in {', '.join(map(str, site.segment_pool))} (site {site.name})",
                                   "no free subnet", "add a prefix to the site's segment_pool or use shared "
                                   "segments", "pool"))
            else:
                nets.add(*_span(free_net))
                net_owner[int(free_net.network_address)] = need.key
                subnet_of[need.key] = free_net
        if need.key in vlan_of and need.key in subnet_of:
            network = site.networks.get(adopted.get(need.key, ""))
            gateway = network.gateway if network is not None else None
            hosts = _hosts(need, subnet_of[need.key], lock.segments.get(need.key), diags, gateway)
            out[need.key] = Allocation(need.key, vlan_of[need.key], subnet_of[need.key], hosts,
                                       network.name if network else "", gateway)


def _span(net: IPv4Network) -> tuple[int, int]:
    """First and last address of ``net`` as integers (without building ``broadcast_address``)."""
    lo = int(net.network_address)
    return lo, lo | (0xFFFFFFFF >> net.prefixlen)


def _first_free(pools: tuple[IPv4Network, ...], length: int, used: _Space,
                cursor: dict[int, tuple[int, int]]) -> IPv4Network | None:
    size = 1 << (32 - length)
    pi, cand = cursor.get(length, (0, -1))
    while pi < len(pools):
        pool = pools[pi]
        if pool.prefixlen > length:
            pi, cand = pi + 1, -1
            continue
        lo = int(pool.network_address)
        hi = int(pool.broadcast_address)
        if cand < lo:
            cand = lo
        while cand + size - 1 <= hi:
            clash = used.overlaps(cand, cand + size - 1)
            if clash is None:
                cursor[length] = (pi, cand + size)
                return IPv4Network((cand, length))
            cand = ((clash[1] + 1 + size - 1) // size) * size  # next aligned start after the clash
        pi, cand = pi + 1, -1
    cursor[length] = (pi, cand)
    return None


def _hosts(need: _Need, net: IPv4Network, prev: Allocation | None,
           diags: list[Diagnostic], gateway: IPv4Address | None = None) -> dict[str, tuple[IPv4Address, ...]]:
    gateway = gateway or net.network_address + 1
    used = {gateway}
    hosts: dict[str, tuple[IPv4Address, ...]] = {}
    for s in need.systems:  # pinned first
        if s.addresses:
            hosts[s.name] = s.addresses
            used.update(s.addresses)
            for i, a in enumerate(s.addresses):
                role = {gateway: "the segment gateway", net.network_address: "the segment's network address",
                        net.broadcast_address: "the segment's broadcast address"}.get(a)
                if role:
                    diags.append(_diag(s, f"addresses[{i}]", f"address is {role}",
                                       f"a host address of {net} other than {gateway}", str(a),
                                       "the firewall owns the first address of each segment; the first and last "
                                       "addresses of a subnet are not host addresses", "prefix"))
    for s in need.systems:  # then the lock
        if s.name in hosts or prev is None or s.name not in prev.hosts:
            continue
        addrs = prev.hosts[s.name]
        lo, hi = _span(net)  # a host address: inside the subnet, neither its first nor its last address
        if all(lo < int(a) < hi and a not in used for a in addrs):
            hosts[s.name] = addrs
            used.update(addrs)
    free = (a for a in net.hosts() if a not in used)
    for s in need.systems:  # then the lowest free
        if s.name in hosts:
            continue
        addr = next(free, None)  # the generator re-reads ``used`` lazily
        if addr is None:
            diags.append(_diag(s, "", "segment full", f"a free address in {net}", "none left",
                               "use a larger segment_prefix for the site or a dedicated segment", "pool"))
            continue
        used.add(addr)
        hosts[s.name] = (addr,)
    return hosts


def stale(lock: Lock, allocs: dict[str, Allocation], shown_root: str = "INVENTORY") -> Diagnostic | None:
    """A lock-file check: the committed lock must equal what allocation computes."""
    added = sorted(k for k in allocs if k not in lock.segments)
    freed = sorted(k for k in lock.segments if k not in allocs)
    changed = sorted(k for k in allocs if k in lock.segments and allocs[k] != lock.segments[k])
    if not (added or freed or changed) and lock.exists:
        return None
    parts = []
    if not lock.exists:
        parts.append("no lock file")
    if added:
        parts.append(f"{len(added)} segment(s) to allocate ({_few(added)})")
    if freed:
        parts.append(f"{len(freed)} to free ({_few(freed)})")
    if changed:
        parts.append(f"{len(changed)} changed ({_few(changed)})")
    line = min((lock.lines[k] for k in freed + changed if k in lock.lines), default=1)
    return Diagnostic(lock.shown, line, "", "allocation lock file is stale",
                      "a lock file matching the inventory", "; ".join(parts),
                      f"run 'vendorwall plan {shown_root}' and commit the updated lock file", "lock")


def _few(keys: list[str]) -> str:
    return ", ".join(keys[:3]) + (f", +{len(keys) - 3} more" if len(keys) > 3 else "")


def lock_changes(lock: Lock, allocs: dict[str, Allocation]) -> dict[str, Any]:
    return {
        "added": sorted(k for k in allocs if k not in lock.segments),
        "freed": sorted(k for k in lock.segments if k not in allocs),
        "changed": sorted(k for k in allocs if k in lock.segments and allocs[k] != lock.segments[k]),
    }
