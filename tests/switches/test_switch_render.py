"""Switch platforms NX-OS, AOS-CX and Junos: golden files of the example's switch variant
(``inventories/example-switches``: nord on NX-OS, sud on AOS-CX, centre on Junos, rive on IOS),
determinism, the content of each rendering against the compiled intent, and the platform errors."""

from __future__ import annotations

import difflib
import importlib.util
import re
import sys
from pathlib import Path

import pytest
from vendorwall_testlib import NOW, REPO

from vendorwall import pipeline
from vendorwall.errors import VendorwallError
from vendorwall.platforms import registry

VARIANT = "example-switches"
HINT = "run scripts/regen_golden.py if the change is intended (then review 'git diff tests/golden')"


def _regen():
    spec = importlib.util.spec_from_file_location("regen_golden", REPO / "scripts" / "regen_golden.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


regen = _regen()
GOLDEN_DIR = regen.variant_dir(VARIANT)
REFERENCES = regen.golden_files(GOLDEN_DIR)


@pytest.fixture(scope="module")
def generated() -> dict[str, bytes]:
    return regen.generate_variant(VARIANT)


@pytest.fixture(scope="module")
def result():
    return pipeline.run(str(REPO / "inventories" / VARIANT), NOW, shown_root=f"inventories/{VARIANT}")


def test_every_switch_platform_has_references() -> None:
    exts = {Path(k).suffix for k in REFERENCES}
    assert exts == {".nxos", ".aoscx", ".junos"}, f"{exts}: {HINT}"


@pytest.mark.parametrize("rel", sorted(REFERENCES))
def test_switch_golden(generated: dict[str, bytes], rel: str) -> None:
    ref = REFERENCES[rel]
    actual = generated.get(rel)
    assert actual is not None, f"plan no longer renders {rel}\n{HINT}"
    if actual != ref.read_bytes():
        out = ref.with_name(ref.name + ".actual")
        out.write_bytes(actual)
        diff = "\n".join(list(difflib.unified_diff(ref.read_text().splitlines(), actual.decode().splitlines(),
                                                   str(ref.relative_to(REPO)), str(out.relative_to(REPO)),
                                                   lineterm=""))[:40])
        pytest.fail(f"golden mismatch {rel}\n{diff}\n{HINT}", pytrace=False)


def test_no_unreferenced_switch_output(generated: dict[str, bytes]) -> None:
    assert sorted(generated) == sorted(REFERENCES), HINT


def test_output_independent_of_hash_seed(generated: dict[str, bytes]) -> None:
    assert regen.generate_variant(VARIANT, hashseed="4242") == generated


def test_platforms_listed() -> None:
    for name, dtype in (("nxos", "cisco_nxos"), ("aoscx", "aruba_aoscx"), ("junos", "juniper_junos")):
        p = registry.get(name)
        assert p.role == "switch" and p.netmiko_device_type == dtype
        assert {"vlans", "access_ports", "trunk_allowed"} <= p.features
        assert p.interface_pattern and p.error_patterns and p.commit


# --------------------------------------------------------------------------- content vs intent


def _intended(text: str, platform: str) -> tuple[dict[int, str], dict[str, int], set[int]]:
    """(VLAN id -> name, access port -> VLAN, uplink allowed VLANs) read back from a rendering."""
    if platform == "junos":
        vlans = {int(m.group(2)): m.group(1) for m in re.finditer(r"^set vlans (\S+) vlan-id (\d+)$", text, re.M)}
        modes = dict(re.findall(r"^set interfaces (\S+) unit 0 family ethernet-switching interface-mode (\S+)$",
                                text, re.M))
        members = {m.group(1): m.group(2).strip("[] ").split() for m in re.finditer(
            r"^set interfaces (\S+) unit 0 family ethernet-switching vlan members (.+)$", text, re.M)}
        ports = {i: int(members[i][0]) for i, mode in modes.items() if mode == "access"}
        trunk = {int(v) for i, mode in modes.items() if mode == "trunk" for v in members[i]}
        return vlans, ports, trunk
    ind = "  " if platform == "nxos" else "    "
    vlans = {int(m.group(1)): m.group(2) for m in re.finditer(rf"^vlan (\d+)\n{ind}name (\S+)$", text, re.M)}
    acc = r"switchport access vlan" if platform == "nxos" else r"vlan access"
    allowed = r"switchport trunk allowed vlan" if platform == "nxos" else r"vlan trunk allowed"
    ports: dict[str, int] = {}
    trunk: set[int] = set()
    for block in re.split(r"^(?=interface )", text, flags=re.M):
        m = re.match(r"interface (\S+)\n", block)
        if not m:
            continue
        if a := re.search(rf"^{ind}{acc} (\d+)$", block, re.M):
            ports[m.group(1)] = int(a.group(1))
        if t := re.search(rf"^{ind}{allowed} (\S+)$", block, re.M):
            for part in t.group(1).split(","):
                lo, _, hi = part.partition("-")
                trunk.update(range(int(lo), int(hi or lo) + 1))
    return vlans, ports, trunk


def test_rendering_says_what_the_intent_says(result) -> None:
    """Each switch file carries exactly the site's vendor VLANs, the intended access ports, and a
    trunk that allows the vendor VLANs and nothing else."""
    seen = set()
    for name, r in result.configs.items():
        intent = result.model.devices[name]
        if r.platform not in ("nxos", "aoscx", "junos"):
            continue
        seen.add(r.platform)
        vlans, ports, trunk = _intended(r.text, r.platform)
        assert set(vlans) == {s.vlan for s in intent.segments}
        assert all(n.startswith(f"VW{v}-") for v, n in vlans.items())
        assert ports == {i: v for i, v, _ in intent.access_ports}
        assert trunk == set(vlans)
        lo, hi = result.inventory.sites[intent.site].vlan_range
        assert all(lo <= v <= hi for v in vlans)
        limit = registry.get(r.platform).limits["vlan_name_max"]
        assert max(len(n) for n in vlans.values()) <= limit
    assert seen == {"nxos", "aoscx", "junos"}


def test_aoscx_descriptions_fit_the_platform(result) -> None:
    text = result.configs["sw-sud-1"].text
    descs = re.findall(r"^    description (.*)$", text, re.M)
    assert descs and max(len(d) for d in descs) <= 64


# --------------------------------------------------------------------------- errors


def _variant_copy(tmp_path: Path, edit) -> Path:
    import shutil

    root = tmp_path / "inv"
    shutil.copytree(REPO / "inventories" / VARIANT, root)
    edit(root)
    return root


def test_empty_trunk_is_an_error_on_aoscx_and_junos() -> None:
    """A switch serving a site with no vendor VLAN: NX-OS says 'none', AOS-CX and Junos cannot."""
    from vendorwall import render

    res = pipeline.run(str(REPO / "inventories" / VARIANT), NOW)
    for dev, plat in (("sw-sud-1", "aoscx"), ("sw-centre-1", "junos"), ("sw-nord-1", "nxos")):
        intent = res.model.devices[dev]
        empty = type(intent)(intent.device, intent.role, intent.platform, intent.site, intent.mgmt, (), (), (),
                             intent.uplink, ())
        rendered, diags = render.render_device(res.model, empty)
        assert rendered is not None
        if plat == "nxos":
            assert not diags and "switchport trunk allowed vlan none" in rendered.text
        else:
            assert [d.code for d in diags] == ["platform"]
            assert f"platform {plat} cannot express an empty trunk allowed list" in diags[0].message


def test_wrong_interface_names_collected(tmp_path: Path) -> None:
    """IOS names on a Junos switch: every bad name reported at once, at its line, naming the platform."""
    def edit(root: Path) -> None:
        hosts = root / "hosts.yml"
        hosts.write_text(hosts.read_text().replace("sw-rive-1: {ansible_host: 10.250.4.11, vw_platform: ios}",
                                                   "sw-rive-1: {ansible_host: 10.250.4.11, vw_platform: junos}"))

    root = _variant_copy(tmp_path, edit)
    with pytest.raises(VendorwallError) as ei:
        pipeline.run(str(root), NOW)
    assert ei.value.stage == "render"
    diags = ei.value.diagnostics
    bad = [d for d in diags if "not valid on platform junos" in d.message]
    assert len(bad) == 5  # the uplink and the 4 access ports of sw-rive-1
    assert all(d.line > 0 and "GigabitEthernet1/0/" in d.found for d in bad)


def test_docs_switch_table_is_the_registry_table() -> None:
    doc = (REPO / "docs" / "platforms.md").read_text(encoding="utf-8")
    table = registry.support_table("switch")
    assert table in doc, "docs/platforms.md: paste `vendorwall platforms --table --role switch` output"
    for name in registry.platforms_for_role("switch"):
        p = registry.get(name)
        assert set(p.support) == set(registry.SWITCH_SUPPORT_KEYS), name
        assert all(s.why for s in p.support.values()), name


def test_plan_removes_the_stale_file_of_a_switch_that_changed_platform(tmp_path: Path) -> None:
    """A switch moved from Junos to IOS: plan writes its .ios file and removes the .junos one it wrote
    before (plan used to clean only .nft and .ios files, so the stale .junos stayed deployable)."""
    import json

    from vendorwall_testlib import run_cli

    root = _variant_copy(tmp_path, lambda root: None)
    out = tmp_path / "out"
    run_cli("plan", str(root), "--out", str(out), "--now", NOW.isoformat(), "--json")
    assert (out / "sw-centre-1.junos").is_file()
    hosts = root / "hosts.yml"
    hosts.write_text(hosts.read_text().replace("sw-centre-1: {ansible_host: 10.250.3.11, vw_platform: junos}",
                                               "sw-centre-1: {ansible_host: 10.250.3.11, vw_platform: ios}"))
    summary = json.loads(run_cli("plan", str(root), "--out", str(out), "--now", NOW.isoformat(), "--json"))
    assert (out / "sw-centre-1.ios").is_file() and not (out / "sw-centre-1.junos").exists()
    assert str(out / "sw-centre-1.junos") in summary["files_removed"]
