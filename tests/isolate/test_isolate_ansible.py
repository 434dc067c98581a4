"""playbooks/isolate.yml and restore.yml in the lab: the module fans out itself, check mode changes
nothing, a rerun reports no change, bad requests fail before touching a firewall."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vendorwall.isolate import actions, manifest

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
VENDOR = "nordlys-robotics"


def playbook(lab, name: str, *extra: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable)) or shutil.which("ansible-playbook")
    if not tool:
        pytest.skip("ansible-playbook not found")
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    cmd = [tool, "-i", str(REPO / "inventories" / "example"), str(REPO / "playbooks" / name),
           "-e", f"vendorwall_manifest={lab.manifest_path}", "-e", f"vendorwall_lab_dir={lab.lab_dir}",
           "-e", f"vendorwall_journal={lab.journal}", *extra] + (["--check"] if check else [])
    p = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    print(p.stdout[-4000:], p.stderr[-2000:])
    return p


def changed(out: str) -> int:
    m = re.search(r"^localhost\s*:.*\bchanged=(\d+)", out, re.M)
    assert m, out
    return int(m.group(1))


def qvalues(lab, dev: str) -> set[str]:
    out = subprocess.run(["ip", "netns", "exec", lab.fw_ns(dev), "nft", "-j", "list", "set", "inet",
                          "vendorwall_state", "quarantine"], capture_output=True, text=True, check=True).stdout
    return {str(e.prefix) for e in actions.parse_set(out)[0] or []}


def test_playbooks_isolate_check_rerun_restore(iso_lab):
    want = {str(e.prefix) for e in actions.plan(manifest.load(iso_lab.manifest_path), VENDOR).elements}
    args = ("-e", f"vendor={VENDOR}", "-e", "reason=ansible lab test", "-e", "ticket=LAB-A")
    p = playbook(iso_lab, "isolate.yml", *args, check=True)
    assert p.returncode == 0 and changed(p.stdout) == 1 and "would be added" in p.stdout
    assert all(qvalues(iso_lab, dev) == set() for dev in iso_lab.state.firewalls)
    p = playbook(iso_lab, "isolate.yml", *args)
    assert p.returncode == 0 and changed(p.stdout) == 1
    assert "isolated on all 4 devices" in p.stdout and "vendor side cut" in p.stdout
    assert all(qvalues(iso_lab, dev) == want for dev in iso_lab.state.firewalls)
    p = playbook(iso_lab, "isolate.yml", *args)
    assert p.returncode == 0 and changed(p.stdout) == 0
    p = playbook(iso_lab, "restore.yml", *args)
    assert p.returncode == 0 and changed(p.stdout) == 1 and "restored on all 4 devices" in p.stdout
    assert all(qvalues(iso_lab, dev) == set() for dev in iso_lab.state.firewalls)


def test_playbook_bad_requests_change_nothing(iso_lab):
    p = playbook(iso_lab, "isolate.yml", "-e", "vendor=dedalus", "-e", "reason=x")
    assert p.returncode != 0 and "unknown vendor: nothing was changed" in p.stdout
    assert "known vendors: acme-imaging" in p.stdout
    p = playbook(iso_lab, "isolate.yml", "-e", f"vendor={VENDOR}")
    assert p.returncode != 0 and "a vendor and a reason are needed" in p.stdout
    assert all(qvalues(iso_lab, dev) == set() for dev in iso_lab.state.firewalls)
