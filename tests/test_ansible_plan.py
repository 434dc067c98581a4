"""playbooks/plan.yml against `vendorwall plan`: same files, check mode writes nothing, clean errors.

Each test runs the real ansible-playbook in a child process on a copy of the example inventory
(the lock file of the repository is never touched), with the project's ansible.cfg.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "inventories" / "example"
NOW = "2026-11-28"


def _tool(name: str) -> str:
    """A console script of the running Python's environment (the venv), else the one on PATH."""
    found = shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found beside {sys.executable} nor on PATH: pip install -e '.[test]'")
    return found


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""))
    return env


def playbook(inventory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_tool("ansible-playbook"), "-i", str(inventory), str(REPO / "playbooks" / "plan.yml"),
                           *args], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300, check=False)


def cli_plan(inventory: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vendorwall", "plan", str(inventory), "--out", str(out),
                           "--now", NOW], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300,
                          check=False)


def tree(root: Path) -> dict[str, bytes]:
    """Every file below root, relative path -> content."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def recap_changed(stdout: str) -> int:
    m = re.search(r"^localhost\s*:.*\bchanged=(\d+)", stdout, re.M)
    assert m, f"no PLAY RECAP for localhost in:\n{stdout}"
    return int(m.group(1))


@pytest.fixture()
def inventory(tmp_path: Path) -> Path:
    """A copy of the example inventory (its lock file included)."""
    return Path(shutil.copytree(EXAMPLE, tmp_path / "example"))


def test_playbook_writes_the_same_files_as_the_cli(inventory: Path, tmp_path: Path) -> None:
    before = tree(inventory)
    out_ansible, out_cli = tmp_path / "out-ansible", tmp_path / "out-cli"

    run = playbook(inventory, "-e", f"vendorwall_out={out_ansible}", "-e", f"vendorwall_now={NOW}")
    assert run.returncode == 0, run.stdout + run.stderr
    cli = cli_plan(inventory, out_cli)
    assert cli.returncode == 0, cli.stderr

    written = tree(out_ansible)
    assert written, "the playbook wrote no file"
    assert sorted(written) == sorted(tree(out_cli))
    for name, content in tree(out_cli).items():
        assert written[name] == content, f"{name} differs between the playbook and `vendorwall plan`"
    assert {n.rsplit(".", 1)[1] for n in written} == {"nft", "ios"}  # the configurations
    # the isolation manifest goes to the inventory's state directory (tests: under VENDORWALL_STATE_DIR)
    assert (Path(os.environ["VENDORWALL_STATE_DIR"]) / "example" / "manifest" / "manifest.json").is_file()
    assert tree(inventory) == before, "the example's lock file is up to date: nothing to rewrite"

    # The summary the playbook prints is the CLI's text, line for line.
    for line in cli.stdout.replace(str(out_cli), str(out_ansible)).splitlines():
        assert line.strip() in run.stdout, f"summary line missing from the playbook output: {line!r}"
    assert recap_changed(run.stdout) == 1

    again = playbook(inventory, "-e", f"vendorwall_out={out_ansible}", "-e", f"vendorwall_now={NOW}")
    assert again.returncode == 0, again.stdout + again.stderr
    assert recap_changed(again.stdout) == 0, "a second run with nothing new must change nothing"
    assert tree(out_ansible) == written


def test_check_mode_writes_nothing(inventory: Path, tmp_path: Path) -> None:
    # Without a lock file and an output directory, a real run would write both.
    (inventory / "vendorwall" / "allocations.lock.yml").unlink()
    before = tree(inventory)
    out = tmp_path / "out"

    run = playbook(inventory, "--check", "-e", f"vendorwall_out={out}", "-e", f"vendorwall_now={NOW}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert not out.exists(), "check mode created the output directory"
    assert tree(inventory) == before, "check mode wrote into the inventory"
    assert recap_changed(run.stdout) == 1, "check mode must report that a real run would change things"
    assert "lock file updated" in run.stdout
    assert "check mode: nothing was written" in run.stdout

    real = playbook(inventory, "-e", f"vendorwall_out={out}", "-e", f"vendorwall_now={NOW}")
    assert real.returncode == 0, real.stdout + real.stderr
    assert (inventory / "vendorwall" / "allocations.lock.yml").is_file()
    assert tree(out)


def test_broken_inventory_fails_with_the_diagnostic_and_no_traceback(inventory: Path, tmp_path: Path) -> None:
    vendor_file, line = _break_a_site_reference(inventory, "atlantis")
    out = tmp_path / "out"

    run = playbook(inventory, "-e", f"vendorwall_out={out}", "-e", f"vendorwall_now={NOW}")
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert f"{vendor_file}:{line}: vendors." in output
    assert "unknown site 'atlantis'" in output
    assert "hint:" in output
    assert "1 error found" in output
    assert "Traceback" not in output
    assert not out.exists(), "nothing may be written from an invalid inventory"


def _break_a_site_reference(inventory: Path, site: str) -> tuple[str, int]:
    """Point the first system's site of the first vendor file at an unknown site: (file, line)."""
    for path in sorted((inventory / "vendorwall" / "vendors").glob("*.yml")):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        for i, text in enumerate(lines):
            m = re.match(r"^(\s+site:\s*)\S+\s*$", text)
            if m:
                lines[i] = f"{m.group(1)}{site}\n"
                path.write_text("".join(lines), encoding="utf-8")
                return str(path), i + 1
    raise AssertionError("no 'site:' line in the example's vendor files")
