"""``vendorwall journal verify|keygen``: check a journal against its key and its anchors; make a key.

    vendorwall journal verify INVENTORY --name access [--devices] [--anchors FILE ...] [connection options]
    vendorwall journal verify path/to/journal.jsonl [--anchors FILE ...]
    vendorwall journal keygen --out /etc/vendorwall/journal.key | --print

``--devices`` reads the anchors kept on the inventory's Linux devices (nftables firewalls, bastions; the
``anchor`` agent); ``--anchors`` reads them from any text holding ``journal=ID seq=N hash=H`` lines (an
export of the remote syslog). Exit 0 intact, 1 a problem, 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from . import journal


def register(subparsers: Any) -> None:
    from .devices.cli import add_connection_options

    p = subparsers.add_parser("journal", help="verify a journal against its key and anchors; make a journal key")
    sub = p.add_subparsers(dest="journal_command", metavar="ACTION", required=True)
    v = sub.add_parser("verify", help="chain, MACs, a cut tail, anchors on the devices or in a syslog export")
    v.add_argument("target", help="a journal file, or an inventory directory (with --name)")
    v.add_argument("--name", help="the journal of the inventory's state directory: incident, access, ...")
    v.add_argument("--anchors", action="append", default=[], metavar="FILE",
                   help="a text file with 'journal=ID seq=N hash=H' lines (a syslog export; repeatable)")
    v.add_argument("--devices", action="store_true",
                   help="also read the anchors kept on the inventory's firewalls and bastions")
    v.add_argument("--now", help=argparse.SUPPRESS)
    add_connection_options(v)
    k = sub.add_parser("keygen", help="a new random journal key (32 bytes, hex)")
    g = k.add_mutually_exclusive_group(required=True)
    g.add_argument("--out", help=f"write it to this file, 0400, never overwritten (e.g. {journal.DEFAULT_KEY_FILE})")
    g.add_argument("--print", action="store_true", help="print it (to store as an AWX/AAP credential: "
                                                        f"{journal.KEY_ENV})")


def handle(args: argparse.Namespace) -> int:
    from .errors import UsageError

    if args.journal_command == "keygen":
        if args.print:
            print(journal.keygen(None))
            return 0
        try:
            journal.keygen(args.out)
        except FileExistsError:
            raise UsageError(f"{args.out} exists: a journal key is never overwritten",
                             "keep it (journals written with it verify only with it) or move it away first") from None
        print(f"{args.out}: new journal key (0400); every journal entry is authenticated with it from now on")
        return 0
    inventory = ""
    if os.path.isdir(args.target):
        if not args.name:
            raise UsageError("--name: which journal of the inventory (incident, access, ...)?",
                             "e.g. vendorwall journal verify INVENTORY --name access")
        from .state import StateDir

        inventory = args.target
        path = StateDir.for_inventory(inventory).journal(args.name)
    else:
        path = args.target
    if args.devices and not inventory:
        raise UsageError("--devices needs an inventory directory (the devices to read the anchors from)",
                         "vendorwall journal verify INVENTORY --name NAME --devices")
    jid = journal.identity(path)
    anchors: list[journal.Anchor] = []
    others: dict[str, int] = {}
    for f in args.anchors:
        try:
            with open(f, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError as exc:
            raise UsageError(f"--anchors {f}: {exc.strerror}", "an export of the remote syslog") from None
        anchors += journal.parse_anchors(text, jid, f"anchors file {f}")
        for k, n in journal.other_journals(text, jid).items():
            others[k] = max(others.get(k, 0), n)
    unread: dict[str, str] = {}
    if args.devices:
        got, more, unread = _device_anchors(args, inventory, path)
        anchors += got
        for k, n in more.items():
            others[k] = max(others.get(k, 0), n)
    v = journal.check(path, anchors=anchors if (args.devices or args.anchors) else None, others=others)
    for p in v.problems:
        print(f"{path}: {p}")
    for d, err in sorted(unread.items()):
        print(f"{path}: note: anchors of {d} not read: {err}")
    for note in v.notes:
        print(f"{path}: note: {note}")
    if not v.problems:
        print(f"{path}: intact ({v.entries} entries)")
    return 1 if v.problems else 0


def _device_anchors(args: argparse.Namespace, inventory: str,
                    path: str) -> tuple[list[journal.Anchor], dict[str, int], dict[str, str]]:
    from . import pipeline
    from .access.cli import _options, today
    from .access.devices import targets
    from .devices import anchors

    model = pipeline.run(inventory, today(args), check_lock=False, do_render=False).model
    inv = model.inventory
    names = sorted(n for n, d in inv.devices.items() if d.platform in ("nftables", "linux"))
    if args.lab_dir:  # a lab runs the bastions it was given only
        from .lab import bastion

        bst = bastion.BastionState.load(os.path.abspath(args.lab_dir))
        names = [n for n in names if inv.devices[n].role != "bastion" or (bst and n in bst.bastions)]
    return anchors.read(targets(inv, names, _options(args)), path)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(0)
