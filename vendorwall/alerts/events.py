"""The alerts of a moment, derived from the journals, the account reviews and the inventory (pure)."""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
from dataclasses import dataclass, field
from typing import Any

from ..isolate import journal
from ..model import Inventory

KINDS = ("grant_opened", "grant_closed", "grant_expired", "break_glass_opened", "break_glass_review_missed",
         "isolated", "restored", "account_locked_idle", "contract_ending", "tunnel_retirement_passed")
TIME_BASED = frozenset({"break_glass_review_missed", "contract_ending", "tunnel_retirement_passed"})
SEVERITY = {"break_glass_opened": "warning", "break_glass_review_missed": "warning", "isolated": "critical",
            "restored": "warning", "tunnel_retirement_passed": "warning", "contract_ending": "notice",
            "account_locked_idle": "notice", "grant_opened": "info", "grant_closed": "info", "grant_expired": "info"}
EVENT_HORIZON = dt.timedelta(days=7)  # journal entries older than this are history, not news
CONTRACT_NOTICE_DAYS = 30
REVIEW_HOURS = 24


@dataclass(frozen=True)
class Alert:
    kind: str
    key: str  # deduplication key
    when: str  # ISO time of the fact (UTC)
    title: str
    text: str
    data: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def severity(self) -> str:
        return SEVERITY.get(self.kind, "notice")

    def to_data(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "when": self.when, "severity": self.severity,
                "title": self.title, "text": self.text, "data": self.data}


def _time(text: str) -> dt.datetime | None:
    try:
        t = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _read(path: str) -> list[dict[str, Any]]:
    if not path or not os.path.exists(path):
        return []
    try:
        return journal.read(path)
    except (OSError, ValueError):
        return []


def from_access(entries: list[dict[str, Any]], now: dt.datetime) -> list[Alert]:
    out: list[Alert] = []
    opened: dict[str, dict[str, Any]] = {}
    reviewed: set[str] = set()
    for e in entries:
        ev, gid = e.get("event"), str(e.get("grant", ""))
        if ev == "opened":
            opened[gid] = e
        if ev == "reviewed":
            reviewed.add(gid)
        when = _time(e.get("when", ""))
        if when is None or not now - EVENT_HORIZON <= when <= now + dt.timedelta(minutes=5):
            continue
        op = opened.get(gid, e)
        who = f"{op.get('vendor', '?')} -> {op.get('system', '?')}"
        if ev == "opened":
            glass = bool(e.get("emergency"))
            kind = "break_glass_opened" if glass else "grant_opened"
            title = f"{'BREAK-GLASS ' if glass else ''}access opened: {who}"
            text = (f"Grant {gid}: {who}, ticket {e.get('ticket', '')}, requested by {e.get('requester', '')}"
                    + ("" if glass else f", approved by {e.get('approver', '')}")
                    + f", from {e.get('opened_at', '')} until {e.get('expires_at', '')}."
                    + (f" Break-glass: review it by {e.get('review_by', '')}." if glass else ""))
        elif ev in ("closed", "expired"):
            kind = "grant_closed" if ev == "closed" else "grant_expired"
            title = f"access {ev}: {who}"
            text = f"Grant {gid}: {who} {ev} at {e.get('when', '')}" + (
                f" ({e.get('reason')})" if e.get("reason") else "") + "."
        else:
            continue
        out.append(Alert(kind, f"{kind}:{gid}:{e.get('hash', '')[:16]}", e.get("when", ""), title, text,
                         {"grant": gid, "vendor": op.get("vendor", ""), "system": op.get("system", ""),
                          "ticket": op.get("ticket", "")}))
    for gid, e in opened.items():
        due = _time(e.get("review_by", ""))
        if e.get("emergency") and gid not in reviewed and due is not None and due < now:
            who = f"{e.get('vendor', '?')} -> {e.get('system', '?')}"
            out.append(Alert("break_glass_review_missed", f"break_glass_review_missed:{gid}", _iso(due),
                             f"break-glass access NOT reviewed within {REVIEW_HOURS} h: {who}",
                             f"Grant {gid} ({who}, ticket {e.get('ticket', '')}, opened {e.get('opened_at', '')} by "
                             f"{e.get('requester', '')}) was due for review by {e.get('review_by', '')}. Record the "
                             f"review: vendorwall access reviewed INVENTORY --grant {gid} --reviewer NAME.",
                             {"grant": gid, "vendor": e.get("vendor", ""), "system": e.get("system", "")}))
    return out


def from_incidents(entries: list[dict[str, Any]], now: dt.datetime) -> list[Alert]:
    out = []
    for e in entries:
        if e.get("event") != "finished" or e.get("check") or e.get("action") not in ("isolate", "restore"):
            continue
        when = _time(e.get("when", ""))
        if when is None or not now - EVENT_HORIZON <= when <= now + dt.timedelta(minutes=5):
            continue
        kind = "isolated" if e["action"] == "isolate" else "restored"
        vendors = ", ".join(e.get("vendors") or []) or "?"
        failed = e.get("failed_devices") or []
        devices = e.get("devices") or {}
        title = f"vendor {'ISOLATED' if kind == 'isolated' else 'restored'}: {vendors}"
        text = (f"{e['action']} of {vendors} on {len(devices) - len(failed)} of {len(devices)} firewalls "
                f"(reason: {e.get('reason', '')}; ticket {e.get('ticket', '') or '-'}; by "
                f"{(e.get('who') or {}).get('user', '?')}), done in {e.get('all_devices_done_seconds', '?')} s."
                + (f" FAILED on: {', '.join(failed)}." if failed else ""))
        out.append(Alert(kind, f"{kind}:{e.get('run', '')}:{e.get('hash', '')[:16]}", e.get("when", ""), title, text,
                         {"vendors": e.get("vendors") or [], "failed_devices": failed, "run": e.get("run", "")}))
    return out


def from_account_reviews(report_dir: str, now: dt.datetime) -> list[Alert]:
    """Accounts an account review locked for inactivity (its JSON report: rows with an ``idle`` lock reason
    that were not locked before)."""
    out = []
    for path in sorted(glob.glob(os.path.join(report_dir, "account-review-*.json"))):
        day = os.path.basename(path)[len("account-review-"):-len(".json")]
        when = _time(day + "T00:00:00Z")
        if when is None or not now - EVENT_HORIZON <= when <= now + dt.timedelta(days=1):
            continue
        try:
            with open(path, encoding="utf-8") as fh:
                rows = json.load(fh)
        except (OSError, ValueError):
            continue
        for r in rows if isinstance(rows, list) else []:
            reasons = [x for x in r.get("lock_reasons", []) if str(x).startswith("idle")]
            if not reasons or r.get("locked_before"):
                continue
            acc, b = r.get("account", "?"), r.get("bastion", "?")
            out.append(Alert("account_locked_idle", f"account_locked_idle:{b}:{acc}:{day}", day,
                             f"vendor account locked for inactivity: {acc} ({r.get('vendor', '?')})",
                             f"Account {acc} of {r.get('vendor', '?')} ({r.get('person', '')}) on {b}: "
                             f"{reasons[0]}; last login {r.get('last_login', '?')}. "
                             f"Owner: {r.get('owner', '') or '?'}.",
                             {"account": acc, "bastion": b, "vendor": r.get("vendor", "")}))
    return out


def from_inventory(inv: Inventory, now: dt.datetime) -> list[Alert]:
    today = now.date()
    out = []
    for v in sorted(inv.vendors.values(), key=lambda v: v.name):
        ends = v.contract_ends
        if ends != dt.date.min and today <= ends <= today + dt.timedelta(days=CONTRACT_NOTICE_DAYS):
            out.append(Alert("contract_ending", f"contract_ending:{v.name}:{ends.isoformat()}", ends.isoformat(),
                             f"vendor contract ends in {(ends - today).days} days: {v.name}",
                             f"The contract {v.contract_reference} of {v.title} ends on {ends.isoformat()}: renew it "
                             "or plan the removal of the vendor's access (ISO/IEC 27001 A.5.20).",
                             {"vendor": v.name, "ends": ends.isoformat()}))
        for p in v.entry_paths:
            if p.kind == "lan_to_lan" and p.retire_by is not None and p.retire_by < today:
                out.append(Alert("tunnel_retirement_passed", f"tunnel_retirement_passed:{v.name}:{p.name}",
                                 p.retire_by.isoformat(),
                                 f"LAN-to-LAN tunnel past its retirement date: {v.name}/{p.name}",
                                 f"The tunnel {p.name} of {v.title} (peer {p.peer or '?'}) was to be retired by "
                                 f"{p.retire_by.isoformat()}, {(today - p.retire_by).days} days ago. Justification: "
                                 f"{p.justification or '-'}.", {"vendor": v.name, "entry_path": p.name}))
    return out


def collect(inv: Inventory | None, journals: dict[str, str], report_dir: str, now: dt.datetime,
            wanted: tuple[str, ...] = ()) -> list[Alert]:
    """Every alert that holds at ``now``: from the access and incident journals, the account reviews and
    the inventory; only the kinds in ``wanted`` (empty: all). Sorted by time, then key."""
    out = (from_access(_read(journals.get("access", "")), now)
           + from_incidents(_read(journals.get("incident", "")), now)
           + from_account_reviews(report_dir, now) + (from_inventory(inv, now) if inv is not None else []))
    if wanted:
        out = [a for a in out if a.kind in wanted]
    return sorted(out, key=lambda a: (a.when, a.key))
