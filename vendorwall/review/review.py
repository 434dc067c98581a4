"""The review of one inventory change: compile both sides, compare, flag, describe.

:func:`review` is the whole command without its output format: it reads the two revisions from
git (:mod:`.gitsrc`), compiles them (:mod:`.sides`), and :func:`compare_sides` builds the
:class:`Review` every renderer (Markdown, JSON, HTML) prints. Nothing in a review depends on the
clock or on the machine: ``now`` is an input, every list is sorted.
"""

from __future__ import annotations

import datetime as dt
import gc
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..errors import EXIT_INVALID, UsageError
from ..isolate.isolated import Isolation
from . import compare, risk, words
from . import isolation as isolation_impact
from .gitsrc import WORKING_TREE, Repo, Revision
from .sides import Compiled, SideInvalid, compile_both

PICTURE_MAX_SYSTEMS = 120  # above this, the picture shows the touched vendors only


class ReviewInvalid(UsageError):
    """One or both sides do not validate (exit 2); every error of each side, labelled."""

    def __init__(self, errors: list[SideInvalid]) -> None:
        super().__init__("; ".join(str(e) for e in errors), exit_code=EXIT_INVALID)
        self.errors = errors

    def render(self) -> str:
        return "\n".join(e.render() for e in self.errors)


@dataclass(frozen=True)
class SystemAccess:
    system: str
    site: str
    status: str  # added | removed | changed
    statements: tuple[words.Statement, ...]


@dataclass(frozen=True)
class VendorAccess:
    vendor: str  # "" for management flows (controller to firewalls)
    title: str
    status: str
    systems: tuple[SystemAccess, ...]


@dataclass(frozen=True)
class PicSystem:
    name: str
    status: str  # added | removed | changed | same


@dataclass(frozen=True)
class PicSegment:
    key: str
    label: str  # "VLAN 3012 · 10.64.0.0/29"
    mode: str
    status: str
    systems: tuple[PicSystem, ...]


@dataclass(frozen=True)
class PicVendor:
    name: str
    title: str
    status: str
    segments: tuple[PicSegment, ...]


@dataclass(frozen=True)
class PicSite:
    name: str
    title: str
    vendors: tuple[PicVendor, ...]


@dataclass(frozen=True)
class Picture:
    sites: tuple[PicSite, ...]
    partial: bool  # only the touched vendors are drawn
    hidden_vendors: int
    hidden_sites: int = 0  # sites the change does not touch, left out of the picture


@dataclass(frozen=True)
class Review:
    inventory: str
    now: dt.date
    base: Revision
    head: Revision
    settings: risk.Settings
    flows: tuple[compare.FlowChange, ...]
    access: tuple[VendorAccess, ...]
    segments: tuple[compare.SegmentChange, ...]
    devices: tuple[compare.DeviceChange, ...]
    flags: tuple[risk.Flag, ...]
    isolation: tuple[isolation_impact.Impact, ...]
    touched: compare.Touched
    totals: dict[str, int]  # flows on each side, vendors, systems
    picture: Picture
    stale_lock: bool = False
    timings: dict[str, float] = field(default_factory=dict, compare=False, repr=False)  # never printed

    def count(self, change: str) -> int:
        return sum(1 for f in self.flows if f.change == change)

    def flag_counts(self) -> dict[str, int]:
        return {s: sum(1 for f in self.flags if f.severity == s) for s in risk.SEVERITIES}

    def fails(self, severity: str | None) -> bool:
        return bool(severity) and bool(risk.at_least(self.flags, severity or "low"))


@contextmanager
def _no_gc() -> Iterator[None]:
    """The cyclic garbage collector off for one review: compiling two large inventories allocates
    millions of objects that all stay alive, and collections would scan them again and again
    (about 20 % of the run on the 5,000-system benchmark). Nothing of a review forms cycles worth
    collecting before it ends."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def review(inventory: str, base_rev: str, head_rev: str | None, now: dt.date,
           settings: risk.Settings | None = None, jobs: int | None = None,
           isolation: Isolation | None = None) -> Review:
    """Compile ``inventory`` at ``base_rev`` and at ``head_rev`` (None: the working tree) and compare.

    ``jobs``: 1 compiles the sides one after the other in this process, 2 in two processes
    (default: 2 where the machine has two CPUs and ``fork``); the review is the same."""
    with _no_gc():
        return _review(inventory, base_rev, head_rev, now, settings, jobs, isolation)


def _review(inventory: str, base_rev: str, head_rev: str | None, now: dt.date, settings: risk.Settings | None,
            jobs: int | None, isolation: Isolation | None = None) -> Review:
    t0 = time.perf_counter()
    repo = Repo.find(inventory)
    base = repo.resolve(base_rev, "--base")
    head = repo.resolve(head_rev, "--head") if head_rev else WORKING_TREE
    with tempfile.TemporaryDirectory(prefix="vendorwall-diff-") as tmp:
        sides, errors, stats = compile_both(repo, base, head, now, tmp, jobs, isolation)
    if errors:
        raise ReviewInvalid(errors)
    t1 = time.perf_counter()
    out = compare_sides(repo.shown, now, sides["base"], sides["head"], settings or risk.Settings(), isolation)
    out.timings.update(compile=t1 - t0, compare=time.perf_counter() - t1, total=time.perf_counter() - t0,
                       files_parsed=stats.files_parsed, files_shared=stats.files_shared, jobs=stats.jobs)
    return out


def compare_sides(inventory: str, now: dt.date, base: Compiled, head: Compiled, settings: risk.Settings,
                  isolation: Isolation | None = None) -> Review:
    """``isolation``: the vendors isolated now (the isolation record, when the review can read it)."""
    ib, ih = base.inventory, head.inventory
    fb, fh = base.flows, head.flows
    flow_changes = compare.diff_flows(fb, fh)
    seg_changes = compare.diff_segments(base.segments, head.segments)
    dev_changes = compare.diff_devices(base.configs, head.configs)
    touched = compare.touched(ib, ih, flow_changes, seg_changes)
    names_b, names_h = words.Names(ib, base.segments), words.Names(ih, head.segments)
    access = _access(flow_changes, touched, names_b, names_h)
    stale = None
    if head.stale_lock is not None:
        d = head.stale_lock
        stale = (d.file, d.line, d.found)
    flags = risk.flags(ib, ih, now, touched, flow_changes, settings, stale)
    now_isolated = {v: e.describe() for v, e in (isolation.vendors if isolation else {}).items()}
    impacts = isolation_impact.impacts(touched.vendors, ih, ib, fh, fb, ((s.key, s.vendor) for s in head.segments),
                                       ((s.key, s.vendor) for s in base.segments), now_isolated)
    flags = sorted(set(flags) | set(_isolation_flags(impacts, head, base)))
    totals = {"flows_base": len(fb), "flows_head": len(fh), "vendors_base": len(ib.vendors),
              "vendors_head": len(ih.vendors), "systems_base": len(ib.systems), "systems_head": len(ih.systems),
              "segments_base": len(base.segments), "segments_head": len(head.segments)}
    picture = _picture(base, head, seg_changes, touched)
    return Review(inventory, now, base.revision, head.revision, settings, tuple(flow_changes), tuple(access),
                  tuple(seg_changes), tuple(dev_changes), tuple(flags), tuple(impacts), touched, totals, picture,
                  head.stale_lock is not None)


def _access(changes: list[compare.FlowChange], touched: compare.Touched, base: words.Names,
            head: words.Names) -> list[VendorAccess]:
    by: dict[str, dict[str, list[compare.FlowChange]]] = {}
    for fc in changes:
        by.setdefault(fc.vendor, {}).setdefault(fc.system, []).append(fc)
    out = []
    for vendor in sorted(by, key=lambda v: (v == "", v)):
        systems = []
        for system in sorted(by[vendor]):
            s = head.inv.systems.get(system) or base.inv.systems.get(system)
            status = touched.systems.get(system, "changed") if system else "changed"
            sts = words.statements(vendor, system, by[vendor][system], base, head)
            systems.append(SystemAccess(system, s.site if s else "", status, tuple(sts)))
        title = (head.vendor(vendor) if vendor in head.inv.vendors else base.vendor(vendor)) if vendor else \
            "Management (controller to firewalls)"
        out.append(VendorAccess(vendor, title, touched.vendors.get(vendor, "changed"), tuple(systems)))
    return out


def _isolation_flags(impacts: list[isolation_impact.Impact], head: Compiled, base: Compiled) -> list[risk.Flag]:
    out = []
    for imp in impacts:
        if imp.isolated:
            inv = head.inventory if imp.side == "head" else base.inventory
            v = inv.vendors[imp.vendor]
            follows = ("the isolation follows the vendor (its entry paths of the change are quarantined at the "
                       "next deploy); restore it first if the change is meant to give access"
                       if imp.vendor in head.inventory.vendors else
                       "this change removes or renames it, and the quarantine follows the vendor's name: a "
                       "deploy refuses to lift it while its entry paths are still a vendor's (renamed, or given "
                       "to another vendor); restore it first if that is meant")
            out.append(risk.Flag(risk.RANK["high"], v.origin.file, v.origin.line, "changes_isolated_vendor",
                                 f"vendor {imp.vendor} is isolated ({imp.isolated}) and this change touches it: "
                                 f"{follows}",
                                 "high", "changes an isolated vendor", imp.side, imp.vendor))
        if imp.keep_survive:
            continue
        inv = head.inventory if imp.side == "head" else base.inventory
        v = inv.vendors[imp.vendor]
        out.append(risk.Flag(risk.RANK["high"], v.origin.file, v.origin.line, "isolation_cuts_keep",
                             f"isolating vendor {imp.vendor} would cut {len(imp.broken_keep)} must-keep clinical "
                             f"flow(s): {'; '.join(imp.broken_keep[:3])}", "high",
                             "isolation would cut must-keep flows", imp.side, imp.vendor))
    return out


def _picture(base: Compiled, head: Compiled, seg_changes: list[compare.SegmentChange],
             touched: compare.Touched) -> Picture:
    segs_b = {s.key: s for s in base.segments}
    segs_h = {s.key: s for s in head.segments}
    status_of = {c.key: {"allocated": "added", "freed": "removed"}.get(c.change, "changed") for c in seg_changes}
    all_systems = set(base.inventory.systems) | set(head.inventory.systems)
    partial = len(all_systems) > PICTURE_MAX_SYSTEMS
    sites_inv = {**base.inventory.sites, **head.inventory.sites}
    vendors_inv = {**base.inventory.vendors, **head.inventory.vendors}
    tree: dict[str, dict[str, list[PicSegment]]] = {}
    for key in sorted(set(segs_b) | set(segs_h)):
        sb, sh = segs_b.get(key), segs_h.get(key)
        seg = sh or sb
        assert seg is not None
        if partial and seg.vendor not in touched.vendors:
            continue
        members_b = set(sb.systems) if sb else set()
        members_h = set(sh.systems) if sh else set()
        systems = []
        for name in sorted(members_b | members_h):
            if name not in members_b:
                st = "added"
            elif name not in members_h:
                st = "removed"
            else:
                st = "changed" if touched.systems.get(name) else "same"
            systems.append(PicSystem(name, st))
        label = f"VLAN {seg.vlan} · {seg.subnet}"
        if sb and sh and (sb.vlan, sb.subnet) != (sh.vlan, sh.subnet):
            label = f"VLAN {sh.vlan} · {sh.subnet} (was VLAN {sb.vlan} · {sb.subnet})"
        tree.setdefault(seg.site, {}).setdefault(seg.vendor, []).append(
            PicSegment(key, label, seg.mode, status_of.get(key, "same"), tuple(systems)))
    sites = []
    hidden_sites = 0
    for site in sorted(tree):
        if not any(seg.status != "same" or any(x.status != "same" for x in seg.systems)
                   for segs in tree[site].values() for seg in segs):
            hidden_sites += 1  # only the sites the change touches are drawn: the reviewer's picture, not a map
            continue
        vendors = tuple(PicVendor(v, vendors_inv[v].title if v in vendors_inv else v,
                                  _site_status(touched.vendors.get(v, "same"), segs), tuple(segs))
                        for v, segs in sorted(tree[site].items()))
        sites.append(PicSite(site, sites_inv[site].title if site in sites_inv else site, vendors))
    hidden = len(set(vendors_inv) - set(touched.vendors)) if partial else 0
    return Picture(tuple(sites), partial, hidden, hidden_sites)


def _site_status(status: str, segments: list[PicSegment]) -> str:
    """A vendor's status on one site: added or removed as a whole, else changed only where it changes."""
    if status in ("added", "removed"):
        return status
    if any(seg.status != "same" or any(s.status != "same" for s in seg.systems) for seg in segments):
        return "changed"
    return "same"
