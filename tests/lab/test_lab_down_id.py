"""``vendorwall lab down INV --id X`` removes lab X and nothing else (main: without --lab-dir it took down the
lab recorded in the default directory, another lab, and left X's listener running)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import labsupport
import pytest
from vendorwall_testlib import add_systems, base_inventory, system, write_inventory

from vendorwall.lab import netns, runner

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]
TAG = format(os.getpid() % 4096, "03x")
A, B = f"da{TAG}", f"db{TAG}"


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.run([sys.executable, "-m", "vendorwall", "lab", *args], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=300, check=False)
    print(p.stdout, p.stderr)
    return p


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}") and runner._cmdline(pid) != ""


def test_down_with_an_id_removes_that_lab_only(tmp_path):
    reason = labsupport.lab_available()
    if reason:
        pytest.skip(reason)
    inv = base_inventory(1)
    hosts = inv["hosts"]["all"]["children"]
    hosts.pop("switches")
    hosts["site_s0"]["hosts"].pop("sw-s0-1")
    inv["sites"]["s0"]["switches"] = []
    root = write_inventory(add_systems(inv, [system("va-x", "va", "s0", "permanent", ("https",))]),
                           tmp_path / "inv")
    lab_a = tmp_path / "lab-a"
    default_b = tmp_path / "build" / "lab" / "inv"  # lab B in the default directory of the working directory
    try:
        assert _cli(tmp_path, "up", str(root), "--id", A, "--lab-dir", str(lab_a)).returncode == 0
        assert _cli(tmp_path, "up", str(root), "--id", B).returncode == 0
        sa, sb = runner.LabState.load(str(lab_a)), runner.LabState.load(str(default_b))
        assert sa is not None and sb is not None and sa.prefix == f"vw{A}-" and sb.prefix == f"vw{B}-"
        assert _alive(sa.pids["listener"]) and _alive(sb.pids["listener"])
        # down A by its id only: the default directory holds B
        assert _cli(tmp_path, "down", str(root), "--id", A).returncode == 0
        left = netns.list_netns()
        assert not [n for n in left if n.startswith(f"vw{A}-")], "lab A's namespaces were left"
        assert not _alive(sa.pids["listener"]), "lab A's listener was left running"
        assert set(sb.namespaces) <= set(left), "lab B lost namespaces"
        assert _alive(sb.pids["listener"]) and all(_alive(p) for p in sb.pids.values()), "lab B was stopped"
        assert runner.LabState.load(str(default_b)) is not None
    finally:
        runner.down(str(lab_a), f"vw{A}-")
        runner.down(str(default_b), f"vw{B}-")
        assert not [n for n in netns.list_netns() if n.startswith((f"vw{A}-", f"vw{B}-"))]
