"""``vendorwall audit sample INVENTORY --size N --seed S``: review of vendor accesses by sampling.

Draws a reproducible random sample (``random.Random(seed)`` over the archive's records in a stable
order; the seed is printed so an auditor redraws the same sample) and reconciles each connection:

- ``grant``: inside an approved on-demand grant of the access journal (tuple and time match);
- ``break-glass``: inside an emergency grant (to be reviewed within 24 h);
- ``inventory``: a permanent or scheduled access the inventory declares (not on demand);
- ``unexplained``: none of these: FLAGGED (a grant added outside vendorwall, a rule edited by hand...).

Writes ``audit-<seed>.csv`` and ``audit-<seed>.md``.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from ..compile import expand
from ..model import Model
from ..state import write_private
from . import grants, logs
from .grants import Outcome, parse_stamp


def _grant_windows(jpath: str) -> list[dict[str, Any]]:
    out = []
    for gid, g in grants.journal_grants(jpath).items():
        op = g["opened"]
        end = parse_stamp(op["expires_at"])
        if g["ended"] is not None and g["ended"]["event"] == "closed":
            end = min(end, parse_stamp(g["ended"]["when"]))
        tuples = []
        for text in op.get("elements", []):
            # "grants_tcp SRC . DST . PORT @fw"
            body, _, _fw = text.rpartition(" @")
            set_name, _, key = body.partition(" ")
            parts = key.split(" . ")
            tuples.append((set_name[len("grants_"):], IPv4Network(parts[0]), IPv4Network(parts[1]),
                           int(parts[2]) if len(parts) > 2 else None))
        out.append({"grant": gid, "start": parse_stamp(op["opened_at"]) - 1, "end": end + 0.25, "tuples": tuples,
                    "emergency": op.get("emergency", False), "ticket": op.get("ticket", "")})
    return out


def classify(r: dict[str, Any], windows: list[dict[str, Any]], model: Model) -> tuple[str, str]:
    s, d = IPv4Address(r["src"]), IPv4Address(r["dst"])
    for w in windows:
        if not w["start"] <= r["ts"] <= w["end"]:
            continue
        for proto, src, dst, port in w["tuples"]:
            if proto in (r["proto"], "any") and s in src and d in dst and port in (None, r["dport"]):
                return ("break-glass" if w["emergency"] else "grant"), f"{w['grant']} ticket {w['ticket']}"
    for rule in model.rules:
        if rule.kind != "vendor_access" or rule.validity.kind == "on_demand":
            continue
        for src, dst, proto, port in expand(rule):
            if proto in (r["proto"], "any") and s in src and d in dst and port in (None, r["dport"]):
                return "inventory", f"{rule.id} ({rule.validity.describe()})"
    return "unexplained", "no grant, no declared access: FLAGGED"


def run(args: argparse.Namespace, model: Model) -> Outcome:
    arch = logs.archive_dir(args.inventory, args.archive)
    jpath = grants.journal_path(args.inventory, args.journal)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**9)
    recs = logs.connections(arch)  # one per connection (its opening, with bytes once closed), sorted
    sample = random.Random(seed).sample(recs, min(args.size, len(recs)))
    sample.sort(key=lambda r: r["ts"])
    windows = _grant_windows(jpath)
    rows = []
    for r in sample:
        verdict, why = classify(r, windows, model)
        rows.append({"time": grants.stamp(r["ts"]), "firewall": r["firewall"], "vendor": r.get("vendor", ""),
                     "entry_path": r.get("entry_path", ""), "proto": r["proto"], "src": r["src"],
                     "dst": r["dst"], "dport": r["dport"], "verdict": verdict, "explanation": why,
                     "flagged": verdict == "unexplained"})
    out = args.out or os.path.join(os.path.dirname(arch.rstrip("/")), "audit")
    csv_path = os.path.join(out, f"audit-{seed}.csv")
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["time"])
    w.writeheader()
    w.writerows(rows)
    write_private(csv_path, buf.getvalue())  # 0600 (0700 directory): vendors' connections
    md = [f"# Vendor access audit by sampling (seed {seed})", "",
          f"{len(rows)} connections drawn from {len(recs)} archived vendor connections; redraw the same sample with "
          f"`vendorwall audit sample {args.inventory} --size {args.size} --seed {seed}`.", "",
          "| Time (UTC) | Firewall | Vendor | Flow | Verdict | Explanation |", "|---|---|---|---|---|---|"]
    md += [f"| {r['time']} | {r['firewall']} | {r['vendor']} | {r['src']} -> {r['dst']} {r['proto']}/{r['dport']} | "
           f"{'**UNEXPLAINED**' if r['flagged'] else r['verdict']} | {r['explanation']} |" for r in rows]
    md_path = os.path.join(out, f"audit-{seed}.md")
    write_private(md_path, "\n".join(md) + "\n")
    flagged = sum(r["flagged"] for r in rows)
    lines = [f"seed {seed}: {len(rows)} of {len(recs)} connections sampled; {flagged} unexplained (flagged); "
             f"{csv_path}, {md_path}"]
    lines += [f"  FLAGGED {r['time']} {r['firewall']} {r['src']} -> {r['dst']} {r['proto']}/{r['dport']}"
              for r in rows if r["flagged"]]
    return Outcome(0, lines, {"seed": seed, "rows": rows, "csv": csv_path, "markdown": md_path})
