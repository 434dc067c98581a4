"""``vendorwall import``: the samples of the example hospital round-trip to the example's intent.

Each round trip starts from what a hospital writes by hand before importing (hosts.yml,
sites.yml, policy.yml, client_groups.yml) plus the example's lock file, imports, then compares
``vendorwall export`` of the result with that of inventories/example (origins aside: the files
differ, the intent must not).
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from vendorwall import cli

sys.path.insert(0, str(Path(__file__).parent))
from netbox_replay import TOKEN, Replay

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "inventories" / "example"
SAMPLES = REPO / "examples" / "import"
SHEET = SAMPLES / "chu-exemple.csv"
GLPI = SAMPLES / "glpi-computers.csv"
NOW = "2026-11-28"
HAND_WRITTEN = ("policy.yml", "sites.yml", "client_groups.yml", "allocations.lock.yml")
# what GLPI or NetBox already gave: the access sheet of the second step leaves these out
GLPI_COLUMNS = {"site", "function", "criticality", "owner", "address", "contract reference", "contract end"}
NETBOX_COLUMNS = GLPI_COLUMNS | {"vlan", "segment"}  # NetBox also knows the VLAN and who shares a prefix


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VENDORWALL_DEBUG", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = cli.main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def skeleton(tmp_path: Path) -> Path:
    inv = tmp_path / "inv"
    (inv / "vendorwall").mkdir(parents=True)
    shutil.copy(EXAMPLE / "hosts.yml", inv / "hosts.yml")
    for name in HAND_WRITTEN:
        shutil.copy(EXAMPLE / "vendorwall" / name, inv / "vendorwall" / name)
    return inv


def intent(capsys: pytest.CaptureFixture[str], inv: Path | str) -> dict[str, Any]:
    rc, out, err = run(capsys, "export", str(inv), "--now", NOW)
    assert rc == 0, err
    data: dict[str, Any] = json.loads(out)
    for f in data["flows"]:
        f.pop("origin")
    return data


def assert_same_intent(capsys: pytest.CaptureFixture[str], inv: Path) -> None:
    rc, _out, err = run(capsys, "validate", str(inv), "--now", NOW)
    assert rc == 0, err
    got, want = intent(capsys, inv), intent(capsys, EXAMPLE)
    assert got["segments"] == want["segments"]
    missing = [f["id"] for f in want["flows"] if f not in got["flows"]]
    extra = [f["id"] for f in got["flows"] if f not in want["flows"]]
    assert not missing and not extra, (missing[:5], extra[:5])
    assert got == want


def sheet_subset(tmp_path: Path, drop: set[str]) -> Path:
    """The sample sheet without some columns (and its sibling sheets unchanged)."""
    out = tmp_path / "access.csv"
    with open(SHEET, encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    keep = [i for i, h in enumerate(rows[0]) if h not in drop]
    with open(out, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([[r[i] for i in keep] for r in rows])
    for sib in ("entry_paths", "flows", "accounts"):
        shutil.copy(SAMPLES / f"chu-exemple.{sib}.csv", tmp_path / f"access.{sib}.csv")
    return out


def test_sheet_csv_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = skeleton(tmp_path)
    rc, out, err = run(capsys, "import", "sheet", str(SHEET), "--into", str(inv))
    assert rc == 0, err
    assert "14 vendors, 69 systems" in out
    assert len(list((inv / "vendorwall" / "vendors").glob("*.yml"))) == 14  # one file per vendor
    assert_same_intent(capsys, inv)
    rc, out, _ = run(capsys, "import", "sheet", str(SHEET), "--into", str(inv), "--check")
    assert rc == 0 and "would write" not in out and out.count(": unchanged") == 14  # re-run: nothing to do


def test_sheet_xlsx_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    for i, (sheet, path) in enumerate((("systems", SHEET), ("entry_paths", SAMPLES / "chu-exemple.entry_paths.csv"),
                                       ("flows", SAMPLES / "chu-exemple.flows.csv"),
                                       ("accounts", SAMPLES / "chu-exemple.accounts.csv"))):
        ws = book.active if i == 0 else book.create_sheet()
        ws.title = sheet
        with open(path, encoding="utf-8") as fh:
            for row in csv.reader(fh):
                ws.append([int(c) if c.isdigit() and len(c) < 6 else c for c in row])  # numbers as Excel has them
    xlsx = tmp_path / "telemaintenance.xlsx"
    book.save(xlsx)
    inv = skeleton(tmp_path)
    rc, _, err = run(capsys, "import", "sheet", str(xlsx), "--into", str(inv))
    assert rc == 0, err
    assert_same_intent(capsys, inv)


def test_glpi_then_access_sheet_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = skeleton(tmp_path)
    rc, out, err = run(capsys, "import", "glpi", str(GLPI), "--into", str(inv))
    assert rc == 0, err
    assert "14 vendors, 69 systems" in out and "to write by hand" in out
    ct = (inv / "vendorwall" / "vendors" / "tomora.yml").read_text(encoding="utf-8")
    assert "site: nord" in ct and "criticality: high" in ct and "ends: 2029-01-31" in ct
    assert "addresses: [10.64.0.162]" in ct  # the address GLPI knows, kept
    rc, _, err = run(capsys, "validate", str(inv), "--now", NOW)
    assert rc == 2 and "missing required key 'access'" in err  # GLPI has no access: a person writes it
    access = sheet_subset(tmp_path, GLPI_COLUMNS)
    rc, out, err = run(capsys, "import", "sheet", str(access), "--into", str(inv))
    assert rc == 0, err
    assert_same_intent(capsys, inv)


def test_netbox_round_trip_and_write_back(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    inv = skeleton(tmp_path)
    (inv / "vendorwall" / "allocations.lock.yml").unlink()  # NetBox's prefixes and VLANs pin everything
    monkeypatch.setenv("NETBOX_TOKEN", TOKEN)
    with Replay() as nb:
        rc, out, err = run(capsys, "import", "netbox", nb.url, "--into", str(inv), "--tenant-group",
                           "telemaintenance")
        assert rc == 0, err
        assert "14 vendors, 69 systems" in out and TOKEN not in out + err
        assert not nb.writes()
        access = sheet_subset(tmp_path, NETBOX_COLUMNS)
        rc, _, err = run(capsys, "import", "sheet", str(access), "--into", str(inv))
        assert rc == 0, err
        rc, _, err = run(capsys, "plan", str(inv), "--out", str(tmp_path / "build"), "--now", NOW)
        assert rc == 0, err
        assert_same_intent(capsys, inv)
        # write-back: the example's NetBox already holds every segment -> only the tag and descriptions change
        rc, out, err = run(capsys, "import", "netbox", nb.url, "--into", str(inv), "--write-back", "--check")
        assert rc == 0, err
        assert "would create tag vendorwall" in out and not nb.writes()
        rc, out, err = run(capsys, "import", "netbox", nb.url, "--into", str(inv), "--write-back")
        assert rc == 0, err
        assert nb.writes() and {m for m, _, _ in nb.writes()} <= {"POST", "PATCH"}
        n = len(nb.writes())
        rc, out, err = run(capsys, "import", "netbox", nb.url, "--into", str(inv), "--write-back")
        assert rc == 0, err
        assert len(nb.writes()) == n, "a second write-back must change nothing"
        assert "0 created, 0 updated" in out


def test_netbox_write_back_creates_new_segment(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    inv = skeleton(tmp_path)
    monkeypatch.setenv("NETBOX_TOKEN", TOKEN)
    rc, _, err = run(capsys, "import", "sheet", str(SHEET), "--into", str(inv))
    assert rc == 0, err
    with Replay() as nb:
        nb.data["ipam.vlans"] = [v for v in nb.data["ipam.vlans"] if v["vid"] != 3000]
        nb.data["ipam.prefixes"] = [p for p in nb.data["ipam.prefixes"] if p["prefix"] != "10.64.0.0/29"]
        rc, out, err = run(capsys, "import", "netbox", nb.url, "--into", str(inv), "--write-back")
        assert rc == 0, err
        assert "create VLAN 3000 at nord" in out and "create prefix 10.64.0.0/29" in out
        posted = [b for m, p, b in nb.writes() if m == "POST" and p.startswith("/api/ipam/prefixes/")]
        assert posted == [{"prefix": "10.64.0.0/29", "vlan": posted[0]["vlan"], "tenant": 1, "tags": [1],
                           "description": "vendorwall segment nord/acme-imaging/pacs-dr-nord",
                           "scope_type": "dcim.site", "scope_id": 2}]


def test_netbox_bad_token_is_an_error_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    inv = skeleton(tmp_path)
    monkeypatch.setenv("NETBOX_TOKEN", "wrong")
    with Replay() as nb:
        rc, _out, err = run(capsys, "import", "netbox", nb.url, "--into", str(inv))
    assert rc == 2 and "HTTP 403" in err and "token" in err and "Traceback" not in err and "wrong" not in err


def test_rerun_keeps_manual_edits_and_comments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = skeleton(tmp_path)
    assert run(capsys, "import", "sheet", str(SHEET), "--into", str(inv))[0] == 0
    f = inv / "vendorwall" / "vendors" / "tomora.yml"
    text = f.read_text(encoding="utf-8")
    text = text.replace("    systems:\n", "    # reviewed with biomed on 2026-11-02\n    systems:\n", 1)
    text = text.replace("          max_hours: 2\n", "          max_hours: 3  # agreed with the vendor\n", 1)
    text += ("      - name: ct-nord-spare\n        site: nord\n        function: Spare CT console\n"
             "        criticality: low\n        owner: biomed.head@chu-exemple.example\n"
             "        access: {mode: on_demand, services: [ssh]}\n")
    f.write_text(text, encoding="utf-8")
    # the register now says something new about one system: a re-run changes that field only
    with open(SHEET, encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    fcol = rows[0].index("function")
    ct = next(r for r in rows if r[1] == "ct-nord-1")
    ct[fcol] = "CT scanner, emergency department"
    src = tmp_path / "register.csv"
    with open(src, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    for sib in ("entry_paths", "flows", "accounts"):
        shutil.copy(SAMPLES / f"chu-exemple.{sib}.csv", tmp_path / f"register.{sib}.csv")
    rc, out, err = run(capsys, "import", "sheet", str(src), "--into", str(inv), "--check")
    assert rc == 0, err
    assert "vendors.tomora.systems[ct-nord-1].function: 'CT scanner, radiology department' -> " \
           "'CT scanner, emergency department'" in out
    assert "vendors.tomora.systems[ct-nord-2].access.max_hours: 3 -> 2" in out  # a field the source gives: it wins
    assert "kept, not in the source (1): vendors.tomora.systems[ct-nord-spare]" in out
    assert f.read_text(encoding="utf-8") == text  # --check wrote nothing
    rc, out, err = run(capsys, "import", "sheet", str(src), "--into", str(inv))
    after = f.read_text(encoding="utf-8")
    assert "# reviewed with biomed on 2026-11-02" in after  # comments kept
    assert "ct-nord-spare" in after  # entries the source does not list are kept
    assert "function: CT scanner, emergency department" in after


def test_every_bad_cell_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = skeleton(tmp_path)
    src = tmp_path / "bad.csv"
    src.write_text(
        "vendor,system,site,criticality,access mode,services,address,contract end,window\n"
        "acme-imaging,pacs-1,centre,vital,on_demand,\"ssh, https\",10.66.0.10,2029-03-31,\n"
        "Acme Imaging,pacs-2,centre,urgent,whenever,ssh,10.66.0.300,31/13/2029,\n"
        "acme-imaging,pacs-3,centre,high,scheduled,ssh,,,tuesday 8h-12h\n"
        "acme-imaging,pacs-1,centre,high,on_demand,ssh,,,\n", encoding="utf-8")
    rc, out, err = run(capsys, "import", "sheet", str(src), "--into", str(inv))
    assert rc == 2 and not out
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    shown = str(src)
    assert lines == [
        f"error: {shown}:3:5: access mode (column E): value not allowed",
        f"error: {shown}:3:7: address (column G): malformed address",
        f"error: {shown}:3:8: contract end (column H): invalid date",
        f"error: {shown}:3:4: criticality (column D): value not allowed",
        f"error: {shown}:3:1: vendor (column A): malformed name",
        f"error: {shown}:4:9: window (column I): malformed window",
        f"error: {shown}:5:2: system (column B): system listed twice",
    ]
    assert not (inv / "vendorwall" / "vendors").exists()  # nothing written


def test_template_headers_are_read_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("t.xlsx", "t.csv"):
        rc, _, err = run(capsys, "import", "template", "--out", str(tmp_path / name))
        assert rc == 0, err
        inv = skeleton(tmp_path / name.replace(".", "-"))
        rc, out, err = run(capsys, "import", "sheet", str(tmp_path / name), "--into", str(inv))
        assert rc == 0 and "0 vendors, 0 systems" in out, err


def test_brownfield_variant_round_trips_through_the_sheet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tags, adopted networks, current addresses and infrastructure opt-outs/ins travel in the sheet too."""
    sys.path.insert(0, str(REPO / "scripts"))
    import gen_import_samples as gen

    brown = REPO / "inventories" / "example-brownfield"
    vendors, _, _ = gen.example(brown)
    rows = gen.sheet_rows(vendors)
    for suffix, table in rows.items():
        gen.write_csv(tmp_path / f"register{suffix}.csv", table)
    inv = tmp_path / "inv"
    shutil.copytree(brown, inv)
    shutil.rmtree(inv / "vendorwall" / "vendors")
    rc, _, err = run(capsys, "import", "sheet", str(tmp_path / "register.csv"), "--into", str(inv))
    assert rc == 0, err
    rc, _, err = run(capsys, "validate", str(inv), "--now", NOW)
    assert rc == 0, err
    got, want = intent(capsys, inv), intent(capsys, brown)
    assert got == want


def test_netbox_prefix_outside_the_pool_is_adopted(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Brownfield: NetBox knows the CT scanners' legacy subnet; the site declares it as an existing
    network, so the import makes their segment adopt it (addresses kept), or asks to declare it."""
    inv = skeleton(tmp_path)
    monkeypatch.setenv("NETBOX_TOKEN", TOKEN)
    with Replay() as nb:
        ct_ip = next(i for i in nb.data["ipam.ip-addresses"] if i["assigned_object"].get("device", {}).get("name")
                     == "ct-nord-1")
        ct_ip["address"] = "10.10.50.21/24"
        nb.data["ipam.prefixes"].append({**nb.data["ipam.prefixes"][0], "id": 900, "prefix": "10.10.50.0/24",
                                         "vlan": {"id": 900, "vid": 150, "name": "imaging"}})
        tomora = next(t for t in nb.data["tenancy.tenants"] if t["slug"] == "tomora")
        nb.data["ipam.prefixes"][-1]["tenant"] = {"id": tomora["id"], "slug": "tomora", "name": tomora["name"]}
        rc, out, err = run(capsys, "import", "netbox", nb.url, "--into", str(inv), "--check", "--json",
                           "--tenant-group", "telemaintenance")
        assert rc == 0, err
        assert json.loads(out)["missing"]["sites.nord.existing_networks"] == [
            "10.10.50.0/24 (VLAN 150, gateway GATEWAY) holds ct-nord-1: declare it, then 'network: NAME' adopts it"]
        sites = inv / "vendorwall" / "sites.yml"
        sites.write_text(sites.read_text(encoding="utf-8").replace(
            "    vlan_range: [3000, 3199]\n", "    vlan_range: [3000, 3199]\n    existing_networks:\n"
            "      imaging-150: {subnet: 10.10.50.0/24, vlan: 150, gateway: 10.10.50.1, routed_by: core-nord}\n"),
            encoding="utf-8")
        rc, out, err = run(capsys, "import", "netbox", nb.url, "--into", str(inv), "--tenant-group",
                           "telemaintenance")
        assert rc == 0, err
    text = (inv / "vendorwall" / "vendors" / "tomora.yml").read_text(encoding="utf-8")
    assert "      - name: ct-nord-1\n" in text
    ct = text[text.index("      - name: ct-nord-1\n"):].split("      - name:")[1]
    assert "network: imaging-150" in ct and "addresses: [10.10.50.21]" in ct and "vlan:" not in ct
