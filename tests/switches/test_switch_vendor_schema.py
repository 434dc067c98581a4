"""The switch configurations vendorwall renders, as the vendors' own Ansible resource modules
describe them: every NX-OS and Junos rendering of the example's switch variant is turned into the
``config`` of cisco.nxos nxos_vlans / nxos_l2_interfaces / nxos_interfaces and of
junipernetworks.junos junos_vlans / junos_l2_interfaces / junos_interfaces (the planners'
``ansible_resources``), and validated by ansible-core's ``ArgumentSpecValidator`` against those
modules' argument specs: unknown keys, wrong types and values outside their choices fail.

The specs come from the ``ansible`` 12.3.0 PyPI package (cisco.nxos 11.1.0, junipernetworks.junos
11.0.0): installed, or extracted by ``scripts/vendor_schemas.py`` into build/vendor-schemas (CI runs
it). AOS-CX is not checked this way: the arubanetworks.aoscx collection is not in that package
and is not on PyPI (docs/switches.md).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import pytest
from vendorwall_testlib import REPO

from vendorwall.deploy import junos_plan, nxos_plan

GOLDEN = REPO / "tests" / "golden" / "example-switches" / "configs"
SPECS = {
    "nxos_vlans": ("cisco.nxos", "nxos", "vlans", "VlansArgs"),
    "nxos_l2_interfaces": ("cisco.nxos", "nxos", "l2_interfaces", "L2_interfacesArgs"),
    "nxos_interfaces": ("cisco.nxos", "nxos", "interfaces", "InterfacesArgs"),
    "junos_vlans": ("junipernetworks.junos", "junos", "vlans", "VlansArgs"),
    "junos_l2_interfaces": ("junipernetworks.junos", "junos", "l2_interfaces", "L2_interfacesArgs"),
    "junos_interfaces": ("junipernetworks.junos", "junos", "interfaces", "InterfacesArgs"),
}


def argument_spec(module: str) -> dict[str, Any]:
    collection, os_name, resource, cls = SPECS[module]
    name = (f"ansible_collections.{collection}.plugins.module_utils.network.{os_name}.argspec."
            f"{resource}.{resource}")
    try:
        mod = importlib.import_module(name)
    except ImportError:
        extracted = REPO / "build" / "vendor-schemas"
        if not extracted.is_dir():
            if os.environ.get("CI"):
                pytest.fail(f"{collection} argument specs missing in CI: .ci/run must run scripts/vendor_schemas.py")
            pytest.skip(f"{collection} argument specs not available: run python scripts/vendor_schemas.py")
        if str(extracted) not in sys.path:
            sys.path.insert(0, str(extracted))
        importlib.invalidate_caches()
        mod = importlib.import_module(name)
    return getattr(mod, cls).argument_spec


def errors(module: str, config: list[dict[str, Any]]) -> list[str]:
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    result = ArgumentSpecValidator(argument_spec(module)).validate({"config": config, "state": "merged"})
    return list(result.error_messages)


def renderings(platform: str) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(GOLDEN.glob(f"*.{platform}")):
        text = path.read_text()
        cfg = nxos_plan.parse(text) if platform == "nxos" else junos_plan.parse_set(text)
        out[path.name] = (nxos_plan if platform == "nxos" else junos_plan).ansible_resources(cfg)
    assert out, f"no {platform} golden file"
    return out


@pytest.mark.parametrize("platform", ["nxos", "junos"])
def test_rendered_switches_valid_against_vendor_specs(platform: str) -> None:
    for name, resources in renderings(platform).items():
        assert set(resources) == {m for m in SPECS if m.startswith(platform)}
        for module, config in resources.items():
            assert config, f"{name}: nothing for {module}"
            assert errors(module, config) == [], f"{name}: {module}"


def test_structured_equivalent_carries_the_rendering() -> None:
    """What is validated is the rendering itself, not a summary: VLANs, modes, members, descriptions."""
    res = renderings("nxos")["sw-nord-1.nxos"]
    assert {"vlan_id": 3000, "name": "VW3000-ACME-IMAGING-PACS-DR-NORD"} in res["nxos_vlans"]
    trunk = next(i for i in res["nxos_l2_interfaces"] if i["name"] == "Ethernet1/48")
    assert trunk == {"name": "Ethernet1/48", "mode": "trunk", "trunk": {"allowed_vlans": "3000-3013"}}
    j = renderings("junos")["sw-centre-1.junos"]
    port = next(i for i in j["junos_l2_interfaces"] if i["name"] == "ge-0/0/0")
    assert port == {"name": "ge-0/0/0", "unit": 0, "enhanced_layer": True,
                    "access": {"vlan": "VW3415-MAGNETIKA-MRI-CENTRE-1"}}
    assert {"name": "ge-0/0/0", "enabled": True, "description": "vendorwall magnetika mri-centre-1"} in \
        j["junos_interfaces"]


@pytest.mark.parametrize("module,config,needle", [
    ("nxos_l2_interfaces", [{"name": "Ethernet1/1", "mode": "accesss"}], "accesss"),
    ("nxos_vlans", [{"vlan_id": "three thousand", "name": "X"}], "vlan_id"),
    ("junos_l2_interfaces", [{"name": "ge-0/0/1", "access": {"vlan": "X", "tagged": True}}], "tagged"),
    ("junos_vlans", [{"name": "X", "vlan-id": 3000}], "vlan-id"),
])
def test_the_validator_rejects_what_the_vendor_does_not_accept(module: str, config: list[dict[str, Any]],
                                                               needle: str) -> None:
    found = errors(module, config)
    assert found and needle in " ".join(found)


def test_vendor_specs_come_from_the_pinned_collections() -> None:
    """The extracted collections are the ones the docs name (a version bump is a reviewed change)."""
    import json

    extracted = REPO / "build" / "vendor-schemas" / "ansible_collections"
    if not extracted.is_dir():
        pytest.skip("specs used from an installed ansible package")
    versions = {c: json.loads((extracted / c / "MANIFEST.json").read_text())["collection_info"]["version"]
                for c in ("cisco/nxos", "junipernetworks/junos")}
    assert versions == {"cisco/nxos": "11.1.0", "junipernetworks/junos": "11.0.0"}

