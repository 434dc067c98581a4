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

POLICY_TABLE = "inet vendorwall"
STATE_TABLE = "inet vendorwall_state"
SEPARATOR = "#=== vendorwall_state"
# an element of the policy's render-time ``isolated`` set: ``comment "vw-isolate <vendor> <entry|segment> <name>"``
_ISOLATED_TAG = re.compile(r'comment "vw-isolate ([a-z0-9][a-z0-9-]*) ')


def isolated_vendors(listing: str) -> set[str]:
    """The vendors a listing's policy table keeps isolated (its render-time ``isolated`` set), by the tag
    of their elements. Only the policy table: the state table is listed without its elements."""
    return set(_ISOLATED_TAG.findall(listing.partition(SEPARATOR)[0]))


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
