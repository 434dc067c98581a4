"""The review as one standalone HTML page: no script, no external resource, inline CSS and SVG.

Same content as the Markdown comment, plus the picture of the segmentation (:mod:`.svg`) and the
device diffs coloured line by line. Deterministic like the other formats.
"""

from __future__ import annotations

from html import escape

from . import svg
from .as_markdown import SIGN, isolation_sentence
from .review import Review

CSS = """
body{font:14px/1.45 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1f2328;margin:24px auto;
 max-width:1100px;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #d0d7de;
 padding-bottom:4px}
.meta{color:#59636e}
table{border-collapse:collapse;width:100%;margin:8px 0}th,td{border:1px solid #d0d7de;padding:4px 8px;
 text-align:left;vertical-align:top}th{background:#f6f8fa}
.sev{font-weight:bold;border-radius:10px;padding:1px 8px;color:#fff;font-size:12px}
.sev-high{background:#cf222e}.sev-medium{background:#bc4c00}.sev-low{background:#6e7781}
ul.access{list-style:none;padding-left:12px}ul.access li{margin:3px 0}
.chg{display:inline-block;width:1.3em;font-weight:bold}
.chg-added{color:#1a7f37}.chg-removed{color:#cf222e}.chg-changed{color:#bc4c00}
code,pre{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre.diff{background:#f6f8fa;padding:8px;overflow-x:auto;border:1px solid #d0d7de}
pre.diff .add{color:#116329;background:#dafbe1}
pre.diff .del{color:#82071e;background:#ffebe9}
pre.diff .hunk{color:#0550ae}
.origin{color:#59636e;font-size:12px}
details{margin:8px 0}summary{cursor:pointer;font-weight:600}
.picture{overflow-x:auto;border:1px solid #d0d7de;padding:6px}
.ok{color:#1a7f37;font-weight:bold}.bad{color:#cf222e;font-weight:bold}
"""


def _e(text: object) -> str:
    return escape(str(text))


def render(rv: Review, fail_on: str | None = None) -> str:
    fc = rv.flag_counts()
    head = rv.head.label
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>vendorwall review: {_e(rv.inventory)}</title>",
           f"<style>{CSS}</style></head><body>",
           f"<h1>vendorwall review of <code>{_e(rv.inventory)}</code></h1>",
           f'<p class="meta">Base <code>{_e(rv.base.label)}</code> → head <code>{_e(head)}</code>, compiled for '
           f"{rv.now.isoformat()}.</p>",
           '<h2 id="summary">Summary</h2>',
           f'<p><span class="sev sev-high">{fc["high"]} high</span> <span class="sev sev-medium">{fc["medium"]} '
           f'medium</span> <span class="sev sev-low">{fc["low"]} low</span>']
    if fail_on:
        verdict = ('<span class="bad">fails</span>' if rv.fails(fail_on) else '<span class="ok">passes</span>')
        out.append(f" — {verdict} the gate <code>--fail-on {_e(fail_on)}</code>")
    out.append("</p><ul>")
    t = rv.touched
    for kind, mapping in (("vendors", t.vendors), ("systems", t.systems)):
        counts = {s: sum(1 for v in mapping.values() if v == s) for s in ("added", "removed", "changed")}
        out.append(f"<li>{kind}: {counts['added']} added, {counts['removed']} removed, {counts['changed']} changed"
                   "</li>")
    out.append(f"<li>allowed flows: {rv.count('added')} added, {rv.count('removed')} removed, "
               f"{rv.count('changed')} changed ({rv.totals['flows_base']} → {rv.totals['flows_head']})</li>")
    segs = {c: sum(1 for s in rv.segments if s.change == c) for c in ("allocated", "freed", "changed")}
    out.append(f"<li>segments: {segs['allocated']} allocated, {segs['freed']} freed, {segs['changed']} changed; "
               f"device configurations changed: {len(rv.devices)}</li>")
    if rv.stale_lock:
        out.append("<li class=\"bad\">the lock file is not updated: run <code>vendorwall plan</code> and commit it"
                   "</li>")
    out.append("</ul>")
    out += _flags(rv)
    # the changes first, in the reviewer's words; the picture of the touched sites after them
    out += _access(rv)
    out += _flows(rv)
    out += _network(rv)
    out += ['<h2 id="picture">Segmentation</h2>',
            "<p>Vendors → segments (VLAN, subnet) → systems, per site the change touches. Green: added by the "
            "change; red, dashed: removed; orange: changed.</p>",
            f'<div class="picture">{svg.render(rv.picture)}</div>']
    out += _isolation(rv)
    out += _devices(rv)
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _flags(rv: Review) -> list[str]:
    out = ['<h2 id="flags">Risk flags</h2>']
    if not rv.flags:
        return [*out, "<p>No risk flag.</p>"]
    out.append('<table class="flags"><tr><th>Severity</th><th>Flag</th><th>Where</th><th>What</th></tr>')
    for f in rv.flags:
        side = " (base)" if f.side == "base" else ""
        out.append(f'<tr class="flag flag-{f.severity}" data-code="{_e(f.code)}"><td><span class="sev '
                   f'sev-{f.severity}">{f.severity}</span></td><td>{_e(f.title)}</td><td><code>{_e(f.where)}</code>'
                   f"{side}</td><td>{_e(f.message)}</td></tr>")
    return [*out, "</table>"]


def _access(rv: Review) -> list[str]:
    out = ['<h2 id="access">Access changes</h2>']
    if not rv.access:
        return [*out, "<p>No access change: the allowed flows are the same on both sides.</p>"]
    for va in rv.access:
        sub = f" (<code>{_e(va.vendor)}</code>, vendor {va.status})" if va.vendor else ""
        out.append(f"<h3>{_e(va.title)}{sub}</h3><ul class=\"access\">")
        for sa in va.systems:
            if sa.system:
                out.append(f"<li><code>{_e(sa.system)}</code> (site {_e(sa.site)}, system {sa.status})<ul "
                           'class="access">')
            for st in sa.statements:
                out.append(f'<li class="statement {st.change}"><span class="chg chg-{st.change}">{SIGN[st.change]}'
                           f'</span>{_e(st.text)} <span class="origin">{_e(st.origin)}'
                           f"{' (base)' if st.side == 'base' else ''}</span></li>")
            if sa.system:
                out.append("</ul></li>")
        out.append("</ul>")
    return out


def _flows(rv: Review) -> list[str]:
    if not rv.flows:
        return []
    out = [f"<details><summary>Every flow change ({len(rv.flows)}): the exact set difference of the allowed flows"
           "</summary>", "<table><tr><th></th><th>Kind</th><th>Vendor</th><th>System</th><th>Source</th>"
           "<th>Destination</th><th>Port</th><th>Validity</th><th>Via / peer</th><th>Origin</th></tr>"]
    for fc in rv.flows:
        f = fc.facts
        port = "any" if fc.key[6] is None else f"{fc.key[5]}/{fc.key[6]}"
        validity = f.validity
        if fc.change == "changed" and fc.before[0].validity != f.validity:
            validity = f"{fc.before[0].validity} → {f.validity}"
        out.append(f'<tr class="{fc.change}"><td class="chg chg-{fc.change}">{SIGN[fc.change]}</td><td>{fc.kind}'
                   f"</td><td>{_e(fc.vendor)}</td><td>{_e(fc.system)}</td><td>{fc.key[3]}</td><td>{fc.key[4]}</td>"
                   f"<td>{port}</td><td>{_e(validity)}</td><td>{_e(f.via or f.peer)}</td><td>{_e(f.origin)}</td>"
                   "</tr>")
    return [*out, "</table></details>"]


def _network(rv: Review) -> list[str]:
    out = ['<h2 id="network">Network changes</h2>']
    if not rv.segments:
        out.append("<p>No segment, VLAN or subnet change.</p>")
    else:
        out.append("<table><tr><th></th><th>Site</th><th>Segment</th><th>VLAN</th><th>Subnet</th><th>Systems</th>"
                   "</tr>")
        for s in rv.segments:
            st = s.state
            vlan, subnet = str(st.vlan), st.subnet
            if s.before and s.after and (s.before.vlan, s.before.subnet) != (s.after.vlan, s.after.subnet):
                vlan, subnet = f"{s.before.vlan} → {s.after.vlan}", f"{s.before.subnet} → {s.after.subnet}"
            systems = ", ".join(st.systems)
            if s.before and s.after and s.before.systems != s.after.systems:
                systems = f"{', '.join(s.before.systems) or 'none'} → {', '.join(s.after.systems) or 'none'}"
            out.append(f'<tr class="{s.change}"><td>{s.change}</td><td>{_e(s.site)}</td><td><code>{_e(s.key)}'
                       f"</code></td><td>{_e(vlan)}</td><td>{_e(subnet)}</td><td>{_e(systems)}</td></tr>")
        out.append("</table>")
    devices = ", ".join(f"{d.device} ({d.change}, +{d.added} −{d.removed})" for d in rv.devices) or "none"
    return [*out, f"<p>Devices touched: {_e(devices)}.</p>"]


def _isolation(rv: Review) -> list[str]:
    out = ['<h2 id="isolation">Isolation impact</h2>']
    if not rv.isolation:
        return [*out, "<p>No vendor touched.</p>"]
    out.append("<ul>")
    for i in rv.isolation:
        cls = "ok" if i.keep_survive else "bad"
        out.append(f'<li class="isolation {cls}-keep"><strong>{_e(i.title)}</strong> (<code>{_e(i.vendor)}</code>): '
                   f"{_e(isolation_sentence(i))}</li>")
    return [*out, "</ul>"]


def _devices(rv: Review) -> list[str]:
    out = ['<h2 id="devices">Device changes</h2>']
    if not rv.devices:
        return [*out, "<p>No device configuration changes.</p>"]
    for d in rv.devices:
        out.append(f"<details><summary><code>{_e(d.path)}</code> ({_e(d.platform)}, {d.change}, +{d.added} "
                   f'−{d.removed})</summary><pre class="diff">')
        lines = []
        for line in d.diff.rstrip("\n").split("\n"):
            cls = ""
            if line.startswith("@@"):
                cls = "hunk"
            elif line.startswith("+") and not line.startswith("+++"):
                cls = "add"
            elif line.startswith("-") and not line.startswith("---"):
                cls = "del"
            lines.append(f'<span class="{cls}">{_e(line)}</span>' if cls else _e(line))
        out.append("\n".join(lines) + "</pre></details>")
    return out
