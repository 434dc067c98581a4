"""``vendorwall diff INVENTORY --base REV [--head REV] --format markdown|json|html``.

Wired into vendorwall/cli.py by::

    from .review import cli as review_cli
    _EXTENSIONS.append(("diff", review_cli.register))
    _COMMANDS["diff"] = review_cli.handle

Exit codes: 0 reviewed (no flag at or above ``--fail-on``), 2 bad input (not a git repository,
unknown revision, a side whose inventory does not validate, bad option), 3 a risk flag at or
above ``--fail-on``. The report is written in every case where there is one (exit 0 or 3).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

FORMATS = ("markdown", "json", "html")
EXTENSIONS = {"markdown": ".md", "json": ".json", "html": ".html"}
EXIT_FLAGGED = 3


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "diff", help="review an inventory change: access, network, devices, risk flags, isolation impact",
        description="Compile the inventory at two git revisions and report what the change opens, closes and "
                    "risks. The base is read from git without touching the working tree; the head defaults to "
                    "the working tree as it is on disk (uncommitted and untracked files included).")
    p.add_argument("inventory", help="inventory directory inside a git repository (hosts.yml + vendorwall/)")
    p.add_argument("--base", required=True, metavar="REV",
                   help="base revision (branch, tag, commit), e.g. origin/main")
    p.add_argument("--head", metavar="REV",
                   help="head revision (default: the working tree, uncommitted changes included)")
    p.add_argument("--format", choices=FORMATS, default="markdown", help="report format (default markdown)")
    p.add_argument("--out", metavar="FILE", help="write the report to FILE instead of standard output")
    p.add_argument("--save", action="append", default=[], metavar="FORMAT=FILE",
                   help="also write another format from the same run, e.g. --save json=review.json (repeatable)")
    p.add_argument("--fail-on", choices=("high", "medium", "low"), metavar="SEVERITY",
                   help="exit 3 when a risk flag of this severity or higher exists (high, medium or low)")
    p.add_argument("--now", help="the date both sides are compiled for (YYYY-MM-DD; default: today, UTC)")
    p.add_argument("--blast-radius", type=int, default=10, metavar="N",
                   help="flag a change giving vendor access to N or more systems at once (default 10)")
    p.add_argument("--contract-warning-days", type=int, default=90, metavar="DAYS",
                   help="flag a touched vendor whose contract ends within DAYS (default 90)")
    p.add_argument("--jobs", type=int, choices=(1, 2), metavar="N",
                   help="compile the two sides in 1 or 2 processes (default: 2 with two CPUs or more); the report "
                        "is the same")
    p.add_argument("--diff-lines", type=int, default=200, metavar="N",
                   help="markdown: show at most N diff lines per device (0: all; default 200)")
    p.add_argument("--isolation-record", metavar="FILE",
                   help="the isolation record (isolation.json) to flag changes of isolated vendors (default: the "
                        "inventory's state directory, when it has one)")
    p.add_argument("--max-chars", type=int, default=0, metavar="N",
                   help="markdown: keep the comment under N characters by leaving out folded sections, largest "
                        "first (0: no limit; GitHub comments hold 65536, GitLab notes 1000000)")


def _saves(items: list[str]) -> list[tuple[str, str]]:
    from ..errors import UsageError

    out = []
    for item in items:
        fmt, sep, path = item.partition("=")
        if not sep or fmt not in FORMATS or not path:
            raise UsageError(f"--save: expected FORMAT=FILE with FORMAT one of {', '.join(FORMATS)}",
                             "e.g. --save json=review.json --save html=review.html")
        out.append((fmt, path))
    return out


def render(rv: Any, fmt: str, fail_on: str | None, diff_lines: int = 200, max_chars: int = 0) -> str:
    from . import as_html, as_json, as_markdown

    if fmt == "json":
        return as_json.render(rv, fail_on)
    if fmt == "html":
        return as_html.render(rv, fail_on)
    return as_markdown.render(rv, fail_on, diff_lines, max_chars)


def _write(path: str, text: str) -> None:
    from ..errors import UsageError

    try:
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}", "check the path and its permissions") from None


def _isolation(args: argparse.Namespace) -> Any:
    """The isolation record: --isolation-record, else the inventory's state directory's (absent: none). One that
    cannot be read is said on standard error; the review goes on without it (it reports, it changes nothing)."""
    from ..errors import UsageError
    from ..isolate import isolated

    if args.isolation_record:
        return isolated.read(args.isolation_record)
    path = isolated.path_of(args.inventory)
    try:
        return isolated.read(path)
    except UsageError as exc:
        print(f"warning: {exc.message}: changes of isolated vendors are not flagged", file=sys.stderr)
        return None


def handle(args: argparse.Namespace) -> int:
    from ..cli import parse_now
    from ..errors import UsageError
    from .review import review
    from .risk import Settings

    if args.blast_radius < 1 or min(args.contract_warning_days, args.diff_lines, args.max_chars) < 0:
        raise UsageError("--blast-radius must be at least 1; --contract-warning-days, --diff-lines and --max-chars "
                         "at least 0", "see 'vendorwall diff --help'")
    saves = _saves(args.save)
    settings = Settings(blast_radius=args.blast_radius, contract_warning_days=args.contract_warning_days)
    rv = review(args.inventory, args.base, args.head, parse_now(args.now), settings, args.jobs,
                _isolation(args))
    text = render(rv, args.format, args.fail_on, args.diff_lines, args.max_chars)
    if args.out:
        _write(args.out, text)
    else:
        sys.stdout.write(text)
    for fmt, path in saves:
        _write(path, render(rv, fmt, args.fail_on, args.diff_lines, args.max_chars))
    counts = rv.flag_counts()
    failed = rv.fails(args.fail_on)
    if args.out or saves:
        print(f"vendorwall diff: {rv.count('added')} flows added, {rv.count('removed')} removed, "
              f"{rv.count('changed')} changed; flags {counts['high']} high, {counts['medium']} medium, "
              f"{counts['low']} low{'; fails --fail-on ' + args.fail_on if failed else ''}", file=sys.stderr)
    return EXIT_FLAGGED if failed else 0
