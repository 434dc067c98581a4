"""Isolation lab fixture: the example inventory's lab, deployed (with keep-flow tagging), its manifest
written as ``vendorwall plan`` writes it; always torn down."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys

import pytest

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)
INVENTORY = os.path.abspath(os.path.join(HERE, "..", "..", "inventories", "example"))
LAB_ID = "is" + format(os.getpid() % 4096, "03x")


def _lab_available() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("nft", "ip", "unshare", "ssh-keygen"):
        if not shutil.which(tool):
            return f"needs {tool}"
    if not os.path.exists("/usr/sbin/sshd"):
        return "needs openssh-server"
    return None


class IsoLab:
    def __init__(self, state, model, manifest_path: str, journal: str):
        self.state = state
        self.model = model
        self.manifest_path = manifest_path
        self.journal = journal

    @property
    def lab_dir(self) -> str:
        return self.state.lab_dir

    def fw_ns(self, dev: str) -> str:
        return self.state.firewalls[dev]["netns"]

    def configs(self, keep: bool = True) -> dict[str, str]:
        from keepsim import configs_with_keep

        from vendorwall.lab import runner

        return configs_with_keep(self.state, self.model) if keep else runner.render(self.state)


@pytest.fixture(scope="session")
def iso_lab(tmp_path_factory: pytest.TempPathFactory):
    reason = _lab_available()
    if reason:
        pytest.skip(reason)
    from vendorwall import pipeline
    from vendorwall.isolate import manifest
    from vendorwall.lab import netns, runner

    base = tmp_path_factory.mktemp("isolate")
    lab_dir = str(base / "lab")
    prefix = f"vw{LAB_ID}-"
    try:
        state = runner.up(INVENTORY, lab_dir=lab_dir, lab_id=LAB_ID, now=None)
        model = pipeline.run(INVENTORY, dt.date.fromisoformat(state.now), check_lock=False, do_render=False).model
        lab = IsoLab(state, model, str(base / "build" / "example" / "manifest.json"),
                     str(base / "build" / "example" / "incident-journal.jsonl"))
        manifest.write_manifest(lab.manifest_path, model)
        results = runner.deploy(state, configs=lab.configs(), confirm_s=60)
        assert [str(r.error) for r in results if r.error] == []
        yield lab
    finally:
        runner.down(lab_dir, prefix)
        left = [n for n in netns.list_netns() if n.startswith(prefix)]
        assert not left, f"namespaces left behind: {left}"
