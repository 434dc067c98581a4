"""Every shell script vendorwall ships or generates passes shellcheck (scripts/shellcheck.py, also in
``make lint``); the backup pruning that replaced ``ls -1t | tail | xargs rm`` (SC2012) keeps the newest
files, whatever their names hold."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vendorwall.deploy import nftables

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not shutil.which("shellcheck"), reason="needs shellcheck (Debian package)")
def test_every_generated_and_shipped_script_passes_shellcheck():
    p = subprocess.run([sys.executable, str(REPO / "scripts" / "shellcheck.py")], capture_output=True, text=True,
                       check=False, timeout=300)
    print(p.stdout, p.stderr)
    assert p.returncode == 0, p.stdout
    listed = subprocess.run([sys.executable, str(REPO / "scripts" / "shellcheck.py"), "--list"], capture_output=True,
                            text=True, check=True).stdout.split()
    assert "build/shellcheck/nft-timer-launch.sh" in listed and ".ci/run" in listed


def test_prune_keeps_the_newest(tmp_path):
    d = tmp_path / "back up's"
    d.mkdir()
    names = [f"2026112{i}T090000-00{i}.nft" for i in range(1, 8)]
    for n in names:
        (d / n).write_text("x")
    (d / "keep.txt").write_text("not matched")
    subprocess.run(["sh", "-c", nftables.prune_command(str(d), "*.nft", 3)], check=True)
    assert sorted(p.name for p in d.iterdir()) == sorted([*names[-3:], "keep.txt"])
    empty = tmp_path / "empty"
    empty.mkdir()
    assert subprocess.run(["sh", "-c", nftables.prune_command(str(empty), "*.nft", 3)]).returncode == 0
