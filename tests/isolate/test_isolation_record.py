"""``vendorwall isolate`` records the isolated vendors in the state directory (with the journal's entry, under
one lock), even when a firewall cannot be reached (the intent stands: every later deploy quarantines them);
``restore`` removes them only once every firewall lifted them. Fails on a main without the record."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from vendorwall import pipeline
from vendorwall.deploy.session import Target
from vendorwall.isolate import actions, isolated, journal, manifest, run

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.date(2026, 11, 28)


@pytest.fixture(scope="module")
def model():
    return pipeline.run(str(ROOT / "inventories" / "example"), NOW, check_lock=False, do_render=False).model


def _closed(m: manifest.Manifest) -> list[Target]:
    return [Target(fw, "nftables", "127.0.0.1", port=1, connect_timeout=1) for fw in sorted(m.firewalls)]


def test_isolate_records_the_vendor_and_restore_removes_it_only_when_done(model, tmp_path):
    mpath = str(tmp_path / "manifest.json")
    manifest.write_manifest(mpath, model)
    m = manifest.load(mpath)
    rec = str(tmp_path / "state" / "isolation.json")
    jpath = str(tmp_path / "state" / "incident.jsonl")
    r = run.execute(m, actions.plan(m, "sonexa", "segment"), _closed(m), reason="ransomware", ticket="INC-9",
                    journal_path=jpath, isolation_path=rec, accounts=False)
    assert r.exit_code == 1  # the firewalls were unreachable...
    e = isolated.read(rec).vendors["sonexa"]  # ...but the intent is recorded: deploys will quarantine it
    assert (e.reason, e.ticket, e.scope, e.run) == ("ransomware", "INC-9", "segment", r.run_id)
    assert e.since == run.stamp(r.started)
    started = journal.read(jpath)[0]
    assert started["event"] == "started" and "recorded as isolated" in started["isolation_record"]
    assert os.stat(rec).st_mode & 0o777 == 0o600
    assert "isolation record: sonexa recorded as isolated" in r.report()
    # a check changes nothing
    run.execute(m, actions.plan(m, "anestra", check=True), _closed(m), reason="x", isolation_path=rec,
                accounts=False)
    assert list(isolated.read(rec)) == ["sonexa"]
    # a restore that could not reach the firewalls keeps the record (fail closed), and says so
    r = run.execute(m, actions.plan(m, "sonexa", action="restore"), _closed(m), reason="cleared",
                    journal_path=jpath, isolation_path=rec, accounts=False)
    assert list(isolated.read(rec)) == ["sonexa"] and "still recorded as isolated" in r.report()
    # once every firewall lifted it, the record forgets it
    done = [run.DeviceResult(fw, "nftables", "", status="restored") for fw in m.firewalls]

    def fake_device(t, p, conntrack=True, **_kw):
        return next(x for x in done if x.device == t.device)

    orig = run.run_device
    run.run_device = fake_device  # type: ignore[assignment]
    try:
        r = run.execute(m, actions.plan(m, "sonexa", action="restore"), _closed(m), reason="cleared",
                        journal_path=jpath, isolation_path=rec, accounts=False)
    finally:
        run.run_device = orig  # type: ignore[assignment]
    assert r.exit_code == 0 and list(isolated.read(rec)) == []
    assert journal.verify(jpath) == []
    assert "removed from the isolation record" in journal.read(jpath)[-1]["isolation_record"]


def test_an_unwritable_record_is_reported_not_fatal(model, tmp_path):
    mpath = str(tmp_path / "manifest.json")
    manifest.write_manifest(mpath, model)
    m = manifest.load(mpath)
    rec = tmp_path / "state" / "isolation.json"
    rec.parent.mkdir()
    rec.write_text("{damaged")
    r = run.execute(m, actions.plan(m, "sonexa"), _closed(m), reason="x", isolation_path=str(rec), accounts=False)
    assert r.record_error and "NOT updated" in r.record_error and r.exit_code == 1
    assert "ISOLATION RECORD: the isolation record was NOT updated" in r.report()
    assert rec.read_text() == "{damaged"  # never overwritten blindly
