"""The isolation manifest (version 2): same information as the model, read per vendor, never trusted.

- every vendor record says what the model says (flows, segments, accounts, tunnels, entry paths);
- reading one vendor reads the header and that vendor's line only (another vendor's damaged
  line does not stop it);
- a record edited by hand (its sha256 no longer matches the header) is refused;
- a manifest rewritten consistently by someone who also fixed the index is still checked against
  the schema: a name carrying a newline and the device script's heredoc terminator is refused
  (this was accepted before the schema: typed checks only looked at JSON types).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vendorwall_testlib import NOW, big_inventory, write_inventory

from vendorwall import pipeline
from vendorwall.errors import VendorwallError
from vendorwall.isolate import actions, manifest


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("inv")
    write_inventory(big_inventory(n_sites=3, per_vendor_site=6), root)
    return pipeline.run(str(root), NOW, check_lock=False, do_render=False).model


@pytest.fixture()
def mpath(model, tmp_path: Path) -> str:
    path = str(tmp_path / "manifest.json")
    manifest.write_manifest(path, model)
    return path


def _lines(path: str) -> list[str]:
    return Path(path).read_text().splitlines(keepends=True)


def test_records_say_what_the_model_says(model, mpath):
    m = manifest.load(mpath)
    inv = model.inventory
    assert list(m.vendors) == sorted(inv.vendors) and len(m.vendors) == len(inv.vendors)
    for name, v in inv.vendors.items():
        info = m.vendors[name]
        mine = {s.name for s in v.systems}
        want = sorted(r.id for r in model.rules if (r.kind == "vendor_access" and r.vendor == name)
                      or (r.kind == "clinical" and (r.system in mine or r.peer in mine)))
        assert [f.id for f in info.flows] == want
        assert sorted(s.key for s in info.segments) == sorted(s.key for s in model.segments if s.vendor == name)
        assert info.systems == tuple(sorted(mine))
        assert {a.id for a in info.accounts} == {a.id for a in v.accounts}
        assert {p for e in info.entry_paths for p in e.prefixes} == {p for e in v.entry_paths for p in e.prefixes}
    assert set(m.firewalls) == {s.firewall for s in inv.sites.values()}


def test_json_document_and_deterministic(model, mpath):
    text = Path(mpath).read_text()
    data = json.loads(text)  # the whole file is one JSON document too (jq, editors)
    assert sorted(data["vendors"]) == sorted(model.inventory.vendors)
    assert manifest.dumps(data) == text  # re-laying out the same data gives the same bytes
    assert manifest.write_manifest(mpath, model) is False
    assert all(line.isascii() for line in _lines(mpath))


def test_one_vendor_reads_its_own_line_only(model, mpath):
    names = sorted(model.inventory.vendors)
    lines = _lines(mpath)
    # damage the second vendor's line (line 4: header, "vendors":{, first vendor, second vendor)
    lines[3] = "x" * (len(lines[3]) - 1) + "\n"
    Path(mpath).write_text("".join(lines))
    m = manifest.load(mpath)
    assert m.vendors[names[0]].name == names[0]
    assert actions.plan(m, names[0]).elements
    with pytest.raises(VendorwallError) as e:
        m.vendors[names[1]]
    text = e.value.render()
    assert f"vendors.{names[1]}: vendor record does not match its sha256 in the header" in text
    assert "vendorwall plan INVENTORY" in text


def test_hand_edited_record_is_refused(model, mpath):
    name = sorted(model.inventory.vendors)[0]
    text = Path(mpath).read_text()
    data = json.loads(text)
    prefix = data["vendors"][name]["entry_paths"][0]["prefixes"][0]
    edited = text.replace(f'"{prefix}"', '"10.250.0.0/24"', 1)  # a management network, same length or not
    assert edited != text
    Path(mpath).write_text(edited)
    with pytest.raises(VendorwallError) as e:
        manifest.load(mpath).vendors[name]
    assert "does not match its sha256" in e.value.render()


def _rewrite(path: str, fn) -> None:  # type: ignore[no-untyped-def]
    """Edit the data and write it back with a consistent index (what a careful attacker does)."""
    data = json.loads(Path(path).read_text())
    fn(data)
    Path(path).write_text(manifest.dumps(data))


def test_injected_names_are_refused_in_the_header(mpath):
    def inject(d):  # type: ignore[no-untyped-def]
        fw = sorted(d["firewalls"])[0]
        d["firewalls"]["fw-x\n__VW_EOF\nreboot"] = d["firewalls"].pop(fw)
        d["bastions"]["bst-1"] = {"platform": "linux", "mgmt_address": "10.250.0.21; reboot"}

    _rewrite(mpath, inject)
    with pytest.raises(VendorwallError) as e:
        manifest.load(mpath)
    text = e.value.render()
    assert "firewalls: does not match the manifest schema" in text
    assert "bastions.bst-1.mgmt_address: does not match the manifest schema" in text
    assert "2 errors found" in text


def test_injected_values_are_refused_in_a_record(model, mpath):
    name = sorted(model.inventory.vendors)[0]

    def inject(d):  # type: ignore[no-untyped-def]
        v = d["vendors"][name]
        v["entry_paths"][0]["name"] = "x\n__VW_EOF\nnft flush ruleset"
        v["flows"][0]["firewalls"] = ["fw-1'; rm -rf /"]
        v["title"] = "Acme\u0007"

    _rewrite(mpath, inject)
    m = manifest.load(mpath)  # the header is intact
    with pytest.raises(VendorwallError) as e:
        m.vendors[name]
    text = e.value.render()
    assert f"vendors.{name}.entry_paths[0].name: does not match the manifest schema" in text
    assert f"vendors.{name}.flows[0].firewalls[0]: does not match the manifest schema" in text
    assert f"vendors.{name}.title: does not match the manifest schema" in text


def test_all_vendors_report_every_problem_at_once(model, mpath):
    a, b = sorted(model.inventory.vendors)[:2]

    def damage(d):  # type: ignore[no-untyped-def]
        d["vendors"][a]["systems"] = [7]
        d["vendors"][b].pop("flows")

    _rewrite(mpath, damage)
    m = manifest.load(mpath)
    with pytest.raises(VendorwallError) as e:
        m.vendors.load_all(list(m.vendors))  # type: ignore[attr-defined]
    text = e.value.render()
    assert f"vendors.{a}.systems[0]" in text and f"vendors.{b}: does not match" in text


def test_older_and_newer_manifests_are_named(mpath, tmp_path):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"version": 1, "vendors": {}}, indent=1))
    with pytest.raises(VendorwallError) as e:
        manifest.load(str(old))
    assert "written by an older vendorwall" in e.value.render()
    _rewrite(mpath, lambda d: d.update(version=3))
    with pytest.raises(VendorwallError) as e:
        manifest.load(mpath)
    assert "manifest from a newer vendorwall" in e.value.render()
