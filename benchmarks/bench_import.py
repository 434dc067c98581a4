#!/usr/bin/env python3
"""Import timings: the télémaintenance register of a synthetic hospital group, imported into an
empty inventory, then re-imported unchanged (the merge path), as CSV and as XLSX.

    python benchmarks/bench_import.py [--systems 1000] [--vendors 60] [--sites 6] [--repeat 3]

The register is written from benchmarks/gen_inventory.py's inventory with the same code that writes
the example's sample (scripts/gen_import_samples.py); the target inventory keeps the generated
hosts.yml, sites, policy and client groups (what a hospital writes by hand). Prints the median
wall time of each phase; figures depend on the machine: compare ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "benchmarks"))


def _run(*args: str) -> float:
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "vendorwall", *args], cwd=REPO, capture_output=True, text=True,
                         check=False)
    if res.returncode != 0:
        raise SystemExit(f"vendorwall {' '.join(args)} failed:\n{res.stderr[-2000:]}")
    return time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--systems", type=int, default=1000)
    ap.add_argument("--vendors", type=int, default=60)
    ap.add_argument("--sites", type=int, default=6)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import gen_import_samples as samples
    import gen_inventory
    import openpyxl

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        gen_inventory.generate(str(src), systems=args.systems, vendors=args.vendors, sites=args.sites)
        vendors = _vendors(src)
        rows = samples.sheet_rows(vendors)
        for suffix, table in rows.items():
            samples.write_csv(Path(tmp) / f"register{suffix}.csv", table)
        book = openpyxl.Workbook()
        for i, (suffix, table) in enumerate(rows.items()):
            ws = book.active if i == 0 else book.create_sheet()
            ws.title = suffix.lstrip(".") or "systems"
            for r in table:
                ws.append(r)
        book.save(Path(tmp) / "register.xlsx")
        with open(Path(tmp) / "register.csv", encoding="utf-8") as fh:
            n_rows = sum(1 for _ in csv.reader(fh)) - 1
        print(f"register: {len(vendors)} vendors, {n_rows} systems ({args.sites} sites)")
        for fmt in ("csv", "xlsx"):
            fresh, rerun = [], []
            for _ in range(args.repeat):
                inv = Path(tmp) / "inv"
                shutil.rmtree(inv, ignore_errors=True)
                shutil.copytree(src, inv)
                shutil.rmtree(inv / "vendorwall" / "vendors")
                fresh.append(_run("import", "sheet", str(Path(tmp) / f"register.{fmt}"), "--into", str(inv)))
                rerun.append(_run("import", "sheet", str(Path(tmp) / f"register.{fmt}"), "--into", str(inv),
                                  "--check"))
            print(f"{fmt}: import into an empty inventory {statistics.median(fresh):.2f} s, "
                  f"unchanged re-run (merge, --check) {statistics.median(rerun):.2f} s (median of {args.repeat})")
    return 0


def _vendors(root: Path) -> dict[str, object]:
    from vendorwall.inventory import domain_files
    from vendorwall.yamlsrc import load_file

    out: dict[str, object] = {}
    for path in domain_files(str(root)):
        data, _, _ = load_file(path)
        out.update((data or {}).get("vendors") or {})
    return out


if __name__ == "__main__":
    sys.exit(main())
