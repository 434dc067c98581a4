"""The migration plan of a brownfield inventory, per site: what changes on the device side.

For each segment of a site: whether its devices are re-addressed, whether their VLAN moves,
whether the gateway moves to the firewall; the steps in an order that keeps clinical flows
working, and the rollback of each step. Pure: it reads the compiled model (the intent) and the
inventory's brownfield facts (existing networks, ``current`` addresses), nothing else.

    vendorwall migration INVENTORY [--site S] [--format markdown|json]
    vendorwall plan INVENTORY --migration      also writes <out>/migration-<site>.md

Order within a site (each phase only starts when the previous one is verified):

1. ``filter``: adopted networks the site's firewall already routes: nothing moves on the devices;
   deploying the policy starts the filtering.
2. ``gateway``: adopted networks routed elsewhere today: devices keep address and VLAN, the
   gateway address moves to the firewall in one cut-over.
3. ``new``: new segments whose devices' current address is not declared (or is kept): connect.
4. ``readdress``: devices leaving a shared or legacy subnet for a segment of their own, least
   critical first (the procedure is rehearsed on a low-criticality system before a vital one).

The firewall policy (step 0) is deployed before any device moves: it already allows the target
addresses, so each device works as soon as it is moved, and its peers are updated in the same
step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .model import Model, Rule, Segment

PHASES = ("filter", "gateway", "new", "readdress")
PHASE_TITLES = {"filter": "filter in place (nothing moves)", "gateway": "gateway moves to the firewall",
                "new": "new segments", "readdress": "devices re-addressed into their own segment"}
CRIT_ORDER = {"low": 0, "medium": 1, "high": 2, "vital": 3}


@dataclass
class Step:
    phase: str
    segment: str
    systems: list[str]
    readdress: bool
    vlan_move: str  # "" or "150 -> 3001"
    gateway_move: str  # "" or "core-nord -> fw-nord (10.10.50.1)"
    actions: list[str] = field(default_factory=list)
    verify: list[str] = field(default_factory=list)
    rollback: list[str] = field(default_factory=list)


@dataclass
class SitePlan:
    site: str
    title: str
    firewall: str
    steps: list[Step]

    def to_data(self) -> dict[str, Any]:
        return {"site": self.site, "title": self.title, "firewall": self.firewall,
                "steps": [s.__dict__ for s in self.steps]}


def _flows_of(model: Model) -> dict[str, list[Rule]]:
    """system -> the non-vendor rules with it at either end (clinical, infrastructure, staff)."""
    out: dict[str, list[Rule]] = {}
    for r in model.rules:
        if r.kind in ("vendor_access", "management"):
            continue
        out.setdefault(r.system, []).append(r)
        if r.kind == "clinical" and r.peer in model.inventory.systems:
            out.setdefault(r.peer, []).append(r)
    return out


def _check_line(r: Rule, system: str) -> str:
    direction = r.id.split("/")[2] if r.id.count("/") >= 3 else "from"
    other = r.peer if r.system == system else r.system
    arrow = f"{other} -> {system}" if (direction == "from") == (r.system == system) else f"{system} -> {other}"
    return f"{r.kind} {arrow} on {r.service}" + (" (must keep)" if r.keep else "")


def _step(model: Model, seg: Segment, flows: dict[str, list[Rule]]) -> Step:
    inv = model.inventory
    site = inv.sites[seg.site]
    systems = [inv.systems[n] for n in seg.systems]
    checks = sorted({_check_line(r, s.name) for s in systems for r in flows.get(s.name, ())})
    verify = checks or ["no clinical, infrastructure or staff flow declared: check with the system's owner"]
    gw = f"{seg.gateway}/{seg.subnet.prefixlen}"
    if seg.adopted:
        if seg.routed_by == site.firewall:
            return Step("filter", seg.key, list(seg.systems), False, "", "",
                        [f"nothing to change on the devices: {site.firewall} already routes VLAN {seg.vlan} "
                         f"({seg.subnet}, gateway {seg.gateway})",
                         f"deploy the policy on {site.firewall}: filtering of VLAN {seg.vlan} starts"],
                        verify, [f"redeploy the previous policy on {site.firewall} (vendorwall deploy keeps a backup "
                                 "and rolls back on a failed check)"])
        in_range = site.vlan_range[0] <= seg.vlan <= site.vlan_range[1]
        trunk = (f"the switches' uplinks to {site.firewall} carry VLAN {seg.vlan} (vendorwall deploy of the "
                 "switches)" if in_range else
                 f"allow VLAN {seg.vlan} on the trunk to {site.firewall} by hand (outside the site's vlan_range "
                 f"{site.vlan_range[0]}-{site.vlan_range[1]}: vendorwall leaves that VLAN as configured)")
        return Step("gateway", seg.key, list(seg.systems), False, "",
                    f"{seg.routed_by} -> {site.firewall} ({seg.gateway})",
                    [trunk,
                     f"in one window agreed with the owners: remove {gw} from {seg.routed_by}'s interface for VLAN "
                     f"{seg.vlan}, then bring up {seg.interface} on {site.firewall} with {gw}; send a gratuitous ARP "
                     "from the firewall (devices keep their address and gateway)"],
                    verify,
                    [f"shut {seg.interface} on {site.firewall} and restore {gw} on {seg.routed_by}"])
    steps_moved = [s for s in systems if s.current_address is not None and s.current_address not in
                   seg.hosts.get(s.name, ())]
    phase = "readdress" if steps_moved else "new"
    actions = [f"create VLAN {seg.vlan} ({seg.subnet}, gateway {gw} on {site.firewall}): deploy the switches and "
               f"{site.firewall}"]
    rollback = []
    vlan_moves = []
    for s in systems:
        new = ", ".join(map(str, seg.hosts.get(s.name, ())))
        sports = [f"{p.switch} {p.interface}" for p in s.switch_ports]
        if s in steps_moved:
            old_vlan = f"VLAN {s.current_vlan}" if s.current_vlan else "its VLAN today"
            peers = sorted({(r.peer if r.system == s.name else r.system) for r in flows.get(s.name, ())
                            if r.kind == "clinical"})
            if peers:
                actions.append(f"{s.name}: update the peers that address it by IP ({', '.join(peers)}): "
                               f"{s.current_address} -> {new}")
            actions.append(f"{s.name}: re-address {s.current_address} -> {new} (gateway {seg.gateway}) and move "
                           + (f"its port(s) {', '.join(sports)}" if sports else "its connection")
                           + f" from {old_vlan} to VLAN {seg.vlan}")
            rollback.append(f"{s.name}: back to {s.current_address} in {old_vlan}" +
                            (f", port(s) {', '.join(sports)}" if sports else "") + ", peers restored")
            if s.current_vlan and s.current_vlan != seg.vlan:
                vlan_moves.append(f"{s.current_vlan} -> {seg.vlan}")
        else:
            kept = s.addresses and all(a in seg.hosts.get(s.name, ()) for a in s.addresses)
            how = f"keeps {new} (pinned)" if kept else f"gets {new}"
            hint = "" if kept or s.current_address else " (its address today is not declared: add current: " \
                "{address: ...} to plan a re-addressing)"
            actions.append(f"{s.name}: connect to VLAN {seg.vlan}" + (f" on {', '.join(sports)}" if sports else "")
                           + f", {how}, gateway {seg.gateway}{hint}")
            rollback.append(f"{s.name}: back to its previous connection" + (f" ({', '.join(sports)})" if sports
                                                                            else ""))
    rollback.append(f"remove VLAN {seg.vlan} (redeploy the previous inventory)")
    return Step(phase, seg.key, list(seg.systems), bool(steps_moved), ", ".join(sorted(set(vlan_moves))), "",
                actions, verify, rollback)


def build(model: Model, site: str | None = None) -> list[SitePlan]:
    inv = model.inventory
    flows = _flows_of(model)
    plans = []
    for name in sorted(inv.sites):
        if site is not None and name != site:
            continue
        s = inv.sites[name]
        steps = [_step(model, seg, flows) for seg in model.segments if seg.site == name]

        def order(st: Step) -> tuple[int, int, str]:
            crit = max((CRIT_ORDER.get(inv.systems[n].criticality, 0) for n in st.systems), default=0)
            return PHASES.index(st.phase), crit if st.phase == "readdress" else 0, st.segment

        plans.append(SitePlan(name, s.title, s.firewall, sorted(steps, key=order)))
    return plans


def markdown(plan: SitePlan, now: str) -> str:
    lines = [f"# Migration plan: {plan.title} ({plan.site})", "",
             f"Compiled for {now}. Firewall {plan.firewall}. Steps in order; each starts once the previous one is "
             "verified. Step 0 deploys the whole policy first: it already allows every target address, so a device "
             "works as soon as it is moved.", "",
             "| # | segment | systems | re-address | VLAN move | gateway move |", "|---|---|---|---|---|---|"]
    for i, st in enumerate(plan.steps, 1):
        lines.append(f"| {i} | {st.segment} | {', '.join(st.systems)} | {'yes' if st.readdress else 'no'} | "
                     f"{st.vlan_move or 'no'} | {st.gateway_move or 'no'} |")
    lines += ["", f"## 0. Deploy the policy on {plan.firewall} and the site's switches", "",
              "`vendorwall plan`, review, `vendorwall deploy`: nothing moves on the devices yet.", ""]
    for i, st in enumerate(plan.steps, 1):
        lines += [f"## {i}. {st.segment}: {PHASE_TITLES[st.phase]}", ""]
        lines += [f"- {a}" for a in st.actions]
        lines += ["", "Verify (each must work before the next step):", ""]
        lines += [f"- {v}" for v in st.verify]
        lines += ["", "Rollback:", ""]
        lines += [f"- {r}" for r in st.rollback]
        lines.append("")
    if not plan.steps:
        lines += ["No vendor segment on this site.", ""]
    return "\n".join(lines)


def to_json(plans: list[SitePlan], now: str) -> str:
    return json.dumps({"version": 1, "now": now, "sites": [p.to_data() for p in plans]}, indent=1,
                      sort_keys=True) + "\n"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("migration", help="the per-site migration plan of a brownfield inventory")
    p.add_argument("inventory", help="inventory directory (hosts.yml + vendorwall/)")
    p.add_argument("--now", help="the date to compile for (YYYY-MM-DD; default: today, UTC)")
    p.add_argument("--site", help="one site only")
    p.add_argument("--format", choices=["markdown", "json"], default="markdown")


def handle(args: Any) -> int:
    import os
    import sys

    from . import pipeline
    from .cli import parse_now
    from .errors import EXIT_OK, UsageError

    now = parse_now(args.now)
    res = pipeline.run(args.inventory, now, shown_root=os.path.normpath(args.inventory), check_lock=False,
                       do_render=False)
    if args.site and args.site not in res.inventory.sites:
        raise UsageError(f"--site: unknown site {args.site!r}", "sites: " + ", ".join(sorted(res.inventory.sites)))
    plans = build(res.model, args.site)
    if args.format == "json":
        sys.stdout.write(to_json(plans, now.isoformat()))
    else:
        sys.stdout.write("\n".join(markdown(p, now.isoformat()) for p in plans))
    return EXIT_OK
