"""In the lab, with real sshd: a device whose host key is not the one on record is refused on every path.

The lab writes its own known_hosts (it generated its devices' keys). Here one firewall's line is replaced
by another key, as when a rogue SSH server answers at that firewall's address: deploy, isolate and access
all refuse that device (no command sent: its ruleset is unchanged), report it by name, and their summary
lines do not claim success; the other firewalls are handled normally.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from labsupport import EXAMPLE_INVENTORY, example_lab, lab_available

from vendorwall.cli import main
from vendorwall.lab import netns, runner

pytestmark = pytest.mark.lab
LAB_ID = "hk01"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    why = lab_available()
    if why:
        pytest.skip(why)
    lab_dir = str(tmp_path_factory.mktemp("hk-lab"))
    with example_lab(lab_dir, LAB_ID) as (state, _model):
        res = runner.deploy(state, confirm_s=60)
        assert [str(r.error) for r in res if r.error] == []
        yield state


def _ruleset(state, dev: str) -> str:
    ns = state.firewalls[dev]["netns"]
    return subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "ruleset"], capture_output=True, text=True,
                          check=True).stdout


def _rogue(state, dev: str, tmp_dir: str) -> str:
    """Replace ``dev``'s known_hosts line with another key; returns the original file content."""
    with open(state.known_hosts) as fh:
        original = fh.read()
    key = os.path.join(tmp_dir, "rogue")
    if not os.path.exists(key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    mgmt = state.firewalls[dev]["mgmt"]
    lines = [ln for ln in original.splitlines(keepends=True) if not ln.startswith(f"{mgmt} ")]
    with open(state.known_hosts, "w") as fh:
        fh.writelines([*lines, netns.known_hosts_line(mgmt, key + ".pub")])
    return original


def test_isolate_deploy_and_access_refuse_a_device_with_another_host_key(lab, tmp_path, capsys):
    dev = "fw-nord"
    others = sorted(d for d in lab.firewalls if d != dev)
    before = _ruleset(lab, dev)
    original = _rogue(lab, dev, str(tmp_path))
    try:
        # deploy: the device fails with a host-key error, the others are handled
        res = {r.device: r for r in runner.deploy(lab, check=True)}
        assert res[dev].error is not None and res[dev].error.kind == "host key", res[dev].error
        assert "HOST KEY MISMATCH" in str(res[dev].error)
        assert all(res[d].error is None for d in others)

        # isolate (CLI, through the manifest plan wrote): NOT isolated, exit 1, the device named
        state_dir = str(tmp_path / "state")
        assert main(["--state-dir", state_dir, "plan", EXAMPLE_INVENTORY, "--out", str(tmp_path / "out"),
                     "--now", lab.now]) == 0
        capsys.readouterr()
        rc = main(["--state-dir", state_dir, "isolate", EXAMPLE_INVENTORY, "--vendor", "acme-imaging",
                   "--reason", "lab: host key test", "--lab-dir", lab.lab_dir, "--json"])
        data = json.loads(capsys.readouterr().out)
        assert rc == 1
        assert dev in data["failed_devices"]
        assert "HOST KEY MISMATCH" in data["devices"][dev]["error"]
        assert all(data["devices"][d]["result"] == "isolated" for d in others)
        rc = main(["--state-dir", state_dir, "isolate", EXAMPLE_INVENTORY, "--vendor", "acme-imaging",
                   "--reason", "lab: host key test", "--lab-dir", lab.lab_dir])
        out = capsys.readouterr().out
        assert rc == 1 and "isolated on all" not in out and dev in out

        # access open: the grant cannot be opened on that firewall; said, exit non-zero
        rc = main(["--state-dir", state_dir, "access", "list", EXAMPLE_INVENTORY, "--lab-dir", lab.lab_dir,
                   "--json", "--now", lab.now])
        listing = capsys.readouterr()
        assert rc != 0 and dev in listing.out + listing.err

        assert _ruleset(lab, dev) == before, "nothing may have been sent to the device with the unknown key"
    finally:
        with open(lab.known_hosts, "w") as fh:
            fh.write(original)
        assert main(["--state-dir", str(tmp_path / "state"), "restore", EXAMPLE_INVENTORY, "--vendor",
                     "acme-imaging", "--reason", "lab: cleanup", "--lab-dir", lab.lab_dir]) == 0
