"""Symbolic links that leave the inventory are refused unread: a file (or a linked directory) pointing
outside is an error naming the link, its content never reaches a message, and plan never writes the lock
file through such a link. Links inside the inventory still work.

Before: the link was followed and the outside file's keys were echoed in the errors ("unknown top-level
key 'SECRET-TOKEN-42'"), and plan wrote the lock file's content over the link's target."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

BASE = Path(__file__).resolve().parent / "errors" / "_base"
SECRET = "SECRET-TOKEN-42"


def _inv(tmp_path: Path) -> Path:
    inv = tmp_path / "inv"
    shutil.copytree(BASE, inv)
    return inv


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([sys.executable, "-m", "vendorwall", *args, "--now", "2026-11-28"], capture_output=True,
                       text=True, timeout=120, check=False)
    print(p.stdout, p.stderr)
    return p


def test_vendor_file_linked_outside_refused_unread(tmp_path):
    inv = _inv(tmp_path)
    secret = tmp_path / "outside" / "secret.yml"
    secret.parent.mkdir()
    secret.write_text(f"{SECRET}: hunter2\n")
    os.symlink(secret, inv / "vendorwall" / "vendors" / "evil.yml")
    p = _run("validate", str(inv))
    assert p.returncode == 2 and "file leaves the inventory" in p.stderr and "evil.yml" in p.stderr
    assert SECRET not in p.stdout + p.stderr and "hunter2" not in p.stdout + p.stderr


def test_linked_directory_outside_refused(tmp_path):
    inv = _inv(tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.yml").write_text(f"{SECRET}: 1\n")
    os.symlink(outside, inv / "vendorwall" / "more")
    p = _run("validate", str(inv))
    assert p.returncode == 2 and "file leaves the inventory" in p.stderr and SECRET not in p.stderr


def test_hosts_and_lock_linked_outside(tmp_path):
    inv = _inv(tmp_path)
    target = tmp_path / "precious.txt"
    target.write_text("do not overwrite\n")
    lock = inv / "vendorwall" / "allocations.lock.yml"
    lock.unlink()
    os.symlink(target, lock)
    p = _run("plan", str(inv), "--out", str(tmp_path / "out"))
    assert p.returncode == 2 and "file leaves the inventory" in p.stderr
    assert target.read_text() == "do not overwrite\n", "plan wrote through a link leaving the inventory"
    hosts = inv / "hosts.yml"
    shutil.move(hosts, tmp_path / "hosts.yml")
    os.symlink(tmp_path / "hosts.yml", hosts)
    p = _run("validate", str(inv))
    assert p.returncode == 2 and "hosts.yml" in p.stderr and "file leaves the inventory" in p.stderr


def test_link_inside_the_inventory_is_fine(tmp_path):
    inv = _inv(tmp_path)
    vendors = inv / "vendorwall" / "vendors"
    (inv / "shared").mkdir()
    shutil.move(vendors / "tomora.yml", inv / "shared" / "tomora.yml")
    os.symlink(inv / "shared" / "tomora.yml", vendors / "tomora.yml")
    p = _run("validate", str(inv))
    assert p.returncode == 0, p.stderr
