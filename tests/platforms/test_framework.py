"""The firewall platform framework: registry, capability files, golden files, meanings.

- every firewall platform's golden files (the multi-vendor example, and every firewall of the
  example rendered on every platform) are what the code renders, byte for byte, whatever the
  hash seed (references written by scripts/regen_golden.py only);
- every platform's rendered text *means* the compiled intent: parsed back into (source,
  destination, protocol, port, action, condition, keep) tuples, it equals the intent's tuples,
  on the example and on a larger synthetic inventory that uses every access mode;
- a rule a platform cannot express is an error naming the platform and the feature.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import sys
from types import ModuleType

import pytest
from vendorwall_testlib import EXAMPLE, NOW, REPO, run_cli

from vendorwall import compile as comp
from vendorwall import pipeline, render
from vendorwall.platforms import registry
from vendorwall.render import meaning as M

MULTIVENDOR = REPO / "inventories" / "example-multivendor"
HINT = "run scripts/regen_golden.py if the change is intended (then review 'git diff tests/golden')"


def _regen() -> ModuleType:
    if "regen_golden" in sys.modules:
        return sys.modules["regen_golden"]
    spec = importlib.util.spec_from_file_location("regen_golden", REPO / "scripts" / "regen_golden.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


regen = _regen()
FIREWALL_PLATFORMS = [p for p in registry.platforms_for_role("firewall") if registry.get(p).renderer]
PARSED_PLATFORMS = [p for p in FIREWALL_PLATFORMS if p != "nftables"]


def _compare(root, rel: str, actual: bytes) -> None:
    ref = root / rel
    out = ref.with_name(ref.name + ".actual")
    expected = ref.read_bytes() if ref.exists() else None
    if expected == actual:
        out.unlink(missing_ok=True)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(actual)
    if expected is None:
        pytest.fail(f"no reference {ref.relative_to(REPO)}\n{HINT}", pytrace=False)
    diff = list(difflib.unified_diff(expected.decode().splitlines(), actual.decode().splitlines(), lineterm="", n=1))
    pytest.fail(f"golden mismatch: {ref.relative_to(REPO)}\n" + "\n".join(diff[:40]) + f"\n{HINT}", pytrace=False)


@pytest.fixture(scope="module")
def multivendor_files() -> dict[str, bytes]:
    return regen.generate_variant(MULTIVENDOR.name)


@pytest.fixture(scope="module")
def platform_files() -> dict[str, bytes]:
    return regen.generate_platforms()


def test_multivendor_golden(multivendor_files) -> None:
    root = regen.variant_dir(MULTIVENDOR.name)
    assert set(multivendor_files) == set(regen.golden_files(root)), HINT
    for rel, data in sorted(multivendor_files.items()):
        _compare(root, rel, data)


def test_every_platform_golden(platform_files) -> None:
    root = regen.PLATFORMS_DIR
    assert set(platform_files) == set(regen.golden_files(root)), HINT
    for rel, data in sorted(platform_files.items()):
        assert not data.startswith(b"ERRORS"), f"{rel}: {data[:400].decode()}"
        _compare(root, rel, data)
    # one file per (firewall platform, firewall of the example)
    assert {k.split("/")[0] for k in platform_files} == set(FIREWALL_PLATFORMS)


def test_platform_output_independent_of_hash_seed(platform_files, multivendor_files) -> None:
    assert regen.generate_platforms(hashseed="4242") == platform_files
    assert regen.generate_variant(MULTIVENDOR.name, hashseed="777") == multivendor_files


def test_nftables_of_every_platform_golden_is_the_example_golden(platform_files) -> None:
    """The nftables column of the every-platform golden is the example's own output, unchanged."""
    for rel, data in platform_files.items():
        if rel.startswith("nftables/"):
            assert data == (regen.GOLDEN / "configs" / rel.split("/", 1)[1]).read_bytes()


def test_multivendor_has_one_site_per_renderable_firewall_platform() -> None:
    """Every platform but nftables (the example's own, reference platform) runs one site of the variant."""
    res = pipeline.run(str(MULTIVENDOR), NOW, shown_root="inventories/example-multivendor")
    used = {d.platform for d in res.model.devices.values() if d.role == "firewall"}
    wanted = set(FIREWALL_PLATFORMS) - {"nftables"}
    assert wanted <= used, f"platforms with no site in the multi-vendor example: {sorted(wanted - used)}"


# --------------------------------------------------------------------------- meanings


@pytest.mark.parametrize("platform", PARSED_PLATFORMS)
def test_meaning_equals_intent_on_the_example(example_result, platform: str) -> None:
    for dev, intent in sorted(example_result.model.devices.items()):
        if intent.role != "firewall":
            continue
        r, diags = render.render_as(example_result.model, dev, platform)
        assert r is not None and not diags
        missing, extra = M.differences(M.intent_meaning(intent), M.meaning_of(platform, r.text))
        assert not missing and not extra, (dev, [t.text() for t in missing[:5]], [t.text() for t in extra[:5]])


@pytest.mark.parametrize("platform", PARSED_PLATFORMS)
def test_meaning_equals_intent_on_every_access_mode(big_result, platform: str) -> None:
    """The synthetic inventory has dated, windowed (some with an end date), on-demand and permanent
    accesses, UDP and any-protocol services, nested client groups and cross-site flows."""
    conds = set()
    for dev, intent in sorted(big_result.model.devices.items()):
        if intent.role != "firewall":
            continue
        r, diags = render.render_as(big_result.model, dev, platform)
        assert r is not None and not diags, [d.render() for d in diags]
        want = M.intent_meaning(intent)
        conds |= {t.condition.split(":")[0] for t in want}
        missing, extra = M.differences(want, M.meaning_of(platform, r.text))
        assert not missing and not extra, (dev, [t.text() for t in missing[:5]], [t.text() for t in extra[:5]])
    assert {"permanent", "until", "window", "on_demand"} <= conds
    assert any(";until:" in t.condition for i in big_result.model.devices.values() if i.role == "firewall"
               for t in M.intent_meaning(i)), "no dated window in the synthetic inventory"


def test_intent_meaning_skips_management_and_marks_keep(example_result) -> None:
    intent = example_result.model.devices["fw-centre"]
    tuples = M.intent_meaning(intent)
    assert not any(t.dst.prefixlen == 32 and str(t.dst.network_address) == "10.250.3.1" for t in tuples)
    keep_ids = {r.id for r in intent.rules if r.kind == "clinical" and r.keep}
    assert keep_ids and sum(t.keep for t in tuples) >= len(keep_ids)
    assert all(t.condition == "permanent" for t in tuples if t.keep)


def test_as_rules_round_trip(example_result) -> None:
    """A meaning turned into rules (what the lab loads for --as-platform) means the same again."""
    intent = example_result.model.devices["fw-centre"]
    want = M.intent_meaning(intent)
    rules = M.as_rules(want, "fortios")
    again = M.intent_meaning(dataclasses.replace(intent, rules=rules))
    assert again == want


def test_condition_round_trip() -> None:
    for cond in ("permanent", "on_demand", "until:2027-03-31", "window:tue,thu 08:00-12:00",
                 "window:sat 07:00-13:00;until:2027-06-30"):
        v = M.parse_condition(cond)
        assert (M.condition_of(v) if v.kind != "on_demand" else "on_demand") == cond


# --------------------------------------------------------------------------- what a platform cannot express


def test_missing_feature_is_an_error_naming_platform_and_feature(example_result, monkeypatch) -> None:
    """A capability file without scheduled_windows: every windowed rule on that platform is an error."""
    fortios = registry.get("fortios")
    crippled = dataclasses.replace(fortios, features=fortios.features - {"scheduled_windows"})
    monkeypatch.setitem(registry.platforms(), "fortios", crippled)
    inv = example_result.inventory
    devices = {**inv.devices, "fw-centre": dataclasses.replace(inv.devices["fw-centre"], platform="fortios",
                                                                vlan_parent="port2")}
    inv2 = dataclasses.replace(inv, devices=devices)
    _model, diags = comp.compile_model(inv2, example_result.allocations, NOW)
    assert diags
    texts = [d.render() for d in diags]
    assert all("platform fortios of fw-centre cannot express this rule" in t for t in texts)
    assert all("needs scheduled_windows" in t for t in texts)
    windowed = [r for r in example_result.model.devices["fw-centre"].rules if r.validity.kind == "scheduled"]
    assert len(diags) == len(windowed) > 0


def test_fortios_without_vlan_parent_is_an_error(example_result) -> None:
    intent = dataclasses.replace(example_result.model.devices["fw-nord"], platform="fortios")
    _rendered, diags = render.render_device(example_result.model, intent)
    assert diags, "a FortiOS firewall with segments but no vw_vlan_parent must not render"
    text = diags[0].render()
    assert "fortios" in text and "fw-nord" in text and "vw_vlan_parent" in text


def test_vlan_parent_must_be_an_interface_name(tmp_path) -> None:
    import shutil

    inv = tmp_path / "inv"
    shutil.copytree(MULTIVENDOR, inv)
    hosts = inv / "hosts.yml"
    hosts.write_text(hosts.read_text().replace("vw_vlan_parent: port2", 'vw_vlan_parent: "port2; rm"'))
    from vendorwall import inventory

    _inv, diags, _ = inventory.load(str(inv), str(inv))
    assert any("vw_vlan_parent" in d.render() and "invalid interface name" in d.render() for d in diags)


# --------------------------------------------------------------------------- registry and command line


def test_capability_files_declare_the_support_table() -> None:
    for name in registry.platforms_for_role("firewall"):
        p = registry.get(name)
        assert set(p.support) == set(registry.SUPPORT_KEYS), (name, sorted(set(registry.SUPPORT_KEYS) ^
                                                                           set(p.support)))
        assert all(s.level in registry.LEVELS and s.why for s in p.support.values()), name
        assert p.error_patterns and p.logs and p.sources, name


def test_platforms_command_lists_fortios_with_its_features() -> None:
    out = run_cli("platforms")
    line = next(x for x in out.splitlines() if x.startswith("fortios\t"))
    assert "netmiko:fortinet" in line and "on_demand_grants" in line and "quarantine" in line


def test_docs_platform_table_is_the_registry_table() -> None:
    doc = (REPO / "docs" / "platforms.md").read_text(encoding="utf-8")
    assert registry.support_table() in doc, "docs/platforms.md: paste `vendorwall platforms --table` output"


def test_example_inventory_unchanged_by_the_variant() -> None:
    """The multi-vendor variant shares the example's domain files (only hosts.yml differs)."""
    for p in sorted((EXAMPLE / "vendorwall").rglob("*.yml")):
        rel = p.relative_to(EXAMPLE)
        assert (MULTIVENDOR / rel).read_bytes() == p.read_bytes(), f"{rel} differs in the multi-vendor variant"
