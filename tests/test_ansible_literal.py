"""The playbooks' request fields (-e ticket=..., -e reason=..., an AWX survey) are text, never templates.

Ansible renders Jinja found in extra variables whenever a template refers to them, and role argument
specifications template the role variables they list: before, ``-e 'ticket={{ lookup("pipe", "...") }}'``
on access_open.yml ran the command on the controller. Now the roles never refer to the request; the action
plugins copy it literally (vendorwall.ansible_action.literal_inputs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _playbook(pb: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable)) or shutil.which("ansible-playbook")
    if not tool:
        pytest.skip("ansible-playbook not found")
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "VENDORWALL_STATE_DIR": str(tmp_path / "state")}
    p = subprocess.run([tool, "-i", str(REPO / "inventories" / "example"), str(REPO / "playbooks" / pb), *extra],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    print(p.stdout[-3000:], p.stderr[-2000:])
    return p


def _payload(marker: Path) -> str:
    return '{{ lookup("pipe", "touch ' + str(marker) + '; echo CHG-1") }}'


def test_access_request_is_never_templated(tmp_path):
    marker = tmp_path / "PWNED"
    p = _playbook("access_open.yml", tmp_path, "-e", "vendor=acme-imaging", "-e", "system=pacs-test-centre",
                  "-e", "requester=alice@chu-exemple.example", "-e", "approver=pacs.admin@chu-exemple.example",
                  "-e", "duration=1h", "-e", f"ticket={_payload(marker)}", "--check")
    assert not marker.exists(), "Jinja in -e ticket ran a command on the controller"
    assert p.returncode == 0 and "would open" in p.stdout


def test_isolate_request_is_never_templated(tmp_path):
    marker = tmp_path / "PWNED"
    p = _playbook("isolate.yml", tmp_path, "-e", "vendor=nobody", "-e", f"reason={_payload(marker)}",
                  "-e", f"ticket={_payload(marker)}", "--check")
    assert not marker.exists(), "Jinja in -e reason ran a command on the controller"
    assert p.returncode != 0


def test_control_characters_in_a_request_refused(tmp_path):
    p = _playbook("access_open.yml", tmp_path, "-e", "vendor=acme-imaging", "-e", "system=pacs-test-centre",
                  "-e", "requester=alice@chu-exemple.example", "-e", "approver=pacs.admin@chu-exemple.example",
                  "-e", "duration=1h", "-e", "ticket=CHG-1\x1b[2J", "--check")
    assert p.returncode != 0 and "control or invisible character" in p.stdout
