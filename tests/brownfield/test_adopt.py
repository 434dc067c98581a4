"""Brownfield adoption: a segment adopts an existing subnet and VLAN, its systems keep their
addresses, allocation fills only the rest, the lock file records both, and the migration plan
says per site what moves on the devices, in order, with rollbacks."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from vendorwall import allocate, cli, pipeline

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "tests" / "errors" / "_base"
NOW = "2026-11-28"
NETWORKS = ("    existing_networks:\n"
            "      imaging-150: {subnet: 10.10.50.0/24, vlan: 150, gateway: 10.10.50.1, routed_by: core-nord}\n"
            "      pacs-3005: {subnet: 10.64.0.0/27, vlan: 3005, gateway: 10.64.0.30, routed_by: fw-nord}\n")


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VENDORWALL_DEBUG", raising=False)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def brownfield(tmp_path: Path) -> Path:
    inv = tmp_path / "inv"
    shutil.copytree(BASE, inv)
    v = inv / "vendorwall"
    (v / "allocations.lock.yml").unlink()
    edit(v / "sites.yml", "    vlan_range: [3000, 3099]\n", "    vlan_range: [3000, 3099]\n" + NETWORKS)
    # two CT scanners share VLAN 150 today, behind the core switch: they keep it (shared segment)
    edit(v / "vendors" / "tomora.yml", "        criticality: vital\n",
         "        criticality: vital\n        segment: shared\n        network: imaging-150\n"
         "        addresses: [10.10.50.21]\n")
    edit(v / "vendors" / "tomora.yml", "        criticality: high\n",
         "        criticality: high\n        segment: shared\n        network: imaging-150\n"
         "        addresses: [10.10.50.22]\n")
    # the PACS already sits in a VLAN the firewall routes, inside the segment pool
    edit(v / "vendors" / "acme-imaging.yml", "        criticality: vital\n",
         "        criticality: vital\n        network: pacs-3005\n        addresses: [10.64.0.5]\n")
    # the RIS sits in the CT VLAN today (another vendor's subnet): it moves to a segment of its own
    edit(v / "vendors" / "acme-imaging.yml", "        criticality: high\n",
         "        criticality: high\n        current: {address: 10.10.50.40, vlan: 150}\n")
    return inv


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = cli.main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_adopted_segments_keep_addresses_and_allocation_fills_the_rest(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    inv = brownfield(tmp_path)
    rc, out, err = run(capsys, "plan", str(inv), "--out", str(tmp_path / "b"), "--now", NOW)
    assert rc == 0, err
    res = pipeline.run(str(inv), dt.date.fromisoformat(NOW))
    segs = {s.key: s for s in res.model.segments}
    ct = segs["nord/tomora"]
    assert (ct.vlan, str(ct.subnet), str(ct.gateway), ct.adopted, ct.routed_by) == (
        150, "10.10.50.0/24", "10.10.50.1", "imaging-150", "core-nord")
    assert {k: [str(a) for a in v] for k, v in ct.hosts.items()} == {"ct-nord-1": ["10.10.50.21"],
                                                                     "ct-nord-2": ["10.10.50.22"]}
    pacs = segs["nord/acme-imaging/pacs-nord"]
    assert (pacs.vlan, str(pacs.subnet), str(pacs.gateway)) == (3005, "10.64.0.0/27", "10.64.0.30")
    ris = segs["nord/acme-imaging/ris-nord"]
    # allocated around what is declared: neither the adopted subnet in the pool nor VLAN 3005
    assert not ris.subnet.overlaps(pacs.subnet) and ris.vlan not in (150, 3005)
    assert (ris.vlan, str(ris.subnet)) == (3000, "10.64.0.32/29")
    # the lock file records both kinds, the adopted ones as such
    text = (inv / "vendorwall" / "allocations.lock.yml").read_text(encoding="utf-8")
    assert ("  nord/tomora: {vlan: 150, subnet: 10.10.50.0/24, adopted: imaging-150, gateway: 10.10.50.1, "
            "hosts: {ct-nord-1: [10.10.50.21], ct-nord-2: [10.10.50.22]}}") in text
    assert "  nord/acme-imaging/ris-nord: {vlan: 3000, subnet: 10.64.0.32/29, hosts: {ris-nord: [10.64.0.34]}}" in text
    lock, diags = allocate.read_lock(str(inv), "inv")
    assert not diags and lock.segments == res.allocations
    rc, out, err = run(capsys, "validate", str(inv), "--now", NOW)
    assert rc == 0 and "lock file up to date" in out, err
    # the firewall becomes the gateway of the adopted VLAN; the switch leaves VLAN 150 (outside its range) alone
    fw = (tmp_path / "b" / "fw-nord.nft").read_text(encoding="utf-8")
    assert "vl150  vlan 150  gateway 10.10.50.1/24  nord/tomora" in fw
    assert "10.10.50.21" in fw
    sw = (tmp_path / "b" / "sw-nord-1.ios").read_text(encoding="utf-8")
    assert "vlan 150" not in sw and "vlan 3005" in sw


def test_migration_plan_per_site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = brownfield(tmp_path)
    rc, out, err = run(capsys, "plan", str(inv), "--out", str(tmp_path / "b"), "--now", NOW, "--migration")
    assert rc == 0, err
    assert "migration plan: " in out
    md = (tmp_path / "b" / "migration-nord.md").read_text(encoding="utf-8")
    rc, out, err = run(capsys, "migration", str(inv), "--now", NOW, "--format", "json")
    assert rc == 0, err
    steps = json.loads(out)["sites"][0]["steps"]
    # order: filter in place, then the gateway move, then the re-addressing
    assert [(s["phase"], s["segment"]) for s in steps] == [
        ("filter", "nord/acme-imaging/pacs-nord"), ("gateway", "nord/tomora"),
        ("readdress", "nord/acme-imaging/ris-nord")]
    pacs, ct, ris = steps
    assert not pacs["readdress"] and not pacs["gateway_move"] and not pacs["vlan_move"]
    assert ct["gateway_move"] == "core-nord -> fw-nord (10.10.50.1)" and not ct["readdress"]
    assert any("by hand" in a and "VLAN 150" in a for a in ct["actions"])
    assert ct["rollback"] == ["shut vl150 on fw-nord and restore 10.10.50.1/24 on core-nord"]
    assert ris["readdress"] and ris["vlan_move"] == "150 -> 3000"
    assert "ris-nord: update the peers that address it by IP (pacs-nord): 10.10.50.40 -> 10.64.0.34" in ris["actions"]
    assert "clinical ris-nord -> pacs-nord on hl7 (must keep)" in ris["verify"]
    assert "ris-nord: back to 10.10.50.40 in VLAN 150, peers restored" in ris["rollback"]
    assert "| 3 | nord/acme-imaging/ris-nord | ris-nord | yes | 150 -> 3000 | no |" in md


def test_lock_without_adoption_fields_still_reads(tmp_path: Path) -> None:
    # lock files written before adoption existed have no 'adopted'/'gateway': same format version
    (tmp_path / "vendorwall").mkdir()
    (tmp_path / "vendorwall" / "allocations.lock.yml").write_text(
        "version: 1\nsegments:\n  a/b: {vlan: 3000, subnet: 10.0.0.0/29, hosts: {x: [10.0.0.2]}}\n", encoding="utf-8")
    lock, diags = allocate.read_lock(str(tmp_path), "inv")
    assert not diags and lock.segments["a/b"].adopted == "" and lock.segments["a/b"].gateway is None
