"""A picture of the segmentation as inline SVG: vendors → segments → systems, one band per site.

Both sides are drawn at once: an element only in the head is ``added`` (green), only in the base
``removed`` (red, dashed), on both but changed ``changed`` (orange), otherwise ``same`` (grey).
Every node is a ``<g class="node KIND STATUS" data-key="...">`` with a ``<title>`` tooltip, so
tests and browsers can find the highlighted elements. Plain SVG 1.1 with its own ``<style>``:
no script, no external resource.
"""

from __future__ import annotations

from html import escape

from .review import PicSegment, Picture

ROW = 22  # px per system row
BOX = 18  # node height
COLS = {"vendor": (10, 230), "segment": (300, 270), "system": (640, 250)}  # x, width
WIDTH = 900
CHAR = 6.6  # approximate width of a character at 11 px
STYLE = """
.node rect{stroke-width:1.2px;rx:3px}
.node text{font:11px sans-serif;fill:#1f2328;dominant-baseline:middle}
.same rect{fill:#f6f8fa;stroke:#8c959f}
.added rect{fill:#dafbe1;stroke:#1a7f37;stroke-width:2px}
.removed rect{fill:#ffebe9;stroke:#cf222e;stroke-width:2px;stroke-dasharray:4 2}
.changed rect{fill:#fff1e5;stroke:#bc4c00;stroke-width:2px}
.edge{fill:none;stroke:#8c959f;stroke-width:1px}
.edge.added{stroke:#1a7f37;stroke-width:2px}
.edge.removed{stroke:#cf222e;stroke-width:2px;stroke-dasharray:4 2}
.edge.changed{stroke:#bc4c00;stroke-width:1.5px}
.site text{font:bold 13px sans-serif;fill:#1f2328}
.site rect{fill:#eaeef2;stroke:none}
.legend text{font:11px sans-serif;fill:#1f2328;dominant-baseline:middle}
"""


def _fit(text: str, width: int) -> str:
    room = int((width - 10) / CHAR)
    return text if len(text) <= room else text[:max(room - 1, 1)] + "…"


def _node(kind: str, status: str, key: str, x: int, y: float, width: int, label: str, tip: str) -> str:
    return (f'<g class="node {kind} {status}" data-key="{escape(key)}" data-status="{status}">'
            f"<title>{escape(tip)}</title>"
            f'<rect x="{x}" y="{y - BOX / 2:.1f}" width="{width}" height="{BOX}"/>'
            f'<text x="{x + 5}" y="{y:.1f}">{escape(_fit(label, width))}</text></g>')


def _edge(status: str, x1: int, y1: float, x2: int, y2: float) -> str:
    mid = (x1 + x2) / 2
    return (f'<path class="edge {status}" d="M{x1},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} '
            f'{x2},{y2:.1f}"/>')


def _edge_status(a: str, b: str) -> str:
    for s in ("removed", "added"):
        if s in (a, b):
            return s
    return "same"


def _rows(seg: PicSegment) -> int:
    return max(1, len(seg.systems))


def render(pic: Picture) -> str:
    parts: list[str] = []
    y = 10.0
    # legend
    lx = 10
    legend = ['<g class="legend">']
    for status, text in (("added", "added by the change"), ("removed", "removed by the change"),
                         ("changed", "changed"), ("same", "unchanged")):
        legend.append(f'<g class="node legend-key {status}"><rect x="{lx}" y="{y:.1f}" width="16" height="12"/>'
                      f'<text x="{lx + 22}" y="{y + 6:.1f}">{escape(text)}</text></g>')
        lx += 175
    legend.append("</g>")
    parts += legend
    y += 26
    if pic.partial:
        parts.append(f'<g class="legend"><text x="10" y="{y:.1f}">Only the vendors this change touches are drawn '
                     f"({pic.hidden_vendors} other vendors hidden).</text></g>")
        y += 20
    if pic.hidden_sites:
        parts.append(f'<g class="legend"><text x="10" y="{y:.1f}">Only the sites this change touches are drawn '
                     f"({pic.hidden_sites} other site{'s' if pic.hidden_sites != 1 else ''} unchanged).</text></g>")
        y += 20
    for site in pic.sites:
        parts.append(f'<g class="site" data-key="{escape(site.name)}"><rect x="0" y="{y:.1f}" width="{WIDTH}" '
                     f'height="22"/><text x="8" y="{y + 15:.1f}">{escape(site.title)} ({escape(site.name)})</text></g>')
        y += 30
        for vendor in site.vendors:
            rows = sum(_rows(s) for s in vendor.segments)
            top = y
            vx, vw = COLS["vendor"]
            sx, sw = COLS["segment"]
            yx, yw = COLS["system"]
            vy = top + (rows - 1) * ROW / 2
            seg_nodes = []
            for seg in vendor.segments:
                n = _rows(seg)
                sy = y + (n - 1) * ROW / 2
                parts.append(_edge(_edge_status(vendor.status, seg.status), vx + vw, vy, sx, sy))
                for i, system in enumerate(seg.systems):
                    yy = y + i * ROW
                    parts.append(_edge(_edge_status(seg.status, system.status), sx + sw, sy, yx, yy))
                    seg_nodes.append(_node("system", system.status, f"{seg.key}#{system.name}", yx, yy, yw,
                                           system.name, f"system {system.name} ({system.status}) in {seg.key}"))
                seg_nodes.append(_node("segment", seg.status, seg.key, sx, sy, sw, seg.label,
                                       f"segment {seg.key}: {seg.label}, {seg.mode} ({seg.status})"))
                y += n * ROW
            parts += seg_nodes
            parts.append(_node("vendor", vendor.status, f"{site.name}/{vendor.name}", vx, vy, vw, vendor.title,
                               f"vendor {vendor.name}: {vendor.title} ({vendor.status})"))
            y += 8
        y += 6
    if not pic.sites:
        what = "No segment this change touches." if pic.hidden_sites else "No vendor segment on either side."
        parts.append(f'<g class="legend"><text x="10" y="{y + 10:.1f}">{what}</text></g>')
        y += 24
    height = int(y + 10)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="segmentation" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="vendor segmentation per site">'
            f"<style>{STYLE}</style>" + "".join(parts) + "</svg>")
