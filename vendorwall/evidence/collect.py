"""The figures of the compliance pack, from the inventory, the journals and the archive (pure).

Everything is read, nothing is changed. Inputs: the compiled model (at ``now``), the state directory
(journals ``access``, ``incident``, ``alerts``; the connection-log archive and its index; the account
review reports; the audit samples), the period and ``now``. Output: one dict, the pack's data, the same
bytes for the same inputs (sorted, no wall-clock time).
"""

from __future__ import annotations

import csv
import datetime as dt
import glob
import json
import os
import re
import statistics
from typing import Any

from ..access import logs
from ..compile import expand
from ..isolate import journal
from ..model import Model
from ..state import StateDir

CNIL_MIN_DAYS, CNIL_MAX_DAYS = 183, 366  # CNIL: keep connection logs 6 months to 1 year
PA022_REVIEW_HOURS = 24


class PeriodError(ValueError):
    pass


def parse_period(text: str) -> tuple[dt.date, dt.date]:
    """``2026-Q4``, ``2026-11``, ``2026`` or ``2026-10-01..2026-12-31``: [start, end) as dates."""
    t = text.strip()
    m = re.fullmatch(r"(\d{4})-Q([1-4])", t, re.ASCII)
    if m:
        y, q = int(m[1]), int(m[2])
        start = dt.date(y, 3 * q - 2, 1)
        return start, (dt.date(y + 1, 1, 1) if q == 4 else dt.date(y, 3 * q + 1, 1))
    m = re.fullmatch(r"(\d{4})-(\d{2})", t, re.ASCII)
    if m and 1 <= int(m[2]) <= 12:
        y, mo = int(m[1]), int(m[2])
        return dt.date(y, mo, 1), (dt.date(y + 1, 1, 1) if mo == 12 else dt.date(y, mo + 1, 1))
    if re.fullmatch(r"\d{4}", t, re.ASCII):
        return dt.date(int(t), 1, 1), dt.date(int(t) + 1, 1, 1)
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", t, re.ASCII)
    if m:
        try:
            a, b = dt.date.fromisoformat(m[1]), dt.date.fromisoformat(m[2])
        except ValueError:
            raise PeriodError(t) from None
        if b >= a:
            return a, b + dt.timedelta(days=1)
    raise PeriodError(t)


def _t(text: Any) -> dt.datetime | None:
    try:
        v = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return v if v.tzinfo else v.replace(tzinfo=dt.UTC)


class Window:
    def __init__(self, start: dt.date, end: dt.date, now: dt.datetime):
        self.start = dt.datetime.combine(start, dt.time(), dt.UTC)
        self.end = min(dt.datetime.combine(end, dt.time(), dt.UTC), now)
        self.now = now

    def has(self, when: Any) -> bool:
        t = when if isinstance(when, dt.datetime) else _t(when)
        return t is not None and self.start <= t < self.end

    def has_ts(self, ts: float) -> bool:
        return self.start.timestamp() <= ts < self.end.timestamp()


def _read(path: str) -> list[dict[str, Any]]:
    return journal.read(path) if os.path.exists(path) else []


def journal_facts(name: str, path: str, shown: str, w: Window) -> dict[str, Any]:
    entries = _read(path)
    problems = journal.verify(path) if entries else []
    return {"name": name, "path": shown, "entries": len(entries),
            "in_period": sum(1 for e in entries if w.has(e.get("when", ""))),
            "first": entries[0].get("when", "") if entries else "",
            "last": entries[-1].get("when", "") if entries else "",
            "head": entries[-1].get("hash", "") if entries else "", "intact": not problems, "problems": problems[:5],
            # every entry authenticated with the journal key (HMAC, when one is configured)
            "authenticated": bool(entries) and all(e.get("mac") for e in entries)}


def _hours(a: str, b: str) -> float | None:
    ta, tb = _t(a), _t(b)
    return round((tb - ta).total_seconds() / 3600, 2) if ta and tb else None


# --------------------------------------------------------------------------- the measures


def segmentation(model: Model, drops: int, today: dt.date) -> dict[str, Any]:
    inv = model.inventory
    tunnels = sorted(({"vendor": v.name, "entry_path": p.name, "peer": p.peer or "",
                       "retire_by": p.retire_by.isoformat() if p.retire_by else "",
                       "overdue": bool(p.retire_by and p.retire_by < today), "justification": p.justification}
                      for v in inv.vendors.values() for p in v.entry_paths if p.kind == "lan_to_lan"),
                     key=lambda x: (x["vendor"], x["entry_path"]))
    segs = model.segments
    return {"id": "segmentation", "status": "gap" if tunnels else "ok",
            "figures": {"vendors": len(inv.vendors), "systems": len(inv.systems), "segments": len(segs),
                        "segments_dedicated": sum(1 for s in segs if s.mode == "dedicated"),
                        "segments_shared": sum(1 for s in segs if s.mode == "shared"),
                        "firewalls": sum(1 for d in inv.devices.values() if d.role == "firewall"),
                        "vendor_rules": sum(1 for r in model.rules if r.kind == "vendor_access"),
                        "drops_logged": drops, "lan_to_lan": len(tunnels),
                        "lan_to_lan_overdue": sum(1 for t in tunnels if t["overdue"])},
            "rows": [{"vendor": v.name, "segments": sum(1 for s in segs if s.vendor == v.name),
                      "systems": len(v.systems),
                      "entry_paths": ", ".join(f"{p.name} ({p.kind})" for p in v.entry_paths)}
                     for v in sorted(inv.vendors.values(), key=lambda v: v.name)],
            "gaps": [{"what": "lan_to_lan", **t} for t in tunnels]}


def least_privilege(model: Model) -> dict[str, Any]:
    inv = model.inventory
    forbidden = set(inv.policy.forbidden_services)
    rules = [r for r in model.rules if r.kind == "vendor_access"]
    tuples = sum(1 for r in rules for _ in expand(r))
    per_system: dict[str, set[str]] = {}
    for r in rules:
        per_system.setdefault(r.system, set()).add(r.service)
    gaps = sorted(({"what": "forbidden_service", "vendor": r.vendor, "system": r.system, "service": r.service,
                    "justification": inv.systems[r.system].access.exception_justification
                    if r.system in inv.systems else ""}
                   for r in rules if r.service in forbidden or r.protocol == "any"),
                  key=lambda g: (g["vendor"], g["system"], g["service"]))
    gaps = [g for i, g in enumerate(gaps) if i == 0 or g != gaps[i - 1]]
    counts = sorted(len(v) for v in per_system.values())
    return {"id": "least_privilege", "status": "gap" if gaps else "ok",
            "figures": {"vendor_rules": len(rules), "allowed_tuples": tuples, "systems_reachable": len(per_system),
                        "services_per_system_median": statistics.median(counts) if counts else 0,
                        "services_per_system_max": max(counts) if counts else 0,
                        "forbidden_service_exceptions": len(gaps)},
            "rows": [], "gaps": gaps}


def _grants(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for e in entries:
        gid = e.get("grant")
        if not gid:
            continue
        if e.get("event") == "opened":
            out[gid] = {"opened": e, "ended": None, "reviewed": None}
        elif gid in out:
            if e.get("event") in ("closed", "expired") and out[gid]["ended"] is None:
                out[gid]["ended"] = e
            elif e.get("event") == "reviewed" and out[gid]["reviewed"] is None:
                out[gid]["reviewed"] = e
    return out


def on_demand(model: Model, entries: list[dict[str, Any]], w: Window) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    inv = model.inventory
    modes = {m: sorted(s.name for s in inv.systems.values() if s.access.mode == m)
             for m in ("on_demand", "scheduled", "permanent")}
    grants = _grants(entries)
    rows = []
    for gid, g in sorted(grants.items(), key=lambda kv: (kv[1]["opened"].get("opened_at", ""), kv[0])):
        op = g["opened"]
        if not w.has(op.get("opened_at") or op.get("when")):
            continue
        end = g["ended"]
        rows.append({"grant": gid, "vendor": op.get("vendor", ""), "system": op.get("system", ""),
                     "ticket": op.get("ticket", ""), "requester": op.get("requester", ""),
                     "approver": op.get("approver", ""), "emergency": bool(op.get("emergency")),
                     "opened_at": op.get("opened_at", ""), "expires_at": op.get("expires_at", ""),
                     "granted_hours": _hours(op.get("opened_at", ""), op.get("expires_at", "")),
                     "ended": end.get("event", "") if end else "", "ended_at": end.get("when", "") if end else "",
                     "review_by": op.get("review_by", ""),
                     "reviewed_at": g["reviewed"].get("when", "") if g["reviewed"] else "",
                     "reviewer": g["reviewed"].get("reviewer", "") if g["reviewed"] else "",
                     "entry": op.get("seq"), "hash": op.get("hash", "")})
    normal = [r for r in rows if not r["emergency"]]
    hours = sorted(r["granted_hours"] for r in normal if r["granted_hours"] is not None)
    refused = [e for e in entries if e.get("event") == "refused" and w.has(e.get("when", ""))]
    gaps = [{"what": "permanent_access", "vendor": s.vendor, "system": s.name,
             "until": s.access.until.isoformat() if s.access.until else "", "justification": s.access.justification}
            for s in sorted(inv.systems.values(), key=lambda s: (s.vendor, s.name)) if s.access.mode == "permanent"]
    m = {"id": "on_demand", "status": "gap" if gaps else "ok",
         "figures": {"systems_on_demand": len(modes["on_demand"]), "systems_scheduled": len(modes["scheduled"]),
                     "systems_permanent": len(modes["permanent"]), "grants_opened": len(normal),
                     "grants_refused": len(refused),
                     "grants_closed_early": sum(1 for r in normal if r["ended"] == "closed"),
                     "grants_expired": sum(1 for r in normal if r["ended"] == "expired"),
                     "grants_without_ticket_or_approver": sum(1 for r in normal
                                                              if not r["ticket"] or not r["approver"]),
                     "granted_hours_median": statistics.median(hours) if hours else 0,
                     "granted_hours_max": max(hours) if hours else 0,
                     "vendors_with_grants": len({r["vendor"] for r in normal})},
         "rows": [{"vendor": v, "grants": sum(1 for r in normal if r["vendor"] == v)}
                  for v in sorted({r["vendor"] for r in normal})],
         "gaps": gaps}
    return m, rows


def break_glass(rows: list[dict[str, Any]], w: Window) -> dict[str, Any]:
    glass = [r for r in rows if r["emergency"]]
    on_time = [r for r in glass if r["reviewed_at"] and r["reviewed_at"] <= r["review_by"]]
    late = [r for r in glass if r["reviewed_at"] and r["reviewed_at"] > r["review_by"]]
    due = [r for r in glass if not r["reviewed_at"] and (_t(r["review_by"]) or w.now) < w.now]
    pending = [r for r in glass if not r["reviewed_at"] and r not in due]
    gaps = [{"what": "break_glass_not_reviewed", "grant": r["grant"], "vendor": r["vendor"], "system": r["system"],
             "review_by": r["review_by"]} for r in due]
    gaps += [{"what": "break_glass_reviewed_late", "grant": r["grant"], "vendor": r["vendor"], "system": r["system"],
              "review_by": r["review_by"], "reviewed_at": r["reviewed_at"]} for r in late]
    return {"id": "break_glass", "status": "gap" if gaps else "ok",
            "figures": {"break_glass_opened": len(glass), "reviewed_on_time": len(on_time), "reviewed_late": len(late),
                        "not_reviewed_overdue": len(due), "review_pending": len(pending),
                        "review_hours": PA022_REVIEW_HOURS},
            "rows": [], "gaps": gaps}


def accounts(model: Model, reviews: list[tuple[str, list[dict[str, Any]]]], w: Window,
             today: dt.date) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    inv = model.inventory
    pol = inv.policy
    rows: list[dict[str, Any]] = []
    gaps = []
    for v in sorted(inv.vendors.values(), key=lambda v: v.name):
        for a in sorted(v.accounts, key=lambda a: a.id):
            life = (a.expires - a.created).days if a.created else None
            over = life is not None and life > pol.account_max_lifetime_days
            rows.append({"vendor": v.name, "account": a.id, "person": a.person, "owner": a.owner,
                         "created": a.created.isoformat() if a.created else "", "expires": a.expires.isoformat(),
                         "lifetime_days": life if life is not None else "", "shared": a.shared,
                         "expired": a.expires < today, "over_lifetime": over})
            if over:
                gaps.append({"what": "account_over_lifetime", "vendor": v.name, "account": a.id,
                             "lifetime_days": life, "max_days": pol.account_max_lifetime_days})
            if a.shared:
                gaps.append({"what": "shared_account", "vendor": v.name, "account": a.id})
            if not a.owner:
                gaps.append({"what": "account_without_owner", "vendor": v.name, "account": a.id})
    idle = []
    for day, rs in reviews:
        if not w.has(day + "T00:00:00Z"):
            continue
        idle += [{"date": day, "account": r.get("account", ""), "bastion": r.get("bastion", ""),
                  "reason": next((x for x in r.get("lock_reasons", []) if str(x).startswith("idle")), "")}
                 for r in rs if any(str(x).startswith("idle") for x in r.get("lock_reasons", []))
                 and not r.get("locked_before")]
    m = {"id": "accounts", "status": "gap" if gaps else "ok",
         "figures": {"accounts": len(rows), "individual": sum(1 for r in rows if not r["shared"]),
                     "max_lifetime_days_policy": pol.account_max_lifetime_days,
                     "longest_lifetime_days": max((r["lifetime_days"] for r in rows if r["lifetime_days"] != ""),
                                                  default=0),
                     "over_lifetime": sum(1 for r in rows if r["over_lifetime"]),
                     "idle_lock_days_policy": pol.idle_lock_days, "idle_locks_in_period": len(idle),
                     "expiring_within_30_days": sum(1 for a in rows if not a["expired"] and
                                                    dt.date.fromisoformat(a["expires"]) <= today
                                                    + dt.timedelta(days=30))},
         "rows": idle, "gaps": gaps}
    return m, rows


def reviews_and_samples(reviews: list[tuple[str, list[dict[str, Any]]]], audits: list[dict[str, Any]],
                        glass: dict[str, Any], w: Window) -> dict[str, Any]:
    in_period = [d for d, _ in reviews if w.has(d + "T00:00:00Z")]
    gaps = []
    if not in_period:
        gaps.append({"what": "no_account_review"})
    if not audits:
        gaps.append({"what": "no_audit_sample"})
    return {"id": "reviews", "status": "gap" if gaps else "ok",
            "figures": {"account_reviews": len(in_period), "last_account_review": max(in_period, default=""),
                        "audit_samples": len(audits), "sampled_connections": sum(a["size"] for a in audits),
                        "unexplained_in_samples": sum(a["flagged"] for a in audits),
                        "break_glass_reviews": glass["figures"]["reviewed_on_time"]
                        + glass["figures"]["reviewed_late"]},
            "rows": audits, "gaps": gaps}


def logs_retained(model: Model, arch: str, w: Window) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    pol = model.inventory.policy
    idx = os.path.join(arch, logs.INDEX)
    entries = _read(idx)
    segs = [e for e in entries if e.get("file")]
    purges = [e for e in entries if e.get("event") == "purged"]
    recs = [r for r in logs.records(arch) if w.has_ts(r["ts"])] if entries else []
    problems = logs.verify(arch) if entries else []
    per_vendor: dict[str, dict[str, Any]] = {}
    for r in recs:
        v = per_vendor.setdefault(r.get("vendor", ""), {"vendor": r.get("vendor", ""), "connections": 0,
                                                        "closed": 0, "bytes": 0, "drops": 0, "systems": set()})
        if r["event"] == "new":
            v["connections"] += 1
            v["systems"].add(r.get("system", ""))
        elif r["event"] == "end":
            v["closed"] += 1
            v["bytes"] += int(r.get("bytes", 0))
        elif r["event"] == "drop":
            v["drops"] += 1
    rows = [{**v, "systems": len(v["systems"] - {""})} for _, v in sorted(per_vendor.items())]
    syslog = pol.connection_logs.syslog
    gaps = []
    if not CNIL_MIN_DAYS <= pol.log_retention_days <= CNIL_MAX_DAYS:
        gaps.append({"what": "retention_outside_cnil", "days": pol.log_retention_days})
    if not any(w.has(e.get("when", "")) for e in segs):
        gaps.append({"what": "no_collection_in_period"})
    if problems:
        gaps.append({"what": "archive_not_intact", "problems": "; ".join(problems[:3])})
    unexplained = [r for r in recs if r["event"] != "drop" and r.get("access") == "unexplained"]
    if unexplained:
        gaps.append({"what": "unexplained_connections", "count": len(unexplained)})
    m = {"id": "logs", "status": "gap" if gaps else "ok",
         "figures": {"retention_days": pol.log_retention_days, "segments": len(segs),
                     "segments_in_period": sum(1 for e in segs if w.has(e.get("when", ""))),
                     "records_in_period": len(recs), "connections": sum(1 for r in recs if r["event"] == "new"),
                     "closed_with_bytes": sum(1 for r in recs if r["event"] == "end"),
                     "drops": sum(1 for r in recs if r["event"] == "drop"),
                     "bytes": sum(int(r.get("bytes", 0)) for r in recs if r["event"] == "end"),
                     "within_a_grant": sum(1 for r in recs if r["event"] == "new" and r.get("grant")),
                     "purges": len(purges), "purges_in_period": sum(1 for e in purges if w.has(e.get("when", ""))),
                     "segments_purged": sum(len(e.get("files", [])) for e in purges),
                     "archive_intact": not problems, "index_head": entries[-1].get("hash", "") if entries else "",
                     "forwarded_to": f"{syslog.host}:{syslog.port}{' (TLS)' if syslog.tls else ''}" if syslog else ""},
         "rows": rows, "gaps": gaps}
    return m, rows


def drills(entries: list[dict[str, Any]], w: Window) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows = []
    for e in entries:
        if e.get("event") != "finished" or not w.has(e.get("when", "")):
            continue
        rows.append({"when": e.get("when", ""), "action": e.get("action", ""), "check": bool(e.get("check")),
                     "vendors": ", ".join(e.get("vendors") or []), "reason": e.get("reason", ""),
                     "ticket": e.get("ticket", ""), "firewalls": len(e.get("devices") or {}),
                     "failed": len(e.get("failed_devices") or []), "seconds": e.get("all_devices_done_seconds", ""),
                     "lab": bool(e.get("lab")), "entry": e.get("seq"), "hash": e.get("hash", "")})
    real = [r for r in rows if not r["check"]]
    secs = sorted(float(r["seconds"]) for r in real if r["action"] == "isolate" and r["seconds"] != "")
    gaps = [] if any(r["action"] == "isolate" for r in real) else [{"what": "no_isolation_drill"}]
    gaps += [{"what": "isolation_incomplete", "when": r["when"], "vendors": r["vendors"], "failed": r["failed"]}
             for r in real if r["failed"]]
    m = {"id": "drills", "status": "gap" if gaps else "ok",
         "figures": {"isolations": sum(1 for r in real if r["action"] == "isolate"),
                     "restores": sum(1 for r in real if r["action"] == "restore"),
                     "dry_runs": sum(1 for r in rows if r["check"]),
                     "seconds_median": statistics.median(secs) if secs else "",
                     "seconds_max": max(secs) if secs else "",
                     "last": max((r["when"] for r in real), default="")},
         "rows": [], "gaps": gaps}
    return m, rows


def _reviews(state: StateDir) -> list[tuple[str, list[dict[str, Any]]]]:
    out = []
    for path in sorted(glob.glob(os.path.join(state.root, "reports", "account-review", "account-review-*.json"))):
        try:
            with open(path, encoding="utf-8") as fh:
                rows = json.load(fh)
        except (OSError, ValueError):
            continue
        day = os.path.basename(path)[len("account-review-"):-len(".json")]
        out.append((day, rows if isinstance(rows, list) else []))
    return out


def _audits(state: StateDir) -> list[dict[str, Any]]:
    out = []
    for path in sorted(glob.glob(os.path.join(state.root, "audit", "audit-*.csv"))):
        try:
            with open(path, newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
        except (OSError, ValueError):
            continue
        seed = os.path.basename(path)[len("audit-"):-len(".csv")]
        verdicts = sorted(_count(r.get("verdict", "") for r in rows).items())
        out.append({"seed": seed, "size": len(rows), "flagged": sum(1 for r in rows if r.get("flagged") == "True"),
                    "verdicts": ", ".join(f"{k} {v}" for k, v in verdicts)})
    return out


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return out


def build(model: Model, state: StateDir, period: str, now: dt.datetime, *,
          out_of_policy: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The pack's data. ``out_of_policy``: the inventory's policy errors at ``now``: gaps of the accounts
    measure (or of on-demand access)."""
    start, end = parse_period(period)
    w = Window(start, end, now)
    paths = {"access": state.journal("access"), "incident": state.journal("incident"),
             "alerts": state.journal("alerts")}
    arch = state.connection_logs_dir
    access = _read(paths["access"])
    reviews = _reviews(state)
    m_logs, traffic = logs_retained(model, arch, w)
    m_od, grant_rows = on_demand(model, access, w)
    m_bg = break_glass(grant_rows, w)
    m_acc, account_rows = accounts(model, reviews, w, now.date())
    m_drill, drill_rows = drills(_read(paths["incident"]), w)
    for d in out_of_policy or []:
        target = m_acc if ".accounts[" in d["path"] else m_od
        target["gaps"].append({"what": "inventory_out_of_policy", "date": now.date().isoformat(), **d})
        target["status"] = "gap"
    measures = [segmentation(model, m_logs["figures"]["drops"], now.date()), least_privilege(model), m_od, m_bg, m_acc,
                reviews_and_samples(reviews, _audits(state), m_bg, w), m_logs, m_drill]
    journals = [journal_facts(n, p, f"journals/{n}.jsonl", w) for n, p in sorted(paths.items())]
    journals.append(journal_facts("connection-logs", os.path.join(arch, logs.INDEX),
                                  f"connection-logs/{logs.INDEX}", w))
    alerts = [e for e in _read(paths["alerts"]) if w.has(e.get("when", ""))]
    return {"inventory": state.root.rstrip("/").rsplit("/", 1)[-1], "period": period, "start": start.isoformat(),
            "end": (end - dt.timedelta(days=1)).isoformat(), "now": now.isoformat().replace("+00:00", "Z"),
            "policy": {"log_retention_days": model.inventory.policy.log_retention_days,
                       "account_max_lifetime_days": model.inventory.policy.account_max_lifetime_days,
                       "idle_lock_days": model.inventory.policy.idle_lock_days,
                       "on_demand_max_hours": model.inventory.policy.on_demand_max_hours,
                       "emergency_max_hours": model.inventory.policy.emergency_max_hours},
            "measures": measures, "journals": journals,
            "alerts": {"sent": sum(1 for e in alerts if e.get("event") == "sent"),
                       "failed": sum(1 for e in alerts if e.get("event") == "failed"),
                       "by_kind": dict(sorted(_count(e.get("kind", "") for e in alerts if e.get("event") == "sent")
                                              .items()))},
            "tables": {"grants": grant_rows, "accounts": account_rows, "isolations": drill_rows, "traffic": traffic}}
