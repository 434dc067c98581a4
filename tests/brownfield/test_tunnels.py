"""LAN-to-LAN tunnels: confined to their declared systems and services, a retirement plan in the
review and the access sheets, an interface tunnel modelled as clinical flows with a justification."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from vendorwall import pipeline
from vendorwall.access import sheets
from vendorwall.review.risk import tunnel_plan

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "inventories" / "example"
BASE = REPO / "tests" / "errors" / "_base"
NOW = dt.date(2026, 11, 28)


def test_tunnel_reaches_only_its_declared_systems_and_services() -> None:
    res = pipeline.run(str(EXAMPLE), NOW, do_render=True)
    via_tunnel = sorted((r.system, r.service) for r in res.model.rules if r.via == "exemplar-l2l")
    # before: every Exemplar system without 'via' (coag-analyser-centre, bloodgas-nord-1/2) too
    assert via_tunnel == [("chem-analyser-centre-1", "vnc"), ("chem-analyser-centre-2", "vnc")]
    nft = res.configs["fw-centre"].text
    tunnel_src = "198.51.100.64/27"
    coag = next(a for seg in res.model.segments for s, addrs in seg.hosts.items() if s == "coag-analyser-centre"
                for a in addrs)
    assert f"{tunnel_src} . {coag}" not in nft  # the firewall no longer lets the tunnel reach it
    v = res.inventory.vendors["exemplar-lab"]
    tunnel = next(p for p in v.entry_paths if p.name == "exemplar-l2l")
    plan = tunnel_plan(v, tunnel)
    assert plan.startswith("confined to chem-analyser-centre-1, chem-analyser-centre-2 on vnc; to retire by "
                           "2027-06-30; replacement: exemplar-bastion; checklist: QC platform reaches")
    _title, sections = sheets.sheet(res.model, v)
    lines = dict(sections)["LAN-to-LAN tunnels to retire"]
    assert lines[0].startswith("exemplar-l2l (peer 198.51.100.10, 198.51.100.64/27), retire by 2027-06-30: confined")
    assert "[ ] tunnel removed from the perimeter VPN concentrator, peer 198.51.100.10 blocked" in lines


def test_interface_tunnel_is_a_clinical_flow_with_its_justification(tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    shutil.copytree(BASE, inv)
    f = inv / "vendorwall" / "vendors" / "tomora.yml"
    text = f.read_text(encoding="utf-8")
    text = text.replace("        retire_by: 2027-06-30\n",
                        "        retire_by: 2027-06-30\n        purpose: interface\n")
    text = text.replace("          via: [tomora-l2l]\n", "          via: [tomora-vpn]\n")
    text = text.replace("          - {to: pacs-nord, services: [dicom], keep: true}\n\n",
                        "          - {to: pacs-nord, services: [dicom], keep: true}\n"
                        "          - {to: tomora-l2l, services: [https], justification: dose reports to the "
                        "vendor's dose registry (regulatory)}\n\n")
    f.write_text(text, encoding="utf-8")
    (inv / "vendorwall" / "allocations.lock.yml").unlink()
    res = pipeline.run(str(inv), NOW, do_render=False)
    rule = next(r for r in res.model.rules if r.id == "clinical/ct-nord-1/to/tomora-l2l/https")
    assert rule.kind == "clinical" and [str(p) for p in rule.dst] == ["198.51.100.64/27"]
    assert not [r for r in res.model.rules if r.via == "tomora-l2l"]  # never an access path
    v = res.inventory.vendors["tomora"]
    plan = tunnel_plan(v, next(p for p in v.entry_paths if p.name == "tomora-l2l"))
    assert plan.startswith("application interface: ct-nord-1 to it on https (dose reports to the vendor's dose "
                           "registry (regulatory)); to retire by 2027-06-30; no replacement entry path declared")
