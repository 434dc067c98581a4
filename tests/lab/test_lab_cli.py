"""vendorwall lab: options irrelevant to an action are refused; 'lab test' says what to run when the lab is
not deployed yet or the inventory changed since 'lab up' (before: an internal error, exit 70)."""

from __future__ import annotations

import os
import subprocess
import sys

import labsupport
import pytest
from vendorwall_testlib import add_systems, base_inventory, system, write_inventory

from vendorwall.lab import netns, runner


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vendorwall", *args], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("args, bad", [(["up", "--check"], "--check"), (["deploy", "--seed", "3"], "--seed"),
                                       (["test", "--confirm-seconds", "5", "--now", "2026-01-01"], "--now"),
                                       (["status", "--json"], "--json")])
def test_irrelevant_options_are_refused(tmp_path, args, bad):
    out = _cli("lab", args[0], str(tmp_path), *args[1:])
    assert out.returncode == 2 and bad in out.stderr and "not apply here" in out.stderr, out.stderr
    assert "internal error" not in out.stderr


def test_lab_test_says_what_to_run(tmp_path):
    why = labsupport.lab_available()
    if why:
        pytest.skip(why)
    inv = add_systems(base_inventory(1), [system("va-s0-01", "va", "s0"), system("vb-s0-01", "vb", "s0")])
    root = write_inventory(inv, tmp_path / "inv")
    lab_dir = str(tmp_path / "lab")
    lab_id = "lc" + format(os.getpid() % 4096, "03x")
    try:
        runner.up(str(root), lab_dir=lab_dir, lab_id=lab_id)
        out = _cli("lab", "test", str(root), "--lab-dir", lab_dir)
        assert out.returncode == 2, out.stderr
        assert "nothing deployed" in out.stderr and "vendorwall lab deploy" in out.stderr
        write_inventory(add_systems(inv, [system("vc-s0-01", "vc", "s0")]), root)  # one more segment
        out = _cli("lab", "test", str(root), "--lab-dir", lab_dir)
        assert out.returncode == 2, out.stderr
        assert "the inventory changed since 'lab up'" in out.stderr and "vendorwall lab up" in out.stderr
        assert "internal error" not in out.stderr
    finally:
        runner.down(lab_dir, f"vw{lab_id}-")
    assert not [n for n in netns.list_netns() if n.startswith(f"vw{lab_id}-")]
