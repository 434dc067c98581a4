"""playbooks/deploy.yml in the lab, as a network engineer runs it (after test_lab.py, whose first test
needs the session's lab not deployed yet): --limit on a site group after an inventory
change pushes the new intent (before: the plan play was skipped and the stale build/ files were pushed,
"changed", rc 0), and PLAY RECAP names the unreachable device (before: every result was credited to the
first host; two unreachable devices showed as ok; 3,563 lines of output).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vendorwall.deploy import job
from vendorwall.lab import runner

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLE = os.path.join(ROOT, "inventories", "example")


def _tool() -> str:
    tool = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable)) or shutil.which("ansible-playbook")
    if tool is None:
        pytest.skip("needs ansible-playbook")
    return tool


def _playbook(lab, inventory: str, *args: str, extra: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [_tool(), "-i", inventory, os.path.join(ROOT, "playbooks", "deploy.yml"),
           "-e", "@" + runner.ansible_vars_path(lab), *args]
    if extra:
        cmd += ["-e", json.dumps(extra)]
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg")}
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)


def _recap(stdout: str) -> dict[str, dict[str, int]]:
    out = {}
    for m in re.finditer(r"^(\S+)\s+: ((?:\w+=\d+\s*)+)$", stdout.split("PLAY RECAP", 1)[-1], re.M):
        out[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return out


def _planned(lab, inventory: str, device: str) -> bool:
    """Whether ``device`` of the lab differs from what ``inventory`` renders (check mode, nothing changed)."""
    from vendorwall.deploy import fanout
    from vendorwall.deploy.common import Options

    prep = job.prepare(job.Request(inventory=inventory, devices=[device], now=lab.now, lab_dir=lab.lab_dir))
    [r] = fanout.deploy(prep.targets, prep.configs, Options(check=True), lock_dir=prep.paths.lock_dir or "")
    assert r.error is None, r.error
    return r.changed


def test_limit_on_a_site_group_pushes_the_new_intent(lab, tmp_path):
    inv = str(tmp_path / "example")  # the same devices and addresses as the lab's, then an inventory change
    shutil.copytree(EXAMPLE, inv)
    first = _playbook(lab, inv, "-e", f"vendorwall_out={tmp_path}/out")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    assert not _planned(lab, inv, "fw-rive")
    vendor = os.path.join(inv, "vendorwall", "vendors", "acme-imaging.yml")
    text = Path(vendor).read_text()
    at = text.index("site: rive")
    with open(vendor, "w") as fh:  # the vendor's SSH access to its system at site rive is removed
        fh.write(text[:at] + text[at:].replace("services: [ssh, https]", "services: [https]", 1))
    assert _planned(lab, inv, "fw-rive"), "the change must concern fw-rive for this test to mean anything"
    run = _playbook(lab, inv, "--limit", "site_rive", "-e", f"vendorwall_out={tmp_path}/out")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "PLAY [Plan" in run.stdout and "skipping: no hosts matched" in run.stdout  # the plan play did not run
    recap = _recap(run.stdout)
    assert set(recap) == {"fw-rive", "sw-rive-1"}, recap
    assert recap["fw-rive"]["changed"] == 1 and recap["sw-rive-1"]["changed"] == 0
    assert not _planned(lab, inv, "fw-rive"), "fw-rive does not run the new intent"
    try:
        assert _planned(lab, EXAMPLE, "fw-rive")  # and it no longer runs the old one
    finally:  # the session's lab back to the example's intent for the other lab tests
        restore = _playbook(lab, EXAMPLE, "--limit", "site_rive", "-e", f"vendorwall_out={tmp_path}/out2")
        assert restore.returncode == 0, restore.stdout[-2000:]


def test_recap_names_the_unreachable_device(lab, tmp_path):
    """One device unreachable: it alone is unreachable in PLAY RECAP, the others are deployed and ok, the
    run fails, and the whole output stays short (a few dozen lines, not thousands)."""
    conns = {"fw-nord": {"host": "10.250.99.99"}}  # no route from the lab's controller namespace
    run = _playbook(lab, EXAMPLE, "-e", f"vendorwall_out={tmp_path}/out",
                    extra={"vendorwall_deploy_connections": conns})
    assert run.returncode != 0
    recap = _recap(run.stdout)
    assert recap["fw-nord"]["unreachable"] == 1 and recap["fw-nord"]["failed"] == 0, recap
    others = {h: r for h, r in recap.items() if h != "fw-nord"}
    assert others and all(r["unreachable"] == 0 and r["failed"] == 0 for r in others.values()), recap
    assert re.search(r"^fatal: \[fw-nord\]: UNREACHABLE!", run.stdout, re.M)
    assert "fw-nord (nftables): connect failed" in run.stdout
    lines = len((run.stdout + run.stderr).splitlines())
    assert lines < 150, f"{lines} lines of output"
