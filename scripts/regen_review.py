#!/usr/bin/env python3
"""Regenerate the golden files of the change review (``tests/review/golden/``) from the current code.

For every scenario of ``tests/review/review_support.py`` (new vendor, new system, ports widened,
permanent access added, tunnel added, system removed, vendor removed), a throwaway git repository
holds the example inventory on ``main`` and the change on ``change/<scenario>``;
``vendorwall diff inventories/example --base main --head change/<scenario> --now 2026-11-28
--fail-on high`` is rendered as Markdown and JSON into ``tests/review/golden/<scenario>.{md,json}``.

Never edit the golden files by hand: change the code, rerun this script, review ``git diff
tests/review/golden`` like any other output. tests/review/test_review_golden.py calls the same
``generate``, so the test and the script cannot drift apart.

Usage (from anywhere)::

    python scripts/regen_review.py            # rewrite tests/review/golden/
    python scripts/regen_review.py --check    # exit 1 if a golden file would change
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "review"))
sys.path.insert(1, str(REPO))

import review_support  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a golden file would change")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="regen-review-") as tmp:
        files = review_support.generate(Path(tmp))
    golden = review_support.GOLDEN
    stale = sorted(name for name, text in files.items()
                   if not (golden / name).exists() or (golden / name).read_text(encoding="utf-8") != text)
    extra = sorted(p.name for p in golden.glob("*") if p.suffix in (".md", ".json") and p.name not in files)
    if args.check:
        for name in stale + extra:
            print(f"would change: tests/review/golden/{name}")
        return 1 if stale or extra else 0
    golden.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (golden / name).write_text(files[name], encoding="utf-8", newline="\n")
        print(f"wrote tests/review/golden/{name}")
    for name in extra:
        (golden / name).unlink()
        print(f"removed tests/review/golden/{name}")
    for leftover in golden.glob("*.actual"):
        leftover.unlink()
    print(f"{len(files)} golden files, {len(stale)} rewritten, {len(extra)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
