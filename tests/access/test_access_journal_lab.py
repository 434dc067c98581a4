"""The access journal is written before a grant is opened: when it cannot be (a full disk), nothing is
opened on the firewall, the command says so and exits 1 (before: the grant was opened on the firewall,
then "internal error: OSError", exit 70). A grant that opens anchors its journal entry on the firewall."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_access_lab import APPROVER, FW, INV, SYSTEM, VENDOR, connects, live_grants

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]


def _open(lab, journal: str, *prefix: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "vendorwall.access", "access", "open", INV, "--vendor", VENDOR, "--system",
           SYSTEM, "--ticket", "CHG-JOURNAL", "--requester", "alice@chu-exemple.example", "--approver", APPROVER,
           "--duration", "5s", "--lab-dir", lab.lab_dir, "--journal", journal]
    p = subprocess.run([*prefix, *cmd], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    print(p.stdout, p.stderr)
    return p


def test_full_disk_opens_nothing(access_lab, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    script = ('mount -t tmpfs -o size=8k tmpfs "$0" && dd if=/dev/zero of="$0/fill" bs=1k 2>/dev/null; '
              'exec "$@"')
    p = _open(access_lab, str(full / "access.jsonl"), "unshare", "--mount", "--propagation", "private", "sh",
              "-c", script, str(full))
    assert p.returncode == 1 and "internal error" not in p.stderr and "Traceback" not in p.stderr
    assert "grant NOT opened: nothing was changed on the firewalls" in p.stdout + p.stderr
    assert "No space left on device" in p.stdout + p.stderr
    assert not [e for e in live_grants(access_lab) if "CHG-JOURNAL" in e.comment], "a grant opened unjournaled"
    assert not connects(access_lab)


def test_an_opened_grant_is_anchored_on_its_firewall(access_lab, tmp_path):
    from vendorwall import journal
    from vendorwall.access import devices, grants
    from vendorwall.devices import anchors

    jpath = str(tmp_path / "access.jsonl")
    p = _open(access_lab, jpath)
    assert p.returncode == 0 and "journal anchored on 1 of 1 devices" in p.stdout
    last = journal.read(jpath)[-1]
    o = devices.ConnOptions(lab_dir=access_lab.lab_dir)
    got, _others, errors = anchors.read(devices.targets(access_lab.model.inventory, [FW], o), jpath)
    assert errors == {} and journal.Anchor(last["seq"], last["hash"], f"device {FW}") in got
    assert [e["event"] for e in journal.read(jpath)] == ["opening", "opened"]
    closed = grants.close_grant(access_lab.model, last["grant"], o, jpath, reason="test done")  # the lab is shared
    assert closed.exit == 0, closed.lines
    assert not connects(access_lab)
