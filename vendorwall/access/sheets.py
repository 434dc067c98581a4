"""``vendorwall sheets INVENTORY --out DIR``: one access sheet per vendor, Markdown and HTML.

Who the vendor calls, who validates per system and on what basis, the emergency procedure, the systems
and services it may reach (and how: on demand, scheduled, permanent until a date), its accounts and their
expiry. Deterministic: the same inventory (and ``--now``) gives byte-identical files; no wall clock.
"""

from __future__ import annotations

import html
import os
from typing import Any

from ..model import Model, System, Vendor
from .grants import Outcome


def _how(s: System, model: Model) -> str:
    a = s.access
    pol = model.inventory.policy
    if a.mode == "on_demand":
        hours = min(a.max_hours or pol.on_demand_max_hours, pol.on_demand_max_hours)
        return f"on demand, at most {hours} h per opening"
    if a.mode == "scheduled" and a.window:
        w = a.window
        return f"scheduled {','.join(w.days)} {w.start}-{w.end}" + (f" until {a.until}" if a.until else "")
    return "permanent" + (f" until {a.until}" if a.until else "")


def _services(s: System, model: Model) -> str:
    out = []
    for name in s.access.services:
        svc = model.inventory.services.get(name)
        out.append(f"{name} ({svc.label})" if svc else name)
    return ", ".join(out)


def sheet(model: Model, v: Vendor) -> tuple[str, list[tuple[str, list[list[str]] | list[str]]]]:
    """(title, sections): each section a heading and either table rows (first row = header) or lines."""
    pol = model.inventory.policy
    systems = sorted(v.systems, key=lambda s: (s.site, s.name))
    sections: list[tuple[str, list[list[str]] | list[str]]] = []
    sections.append(("Who to call", [
        f"Vendor hotline (the number the hospital calls, and the vendor calls from): {v.hotline}",
        f"Vendor security contact (incidents, breach notices): {v.security_contact}",
        f"Contract: {v.contract_reference}, valid until {v.contract_ends.isoformat()}"
        " (no access is opened after this date; ISO/IEC 27001 A.5.19-5.22)",
    ]))
    rows: list[list[str]] = [["System", "Site", "Criticality", "Access", "Approvers (validation circuit)", "Owner"]]
    for s in systems:
        rows.append([s.name, s.site, s.criticality, _how(s, model), ", ".join(s.approvers or v.approvers), s.owner])
    sections.append(("Validation circuit per system", rows))
    sections.append(("How an on-demand access is requested", [
        "1. The vendor calls the hotline, or the hospital opens a ticket; the ticket states the system and the reason.",
        "2. The requester (hospital side) asks one approver of the system (table above); the approver may not be "
        "the requester.",
        f"3. The network team opens it for a fixed duration (at most the system's maximum, never more than "
        f"{pol.on_demand_max_hours} h): `ansible-playbook playbooks/access_open.yml -e vendor={v.name} "
        "-e system=SYSTEM -e ticket=T -e requester=R -e approver=A -e duration=4h`.",
        "4. The firewall closes the access by itself at the end (live sessions included); it can be closed earlier "
        "with `playbooks/access_close.yml -e grant=ID`. Every step is written to the access journal "
        "(CNIL: access opened on request for a duration fixed in advance, maintenance log).",
    ]))
    sections.append(("Emergency procedure (break-glass, 24/365)", [
        f"When no approver can be reached and care is at stake: the on-call engineer opens it with `-e emergency=true` "
        f"(no approver), for at most {pol.emergency_max_hours} h.",
        "The opening is flagged in the access journal and must be reviewed within 24 h by an approver of the system "
        "(ANSSI PA-022: third-party access enabled on request, alert when still active after about 24 h).",
        "To cut the vendor everywhere at once (suspected compromise): `ansible-playbook playbooks/isolate.yml "
        f"-e vendor={v.name} -e reason=...`.",
    ]))
    rows = [["System", "Address(es)", "Services the vendor may reach", "Entry paths"]]
    for s in systems:
        addrs = [str(a) for seg in model.segments for n, ads in seg.hosts.items() if n == s.name for a in ads]
        rows.append([s.name, ", ".join(addrs) or "(allocated at plan time)", _services(s, model),
                     ", ".join(s.access.via)])
    sections.append(("Systems and services it may reach", rows))
    rows = [["Entry path", "Kind", "Source prefixes"]]
    for p in sorted(v.entry_paths, key=lambda p: p.name):
        rows.append([p.name, p.kind + (f" ({p.bastion})" if p.bastion else ""), ", ".join(map(str, p.prefixes))])
    sections.append(("Entry paths (the only ways in)", rows))
    from ..review.risk import tunnel_plan

    tunnels = [p for p in sorted(v.entry_paths, key=lambda p: p.name) if p.kind == "lan_to_lan"]
    if tunnels:
        lines = []
        for p in tunnels:
            lines.append(f"{p.name} (peer {p.peer}, {', '.join(map(str, p.prefixes))}), retire by "
                         f"{p.retire_by}: {tunnel_plan(v, p)}")
            lines += [f"[ ] {c}" for c in p.checklist]
        sections.append(("LAN-to-LAN tunnels to retire", lines))
    rows = [["Account", "Person", "Email", "Expires", "Owner (hospital side)"]]
    for a in sorted(v.accounts, key=lambda a: a.id):
        rows.append([a.id, a.person, a.email, a.expires.isoformat(), a.owner or "(none: to assign)"])
    sections.append((f"Accounts (individual, at most {pol.account_max_lifetime_days} days, locked after "
                     f"{pol.idle_lock_days} days unused)", rows if len(rows) > 1 else ["No account."]))
    return f"Access sheet: {v.title} ({v.name})", sections


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(title: str, sections: list[tuple[str, Any]], now: str) -> str:
    out = [f"# {title}", "", f"Generated by vendorwall from the inventory, compiled for {now}. Do not edit: edit "
           "the inventory.", ""]
    for head, body in sections:
        out += [f"## {head}", ""]
        if body and isinstance(body[0], list):
            out.append("| " + " | ".join(_cell(c) for c in body[0]) + " |")
            out.append("|" + "---|" * len(body[0]))
            out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in body[1:]]
        else:
            out += [f"- {line}" for line in body]
        out.append("")
    return "\n".join(out)


def as_html(title: str, sections: list[tuple[str, Any]], now: str) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{e(title)}</title>",
           "<style>body{font-family:sans-serif;max-width:72em;margin:2em auto}table{border-collapse:collapse}"
           "td,th{border:1px solid #999;padding:.3em .5em;text-align:left;vertical-align:top}"
           "code{background:#eee}</style>", "</head><body>", f"<h1>{e(title)}</h1>",
           f"<p>Generated by vendorwall from the inventory, compiled for {e(now)}. Do not edit: edit the "
           "inventory.</p>"]
    for head, body in sections:
        out.append(f"<h2>{e(head)}</h2>")
        if body and isinstance(body[0], list):
            out.append("<table><thead><tr>" + "".join(f"<th>{e(c)}</th>" for c in body[0]) + "</tr></thead><tbody>")
            out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in body[1:]]
            out.append("</tbody></table>")
        else:
            out.append("<ul>" + "".join(f"<li>{_code(e(line))}</li>" for line in body) + "</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _code(text: str) -> str:
    parts = text.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def write(model: Model, out_dir: str) -> Outcome:
    from ..errors import UsageError

    try:
        os.makedirs(out_dir, exist_ok=True)
        files = []
        for name, v in sorted(model.inventory.vendors.items()):
            title, sections = sheet(model, v)
            for ext, text in (("md", markdown(title, sections, model.now.isoformat())),
                              ("html", as_html(title, sections, model.now.isoformat()))):
                path = os.path.join(out_dir, f"{name}.{ext}")
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(text)
                files.append(path)
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or out_dir}: {exc.strerror}",
                         "--out must be a writable directory") from None
    return Outcome(0, [f"{len(model.inventory.vendors)} vendor access sheets (Markdown and HTML) in {out_dir}"],
                   {"files": files})
