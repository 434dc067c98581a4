"""``vendorwall access|sheets|accounts|logs|audit``: wired into vendorwall/cli.py by

    from .access import cli as access_cli
    _EXTENSIONS.append(("access", access_cli.register))  # registers access, sheets, accounts, logs, audit
    for _name in access_cli.COMMANDS:
        _COMMANDS[_name] = access_cli.handle

    vendorwall access open INVENTORY --vendor X --system Y --ticket T --requester R --approver A --duration 4h
                                     [--emergency]
    vendorwall access close INVENTORY --grant ID [--reason TEXT]
    vendorwall access list INVENTORY            live grants read from the firewalls, with time left (nftables:
                                                the grant elements; appliances: the on-demand windows open now)
    vendorwall access reconcile INVENTORY       journal the grants that expired since the last look
    vendorwall access verify INVENTORY          check the access journal's hash chain
    vendorwall sheets INVENTORY --out DIR
    vendorwall accounts enforce|review INVENTORY --lab-dir DIR | --bastion-key ...
    vendorwall logs collect|purge INVENTORY
    vendorwall audit sample INVENTORY --size N --seed S

Exit codes: 0 done, 1 a device failed (named), 2 refused or bad input: nothing changed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from typing import Any

COMMANDS = ("access", "sheets", "accounts", "logs", "audit")


def _conn(p: argparse.ArgumentParser) -> None:
    from ..devices.cli import add_connection_options

    add_connection_options(p)


def _inv(p: argparse.ArgumentParser, journal: bool = True) -> None:
    p.add_argument("inventory", help="inventory directory (hosts.yml + vendorwall/)")
    p.add_argument("--now", help="the date for the policy checks (YYYY-MM-DD; default today, UTC)")
    if journal:
        p.add_argument("--journal", help="access journal (default build/<inventory name>/access-journal.jsonl)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("access", help="on-demand vendor access: open, close, list live grants")
    sub = p.add_subparsers(dest="access_command", metavar="ACTION", required=True)
    s = sub.add_parser("open", help="check the request against the policy, then open a grant the firewall expires")
    _inv(s)
    _conn(s)
    s.add_argument("--vendor", required=True)
    s.add_argument("--system", required=True)
    s.add_argument("--ticket", default="", help="change or incident ticket (required by the policy)")
    s.add_argument("--requester", default="", help="who asks (required)")
    s.add_argument("--approver", default="", help="one of the system's approvers, not the requester")
    s.add_argument("--duration", required=True,
                   help="with its unit: 4h, 90m, 1h30m (a bare number is refused; at most the system's max_hours)")
    s.add_argument("--emergency", action="store_true",
                   help="break-glass: no approver, at most policy.emergency_max_hours, flagged for review in 24 h")
    s = sub.add_parser("close", help="close a grant before its expiry")
    _inv(s)
    _conn(s)
    s.add_argument("--grant", required=True, help="grant id (vendorwall access list)")
    s.add_argument("--reason", default="", help="why (journal)")
    for name, text in (("list", "live grants read from the firewalls, with time left"),
                       ("reconcile", "journal the grants that expired since the last look")):
        s = sub.add_parser(name, help=text)
        _inv(s)
        _conn(s)
    s = sub.add_parser("verify", help="check the access journal's hash chain")
    _inv(s)
    s = sub.add_parser("reviewed", help="record the review of a break-glass opening (due within 24 h)")
    _inv(s)
    s.add_argument("--grant", required=True, help="the break-glass grant id")
    s.add_argument("--reviewer", required=True, help="who reviewed it")
    s.add_argument("--note", default="", help="what the review found (journal)")
    _register_more(subparsers)


def _options(args: argparse.Namespace) -> Any:
    from ..devices.cli import settings
    from .devices import ConnOptions

    s = settings(args)
    return ConnOptions(s.user, s.key_file, s.port, s.connect_timeout, s.command_timeout,
                       lab_dir=os.path.abspath(args.lab_dir) if args.lab_dir else None, known_hosts=s.known_hosts,
                       host_key_policy=s.host_key_policy)


def today(args: argparse.Namespace) -> dt.date:
    from ..cli import parse_now

    return parse_now(args.now)


def model_of(args: argparse.Namespace) -> Any:
    from .. import pipeline

    return pipeline.run(args.inventory, today(args), shown_root=os.path.normpath(args.inventory), check_lock=False,
                        do_render=False).model


def _print(out: Any, args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(out.data, indent=1, sort_keys=True))
    else:
        stream = sys.stderr if out.exit == 2 else sys.stdout
        print("\n".join(out.lines), file=stream, flush=True)
    return int(out.exit)


def handle(args: argparse.Namespace) -> int:
    if args.command != "access":
        return _handle_more(args)
    from ..errors import plain_text
    from ..isolate import journal
    from . import grants, policy

    for opt in ("ticket", "requester", "approver", "reason", "reviewer", "note", "duration", "vendor", "system"):
        if isinstance(getattr(args, opt, None), str):
            plain_text(f"--{opt}", getattr(args, opt))
    jpath = grants.journal_path(args.inventory, args.journal)
    if args.access_command == "verify":
        problems = journal.verify(jpath)
        for p in problems:
            print(f"{jpath}: {p}")
        if not problems:
            print(f"{jpath}: intact ({len(journal.read(jpath))} entries)")
        return 1 if problems else 0
    if args.access_command == "reviewed":
        return _print(grants.record_review(jpath, args.grant, args.reviewer, args.note), args)
    model = model_of(args)
    o = _options(args)
    if args.access_command == "open":
        req = policy.Request(args.vendor, args.system, args.ticket, args.requester, args.approver, args.duration,
                             args.emergency)
        return _alerted(_print(grants.open_grant(model, req, o, jpath, today=today(args)), args), args, model, jpath)
    if args.access_command == "close":
        return _alerted(_print(grants.close_grant(model, args.grant, o, jpath, reason=args.reason), args), args,
                        model, jpath)
    if args.access_command == "list":
        return _alerted(_print(grants.list_grants(model, o, jpath), args), args, model, jpath)
    live, errors = grants.read_live(model, o, jpath)
    expired = grants.reconcile(jpath, live, errors, detected_by="reconcile")
    out = grants.Outcome(1 if errors else 0,
                         [f"{len(live)} live grants; expired since the last look: {', '.join(expired) or 'none'}"]
                         + [f"UNREACHABLE {fw}: {e}" for fw, e in sorted(errors.items())],
                         {"live": sorted(live), "expired": expired, "unreachable": errors})
    return _alerted(_print(out, args), args, model, jpath)


def _alerted(code: int, args: argparse.Namespace, model: Any, jpath: str | None = None) -> int:
    """After a command journaled: its alerts (bounded time; a failure is a line on stderr, never an error)."""
    from ..alerts.cli import after_command

    print(after_command(args.inventory, model.inventory, access_journal=jpath), file=sys.stderr, flush=True)
    return code


# --------------------------------------------------------------------------- sheets, accounts, logs, audit


def _register_more(subparsers: Any) -> None:
    p = subparsers.add_parser("sheets", help="one access sheet per vendor (Markdown and HTML)")
    _inv(p, journal=False)
    p.add_argument("--out", required=True, help="output directory")
    p = subparsers.add_parser("accounts", help="vendor accounts on the bastions: enforce, review")
    sub = p.add_subparsers(dest="accounts_command", metavar="ACTION", required=True)
    for name, text in (("enforce", "create/update/lock vendor accounts on the bastions, remove those gone"),
                       ("review", "collect last logins, lock idle and expired accounts, write the review report")):
        s = sub.add_parser(name, help=text)
        _inv(s, journal=False)
        _conn(s)
        s.add_argument("--bastion", action="append", default=[],
                       help="only this bastion (repeatable; default every bastion of the inventory)")
        s.add_argument("--check", action="store_true", help="report what would change, change nothing")
        s.add_argument("--keys-dir", help="SSH public keys of accounts without ssh_key in the inventory: "
                                          "DIR/<account id>.pub")
        if name == "review":
            s.add_argument("--out", help="report directory (default build/<inventory>/account-review)")
        else:
            s.add_argument("--adopt", action="append", default=[], metavar="ID",
                           help="declare an existing account of the inventory vendorwall's before enforcing "
                                "(repeatable): vendorwall only manages accounts its bastion registry records")
    p = subparsers.add_parser("logs", help="connection logs of vendor flows: collect into the archive, purge")
    sub = p.add_subparsers(dest="logs_command", metavar="ACTION", required=True)
    for name, text in (("collect", "fetch new connection records from the firewalls into the archive"),
                       ("verify", "check the archive's hash chain"),
                       ("purge", "drop archive segments older than policy.log_retention_days")):
        s = sub.add_parser(name, help=text)
        _inv(s, journal=False)
        _conn(s)
        s.add_argument("--archive", help="archive directory (default build/<inventory>/connection-logs)")
    p = subparsers.add_parser("audit", help="review of vendor accesses by sampling")
    sub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    s = sub.add_parser("sample", help="draw a reproducible sample of vendor connections and reconcile each "
                                      "with the access journal")
    _inv(s)
    s.add_argument("--size", type=int, default=25, help="connections to draw (default 25)")
    s.add_argument("--seed", type=int, help="random seed (default: drawn and printed)")
    s.add_argument("--archive", help="archive directory (default build/<inventory>/connection-logs)")
    s.add_argument("--out", help="output directory (default build/<inventory>/audit)")


def _handle_more(args: argparse.Namespace) -> int:
    if args.command == "sheets":
        from . import sheets

        return _print(sheets.write(model_of(args), args.out), args)
    if args.command == "accounts":
        from . import accounts

        model = model_of(args)
        code = _print(accounts.run(args, model, _options(args)), args)
        return _alerted(code, args, model) if args.accounts_command == "review" and not args.check else code
    if args.command == "logs":
        from . import logs

        return _print(logs.run(args, model_of(args), _options(args)), args)
    from . import audit

    return _print(audit.run(args, model_of(args)), args)
