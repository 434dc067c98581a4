"""The review as a merge-request comment: a short summary first, the details folded.

Visible: the headline counts, the risk flags, the access changes in sentences (folded too when
there are many). Folded in ``<details>``: the exhaustive flow table, network changes, isolation
impact and the unified diff of every device configuration that changes (cut at ``diff_lines``
lines per device; the JSON evidence always holds the whole diff).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from . import risk
from .compare import FlowChange
from .review import Review

SIGN = {"added": "+", "removed": "−", "changed": "~"}
# at the start of a list item a bare "+" is itself a list marker ("- + x" renders as a nested list): escaped
ITEM_SIGN = {**SIGN, "added": "\\+"}
ACCESS_VISIBLE = 30  # statements shown unfolded; more and the section is folded too
MARK = "<!-- vendorwall-diff -->"  # lets a CI job find and update its previous comment
SUMMARY_DEVICES = 8  # devices named in the summary line; the network section names them all


LINE_BREAK = re.compile(r"[ \t]*(?:\r\n|[\n\r\v\f\x85\u2028\u2029])\s*")


def esc(text: str) -> str:
    """Plain text in Markdown and inline HTML: no markup, no table breaks. A line break of free text (a
    title, a justification of the change under review) is a space: it would end a table row or start a
    paragraph, a heading or a list item of the author's choosing."""
    return (LINE_BREAK.sub(" ", text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|")
            .replace("*", "\\*").replace("_", "\\_").replace("`", "\\`").replace("[", "\\["))


def code(text: str) -> str:
    text = LINE_BREAK.sub(" ", text)  # a file name of the tree under review may hold line breaks too
    return f"`{text}`" if "`" not in text else f"`` {text} ``"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _fence(body: str, lang: str = "") -> str:
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{body.rstrip(chr(10))}\n{ticks}"


def summary_lines(rv: Review, fail_on: str | None) -> list[str]:
    fc = rv.flag_counts()
    t = rv.touched
    vend = {s: sum(1 for v in t.vendors.values() if v == s) for s in ("added", "removed", "changed")}
    syst = {s: sum(1 for v in t.systems.values() if v == s) for s in ("added", "removed", "changed")}
    segs = {c: sum(1 for s in rv.segments if s.change == c) for c in ("allocated", "freed", "changed")}
    gate = ""
    if fail_on:
        gate = (f" — **fails** the gate `--fail-on {fail_on}`" if rv.fails(fail_on)
                else f" — passes the gate `--fail-on {fail_on}`")
    lines = [
        f"**Risk flags: {fc['high']} high · {fc['medium']} medium · {fc['low']} low**{gate}",
        "",
        f"- **Access:** {_plural(rv.count('added'), 'flow')} added, {rv.count('removed')} removed, "
        f"{rv.count('changed')} changed ({rv.totals['flows_base']} → {rv.totals['flows_head']} allowed flows)",
        f"- **Vendors:** {vend['added']} added, {vend['removed']} removed, {vend['changed']} changed; "
        f"**systems:** {syst['added']} added, {syst['removed']} removed, {syst['changed']} changed",
        f"- **Network:** {_plural(segs['allocated'], 'segment')} allocated, {segs['freed']} freed, "
        f"{segs['changed']} changed; "
        f"**devices:** {_devices_line(rv, SUMMARY_DEVICES)}",
    ]
    if rv.stale_lock:
        lines.append("- **Lock file not updated:** run `vendorwall plan` and commit the lock file with the change")
    return lines


def _devices_line(rv: Review, limit: int = 0) -> str:
    if not rv.devices:
        return "no configuration changes"
    shown = rv.devices[:limit] if limit else rv.devices
    more = f", and {len(rv.devices) - len(shown)} more" if len(shown) < len(rv.devices) else ""
    return ", ".join(f"{code(d.device)} ({d.change}, +{d.added} −{d.removed})" for d in shown) + more


def render(rv: Review, fail_on: str | None = None, diff_lines: int = 200, max_chars: int = 0) -> str:
    """``max_chars`` (0: no limit): a comment-size budget; folded sections that do not fit are
    replaced by a note, the largest first (device diffs, then the flow table, then the rest)."""
    sections = _sections(rv, fail_on, diff_lines)
    text = _join_sections(sections)
    for name in ("devices", "flows", "network", "isolation", "access"):
        if not max_chars or len(text) <= max_chars:
            break
        sections[name] = [f"_{OMITTED[name]} omitted: the comment would exceed {max_chars} characters; the JSON and "
                          "HTML reports have it._"]
        text = _join_sections(sections)
    return text


OMITTED = {"devices": "Device changes", "flows": "The table of every flow change", "network": "Network changes",
           "isolation": "Isolation impact", "access": "The access statements"}


def _join_sections(sections: dict[str, list[str]]) -> str:
    out: list[str] = []
    for lines in sections.values():
        if lines:
            out += [*lines, ""]
    return "\n".join(out).rstrip() + "\n"


def _sections(rv: Review, fail_on: str | None, diff_lines: int) -> dict[str, list[str]]:
    head = rv.head.label if rv.head.working_tree else code(rv.head.label)
    out = [MARK, f"### vendorwall review of {code(rv.inventory)}", "",
           f"Base {code(rv.base.label)} → head {head}, compiled for {rv.now.isoformat()}.", ""]
    out += summary_lines(rv, fail_on)
    out += ["", "#### Risk flags", ""]
    out += _flags(rv.flags) if rv.flags else ["No risk flag."]
    out += ["", "#### Access changes"]
    return {"summary": out, "access": _access(rv), "flows": _flow_table(rv.flows), "network": _network(rv),
            "isolation": _isolation(rv), "devices": _devices(rv, diff_lines)}


def _flags(flags: Iterable[risk.Flag]) -> list[str]:
    rows = ["| Severity | Flag | Where | What |", "|---|---|---|---|"]
    for f in flags:
        where = code(f.where) + (" (base)" if f.side == "base" else "")
        rows.append(f"| **{f.severity.upper()}** | {esc(f.title)} | {where} | {esc(f.message)} |")
    return rows


def _access(rv: Review) -> list[str]:
    if not rv.access:
        return ["No access change: the allowed flows are the same on both sides."]
    body: list[str] = []
    n = 0
    for va in rv.access:
        label = f"**{esc(va.title)}**" + (f" ({code(va.vendor)}, vendor {va.status})" if va.vendor else "")
        body.append(f"- {label}")
        for sa in va.systems:
            indent = "  "
            if sa.system:
                body.append(f"  - {code(sa.system)} (site {esc(sa.site)}, system {sa.status})")
                indent = "    "
            for st in sa.statements:
                n += 1
                body.append(f"{indent}- {ITEM_SIGN[st.change]} {esc(st.text)} <sub>{code(str(st.origin))}</sub>")
    if n <= ACCESS_VISIBLE:
        return body
    return [f"<details><summary>{_plural(n, 'access statement')} (exhaustive, grouped by vendor and system)"
            "</summary>", "", *body, "", "</details>"]


def _port(fc: FlowChange) -> str:
    return "any" if fc.key[6] is None else f"{fc.key[5]}/{fc.key[6]}"


def _flow_table(flows: tuple[FlowChange, ...]) -> list[str]:
    if not flows:
        return []
    rows = [f"<details><summary>Every flow change ({len(flows)}): the exact set difference of the allowed flows"
            "</summary>", "", "| | Kind | Vendor | System | Source | Destination | Port | Validity | Via / peer |",
            "|---|---|---|---|---|---|---|---|---|"]
    for fc in flows:
        f = fc.facts
        validity = f.validity
        if fc.change == "changed":
            b = fc.before[0]
            validity = f"{b.validity} → {f.validity}" if b.validity != f.validity else f.validity
        rows.append(f"| {SIGN[fc.change]} | {fc.kind} | {esc(fc.vendor)} | {esc(fc.system)} | {fc.key[3]} | "
                    f"{fc.key[4]} | {_port(fc)} | {validity} | {esc(f.via or f.peer)} |")
    return [*rows, "", "</details>"]


def _network(rv: Review) -> list[str]:
    segs = {c: sum(1 for s in rv.segments if s.change == c) for c in ("allocated", "freed", "changed")}
    title = (f"Network changes: {_plural(segs['allocated'], 'segment')} allocated, {segs['freed']} freed, "
             f"{segs['changed']} changed; {_plural(len(rv.devices), 'device')} touched")
    body = [f"<details><summary>{title}</summary>", ""]
    sites = sorted({s.site for s in rv.segments})
    if not sites:
        body.append("No segment, VLAN or subnet change.")
    for site in sites:
        body.append(f"**Site {esc(site)}**")
        body.append("")
        for s in (x for x in rv.segments if x.site == site):
            st = s.state
            systems = ", ".join(st.systems) or "none"
            if s.change == "changed" and s.before and s.after:
                parts = []
                if (s.before.vlan, s.before.subnet) != (s.after.vlan, s.after.subnet):
                    parts.append(f"VLAN {s.before.vlan} {s.before.subnet} → VLAN {s.after.vlan} {s.after.subnet}")
                joined = sorted(set(s.after.systems) - set(s.before.systems))
                left = sorted(set(s.before.systems) - set(s.after.systems))
                if joined:
                    parts.append("joined: " + ", ".join(joined))
                if left:
                    parts.append("left: " + ", ".join(left))
                if s.before.hosts != s.after.hosts and not (joined or left):
                    parts.append("addresses changed")
                body.append(f"- ~ changed {code(s.key)} (VLAN {st.vlan}, {st.subnet}): {esc('; '.join(parts))}")
            else:
                sign = ITEM_SIGN["added" if s.change == "allocated" else "removed"]
                body.append(f"- {sign} {s.change} {code(s.key)}: "
                            f"VLAN {st.vlan}, subnet {st.subnet}, {st.mode}, on {st.firewall}; systems {systems}")
        body.append("")
    body.append(f"Devices touched: {_devices_line(rv)}.")
    return [*body, "", "</details>"]


def isolation_sentence(i: object) -> str:
    from .isolation import Impact

    assert isinstance(i, Impact)
    prefixes = ", ".join(p for _, _, ps in i.entry_paths for p in ps) or "none"
    was = f" (was {i.access_flows_before})" if i.access_flows_before != i.access_flows else ""
    if i.side == "base":
        return (f"vendor removed by this change: nothing left to isolate (it had "
                f"{_plural(i.access_flows, 'vendor-access flow')} from {prefixes} to "
                f"{_plural(len(i.systems), 'system')}).")
    keep = ("yes, none comes from its entry paths" if i.keep_survive
            else f"NO: {_plural(len(i.broken_keep), 'must-keep flow')} overlap its entry paths")
    shared = ""
    if i.shared_paths:
        shared = (f" (its path(s) {', '.join(f'{p} via {b}' for p, b in i.shared_paths)} leave from a bastion egress "
                  "shared with other vendors, never quarantined: those accounts are what cuts it there)")
    manual = "; ".join(i.manual)
    now = f"ISOLATED NOW ({i.isolated}): this change's entry paths are quarantined at the next deploy. " \
        if i.isolated else ""
    return (f"{now}isolating it cuts {_plural(i.access_flows, 'vendor-access flow')}{was} from {prefixes} to "
            f"{_plural(len(i.systems), 'system')} on {', '.join(i.firewalls) or 'no firewall'} and disables "
            f"{_plural(len(i.accounts), 'account')} on the bastions{shared}. "
            f"By hand: {manual or 'nothing'}. Clinical flows to or from its systems: "
            f"{i.clinical_flows}, all kept; a segment quarantine ({_plural(len(i.segments), 'segment')}) keeps the "
            f"{i.keep_flows} must-keep and cuts the other {i.quarantine_cuts}. Must-keep flows survive: {keep}.")


def _isolation(rv: Review) -> list[str]:
    body = [f"<details><summary>Isolation impact of the {_plural(len(rv.isolation), 'vendor')} this change touches"
            "</summary>", ""]
    if not rv.isolation:
        body.append("No vendor touched.")
    for i in rv.isolation:
        body.append(f"- **{esc(i.title)}** ({code(i.vendor)}): {esc(isolation_sentence(i))}")
    return [*body, "", "</details>"]


def _devices(rv: Review, diff_lines: int) -> list[str]:
    if not rv.devices:
        return ["No device configuration changes."]
    total_a = sum(d.added for d in rv.devices)
    total_r = sum(d.removed for d in rv.devices)
    body = [f"<details><summary>Device changes: {_plural(len(rv.devices), 'configuration')} "
            f"(+{total_a} −{total_r} lines)</summary>", ""]
    for d in rv.devices:
        lines = d.diff.rstrip("\n").split("\n")
        cut = ""
        if diff_lines and len(lines) > diff_lines:
            cut = (f"\n({len(lines) - diff_lines} more diff lines not shown here: the JSON or HTML report has the "
                   "whole diff)")
            lines = lines[:diff_lines]
        body += [f"{code(d.path)} ({d.platform}, {d.change}, +{d.added} −{d.removed})", "",
                 _fence("\n".join(lines), "diff") + cut, ""]
    return [*body, "</details>"]
