"""Playbooks run the way AWX / Ansible Automation Platform runs them: ansible-runner with a private data
directory whose project is a fresh checkout of the repository (nothing in build/), whose inventory is AWX's
own copy of the hosts (not the project's inventory directory), and whose extra variables carry the job
(awx_user_name, awx_job_id...).

- deploy.yml: the per-host events say which device was unreachable and which were ok;
- isolate.yml from that fresh checkout finds the manifest in the state directory (before: it read
  build/<inventory>/manifest.json of the checkout, which AWX discards after every job) and the incident
  journal records the AWX user and job (before: the runner account).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import labsupport
import pytest

from vendorwall import state
from vendorwall.isolate import journal
from vendorwall.lab import runner

ROOT = Path(__file__).resolve().parents[2]
HOSTS = ROOT / "inventories" / "example" / "hosts.yml"


def _fresh_checkout(dst: Path) -> Path:
    """A clone of the repository's committed tree, as AWX's project sync makes it."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout")
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(dst)], check=True)
    assert not (dst / "build").exists()
    return dst


def _private_data_dir(tmp_path: Path, extravars: dict) -> Path:
    pdd = tmp_path / "pdd"
    _fresh_checkout(pdd / "project")
    (pdd / "inventory").mkdir(parents=True)
    shutil.copy(HOSTS, pdd / "inventory" / "hosts.yml")  # AWX's copy of the hosts: no vendorwall/ beside it
    (pdd / "env").mkdir()
    (pdd / "env" / "extravars").write_text(json.dumps(extravars))
    return pdd


def _run(pdd: Path, playbook: str, cmdline: str = "") -> object:
    ansible_runner = pytest.importorskip("ansible_runner")
    return ansible_runner.run(private_data_dir=str(pdd), playbook=playbook, cmdline=cmdline or None, quiet=True,
                              envvars={"ANSIBLE_NOCOLOR": "1",
                                       "VENDORWALL_STATE_DIR": os.environ["VENDORWALL_STATE_DIR"]})


def _awx(job: int) -> dict:
    return {"awx_user_name": "alice.martin", "awx_job_id": job, "awx_job_template_name": "vendorwall",
            "vendorwall_inventory_dir": "inventories/example"}


def test_deploy_events_per_host(lab, tmp_path):
    pdd = _private_data_dir(tmp_path, {**_awx(4242), "vendorwall_lab_dir": lab.lab_dir,
                                       "vendorwall_deploy_connections": {"fw-nord": {"host": "10.250.99.99"}}})
    r = _run(pdd, "playbooks/deploy.yml", "--check")
    per_host = {}
    for e in r.events:
        data = e.get("event_data", {})
        if data.get("task") == "Result of this device" and e["event"].startswith("runner_on_"):
            per_host[data["host"]] = e["event"]
    assert per_host["fw-nord"] == "runner_on_unreachable", per_host
    others = {h: ev for h, ev in per_host.items() if h != "fw-nord"}
    assert len(others) == 9 and set(others.values()) == {"runner_on_ok"}, per_host
    assert r.status == "failed" and "fw-nord" in r.stats["dark"] and not r.stats["failures"]


def test_isolate_from_a_fresh_checkout_journals_the_awx_user(lab, tmp_path):
    labsupport.deploy(lab)  # the firewalls carry the state table the isolation writes to
    out = subprocess.run([sys.executable, "-m", "vendorwall", "plan", str(ROOT / "inventories" / "example"),
                          "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr  # the manifest goes to the state directory, not the checkout
    pdd = _private_data_dir(tmp_path, {**_awx(4243), "vendorwall_lab_dir": lab.lab_dir, "vendor": "acme-imaging",
                                       "reason": "vendor breach notice (test)"})
    r = _run(pdd, "playbooks/isolate.yml", "--check")
    assert r.status == "successful", "".join(e.get("stdout", "") for e in r.events)[-3000:]
    sd = state.StateDir.for_inventory("inventories/example")
    entries = journal.read(sd.journal("incident"))
    who = entries[-1]["who"]
    assert who["user"] == "alice.martin" and who["job_id"] == 4243 and who["platform"] == "awx", who
    assert who["runner"] and who["runner"] != "alice.martin"  # the account that really ran
    assert not journal.verify(sd.journal("incident"))
    assert runner.LabState.load(lab.lab_dir) is not None
