"""The HTML review page: standalone, and rendered by headless Chromium with the changes highlighted.

A combined change (new vendor, system removed, tunnel added, permanent access added) is reviewed
as HTML; the page must hold no script and no external resource. Chromium (skipped with a reason
when absent: ``apt-get install chromium``) then

- dumps the DOM it parsed: the SVG picture holds the new vendor's segments and systems as
  ``added`` nodes, the removed system as ``removed``, the system turned permanent as ``changed``;
- takes a screenshot, kept in the pytest temporary directory (its path is printed), whose pixels
  show the green and red highlight colours of the picture.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
import review_support as rs

from vendorwall.review import as_html
from vendorwall.review.review import review

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
ADDED_FILL = (0xDA, 0xFB, 0xE1)  # .added rect fill (svg.STYLE)
REMOVED_FILL = (0xFF, 0xEB, 0xE9)  # .removed rect fill
CHANGED_FILL = (0xFF, 0xF1, 0xE5)  # .changed rect fill


def _browser() -> str | None:
    return next((p for b in BROWSERS if (p := shutil.which(b))), None)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("review-html")
    root = rs.init_repo(tmp)
    inv = root / rs.INVENTORY
    for name in ("new_vendor", "system_removed", "tunnel_added", "permanent_added"):
        rs.SCENARIOS[name](inv)
    rs.update_lock(inv)
    rv = review(str(inv), "main", None, rs.NOW)
    path = tmp / "review.html"
    path.write_text(as_html.render(rv, "high"), encoding="utf-8")
    return path


def test_page_is_standalone(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(", text, re.I)
    urls = set(re.findall(r"https?://[^\s\"'<>]+", text))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    assert text.count("<svg") == 1 and "</svg>" in text


class _Nodes(HTMLParser):
    """The ``g.node`` elements of the SVG: (kind, status, data-key)."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[tuple[str, str, str]] = []
        self.in_svg = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg":
            self.in_svg = True
        classes = (a.get("class") or "").split()
        if self.in_svg and tag == "g" and "node" in classes and len(classes) == 3:
            self.nodes.append((classes[1], classes[2], a.get("data-key") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.in_svg = False


def _chromium(browser: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [browser, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           f"--user-data-dir={cwd / 'profile'}", *args]
    if os.geteuid() == 0:
        cmd.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def browser() -> str:
    path = _browser()
    if path is None:
        pytest.skip("headless Chromium not installed (apt-get install chromium); the HTML page is not rendered")
    return path


def test_dom_highlights_the_changes(browser: str, page: Path) -> None:
    res = _chromium(browser, "--dump-dom", page.as_uri(), cwd=page.parent)
    assert res.returncode == 0, res.stderr[-2000:]
    parser = _Nodes()
    parser.feed(res.stdout)
    nodes = set(parser.nodes)
    assert ("vendor", "added", "nord/ophtalis") in nodes
    assert ("segment", "added", "nord/ophtalis/oct-nord-1") in nodes
    assert ("system", "added", "nord/ophtalis/oct-review-nord#oct-review-nord") in nodes
    assert ("segment", "removed", "centre/acme-imaging/pacs-test-centre") in nodes
    assert ("system", "removed", "centre/acme-imaging/pacs-test-centre#pacs-test-centre") in nodes
    assert ("system", "changed", "nord/tomora/ct-nord-2#ct-nord-2") in nodes
    assert ("system", "changed", "sud/magnetika/mri-sud-1#mri-sud-1") in nodes
    assert ("system", "same", "nord/tomora/ct-nord-1#ct-nord-1") in nodes
    assert ("vendor", "same", "sud/dialyva") in nodes  # untouched vendor, drawn plain
    statuses = {s for _, s, _ in nodes}
    assert statuses == {"added", "removed", "changed", "same"}
    # the risk flags table made it through the browser's parser too
    assert 'data-code="lan_to_lan_tunnel"' in res.stdout and 'data-code="on_demand_to_permanent"' in res.stdout


def test_screenshot_shows_the_highlights(browser: str, page: Path) -> None:
    shot = page.parent / "review.png"
    # the picture comes after the changes (changes first): a tall window holds both
    res = _chromium(browser, "--window-size=1200,5000", f"--screenshot={shot}", page.as_uri(), cwd=page.parent)
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    print(f"screenshot: {shot}")
    width, height, pixels = _read_png(shot.read_bytes())
    assert (width, height) == (1200, 5000)
    counts = {name: sum(1 for p in pixels if p == rgb)
              for name, rgb in (("added", ADDED_FILL), ("removed", REMOVED_FILL), ("changed", CHANGED_FILL))}
    # several highlighted boxes of ~160x18 px each are on the page
    assert all(n > 2000 for n in counts.values()), counts


# --------------------------------------------------------------------------- a minimal PNG reader


def _read_png(data: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """8-bit RGB or RGBA, non-interlaced (what Chromium writes): (width, height, RGB pixels)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * channels
    prev = bytearray(stride)
    pixels: list[tuple[int, int, int]] = []
    for y in range(height):
        start = y * (stride + 1)
        ftype, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = prev[i]
            corner = prev[i - channels] if i >= channels else 0
            if ftype == 1:
                line[i] = (line[i] + left) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + up) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif ftype == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        pixels.extend(tuple(line[x:x + 3]) for x in range(0, stride, channels))  # type: ignore[misc]
        prev = line
    return width, height, pixels
