"""Pure planning for a deploy: what runs vs. what is intended, with no device I/O.

For nftables the "intended" side is not the rendered file but its canonical listing as the device
itself prints it: the pusher loads the file into a throwaway network namespace on the device
(``unshare --net``), lists it, and compares that to the live listing. Same nft, same kernel, same
time zone: a no-change rerun is exactly "nothing to do", and drift (a hand edit) shows as a diff.
Only the policy table and the *declarations* of the state table (``nft -t``: no elements) are
compared, so quarantine and grant elements never make a deploy look changed, and are never touched.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, summarize_address_range

POLICY_TABLE = "inet vendorwall"
STATE_TABLE = "inet vendorwall_state"
SEPARATOR = "#=== vendorwall_state"
# an element of the policy's render-time ``isolated`` set: ``comment "vw-isolate <vendor> <entry|segment> <name>"``
_ISOLATED_TAG = re.compile(r'comment "vw-isolate ([a-z0-9][a-z0-9-]*) ')


_ELEMENT = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2}|-\d{1,3}(?:\.\d{1,3}){3})?)(?:\s+comment\s+\"([^\"]*)\")?",
                      re.ASCII)


def isolated_vendors(listing: str) -> set[str]:
    """The vendors a listing's policy table keeps isolated (its render-time ``isolated`` set), by the tag
    of their elements. Only the policy table: the state table is listed without its elements."""
    return set(_ISOLATED_TAG.findall(listing.partition(SEPARATOR)[0]))


def set_elements(listing: str, name: str) -> list[tuple[list[IPv4Network], str]]:
    """The elements of the policy table's address set ``name`` as nft lists them (``a.b.c.d/n``, ``a.b.c.d``,
    ranges ``a-b``), each as networks with its comment."""
    policy = listing.partition(SEPARATOR)[0]
    m = re.search(r"\bset " + re.escape(name) + r" \{(.*?)\n\s*\}", policy, re.S)
    if not m or "elements = {" not in m.group(1):
        return []
    body = m.group(1).split("elements = {", 1)[1]
    out = []
    for text, comment in _ELEMENT.findall(body):
        if "-" in text:
            first, last = text.split("-")
            nets = list(summarize_address_range(IPv4Address(first), IPv4Address(last)))
        else:
            nets = [IPv4Network(text, strict=False)]
        out.append((nets, comment))
    return out


def lifted_isolations(live: str, want: str, vendors: set[str] | None) -> dict[str, list[str]]:
    """Vendor -> quarantined prefixes the running policy keeps isolated and the policy to push would lift.
    A vendor still in the inventory (``vendors``; None: unknown, every vendor counts) is held whatever its
    prefixes: only ``vendorwall restore`` lifts it. A vendor no longer in the inventory is held only for its
    entry prefixes that the new policy still allows as a vendor source (renamed, or its addresses given to
    another vendor); a removed vendor's quarantine may go with it."""
    kept = isolated_vendors(want)
    sources = [n for nets, _ in set_elements(want, "vendor_src") for n in nets]
    out: dict[str, list[str]] = {}
    for nets, comment in set_elements(live, "isolated"):
        m = _ISOLATED_TAG.match('comment "' + comment + '"')
        if not m or m.group(1) in kept:
            continue
        vendor = m.group(1)
        still_here = vendors is None or vendor in vendors
        reused = comment.split()[2:3] == ["entry"] and any(n.overlaps(s) for n in nets for s in sources)
        if still_here or reused:
            out.setdefault(vendor, []).extend(str(n) for n in nets)
    return out


def listing_command() -> str:
    """Prints the policy table, a separator, then the state table without set elements."""
    return (f"nft list table {POLICY_TABLE} 2>/dev/null; echo '{SEPARATOR}'; "
            f"nft -t list table {STATE_TABLE} 2>/dev/null; true")


_WS = re.compile(r"[ \t]+")


def normalize(listing: str) -> str:
    """Canonical text: no trailing blanks or empty lines, tabs and runs of spaces collapsed."""
    out = []
    for line in listing.replace("\r", "").splitlines():
        line = _WS.sub(" ", line).rstrip()
        if line.strip():
            out.append(line)
    return "\n".join(out) + ("\n" if out else "")


@dataclass
class Plan:
    device: str
    platform: str
    before: str
    want: str
    changed: bool
    diff: str
    commands: list[str] = field(default_factory=list)


def unified(before: str, after: str, device: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                        f"{device}: running", f"{device}: intended"))


def plan_nftables(device: str, have_listing: str, want_listing: str, *, remote_dir: str, confirm_s: int,
                  backups: int) -> Plan:
    before, want = normalize(have_listing), normalize(want_listing)
    changed = before != want
    cmds: list[str] = []
    if changed:
        cmds = [
            f"nft list ruleset > {remote_dir}/backup/<timestamp>.nft  # keep the last {backups}",
            f"build {remote_dir}/rollback.nft  # previous policy table + state chain; state sets untouched",
            f"arm rollback timer: {confirm_s} s unless confirmed",
            f"nft -f {remote_dir}/intended.nft  # one transaction",
            "verify: live listing == intended listing; a new management session answers",
            "confirm: cancel the rollback timer",
        ]
    return Plan(device, "nftables", before, want, changed, unified(before, want, device) if changed else "", cmds)
