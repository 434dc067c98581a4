"""Connection logs of vendor flows: collected from the firewalls into a compressed, hash-chained archive.

On each nftables firewall, deploy installs the pipeline of :mod:`vendorwall.access.logpipe` (ulogd2, and
rsyslog when a syslog server is named): one JSON line per new vendor connection (``new.json``), per dropped
packet (``drop.json``), per vendor-sourced flow at its close with bytes and duration (``flow.json``), in
``<remote dir>/connlog/``, rotated locally.

``vendorwall logs collect`` (``playbooks/logs_collect.yml``) reads what was written since the last
collection through the fixed agent ``connlog`` (op ``read``: one SSH round trip per firewall, all at once;
a cursor per file survives rotation), keeps the vendor-sourced records, and writes them enriched: vendor
and entry path (the source), system (the destination), service (protocol and port among the system's
services), verdict, grant id (the access journal's grant whose tuple and window cover the connection's
start), bytes and duration at close. One gzip segment per collection under the archive directory (the
state directory's ``connection-logs/``); ``index.jsonl`` chains the segments with the journal's hash chain
(each entry: file, sha256 of the compressed segment, records, first/last time, per-firewall cursors):
editing, removing or replacing a segment shows (``logs verify``). ``logs purge`` deletes segments older
than ``policy.log_retention_days`` (CNIL: 6 months to 1 year) and journals the purge in the same chain.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import gzip
import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from ..devices.errors import DeployError
from ..isolate import journal
from ..model import Model
from ..state import write_private
from . import devices, logpipe
from .grants import Outcome, stamp

INDEX = "index.jsonl"
PROTO: dict[Any, str] = {1: "icmp", 6: "tcp", 17: "udp"}
EVENTS = {"new.json": "new", "drop.json": "drop", "flow.json": "end"}


def vendor_sources(model: Model) -> list[tuple[IPv4Network, str, str]]:
    return [(n, v.name, p.name) for v in model.inventory.vendors.values() for p in v.entry_paths for n in p.prefixes]


def archive_dir(inventory: str, override: str | None) -> str:
    return override or devices.state_dir(inventory).connection_logs_dir


def _cursors(arch: str) -> dict[str, dict[str, Any]]:
    idx = os.path.join(arch, INDEX)
    out: dict[str, dict[str, Any]] = {}
    if os.path.exists(idx):
        for e in journal.read(idx):
            out.update(e.get("cursors", {}))
    return out


# --------------------------------------------------------------------------- device records -> archive records


def parse_event(fw: str, file: str, obj: dict[str, Any]) -> dict[str, Any] | None:
    """One ulogd2 JSON line as an archive record (without the model's names); None if not an IPv4 flow."""
    event = EVENTS.get(file)
    try:
        if event == "end":
            start = obj["flow.start.sec"] + obj.get("flow.start.usec", 0) / 1e6
            end = obj["flow.end.sec"] + obj.get("flow.end.usec", 0) / 1e6
            r = {"ts": round(end, 6), "start": round(start, 6), "end": round(end, 6),
                 "duration": round(max(0.0, end - start), 3),
                 "proto": PROTO.get(obj.get("orig.ip.protocol"), str(obj.get("orig.ip.protocol"))),
                 "src": obj["src_ip"], "dst": obj["dest_ip"], "sport": int(obj.get("orig.l4.sport", 0)),
                 "dport": int(obj.get("orig.l4.dport", 0)),
                 "bytes_out": int(obj.get("orig.raw.pktlen", 0)), "bytes_in": int(obj.get("reply.raw.pktlen", 0)),
                 "packets": int(obj.get("orig.raw.pktcount", 0)) + int(obj.get("reply.raw.pktcount", 0)),
                 "verdict": "accept"}
            r["bytes"] = r["bytes_out"] + r["bytes_in"]
        elif event in ("new", "drop"):
            ts = obj["oob.time.sec"] + obj.get("oob.time.usec", 0) / 1e6
            r = {"ts": round(ts, 6), "proto": PROTO.get(obj.get("ip.protocol"), str(obj.get("ip.protocol"))),
                 "src": obj["src_ip"], "dst": obj["dest_ip"], "sport": int(obj.get("src_port", 0)),
                 "dport": int(obj.get("dest_port", 0)), "verdict": "accept" if event == "new" else "drop",
                 "reason": str(obj.get("oob.prefix", ""))}
        else:
            return None
        IPv4Address(r["src"])
        IPv4Address(r["dst"])
    except (KeyError, TypeError, ValueError):
        return None
    return {"firewall": fw, "event": event, **r}


class Names:
    """The model's names for addresses and ports: vendor and entry path of a source, system of a
    destination, service of a port on that system; and the access journal's grants."""

    def __init__(self, model: Model, access_journal: str | None):
        from .audit import _grant_windows

        self.model = model
        self.sources = vendor_sources(model)
        self.systems: dict[str, str] = {}
        for sys_ in model.inventory.systems.values():
            for a in sys_.addresses:
                self.systems[str(a)] = sys_.name
        for seg in model.segments:
            for name, addrs in seg.hosts.items():
                for a in addrs:
                    self.systems.setdefault(str(a), name)
        self.services: dict[tuple[str, str, Any], str] = {}
        for r in model.rules:
            if r.kind == "vendor_access":
                for p in r.ports or (None,):
                    self.services.setdefault((r.system, r.protocol, p), r.service)
        self.catalogue: dict[tuple[str, Any], str] = {(s.protocol, p): s.name for s in model.inventory.services.values()
                                                      for p in s.ports}
        self.windows = _grant_windows(access_journal) if access_journal and os.path.exists(access_journal) else []
        # grant windows by destination address (a system's /32), the rest apart: a record looks at its own
        self.by_dst: dict[str, list[dict[str, Any]]] = {}
        self.wide: list[dict[str, Any]] = []
        for w in self.windows:
            dsts = {d for _p, _s, d, _port in w["tuples"]}
            if all(d.prefixlen == 32 for d in dsts):
                for d in dsts:
                    self.by_dst.setdefault(str(d.network_address), []).append(w)
            else:
                self.wide.append(w)
        for ws in self.by_dst.values():
            ws.sort(key=lambda w: w["start"])
        self.starts = {d: [w["start"] for w in ws] for d, ws in self.by_dst.items()}
        self.longest = max((w["end"] - w["start"] for w in self.windows), default=0.0)
        self.declared: dict[tuple[Any, ...], tuple[str, str]] = {}

    def candidates(self, dst: str, ts: float) -> list[dict[str, Any]]:
        """The grant windows that can hold a connection to ``dst`` starting at ``ts`` (started before it,
        not longer ago than the longest grant)."""
        import bisect

        ws, starts = self.by_dst.get(dst, []), self.starts.get(dst, [])
        hi = bisect.bisect_right(starts, ts)
        lo = bisect.bisect_left(starts, ts - self.longest)
        return ws[lo:hi] + self.wide

    def vendor(self, src: str) -> tuple[str, str] | None:
        s = IPv4Address(src)
        return next(((v, p) for n, v, p in self.sources if s in n), None)

    def enrich(self, r: dict[str, Any]) -> dict[str, Any]:
        from .audit import classify

        system = self.systems.get(r["dst"], "")
        port = r.get("dport")
        service = (self.services.get((system, r["proto"], port)) or self.services.get((system, "any", None))
                   or self.catalogue.get((r["proto"], port)) or f"{r['proto']}/{port}")
        out = {**r, "system": system, "service": service, "grant": "", "access": ""}
        if r["verdict"] == "accept":
            at = {**r, "ts": r.get("start", r["ts"])}
            near = self.candidates(r["dst"], at["ts"])
            kind, why = classify(at, near, self.model) if near else ("unexplained", "")
            if kind not in ("grant", "break-glass"):  # the inventory's declared accesses: per tuple, once
                key = (r["proto"], r["src"], r["dst"], r.get("dport"))
                if key not in self.declared:
                    self.declared[key] = classify(at, [], self.model)
                kind, why = self.declared[key]
            out["access"] = kind
            if kind in ("grant", "break-glass"):
                out["grant"] = why.split()[0]
        return out


def collect(model: Model, o: devices.ConnOptions, arch: str, *, access_journal: str | None = None) -> Outcome:
    """Read every nftables firewall's new records (agent ``connlog`` op ``read``), archive the vendor ones."""
    from ..devices.agents import run_agent

    inv = model.inventory
    fws = sorted(n for n, d in inv.devices.items() if d.role == "firewall" and d.platform == "nftables")
    tgts = devices.targets(inv, fws, o)
    if o.lab_dir:  # the lab's device directories
        from ..lab import runner

        st = runner.LabState.load(o.lab_dir)
        for t in tgts:
            t.remote_dir = ((st.firewalls.get(t.device) or {}).get("remote_dir") if st else None) or t.remote_dir
    cursors = _cursors(arch)

    def one(t: Any) -> tuple[str, dict[str, Any] | None, str]:
        try:
            return t.device, run_agent(t, "connlog", {"op": "read", "dir": logpipe.device_dir(t.remote_dir),
                                                      "cursors": cursors.get(t.device, {})}, timeout=120), ""
        except DeployError as exc:
            return t.device, None, str(exc)

    with ThreadPoolExecutor(max(1, min(o.workers, len(tgts) or 1))) as pool:
        answers = list(pool.map(one, tgts))
    names = Names(model, access_journal)
    records: list[dict[str, Any]] = []
    new_cursors: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    seen = 0
    for fw, a, err in sorted(answers, key=lambda x: x[0]):
        if a is None or not a.get("ok"):
            failed[fw] = err or str((a or {}).get("error", "failed"))
            continue
        new_cursors[fw] = {}
        for file, f in sorted(a.get("files", {}).items()):
            new_cursors[fw][file] = f.get("cursor", {})
            for line in base64.b64decode(f.get("data", "")).decode(errors="replace").splitlines():
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    continue
                r = parse_event(fw, file, obj) if isinstance(obj, dict) else None
                if r is None:
                    continue
                seen += 1
                hit = names.vendor(r["src"])
                if hit:
                    r["vendor"], r["entry_path"] = hit
                    records.append(names.enrich(r))
    os.makedirs(arch, exist_ok=True)
    entry: dict[str, Any] = {"event": "segment", "when": journal.utcnow(), "who": journal.who(),
                             "records": len(records), "events_read": seen, "cursors": new_cursors,
                             "failed": sorted(failed)}
    if records:
        records.sort(key=lambda r: (r["ts"], r["firewall"], r["event"], r["src"], r["sport"]))
        data = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode()
        comp = gzip.compress(data, mtime=0)
        name = f"conn-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{hashlib.sha256(comp).hexdigest()[:8]}.jsonl.gz"
        write_private(os.path.join(arch, name), comp)  # 0600: who connected where
        entry.update({"file": name, "sha256": hashlib.sha256(comp).hexdigest(), "first": stamp(records[0]["ts"]),
                      "last": stamp(records[-1]["ts"]), "first_ts": records[0]["ts"], "last_ts": records[-1]["ts"]})
    e = journal.append(os.path.join(arch, INDEX), entry)
    counts = {k: sum(1 for r in records if r["event"] == k) for k in ("new", "end", "drop")}
    lines = [f"collected {len(records)} vendor records ({counts['new']} new, {counts['end']} closed with bytes, "
             f"{counts['drop']} drops) from {len(fws) - len(failed)} of {len(fws)} firewalls"
             + (f" into {entry['file']}" if records else "") + f"; index entry {e['seq']}"]
    lines += [f"UNREACHABLE {fw}: {why}" for fw, why in sorted(failed.items())]
    return Outcome(1 if failed else 0, lines, {"records": len(records), "counts": counts, "file": entry.get("file"),
                                               "failed": sorted(failed)})


def verify(arch: str) -> list[str]:
    idx = os.path.join(arch, INDEX)
    problems = journal.verify(idx)
    if os.path.exists(idx):
        purged = {f for e in journal.read(idx) if e.get("event") == "purged" for f in e.get("files", [])}
        for e in journal.read(idx):
            f = e.get("file")
            if not f or f in purged:
                continue
            path = os.path.join(arch, f)
            if not os.path.exists(path):
                problems.append(f"{f}: missing (not purged)")
                continue
            with open(path, "rb") as fh:
                if hashlib.sha256(fh.read()).hexdigest() != e.get("sha256"):
                    problems.append(f"{f}: content changed since it was archived")
    return problems


def records(arch: str) -> list[dict[str, Any]]:
    idx = os.path.join(arch, INDEX)
    out: list[dict[str, Any]] = []
    if not os.path.exists(idx):
        return out
    purged = {f for e in journal.read(idx) if e.get("event") == "purged" for f in e.get("files", [])}
    for e in journal.read(idx):
        f = e.get("file")
        if f and f not in purged and os.path.exists(os.path.join(arch, f)):
            with gzip.open(os.path.join(arch, f), "rt") as fh:
                out += [json.loads(line) for line in fh if line.strip()]
    return out


def connections(arch: str) -> list[dict[str, Any]]:
    """One row per vendor connection: its ``new`` record joined with its ``end`` record (same firewall and
    5-tuple, start within 2 s), so bytes and duration sit beside the opening; a connection still open at
    the last collection has no bytes yet (``closed`` false); an ``end`` without its ``new`` (a flow the
    policy does not log as new, or a rotation lost) stands alone. Drops are not connections."""
    recs = records(arch)
    ends: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in recs:
        if r.get("event") == "end":
            ends.setdefault((r["firewall"], r["proto"], r["src"], r["sport"], r["dst"], r["dport"]), []).append(r)
    out = []
    used: set[int] = set()
    for r in recs:
        ev = r.get("event", "new")  # records archived before the pipeline had events were new connections
        if ev != "new":
            continue
        key = (r["firewall"], r["proto"], r["src"], r["sport"], r["dst"], r["dport"])
        end = next((e for e in ends.get(key, []) if id(e) not in used and abs(e["start"] - r["ts"]) < 2.0), None)
        row = {**r, "closed": end is not None}
        if end is not None:
            used.add(id(end))
            row.update({k: end[k] for k in ("end", "duration", "bytes", "bytes_in", "bytes_out", "packets")
                        if k in end})
        out.append(row)
    for group in ends.values():
        for e in group:
            if id(e) not in used:
                out.append({**e, "ts": e["start"], "closed": True})
    out.sort(key=lambda r: (r["ts"], r["firewall"], r["src"], r["sport"], r["dst"]))
    return out


def purge(model: Model, arch: str, now: float | None = None) -> Outcome:
    """Delete the segments whose newest record is older than ``policy.log_retention_days`` before ``now``;
    the purge (files, their sha256, the retention) is journaled in the archive's chain."""
    days = model.inventory.policy.log_retention_days
    limit = (now or time.time()) - days * 86400
    idx = os.path.join(arch, INDEX)
    gone: list[str] = []
    digests: dict[str, str] = {}
    if os.path.exists(idx):
        done = {f for e in journal.read(idx) if e.get("event") == "purged" for f in e.get("files", [])}
        for e in journal.read(idx):
            if e.get("file") and e["file"] not in done and e.get("last_ts", 0) < limit:
                p = os.path.join(arch, e["file"])
                if os.path.exists(p):
                    os.unlink(p)
                gone.append(e["file"])
                digests[e["file"]] = e.get("sha256", "")
    if gone:
        journal.append(idx, {"event": "purged", "when": journal.utcnow(), "who": journal.who(), "files": gone,
                             "sha256": digests, "retention_days": days, "limit": stamp(limit)})
    return Outcome(0, [f"purged {len(gone)} segments older than {days} days"], {"purged": gone})


def run(args: argparse.Namespace, model: Model, o: devices.ConnOptions) -> Outcome:
    from .grants import journal_path

    arch = archive_dir(args.inventory, args.archive)
    if args.logs_command == "collect":
        return collect(model, o, arch, access_journal=journal_path(args.inventory, None))
    if args.logs_command == "purge":
        now = None
        if getattr(args, "now", None):  # the Ansible module passes no --now: today
            from .cli import today

            now = dt.datetime.combine(today(args), dt.time(), dt.UTC).timestamp()
        return purge(model, arch, now)
    problems = verify(arch)
    return Outcome(1 if problems else 0, problems or [f"{arch}: intact"], {"problems": problems})
