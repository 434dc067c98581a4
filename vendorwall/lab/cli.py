"""``vendorwall lab up|deploy|test|down|status INVENTORY``: wired into vendorwall/cli.py by

    from .lab import cli as lab_cli
    _EXTENSIONS.append(("lab", lab_cli.register))
    _COMMANDS["lab"] = lab_cli.handle

Exit codes: 0 ok, 1 a failed run (a device failed, a probe mismatched), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("lab", help="a network-namespace lab built from the inventory (root)")
    p.add_argument("action", choices=["up", "deploy", "test", "down", "status"])
    p.add_argument("inventory", help="inventory directory (hosts.yml + vendorwall/)")
    p.add_argument("--now", help="the date to compile for (YYYY-MM-DD; default: today, UTC) [up]")
    p.add_argument("--lab-dir", help="lab directory (default: build/lab/<inventory name>)")
    p.add_argument("--id", dest="lab_id", help="lab id: namespaces are named vw<id>-... (default: from the path)")
    p.add_argument("--check", action="store_true", help="deploy: show what would change, change nothing")
    p.add_argument("--diff", action="store_true", help="deploy: print the unified diff per device")
    p.add_argument("--confirm-seconds", type=int, default=60, help="deploy: commit-confirm timer (default 60)")
    p.add_argument("--seed", type=int, default=1, help="test: seed of the forbidden sample")
    p.add_argument("--sample", type=int, default=25, help="test: forbidden probes per category (default 25)")
    p.add_argument("--timeout", type=float, default=1.0, help="test: seconds per probe (default 1)")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.add_argument("--as-platform", metavar="PLATFORM",
                   help="deploy: load each firewall with what PLATFORM's rendered policy means (e.g. fortios), "
                        "so that 'lab test' probes that platform's meaning with real packets")


# option -> the actions it means something for; any other action refuses it (never silently ignored)
ONLY_FOR = {"now": ("up",), "lab_id": ("up", "down"), "check": ("deploy",), "diff": ("deploy",),
            "confirm_seconds": ("deploy",), "as_platform": ("deploy",), "seed": ("test",), "sample": ("test",),
            "timeout": ("test",), "json": ("up", "down", "deploy", "test")}
FLAGS = {"now": "--now", "lab_id": "--id", "check": "--check", "diff": "--diff", "confirm_seconds": "--confirm-seconds",
         "as_platform": "--as-platform", "seed": "--seed", "sample": "--sample", "timeout": "--timeout",
         "json": "--json"}
DEFAULTS = {"now": None, "lab_id": None, "check": False, "diff": False, "confirm_seconds": 60, "as_platform": None,
            "seed": 1, "sample": 25, "timeout": 1.0, "json": False}


def irrelevant(args: argparse.Namespace) -> list[str]:
    """The options given that mean nothing for ``args.action`` (e.g. ``lab up --check``)."""
    return [FLAGS[k] for k, actions in ONLY_FOR.items()
            if args.action not in actions and getattr(args, k, DEFAULTS[k]) != DEFAULTS[k]]


def ready_for_test(state: Any) -> None:
    """``lab test`` needs the lab of the inventory as it is now, deployed: say what to run otherwise
    (before: an inventory edited since ``lab up``, or no ``lab deploy`` yet, was an internal error)."""
    import datetime as dt
    import subprocess

    from .. import pipeline
    from ..errors import UsageError
    from .topology import build

    res = pipeline.run(state.inventory, dt.date.fromisoformat(state.now), check_lock=False, do_render=False)
    topo = build(res.model, state.lab_id)
    added, gone = sorted(set(topo.namespaces) - set(state.namespaces)), sorted(set(state.namespaces) -
                                                                             set(topo.namespaces))
    places = {str(k): [v[0], str(v[1])] for k, v in topo.places.items()}
    if added or gone or places != state.places:
        what = ", ".join(filter(None, [f"{len(added)} namespace(s) to add" if added else "",
                                       f"{len(gone)} to remove" if gone else "",
                                       "segments moved" if not (added or gone) else ""]))
        raise UsageError(f"the inventory changed since 'lab up' ({what}): this lab no longer models it",
                         f"rebuild and deploy it: vendorwall lab up {state.inventory} && "
                         f"vendorwall lab deploy {state.inventory}, then vendorwall lab test {state.inventory}")
    bare = []
    for dev, fw in sorted(state.firewalls.items()):
        out = subprocess.run(["ip", "netns", "exec", fw["netns"], "nft", "list", "tables"], capture_output=True,
                             text=True, check=False)
        if "inet vendorwall\n" not in out.stdout + "\n":
            bare.append(dev)
    if bare:
        raise UsageError(f"nothing deployed on {', '.join(bare)}: there is no policy to test yet",
                         f"vendorwall lab deploy {state.inventory}, then vendorwall lab test {state.inventory}")


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _shown_path(path: str) -> str:
    """``path`` relative to the working directory when below it, else absolute (no ../../.. chains)."""
    rel = os.path.relpath(path)
    return path if rel.startswith(os.pardir) else rel


def handle(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from . import runner

    bad = irrelevant(args)
    if bad:
        raise UsageError(f"lab {args.action}: {', '.join(bad)} {'does' if len(bad) == 1 else 'do'} not apply here",
                         "; ".join(f"{FLAGS[k]} is for: lab {'/'.join(ONLY_FOR[k])}" for k in ONLY_FOR
                                   if FLAGS[k] in bad))
    if os.geteuid() != 0:
        raise UsageError("vendorwall lab needs root (network namespaces, nftables)", "run it as root")
    lab_dir = os.path.abspath(args.lab_dir or runner.default_lab_dir(args.inventory))
    if args.action == "up":
        from ..cli import parse_now

        state = runner.up(args.inventory, lab_dir=lab_dir, lab_id=args.lab_id,
                          now=parse_now(args.now), progress=_say)
        print(json.dumps(state.timings) if args.json else
              f"lab {state.lab_id} up in {lab_dir}\n"
              f"playbooks: -e @{_shown_path(runner.ansible_vars_path(state))}   command line: --lab-dir "
              f"{_shown_path(lab_dir)}")
        return 0
    if args.action == "down":
        prefix = f"vw{args.lab_id}-" if args.lab_id else None
        counts = runner.down(lab_dir, prefix, progress=_say, only=bool(prefix))
        if args.json:
            print(json.dumps(counts))
        return 0
    loaded = runner.LabState.load(lab_dir)
    if loaded is None:
        raise UsageError(f"no lab in {lab_dir}", f"start one: vendorwall lab up {args.inventory}")
    state = loaded
    if args.action == "status":
        print(json.dumps({"lab_id": state.lab_id, "namespaces": len(state.namespaces),
                          "firewalls": state.firewalls, "switches": state.switches, "pids": state.pids,
                          "timings": state.timings, "notes": state.notes,
                          "ansible_vars": runner.ansible_vars_path(state)}, indent=1))
        return 0
    if args.action == "deploy":
        t = time.monotonic()
        _say(f"deploy{' (check mode)' if args.check else ''} to {len(state.firewalls)} firewalls and "
             f"{len(state.switches)} switches")
        configs = None
        if args.as_platform:
            configs = {**runner.render_as_platform(state, args.as_platform),
                       **{d: t for d, t in runner.render(state, switches=True).items() if d in state.switches}}
            _say(f"firewalls loaded with the meaning of their {args.as_platform} policy")
        results = runner.deploy(state, check=args.check, confirm_s=args.confirm_seconds, progress=_say,
                                configs=configs)
        took = time.monotonic() - t
        if args.json:
            print(json.dumps({"seconds": round(took, 3), "results": [r.to_data() for r in results]}, indent=1))
        else:
            for r in results:
                if args.diff and r.diff:
                    print(r.diff, end="")
            changed = sum(r.changed for r in results)
            failed = [r for r in results if r.failed]
            print(f"deploy: {len(results)} devices, {changed} {'would change' if args.check else 'changed'}, "
                  f"{len(failed)} failed, {took:.1f} s")
            for r in failed:
                print(f"  {r.error}")
        return 1 if any(r.failed for r in results) else 0
    from . import probe

    ready_for_test(state)
    report = probe.run(state, seed=args.seed, sample=args.sample, timeout=args.timeout, progress=_say)
    if args.json:
        print(json.dumps({"counts": report.counts(), "skipped": dict(report.skipped),
                          "mismatches": [{"category": o.probe.category, "src": o.probe.src, "dst": o.probe.dst,
                                          "proto": o.probe.proto, "port": o.probe.port,
                                          "expected": o.probe.expect, "detail": o.detail, "flow": o.probe.flow}
                                         for o in report.mismatches],
                          "seconds": round(report.seconds, 3)}, indent=1))
    else:
        print(report.text())
    return 1 if report.mismatches else 0
