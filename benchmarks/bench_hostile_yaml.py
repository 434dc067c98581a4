#!/usr/bin/env python3
"""How long vendorwall takes to refuse hostile YAML (goal: well under 1 s each), in process.

    python benchmarks/bench_hostile_yaml.py [--repeat 5]

Cases: the 521-byte "billion laughs" alias bomb (9 levels of 9 aliases: 387,420,489 values once expanded;
before the bound it took ~6 GB and ~55 s), a recursive alias, 600 nested lists, and the time to load an
honest file with anchors (a 2,000-system vendor file reusing one service list) for comparison.
Prints the median seconds per case and the diagnostic.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vendorwall import yamlsrc

BOMB = "\n".join(["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                 + [f"{chr(ord('a') + i)}: &{chr(ord('a') + i)} [" + ", ".join([f"*{chr(ord('a') + i - 1)}"] * 9)
                    + "]" for i in range(1, 9)]) + "\n"
HONEST = "web: &web [http, https]\nsystems:\n" + "".join(
    f"  - {{name: sys-{i}, site: nord, services: *web}}\n" for i in range(2000))
CASES = {f"alias bomb ({len(BOMB)} bytes)": BOMB, "recursive alias": "a: &a {b: [1, {c: *a}]}\n",
         "600 nested lists": "a: " + "[" * 600 + "]" * 600 + "\n", "honest anchors, 2000 systems": HONEST}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    for name, text in CASES.items():
        times = []
        diags: list = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            _data, _src, diags = yamlsrc.load_text(text, "case.yml")
            times.append(time.perf_counter() - t)
        what = f"{diags[0].message}: {diags[0].found}" if diags else "loaded"
        print(f"{name:32s} {statistics.median(times):8.4f} s  {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
