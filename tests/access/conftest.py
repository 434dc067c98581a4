"""Access lab fixture: the example inventory's lab, deployed; always torn down (namespaces by their own
prefix, processes by their recorded ids)."""

from __future__ import annotations

import datetime as dt
import os
import shutil

import pytest

HERE = os.path.dirname(__file__)
INVENTORY = os.path.abspath(os.path.join(HERE, "..", "..", "inventories", "example"))
LAB_ID = "ac" + format(os.getpid() % 4096, "03x")


def lab_available() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("nft", "ip", "unshare", "ssh-keygen"):
        if not shutil.which(tool):
            return f"needs {tool}"
    if not os.path.exists("/usr/sbin/sshd"):
        return "needs openssh-server"
    return None


@pytest.fixture(scope="session")
def lab_skip_reason() -> str | None:
    """Why lab tests cannot run here (None: they can). A fixture, not an import: several test
    directories have a conftest module, so 'from conftest import ...' is ambiguous."""
    return lab_available()


class AccessLab:
    def __init__(self, state, model, journal: str):
        self.state = state
        self.model = model
        self.journal = journal

    @property
    def lab_dir(self) -> str:
        return self.state.lab_dir

    def fw_ns(self, dev: str) -> str:
        return self.state.firewalls[dev]["netns"]


@pytest.fixture(scope="session")
def access_lab(tmp_path_factory: pytest.TempPathFactory):
    reason = lab_available()
    if reason:
        pytest.skip(reason)
    from vendorwall import pipeline
    from vendorwall.lab import netns, runner

    base = tmp_path_factory.mktemp("access")
    lab_dir = str(base / "lab")
    prefix = f"vw{LAB_ID}-"
    try:
        state = runner.up(INVENTORY, lab_dir=lab_dir, lab_id=LAB_ID, now=None)
        model = pipeline.run(INVENTORY, dt.date.fromisoformat(state.now), check_lock=False, do_render=False).model
        results = runner.deploy(state, confirm_s=60)
        assert [str(r.error) for r in results if r.error] == []
        yield AccessLab(state, model, str(base / "access-journal.jsonl"))
    finally:
        runner.down(lab_dir, prefix)
        left = [n for n in netns.list_netns() if n.startswith(prefix)]
        assert not left, f"namespaces left behind: {left}"
