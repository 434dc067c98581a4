"""The roles' shared variables, by construction: one way to point at a lab, one inventory directory and one
state directory for every role; a lab's deploy never reaches a device at its real address.

Before: the lab's vars file carried deploy-only variables (vendorwall_deploy_connections...), so
access_close.yml with it tried the production addresses; the state and inventory came from -i only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from vendorwall_testlib import EXAMPLE, REPO

from vendorwall import actor, ansible_support
from vendorwall.deploy import job
from vendorwall.errors import UsageError
from vendorwall.lab import runner

DEVICE_ROLES = ("deploy", "access", "accounts", "isolate")
ALL_ROLES = ("plan", *DEVICE_ROLES)


def _role(name: str) -> tuple[dict, list]:
    base = REPO / "roles" / f"vendorwall_{name}"
    defaults = yaml.safe_load((base / "defaults" / "main.yml").read_text())
    tasks = yaml.safe_load((base / "tasks" / "main.yml").read_text())
    return defaults, tasks


def _module_task(name: str) -> dict:
    _, tasks = _role(name)
    [task] = [t for t in tasks if f"vendorwall_{name}" in t]
    return task[f"vendorwall_{name}"]


@pytest.mark.parametrize("name", ALL_ROLES)
def test_every_role_takes_the_shared_variables(name: str) -> None:
    defaults, _ = _role(name)
    args = _module_task(name)
    assert defaults[f"vendorwall_{name}_inventory"] == "{{ vendorwall_inventory_dir | default('') }}"
    assert defaults[f"vendorwall_{name}_state_dir"] == "{{ vendorwall_state_dir | default('') }}"
    assert args["inventory"] == f"{{{{ vendorwall_{name}_inventory or omit }}}}"
    assert args["state_dir"] == f"{{{{ vendorwall_{name}_state_dir or omit }}}}"


@pytest.mark.parametrize("name", DEVICE_ROLES)
def test_every_device_role_takes_the_lab_from_one_variable(name: str) -> None:
    defaults, _ = _role(name)
    assert defaults[f"vendorwall_{name}_lab_dir"] == "{{ vendorwall_lab_dir | default('') }}"
    assert _module_task(name)["lab_dir"] == f"{{{{ vendorwall_{name}_lab_dir or omit }}}}"


def _fake_lab(tmp_path: Path, firewalls: dict) -> runner.LabState:
    state = runner.LabState(runner.STATE_VERSION, "zz1", "vwzz1-", str(EXAMPLE), str(tmp_path), "2026-11-28T00:00:00",
                            "2026-11-28", [], "vwzz1-ctl", firewalls, ssh_key=str(tmp_path / "id"),
                            known_hosts=str(tmp_path / "known_hosts"))
    state.save()
    return state


def test_the_lab_vars_file_is_one_variable(tmp_path: Path) -> None:
    state = _fake_lab(tmp_path, {})
    data = yaml.safe_load(Path(runner.write_ansible_vars(state)).read_text())
    assert data == {"vendorwall_lab_dir": str(tmp_path), "vendorwall_now": "2026-11-28"}
    assert (Path(runner.ansible_vars_path(state)).stat().st_mode & 0o777) == 0o600


def test_a_lab_deploy_reaches_only_the_labs_devices(tmp_path: Path) -> None:
    """The lab serves fw-rive only: the other devices of the inventory are left out, never tried at their
    hosts.yml address; fw-rive is reached at the lab's address, from its controller namespace, with its keys."""
    _fake_lab(tmp_path, {"fw-rive": {"netns": "vwzz1-fw-rive", "mgmt": "10.250.4.1", "remote_dir": "/tmp/x"}})
    prep = job.prepare(job.Request(inventory=str(EXAMPLE), now="2026-11-28", lab_dir=str(tmp_path)))
    assert [t.device for t in prep.targets] == ["fw-rive"]
    [t] = prep.targets
    assert t.sock_factory is not None and t.host_keys.files == (str(tmp_path / "known_hosts"),)
    assert not t.host_keys.user_files and t.key_file == str(tmp_path / "id") and t.remote_dir == "/tmp/x"
    assert prep.paths.lock_dir == str(tmp_path / "locks")


def test_actor_from_awx_variables() -> None:
    assert actor.from_vars({"awx_user_name": "alice", "awx_job_id": 42, "tower_user_name": "old"}) == \
        {"user": "alice", "job_id": 42, "platform": "awx"}
    assert actor.from_vars({"tower_user_name": "bob", "tower_job_id": 7}) == {"user": "bob", "job_id": 7,
                                                                               "platform": "tower"}
    assert actor.from_vars({"inventory_hostname": "x"}) == {}
    actor.set_current({"user": "alice", "job_id": 42, "platform": "awx", "junk": 1})
    try:
        # a sudo caller's "via" (vendorwall.journal.who) is kept: the platform has its own key
        who = actor.apply({"user": "runner", "uid": 1000, "host": "pod", "via": "bob"})
        assert who == {"user": "alice", "uid": 1000, "host": "pod", "runner": "runner", "job_id": 42,
                       "platform": "awx", "via": "bob"}
    finally:
        actor.set_current(None)
    assert actor.apply({"user": "me"}) == {"user": "me"}


def test_inventory_and_project_directories(tmp_path: Path) -> None:
    assert ansible_support.inventory_dir([str(EXAMPLE / "hosts.yml")]) == str(EXAMPLE)
    awx = tmp_path / "inventory"
    awx.mkdir()
    (awx / "hosts").write_text("[firewalls]\n")
    with pytest.raises(UsageError) as exc:
        ansible_support.inventory_dir([str(awx / "hosts")])  # AWX's inventory: no vendorwall/ beside it
    assert "vendorwall_inventory_dir" in exc.value.render()
    assert ansible_support.inventory_dir([str(awx / "hosts")], required=False) == str(awx)
    assert ansible_support.project_dir("/srv/vendorwall/playbooks") == "/srv/vendorwall"
    assert ansible_support.project_dir("/srv/chu-inventory") == "/srv/chu-inventory"
