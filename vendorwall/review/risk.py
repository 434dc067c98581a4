"""Risk flags: what a reviewer must look at, with a severity and the inventory line it comes from.

Flags look at what the change touches (added or changed systems, vendors, services, the policy)
on the head side; a removal is flagged from the base side. Each flag has a stable ``code``; the
table of codes, severities and the rule behind each is in docs/review.md (keep them in step).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from .. import forbidden
from ..model import Account, EntryPath, Inventory, Origin, Service, System, Vendor
from ..yamlsrc import undotted
from .compare import FlowChange, Touched, strip
from .words import compress

SEVERITIES = ("high", "medium", "low")
RANK = {s: i for i, s in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class Settings:
    blast_radius: int = 10  # systems gaining vendor access in one change
    contract_warning_days: int = 90  # a contract ending this soon is flagged


@dataclass(frozen=True, order=True)
class Flag:
    rank: int  # RANK[severity]: sorts high first
    file: str
    line: int
    code: str
    message: str
    severity: str
    title: str
    side: str  # head | base: which revision file:line refers to
    vendor: str = ""
    system: str = ""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


def at_least(flags: Iterable[Flag], severity: str) -> list[Flag]:
    return [f for f in flags if f.rank <= RANK[severity]]


class _Out:
    def __init__(self, head: Inventory, base: Inventory) -> None:
        self.head = head
        self.base = base
        self.flags: set[Flag] = set()

    def add(self, severity: str, code: str, title: str, message: str, origin: Origin, *sub: str | int,
            side: str = "head", vendor: str = "", system: str = "") -> None:
        inv = self.head if side == "head" else self.base
        file, line = origin.file, origin.line
        src = inv.sources.get(origin.file)
        if src is not None and origin.path:
            line = src.line((*undotted(origin.path), *sub))
        self.flags.add(Flag(RANK[severity], file, line, code, message, severity, title, side, vendor, system))


def flags(base: Inventory, head: Inventory, now: dt.date, touched: Touched, flow_changes: list[FlowChange],
          settings: Settings, stale_lock: tuple[str, int, str] | None = None) -> list[Flag]:
    out = _Out(head, base)
    for name in touched.systems:
        s = head.systems.get(name)
        if s is not None:
            _system(out, s, base.systems.get(name), now)
    added_vendor_access: dict[str, set[str]] = {}
    for fc in flow_changes:
        if fc.kind == "vendor_access" and fc.change == "added":
            added_vendor_access.setdefault(fc.vendor, set()).add(fc.system)
    _flows(out, flow_changes)
    for name in touched.vendors:
        v = head.vendors.get(name)
        if v is not None:
            _vendor(out, v, base.vendors.get(name), now, settings, len(added_vendor_access.get(name, ())))
    _services(out, settings, added_vendor_access)
    _infrastructure(out)
    _staff(out)
    _policy(out)
    _blast_overall(out, settings, added_vendor_access)
    if stale_lock is not None:
        file, line, found = stale_lock
        out.flags.add(Flag(RANK["low"], file, line, "stale_lock", f"the allocation lock file is stale ({found}); "
                           "run 'vendorwall plan INVENTORY' and commit it with the change", "low",
                           "lock file not updated", "head"))
    return sorted(out.flags)


# --------------------------------------------------------------------------- systems


def _label(svc: Service) -> str:
    return "any protocol and port" if svc.protocol == "any" else f"{svc.protocol}/{compress(svc.ports)}"


def _is_broad(svc: Service) -> bool:
    """Protocol any, or a port range (two or more consecutive ports)."""
    if svc.protocol == "any":
        return True
    return any(b == a + 1 for a, b in zip(svc.ports, svc.ports[1:], strict=False))


def _system(out: _Out, s: System, b: System | None, now: dt.date) -> None:
    inv = out.head
    pol = inv.policy
    a = s.access
    v = inv.vendors[s.vendor]
    same_access = b is not None and strip(b.access) == strip(a)
    kw = {"vendor": s.vendor, "system": s.name}
    if a.mode == "permanent":
        if b is not None and b.access.mode == "on_demand":
            out.add("high", "on_demand_to_permanent", "on-demand system turned permanent",
                    f"{s.name}: vendor {s.vendor}'s access changes from on demand (opened per request, "
                    f"closed by the firewall) to permanent until {a.until}; justification: "
                    f"{a.justification or 'none'}", a.origin, "mode", **kw)
        elif b is None or b.access.mode != "permanent":
            was = f" (was {b.access.mode})" if b is not None else ""
            out.add("high", "permanent_access", "permanent vendor access",
                    f"{s.name}: new permanent access for vendor {s.vendor}{was}, until {a.until}: "
                    f"{a.justification or 'no justification'}", a.origin, "mode", **kw)
        else:
            just = "" if b.access.justification == a.justification else \
                f"; justification now: {a.justification or 'none'}"
            out.add("low", "permanent_access", "permanent vendor access",
                    f"{s.name}: vendor {s.vendor} keeps a permanent access until {a.until} (system changed){just}",
                    a.origin, "mode", **kw)
    elif a.mode == "scheduled" and b is not None and b.access.mode == "on_demand":
        out.add("medium", "on_demand_to_scheduled", "on-demand system turned scheduled",
                f"{s.name}: vendor {s.vendor}'s access changes from on demand to a weekly window without a "
                "request", a.origin, "mode", **kw)
    if a.until is not None:
        days = (a.until - now).days
        if days > pol.max_validity_days:
            out.add("high", "validity_over_policy", "validity longer than the policy maximum",
                    f"{s.name}: access valid until {a.until}, {days} days ahead; the policy allows "
                    f"{pol.max_validity_days}", a.origin, "until", **kw)
        if a.until > v.contract_ends:
            out.add("high", "contract_before_access", "contract ends before the access",
                    f"{s.name}: access until {a.until}, but vendor {s.vendor}'s contract "
                    f"{v.contract_reference} ends {v.contract_ends}", a.origin, "until", **kw)
        if b is not None and b.access.until is not None and a.until > b.access.until:
            out.add("low", "validity_extended", "validity extended",
                    f"{s.name}: access end moved from {b.access.until} to {a.until}", a.origin, "until", **kw)
    elif a.mode == "scheduled" and not same_access:
        # the rule (validation and review alike): a weekly window may run without an end date; it lasts as
        # long as the vendor's contract, which validation enforces. Said, not flagged as a policy breach.
        out.add("low", "scheduled_without_end", "scheduled access without an end date",
                f"{s.name}: vendor {s.vendor}'s weekly window has no end date (until): it runs until the "
                f"contract {v.contract_reference} ends ({v.contract_ends})", a.origin, "window", **kw)
    if a.mode == "on_demand" and b is not None and b.access.mode == "on_demand":
        before = b.access.max_hours or out.base.policy.on_demand_max_hours
        after = a.max_hours or pol.on_demand_max_hours
        if after > before:
            out.add("low", "on_demand_longer", "longer on-demand openings",
                    f"{s.name}: an opening may now last {after} h (was {before} h)", a.origin, **kw)
    old_services = set(b.access.services) if b is not None else set()
    for i, name in enumerate(a.services):
        svc = inv.services.get(name)
        if svc is None:
            continue
        new = name not in old_services
        bad = forbidden.hits(forbidden.specs(inv), svc.protocol, svc.ports)
        if bad:
            sev = "high" if new else "medium"
            state = "newly allowed" if new else "still allowed"
            out.add(sev, "forbidden_service", "forbidden service",
                    f"{s.name}: forbidden service {name} ({svc.label}: {forbidden.describe(bad)}) {state} for vendor "
                    f"{s.vendor} by exception: {a.exception_justification or 'no justification'}", a.origin,
                    "services", i, **kw)
        elif _is_broad(svc) and new:
            out.add("medium", "broad_service", "broad service",
                    f"{s.name}: vendor {s.vendor} may now reach {name} ({_label(svc)})", a.origin, "services", i, **kw)


def _flows(out: _Out, changes: list[FlowChange]) -> None:
    seen: set[tuple[str, ...]] = set()
    for fc in changes:
        f = fc.facts
        if fc.kind == "vendor_access" and fc.change == "added" and not fc.key[4].endswith("/32"):
            key: tuple[str, ...] = ("subnet", fc.system, fc.key[4])
            if key not in seen:
                seen.add(key)
                out.add("high", "whole_subnet_destination", "whole subnet as destination",
                        f"{fc.system}: vendor {fc.vendor} may now reach the whole subnet {fc.key[4]}", f.origin,
                        vendor=fc.vendor, system=fc.system)
        if fc.kind != "clinical":
            continue
        parts = f.id.split("/")
        direction = parts[2] if len(parts) > 2 else "from"
        if fc.change == "added":
            peer_sys = out.head.systems.get(f.peer)
            if direction == "to" and f.peer in out.head.client_groups:
                key = ("clinical", fc.system, f.peer)
                if key not in seen:
                    seen.add(key)
                    g = out.head.client_groups[f.peer]
                    out.add("medium", "vendor_to_clinical", "vendor system reaches the clinical network",
                            f"{fc.system} (maintained remotely by vendor {fc.vendor}) can now open connections to "
                            f"{g.title} ({f.peer}: {', '.join(map(str, g.prefixes))})", f.origin,
                            vendor=fc.vendor, system=fc.system)
            elif peer_sys is not None and peer_sys.vendor != fc.vendor:
                key = ("vendor", fc.system, f.peer)
                if key not in seen:
                    seen.add(key)
                    src, dst = (f.peer, fc.system) if direction == "from" else (fc.system, f.peer)
                    out.add("low", "vendor_to_vendor", "vendor-to-vendor reachability",
                            f"{src} can now reach {dst}: systems of two vendors ({fc.vendor}, {peer_sys.vendor}); "
                            "a breach at one vendor gets a path to the other's system", f.origin,
                            vendor=fc.vendor, system=fc.system)
        elif fc.change == "removed" and f.keep and fc.system in out.head.systems:
            key = ("keep", fc.system, f.peer, f.service)
            if key not in seen:
                seen.add(key)
                out.add("medium", "keep_flow_removed", "must-keep clinical flow removed",
                        f"{fc.system}: the must-keep flow {direction} {f.peer} on {f.service} is removed while "
                        "the system stays; check patient care does not depend on it", f.origin, side="base",
                        vendor=fc.vendor, system=fc.system)


# --------------------------------------------------------------------------- vendors


def _vendor(out: _Out, v: Vendor, b: Vendor | None, now: dt.date, settings: Settings, gained: int) -> None:
    kw = {"vendor": v.name}
    has_access = bool(v.systems)
    if has_access and v.contract_ends < now:
        out.add("high", "contract_ended", "contract ended",
                f"vendor {v.name}: contract {v.contract_reference} ended {v.contract_ends} and the vendor still "
                "has access", v.origin, "contract", "ends", **kw)
    elif has_access and (v.contract_ends - now).days <= settings.contract_warning_days:
        out.add("medium", "contract_ending", "contract ending",
                f"vendor {v.name}: contract {v.contract_reference} ends {v.contract_ends}, in "
                f"{(v.contract_ends - now).days} days; its access ends with it", v.origin, "contract", "ends", **kw)
    old_paths = {p.name: p for p in b.entry_paths} if b is not None else {}
    for p in v.entry_paths:
        if p.kind == "lan_to_lan":
            _tunnel(out, v, p, old_paths.get(p.name))
    old_accounts = {a.id: a for a in b.accounts} if b is not None else {}
    for acc in v.accounts:
        prev = old_accounts.get(acc.id)
        if prev is None or strip(prev) != strip(acc):
            _account(out, v, acc, prev is None, now)
    if gained >= settings.blast_radius:
        out.add("high", "blast_radius", "access to many systems at once",
                f"vendor {v.name} gains access to {gained} systems in this change (threshold "
                f"{settings.blast_radius})", v.origin, **kw)


def tunnel_plan(v: Vendor, p: EntryPath) -> str:
    """What a LAN-to-LAN tunnel carries and how it is retired, in one sentence (review, sheets)."""
    if p.purpose == "interface":
        users = sorted(f"{s.name} {f.direction} it on {', '.join(f.services)} ({f.justification})"
                       for s in v.systems for f in s.flows if f.peer == p.name)
        carries = "application interface: " + ("; ".join(users) if users else "no flow names it")
    else:
        systems = sorted(s.name for s in v.systems if p.name in s.access.via)
        carries = ("confined to " + (", ".join(systems) or "no system") +
                   (f" on {', '.join(p.services)}" if p.services else " on each system's access services"))
    plan = f"replacement: {p.replacement}" if p.replacement else "no replacement entry path declared"
    steps = ("; checklist: " + " / ".join(p.checklist)) if p.checklist else "; no retirement checklist"
    return f"{carries}; to retire by {p.retire_by}; {plan}{steps}"


def _tunnel(out: _Out, v: Vendor, p: EntryPath, prev: EntryPath | None) -> None:
    subnets = ", ".join(map(str, p.prefixes))
    kw = {"vendor": v.name}
    plan = tunnel_plan(v, p)
    if prev is None or prev.kind != "lan_to_lan":
        out.add("high", "lan_to_lan_tunnel", "LAN-to-LAN tunnel",
                f"vendor {v.name}: new LAN-to-LAN tunnel {p.name} (peer {p.peer}, {subnets}): {p.justification}; "
                f"{plan}", p.origin, **kw)
        return
    postponed = prev.retire_by is not None and p.retire_by is not None and p.retire_by > prev.retire_by
    text = f"; retirement postponed from {prev.retire_by}" if postponed else ""
    widened = sorted(set(p.services) - set(prev.services)) if prev.services and p.services else []
    if (prev.systems and not set(p.systems) <= set(prev.systems)) or (prev.services and not p.services) or widened:
        out.add("high", "lan_to_lan_widened", "LAN-to-LAN tunnel widened",
                f"vendor {v.name}: tunnel {p.name} now reaches more (systems {', '.join(p.systems) or 'any'}; "
                f"services {', '.join(p.services) or 'any'}; was {', '.join(prev.systems) or 'any'} on "
                f"{', '.join(prev.services) or 'any'})", p.origin, "systems" if p.systems else "kind", **kw)
    out.add("medium", "lan_to_lan_tunnel", "LAN-to-LAN tunnel",
            f"vendor {v.name}: LAN-to-LAN tunnel {p.name} (peer {p.peer}, {subnets}) remains{text}; {plan}",
            p.origin, "retire_by" if postponed else "kind", **kw)


def _account(out: _Out, v: Vendor, a: Account, new: bool, now: dt.date) -> None:
    pol = out.head.policy
    what = "new account" if new else "changed account"
    kw = {"vendor": v.name}
    if a.shared:
        out.add("high", "account_shared", "shared account",
                f"vendor {v.name}: {what} {a.id} is shared; individual accounts only (ANSSI PA-022)",
                a.origin, "shared", **kw)
    if a.expires == dt.date.min:
        out.add("high", "account_without_expiry", "account without expiry",
                f"vendor {v.name}: {what} {a.id} has no expiry date", a.origin, **kw)
    else:
        life = (a.expires - (min(a.created, now) if a.created else now)).days
        if life > pol.account_max_lifetime_days:
            out.add("high", "account_lifetime", "account lifetime over the policy maximum",
                    f"vendor {v.name}: {what} {a.id} lives {life} days; the policy allows "
                    f"{pol.account_max_lifetime_days}", a.origin, "expires", **kw)
        if a.expires > v.contract_ends:
            out.add("medium", "account_outlives_contract", "account outlives the contract",
                    f"vendor {v.name}: {what} {a.id} expires {a.expires}, after the contract end "
                    f"{v.contract_ends}", a.origin, "expires", **kw)
    if not a.owner:
        out.add("medium", "account_without_owner", "account without owner",
                f"vendor {v.name}: {what} {a.id} ({a.person}) has no internal owner to answer for it",
                a.origin, **kw)


# --------------------------------------------------------------------------- services, policy, blast radius


def _services(out: _Out, settings: Settings, gained: dict[str, set[str]]) -> None:
    """A catalogue change that widens a service vendors use (a port, a range, another protocol) widens every
    access that names it, whether or not other services already opened those ports: flagged, by ports."""
    users: dict[str, set[str]] = {}
    for s in out.head.systems.values():
        for name in s.access.services:
            users.setdefault(name, set()).add(s.name)
    banned = forbidden.specs(out.head)
    for name, svc in out.head.services.items():
        old = out.base.services.get(name)
        if old is None or (old.protocol, old.ports) == (svc.protocol, svc.ports):
            continue
        widened = (svc.protocol == "any" and old.protocol != "any") or svc.protocol != old.protocol \
            or bool(set(svc.ports) - set(old.ports))
        hit = sorted(users.get(name, set()))
        if not widened or not hit:
            continue
        new_ports = sorted(set(svc.ports) - set(old.ports)) if svc.protocol == old.protocol else list(svc.ports)
        bad = forbidden.hits(banned, svc.protocol, new_ports)
        severity = "high" if bad or len(hit) >= settings.blast_radius else "medium"
        code = "forbidden_service" if bad else "blast_radius" if severity == "high" else "service_widened"
        title = ("forbidden ports in a widened service" if bad else
                 "access to many systems at once" if severity == "high" else "service widened")
        extra = f"; it now opens forbidden ports {forbidden.describe(bad)} (by exception)" if bad else ""
        out.add(severity, code, title,
                f"service {name} changes from {_label(old)} to {_label(svc)}: vendor access widens on "
                f"{len(hit)} system(s) ({', '.join(hit[:5])}{', ...' if len(hit) > 5 else ''}){extra}",
                svc.origin)


def _infrastructure(out: _Out) -> None:
    """A new or widened shared service reaches every system of its sites at once."""
    for name, infra in out.head.infrastructure.items():
        old = out.base.infrastructure.get(name)
        if old is not None and (old.prefixes, old.services, old.direction, old.site, old.default) == (
                infra.prefixes, infra.services, infra.direction, infra.site, infra.default):
            continue
        users = [s.name for s in out.head.systems.values()
                 if (infra.site is None or s.site == infra.site) and name not in s.infra_skip
                 and (infra.default or name in s.infra_add)]
        where = f"site {infra.site}" if infra.site else "every site"
        what = "new" if old is None else "changed"
        if infra.direction == "from":
            out.add("medium", "infrastructure_reaches_systems", "shared servers reach maintained systems",
                    f"{what} infrastructure service {name} ({infra.title}, {', '.join(map(str, infra.prefixes))}) "
                    f"can open connections to {len(users)} system(s) of {where} on {', '.join(infra.services)}: "
                    "a breach of those servers reaches them all", infra.origin)
        else:
            out.add("low", "infrastructure_service", "shared infrastructure service",
                    f"{what} infrastructure service {name} ({infra.title}): {len(users)} system(s) of {where} "
                    f"reach {', '.join(map(str, infra.prefixes))} on {', '.join(infra.services)}", infra.origin)


def _staff(out: _Out) -> None:
    for name, path in out.head.staff.items():
        old = out.base.staff.get(name)
        if old is not None and (old.source, old.targets, old.services) == (path.source, path.targets,
                                                                            path.services):
            continue
        forbidden = sorted(set(path.services) & set(out.head.policy.forbidden_services))
        severity = "medium" if forbidden else "low"
        extra = f"; forbidden to vendors: {', '.join(forbidden)}" if forbidden else ""
        out.add(severity, "staff_path", "staff administration path",
                f"{'new' if old is None else 'changed'} staff path {name} ({path.title}): {path.source} reaches "
                f"{', '.join(path.targets)} on {', '.join(path.services)}{extra}", path.origin)


_MORE_IS_LAXER = ("account_max_lifetime_days", "idle_lock_days", "on_demand_max_hours", "emergency_max_hours",
                  "max_validity_days", "review_interval_days")


def _policy(out: _Out) -> None:
    h, b = out.head.policy, out.base.policy
    origin = h.origin
    for key in _MORE_IS_LAXER:
        if getattr(h, key) > getattr(b, key):
            out.add("medium", "policy_relaxed", "policy relaxed",
                    f"policy {key} raised from {getattr(b, key)} to {getattr(h, key)}", origin, key)
    if h.log_retention_days < b.log_retention_days:
        out.add("medium", "policy_relaxed", "policy relaxed",
                f"policy log_retention_days lowered from {b.log_retention_days} to {h.log_retention_days}",
                origin, "log_retention_days")
    allowed = sorted(set(b.forbidden_services) - set(h.forbidden_services))
    if allowed:
        out.add("high", "policy_relaxed", "policy relaxed",
                f"services no longer forbidden to vendors: {', '.join(allowed)}", origin, "forbidden_services")


def _blast_overall(out: _Out, settings: Settings, gained: dict[str, set[str]]) -> None:
    systems = sorted(set().union(*gained.values())) if gained else []
    if len(systems) < settings.blast_radius or any(f.code == "blast_radius" for f in out.flags):
        return
    first = out.head.systems[systems[0]]
    out.add("medium", "blast_radius", "access to many systems at once",
            f"this change gives {len(gained)} vendor(s) access to {len(systems)} systems (threshold "
            f"{settings.blast_radius})", first.access.origin, vendor="", system="")
