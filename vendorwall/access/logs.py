"""Connection logs of vendor flows: collected from the firewalls into a compressed, hash-chained archive.

On each firewall a recorder writes one line per new connection to ``<device dir>/conn.log`` (default
``/var/lib/vendorwall/conn.log``): ``conntrack -E -e NEW -o timestamp`` (flow records; with
``nf_conntrack_acct=1`` and ``-e NEW,DESTROY`` byte counts too), or ulogd2 reading NFLOG group
``policy.connection_log_group`` (the rendered policy logs every new vendor connection there with
prefix ``vw-vendor-new``). In the lab, :func:`start_lab_recorder` runs conntrack inside the firewall's
namespace.

``vendorwall logs collect`` (``playbooks/logs_collect.yml``) fetches the bytes written since the last
collection (one SSH round trip per firewall, all at once), keeps the vendor-sourced flows (source in a
vendor entry path), and writes them as one gzip segment per collection under the archive directory
(default ``build/<inventory>/connection-logs/``). ``index.jsonl`` chains the segments with the
journal's hash chain (each entry: file, sha256 of the compressed segment, records, first/last time,
per-firewall offsets): editing, removing or replacing a segment shows (``logs verify``). ``logs purge``
deletes segments older than ``policy.log_retention_days`` (CNIL: 6 months to 1 year) and journals the
purge in the same chain.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import os
import re
import subprocess
import time
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from ..isolate import journal
from ..model import Model
from . import devices
from .grants import Outcome, stamp

INDEX = "index.jsonl"
_LINE = re.compile(r"^\[(?P<ts>\d+\.\d+)\]\s+\[NEW\]\s+(?P<proto>tcp|udp)\s+\d+\s+(?:\d+\s+)?(?:[A-Z_]+\s+)?"
                   r"src=(?P<src>\S+) dst=(?P<dst>\S+) sport=(?P<sport>\d+) dport=(?P<dport>\d+)")


def conn_log_path(t: Any) -> str:
    return os.path.join(t.remote_dir, "conn.log")


def parse_lines(fw: str, text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if m:
            out.append({"ts": float(m["ts"]), "firewall": fw, "proto": m["proto"], "src": m["src"], "dst": m["dst"],
                        "sport": int(m["sport"]), "dport": int(m["dport"])})
    return out


def vendor_sources(model: Model) -> list[tuple[IPv4Network, str, str]]:
    return [(n, v.name, p.name) for v in model.inventory.vendors.values() for p in v.entry_paths for n in p.prefixes]


def archive_dir(inventory: str, override: str | None) -> str:
    return override or devices.state_dir(inventory).connection_logs_dir


def _offsets(arch: str) -> dict[str, int]:
    idx = os.path.join(arch, INDEX)
    offs: dict[str, int] = {}
    if os.path.exists(idx):
        for e in journal.read(idx):
            offs.update(e.get("offsets", {}))
    return offs


def collect(model: Model, o: devices.ConnOptions, arch: str) -> Outcome:
    inv = model.inventory
    fws = sorted(n for n, d in inv.devices.items() if d.role == "firewall" and d.platform == "nftables")
    tgts = devices.targets(inv, fws, o)
    if o.lab_dir:  # the lab's device directories hold the recorder's file
        from ..lab import runner

        st = runner.LabState.load(o.lab_dir)
        for t in tgts:
            t.remote_dir = ((st.firewalls.get(t.device) or {}).get("remote_dir") if st else None) or t.remote_dir
    offs = _offsets(arch)

    def script(t: Any) -> str:
        f = conn_log_path(t)
        return (f'f={f}; size=$(stat -c %s "$f" 2>/dev/null || echo 0); echo "@@SIZE $size"\n'
                f'tail -c +{offs.get(t.device, 0) + 1} "$f" 2>/dev/null | head -c $(( size - {offs.get(t.device, 0)} ))'
                ' | base64 -w0; echo\nexit 0\n')

    answers = devices.run_all(tgts, script, o, "vendorwall logs collect")
    srcs = vendor_sources(model)
    records: list[dict[str, Any]] = []
    new_offs: dict[str, int] = {}
    failed = []
    for fw, a in sorted(answers.items()):
        if not a.ok:
            failed.append(fw)
            continue
        lines = a.output.splitlines()
        size = int(lines[0].split()[1]) if lines and lines[0].startswith("@@SIZE") else 0
        body = base64.b64decode("".join(lines[1:])).decode(errors="replace") if len(lines) > 1 else ""
        if size < offs.get(fw, 0):  # the file was rotated
            body, size = "", size
        complete = body.rsplit("\n", 1)[0] + "\n" if "\n" in body else ""
        new_offs[fw] = offs.get(fw, 0) + len(complete.encode())
        for r in parse_lines(fw, complete):
            try:
                s = IPv4Address(r["src"])
            except ValueError:
                continue
            hit = next(((v, p) for n, v, p in srcs if s in n), None)
            if hit:
                r["vendor"], r["entry_path"] = hit
                records.append(r)
    os.makedirs(arch, exist_ok=True)
    entry: dict[str, Any] = {"event": "segment", "when": journal.utcnow(), "who": journal.who(),
                             "records": len(records), "offsets": new_offs, "failed": failed}
    if records:
        records.sort(key=lambda r: (r["ts"], r["firewall"], r["src"], r["sport"]))
        digest = hashlib.sha256(json.dumps(records).encode()).hexdigest()[:8]
        name = f"conn-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{digest}.jsonl.gz"
        data = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode()
        comp = gzip.compress(data, mtime=0)
        with open(os.path.join(arch, name), "wb") as fh:
            fh.write(comp)
        entry.update({"file": name, "sha256": hashlib.sha256(comp).hexdigest(), "first": stamp(records[0]["ts"]),
                      "last": stamp(records[-1]["ts"]), "last_ts": records[-1]["ts"]})
    e = journal.append(os.path.join(arch, INDEX), entry)
    lines = [f"collected {len(records)} vendor connections from {len(fws) - len(failed)} firewalls"
             + (f" into {entry['file']}" if records else "") + f"; index entry {e['seq']}"]
    lines += [f"UNREACHABLE {fw}: {answers[fw].error}" for fw in failed]
    return Outcome(1 if failed else 0, lines, {"records": len(records), "file": entry.get("file"), "failed": failed})


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


def purge(model: Model, arch: str, now: float | None = None) -> Outcome:
    days = model.inventory.policy.log_retention_days
    limit = (now or time.time()) - days * 86400
    idx = os.path.join(arch, INDEX)
    gone = []
    if os.path.exists(idx):
        done = {f for e in journal.read(idx) if e.get("event") == "purged" for f in e.get("files", [])}
        for e in journal.read(idx):
            if e.get("file") and e["file"] not in done and e.get("last_ts", 0) < limit:
                p = os.path.join(arch, e["file"])
                if os.path.exists(p):
                    os.unlink(p)
                gone.append(e["file"])
    if gone:
        journal.append(idx, {"event": "purged", "when": journal.utcnow(), "who": journal.who(), "files": gone,
                             "retention_days": days})
    return Outcome(0, [f"purged {len(gone)} segments older than {days} days"], {"purged": gone})


def run(args: argparse.Namespace, model: Model, o: devices.ConnOptions) -> Outcome:
    arch = archive_dir(args.inventory, args.archive)
    if args.logs_command == "collect":
        return collect(model, o, arch)
    if args.logs_command == "purge":
        return purge(model, arch)
    problems = verify(arch)
    return Outcome(1 if problems else 0, problems or [f"{arch}: intact"], {"problems": problems})


def start_lab_recorder(netns_name: str, device_dir: str) -> subprocess.Popen[bytes]:
    """The lab's recorder: ``conntrack -E -e NEW -o timestamp`` inside the firewall's namespace, appending
    to ``<device dir>/conn.log``. The caller stops it by its pid (or ``vendorwall lab down`` does)."""
    os.makedirs(device_dir, exist_ok=True)
    with open(os.path.join(device_dir, "conn.log"), "ab") as out:
        return subprocess.Popen(["ip", "netns", "exec", netns_name, "conntrack", "-E", "-e", "NEW", "-o",
                                 "timestamp"], stdout=out, stderr=subprocess.DEVNULL)
