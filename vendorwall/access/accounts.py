"""Vendor accounts on the bastions: enforcement and review.

Which accounts live where: every account of a vendor goes to the bastions of the vendor's bastion entry
paths (a VPN-only vendor's accounts live on the VPN concentrator: listed, not enforced).

Everything on a bastion is done by one fixed program, the ``accounts`` agent
(:mod:`vendorwall.devices.agents.accounts`), fed JSON on stdin: an account id, a vendor name or a key can
only ever be a JSON string, never a piece of a shell script. Ownership rests on the bastion's root-only
registry (``/var/lib/vendorwall/accounts.json``, 0600), which records the uid, gid, home and creation time
of every account the agent created: vendorwall never modifies, locks or removes an account that is not
in it, whatever its name or GECOS field says, and reports a same-name account as not its own.
``--adopt ID`` declares an existing account vendorwall's (an operator's decision, e.g. after an upgrade).

Enforcement (``vendorwall accounts enforce``, ``playbooks/accounts.yml``), one SSH round trip per bastion:

- create missing accounts (``useradd``; GECOS ``vendorwall/<vendor>/<person>``, informative only);
- set the account expiry (``usermod --expiredate``) to the inventory's ``expires``; no password (``*``);
- write the SSH key with ``expiry-time="YYYYMMDD"`` in authorized_keys (the key dies with the account);
- remove the accounts it created that left the inventory (``userdel -r``);
- install the per-vendor source rules (nftables table ``inet vendorwall_bastion``): each vendor account
  may send only from its vendor's entry-path source addresses on that bastion (``meta skuid``).

Review (``vendorwall accounts review``, ``playbooks/review.yml``): reads every account vendorwall owns
(expiry, lock, last login from what only root writes: journald entries of sshd running as root, sshd's own
log file, wtmp), locks (``usermod --lock``) those idle longer than ``policy.idle_lock_days`` (never logged
in: counted from ``created``) and those past expiry, and writes a report per vendor: expiring soon (30
days), idle, locked, without owner (PCI DSS 8.2.6 analogue; ANSSI PA-022: individual accounts, disabled
when not needed), plus the same-name accounts it does not own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from dataclasses import dataclass
from typing import Any

from ..devices import agents, clock
from ..model import Account, Model
from ..state import write_private
from . import devices
from .grants import Outcome

SOON_DAYS = 30


@dataclass(frozen=True)
class Wanted:
    bastion: str
    vendor: str
    account: Account
    key: str


def wanted(model: Model, keys: dict[str, str] | None = None) -> tuple[dict[str, list[Wanted]], list[str]]:
    """bastion -> accounts it must hold; plus notes (VPN-only vendors, accounts without key)."""
    inv = model.inventory
    out: dict[str, list[Wanted]] = {n: [] for n, d in inv.devices.items() if d.role == "bastion"}
    notes = []
    for vname, v in sorted(inv.vendors.items()):
        bastions = sorted({p.bastion for p in v.entry_paths if p.kind == "bastion" and p.bastion})
        if not bastions and v.accounts:
            notes.append(f"{vname}: no bastion entry path: its {len(v.accounts)} accounts live on the VPN "
                         "concentrator (not enforced here)")
        for a in sorted(v.accounts, key=lambda a: a.id):
            key = (keys or {}).get(a.id) or a.ssh_key
            for b in bastions:
                out.setdefault(b, []).append(Wanted(b, vname, a, key))
    return out, notes


def sources(model: Model) -> dict[str, dict[str, list[str]]]:
    """bastion -> vendor -> the source prefixes of the vendor's bastion entry paths there (its accounts may
    send only from these: the bastion's per-vendor source rules)."""
    out: dict[str, dict[str, list[str]]] = {}
    for vname, v in sorted(model.inventory.vendors.items()):
        for p in v.entry_paths:
            if p.kind == "bastion" and p.bastion:
                nets = out.setdefault(p.bastion, {}).setdefault(vname, [])
                nets += [str(n) for n in p.prefixes if str(n) not in nets]
    return out


def _account_request(w: Wanted) -> dict[str, Any]:
    return {"id": w.account.id, "vendor": w.vendor, "person": w.account.person,
            "expires": w.account.expires.isoformat(), "key": " ".join(w.key.split())}


def sshd_logs(model: Model, bastion: str, o: devices.ConnOptions) -> list[str]:
    """Root-written sshd log files the review may read on ``bastion`` besides journald and wtmp: the host
    variable ``vendorwall_sshd_log`` (a path or a list); the lab's sshd writes /var/log/sshd.log (sshd -E)."""
    dev = model.inventory.devices.get(bastion)
    raw = (getattr(dev, "vars", None) or {}).get("vendorwall_sshd_log") if dev else None
    paths = [raw] if isinstance(raw, str) else [p for p in raw or [] if isinstance(p, str)]
    if o.lab_dir:
        paths.append("/var/log/sshd.log")
    return sorted(set(paths))


def _skew(answer: dict[str, Any] | None, t_before: float, t_after: float) -> float | None:
    """Device clock minus controller clock (seconds), from an agent answer's ``time``."""
    return clock.skew((answer or {}).get("time"), t_before, t_after)


def _bastions(model: Model, args: argparse.Namespace) -> list[str]:
    names = sorted(n for n, d in model.inventory.devices.items() if d.role == "bastion")
    if getattr(args, "bastion", None):
        from ..errors import UsageError

        bad = [b for b in args.bastion if b not in names]
        if bad:
            raise UsageError(f"--bastion: unknown bastion {', '.join(bad)}", "bastions: " + ", ".join(names))
        names = sorted(args.bastion)
    return names


def _keys(args: argparse.Namespace) -> dict[str, str]:
    """Keys of accounts without one in the inventory: ``<keys dir>/<account id>.pub`` (the lab's test keys)."""
    d = getattr(args, "keys_dir", None) or os.environ.get("VENDORWALL_ACCOUNT_KEYS", "")
    out = {}
    if d and os.path.isdir(d):
        for f in os.listdir(d):
            if f.endswith(".pub"):
                with open(os.path.join(d, f)) as fh:
                    out[f[:-4]] = fh.read().strip()
    return out


def _run_agent_all(model: Model, names: list[str], o: devices.ConnOptions,
                   request_for: Any) -> tuple[dict[str, agents.AgentResult], dict[str, float | None]]:
    tgts = devices.targets(model.inventory, names, o)
    t0 = time.time()
    res = agents.run_many(tgts, "accounts", request_for, workers=o.workers)
    t1 = time.time()
    return res, {b: _skew(r.answer, t0, t1) for b, r in res.items()}


def enforce(model: Model, names: list[str], o: devices.ConnOptions, keys: dict[str, str], check: bool,
            adopt: list[str] | None = None) -> Outcome:
    """Create, update and remove the accounts vendorwall owns on each bastion (the bastion's registry says
    which), install the per-vendor source rules; accounts of the same name it does not own are reported,
    never touched. ``adopt``: existing accounts the operator declares vendorwall's first."""
    want, notes = wanted(model, keys)
    srcs = sources(model)
    if adopt:
        ids = {w.account.id: w.vendor for ws in want.values() for w in ws}
        unknown = sorted(set(adopt) - set(ids))
        if unknown:
            from ..errors import UsageError

            raise UsageError(f"--adopt: not an account of the inventory's bastions: {', '.join(unknown)}",
                             "adopt only accounts the inventory defines (vendors.*.accounts[].id)")
        agents.run_many(devices.targets(model.inventory, names, o), "accounts",
                        lambda t: {"op": "adopt", "check": check, "accounts": [
                            {"id": a, "vendor": ids[a]} for a in sorted(adopt)
                            if a in {w.account.id for w in want.get(t.device, [])}]}, workers=o.workers)

    def request(t: Any) -> dict[str, Any]:
        return {"op": "enforce", "check": check, "accounts": [_account_request(w) for w in want.get(t.device, [])],
                "sources": srcs.get(t.device, {}), "sshd_logs": sshd_logs(model, t.device, o)}

    answers, skew = _run_agent_all(model, names, o, request)
    lines: list[str] = []
    data: dict[str, Any] = {"bastions": {}, "notes": notes}
    failed = []
    for b in names:
        a = answers[b]
        if not a.ok or a.answer is None:
            failed.append(b)
            lines.append(f"{b}: FAILED: {a.error}")
            data["bastions"][b] = {"result": "failed", "error": a.error, "error_kind": a.error_kind}
            continue
        ans = a.answer
        by: dict[str, list[str]] = {}
        for r in ans.get("results", []):
            by.setdefault(r["action"], []).append(r["id"])
        detail = {r["id"]: r.get("detail", "") for r in ans.get("results", [])}
        foreign = sorted({*by.get("foreign", []), *(f["id"] for f in ans.get("foreign", []))})
        src = ans.get("sources", {})
        entry = {"created": by.get("created", []), "updated": by.get("updated", []),
                 "removed": by.get("removed", []), "unchanged": by.get("unchanged", []),
                 "not_managed": foreign, "refused": by.get("refused", []), "failed": by.get("failed", []),
                 "forgotten": by.get("forgotten", []), "accounts": sorted(x["id"] for x in ans.get("accounts", [])),
                 "sources": src, "device_time": ans.get("time"), "clock_skew_s": skew.get(b),
                 "agent_notes": ans.get("notes", [])}
        if check:
            entry.update({"would_create": by.get("would_create", []), "would_update": by.get("would_update", []),
                          "would_remove": by.get("would_remove", [])})
            lines.append(f"{b}: would create {len(entry['would_create'])}, update {len(entry['would_update'])}, "
                         f"remove {len(entry['would_remove'])} ({', '.join(entry['would_remove']) or 'none'})")
        else:
            lines.append(f"{b}: {len(entry['accounts'])} vendor accounts; created "
                         f"{', '.join(entry['created']) or 'none'}; updated {', '.join(entry['updated']) or 'none'}; "
                         f"removed {', '.join(entry['removed']) or 'none'}")
            if src.get("error"):
                lines.append(f"  {b}: per-vendor source rules NOT installed: {src['error']}")
            elif "sources" in entry and src.get("applied"):
                lines.append(f"  {b}: per-vendor source rules installed ({src.get('rules', 0)} rules)")
        for x in foreign:
            why = detail.get(x) or next((f["why"] for f in ans.get("foreign", []) if f["id"] == x), "")
            lines.append(f"  {b}: {x}: exists but vendorwall did not create it ({why}): NOT touched")
        for x in entry["refused"]:
            lines.append(f"  {b}: {x}: refused: {detail.get(x, '')}")
        for x in entry["failed"]:
            lines.append(f"  {b}: {x}: FAILED: {detail.get(x, '')}")
        lines += [f"  {b}: {n}" for n in ans.get("notes", [])]
        if entry["failed"] or entry["refused"] or src.get("error"):
            failed.append(b)
        data["bastions"][b] = entry
        lines += _skew_lines(b, skew.get(b))
    lines += [f"note: {n}" for n in notes]
    return Outcome(1 if failed else 0, lines, data)


def _skew_lines(device: str, skew: float | None) -> list[str]:
    w = clock.warning(device, skew)
    return [f"  {w}"] if w else []


def break_glass(jpath: str | None) -> list[dict[str, Any]]:
    """Break-glass openings of the access journal: each must be reviewed within 24 h of its opening."""
    from . import grants

    if not jpath:
        return []
    out = []
    for gid, g in sorted(grants.journal_grants(jpath).items()):
        op = g["opened"]
        if op.get("emergency"):
            out.append({"grant": gid, "vendor": op["vendor"], "system": op["system"], "ticket": op["ticket"],
                        "requester": op.get("requester", ""), "opened_at": op["opened_at"],
                        "review_by": op.get("review_by", "")})
    return out


def review(model: Model, names: list[str], o: devices.ConnOptions, out_dir: str, check: bool,
           today: dt.date, jpath: str | None = None) -> Outcome:
    inv = model.inventory
    pol = inv.policy
    accounts = {a.id: (v.name, a) for v in inv.vendors.values() for a in v.accounts}
    want, _notes = wanted(model)
    answers, skew = _run_agent_all(model, names, o, lambda t: {
        "op": "read", "check": check, "ids": sorted({w.account.id for w in want.get(t.device, [])}),
        "sshd_logs": sshd_logs(model, t.device, o)})
    now = dt.datetime.combine(today, dt.time(), dt.UTC).timestamp()
    rows: list[dict[str, Any]] = []
    to_lock: dict[str, list[str]] = {}
    failed = []
    foreign: dict[str, list[str]] = {}
    for b in names:
        a = answers[b]
        if not a.ok or a.answer is None:
            failed.append(b)
            continue
        foreign[b] = sorted(f["id"] for f in a.answer.get("foreign", []))
        for x in a.answer.get("accounts", []):
            user = x["id"]
            vendor, acc = accounts.get(user, (x.get("vendor", ""), None))
            created = acc.created if acc and acc.created else None
            last = x.get("last_login")
            since = last or (dt.datetime.combine(created, dt.time(), dt.UTC).timestamp() if created
                             else x.get("created_at") or None)
            idle_days = int((now - since) // 86400) if since else None
            exp_day = x.get("expire_day")
            on_device = dt.date(1970, 1, 1) + dt.timedelta(days=exp_day) if isinstance(exp_day, int) else None
            # the earlier of the inventory's and the bastion's: an account expired on the device is expired
            expires = min(d for d in (acc.expires if acc else None, on_device) if d) if (acc or on_device) else None
            reasons = []
            if expires and expires < today:
                reasons.append("past expiry")
            if idle_days is not None and idle_days > pol.idle_lock_days:
                reasons.append(f"idle {idle_days} days (> {pol.idle_lock_days})")
            if acc is None:
                reasons.append("no longer in the inventory")
            locked = bool(x.get("locked"))
            row = {"bastion": b, "vendor": vendor, "account": user, "person": acc.person if acc else "",
                   "owner": acc.owner if acc else "", "expires": expires.isoformat() if expires else "",
                   "last_login": dt.datetime.fromtimestamp(last, dt.UTC).isoformat(timespec="seconds")
                   if last else "never", "idle_days": idle_days, "locked_before": locked,
                   "lock_reasons": reasons, "expiring_soon": bool(expires and today <= expires
                                                                   <= today + dt.timedelta(days=SOON_DAYS))}
            row["locked"] = locked or bool(reasons)
            if reasons and not locked:
                to_lock.setdefault(b, []).append(user)
            rows.append(row)
    if to_lock and not check:
        res, _skew2 = _run_agent_all(model, sorted(to_lock), o,
                                     lambda t: {"op": "lock", "ids": sorted(to_lock[t.device]), "isolate": False})
        for b, r in res.items():
            bad = [x["id"] for x in (r.answer or {}).get("accounts", []) if not x.get("locked_after")]
            if not r.ok or bad:
                failed.append(b)
    path = write_review(rows, out_dir, today, check, break_glass(jpath), foreign)
    n_lock = sum(len(v) for v in to_lock.values())
    lines = [f"{len(rows)} vendor accounts on {len(names) - len(failed)} bastions: "
             f"{'would lock' if check else 'locked'} {n_lock} "
             f"({', '.join(u for v in to_lock.values() for u in v) or 'none'}); report: {path}"]
    lines += [f"FAILED {b}: {answers[b].error}" if b in answers and answers[b].error else f"FAILED {b}"
              for b in failed]
    for b, ids in sorted(foreign.items()):
        if ids:
            lines.append(f"  {b}: exist but vendorwall did not create them (not reviewed, not touched): "
                         f"{', '.join(ids)}")
    for b in names:
        lines += _skew_lines(b, skew.get(b))
    return Outcome(1 if failed else 0, lines, {"accounts": rows, "locked_now": to_lock, "report": path,
                                               "failed": failed, "not_managed": foreign,
                                               "clock_skew_s": {b: skew.get(b) for b in names}})


def write_review(rows: list[dict[str, Any]], out_dir: str, today: dt.date, check: bool,
                 glass: list[dict[str, Any]] | None = None, foreign: dict[str, list[str]] | None = None) -> str:
    out = [f"# Vendor account review, {today.isoformat()}", "",
           "Per vendor: accounts expiring within 30 days, idle, locked, without owner "
           "(ANSSI PA-022, PCI DSS 8.2.6 analogue, ISO/IEC 27001 A.5.19/A.8.2)." + (" Dry run." if check else ""), ""]
    for vendor in sorted({r["vendor"] for r in rows}):
        mine = sorted((r for r in rows if r["vendor"] == vendor), key=lambda r: (r["account"], r["bastion"]))
        out += [f"## {vendor}", ""]
        for title, sel in (("Expiring soon", [r for r in mine if r["expiring_soon"]]),
                           ("Idle", [r for r in mine if any(x.startswith("idle") for x in r["lock_reasons"])]),
                           ("Locked", [r for r in mine if r["locked"]]),
                           ("Without owner", [r for r in mine if not r["owner"]])):
            out.append(f"### {title} ({len(sel)})")
            out += [f"- {r['account']} on {r['bastion']} ({r['person'] or '?'}): expires {r['expires'] or '?'}, "
                    f"last login {r['last_login']}" + (f"; {', '.join(r['lock_reasons'])}" if r["lock_reasons"] else "")
                    for r in sel]
            out.append("")
    out += [f"## Break-glass openings to review within 24 h ({len(glass or [])})", ""]
    out += [f"- {g['opened_at']} grant {g['grant']}: {g['vendor']} -> {g['system']}, ticket {g['ticket']}, by "
            f"{g['requester']}; review by {g['review_by']}" for g in glass or []]
    out.append("")
    others = sorted((b, x) for b, ids in (foreign or {}).items() for x in ids)
    out += [f"## Accounts named like vendor accounts that vendorwall did not create ({len(others)})", "",
            "Not reviewed, not locked, never modified or removed by vendorwall: check them by hand.", ""]
    out += [f"- {x} on {b}" for b, x in others]
    out.append("")
    path = os.path.join(out_dir, f"account-review-{today.isoformat()}.md")
    write_private(path, "\n".join(out))
    write_private(path[:-3] + ".json", json.dumps(rows, indent=1, sort_keys=True))
    return path


def run(args: argparse.Namespace, model: Model, o: devices.ConnOptions) -> Outcome:
    from .cli import today as today_of

    names = _bastions(model, args)
    if args.accounts_command == "enforce":
        return enforce(model, names, o, _keys(args), args.check, getattr(args, "adopt", None) or None)
    out = args.out or devices.state_dir(args.inventory).dir("reports", "account-review")
    from .grants import journal_path

    return review(model, names, o, out, args.check, today_of(args), journal_path(args.inventory, None))
