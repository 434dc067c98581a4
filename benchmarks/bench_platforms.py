#!/usr/bin/env python3
"""Render every firewall platform at scale, next to Aerleon's generator for the same target and intent.

    python benchmarks/bench_platforms.py [--systems 5000 --vendors 200 --sites 20] [--repeat 3]
                                         [--cache DIR] [--no-aerleon] [--meaning]

Generates a synthetic inventory (gen_inventory.py; or reuses --cache), compiles it once, then for
each firewall platform renders every firewall of the inventory on that platform (``render_as``)
and reports the median CPU seconds over --repeat runs. For the platforms Aerleon has a generator
for (nftables, FortiOS as ``fortigate``), Aerleon is fed the same flows (``vendorwall export``, one
policy per firewall, one term per rule: tests/platforms/oracle.py) and timed the same way (one run:
it is the slow side). --meaning also times reading each rendered file back into flow tuples.
Prints one line per platform: vendorwall seconds, Aerleon seconds, ratio (goal: >= 10x).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "platforms"))  # the oracle's Aerleon adapter
try:
    import vendorwall  # noqa: F401
except ImportError:
    sys.path.insert(1, REPO)

from vendorwall import export, pipeline, render  # noqa: E402
from vendorwall.platforms import registry  # noqa: E402
from vendorwall.render import meaning  # noqa: E402

AERLEON_TARGET = {"fortios": "fortigate", "nftables": "nftables", "panos": "paloalto", "asa": "ciscoasa"}
AERLEON_HEADER = {"fortigate": "from-zone any to-zone any", "nftables": "inet output",
                  "paloalto": "from-zone any to-zone any", "ciscoasa": "vw-global"}
NOW = dt.date(2026, 11, 28)


def cpu() -> float:
    return time.process_time()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--systems", type=int, default=5000)
    ap.add_argument("--vendors", type=int, default=200)
    ap.add_argument("--sites", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cache", help="directory of the generated inventory (reused when present)")
    ap.add_argument("--no-aerleon", action="store_true")
    ap.add_argument("--meaning", action="store_true", help="also time parsing each output back (meaning)")
    args = ap.parse_args()
    tmp = None
    inv = args.cache
    if inv is None:
        tmp = tempfile.TemporaryDirectory(prefix="vw-bench-platforms-")
        inv = os.path.join(tmp.name, "inv")
    if not os.path.exists(os.path.join(inv, "hosts.yml")):
        subprocess.run([sys.executable, os.path.join(HERE, "gen_inventory.py"), inv, "--systems", str(args.systems),
                        "--vendors", str(args.vendors), "--sites", str(args.sites)], check=True)
        subprocess.run([sys.executable, "-m", "vendorwall", "plan", inv, "--now", NOW.isoformat(), "--out",
                        os.path.join(inv, "..", "out")], check=True, stdout=subprocess.DEVNULL)
    res = pipeline.run(inv, NOW, check_lock=False, do_render=False)
    fws = sorted(d for d, i in res.model.devices.items() if i.role == "firewall")
    rules = sum(len(res.model.devices[d].rules) for d in fws)
    print(f"inventory: {len(res.inventory.systems)} systems, {len(fws)} firewalls, {rules} firewall rules; "
          f"load {os.getloadavg()[0]:.2f}")
    data = export.to_data(res.model) if not args.no_aerleon else {}
    for plat in registry.platforms_for_role("firewall"):
        if not registry.get(plat).renderer:
            continue
        times = []
        out: dict[str, str] = {}
        for _ in range(args.repeat):
            t = cpu()
            for d in fws:
                r, diags = render.render_as(res.model, d, plat)
                assert r is not None and not diags, [x.render() for x in diags]
                out[d] = r.text
            times.append(cpu() - t)
        ours = statistics.median(times)
        size = sum(len(x) for x in out.values())
        line = f"{plat:<12} vendorwall {ours:7.2f} CPU-s ({size / 1e6:.1f} MB)"
        if args.meaning and plat != "nftables":
            t = cpu()
            for d in fws:
                meaning.meaning_of(plat, out[d])
            line += f"   meaning {cpu() - t:6.2f} CPU-s"
        target = AERLEON_TARGET.get(plat)
        if target and not args.no_aerleon:
            import oracle

            t = cpu()
            for d in fws:
                flows = oracle.firewall_flows(data, d)
                oracle.aerleon_generate(flows, d, target)
            theirs = cpu() - t
            line += f"   aerleon {target} {theirs:7.2f} CPU-s   ratio {theirs / ours:5.1f}x"
        print(line, flush=True)
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
