"""Isolation lab fixture: the example inventory's lab, deployed (with keep-flow tagging), its manifest
written as ``vendorwall plan`` writes it; always torn down."""

from __future__ import annotations

import os
import sys

import labsupport
import pytest

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)
LAB_ID = "is" + format(os.getpid() % 4096, "03x")


class IsoLab(labsupport.Lab):
    def __init__(self, state, model, manifest_path: str, journal: str):
        super().__init__(state, model, journal)
        self.manifest_path = manifest_path

    def configs(self, keep: bool = True) -> dict[str, str]:
        from keepsim import configs_with_keep

        from vendorwall.lab import runner

        return configs_with_keep(self.state, self.model) if keep else runner.render(self.state)


@pytest.fixture(scope="session")
def iso_lab(tmp_path_factory: pytest.TempPathFactory):
    reason = labsupport.lab_available()
    if reason:
        pytest.skip(reason)
    from vendorwall.isolate import manifest

    base = tmp_path_factory.mktemp("isolate")
    with labsupport.example_lab(str(base / "lab"), LAB_ID) as (state, model):
        lab = IsoLab(state, model, str(base / "build" / "example" / "manifest.json"),
                     str(base / "build" / "example" / "incident-journal.jsonl"))
        manifest.write_manifest(lab.manifest_path, model)
        labsupport.deploy(state, configs=lab.configs())
        yield lab
