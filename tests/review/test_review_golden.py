"""Golden Markdown and JSON reviews of typical inventory changes.

One throwaway git repository holds the example inventory on ``main`` and one branch per change
(new vendor, new system, ports widened, permanent access added, tunnel added, system removed,
vendor removed; see review_support.py). The reviews of ``main`` against each branch must equal
``tests/review/golden/<change>.{md,json}``, written by ``scripts/regen_review.py`` only. On a
mismatch the test writes ``<file>.actual`` beside the reference and fails with a short diff.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import review_support as rs

HINT = "run scripts/regen_review.py if the change is intended, then review 'git diff tests/review/golden'"
DIFF_LINES = 40
NAMES = sorted(f"{s}.{ext}" for s in rs.SCENARIOS for ext in ("md", "json"))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return rs.generate(tmp_path_factory.mktemp("review-golden"))


def test_every_scenario_has_a_reference() -> None:
    present = sorted(p.name for p in rs.GOLDEN.glob("*") if p.suffix in (".md", ".json"))
    assert present == NAMES, HINT


@pytest.mark.parametrize("name", NAMES)
def test_golden(name: str, generated: dict[str, str]) -> None:
    ref = rs.GOLDEN / name
    actual = generated[name]
    out = ref.with_name(ref.name + ".actual")
    expected = ref.read_text(encoding="utf-8") if ref.exists() else None
    if expected == actual:
        out.unlink(missing_ok=True)
        return
    out.write_text(actual, encoding="utf-8", newline="\n")
    shown = _rel(out)
    if expected is None:
        pytest.fail(f"no reference tests/review/golden/{name} (output written to {shown})\n{HINT}", pytrace=False)
    diff = list(difflib.unified_diff(expected.splitlines(), actual.splitlines(), f"tests/review/golden/{name}",
                                     shown, lineterm="", n=1))
    more = f"\n... {len(diff) - DIFF_LINES} more diff lines" if len(diff) > DIFF_LINES else ""
    pytest.fail(f"golden mismatch: tests/review/golden/{name}\n" + "\n".join(diff[:DIFF_LINES]) + more + f"\n{HINT}",
                pytrace=False)


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(rs.REPO))
    except ValueError:
        return str(path)
