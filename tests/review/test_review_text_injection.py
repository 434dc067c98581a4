"""Text of a merge request under review is data in the review, never Markdown structure.

An inventory change under review is hostile input (docs/security.md). Free-text fields (a vendor's
title, a justification) may hold line breaks; in the Markdown review a line break ended the risk-flag
table row it sat in and let the author start paragraphs of their own (a fake "Risk flags: 0 high"
line, text outside the vendor's list item). Every line break of a free text is now a space there.
"""

from __future__ import annotations

from pathlib import Path

import review_support as rs

from vendorwall.review import as_markdown
from vendorwall.review.review import review

VENDORS = Path(rs.INVENTORY) / "vendorwall" / "vendors"
FORGED = "Risk flags: 0 high"


def test_esc_folds_line_breaks() -> None:
    assert as_markdown.esc("a\nb\r\nc\rd") == "a b c d"
    assert "\n" not in as_markdown.esc("x |\n| **LOW** | y")
    assert as_markdown.code("vendors/a\n\n## b.yml") == "`vendors/a ## b.yml`"


def test_line_breaks_in_free_text_do_not_break_the_review(tmp_path: Path) -> None:
    root = rs.init_repo(tmp_path)
    rel = VENDORS / "tomora.yml"
    rs.replace_once(root / rel, "title: Tomora Scanners (CT)",
                    'title: "Tomora\\n\\n' + FORGED + ' \\u00b7 0 medium\\n\\n- all good"')
    rs.replace_in_system(root / rel, "ct-centre-1", "          services: [ssh, https]\n",
                         "          services: [ssh, https, smb]\n          exception: {services: [smb], justification: "
                         '"ok |\\n| LOW | fine | x | nothing to see", approved_by: rssi@chu-exemple.example}\n')
    rv = review(str(root / rs.INVENTORY), "main", None, rs.NOW, None)
    assert any("nothing to see" in f.message for f in rv.flags)  # the text reached the review
    lines = as_markdown.render(rv).splitlines()
    # the forged headline never starts a line: the only line starting with "Risk flags" is ours
    assert [ln for ln in lines if ln.lstrip("*\\").startswith("Risk flags")] == [lines[5]]
    # the risk-flag table: header, rule, then one row per flag, each a whole table row, then a blank line
    top = lines.index("| Severity | Flag | Where | What |")
    rows = lines[top + 2:lines.index("", top)]
    assert len(rows) == len(rv.flags)
    assert all(r.startswith("| ") and r.endswith(" |") for r in rows)
    assert not any(ln.lstrip("\\").startswith("- all good") for ln in lines)


def test_renaming_an_isolated_vendor_is_not_said_to_keep_it_isolated(tmp_path: Path) -> None:
    """The quarantine follows the vendor's name: a renamed isolated vendor's entry paths are no longer
    quarantined; the flag said "the isolation follows the vendor". It now says plan and deploy refuse."""
    from vendorwall.isolate import isolated

    root = rs.init_repo(tmp_path)
    rs.replace_once(root / VENDORS / "tomora.yml", "\n  tomora:\n", "\n  tomora-medical:\n")
    iso = isolated.Isolation({"tomora": isolated.Entry("tomora", "2026-11-27T22:10:00.000Z", "vendor breach",
                                                       "INC-4711")})
    rv = review(str(root / rs.INVENTORY), "main", None, rs.NOW, None, None, iso)
    [flag] = [f for f in rv.flags if f.code == "changes_isolated_vendor"]
    assert flag.severity == "high" and "removes or renames it" in flag.message and "deploy refuses" in flag.message
    assert "the isolation follows the vendor" not in flag.message
