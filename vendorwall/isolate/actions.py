"""Pure planning for an isolation: what goes into the quarantine, the per-device script, its output.

No device I/O here (unit-testable with recorded output):

- :func:`plan` turns (manifest, vendor, scope) into quarantine elements, refusals (a prefix that
  overlaps a management network is never quarantined), the flows that will be cut and the
  must-keep flows that stay up;
- :func:`device_script` is the one shell script a device runs per isolation (one SSH round trip):
  list the set, one ``nft -f`` transaction, list the set and the state chain again;
- :func:`parse` reads that script's output back; :func:`verify` decides per device.

Elements carry a comment ``vw-isolate <vendor> <kind> <name>`` so a listing of a device says
which vendor each element isolates. The transaction is all-or-nothing; when it fails (an element
overlaps one somebody added by hand, an element to delete is missing) the script falls back to
one transaction per element, so one odd element never blocks the rest.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, summarize_address_range
from typing import Any

from ..errors import Diagnostic, UsageError, VendorwallError
from .manifest import Flow, Manifest, VendorInfo

STATE_TABLE = "inet vendorwall_state"
QUARANTINE = "quarantine"
STATE_CHAIN = "forward"
COMMENT_PREFIX = "vw-isolate"
COMMENT_MAX = 128  # nftables' limit for an element comment, in bytes
# The mark the policy table sets on every packet of a must-keep clinical flow (both directions);
# the state chain's quarantine drops skip marked packets. See docs/isolation.md ("keep flows").
MARK_KEEP = 0x00400000
KEEP_GUARD = f"meta mark & {MARK_KEEP:#010x} == 0x00000000 ip saddr @{QUARANTINE}"
SCOPES = ("access", "segment")
ACTIONS = ("isolate", "restore")


def _key(n: IPv4Network) -> tuple[int, int]:
    return int(n.network_address), n.prefixlen


@dataclass(frozen=True)
class Element:
    prefix: IPv4Network
    vendor: str
    kind: str  # entry | segment
    name: str  # the entry path or the segment key

    @property
    def value(self) -> str:
        return str(self.prefix.network_address) if self.prefix.prefixlen == 32 else str(self.prefix)

    @property
    def comment(self) -> str:
        text = f"{COMMENT_PREFIX} {self.vendor} {self.kind} {self.name}".replace('"', "'")
        raw = text.encode()
        return text if len(raw) <= COMMENT_MAX else raw[:COMMENT_MAX - 3].decode(errors="ignore") + "..."

    def nft(self, with_comment: bool = True) -> str:
        return f'{self.value} comment "{self.comment}"' if with_comment else self.value

    def to_data(self) -> dict[str, str]:
        return {"prefix": str(self.prefix), "vendor": self.vendor, "kind": self.kind, "name": self.name}


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
    check: bool = False  # dry run: the device script only reads

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


def _elements(v: VendorInfo, scope: str) -> list[Element]:
    out = [Element(p, v.name, "entry", e.name) for e in v.entry_paths for p in e.prefixes]
    if scope == "segment":
        out += [Element(s.subnet, v.name, "segment", s.key) for s in v.segments]
    return out


def plan(m: Manifest, vendor: str, scope: str = "access", action: str = "isolate", check: bool = False) -> Plan:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if scope not in SCOPES:
        raise UsageError(f"--scope: unknown scope {scope!r}", f"one of: {', '.join(SCOPES)}")
    vendors = select_vendors(m, vendor)
    infos = [m.vendors[v] for v in vendors]
    # restore lifts both kinds whatever the isolation's scope was
    want = [e for v in infos for e in _elements(v, "segment" if action == "restore" else scope)]
    protected = _protected(m)
    refused: list[Refusal] = []
    chosen: list[Element] = []
    for e in sorted(want, key=lambda e: (_key(e.prefix), e.vendor, e.kind, e.name)):
        hit = next(((n, what) for n, what in protected if n.overlaps(e.prefix)), None)
        if hit:
            refused.append(Refusal(e, f"overlaps the {hit[1]} {hit[0]}: management is never quarantined"))
            continue
        cover = next((c for c in chosen if e.prefix.subnet_of(c.prefix)), None)
        if cover is not None:
            if cover.prefix != e.prefix:  # an identical prefix twice is one element
                refused.append(Refusal(e, f"inside {cover.prefix} ({cover.vendor} {cover.kind} {cover.name}), "
                                          "already quarantined by it"))
            continue
        chosen.append(e)
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
    return Plan(action, vendors, scope, chosen, refused, sorted(cut, key=lambda f: f.id),
                sorted(keep, key=lambda f: f.id), sorted(stay, key=lambda f: f.id), sorted(m.firewalls), check)


# --------------------------------------------------------------------------- the device script

MARK = "__VW_"
_SET = f"{STATE_TABLE} {QUARANTINE}"


def _txn(verb: str, elements: Iterable[Element], with_comment: bool) -> str:
    body = ", ".join(e.nft(with_comment) for e in elements)
    return f"{verb} element {_SET} {{ {body} }}"


def _heredoc(lines: list[str]) -> list[str]:
    return ["nft -f - 2>&1 <<'__VW_EOF'", *lines, "__VW_EOF"]


def _fallback(elements: list[Element], action: str) -> list[str]:
    out = []
    for e in elements:
        if action == "isolate":
            txn = _txn("add", [e], True)
        else:
            txn = _txn("add", [e], False) + "\n" + _txn("delete", [e], False)
        fail = shlex.quote(f"{MARK}FAIL {e.value}")
        cmd = f"printf '%s\\n' {shlex.quote(txn)} | nft -f - >/dev/null 2>&1 || echo {fail}"
        out.append(cmd)
    return out


def device_script(p: Plan, conntrack: bool = True) -> str:
    """The one script a firewall runs (``sh -s``): read-only for check, one transaction otherwise.

    Everything sits in one ``{ ...; } </dev/null`` group: the shell parses the whole script before
    running any of it, and no command can read the rest of the script from standard input.
    """
    listing = [f"echo {MARK}SET", f"nft -j list set {_SET} 2>&1"]
    chain = [f"echo {MARK}CHAIN", f"nft -j list chain {STATE_TABLE} {STATE_CHAIN} 2>&1"]
    lines = ["{", *listing]
    if p.check:
        lines += chain
        if conntrack:
            lines += [f"echo {MARK}CONNTRACK", "if command -v conntrack >/dev/null 2>&1; then"]
            for n in p.prefixes:
                lines += [f"  conntrack -L -s {n} 2>/dev/null", f"  conntrack -L -d {n} 2>/dev/null"]
            lines += [f"else echo {MARK}NOCONNTRACK; fi"]
        lines += [f"echo {MARK}END", "}  </dev/null"]
        return "\n".join(lines) + "\n"
    entry = [e for e in p.elements if e.kind == "entry"]
    seg = [e for e in p.elements if e.kind == "segment"]
    if p.action == "isolate":
        if p.needs_keep:
            probe = f"nft list chain {STATE_TABLE} {STATE_CHAIN} 2>/dev/null | grep -qF {shlex.quote(KEEP_GUARD)}"
            lines += [f"if {probe}; then VW_KEEP=1; else VW_KEEP=0; echo {MARK}NOKEEP; fi"]
        lines += [f'echo "{MARK}T0=$(date +%s.%N)"', f"echo {MARK}TXN"]
        if p.needs_keep:
            lines += ['if [ "$VW_KEEP" = 1 ]; then', *_heredoc([_txn("add", p.elements, True)])]
            lines += ["else", *(_heredoc([_txn("add", entry, True)]) if entry else ["true"]), "fi"]
        elif p.elements:
            lines += _heredoc([_txn("add", p.elements, True)])
        else:
            lines += ["true"]
        lines += ["rc=$?", f'echo "{MARK}T1=$(date +%s.%N)"', f'echo "{MARK}RC=$rc"']
        fb = _fallback(entry, "isolate")
        if seg:
            fb += (['if [ "$VW_KEEP" = 1 ]; then', *_fallback(seg, "isolate"), "fi"] if p.needs_keep
                   else _fallback(seg, "isolate"))
        if fb:
            lines += ['if [ "$rc" != 0 ]; then', *fb, "fi"]
    else:  # restore: add then delete in one transaction deletes whether or not the element is there
        lines += [f'echo "{MARK}T0=$(date +%s.%N)"', f"echo {MARK}TXN"]
        if p.elements:
            lines += _heredoc([_txn("add", p.elements, False), _txn("delete", p.elements, False)])
        else:
            lines += ["true"]
        lines += ["rc=$?", f'echo "{MARK}T1=$(date +%s.%N)"', f'echo "{MARK}RC=$rc"']
        if p.elements:
            lines += ['if [ "$rc" != 0 ]; then', *_fallback(p.elements, "restore"), "fi"]
    lines += [f"echo {MARK}AFTER", f"nft -j list set {_SET} 2>&1", *chain, f"echo {MARK}END", "}  </dev/null"]
    return "\n".join(lines) + "\n"


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
    before: list[LiveElement] | None = None
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


def _live(val: Any) -> list[IPv4Network]:
    if isinstance(val, str):
        return [IPv4Network(f"{val}/32")]
    if isinstance(val, dict) and "prefix" in val:
        return [IPv4Network(f"{val['prefix']['addr']}/{val['prefix']['len']}")]
    if isinstance(val, dict) and "range" in val:
        a, b = val["range"]
        return list(summarize_address_range(IPv4Address(a), IPv4Address(b)))
    return []


def _json(text: str) -> Any:
    line = next((x for x in text.splitlines() if x.lstrip().startswith("{")), "")
    return json.loads(line)


def parse_set(text: str) -> tuple[list[LiveElement] | None, str]:
    """``nft -j list set`` output -> elements, or (None, error) when the set is not there."""
    try:
        data = _json(text)
    except json.JSONDecodeError:
        return None, text.strip()[:500] or "no output"
    out: list[LiveElement] = []
    for item in data.get("nftables", []):
        s = item.get("set")
        if not s:
            continue
        for el in s.get("elem", []):
            comment = ""
            if isinstance(el, dict) and "elem" in el:
                comment = el["elem"].get("comment", "")
                el = el["elem"].get("val")
            out += [LiveElement(n, comment) for n in _live(el)]
        return sorted(out, key=lambda e: _key(e.prefix)), ""
    return None, "no set in the listing"


def parse_chain(text: str) -> tuple[list[dict[str, Any]] | None, str]:
    try:
        data = _json(text)
    except json.JSONDecodeError:
        return None, text.strip()[:500] or "no output"
    rules = [item["rule"] for item in data.get("nftables", []) if "rule" in item]
    hooked = any("chain" in item and item["chain"].get("hook") == "forward" for item in data.get("nftables", []))
    if not hooked:
        return None, "the state chain is not hooked to forward"
    return rules, ""


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


def _sections(out: str) -> dict[str, str]:
    sections: dict[str, list[str]] = {}
    cur = ""
    for line in out.replace("\r", "").splitlines():
        if line.startswith(MARK):
            if "=" not in line and " " not in line:
                cur = line[len(MARK):]
                sections.setdefault(cur, [])
            continue  # markers (T0=, RC=, FAIL ...) are read by parse(), not part of any section
        sections.setdefault(cur, []).append(line)
    return {k: "\n".join(v) for k, v in sections.items()}


def parse(out: str) -> Observed:
    o = Observed()
    for line in out.splitlines():
        if line.startswith(f"{MARK}T0="):
            o.t0 = _float(line.split("=", 1)[1])
        elif line.startswith(f"{MARK}T1="):
            o.t1 = _float(line.split("=", 1)[1])
        elif line.startswith(f"{MARK}RC="):
            o.rc = int(line.split("=", 1)[1]) if line.split("=", 1)[1].strip().isdigit() else -1
        elif line.startswith(f"{MARK}FAIL "):
            o.failed_elements.append(line.split(" ", 1)[1].strip())
        elif line.strip() == f"{MARK}NOKEEP":
            o.no_keep = True
        elif line.strip() == f"{MARK}NOCONNTRACK":
            o.conntrack_missing = True
    sec = _sections(out)
    if "SET" in sec:
        o.before, o.set_error = parse_set(sec["SET"])
    if "AFTER" in sec:
        o.after, err = parse_set(sec["AFTER"])
        o.set_error = o.set_error or err
    if "CHAIN" in sec:
        o.chain, o.chain_error = parse_chain(sec["CHAIN"])
    if "TXN" in sec:
        o.txn_output = "\n".join(x for x in sec["TXN"].splitlines() if not x.startswith(MARK)).strip()
    if "CONNTRACK" in sec and not o.conntrack_missing:
        o.conns = parse_conntrack(sec["CONNTRACK"])
    return o


def _float(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None  # busybox date has no %N: no device timestamp


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
