"""``vendorwall isolate`` and ``vendorwall restore``: wired into vendorwall/cli.py by

    from .isolate import cli as isolate_cli
    _EXTENSIONS.append(("isolate", isolate_cli.register))
    _COMMANDS["isolate"] = isolate_cli.handle
    _COMMANDS["restore"] = isolate_cli.handle

    vendorwall isolate MANIFEST_OR_INVENTORY --vendor NAME|all --reason TEXT [--ticket T]
                       [--scope access|segment] [--check]
    vendorwall restore MANIFEST_OR_INVENTORY --vendor NAME|all --reason TEXT [--ticket T] [--check]

Exit codes: 0 done on every firewall, 1 a firewall failed (named in the report; rerun to finish) or
a prefix was refused, 2 bad input (unknown vendor, no manifest), nothing changed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from ..devices.cli import add_connection_options, settings
from ..state import StateDir

WORKERS = 256  # devices at once: waiting on the network, not on the controller's CPU


def _process_start() -> tuple[float, float]:
    """The command's start: this process's start time (``/proc``), else now; (wall, monotonic)."""
    now, mono = time.time(), time.monotonic()
    try:
        with open("/proc/self/stat") as fh:
            ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        age = uptime - ticks / os.sysconf("SC_CLK_TCK")
        if 0 <= age < 60:
            return now - age, mono - age
    except (OSError, ValueError, IndexError):
        pass
    return now, mono



def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="MANIFEST_OR_INVENTORY",
                   help="the isolation manifest (manifest.json), or an inventory directory: then "
                        "the manifest in its state directory is read (the inventory itself is never read)")
    p.add_argument("--vendor", required=True, help="a vendor name of the manifest, or 'all'")
    p.add_argument("--reason", required=True, help="why (written to the incident journal and the report)")
    p.add_argument("--ticket", default="", help="incident or change ticket reference")
    p.add_argument("--check", action="store_true",
                   help="dry run: list what would change (devices, prefixes, flows, live sessions, accounts, "
                        "tunnels) and what stays up; change nothing")
    p.add_argument("--manifest", help="the manifest file (default: MANIFEST_OR_INVENTORY, see above)")
    p.add_argument("--journal", help="incident journal (default: journals/incident.jsonl in the state directory)")
    p.add_argument("--workers", type=int, default=WORKERS,
                   help=f"devices handled at once (default {WORKERS}: every firewall of a hospital group at once)")
    p.add_argument("--json", action="store_true", help="print the result as JSON instead of the report")
    add_connection_options(p)  # --lab-dir also probes the vendor side and the clinical flows afterwards


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("isolate", help="emergency: cut a vendor (or all) on every firewall now, "
                                              "live sessions included")
    _common(p)
    p.add_argument("--scope", choices=["access", "segment"], default="access",
                   help="access (default): quarantine the vendor's entry paths; segment: also its segments, "
                        "keeping only the must-keep clinical flows")
    p = subparsers.add_parser("restore", help="lift an isolation: remove exactly the vendor's quarantine elements")
    _common(p)


def handle(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from . import actions, run
    from .manifest import load, resolve

    started = _process_start()
    from ..errors import plain_text

    plain_text("--reason", args.reason)
    plain_text("--ticket", args.ticket or "")
    if not args.reason.strip():
        raise UsageError("--reason: empty", "say why, e.g. --reason 'vendor breach, CERT notice 2026-041'")
    path = resolve(args.target, args.manifest)
    if os.path.isdir(path):
        raise UsageError(f"{path} is a directory, not a manifest", "pass the manifest file: --manifest FILE")
    m = load(path)
    action = "restore" if args.command == "restore" else "isolate"
    plan = actions.plan(m, args.vendor, getattr(args, "scope", "access"), action, check=args.check)
    if not m.firewalls:
        raise UsageError(f"no firewall in {path}", "regenerate it: vendorwall plan INVENTORY")
    if args.lab_dir:
        targets = run.lab_targets(m, os.path.abspath(args.lab_dir), connect_timeout=args.connect_timeout,
                                  command_timeout=args.command_timeout)
    else:
        targets = run.targets(m, settings(args))
    state = StateDir.for_inventory(m.inventory or path)
    jpath = args.journal or state.journal("incident")

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    r = run.execute(m, plan, targets, reason=args.reason, ticket=args.ticket, journal_path=jpath,
                    started=started[0], started_mono=started[1], workers=args.workers,
                    settings=settings(args), isolation_path=state.isolation_file,
                    access_journal=state.journal("access"),
                    lab_dir=os.path.abspath(args.lab_dir) if args.lab_dir else None,
                    progress=say if not args.json and sys.stderr.isatty() else lambda _: None)
    if args.json:
        print(json.dumps(r.to_data(), indent=1, sort_keys=True))
    else:
        print(r.report(), flush=True)
    if not args.check:  # after the devices are done and the report printed: bounded, never raises
        from ..alerts.cli import after_isolation

        print(after_isolation(m.inventory or path, jpath), file=sys.stderr, flush=True)
    what = f"{action}{' --check' if args.check else ''}"
    fws, bs = r.failed_firewalls, r.failed_bastions
    if fws:
        names = ", ".join(x.device for x in fws)
        others = "the others are done; " if len(fws) < len(r.results) else ""
        print(f"error: {what}: {len(fws)} of {len(r.results)} firewalls NOT done: {names}\n"
              f"  hint:     {others}fix the cause shown above and rerun the same command (idempotent) to finish",
              file=sys.stderr)
    if bs:
        names = ", ".join(f"{b.device} ({b.error_kind})" for b in bs)
        print(f"error: {what}: vendor accounts NOT {'disabled' if action == 'isolate' else 're-enabled'} on "
              f"{len(bs)} of {len(r.bastions)} bastions: {names}\n"
              f"  hint:     the firewalls are {'isolated' if action == 'isolate' else 'restored'} as reported above"
              f"{' (except the ones named)' if fws else ''}; reach the bastion and rerun the same command, or by "
              "hand: usermod --lock --expiredate 1 ID && pkill -KILL -u ID", file=sys.stderr)
    open_ = r.open_flows()
    if open_ and not fws:
        print(f"error: {what}: {len(open_)} of {r.vendor_flows()} vendor flows NOT cut (NOT CUT above)\n"
              "  hint:     the vendor is NOT isolated: cut what the report names by hand, and fix the cause "
              "(a refused prefix: the manifest is inconsistent, regenerate it with vendorwall plan INVENTORY)",
              file=sys.stderr)
    if r.record_error:
        print(f"error: {what}: {r.record_error}", file=sys.stderr)
    if r.journal_error:
        print(f"error: {what}: the journal was NOT written: {r.journal_error}", file=sys.stderr)
    if r.refused_mgmt and not (fws or bs):
        print("error: prefixes overlapping management networks were refused (see REFUSED above)\n"
              "  hint:     the manifest is inconsistent: regenerate it (vendorwall plan INVENTORY)", file=sys.stderr)
    return r.exit_code
