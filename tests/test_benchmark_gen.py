"""The benchmark inventory generator: valid for vendorwall, and deterministic."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GEN = REPO / "benchmarks" / "gen_inventory.py"
NOW = "2026-11-28"
SMALL = ["--systems", "120", "--vendors", "8", "--sites", "3"]


def _run(*args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=REPO, check=False)


def _generate(out: Path, *extra: str) -> None:
    proc = _run(GEN, out, *SMALL, *extra)
    assert proc.returncode == 0, proc.stderr


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_generated_inventory_plans_and_validates(tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    _generate(inv, "--seed", "1")
    assert (inv / "hosts.yml").is_file()
    assert len(list((inv / "vendorwall" / "vendors").glob("*.yml"))) == 8
    plan = _run("-m", "vendorwall", "plan", inv, "--out", tmp_path / "build", "--now", NOW)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert (inv / "vendorwall" / "allocations.lock.yml").is_file()
    assert len(list((tmp_path / "build").glob("*.nft"))) == 3  # one firewall per site
    assert len(list((tmp_path / "build").glob("*.ios"))) == 6  # two switches per site
    check = _run("-m", "vendorwall", "validate", inv, "--now", NOW)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "8 vendors, 120 systems" in check.stdout


def test_generation_is_deterministic(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    _generate(a, "--seed", "1")
    _generate(b, "--seed", "1")
    _generate(c, "--seed", "2")
    ta, tb = _tree(a), _tree(b)
    assert ta and ta == tb
    assert _tree(c) != ta


def test_existing_inventory_needs_force(tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    _generate(inv)
    again = _run(GEN, inv, *SMALL)
    assert again.returncode != 0 and "--force" in again.stderr
    _generate(inv, "--force", "--seed", "3")
