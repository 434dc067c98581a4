#!/usr/bin/env python3
"""Time vendorwall on synthetic inventories of growing size, as a user runs it, beside Aerleon.

    python benchmarks/bench_pipeline.py [--sizes 1000,5000,10000,20000,50000] [--repeat 3] [--aerleon]
                                        [--cache DIR] [--stages] [--profile [N]] [--gc off|on|freeze]
                                        [--nft-check]

**Whole processes** (the default table): for each size (vendors scale with the size, 25 systems per
vendor; 20 sites) it generates an inventory with gen_inventory.py (or reuses one from --cache) and
runs, each --repeat times, as subprocesses, reporting the median wall time, CPU time (user+sys of
the process and its children) and maximum RSS, with the machine's load average:

    plan        ``vendorwall plan`` from scratch: no output directory, no cache (a CI runner)
    plan again  the same command once more, nothing changed (outputs and cache in place)
    validate    ``vendorwall validate`` (the cache the plans filled: parsed files and rendered devices; what an
                editor or a pre-commit hook sees after an edit)
    validate again  the same once more, nothing changed: answered from the cache's ``valid`` entry
    validate 0  ``vendorwall validate`` with an empty cache
    aerleon     --aerleon: Aerleon's nftables generator on the same intent (``vendorwall export``
                turned into an Aerleon policy by aerleon_policy.py; its API in one process, no YAML)
    aclgen      --aerleon: the same with Aerleon's command line on the YAML policy files

Everything vendorwall does is timed: manifest, lock file, file writes, interpreter start.

**Stages** (--stages): the pipeline stage by stage in-process (load, validate, allocate, compile,
render), --repeat times, with the collector paused as the command line pauses it (--gc on/freeze
for what-ifs); per-rule costs show a super-linear stage. --profile runs cProfile over one whole
in-process ``plan`` at the largest size. --nft-check runs ``nft -c -f`` on every rendered firewall
file inside a throwaway network namespace (root only; the namespace is always deleted).
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
    procs: dict[str, list[Proc]] = field(default_factory=dict)

    def med(self, stage: str, kind: str = "wall") -> float:
        return statistics.median((self.wall if kind == "wall" else self.cpu)[stage])


def _fail(stage: str, diags: list[Any]) -> None:
    if diags:
        shown = "\n".join(d.render() if hasattr(d, "render") else str(d) for d in diags[:5])
        raise SystemExit(f"{stage}: {len(diags)} diagnostic(s) on the synthetic inventory:\n{shown}")


def run_stages(root: str, gc_mode: str = "off") -> tuple[dict[str, tuple[float, float]], dict[str, int]]:
    """One pass of the pipeline; -> {stage: (wall s, cpu s)}, counts.

    ``gc_mode``: ``off`` (collector disabled for the pass, as the command line does), ``on``
    (Python's default) or ``freeze`` (gc.freeze() after load: the loaded inventory is never scanned again).
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


def profile_plan(root: str, out: str) -> cProfile.Profile:
    """cProfile of one whole in-process ``plan`` (pipeline, manifest, lock, file writes), as the CLI runs it."""
    from vendorwall import plan

    render.environment()  # templates compiled once per process: not the pipeline's cost
    prof = cProfile.Profile()
    prof.enable()
    plan.plan(root, NOW, out)
    prof.disable()
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


@dataclass
class Proc:
    """One whole process: wall and CPU seconds (user+sys, its children included), max RSS, load average."""

    wall: float
    cpu: float
    rss_mb: float
    load: float


STATE: dict[str, str] = {}  # the environment of the measured commands: a state directory of the benchmark's own


def measure(cmd: list[str], cwd: str | None = None) -> Proc:
    load = os.getloadavg()[0]
    with tempfile.TemporaryFile() as err:
        w0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, cwd=cwd, env={**os.environ, **STATE})
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - w0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode:
            err.seek(0)
            raise SystemExit(f"{' '.join(cmd)}: exit {p.returncode}\n{err.read().decode(errors='replace')[-3000:]}")
    return Proc(wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, load)


def vw(*args: str) -> list[str]:
    return [sys.executable, "-m", "vendorwall", *args]


def cli(args: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    w0 = time.perf_counter()
    proc = subprocess.run(vw(*args), capture_output=True, text=True, check=False)
    return time.perf_counter() - w0, proc


COLUMNS = ("plan", "plan again", "validate", "validate again", "validate 0", "aerleon", "aclgen")


def whole(run: Run, repeat: int, aerleon: bool, base: str) -> None:
    """The whole-process table's cells for one size (see the module docstring)."""
    root = run.root
    out, cache = os.path.join(base, f"out-{run.systems}"), os.path.join(base, f"cache-{run.systems}")
    now = ["--now", NOW.isoformat()]
    for _ in range(repeat):
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
        run.procs.setdefault("plan", []).append(measure(vw("plan", root, "--out", out, "--cache-dir", cache, *now)))
        run.procs.setdefault("plan again", []).append(
            measure(vw("plan", root, "--out", out, "--cache-dir", cache, *now)))
        run.procs.setdefault("validate", []).append(measure(vw("validate", root, "--cache-dir", cache, *now)))
        run.procs.setdefault("validate again", []).append(
            measure(vw("validate", root, "--cache-dir", cache, *now)))
        run.procs.setdefault("validate 0", []).append(measure(vw("validate", root, "--no-cache", *now)))
    if not aerleon:
        return
    import aerleon_policy

    pol = os.path.join(base, f"aerleon-{run.systems}")
    if not os.path.exists(os.path.join(pol, "api.json")):
        exported = subprocess.run(vw("export", root, *now), capture_output=True, text=True, check=True,
                                  env={**os.environ, **STATE}).stdout
        import json

        run.counts["terms"] = aerleon_policy.write(json.loads(exported), pol)["terms"]
    for _ in range(repeat):
        shutil.rmtree(os.path.join(pol, "out-api"), ignore_errors=True)
        shutil.rmtree(os.path.join(pol, "out-cli"), ignore_errors=True)
        run.procs.setdefault("aerleon", []).append(
            measure([sys.executable, aerleon_policy.__file__, "--generate", pol]))
        aclgen = shutil.which("aclgen") or os.path.join(os.path.dirname(sys.executable), "aclgen")
        run.procs.setdefault("aclgen", []).append(
            measure([aclgen, "--base_directory", os.path.join(pol, "policies"), "--definitions_directory",
                     os.path.join(pol, "def"), "--output_directory", os.path.join(pol, "out-cli")]))


def report_whole(runs: list[Run], repeat: int) -> str:
    cols = [c for c in COLUMNS if any(c in r.procs for r in runs)]
    lines = [f"Whole processes: median of {repeat}; wall s / CPU s / max RSS MB; load = the 1-minute load average "
             f"when each run started (min-max), on {os.cpu_count()} CPU(s)", ""]
    lines.append(f"  {'systems':>7} " + " ".join(f"{c:>22}" for c in cols) + f" {'load':>9}")
    for r in runs:
        cells = []
        for c in cols:
            ps = r.procs.get(c)
            if not ps:
                cells.append(f"{'-':>22}")
                continue
            w, u, m = (statistics.median(getattr(p, k) for p in ps) for k in ("wall", "cpu", "rss_mb"))
            cells.append(f"{w:>7.2f} /{u:>6.2f} /{m:>6.0f}")
        loads = [p.load for ps in r.procs.values() for p in ps]
        lines.append(f"  {r.systems:>7} " + " ".join(cells) + f" {min(loads):>4.1f}-{max(loads):<4.1f}")
    if any("aerleon" in r.procs for r in runs):
        lines += ["", "plan CPU / Aerleon CPU on the same intent (< 1: vendorwall is faster; the goal at 5,000 "
                  "systems is <= 0.1)"]
        for r in runs:
            if "aerleon" in r.procs:
                pc = statistics.median(p.cpu for p in r.procs["plan"])
                ac = statistics.median(p.cpu for p in r.procs["aerleon"])
                gc_ = statistics.median(p.cpu for p in r.procs["aclgen"]) if "aclgen" in r.procs else float("nan")
                again = statistics.median(p.cpu for p in r.procs["plan again"])
                lines.append(f"  {r.systems:>7} systems ({r.counts.get('terms', 0)} Aerleon terms): plan "
                             f"{pc / ac:.3f} of the API, {pc / gc_:.3f} of aclgen; plan again {again / ac:.3f}")
    if len(runs) > 1:
        a, b = runs[0], runs[-1]
        lines += ["", f"Growth exponent from {a.systems} to {b.systems} systems (log time ratio / log size ratio; "
                  "1 = linear), CPU time"]
        import math

        k = math.log(b.systems / a.systems)
        parts = []
        for c in cols:
            if c in a.procs and c in b.procs:
                ta = statistics.median(p.cpu for p in a.procs[c])
                tb = statistics.median(p.cpu for p in b.procs[c])
                parts.append(f"{c} {math.log(tb / ta) / k:.2f}")
        lines.append("  " + ", ".join(parts))
    return "\n".join(lines)


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


def bench(systems: int, vendors: int, sites: int, seed: int, repeat: int, base: str, *, stages: bool,
          aerleon: bool, do_nft: bool, gc_mode: str = "off") -> Run:
    root = prepare(systems, vendors, sites, seed, base)
    run = Run(systems, vendors, sites, root)
    whole(run, repeat, aerleon, base)
    if stages or do_nft:
        for _ in range(repeat if stages else 1):
            times, counts = run_stages(root, gc_mode)
            run.counts.update(counts)
            for st, (w, c) in times.items():
                run.wall.setdefault(st, []).append(w)
                run.cpu.setdefault(st, []).append(c)
            run.wall.setdefault("core", []).append(sum(times[s][0] for s in CORE))
            run.cpu.setdefault("core", []).append(sum(times[s][1] for s in CORE))
            run.wall.setdefault("total", []).append(sum(times[s][0] for s in STAGES))
            run.cpu.setdefault("total", []).append(sum(times[s][1] for s in STAGES))
    if do_nft:
        nft_check(run, os.path.join(base, f"out-{systems}"))
    return run


# --------------------------------------------------------------------------- report


def report(runs: list[Run], repeat: int, gc_mode: str = "off") -> str:
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
    for r in runs:
        if r.nft:
            tot = sum(t for _, t, _ in r.nft)
            bad = [f for f, _, rc in r.nft if rc]
            lines += ["", f"nft -c -f at {r.systems} systems: {len(r.nft)} firewall files, {tot:.2f} s in all, "
                      f"max {max(t for _, t, _ in r.nft):.2f} s, "
                      + (f"FAILED: {', '.join(bad)}" if bad else "all accepted")]
    return "\n".join(lines)


def profile(root: str, top: int, out: str | None, base: str) -> str:
    prof = profile_plan(root, os.path.join(base, "out-profile"))
    if out:
        prof.dump_stats(out)
    text = []
    for key, title in (("tottime", "own time"), ("cumulative", "cumulative time")):
        buf = io.StringIO()
        st = pstats.Stats(prof, stream=buf)
        st.strip_dirs().sort_stats(key).print_stats(top)
        body = buf.getvalue()
        body = body[body.find("   ncalls"):] if "   ncalls" in body else body
        text.append(f"cProfile of one in-process plan, top {top} by {title}:\n{body.rstrip()}")
    return "\n\n".join(text)


def sizes_table(runs: list[Run]) -> str:
    lines = ["Sizes (25 systems per vendor, 20 sites, seed 1)",
             f"  {'systems':>7} {'vendors':>7} {'input MB':>8} {'segments':>8} {'rules':>7} {'Aerleon terms':>13}"]
    for r in runs:
        c = r.counts
        lines.append(f"  {r.systems:>7} {r.vendors:>7} {c.get('input_bytes', 0) / 1e6:>8.1f} "
                     f"{c.get('segments', 0):>8} {c.get('rules', 0):>7} {c.get('terms', 0):>13}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000,5000,10000,20000",
                   help="comma-separated system counts (default 1000,5000,10000,20000; add 50000 for a GHT)")
    p.add_argument("--sites", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--cache", help="keep the generated inventories here and reuse them (default: a temp dir)")
    p.add_argument("--aerleon", action="store_true",
                   help="also time Aerleon's nftables generator on the same intent (pip install aerleon)")
    p.add_argument("--aerleon-max", type=int, default=20000, metavar="N",
                   help="run Aerleon only up to N systems (default 20000: it takes minutes beyond)")
    p.add_argument("--stages", action="store_true", help="also time each stage in-process")
    p.add_argument("--profile", nargs="?", const=25, type=int, metavar="N",
                   help="cProfile one in-process plan at the largest size, print the top N (default 25)")
    p.add_argument("--profile-out", help="also write the cProfile stats to this file (snakeviz, pstats)")
    p.add_argument("--gc", choices=["on", "off", "freeze"], default="off",
                   help="collector during the --stages passes: off (default, as the command line), on, or "
                        "frozen after load")
    p.add_argument("--nft-check", action="store_true",
                   help="nft -c -f every rendered firewall file in a throwaway network namespace (root)")
    a = p.parse_args(argv)
    sizes = sorted({int(x) for x in a.sizes.split(",")})
    base = a.cache or tempfile.mkdtemp(prefix="vwbench-")
    os.makedirs(base, exist_ok=True)
    STATE["VENDORWALL_STATE_DIR"] = os.path.join(base, "state")
    runs = []
    print(f"vendorwall benchmark: --now {NOW.isoformat()}, Python {sys.version.split()[0]}, {os.cpu_count()} CPU(s), "
          f"vendorwall from {os.path.dirname(vendorwall.__file__)}, load average at start "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    try:
        for n in sizes:
            vendors = max(1, n // 25)
            print(f"... {n} systems, {vendors} vendors, {a.sites} sites", file=sys.stderr)
            runs.append(bench(n, vendors, a.sites, a.seed, a.repeat, base, stages=a.stages,
                              aerleon=a.aerleon and n <= a.aerleon_max,
                              do_nft=a.nft_check, gc_mode=a.gc))
            run = runs[-1]
            if "rules" not in run.counts:
                _, counts = run_stages(run.root)
                run.counts.update(counts)
        print()
        print(sizes_table(runs))
        print()
        print(report_whole(runs, a.repeat))
        if a.stages:
            print()
            print(report(runs, a.repeat, a.gc))
        if a.profile:
            print()
            print(profile(runs[-1].root, a.profile, a.profile_out, base))
    finally:
        if not a.cache:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
