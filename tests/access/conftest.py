"""Access lab fixture: the example inventory's lab, deployed; always torn down (namespaces by their own
prefix, processes by their recorded ids)."""

from __future__ import annotations

import os

import labsupport
import pytest

LAB_ID = "ac" + format(os.getpid() % 4096, "03x")


@pytest.fixture(scope="session")
def lab_skip_reason() -> str | None:
    """Why lab tests cannot run here (None: they can). A fixture, not an import: several test
    directories have a conftest module, so 'from conftest import ...' is ambiguous."""
    return labsupport.lab_available()


@pytest.fixture(scope="session")
def access_lab(tmp_path_factory: pytest.TempPathFactory):
    reason = labsupport.lab_available()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("access")
    with labsupport.example_lab(str(base / "lab"), LAB_ID) as (state, model):
        labsupport.deploy(state)
        yield labsupport.Lab(state, model, str(base / "access-journal.jsonl"))
