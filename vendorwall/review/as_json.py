"""The review as machine evidence: one JSON object, schema version 1 (docs/review.md).

Stable: keys sorted, lists in a fixed order, no timestamps; fields are only ever added within a
version. ``flows`` is the exhaustive list of flow changes; statements point into it by index.
"""

from __future__ import annotations

import json
from typing import Any

from .compare import KEY_FIELDS, FlowFacts, SegmentState
from .review import Review

SCHEMA_VERSION = 1


def _facts(f: FlowFacts) -> dict[str, Any]:
    return {"id": f.id, "service": f.service, "validity": f.validity, "until": f.until,
            "window": {"days": list(f.window[0]), "start": f.window[1], "end": f.window[2]} if f.window else None,
            "max_hours": f.max_hours, "via": f.via, "peer": f.peer, "keep": f.keep, "log": f.log,
            "firewalls": list(f.firewalls), "origin": str(f.origin)}


def _segment(s: SegmentState | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {"vlan": s.vlan, "subnet": s.subnet, "mode": s.mode, "firewall": s.firewall,
            "hosts": {name: list(addrs) for name, addrs in s.hosts}}


def _rev(r: Any) -> dict[str, Any]:
    return {"rev": r.rev or None, "commit": r.commit or None, "working_tree": r.working_tree, "label": r.label}


def to_data(rv: Review, fail_on: str | None = None) -> dict[str, Any]:
    index = {id(fc): i for i, fc in enumerate(rv.flows)}
    by_status: dict[str, dict[str, list[str]]] = {"vendors": {}, "systems": {}}
    for kind, mapping in (("vendors", rv.touched.vendors), ("systems", rv.touched.systems)):
        for status in ("added", "removed", "changed"):
            by_status[kind][status] = sorted(n for n, s in mapping.items() if s == status)
    devices: dict[str, list[str]] = {s: [d.device for d in rv.devices if d.change == s]
                                     for s in ("added", "removed", "changed")}
    return {
        "version": SCHEMA_VERSION,
        "inventory": rv.inventory,
        "now": rv.now.isoformat(),
        "base": _rev(rv.base),
        "head": _rev(rv.head),
        "settings": {"blast_radius": rv.settings.blast_radius,
                     "contract_warning_days": rv.settings.contract_warning_days},
        "gate": {"fail_on": fail_on, "failed": rv.fails(fail_on), "exit_code": 3 if rv.fails(fail_on) else 0},
        "summary": {
            "flows": {"added": rv.count("added"), "removed": rv.count("removed"), "changed": rv.count("changed"),
                      "base": rv.totals["flows_base"], "head": rv.totals["flows_head"]},
            "flags": rv.flag_counts(),
            "vendors": by_status["vendors"],
            "systems": by_status["systems"],
            "segments": {c: sum(1 for s in rv.segments if s.change == c) for c in ("allocated", "freed", "changed")},
            "devices": devices,
            "stale_lock": rv.stale_lock,
            "totals": dict(sorted(rv.totals.items())),
        },
        "flags": [{"severity": f.severity, "code": f.code, "title": f.title, "message": f.message,
                   "file": f.file, "line": f.line, "where": f.where, "side": f.side, "vendor": f.vendor,
                   "system": f.system} for f in rv.flags],
        "access": [
            {"vendor": va.vendor, "title": va.title, "status": va.status, "systems": [
                {"system": sa.system, "site": sa.site, "status": sa.status, "statements": [
                    {"change": st.change, "kind": st.kind, "text": st.text, "origin": str(st.origin),
                     "side": st.side, "flows": [index[id(fc)] for fc in st.flows]}
                    for st in sa.statements]}
                for sa in va.systems]}
            for va in rv.access],
        "flows": [{"change": fc.change, **dict(zip(KEY_FIELDS, fc.key, strict=True)),
                   "before": [_facts(f) for f in fc.before], "after": [_facts(f) for f in fc.after]}
                  for fc in rv.flows],
        "segments": [{"change": s.change, "key": s.key, "site": s.site, "vendor": s.vendor,
                      "before": _segment(s.before), "after": _segment(s.after)} for s in rv.segments],
        "devices": [{"device": d.device, "platform": d.platform, "change": d.change, "path": d.path,
                     "added": d.added, "removed": d.removed, "diff": d.diff} for d in rv.devices],
        "isolation": [
            {"vendor": i.vendor, "title": i.title, "status": i.status, "side": i.side,
             "entry_paths": [{"name": n, "kind": k, "prefixes": list(p)} for n, k, p in i.entry_paths],
             "cuts": {"access_flows": i.access_flows, "access_flows_before": i.access_flows_before,
                      "systems": list(i.systems), "firewalls": list(i.firewalls), "accounts": list(i.accounts),
                      "tunnels": list(i.tunnels)},
             "segment_quarantine": {"segments": list(i.segments), "cuts_clinical_flows": i.quarantine_cuts,
                                    "keeps_must_keep_flows": i.keep_flows},
             "clinical_flows": i.clinical_flows, "keep_survive": i.keep_survive,
             "broken_keep": list(i.broken_keep), "manual": i.manual,
             "shared_egress_paths": [{"entry_path": p, "bastion": b} for p, b in i.shared_paths],
             "isolated_now": i.isolated}
            for i in rv.isolation],
    }


def render(rv: Review, fail_on: str | None = None) -> str:
    return json.dumps(to_data(rv, fail_on), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
