"""The incident journal against a controller attacker, in the isolation lab: each isolate/restore anchors
its last entry on the firewalls it changed (the ``anchor`` agent); ``vendorwall journal verify --devices``
then tells a cut tail and a re-chained file, which the chain alone cannot. And a full disk: the isolation
happens, the report says what was done, then that the journal was not written, exit 1 (before: only
"internal error: OSError", exit 70).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_isolate_lab import qvalues, vendor_prefixes

from vendorwall import journal

pytestmark = pytest.mark.lab
VENDOR = "radiante"


def _cli(*args: str) -> tuple[int, str, str]:
    p = subprocess.run([sys.executable, "-m", "vendorwall", *args], capture_output=True, text=True, timeout=300,
                       check=False)
    print(p.stdout[-3000:], p.stderr[-2000:])
    return p.returncode, p.stdout, p.stderr


def _state_journal(iso_lab) -> str:
    from vendorwall.state import StateDir

    return StateDir.for_inventory(iso_lab.model.inventory.root).journal("incident")


def _rechain(entries: list[dict]) -> str:
    out, prev = [], ""
    for i, e in enumerate(entries, 1):
        e = {k: v for k, v in e.items() if k not in ("hash", "mac", "key_id")}
        e.update(seq=i, prev=prev)
        e["hash"] = journal.entry_hash(e)
        prev = e["hash"]
        out.append(journal.canonical(e).decode() + "\n")
    return "".join(out)


def test_isolate_anchors_its_journal_on_the_firewalls_and_verify_uses_them(iso_lab, monkeypatch):
    monkeypatch.delenv(journal.KEY_ENV, raising=False)
    inv = iso_lab.model.inventory.root
    rc, out, _ = _cli("isolate", iso_lab.manifest_path, "--vendor", VENDOR, "--reason", "lab: anchors",
                      "--lab-dir", iso_lab.lab_dir)
    assert rc == 0 and "journal anchored on 4 of 4 devices" in out
    rc, out, _ = _cli("restore", iso_lab.manifest_path, "--vendor", VENDOR, "--reason", "lab: anchors",
                      "--lab-dir", iso_lab.lab_dir)
    assert rc == 0 and "journal anchored on 4 of 4 devices" in out
    path = _state_journal(iso_lab)
    good = Path(path).read_text()
    verify = ("journal", "verify", inv, "--name", "incident", "--devices", "--lab-dir", iso_lab.lab_dir)
    rc, out, _ = _cli(*verify)
    assert rc == 0 and "intact" in out and "anchors checked" in out
    try:
        # the tail cut after a complete entry: the chain alone says intact, the firewalls do not
        lines = good.splitlines(keepends=True)
        Path(path).write_text("".join(lines[:-2]))
        assert journal.verify(path) == []
        rc, out, _ = _cli(*verify)
        assert rc == 1 and "truncated" in out and "device fw-" in out
        # the whole file rewritten and re-chained (the restore made to look like an isolation)
        entries = [json.loads(ln) for ln in lines]
        entries[-1]["action"] = "isolate"
        Path(path).write_text(_rechain(entries))
        assert journal.verify(path) == []
        rc, out, _ = _cli(*verify)
        assert rc == 1 and "differs from its anchor on device fw-" in out
    finally:
        Path(path).write_text(good)


@pytest.mark.skipif(not os.path.exists("/usr/bin/unshare"), reason="needs unshare")
def test_disk_full_isolation_done_reported_then_the_journal_failure(iso_lab, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    jpath = full / "incident.jsonl"
    cmd = [sys.executable, "-m", "vendorwall", "isolate", iso_lab.manifest_path, "--vendor", VENDOR, "--reason",
           "lab: disk full", "--lab-dir", iso_lab.lab_dir, "--journal", str(jpath)]
    script = ('mount -t tmpfs -o size=16k tmpfs "$0" && head -c 12288 /dev/zero > "$0/filler" 2>/dev/null; '
              'dd if=/dev/zero of="$0/rest" bs=1k 2>/dev/null; exec "$@"')
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(full), *cmd],
                       capture_output=True, text=True, timeout=300, check=False)
    print(p.stdout[-3000:], p.stderr[-2000:])
    try:
        assert p.returncode == 1, "a journal that cannot be written must fail the run (never exit 0, never 70)"
        assert "internal error" not in p.stderr and "Traceback" not in p.stderr
        assert "isolated on all 4 devices" in p.stdout
        assert p.stdout.index("isolated on all 4 devices") < p.stdout.index("JOURNAL NOT WRITTEN")
        assert "No space left on device" in p.stdout and "the journal was NOT written" in p.stderr
        for dev in iso_lab.state.firewalls:  # the isolation happened all the same
            assert vendor_prefixes(iso_lab, VENDOR) <= qvalues(iso_lab, dev)
    finally:
        rc, _out, _err = _cli("restore", iso_lab.manifest_path, "--vendor", VENDOR, "--reason", "lab: cleanup",
                              "--lab-dir", iso_lab.lab_dir)
        assert rc == 0
