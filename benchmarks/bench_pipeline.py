#!/usr/bin/env python3
"""Time the vendorwall pipeline stage by stage on synthetic inventories of growing size.

    python benchmarks/bench_pipeline.py [--systems 5000 --vendors 200 --sites 20] [--repeat 3]
                                        [--sizes 1000,2500,5000] [--cache DIR] [--profile [N]]
                                        [--profile-out FILE] [--gc on|off|freeze] [--nft-check]

For each size (default 1000, 2500 and --systems; vendors scale with the size so that the mix per
vendor stays the same, sites stay fixed) it generates an inventory with gen_inventory.py (or
reuses one from --cache), runs ``vendorwall plan`` once in a subprocess to write the lock file,
then times every stage in-process, --repeat times, and reports the median wall and CPU time:

    load      YAML + JSON Schema + typed objects (inventory.load) and the lock file (read_lock)
    validate  semantic checks (validate.check)
    allocate  allocation against the lock file, plus the stale check (allocate.allocate/stale)
    compile   segments, rules, device intents (compile.compile_model)
    render    every device's configuration (render.render_all)

``core`` is validate + allocate + compile + render (the 2 s target at 5000 systems); ``total``
adds load. Per-rule costs (µs per compiled rule) at each size show a super-linear stage: a linear
stage keeps its µs/rule flat as the inventory grows.

--profile runs cProfile over the core stages of the largest size and prints the top functions.
--gc off / freeze time the stages with the cyclic garbage collector disabled / frozen after load
(what-if for the GC fix proposed in benchmarks/README.md).
--nft-check runs ``nft -c -f`` on every rendered firewall file inside a throwaway network
namespace (root only; the namespace is always deleted).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import hashlib
import io
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
try:  # the installed package, or one on PYTHONPATH (to measure a patched copy)
    import vendorwall
except ImportError:  # a plain checkout: the package beside benchmarks/
    sys.path.insert(1, os.path.dirname(HERE))
    import vendorwall

import gen_inventory  # noqa: E402

from vendorwall import allocate, inventory, render, validate  # noqa: E402
from vendorwall import compile as vwcompile  # noqa: E402

NOW = dt.date(2026, 11, 28)
STAGES = ("load", "validate", "allocate", "compile", "render")
CORE = ("validate", "allocate", "compile", "render")


@dataclass
class Run:
    systems: int
    vendors: int
    sites: int
    root: str
    wall: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    cli: dict[str, float] = field(default_factory=dict)
    nft: list[tuple[str, float, int]] = field(default_factory=list)

    def med(self, stage: str, kind: str = "wall") -> float:
        return statistics.median((self.wall if kind == "wall" else self.cpu)[stage])


def _fail(stage: str, diags: list[Any]) -> None:
    if diags:
        shown = "\n".join(d.render() if hasattr(d, "render") else str(d) for d in diags[:5])
        raise SystemExit(f"{stage}: {len(diags)} diagnostic(s) on the synthetic inventory:\n{shown}")


def run_stages(root: str, gc_mode: str = "on") -> tuple[dict[str, tuple[float, float]], dict[str, int]]:
    """One pass of the pipeline; -> {stage: (wall s, cpu s)}, counts.

    ``gc_mode``: ``on`` (Python's default), ``off`` (collector disabled for the pass) or
    ``freeze`` (gc.freeze() after load: the loaded inventory is never scanned again).
    """
    gc.collect()
    if gc_mode == "off":
        gc.disable()
    try:
        return _run_stages(root, gc_mode)
    finally:
        gc.enable()
        gc.unfreeze()
        gc.collect()


def _run_stages(root: str, gc_mode: str) -> tuple[dict[str, tuple[float, float]], dict[str, int]]:
    times: dict[str, tuple[float, float]] = {}

    def timed(stage: str, fn: Callable[[], Any]) -> Any:
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times[stage] = (time.perf_counter() - w0, time.process_time() - c0)
        return out

    def load() -> tuple[Any, Any]:
        inv, diags, _ = inventory.load(root)
        lock, ldiags = allocate.read_lock(root, root)
        _fail("load", diags + ldiags)
        return inv, lock

    inv, lock = timed("load", load)
    if gc_mode == "freeze":
        gc.freeze()
    _fail("validate", timed("validate", lambda: validate.check(inv, NOW)))

    def alloc() -> Any:
        allocs, diags = allocate.allocate(inv, lock)
        stale = allocate.stale(lock, allocs) if not diags else None
        _fail("allocate", diags + ([stale] if stale else []))
        return allocs

    allocs = timed("allocate", alloc)

    def comp() -> Any:
        model, diags = vwcompile.compile_model(inv, allocs, NOW)
        _fail("compile", diags)
        return model

    model = timed("compile", comp)

    def rend() -> Any:
        configs, diags = render.render_all(model)
        _fail("render", diags)
        return configs

    configs = timed("render", rend)
    counts = {
        "systems": len(inv.systems),
        "segments": len(model.segments),
        "rules": len(model.rules),
        "elements": sum(r.summary.get("elements", 0) for r in configs.values()),
        "devices": len(configs),
        "bytes": sum(len(r.text.encode()) for r in configs.values()),
        "input_bytes": sum(os.path.getsize(f) for f in inventory.domain_files(root)),
    }
    return times, counts


def profile_core(root: str, gc_mode: str = "on") -> cProfile.Profile:
    """cProfile of the core stages once (load runs first, unprofiled).

    With the collector on, its pauses are charged to whatever function allocates when a
    collection starts (e.g. ``ipaddress.hostmask``); ``--gc off`` shows the code's own costs.
    """
    inv, _, _ = inventory.load(root)
    lock, _ = allocate.read_lock(root, root)
    render.environment()  # templates compiled once per process: not the pipeline's cost
    gc.collect()
    if gc_mode == "off":
        gc.disable()
    elif gc_mode == "freeze":
        gc.freeze()
    prof = cProfile.Profile()
    try:
        prof.enable()
        validate.check(inv, NOW)
        allocs, _ = allocate.allocate(inv, lock)
        allocate.stale(lock, allocs)
        model, _ = vwcompile.compile_model(inv, allocs, NOW)
        render.render_all(model)
        prof.disable()
    finally:
        gc.enable()
        gc.unfreeze()
    return prof


def prepare(systems: int, vendors: int, sites: int, seed: int, base: str) -> str:
    """The inventory for these arguments, generated unless --cache holds it (keyed by the
    generator's own source, so an edited generator never reuses a stale inventory)."""
    with open(gen_inventory.__file__, "rb") as fh:
        stamp = hashlib.sha256(fh.read()).hexdigest()[:10]
    root = os.path.join(base, f"s{systems}-v{vendors}-x{sites}-seed{seed}-{stamp}")
    if not os.path.exists(os.path.join(root, "vendorwall", inventory.LOCK_FILE)):
        gen_inventory.generate(root, systems, vendors, sites, seed=seed, force=True)
    return root


def cli(args: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    w0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "vendorwall", *args], capture_output=True, text=True, check=False)
    return time.perf_counter() - w0, proc


def nft_check(run: Run, out_dir: str) -> None:
    if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"):
        print("  --nft-check: skipped (needs root, nft and ip)", file=sys.stderr)
        return
    ns = f"vwbench{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for f in sorted(os.listdir(out_dir)):
            if not f.endswith(".nft"):
                continue
            path = os.path.join(out_dir, f)
            w0 = time.perf_counter()
            p = subprocess.run(["ip", "netns", "exec", ns, "nft", "-c", "-f", path], capture_output=True, text=True,
                               check=False)
            run.nft.append((f, time.perf_counter() - w0, p.returncode))
            if p.returncode:
                print(f"  nft -c -f {path}: exit {p.returncode}\n{p.stderr[:2000]}", file=sys.stderr)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def bench(systems: int, vendors: int, sites: int, seed: int, repeat: int, base: str, do_nft: bool,
          gc_mode: str = "on") -> Run:
    root = prepare(systems, vendors, sites, seed, base)
    run = Run(systems, vendors, sites, root)
    out_dir = os.path.join(root, "build")
    t, proc = cli(["plan", root, "--out", out_dir, "--now", NOW.isoformat()])
    if proc.returncode:
        raise SystemExit(f"vendorwall plan {root}: exit {proc.returncode}\n{proc.stderr}")
    run.cli["plan"] = t
    t, proc = cli(["validate", root, "--now", NOW.isoformat()])
    if proc.returncode:
        raise SystemExit(f"vendorwall validate {root}: exit {proc.returncode}\n{proc.stderr}")
    run.cli["validate"] = t
    for _ in range(repeat):
        times, run.counts = run_stages(root, gc_mode)
        for st, (w, c) in times.items():
            run.wall.setdefault(st, []).append(w)
            run.cpu.setdefault(st, []).append(c)
        run.wall.setdefault("core", []).append(sum(times[s][0] for s in CORE))
        run.cpu.setdefault("core", []).append(sum(times[s][1] for s in CORE))
        run.wall.setdefault("total", []).append(sum(times[s][0] for s in STAGES))
        run.cpu.setdefault("total", []).append(sum(times[s][1] for s in STAGES))
    if do_nft:
        nft_check(run, out_dir)
    return run


# --------------------------------------------------------------------------- report


def report(runs: list[Run], repeat: int, gc_mode: str = "on") -> str:
    cols = [*STAGES, "core", "total"]
    lines = [f"vendorwall pipeline benchmark: median of {repeat} in-process run(s), --now {NOW.isoformat()}, "
             f"Python {sys.version.split()[0]}, {os.cpu_count()} CPU(s), gc {gc_mode}, "
             f"vendorwall from {os.path.dirname(vendorwall.__file__)}", ""]
    lines.append("Sizes")
    lines.append(f"  {'systems':>7} {'vendors':>7} {'sites':>5} {'segments':>8} {'rules':>7} {'elements':>8} "
                 f"{'devices':>7} {'input MB':>8} {'output MB':>9}")
    for r in runs:
        c = r.counts
        lines.append(f"  {r.systems:>7} {r.vendors:>7} {r.sites:>5} {c['segments']:>8} {c['rules']:>7} "
                     f"{c['elements']:>8} {c['devices']:>7} {c['input_bytes'] / 1e6:>8.2f} {c['bytes'] / 1e6:>9.2f}")
    for kind in ("wall", "cpu"):
        lines += ["", f"Stage time, {kind} (ms, median)"]
        lines.append(f"  {'systems':>7} " + " ".join(f"{c:>9}" for c in cols))
        for r in runs:
            lines.append(f"  {r.systems:>7} " + " ".join(f"{r.med(c, kind) * 1e3:>9.0f}" for c in cols))
    lines += ["", "Per-rule cost, wall (µs per compiled rule; flat = linear, growing = super-linear)"]
    lines.append(f"  {'systems':>7} {'rules':>7} " + " ".join(f"{c:>9}" for c in cols))
    for r in runs:
        n = r.counts["rules"]
        lines.append(f"  {r.systems:>7} {n:>7} " + " ".join(f"{r.med(c) * 1e6 / n:>9.1f}" for c in cols))
    if len(runs) > 1:
        a, b = runs[0], runs[-1]
        k = b.counts["rules"] / a.counts["rules"]
        lines += ["", f"Growth from {a.systems} to {b.systems} systems (rules x{k:.1f}): time ratio per stage "
                  "(≈ rules ratio = linear, ≈ its square = quadratic)"]
        lines.append("  " + "  ".join(f"{c} x{b.med(c) / max(a.med(c), 1e-9):.1f}" for c in cols))
    lines += ["", "Cold CLI runs (one subprocess each, interpreter start and imports included)"]
    for r in runs:
        lines.append(f"  {r.systems:>7} systems: vendorwall plan {r.cli['plan']:.2f} s, "
                     f"vendorwall validate {r.cli['validate']:.2f} s")
    for r in runs:
        if r.nft:
            tot = sum(t for _, t, _ in r.nft)
            bad = [f for f, _, rc in r.nft if rc]
            lines += ["", f"nft -c -f at {r.systems} systems: {len(r.nft)} firewall files, {tot:.2f} s in all, "
                      f"max {max(t for _, t, _ in r.nft):.2f} s, "
                      + (f"FAILED: {', '.join(bad)}" if bad else "all accepted")]
    return "\n".join(lines)


def profile(root: str, top: int, out: str | None, gc_mode: str = "on") -> str:
    prof = profile_core(root, gc_mode)
    if out:
        prof.dump_stats(out)
    text = []
    for key, title in (("tottime", "own time"), ("cumulative", "cumulative time")):
        buf = io.StringIO()
        st = pstats.Stats(prof, stream=buf)
        st.strip_dirs().sort_stats(key).print_stats(top)
        body = buf.getvalue()
        body = body[body.find("   ncalls"):] if "   ncalls" in body else body
        text.append(f"cProfile of the core stages (gc {gc_mode}), top {top} by {title}:\n{body.rstrip()}")
    return "\n\n".join(text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--systems", type=int, default=5000)
    p.add_argument("--vendors", type=int, default=200)
    p.add_argument("--sites", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--sizes", help="comma-separated system counts (default: 1000,2500,SYSTEMS; vendors scale)")
    p.add_argument("--cache", help="keep the generated inventories here and reuse them (default: a temp dir)")
    p.add_argument("--profile", nargs="?", const=25, type=int, metavar="N",
                   help="cProfile the core stages at the largest size, print the top N (default 25)")
    p.add_argument("--profile-out", help="also write the cProfile stats to this file (snakeviz, pstats)")
    p.add_argument("--gc", choices=["on", "off", "freeze"], default="on",
                   help="garbage collector during the timed passes: on (default), off, or frozen after load")
    p.add_argument("--nft-check", action="store_true",
                   help="nft -c -f every rendered firewall file in a throwaway network namespace (root)")
    a = p.parse_args(argv)
    if a.sizes:
        sizes = sorted({int(x) for x in a.sizes.split(",")})
    else:
        sizes = sorted({s for s in (1000, 2500) if s < a.systems} | {a.systems})
    base = a.cache or tempfile.mkdtemp(prefix="vwbench-")
    os.makedirs(base, exist_ok=True)
    runs = []
    try:
        for n in sizes:
            vendors = max(1, round(a.vendors * n / a.systems))
            print(f"... {n} systems, {vendors} vendors, {a.sites} sites", file=sys.stderr)
            runs.append(bench(n, vendors, a.sites, a.seed, a.repeat, base, a.nft_check, a.gc))
        print(report(runs, a.repeat, a.gc))
        if a.profile:
            print()
            print(profile(runs[-1].root, a.profile, a.profile_out, a.gc))
    finally:
        if not a.cache:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
