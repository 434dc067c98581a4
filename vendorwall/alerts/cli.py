"""``vendorwall alerts check|test INVENTORY`` and the hook the other commands call after they journal.

    vendorwall alerts check INVENTORY [--now TIME] [--dry-run] [--json]
        every alert that holds now (from the journals, the account reviews, the inventory), sent once per
        channel; a daily cron or AWX schedule raises the time-based ones (missed break-glass reviews,
        contracts ending within 30 days, tunnels past their retirement). Exit 1 when a channel failed.
    vendorwall alerts test INVENTORY
        one test alert on every configured channel (the setup check).

The hook (:func:`after_command`, :func:`after_isolation`) sends what a command just journaled, within a
bounded time, after the devices are done, and returns one line for the command's report: an alert that
fails is reported, never raised, and the next ``alerts check`` retries it.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
from typing import Any

from ..model import Alerts, EmailChannel, Inventory, SyslogTarget, WebhookChannel
from ..state import StateDir
from . import dispatch, events

HOOK_DEADLINE_S = 15.0


def parse_now(text: str | None) -> dt.datetime:
    from ..errors import UsageError

    if not text:
        return dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--now: not a date or time: {text!r}",
                         "use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, e.g. --now 2026-12-01T08:00:00Z") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def sources(state: StateDir, access_journal: str | None = None) -> tuple[dict[str, str], str]:
    return ({"access": access_journal or state.journal("access"), "incident": state.journal("incident")},
            os.path.join(state.root, "reports", "account-review"))


def store(state: StateDir) -> str:
    return state.journal("alerts")


# ---------------------------------------------------------------- the policy's alert settings, kept for isolate


def save_config(state: StateDir, cfg: Alerts) -> None:
    """``<state>/alerts/config.json``: the inventory's alert settings (no secrets: only the names of the
    environment variables holding them), so an isolation, which never reads the inventory, can alert."""
    data = dataclasses.asdict(cfg)
    if state.read_json("alerts", "config.json") != json.loads(json.dumps(data)):
        state.write_json(data, "alerts", "config.json")


def load_config(state: StateDir) -> Alerts | None:
    d = state.read_json("alerts", "config.json")
    if not isinstance(d, dict):
        return None
    try:
        return Alerts(tuple(d.get("events") or ()), int(d.get("repeat_days", 7)), int(d.get("retries", 2)),
                      float(d.get("timeout_seconds", 5)),
                      EmailChannel(**{**d["email"], "to": tuple(d["email"]["to"])}) if d.get("email") else None,
                      WebhookChannel(**d["webhook"]) if d.get("webhook") else None,
                      SyslogTarget(**d["syslog"]) if d.get("syslog") else None)
    except (TypeError, KeyError, ValueError):
        return None


# ---------------------------------------------------------------- hooks


def after_command(inventory: str, inv: Inventory, *, access_journal: str | None = None,
                  now: dt.datetime | None = None, deadline_s: float = HOOK_DEADLINE_S) -> str:
    """Send the event alerts a command just journaled (and anything pending); one line for its report."""
    try:
        state = StateDir.for_inventory(inventory)
        cfg = inv.policy.alerts
        save_config(state, cfg)
        now = now or dt.datetime.now(dt.UTC)
        journals, reviews = sources(state, access_journal)
        alerts = [a for a in events.collect(inv, journals, reviews, now, cfg.events) if a.kind not in events.TIME_BASED]
        return dispatch.dispatch(alerts, cfg, store(state), state_name(inventory), now, deadline_s=deadline_s).line()
    except Exception as exc:  # never fail the command that journaled
        return f"alerts: not sent: {type(exc).__name__}: {str(exc)[:200]}"


def after_isolation(inventory: str, journal_path: str, *, now: dt.datetime | None = None,
                    deadline_s: float = HOOK_DEADLINE_S) -> str:
    """The isolation's (or restore's) alert, after the devices are done: the settings kept by the last
    command that read the inventory (``alerts/config.json``), the incident journal the run wrote."""
    try:
        state = StateDir.for_inventory(inventory)
        cfg = load_config(state)
        if cfg is None:
            return ("alerts: not sent now (no alert settings in the state directory yet: run "
                    "'vendorwall alerts check INVENTORY' once); the next check sends it")
        now = now or dt.datetime.now(dt.UTC)
        alerts = [a for a in events.from_incidents(events._read(journal_path), now)
                  if not cfg.events or a.kind in cfg.events]
        return dispatch.dispatch(alerts, cfg, store(state), state_name(inventory), now, deadline_s=deadline_s).line()
    except Exception as exc:
        return f"alerts: not sent: {type(exc).__name__}: {str(exc)[:200]}"


def state_name(inventory: str) -> str:
    from ..state import inventory_name

    return inventory_name(inventory)


# ---------------------------------------------------------------- the command


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("alerts", help="alerts: grants, break-glass, isolations, locks, contracts, tunnels")
    sub = p.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    for name, text in (("check", "send every alert that holds now (daily: cron or AWX)"),
                       ("test", "send one test alert on every configured channel")):
        s = sub.add_parser(name, help=text)
        s.add_argument("inventory", help="inventory directory (hosts.yml + vendorwall/)")
        s.add_argument("--now", help="the time to check at (YYYY-MM-DD or ISO time, UTC; default now)")
        s.add_argument("--json", action="store_true", help="print the result as JSON")
        if name == "check":
            s.add_argument("--dry-run", action="store_true", help="list the alerts that hold, send nothing")


def handle(args: argparse.Namespace) -> int:
    from .. import pipeline

    now = parse_now(args.now)
    res = pipeline.run(args.inventory, now.date(), shown_root=os.path.normpath(args.inventory), check_lock=False,
                       do_render=False)
    inv = res.inventory
    cfg = inv.policy.alerts
    state = StateDir.for_inventory(args.inventory)
    save_config(state, cfg)
    name = state_name(args.inventory)
    if args.alerts_command == "test":
        alerts = [events.Alert("test", f"test:{now.isoformat()}", now.isoformat(), "test alert",
                               "A test of vendorwall's alert channels: no action needed.")]
    else:
        journals, reviews = sources(state)
        alerts = events.collect(inv, journals, reviews, now, cfg.events)
        if args.dry_run:
            out = [a.to_data() for a in alerts]
            if args.json:
                print(json.dumps(out, indent=1, sort_keys=True))
            else:
                print("\n".join(f"{a.when} {a.kind}: {a.title}" for a in alerts) or "no alert holds")
            return 0
    rep = dispatch.dispatch(alerts, cfg, store(state), name, now, deadline_s=max(60.0, 10.0 * len(alerts)))
    if args.json:
        print(json.dumps({"alerts": [a.to_data() for a in alerts], **rep.to_data()}, indent=1, sort_keys=True))
    else:
        print(f"{len(alerts)} alerts hold at {now.isoformat()}; {rep.line()}")
        for key, ch, err in rep.failed:
            print(f"  FAILED {ch} {key}: {err}", file=sys.stderr)
    return 1 if rep.failed or rep.note.startswith("not sent") else 0
