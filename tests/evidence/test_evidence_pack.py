"""The compliance pack of the example inventory, in English and French: its figures match the journals it
was built from (recounted here independently), it is deterministic, standalone, and headless Chromium renders
it (DOM and screenshot) and prints it to PDF.

The state directory is filled the way vendorwall's commands fill it (journal entries of the same events and
fields, appended through the journal's own code; archive segments in the collector's format; an account
review report; an audit sample), with explicit times, so the test knows what the pack must say.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "review"))
from test_review_html import _read_png

from vendorwall.access import logs
from vendorwall.isolate import journal

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLE = os.path.join(ROOT, "inventories", "example")
NOW = "2026-12-20T12:00:00Z"
OK_BADGE, GAP_BADGE = (0xDA, 0xFB, 0xE1), (0xFF, 0xEB, 0xE9)


def _z(d: dt.datetime) -> str:
    return d.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def T(month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


def _grant(j: str, gid: str, vendor: str, system: str, at: dt.datetime, hours: float, *, emergency: bool = False,
           ticket: str = "CHG-1", approver: str = "pacs.admin@chu-exemple.example") -> None:
    journal.append(j, {"event": "opened", "when": _z(at), "grant": gid, "vendor": vendor, "system": system,
                       "ticket": ticket, "requester": "alice@chu-exemple.example",
                       "approver": "" if emergency else approver, "emergency": emergency, "opened_at": _z(at),
                       "expires_at": _z(at + dt.timedelta(hours=hours)),
                       **({"review_by": _z(at + dt.timedelta(hours=24))} if emergency else {}),
                       "elements": ["grants_tcp 10.200.1.0/27 . 10.66.0.26 . 22 @fw-centre"]})


def _segment(arch: str, recs: list[dict], when: dt.datetime) -> None:
    data = "".join(json.dumps(r, sort_keys=True) + "\n" for r in recs).encode()
    comp = gzip.compress(data, mtime=0)
    name = f"conn-{when.strftime('%Y%m%dT%H%M%S')}-{hashlib.sha256(comp).hexdigest()[:8]}.jsonl.gz"
    with open(os.path.join(arch, name), "wb") as fh:
        fh.write(comp)
    journal.append(os.path.join(arch, logs.INDEX), {
        "event": "segment", "when": _z(when), "records": len(recs), "file": name,
        "sha256": hashlib.sha256(comp).hexdigest(), "first_ts": recs[0]["ts"], "last_ts": recs[-1]["ts"]})


def _rec(event: str, at: dt.datetime, vendor: str, sport: int, **kw) -> dict:
    base = {"event": event, "ts": at.timestamp(), "firewall": "fw-centre", "proto": "tcp", "src": "10.200.1.1",
            "dst": "10.66.0.26", "sport": sport, "dport": 22, "vendor": vendor, "entry_path": "acme-vpn",
            "system": "pacs-test-centre", "service": "ssh", "verdict": "drop" if event == "drop" else "accept",
            "grant": "", "access": ""}
    return {**base, **kw}


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    base = tmp_path_factory.mktemp("evidence-state")
    inv = str(base / "example")
    shutil.copytree(EXAMPLE, inv)
    st = base / "state"
    sd = st / "example"
    (sd / "journals").mkdir(parents=True)
    acc = str(sd / "journals" / "access.jsonl")
    # Q3 (outside the period), then Q4
    _grant(acc, "g000000000001", "acme-imaging", "pacs-test-centre", T(9, 20), 2)
    _grant(acc, "g000000000002", "acme-imaging", "pacs-test-centre", T(10, 3), 4)
    journal.append(acc, {"event": "closed", "when": _z(T(10, 3, 11)), "grant": "g000000000002", "reason": "done"})
    _grant(acc, "g000000000003", "acme-imaging", "pacs-test-centre", T(11, 5), 1)
    journal.append(acc, {"event": "expired", "when": _z(T(11, 5, 10)), "grant": "g000000000003", "on_time": True})
    _grant(acc, "g000000000004", "sonexa", "us-sud-1", T(12, 1), 8, approver="radiologie@chu-exemple.example")
    journal.append(acc, {"event": "refused", "when": _z(T(12, 2)), "vendor": "sonexa", "system": "us-sud-1",
                         "rules": ["approver"]})
    _grant(acc, "g000000000005", "acme-imaging", "pacs-test-centre", T(11, 20, 3), 2, emergency=True, ticket="INC-9")
    journal.append(acc, {"event": "reviewed", "when": _z(T(11, 20, 15)), "grant": "g000000000005",
                         "reviewer": "rssi@chu-exemple.example", "review_by": _z(T(11, 21, 3)), "on_time": True})
    _grant(acc, "g000000000006", "sonexa", "us-sud-1", T(12, 10, 2), 1, emergency=True, ticket="INC-10")
    inc = str(sd / "journals" / "incident.jsonl")
    for when, action, check, secs, failed in ((T(10, 15), "isolate", False, 0.82, []),
                                              (T(10, 15, 10), "restore", False, 0.61, []),
                                              (T(11, 2), "isolate", True, 0.0, []),
                                              (T(12, 3), "isolate", False, 1.4, ["fw-nord"])):
        journal.append(inc, {"event": "started", "when": _z(when), "action": action, "check": check,
                             "vendors": ["acme-imaging"], "run": f"r{when.day}"})
        journal.append(inc, {"event": "finished", "when": _z(when), "action": action, "check": check,
                             "vendors": ["acme-imaging"], "run": f"r{when.day}", "reason": "drill",
                             "ticket": "DRILL-1", "devices": {"fw-centre": {}, "fw-nord": {}, "fw-sud": {},
                                                              "fw-rive": {}},
                             "failed_devices": failed, "all_devices_done_seconds": secs, "who": {"user": "oncall"}})
    arch = sd / "connection-logs"
    arch.mkdir()
    _segment(str(arch), [_rec("new", T(6, 1), "acme-imaging", 40000)], T(6, 1, 12))  # purged below
    old = journal.read(str(arch / logs.INDEX))[0]["file"]
    journal.append(str(arch / logs.INDEX), {"event": "purged", "when": _z(T(12, 5)), "files": [old],
                                            "retention_days": 365})
    os.unlink(arch / old)
    _segment(str(arch), [_rec("new", T(10, 3, 9), "acme-imaging", 41000, grant="g000000000002", access="grant"),
                         _rec("end", T(10, 3, 10), "acme-imaging", 41000, bytes=120000, start=T(10, 3, 9).timestamp(),
                              duration=3600.0, grant="g000000000002", access="grant"),
                         _rec("drop", T(10, 4), "acme-imaging", 41001, dport=23, reason="vw-drop")], T(10, 4, 12))
    _segment(str(arch), [_rec("new", T(11, 20, 4), "acme-imaging", 42000, grant="g000000000005",
                              access="break-glass"),
                         _rec("new", T(12, 1, 10), "sonexa", 43000, src="10.200.5.1", access="unexplained"),
                         _rec("end", T(12, 1, 11), "sonexa", 43000, src="10.200.5.1", bytes=5000,
                              start=T(12, 1, 10).timestamp(), duration=3600.0, access="unexplained")],
             T(12, 1, 12))
    rev = sd / "reports" / "account-review"
    rev.mkdir(parents=True)
    (rev / "account-review-2026-11-15.json").write_text(json.dumps([
        {"account": "acme-jdoe", "bastion": "bastion-centre", "lock_reasons": ["idle 120 days (> 90)"],
         "locked_before": False}, {"account": "acme-x", "bastion": "bastion-centre", "lock_reasons": [],
                                   "locked_before": False}]))
    aud = sd / "audit"
    aud.mkdir()
    with open(aud / "audit-7.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["time", "verdict", "flagged"])
        w.writeheader()
        w.writerows([{"time": "t", "verdict": "grant", "flagged": False},
                     {"time": "t", "verdict": "unexplained", "flagged": True}])
    al = str(sd / "journals" / "alerts.jsonl")
    for kind, ev in (("grant_opened", "sent"), ("break_glass_opened", "sent"), ("isolated", "sent"),
                     ("isolated", "failed")):
        journal.append(al, {"event": ev, "when": _z(T(11, 20, 5)), "at": _z(T(11, 20, 5)), "key": kind,
                            "kind": kind, "channel": "email"})
    return {"inv": inv, "state": str(st), "dir": str(sd)}


def _pack(state, out, lang="en", *extra) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VENDORWALL_STATE_DIR": state["state"]}
    return subprocess.run([sys.executable, "-m", "vendorwall", "evidence", state["inv"], "--period", "2026-Q4",
                           "--out", str(out), "--lang", lang, "--now", NOW, *extra], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300, check=False)


@pytest.fixture(scope="module")
def packs(state, tmp_path_factory):
    out = {}
    for lang in ("en", "fr"):
        d = tmp_path_factory.mktemp(f"pack-{lang}")
        p = _pack(state, d, lang)
        assert p.returncode == 0, p.stderr
        print(p.stdout)
        out[lang] = d
    return out


def _data(d) -> dict:
    return json.loads((d / "evidence.json").read_text())


def _fig(data: dict, measure: str) -> dict:
    return next(m for m in data["measures"] if m["id"] == measure)["figures"]


def test_figures_match_the_journals(state, packs):
    data = _data(packs["en"])
    start, end = "2026-10-01", "2027-01-01"
    entries = journal.read(os.path.join(state["dir"], "journals", "access.jsonl"))
    opened = [e for e in entries if e["event"] == "opened" and start <= e["opened_at"] < end]
    normal = [e for e in opened if not e["emergency"]]
    ended = {e["grant"]: e["event"] for e in entries if e["event"] in ("closed", "expired")}
    od = _fig(data, "on_demand")
    assert od["grants_opened"] == len(normal) == 3
    assert od["grants_closed_early"] == sum(1 for e in normal if ended.get(e["grant"]) == "closed") == 1
    assert od["grants_expired"] == sum(1 for e in normal if ended.get(e["grant"]) == "expired") == 1
    assert od["grants_refused"] == sum(1 for e in entries if e["event"] == "refused" and start <= e["when"] < end)
    assert od["granted_hours_max"] == 8 and od["granted_hours_median"] == 4
    bg = _fig(data, "break_glass")
    assert bg["break_glass_opened"] == sum(1 for e in opened if e["emergency"]) == 2
    assert (bg["reviewed_on_time"], bg["not_reviewed_overdue"], bg["reviewed_late"]) == (1, 1, 0)
    inc = [e for e in journal.read(os.path.join(state["dir"], "journals", "incident.jsonl"))
           if e["event"] == "finished" and start <= e["when"] < end]
    dr = _fig(data, "drills")
    assert dr["isolations"] == sum(1 for e in inc if e["action"] == "isolate" and not e["check"]) == 2
    assert dr["restores"] == 1 and dr["dry_runs"] == 1 and dr["seconds_max"] == 1.4
    arch = os.path.join(state["dir"], "connection-logs")
    recs = [r for r in logs.records(arch) if dt.datetime(2026, 10, 1, tzinfo=dt.UTC).timestamp() <= r["ts"]]
    lg = _fig(data, "logs")
    assert lg["connections"] == sum(1 for r in recs if r["event"] == "new") == 3
    assert lg["closed_with_bytes"] == 2 and lg["bytes"] == sum(r.get("bytes", 0) for r in recs) == 125000
    assert lg["drops"] == 1 and lg["within_a_grant"] == 2
    assert lg["purges"] == 1 and lg["segments_purged"] == 1 and lg["archive_intact"] is True
    idx = journal.read(os.path.join(arch, logs.INDEX))
    assert lg["index_head"] == idx[-1]["hash"]
    heads = {j["name"]: j for j in data["journals"]}
    assert heads["access"]["head"] == entries[-1]["hash"] and heads["access"]["entries"] == len(entries)
    assert all(j["intact"] for j in data["journals"])
    assert _fig(data, "accounts")["idle_locks_in_period"] == 1
    rv = _fig(data, "reviews")
    assert (rv["account_reviews"], rv["audit_samples"], rv["unexplained_in_samples"]) == (1, 1, 1)
    assert data["alerts"] == {"sent": 3, "failed": 1, "by_kind": {"break_glass_opened": 1, "grant_opened": 1,
                                                                   "isolated": 1}}
    gaps = {g["what"] for m in data["measures"] for g in m["gaps"]}
    assert {"lan_to_lan", "permanent_access", "break_glass_not_reviewed", "unexplained_connections",
            "isolation_incomplete", "inventory_out_of_policy"} <= gaps
    # an account expired on 2026-12-19 makes 'vendorwall validate' refuse the inventory on the 20th: the pack
    # is built all the same and says so
    out_of_policy = [g for m in data["measures"] for g in m["gaps"] if g["what"] == "inventory_out_of_policy"]
    assert any(g["message"] == "account expired" and g["found"] == "2026-12-19" for g in out_of_policy)
    # the CSV beside the page says the same
    with open(packs["en"] / "measures.csv", newline="") as fh:
        rows = {(r["measure"], r["figure"]): r["value"] for r in csv.DictReader(fh)}
    assert rows[("on_demand", "grants_opened")] == "3" and rows[("logs", "bytes")] == "125000"
    with open(packs["en"] / "grants.csv", newline="") as fh:
        assert sorted(r["grant"] for r in csv.DictReader(fh)) == sorted(e["grant"] for e in opened)


def test_both_languages_say_the_same_figures_in_their_words(packs):
    assert _data(packs["en"]) == _data(packs["fr"])
    en = html.unescape((packs["en"] / "index.html").read_text())
    fr = html.unescape((packs["fr"] / "index.html").read_text())
    assert '<html lang="en">' in en and '<html lang="fr">' in fr
    for word in ("Segregation of networks", "Gaps", "What the auditor still asks for by hand", "Break-glass"):
        assert word in en
    for word in ("Cloisonnement des réseaux", "Écarts", "Ce que l'auditeur demande encore à la main",
                 "bris de glace", "conserver les journaux de connexion de 6 mois à 1 an"):
        assert word in fr
    assert "Segregation of networks" not in fr
    # figures as printed: 125,000 bytes in English, 125 000 in French
    assert "125,000" in en and "125\u202f000" in fr


def test_the_pack_is_deterministic_and_standalone(state, packs, tmp_path):
    p = _pack(state, tmp_path, "fr")
    assert p.returncode == 0
    for name in ("index.html", "print.html", "evidence.json", "measures.csv", "gaps.csv", "journals.csv"):
        assert (tmp_path / name).read_bytes() == (packs["fr"] / name).read_bytes(), name
    text = (packs["en"] / "index.html").read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(", text, re.I)
    assert os.stat(packs["en"] / "evidence.json").st_mode & 0o777 == 0o600


def test_a_bad_period_is_an_error_with_a_hint(state, tmp_path):
    p = _pack(state, tmp_path, "en")
    assert p.returncode == 0
    env = {**os.environ, "VENDORWALL_STATE_DIR": state["state"]}
    p = subprocess.run([sys.executable, "-m", "vendorwall", "evidence", state["inv"], "--period", "Q4-2026",
                        "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    assert p.returncode == 2 and "not a period" in p.stderr and "2026-Q4" in p.stderr and "Traceback" not in p.stderr


# --------------------------------------------------------------------------- headless Chromium


def _chromium(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    from vendorwall.evidence.render import browser

    exe = browser()
    if exe is None:
        pytest.skip("headless Chromium not installed (apt-get install chromium)")
    cmd = [exe, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run", f"--user-data-dir={cwd}/profile",
           *args]
    if os.geteuid() == 0:
        cmd.insert(1, "--no-sandbox")
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_chromium_parses_every_measure_with_its_status(packs, tmp_path):
    for lang in ("en", "fr"):
        res = _chromium("--dump-dom", (packs[lang] / "index.html").as_uri(), cwd=tmp_path)
        assert res.returncode == 0, res.stderr[-1000:]
        found = re.findall(r'<section class="measure (ok|gap)" id="m-(\w+)"', res.stdout)
        assert [m for _, m in found] == ["segmentation", "least_privilege", "on_demand", "break_glass", "accounts",
                                         "reviews", "logs", "drills"]
        assert dict((m, s) for s, m in found)["break_glass"] == "gap"


def test_screenshot_shows_the_status_badges(packs, tmp_path):
    shot = tmp_path / "pack.png"
    res = _chromium("--window-size=1200,1400", f"--screenshot={shot}", (packs["fr"] / "index.html").as_uri(),
                    cwd=tmp_path)
    assert res.returncode == 0 and shot.exists(), res.stderr[-1000:]
    print(f"screenshot: {shot}")
    width, height, pixels = _read_png(shot.read_bytes())
    assert (width, height) == (1200, 1400)
    ok = sum(1 for p in pixels if p == OK_BADGE)
    gap = sum(1 for p in pixels if p == GAP_BADGE)
    assert ok > 300 and gap > 1500, (ok, gap)  # badges of the summary table, in both colours


def test_print_ready_pack_prints_to_pdf(state, tmp_path):
    from vendorwall.evidence.render import browser

    if browser() is None:
        pytest.skip("headless Chromium not installed (apt-get install chromium)")
    p = _pack(state, tmp_path, "fr", "--pdf")
    assert p.returncode == 0, p.stdout + p.stderr
    pdf = (tmp_path / "evidence.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") >= 3
    assert "@page { size: A4" in (tmp_path / "print.html").read_text()
