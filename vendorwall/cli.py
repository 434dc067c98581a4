"""The ``vendorwall`` command line.

    vendorwall validate INVENTORY            every error at once; exit 2 on any
    vendorwall plan INVENTORY [--out DIR]    render per device, update the lock file, summarise
    vendorwall export INVENTORY --format json
    vendorwall list {sites,vendors,systems,services,client-groups,devices} INVENTORY
    vendorwall platforms | schema

Exit codes: 0 ok, 1 a run that failed (devices, lab), 2 bad input, 70 internal error.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import __version__
from .errors import EXIT_FAIL, EXIT_INVALID, EXIT_OK, UsageError, VendorwallError

EXIT_INTERNAL = 70

Handler = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, Handler] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        _COMMANDS[name] = fn
        return fn

    return deco


def parse_now(text: str | None) -> dt.date:
    if not text:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--now: not a date: {text!r}", "use YYYY-MM-DD, e.g. --now 2026-11-28") from None


def _inventory_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("inventory", help="inventory directory (hosts.yml + vendorwall/)")
    p.add_argument("--now", help="the date to compile for (YYYY-MM-DD; default: today, UTC)")


def _cache_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-dir", help="where unchanged work is kept between runs (default: $VENDORWALL_CACHE_DIR, "
                                       "else build/<inventory name>/.cache)")
    p.add_argument("--no-cache", action="store_true", help="recompute everything; read and write no cache")


def _cache(args: argparse.Namespace) -> Any:
    from . import cache

    return cache.open_cache(args.inventory, args.cache_dir, enabled=not args.no_cache)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vendorwall", description="Vendor remote-maintenance lockdown for hospital "
                                "networks: inventory -> vendor VLANs, firewall rules, switch config.")
    p.add_argument("--version", action="version", version=f"vendorwall {__version__}")
    p.add_argument("--state-dir", metavar="DIR", help="the inventory's state directory (manifest, journals, "
                   "isolation state, locks; default: $VENDORWALL_STATE_DIR/<inventory>, else "
                   "/var/lib/vendorwall/<inventory> when writable, else ~/.local/state/vendorwall/<inventory>)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    s = sub.add_parser("validate", help="check the inventory and its lock file; every error at once")
    _inventory_arg(s)
    _cache_args(s)
    s = sub.add_parser("plan", help="render one configuration per device and update the lock file")
    _inventory_arg(s)
    _cache_args(s)
    s.add_argument("--out", help="output directory (default: build/<inventory name>)")
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.add_argument("--migration", action="store_true",
                   help="also write the per-site migration plan (migration-<site>.md, docs/migration.md)")
    s = sub.add_parser("export", help="print the compiled intent as data")
    _inventory_arg(s)
    s.add_argument("--format", choices=["json"], default="json")
    s = sub.add_parser("list", help="list the names an inventory defines")
    s.add_argument("what", choices=["sites", "vendors", "systems", "services", "client-groups", "devices"])
    _inventory_arg(s)
    s = sub.add_parser("platforms", help="list the supported platforms and their capabilities")
    s.add_argument("--table", action="store_true", help="the platform x feature table (Markdown) and why")
    s.add_argument("--role", choices=["firewall", "switch"], default="firewall", help="whose table (default firewall)")
    sub.add_parser("schema", help="print the inventory JSON Schema")
    for name, register in _EXTENSIONS:
        register(sub)
        del name
    return p


# Later commands (lab, deploy, diff, access, isolate...) register a parser and a handler here.
_EXTENSIONS: list[tuple[str, Callable[[Any], None]]] = []


def _register_extensions() -> None:
    from .lab import cli as lab_cli

    _EXTENSIONS.append(("lab", lab_cli.register))
    _COMMANDS["lab"] = lab_cli.handle

    from .isolate import cli as isolate_cli

    _EXTENSIONS.append(("isolate", isolate_cli.register))  # registers both isolate and restore
    _COMMANDS["isolate"] = isolate_cli.handle
    _COMMANDS["restore"] = isolate_cli.handle

    from .review import cli as review_cli

    _EXTENSIONS.append(("diff", review_cli.register))
    _COMMANDS["diff"] = review_cli.handle

    from . import journal_cli

    _EXTENSIONS.append(("journal", journal_cli.register))
    _COMMANDS["journal"] = journal_cli.handle

    from .access import cli as access_cli

    _EXTENSIONS.append(("access", access_cli.register))  # registers access, sheets, accounts, logs, audit
    for name in access_cli.COMMANDS:
        _COMMANDS[name] = access_cli.handle

    from .alerts import cli as alerts_cli

    _EXTENSIONS.append(("alerts", alerts_cli.register))
    _COMMANDS["alerts"] = alerts_cli.handle

    from .evidence import cli as evidence_cli

    _EXTENSIONS.append(("evidence", evidence_cli.register))
    _COMMANDS["evidence"] = evidence_cli.handle

    from . import migration

    _EXTENSIONS.append(("migration", migration.register))
    _COMMANDS["migration"] = migration.handle

    from .importers import cli as import_cli

    _EXTENSIONS.append(("import", import_cli.register))
    _COMMANDS["import"] = import_cli.handle


_register_extensions()


def _shown(path: str) -> str:
    return os.path.normpath(path)


@command("validate")
def cmd_validate(args: argparse.Namespace) -> int:
    from . import cache, pipeline

    with cache.use(_cache(args)) as c:
        res = pipeline.validated(args.inventory, parse_now(args.now), shown_root=_shown(args.inventory))
        if c is not None and not c.hits["valid"]:  # a full run used every entry it needs
            c.prune(("parsed", "render", "valid"))
    lock = "lock file up to date" if res.lock_exists else "no lock file yet"
    print(f"{_shown(args.inventory)}: valid ({res.vendors} vendors, {res.systems} systems, "
          f"{res.segments} segments, {res.rules} rules, {lock})")
    if not res.lock_exists:  # a first run: say what 'plan' will allocate and pin in the lock file
        print(f"'vendorwall plan {_shown(args.inventory)}' will allocate and pin these {len(res.pending)} "
              "segment(s) in the lock file (commit it with the inventory):")
        for key, vlan, subnet, hosts in res.pending:
            print(f"  {key}: VLAN {vlan}, {subnet} ({hosts})")
    return EXIT_OK


@command("plan")
def cmd_plan(args: argparse.Namespace) -> int:
    from . import cache, plan

    try:
        with cache.use(_cache(args)) as c:
            summary = plan.plan(args.inventory, parse_now(args.now), args.out, shown_root=_shown(args.inventory),
                                migration=args.migration)
            if c is not None and c.misses["run"] + c.hits["run"] and not c.hits["run"]:
                c.prune(cache.KINDS)  # a full run used every entry it needs: the rest is an older generation
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or args.out}: {exc.strerror}",
                         "--out must be a writable directory; the inventory's lock file must be writable") from None
    if args.json:
        print(json.dumps(summary.to_data(), indent=1, sort_keys=True))
    else:
        print(summary.text())
    return EXIT_OK


@command("export")
def cmd_export(args: argparse.Namespace) -> int:
    from . import export, pipeline

    res = pipeline.run(args.inventory, parse_now(args.now), shown_root=_shown(args.inventory), do_render=False)
    sys.stdout.write(export.to_json(res.model))
    return EXIT_OK


@command("list")
def cmd_list(args: argparse.Namespace) -> int:
    from . import inventory

    inv, diags, _ = inventory.load(args.inventory, _shown(args.inventory))
    if diags:
        raise VendorwallError(diags, "load")
    rows: list[str]
    if args.what == "sites":
        rows = [f"{n}\t{s.kind}\t{s.title}" for n, s in sorted(inv.sites.items())]
    elif args.what == "vendors":
        rows = [f"{n}\t{v.title}\t{len(v.systems)} systems" for n, v in sorted(inv.vendors.items())]
    elif args.what == "systems":
        rows = [f"{n}\t{s.vendor}\t{s.site}\t{s.access.mode}" for n, s in sorted(inv.systems.items())]
    elif args.what == "services":
        rows = [f"{n}\t{s.label}" for n, s in sorted(inv.services.items())]
    elif args.what == "client-groups":
        rows = [f"{n}\t{', '.join(map(str, g.prefixes))}" for n, g in sorted(inv.client_groups.items())]
    else:
        rows = [f"{n}\t{d.role}\t{d.platform}\t{d.mgmt_address}" for n, d in sorted(inv.devices.items())]
    print("\n".join(rows))
    return EXIT_OK


@command("platforms")
def cmd_platforms(args: argparse.Namespace) -> int:
    from .platforms import registry

    if args.table:
        print(registry.support_table(args.role))
        print(registry.support_reasons(args.role))
        return EXIT_OK
    for p in registry.platforms().values():
        how = f"netmiko:{p.netmiko_device_type}" if p.netmiko_device_type else f"transport:{p.transport}"
        print(f"{p.name}\t{p.role}\t{how}\t{', '.join(sorted(p.features))}")
    return EXIT_OK


@command("schema")
def cmd_schema(args: argparse.Namespace) -> int:
    from . import schema

    print(json.dumps(schema.schema(), indent=2))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_INVALID
    from . import state

    state.set_run_override(args.state_dir)
    if argv is None and args.command in ("validate", "plan"):  # the process's own command line
        from . import pipeline

        pipeline.exiting_process()
        rc = _dispatch(args)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError):  # a closed pipe: nothing more to say
                stream.flush()
        os._exit(rc)  # nothing left to do but free the run's objects one by one: the exit does it at once
    return _dispatch(args)


def _dispatch(args: argparse.Namespace) -> int:
    from .journal import JournalError

    try:
        return _COMMANDS[args.command](args)
    except VendorwallError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_INVALID
    except UsageError as exc:
        print(exc.render(), file=sys.stderr)
        return exc.exit_code
    except JournalError as exc:  # what was done on the devices is already printed
        print(f"error: {exc.render()}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # never a traceback for a user; VENDORWALL_DEBUG=1 shows it
        if os.environ.get("VENDORWALL_DEBUG"):
            raise
        print(f"internal error: {type(exc).__name__}: {exc}\n  hint:     this is a vendorwall bug; "
              "rerun with VENDORWALL_DEBUG=1 and report the traceback", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
