"""Lab fixtures: one lab (example inventory) per test session, always torn down."""

from __future__ import annotations

import os

import labsupport
import pytest

from vendorwall.lab import netns, runner

LAB_ID = "pt" + format(os.getpid() % 4096, "03x")
HERE = os.path.dirname(__file__)
INVENTORY = os.path.join(HERE, "..", "..", "inventories", "example")


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory):
    reason = labsupport.lab_available()
    if reason:
        pytest.skip(reason)
    lab_dir = str(tmp_path_factory.mktemp("lab"))
    prefix = f"vw{LAB_ID}-"
    try:
        state = runner.up(INVENTORY, lab_dir=lab_dir, lab_id=LAB_ID, now=None)
        yield state
    finally:
        runner.down(lab_dir, prefix)
        left = [n for n in netns.list_netns() if n.startswith(prefix)]
        assert not left, f"namespaces left behind: {left}"
