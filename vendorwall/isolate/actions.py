"""Pure planning for an isolation: what goes into the quarantine, the request to the device, its answer.

No device I/O here (unit-testable with recorded answers):

- :func:`plan` turns (manifest, vendor, scope) into quarantine elements, refusals (a prefix that
  overlaps a management network is never quarantined), the flows that will be cut and the
  must-keep flows that stay up (the elements are computed by :mod:`.elements`, as the compiler's);
- :func:`request` is the data the firewall's fixed agent ``nft_state`` receives (one SSH round trip:
  ``vendorwall/devices/agents/nft_state.py``, JSON on stdin): the agent lists the sets, changes them in
  one ``nft -j -f -`` transaction built from that data (never a script assembled from manifest strings),
  lists them and the state chain again, and rewrites the boot snapshot;
- :func:`observed` reads its answer back; ``run.evaluate`` decides per device.

Elements carry a comment ``vw-isolate <vendor> <kind> <name>`` so a listing of a device says which
vendor each element isolates. The transaction is all-or-nothing; when it fails (an element overlaps
one somebody added by hand) the agent falls back to one transaction per element, so one odd element
never blocks the rest. A restore lifts the planned prefixes and every element tagged with the vendor,
in the state table's ``quarantine`` and in the policy's ``isolated`` set (the render-time quarantine).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, summarize_address_range
from typing import Any

from ..errors import Diagnostic, UsageError, VendorwallError
from ..model import QuarantineElement
from . import elements as elems
from .manifest import Flow, Manifest, VendorInfo

STATE_TABLE = "inet vendorwall_state"
QUARANTINE = "quarantine"
STATE_CHAIN = "forward"
COMMENT_PREFIX = "vw-isolate"
COMMENT_MAX = 128  # nftables' limit for an element comment, in bytes
# The mark the policy table sets on every packet of a must-keep clinical flow (both directions);
# the state chain's quarantine drops skip marked packets. See docs/isolation.md ("keep flows").
MARK_KEEP = 0x00400000
SCOPES = elems.SCOPES
ACTIONS = ("isolate", "restore")
AGENT = "nft_state"

Element = QuarantineElement  # the prefix, the vendor, entry|segment, the entry path or segment key


def _key(n: IPv4Network) -> tuple[int, int]:
    return int(n.network_address), n.prefixlen


@dataclass(frozen=True)
class Refusal:
    element: Element
    reason: str


@dataclass
class Plan:
    action: str  # isolate | restore
    vendors: list[str]
    scope: str
    elements: list[Element]
    refused: list[Refusal]
    cut: list[Flow]  # flows this isolation stops (isolate/check)
    keep: list[Flow]  # must-keep clinical flows of the vendors: they stay up
    stay: list[Flow]  # other clinical flows of the vendors that stay up (scope access)
    firewalls: list[str]
    check: bool = False  # dry run: the device only reads
    shared: list[tuple[str, str, str]] = field(default_factory=list)  # (vendor, entry path, bastion): cut by accounts

    @property
    def needs_keep(self) -> bool:
        """Segments are quarantined and must-keep flows exist: the device must honour the keep mark."""
        return self.scope == "segment" and bool(self.keep) and any(e.kind == "segment" for e in self.elements)

    @property
    def prefixes(self) -> list[IPv4Network]:
        return [e.prefix for e in self.elements]


def select_vendors(m: Manifest, vendor: str) -> list[str]:
    if vendor == "all":
        return sorted(m.vendors)
    if vendor not in m.vendors:
        known = ", ".join(sorted(m.vendors)) or "(none)"
        raise VendorwallError([Diagnostic(m.path, 0, "--vendor", "unknown vendor: nothing was changed",
                                          "a vendor of the manifest, or all", repr(vendor),
                                          f"known vendors: {known}", "reference")], "isolate")
    return [vendor]


def _protected(m: Manifest) -> list[tuple[IPv4Network, str]]:
    """Management networks and device management addresses: never quarantined."""
    out = [(n, "management network") for n in m.management]
    for fw in m.firewalls.values():
        out += [(n, f"management network of site {fw.site}") for n in fw.management]
        if fw.mgmt_address:
            out.append((IPv4Network(f"{fw.mgmt_address}/32"), f"management address of {fw.name}"))
    for b in m.bastions.values():
        if b.mgmt_address:
            out.append((IPv4Network(f"{b.mgmt_address}/32"), f"management address of bastion {b.name}"))
    return out


def _wanted(v: VendorInfo, scope: str) -> list[Element]:
    return elems.wanted(v.name, [(e.name, e.prefixes, e.shared) for e in v.entry_paths],
                        [(s.key, s.subnet) for s in v.segments], scope)


def plan(m: Manifest, vendor: str, scope: str = "access", action: str = "isolate", check: bool = False) -> Plan:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if scope not in SCOPES:
        raise UsageError(f"--scope: unknown scope {scope!r}", f"one of: {', '.join(SCOPES)}")
    vendors = select_vendors(m, vendor)
    infos = [m.vendors[v] for v in vendors]
    # restore lifts both kinds whatever the isolation's scope was
    want = [e for v in infos for e in _wanted(v, "segment" if action == "restore" else scope)]
    chosen, refused = elems.choose(want, _protected(m))
    flows: dict[str, Flow] = {}
    for v in infos:
        for f in v.flows:
            flows.setdefault(f.id, f)
    keep = [f for f in flows.values() if f.kind == "clinical" and f.keep]
    cut = [f for f in flows.values() if f.kind == "vendor_access"]
    stay: list[Flow] = []
    if scope == "segment":
        cut += [f for f in flows.values() if f.kind == "clinical" and not f.keep]
    else:
        stay = [f for f in flows.values() if f.kind == "clinical" and not f.keep]
    shared = sorted((v.name, e.name, e.bastion or "") for v in infos for e in v.entry_paths if e.shared)
    return Plan(action, vendors, scope, chosen, [Refusal(e, why) for e, why in refused],
                sorted(cut, key=lambda f: f.id), sorted(keep, key=lambda f: f.id), sorted(stay, key=lambda f: f.id),
                sorted(m.firewalls), check, shared)


# --------------------------------------------------------------------------- the request


def request(p: Plan, conntrack: bool = True, persist_dir: str = "") -> dict[str, Any]:
    """What the firewall's ``nft_state`` agent receives (JSON): data only, re-checked there."""
    return {"op": "quarantine", "action": "check" if p.check else p.action,
            "elements": [e.to_data() for e in p.elements], "vendors": list(p.vendors) if p.action == "restore" else [],
            "segments_need_keep": p.needs_keep, "conntrack": bool(conntrack and p.check),
            "persist_dir": "" if p.check else persist_dir, "revoke_grants": p.action == "restore" and not p.check}


# --------------------------------------------------------------------------- reading it back


@dataclass(frozen=True)
class LiveElement:
    prefix: IPv4Network
    comment: str = ""

    @property
    def vendor(self) -> str:
        parts = self.comment.split()
        return parts[1] if len(parts) >= 2 and parts[0] == COMMENT_PREFIX else ""


@dataclass(frozen=True)
class Conn:
    proto: str
    state: str
    src: str
    dst: str
    sport: int | None
    dport: int | None

    def text(self) -> str:
        ports = f" {self.sport}->{self.dport}" if self.sport is not None else ""
        return f"{self.proto} {self.src} -> {self.dst}{ports} {self.state}".rstrip()


@dataclass
class Observed:
    before: list[LiveElement] | None = None  # the state table's quarantine (None: no set)
    after: list[LiveElement] | None = None
    set_error: str = ""
    chain: list[dict[str, Any]] | None = None  # the state chain's rules (nft JSON), None: missing
    chain_error: str = ""
    t0: float | None = None
    t1: float | None = None
    rc: int | None = None
    txn_output: str = ""
    failed_elements: list[str] = field(default_factory=list)
    no_keep: bool = False
    conns: list[Conn] | None = None  # None: not asked or conntrack not available
    conntrack_missing: bool = False
    isolated_before: list[LiveElement] = field(default_factory=list)  # the policy's render-time quarantine
    isolated_after: list[LiveElement] = field(default_factory=list)
    persisted: str = ""
    persist_error: str = ""
    revoked: list[str] = field(default_factory=list)  # restore: grant comments revoked with the quarantine
    revoke_failed: list[str] = field(default_factory=list)


def _elements(items: Any) -> list[LiveElement] | None:
    if items is None:
        return None
    out = []
    for x in items if isinstance(items, list) else []:
        try:
            out.append(LiveElement(IPv4Network(str(x.get("prefix"))), str(x.get("comment") or "")))
        except (ValueError, AttributeError):
            continue
    return sorted(out, key=lambda e: _key(e.prefix))


def observed(answer: dict[str, Any]) -> Observed:
    """The agent's answer -> :class:`Observed` (a damaged answer gives empty fields, never an exception)."""
    before: dict[str, Any] = answer["before"] if isinstance(answer.get("before"), dict) else {}
    after: dict[str, Any] = answer["after"] if isinstance(answer.get("after"), dict) else {}
    chain = answer.get("chain")
    o = Observed(_elements(before.get("quarantine")), _elements(after.get("quarantine")),
                 str(answer.get("set_error") or ""), chain if isinstance(chain, list) else None,
                 str(answer.get("chain_error") or ""), _float(answer.get("t0")), _float(answer.get("t1")),
                 answer.get("rc") if isinstance(answer.get("rc"), int) else None, str(answer.get("txn_output") or ""),
                 [str(x) for x in answer.get("failed") or []], bool(answer.get("no_keep")),
                 None, bool(answer.get("conntrack_missing")), _elements(before.get("isolated")) or [],
                 _elements(after.get("isolated")) or [], str(answer.get("persisted") or ""),
                 str(answer.get("persist_error") or ""))
    o.revoked = [str(x) for x in answer.get("revoked") or [] if isinstance(x, str)]
    o.revoke_failed = [str(x) for x in answer.get("revoke_failed") or [] if isinstance(x, str)]
    if isinstance(answer.get("conns"), list):
        o.conns = parse_conntrack("\n".join(str(x) for x in answer["conns"]))
    return o


def parse_set(text: str) -> tuple[list[LiveElement] | None, str]:
    """``nft -j list set`` output (a quarantine-like address set) -> elements, or (None, error)."""
    try:
        data = json.loads(next((x for x in text.splitlines() if x.lstrip().startswith("{")), ""))
    except json.JSONDecodeError:
        return None, text.strip()[:500] or "no output"
    for item in data.get("nftables", []):
        s = item.get("set")
        if not s:
            continue
        out: list[LiveElement] = []
        for el in s.get("elem", []):
            comment = ""
            if isinstance(el, dict) and "elem" in el:
                comment = el["elem"].get("comment", "")
                el = el["elem"].get("val")
            out += [LiveElement(n, comment) for n in _live(el)]
        return sorted(out, key=lambda e: _key(e.prefix)), ""
    return None, "no set in the listing"


def _live(val: Any) -> list[IPv4Network]:
    if isinstance(val, str):
        return [IPv4Network(f"{val}/32")]
    if isinstance(val, dict) and "prefix" in val:
        return [IPv4Network(f"{val['prefix']['addr']}/{val['prefix']['len']}")]
    if isinstance(val, dict) and "range" in val:
        a, b = val["range"]
        return list(summarize_address_range(IPv4Address(a), IPv4Address(b)))
    return []


_CT = re.compile(r"^(?P<proto>\w+)\s+\d+\s+(?:\d+\s+)?(?P<state>[A-Z_]+\s+)?src=(?P<src>\S+) dst=(?P<dst>\S+)"
                 r"(?: sport=(?P<sport>\d+) dport=(?P<dport>\d+))?")


def parse_conntrack(text: str) -> list[Conn]:
    seen: dict[tuple[str, str, str, int | None, int | None], Conn] = {}
    for line in text.splitlines():
        m = _CT.match(line.strip())
        if not m:
            continue
        sport = int(m["sport"]) if m["sport"] else None
        dport = int(m["dport"]) if m["dport"] else None
        c = Conn(m["proto"], (m["state"] or "").strip(), m["src"], m["dst"], sport, dport)
        seen.setdefault((c.proto, c.src, c.dst, c.sport, c.dport), c)
    def order(k: tuple[str, str, str, int | None, int | None]) -> tuple[int, int, str, int, int]:
        return _ip(k[1]), _ip(k[2]), k[0], k[3] or 0, k[4] or 0

    return [seen[k] for k in sorted(seen, key=order)]


def _ip(text: str) -> int:
    try:
        return int(IPv4Address(text))
    except ValueError:
        return 0


def _float(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- verification


def quarantine_active(rules: list[dict[str, Any]] | None) -> tuple[bool, bool]:
    """(saddr and daddr quarantine drops present in the state chain, they honour the keep mark)."""
    if not rules:
        return False, False
    found: dict[str, bool] = {}
    for r in rules:
        exprs = r.get("expr", [])
        if not any("drop" in e for e in exprs):
            continue
        field_ = None
        keep = False
        for e in exprs:
            mt = e.get("match") if isinstance(e, dict) else None
            if not mt:
                continue
            left = mt.get("left", {})
            if mt.get("right") == f"@{QUARANTINE}" and isinstance(left, dict) and "payload" in left:
                field_ = left["payload"].get("field")
            if isinstance(left, dict) and "&" in left and left["&"][1:] == [MARK_KEEP]:
                keep = True
        if field_ in ("saddr", "daddr"):
            found[field_] = keep
    return ("saddr" in found and "daddr" in found), (found.get("saddr", False) and found.get("daddr", False))


def covering(prefix: IPv4Network, live: list[LiveElement]) -> LiveElement | None:
    exact = next((e for e in live if e.prefix == prefix), None)
    return exact or next((e for e in live if prefix.subnet_of(e.prefix)), None)


def isolated_vendors(live: list[LiveElement]) -> list[str]:
    return sorted({e.vendor for e in live if e.vendor})
