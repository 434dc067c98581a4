"""How long the evidence side takes at hospital size: the connlog agent reading a day of firewall records,
their naming on the controller, the archive's reads, and the compliance pack of a quarter.

    python benchmarks/bench_evidence.py [--records 200000] [--grants 2000] [--repeat 3]

Synthetic, deterministic data for the example inventory in a temporary state directory: ``--records`` new
connections (each with its close, bytes and duration) and one drop per ten, over a quarter, in segments of
10,000 records; ``--grants`` grants in the access journal (one break-glass in 20). Prints the median of
``--repeat`` runs per step. No device, no network: the agent runs here as the program it is.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import gzip
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from vendorwall import pipeline
from vendorwall.access import logs
from vendorwall.devices import agents
from vendorwall.evidence import collect, render
from vendorwall.isolate import journal
from vendorwall.state import StateDir

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "inventories", "example")
START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC).timestamp()
QUARTER = 92 * 86400


def timed(fn, repeat: int) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def fill(sd: StateDir, records: int, grants: int) -> None:
    acc = sd.journal("access")
    for i in range(grants):
        t = START + i * QUARTER / grants
        at = dt.datetime.fromtimestamp(t, dt.UTC)
        z = lambda d: d.isoformat(timespec="milliseconds").replace("+00:00", "Z")  # noqa: E731
        glass = i % 20 == 0
        journal.append(acc, {"event": "opened", "when": z(at), "grant": f"g{i:012x}", "vendor": "acme-imaging",
                             "system": "pacs-test-centre", "ticket": f"CHG-{i}", "requester": "a", "approver":
                             "" if glass else "b", "emergency": glass, "opened_at": z(at),
                             "expires_at": z(at + dt.timedelta(hours=2)),
                             "elements": ["grants_tcp 10.200.1.0/27 . 10.66.0.26 . 22 @fw-centre"]})
        journal.append(acc, {"event": "expired", "when": z(at + dt.timedelta(hours=2)), "grant": f"g{i:012x}"})
    arch = sd.connection_logs_dir
    per = 10000
    for s in range(0, records, per):
        recs = []
        for i in range(s, min(records, s + per)):
            t = START + i * QUARTER / records
            base = {"firewall": "fw-centre", "proto": "tcp", "src": "10.200.1.1", "dst": "10.66.0.26",
                    "sport": 20000 + i % 40000, "dport": 22, "vendor": "acme-imaging", "entry_path": "acme-vpn",
                    "system": "pacs-test-centre", "service": "ssh", "verdict": "accept", "grant": "", "access": "grant"}
            recs.append({**base, "event": "new", "ts": t})
            recs.append({**base, "event": "end", "ts": t + 60, "start": t, "end": t + 60, "duration": 60.0,
                         "bytes": 12345})
            if i % 10 == 0:
                recs.append({**base, "event": "drop", "ts": t + 1, "verdict": "drop", "dport": 23})
        data = "".join(json.dumps(r, sort_keys=True) + "\n" for r in recs).encode()
        comp = gzip.compress(data, mtime=0)
        name = f"conn-{s:09d}.jsonl.gz"
        with open(os.path.join(arch, name), "wb") as fh:
            fh.write(comp)
        journal.append(os.path.join(arch, logs.INDEX), {
            "event": "segment", "when": dt.datetime.fromtimestamp(recs[-1]["ts"], dt.UTC).isoformat(), "file": name,
            "sha256": hashlib.sha256(comp).hexdigest(), "records": len(recs), "last_ts": recs[-1]["ts"]})


def agent_read(d: str, lines: int) -> float:
    line = json.dumps({"oob.time.sec": 1796557644, "oob.time.usec": 1, "src_ip": "10.200.1.1",
                       "dest_ip": "10.66.0.26", "src_port": 1, "dest_port": 22, "ip.protocol": 6,
                       "oob.prefix": "vw-vendor-new", "pad": "x" * 600}) + "\n"
    with open(os.path.join(d, "new.json"), "w") as fh:
        fh.write(line * lines)
    t0 = time.perf_counter()
    got, cursors, reads = 0, {}, 0
    while got < lines:  # one read returns at most 64 MiB per file; the cursor carries the rest to the next
        p = subprocess.run([sys.executable, "-c", agents.source("connlog"), "connlog"],
                           input=json.dumps({"op": "read", "dir": d, "cursors": cursors}), capture_output=True,
                           text=True, check=True)
        files = json.loads(p.stdout)["files"]
        got += base64.b64decode(files["new.json"]["data"]).count(b"\n")
        cursors = {k: v["cursor"] for k, v in files.items()}
        reads += 1
    assert got == lines, (got, lines)
    print(f"  ({reads} reads)")
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200000)
    ap.add_argument("--grants", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    model = pipeline.run(EXAMPLE, dt.date(2026, 11, 28), check_lock=False, do_render=False).model
    with tempfile.TemporaryDirectory(prefix="vw-bench-evidence-") as tmp:
        os.environ["VENDORWALL_STATE_DIR"] = tmp
        sd = StateDir.for_inventory(EXAMPLE)
        t0 = time.perf_counter()
        fill(sd, a.records, a.grants)
        print(f"synthetic state: {a.records:,} connections (+ closes, drops), {a.grants:,} grants "
              f"in {time.perf_counter() - t0:.1f} s")
        d = os.path.join(tmp, "device")
        os.makedirs(d)
        print(f"agent read of 100,000 firewall records (~75 MB): {agent_read(d, 100000):.2f} s")
        names = logs.Names(model, sd.journal("access"))
        rec = logs.parse_event("fw-centre", "flow.json", {
            "flow.start.sec": 1796557644, "flow.end.sec": 1796557700, "orig.ip.protocol": 6, "orig.l4.sport": 1,
            "orig.l4.dport": 22, "src_ip": "10.200.1.1", "dest_ip": "10.66.0.26"})
        assert rec is not None
        n = 20000
        secs, _ = timed(lambda: [names.enrich({**rec, "vendor": "acme-imaging"}) for _ in range(n)], a.repeat)
        print(f"naming on the controller ({len(names.windows):,} grant windows): {secs / n * 1e6:.0f} µs per record")
        secs, recs = timed(lambda: logs.records(sd.connection_logs_dir), a.repeat)
        print(f"archive read: {len(recs):,} records in {secs:.2f} s")  # type: ignore[arg-type]
        secs, conns = timed(lambda: logs.connections(sd.connection_logs_dir), a.repeat)
        print(f"connections joined: {len(conns):,} in {secs:.2f} s")  # type: ignore[arg-type]
        secs, _ = timed(lambda: logs.verify(sd.connection_logs_dir), a.repeat)
        print(f"archive verify (chain + segment digests): {secs:.2f} s")
        now = dt.datetime(2026, 12, 20, 12, tzinfo=dt.UTC)
        secs, pack = timed(lambda: collect.build(model, sd, "2026-Q4", now), a.repeat)
        print(f"evidence pack figures for 2026-Q4: {secs:.2f} s")
        secs, _ = timed(lambda: (render.html(pack, "fr"), render.raw_files(pack)), a.repeat)  # type: ignore[arg-type]
        print(f"evidence pack pages and raw files: {secs:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
