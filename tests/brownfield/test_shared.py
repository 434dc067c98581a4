"""Shared infrastructure services, groups of systems (tags) and staff administration paths:
declared once, compiled for every system they apply to, visible in the review."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from vendorwall import pipeline

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "tests" / "errors" / "_base"
NOW = dt.date(2026, 11, 28)

SHARED = """\
services:
  dns: {protocol: udp, ports: [53]}
  ntp: {protocol: udp, ports: [123]}
  ldaps: {protocol: tcp, ports: [636]}
  backup-agent: {protocol: tcp, ports: [10000]}
client_groups:
  biomed-ws: {title: Biomedical engineering workstations, prefixes: [10.10.90.0/27]}
infrastructure:
  dns: {title: DNS resolvers, prefixes: [10.5.1.10/32, 10.5.1.11/32], services: [dns]}
  ntp-nord: {title: NTP Nord, site: nord, prefixes: [10.10.1.123/32], services: [ntp], keep: true}
  ad: {title: Active Directory, prefixes: [10.5.2.10/32], services: [ldaps], default: false}
  backup: {title: Backup servers, prefixes: [10.5.3.0/28], services: [backup-agent], direction: from, default: false}
staff:
  biomed-admin:
    title: Biomedical engineering team
    from: biomed-ws
    to: [modality]
    services: [ssh]
"""


def make(tmp_path: Path, edits: dict[str, list[tuple[str, str]]] | None = None, shared: str = SHARED) -> Path:
    inv = tmp_path / "inv"
    shutil.copytree(BASE, inv)
    (inv / "vendorwall" / "shared.yml").write_text(shared, encoding="utf-8")
    edits = {"vendorwall/vendors/tomora.yml": [
        ("        criticality: vital\n", "        criticality: vital\n        tags: [modality]\n"),
        ("        criticality: high\n", "        criticality: high\n        tags: [modality]\n"
                                       "        infrastructure: {skip: [dns], add: [ad, backup]}\n")],
             "vendorwall/vendors/acme-imaging.yml": [
        ("          - {from: radiology-ws-nord, services: [dicom, https], keep: true}\n",
         "          - {from: radiology-ws-nord, services: [dicom, https], keep: true}\n"
         "          - {from: modality, services: [dicom]}\n")], **(edits or {})}
    for rel, pairs in edits.items():
        f = inv / rel
        text = f.read_text(encoding="utf-8")
        for old, new in pairs:
            assert text.count(old) == 1, (rel, old)
            text = text.replace(old, new)
        f.write_text(text, encoding="utf-8")
    return inv


def rules(inv: Path) -> dict[str, Any]:
    res = pipeline.run(str(inv), NOW, check_lock=False, do_render=True)
    return {r.id: r for r in res.model.rules}, res  # type: ignore[return-value]


def addr(res: Any, system: str) -> str:
    return next(f"{a[0]}/32" for seg in res.model.segments for s, a in seg.hosts.items() if s == system)


def test_infrastructure_compiled_for_every_system_with_opt_out_and_opt_in(tmp_path: Path) -> None:
    by_id, res = rules(make(tmp_path))
    systems = sorted(res.inventory.systems)  # pacs-nord, ris-nord, ct-nord-1, ct-nord-2
    # dns: default, every site -> every system but ct-nord-2, which skips it
    assert sorted(r.system for r in by_id.values() if r.peer == "dns") == [s for s in systems if s != "ct-nord-2"]
    # ntp-nord: site nord, every system there (all are at nord), kept open when the vendor is isolated
    ntp = [r for r in by_id.values() if r.peer == "ntp-nord"]
    assert len(ntp) == 4 and all(r.keep and r.kind == "infrastructure" for r in ntp)
    # ad, backup: opt-in; only ct-nord-2 adds them; backup connects to the system (direction from)
    assert [r.system for r in by_id.values() if r.peer in ("ad", "backup")] == ["ct-nord-2", "ct-nord-2"]
    backup = by_id["infrastructure/ct-nord-2/from/backup/backup-agent"]
    me = addr(res, "ct-nord-2")
    assert [str(p) for p in backup.src] == ["10.5.3.0/28"] and [str(p) for p in backup.dst] == [me]
    dns = by_id["infrastructure/pacs-nord/to/dns/dns"]
    assert [str(p) for p in dns.src] == [addr(res, "pacs-nord")]
    assert sorted(map(str, dns.dst)) == ["10.5.1.10/32", "10.5.1.11/32"] and dns.protocol == "udp"
    # the rendered nftables carries them, and the kept one in the never-quarantined keep set
    text = res.configs["fw-nord"].text
    assert "infrastructure/pacs-nord/to/dns/dns" in text
    keep = text[text.index("set keep_udp"):]
    assert f"{addr(res, 'pacs-nord').split('/')[0]} . 10.10.1.123 . 123" in keep[:keep.index("}")]


def test_group_flow_follows_the_inventory(tmp_path: Path) -> None:
    by_id, res = rules(make(tmp_path))
    flow = by_id["clinical/pacs-nord/from/modality/dicom"]
    assert sorted(map(str, flow.src)) == sorted([addr(res, "ct-nord-1"), addr(res, "ct-nord-2")])
    # a third modality joins the group: the one-line flow covers it with no other edit
    new = ("      - name: ct-nord-3\n        site: nord\n        function: CT scanner, day hospital\n"
           "        criticality: medium\n        owner: biomed.head@chu-exemple.example\n        tags: [modality]\n"
           "        access: {mode: on_demand, services: [ssh], via: [tomora-vpn]}\n")
    inv = make(tmp_path / "more")
    f = inv / "vendorwall" / "vendors" / "tomora.yml"
    f.write_text(f.read_text(encoding="utf-8") + new, encoding="utf-8")
    by_id, res = rules(inv)
    flow = by_id["clinical/pacs-nord/from/modality/dicom"]
    assert addr(res, "ct-nord-3") in map(str, flow.src) and len(flow.src) == 3
    staff = [r for r in by_id.values() if r.kind == "staff"]
    assert sorted(r.system for r in staff) == ["ct-nord-1", "ct-nord-2", "ct-nord-3"]
    assert all([str(p) for p in r.src] == ["10.10.90.0/27"] and r.keep for r in staff)


def test_validation_of_groups_infrastructure_and_staff(tmp_path: Path) -> None:
    bad = SHARED.replace("to: [modality]", "to: [modalty, ct-nord-1]").replace("from: biomed-ws", "from: biomed")
    bad = bad.replace("site: nord, prefixes: [10.10.1.123/32]", "site: north, prefixes: [10.10.1.123/32]")
    inv = make(tmp_path, {"vendorwall/vendors/acme-imaging.yml": [
        ("        criticality: vital\n", "        criticality: vital\n        tags: [ris-nord]\n"
                                       "        infrastructure: {skip: [ad], add: [dns, dhcp]}\n")]}, shared=bad)
    res = subprocess.run([sys.executable, "-m", "vendorwall", "validate", str(inv), "--now", NOW.isoformat()],
                         capture_output=True, text=True, check=False, env={**os.environ, "VENDORWALL_DEBUG": ""})
    assert res.returncode == 2, res.stderr
    err = res.stderr
    for text in ("unknown system or tag 'modalty'", "unknown client group 'biomed'", "unknown site 'north'",
                 "tag 'ris-nord' is also a system name", "infrastructure service 'ad' is opt-in",
                 "infrastructure service 'dns' already applies to every system",
                 "unknown infrastructure service 'dhcp'"):
        assert text in err, text
    assert err.rstrip().endswith("7 errors found")


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t.example", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t.example", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def test_review_shows_infrastructure_and_staff(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copytree(BASE, repo / "inv")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    head = make(tmp_path / "head")
    shutil.rmtree(repo / "inv")
    shutil.copytree(head, repo / "inv")
    subprocess.run([sys.executable, "-m", "vendorwall", "plan", "inv", "--out", str(tmp_path / "b"), "--now",
                    NOW.isoformat()], cwd=repo, check=True, capture_output=True)
    res = subprocess.run([sys.executable, "-m", "vendorwall", "diff", "inv", "--base", "main", "--format", "json",
                          "--now", NOW.isoformat()], cwd=repo, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    texts = [st["text"] for v in data["access"] for s in v["systems"] for st in s["statements"]]
    assert any(t.startswith("Infrastructure: pacs-nord") and "DNS resolvers (dns)" in t and "udp/53" in t
               for t in texts), texts
    assert any(t.startswith("Infrastructure: Backup servers (backup) can now reach ct-nord-2") for t in texts)
    assert any(t.startswith("Staff administration: Biomedical engineering team (biomed-admin, from Biomedical "
                            "engineering workstations) can now reach ct-nord-1") for t in texts)
    codes = {f["code"]: f for f in data["flags"]}
    assert codes["infrastructure_reaches_systems"]["severity"] == "medium"
    assert "1 system(s)" in codes["infrastructure_reaches_systems"]["message"]
    assert codes["staff_path"]["severity"] == "low"
    assert codes["infrastructure_service"]["severity"] == "low"
