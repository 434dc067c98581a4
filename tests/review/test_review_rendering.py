"""How the review renders: Markdown lists stay flat (an added item written '- + ...' rendered as a nested
list, with its text one level down), and the HTML page shows the changes before the picture, which draws
only the sites the change touches."""

from __future__ import annotations

from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"


def _nested_bare_lists(text: str) -> list[int]:
    """Lines of list items whose first content is itself a list (what '- + x' renders to)."""
    markdown_it = pytest.importorskip("markdown_it")
    tokens = markdown_it.MarkdownIt("commonmark").parse(text)
    return [tok.map[0] + 1 for i, tok in enumerate(tokens[:-1])
            if tok.type == "list_item_open" and tokens[i + 1].type == "bullet_list_open" and tok.map]


@pytest.mark.parametrize("golden", sorted(GOLDEN.glob("*.md")), ids=lambda p: p.stem)
def test_markdown_items_are_not_nested_lists(golden: Path) -> None:
    text = golden.read_text(encoding="utf-8")
    assert _nested_bare_lists(text) == [], f"{golden.name}: items rendered as nested lists"


def test_the_check_fails_on_the_old_form() -> None:
    assert _nested_bare_lists("- + allocated `a/b/c`: VLAN 3\n- ~ changed x\n") == [1]
    assert _nested_bare_lists("- \\+ allocated `a/b/c`: VLAN 3\n") == []


def test_html_changes_first_and_only_touched_sites(tmp_path: Path) -> None:
    import re

    import review_support as rs

    from vendorwall.review import as_html
    from vendorwall.review.review import review

    root = rs.init_repo(tmp_path)
    inv = root / rs.INVENTORY
    rs.SCENARIOS["system_removed"](inv)  # one system removed at one site
    rs.update_lock(inv)
    rv = review(str(inv), "main", None, rs.NOW)
    html = as_html.render(rv)
    assert html.index('<h2 id="access">') < html.index('<h2 id="picture">')  # the changes before the picture
    drawn = set(re.findall(r'<g class="site" data-key="([^"]+)"', html))
    assert drawn == {"centre"}, drawn  # the removed system's site only (before: every site of the inventory)
    assert rv.picture.hidden_sites == 3 and "3 other sites unchanged" in html
