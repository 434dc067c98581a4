"""``vendorwall evidence INVENTORY --period PERIOD --out DIR [--lang en|fr] [--now TIME] [--pdf]``."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..errors import UsageError, VendorwallError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("evidence", help="the compliance pack for an auditor (HTML, print, CSV/JSON)")
    p.add_argument("inventory", help="inventory directory (hosts.yml + vendorwall/)")
    p.add_argument("--period", required=True, help="2026-Q4, 2026-11, 2026 or 2026-10-01..2026-12-31")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--lang", choices=["en", "fr"], default="en", help="language of the pack (default en)")
    p.add_argument("--now", help="the time the figures are as of (ISO, UTC; default now): the same --now and "
                                 "state give the same pack")
    p.add_argument("--pdf", action="store_true", help="also print evidence.pdf with headless Chromium")


def compile_for_evidence(inventory: str, today: Any) -> tuple[Any, list[Any]]:
    """The model as of ``today`` and the inventory's policy errors at that date. The pipeline's stages,
    with one difference: an inventory out of policy today (an account expired or living too long, a
    contract ended, an access past its date) is evidence, not a reason to have none, so the ``policy``
    errors become gaps of the pack; every other error stops the command as it stops ``validate``."""
    from .. import allocate, validate
    from .. import inventory as loader
    from ..compile import compile_model
    from ..pipeline import gc_paused

    shown = os.path.normpath(inventory)
    with gc_paused():
        inv, diags, _ = loader.load(inventory, shown)
        lock, lock_diags = allocate.read_lock(inventory, shown)
        checks = validate.check(inv, today)
        policy = [d for d in checks if d.code == "policy"]
        errors = diags + lock_diags + [d for d in checks if d.code != "policy"]
        if errors:
            raise VendorwallError(errors, "validate")
        allocations, adiags = allocate.allocate(inv, lock)
        adiags = validate.precise(inv, adiags)
        if adiags:
            raise VendorwallError(adiags, "allocate")
        model, cdiags = compile_model(inv, allocations, today, None)
        if cdiags:
            raise VendorwallError(cdiags, "compile")
    return model, policy


def handle(args: argparse.Namespace) -> int:
    from ..alerts.cli import parse_now
    from ..state import StateDir, write_private
    from . import collect, render

    now = parse_now(args.now)
    try:
        collect.parse_period(args.period)
    except collect.PeriodError:
        raise UsageError(f"--period: not a period: {args.period!r}",
                         "a quarter 2026-Q4, a month 2026-11, a year 2026, or 2026-10-01..2026-12-31") from None
    model, out_of_policy = compile_for_evidence(args.inventory, now.date())
    pack = collect.build(model, StateDir.for_inventory(args.inventory), args.period, now,
                         out_of_policy=[{"path": d.path, "message": d.message, "found": d.found, "where": f"{d.file}:"
                                         f"{d.line}"} for d in out_of_policy])
    files = {"index.html": render.html(pack, args.lang), "print.html": render.html(pack, args.lang, printable=True),
             **render.raw_files(pack)}
    try:
        os.makedirs(args.out, exist_ok=True)
        for name, text in sorted(files.items()):
            write_private(os.path.join(args.out, name), text)
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or args.out}: {exc.strerror}",
                         "--out must be a writable directory") from None
    gaps = sum(len(m["gaps"]) for m in pack["measures"])
    ok = sum(1 for m in pack["measures"] if m["status"] == "ok")
    print(f"{args.out}: evidence for {pack['period']} ({pack['start']} to {pack['end']}, {args.lang}): "
          f"{len(pack['measures'])} measures, {ok} without gap, {gaps} gaps; index.html, print.html, "
          f"{len(render.RAW)} raw files")
    if args.pdf:
        why = render.pdf(os.path.join(args.out, "print.html"), os.path.join(args.out, "evidence.pdf"))
        print(f"{args.out}/evidence.pdf" if not why else f"no PDF: {why}")
        return 1 if why else 0
    return 0
