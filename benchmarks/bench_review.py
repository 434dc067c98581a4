#!/usr/bin/env python3
"""Time ``vendorwall diff`` on the 5,000-system synthetic inventory with a change touching 50 systems.

    python benchmarks/bench_review.py [--systems 5000 --vendors 200 --sites 20] [--touch 50]
                                      [--repeat 3] [--keep DIR] [--profile [N]]

Builds a git repository in a temporary directory (or --keep DIR): the inventory written by
gen_inventory.py on ``main`` (lock file by ``vendorwall plan``), and on ``change`` one merge
request touching --touch systems of many vendors: 40% gain a service, 20% turn permanent, 20%
are removed, 20% are new (the lock file updated). Then it times, --repeat times (median):

    review     both revisions read from git and compiled, compared, flagged (vendorwall.review.review)
    markdown   / json / html: rendering the report
    cli -jN    the command end to end in a fresh process (python -m vendorwall.review ... --format markdown
               --jobs N), its CPU time summed over the command and its forked worker

The goal (issue 4): the whole diff under 5 s on the 5,000-system inventory. Figures are printed,
with the per-stage split of the review (compile of each side, comparison) and how many files the
second side parsed anew (the others are shared with the first, see vendorwall/review/sides.py).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
try:
    import vendorwall  # noqa: F401
except ImportError:  # a plain checkout
    sys.path.insert(1, str(HERE.parent))

import gen_inventory  # noqa: E402

from vendorwall import plan  # noqa: E402
from vendorwall.review import as_html, as_json, as_markdown  # noqa: E402
from vendorwall.review.review import review  # noqa: E402

NOW = gen_inventory.NOW
INVENTORY = "inventories/bench"
GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid", "GIT_COMMITTER_NAME": "bench",
           "GIT_COMMITTER_EMAIL": "bench@example.invalid", "GIT_AUTHOR_DATE": "2026-11-28T09:00:00+00:00",
           "GIT_COMMITTER_DATE": "2026-11-28T09:00:00+00:00", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, check=True, capture_output=True)


def _plan(inv: Path) -> None:
    with tempfile.TemporaryDirectory() as out:
        plan.plan(str(inv), NOW, out, shown_root=INVENTORY)


def change(inv: Path, touch: int, seed: int = 7) -> dict[str, int]:
    """Edit ``touch`` systems spread over the vendors; returns how many of each kind of edit."""
    rng = random.Random(seed)
    files = sorted((inv / "vendorwall" / "vendors").glob("*.yml"))
    docs = {p: yaml.safe_load(p.read_text(encoding="utf-8")) for p in files}
    referenced = {f.get("from") or f.get("to") for d in docs.values() for v in d["vendors"].values()
                  for s in v.get("systems", []) for f in s.get("flows", [])}
    candidates = [(p, vname, s) for p, d in docs.items() for vname, v in d["vendors"].items()
                  for s in v.get("systems", []) if s["name"] not in referenced]
    picked = rng.sample(candidates, touch)
    n_serv, n_perm, n_rm = int(touch * 0.4), int(touch * 0.2), int(touch * 0.2)
    counts = {"service added": 0, "turned permanent": 0, "removed": 0, "added": 0}
    edited: set[Path] = set()
    for i, (path, vname, s) in enumerate(picked):
        edited.add(path)
        vendor = docs[path]["vendors"][vname]
        a = s["access"]
        if i < n_serv:
            extra = next(x for x in ("vnc", "snmp", "http", "sql") if x not in a["services"])
            a["services"] = [*a["services"], extra]
            counts["service added"] += 1
        elif i < n_serv + n_perm:
            for k in ("max_hours", "window"):
                a.pop(k, None)
            a.update(mode="permanent", justification="benchmark: 24/7 monitoring pilot", until="2027-06-30")
            counts["turned permanent"] += 1
        elif i < n_serv + n_perm + n_rm:
            vendor["systems"].remove(s)
            counts["removed"] += 1
        else:
            new = {k: v for k, v in s.items() if k not in ("switch_ports", "addresses", "vlan")}
            new["name"] = f"{s['name']}-new"
            new["function"] = f"{s['function']} (second unit)"
            vendor["systems"].append(new)
            counts["added"] += 1
    for p in sorted(edited):  # a merge request rewrites the files it touches, no others
        d = docs[p]
        for v in d["vendors"].values():
            if not v.get("systems"):
                v.pop("systems", None)
        p.write_text(yaml.safe_dump(d, sort_keys=False, allow_unicode=True), encoding="utf-8")
    counts["vendor files"] = len(edited)
    return counts


def build(root: Path, args: argparse.Namespace) -> tuple[Path, dict[str, int]]:
    repo = root / "repo"
    inv = repo / INVENTORY
    t = time.perf_counter()
    gen_inventory.generate(str(inv), args.systems, args.vendors, args.sites, force=True)
    _plan(inv)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "change")
    counts = change(inv, args.touch)
    _plan(inv)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "change")
    print(f"setup: {time.perf_counter() - t:.1f} s (generate, plan twice, git)", file=sys.stderr)
    return repo, counts


def _timed(fn: Any) -> tuple[float, float, Any]:
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t, time.process_time() - c, out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--systems", type=int, default=5000)
    p.add_argument("--vendors", type=int, default=200)
    p.add_argument("--sites", type=int, default=20)
    p.add_argument("--touch", type=int, default=50, help="systems the change touches (default 50)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--keep", help="build the repository in DIR and keep it (default: a temporary directory)")
    p.add_argument("--profile", nargs="?", type=int, const=25, metavar="N",
                   help="profile one review and print the top N functions")
    args = p.parse_args(argv)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-review-"))
    if args.keep and (root / "repo").exists():
        shutil.rmtree(root / "repo")
    root.mkdir(parents=True, exist_ok=True)
    try:
        repo, counts = build(root, args)
        inv = str(repo / INVENTORY)
        rows: dict[str, list[tuple[float, float]]] = {}
        stages: dict[str, list[float]] = {}
        rv = None
        for _ in range(args.repeat):
            wall, cpu, rv = _timed(lambda: review(inv, "main", "change", NOW))
            rows.setdefault("review", []).append((wall, cpu))
            for k in ("compile", "compare"):
                stages.setdefault(k, []).append(rv.timings[k])
            for name, fn in (("markdown", as_markdown.render), ("json", as_json.render), ("html", as_html.render)):
                w, c, _ = _timed(lambda fn=fn, rv=rv: fn(rv))  # type: ignore[misc]
                rows.setdefault(name, []).append((w, c))
            for jobs in ("1", "2"):
                cmd = [sys.executable, "-m", "vendorwall.review", inv, "--base", "main", "--head", "change",
                       "--now", NOW.isoformat(), "--format", "markdown", "--out", str(root / "review.md"),
                       "--jobs", jobs]
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t = time.perf_counter()
                res = subprocess.run(cmd, capture_output=True, text=True, check=False,
                                     env={**os.environ, "PYTHONPATH": str(HERE.parent)})
                wall = time.perf_counter() - t
                after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the command and its forked workers
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                rows.setdefault(f"cli -j{jobs}", []).append((wall, cpu))
                if res.returncode not in (0, 3):
                    print(res.stderr, file=sys.stderr)
                    return 1
        assert rv is not None
        print(f"inventory: {args.systems} systems, {args.vendors} vendors, {args.sites} sites; change: "
              + ", ".join(f"{n} {k}" for k, n in counts.items()))
        print(f"review: {rv.count('added')} flows added, {rv.count('removed')} removed, {rv.count('changed')} "
              f"changed ({rv.totals['flows_base']} -> {rv.totals['flows_head']}); {len(rv.touched.systems)} systems, "
              f"{len(rv.touched.vendors)} vendors touched; {len(rv.segments)} segment changes; "
              f"{len(rv.devices)} device diffs; flags {rv.flag_counts()}")
        t = rv.timings
        print(f"files parsed: {int(t['files_parsed'])} distinct ({int(t['files_shared'])} identical on both sides, "
              f"parsed once); jobs {int(t['jobs'])}")
        print(f"{'stage':10} {'wall s':>8} {'cpu s':>8}   (median of {args.repeat}; machine: {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}; review: cpu of this process only)")
        for k, v in stages.items():
            print(f"  {k:10} {statistics.median(v):8.2f}")
        for name, vals in rows.items():
            wall = statistics.median(w for w, _ in vals)
            cpu = statistics.median(c for _, c in vals)
            print(f"{name:10} {wall:8.2f} {cpu:8.2f}")
        cli_wall = statistics.median(w for w, _ in rows["cli -j2"])
        verdict = "met" if cli_wall < 5 else "NOT met"
        print(f"whole diff (cli -j2, end to end): {cli_wall:.2f} s — goal < 5 s: {verdict} "
              f"(load average now {os.getloadavg()[0]:.1f}: other processes share the CPUs)")
        print(f"report sizes: markdown {len(as_markdown.render(rv)) / 1e3:.0f} kB, json "
              f"{len(as_json.render(rv)) / 1e3:.0f} kB, html {len(as_html.render(rv)) / 1e3:.0f} kB")
        if args.profile:
            prof = cProfile.Profile()
            prof.runcall(review, inv, "main", "change", NOW)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(args.profile)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
