"""The isolation report says what really happened: the headline counts the vendor flows really cut (a partial
cut is NOT isolated, exit 1), ``--check`` never claims anything is already quarantined, restore says
"re-enabled" only for accounts it re-enabled. Each failed on the main before issue 10."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from vendorwall import pipeline
from vendorwall.isolate import actions, bastions, manifest, run

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.date(2026, 11, 28)


@pytest.fixture(scope="module")
def model():
    return pipeline.run(str(ROOT / "inventories" / "example"), NOW, check_lock=False, do_render=False).model


@pytest.fixture()
def mpath(model, tmp_path) -> str:
    path = str(tmp_path / "manifest.json")
    manifest.write_manifest(path, model)
    return path


def _done(p: actions.Plan, status: str = "isolated") -> list[run.DeviceResult]:
    out = []
    for fw in p.firewalls:
        r = run.DeviceResult(fw, "nftables", "", status=status, done_at=1.0)
        r.added = [e.value for e in p.elements]
        out.append(r)
    return out


def test_headline_counts_the_flows_really_cut(mpath):
    """The issue's case: the vendor's only source is a bastion's management address (a manifest that
    validation would now refuse). Isolation refuses the prefix; every firewall answers 'isolated' for the
    rest; the headline must say NOT ISOLATED with the count of flows still open, and exit 1."""
    data = json.loads(Path(mpath).read_text())
    bastion_mgmt = data["bastions"]["bst-1"]["mgmt_address"]
    v = data["vendors"]["sonexa"]
    v["entry_paths"][0]["prefixes"] = [f"{bastion_mgmt}/32"]
    for f in v["flows"]:
        if f["kind"] == "vendor_access":
            f["src"] = [f"{bastion_mgmt}/32"]
    Path(mpath).write_text(manifest.dumps(data))
    m = manifest.load(mpath)
    p = actions.plan(m, "sonexa")
    assert p.elements == [] and p.refused
    r = run.Run(p, m, "breach", "", 0.0, 0.0, results=_done(p))
    head = run.summary_line(r)
    assert "isolated on all" not in head
    assert "NOT ISOLATED" in head and "6 of 6 vendor flows still open" in head
    assert r.exit_code == 1
    text = r.report()
    assert text.count("NOT CUT sonexa") == 6 and "management is never quarantined" in text


def test_headline_when_everything_is_cut(mpath):
    m = manifest.load(mpath)
    p = actions.plan(m, "sonexa")
    r = run.Run(p, m, "breach", "", 0.0, 0.0, results=_done(p))
    assert r.exit_code == 0 and "isolated on all 4 devices" in run.summary_line(r)
    assert "6 vendor flows cut" in run.summary_line(r)


def test_a_failed_firewall_leaves_its_flows_open(mpath):
    m = manifest.load(mpath)
    p = actions.plan(m, "sonexa")
    res = _done(p)
    nord = next(x for x in res if x.device == "fw-nord")
    nord.status, nord.error_kind, nord.error = "failed", "connect", "refused"
    r = run.Run(p, m, "breach", "", 0.0, 0.0, results=res)
    head = run.summary_line(r)
    assert "NOT ISOLATED" in head and "1 of 4 devices failed: fw-nord (connect)" in head
    assert "4 of 6 vendor flows still open" in head


def test_check_never_says_already_quarantined(mpath):
    """radiante has a LAN-to-LAN tunnel: in a dry run nothing is quarantined, so the report says 'would be'."""
    m = manifest.load(mpath)
    p = actions.plan(m, "radiante", check=True)
    res = _done(p, "checked")
    r = run.Run(p, m, "breach", "", 0.0, 0.0, results=res)
    text = r.report()
    assert "ALREADY QUARANTINED" not in text.upper().replace("NOT", "")
    assert "already quarantined" not in text.lower()
    assert "would be quarantined on every firewall" in text
    # and after a real isolation that left the tunnel's subnets open on a firewall, it says so
    p2 = actions.plan(m, "radiante")
    res2 = _done(p2)
    centre = next(x for x in res2 if x.device == "fw-centre")
    centre.status, centre.error_kind = "failed", "connect"
    text2 = run.Run(p2, m, "breach", "", 0.0, 0.0, results=res2).report()
    assert "are NOT quarantined everywhere" in text2 and "ALREADY" not in text2


def test_restore_says_re_enabled_only_where_it_is(mpath):
    m = manifest.load(mpath)
    p = actions.plan(m, "acme-imaging", action="restore")
    bp = bastions.plan(m, ["acme-imaging"])[0]
    b = bastions.BastionResult("bst-1", "linux", "h", ["acme-imaging"], status="restored", done_at=1.0)
    b.accounts = [bastions.AccountState(a.id, "acme-imaging", "keptlocked", 0, True, "1", 0, True, "20000", 0,
                                        "was_locked=1") for a in bp.accounts]
    r = run.Run(p, m, "cleared", "", 0.0, 0.0, results=_done(p, "restored"), bastions=[b])
    line = run.bastion_line(b, "restore")
    assert "re-enabled (" not in line and "no account re-enabled" in line and "kept locked" in line
    summary = run.bastion_summary(r)
    assert "0 re-enabled" in summary and f"{len(bp.accounts)} kept locked" in summary
