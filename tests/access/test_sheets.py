"""Access sheets: one per vendor, Markdown and HTML, deterministic."""

from __future__ import annotations

import filecmp

from vendorwall.access import sheets


def test_sheets_deterministic_and_complete(example_result, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    sheets.write(example_result.model, str(a))
    sheets.write(example_result.model, str(b))
    names = sorted(p.name for p in a.iterdir())
    assert len(names) == 2 * len(example_result.inventory.vendors)
    assert all(filecmp.cmp(a / n, b / n, shallow=False) for n in names)
    md = (a / "acme-imaging.md").read_text()
    for text in ("+33 1 00 00 00 01", "pacs.admin@chu-exemple.example", "Emergency procedure", "emergency=true",
                 "at most 2 h", "within 24 h", "pacs-archive-centre", "ssh (tcp/22)", "acme.jmartin", "2027-08-31",
                 "on demand, at most 4 h per opening"):
        assert text in md, text
    html = (a / "acme-imaging.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<table>" in html and "acme.plefevre" in html
