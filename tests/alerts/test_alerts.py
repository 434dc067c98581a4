"""Alerts: derived from the journals and the inventory, sent to real local servers (SMTP with aiosmtpd, an
HTTP webhook, a syslog receiver), once, retried, within a deadline, without secrets in any output."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace

import pytest
import yaml

sys.path.insert(0, os.path.dirname(__file__))
import servers

from vendorwall import pipeline
from vendorwall.alerts import cli as alerts_cli
from vendorwall.alerts import dispatch, events
from vendorwall.isolate import journal
from vendorwall.model import Alerts, EmailChannel, SyslogTarget, WebhookChannel
from vendorwall.state import StateDir

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLE = os.path.join(ROOT, "inventories", "example")
NOW = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
TOKEN = "s3cr3t-t0ken-do-not-print"


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture(scope="module")
def inv():
    return pipeline.run(EXAMPLE, NOW.date(), check_lock=False, do_render=False).inventory


def _cfg(smtp, http, syslog, **kw) -> Alerts:
    return Alerts(email=EmailChannel("127.0.0.1", "vendorwall@chu-exemple.example", ("rssi@chu-exemple.example",),
                                     smtp.port, "none"),
                  webhook=WebhookChannel(url_env="VW_TEST_HOOK_URL", token_env="VW_TEST_HOOK_TOKEN"),
                  syslog=SyslogTarget("127.0.0.1", syslog.port), **kw)


@pytest.fixture
def env(monkeypatch):
    def set_(http):
        monkeypatch.setenv("VW_TEST_HOOK_URL", http.url(f"/hook/{TOKEN}"))
        monkeypatch.setenv("VW_TEST_HOOK_TOKEN", TOKEN)
    return set_


def _break_glass(path: str, when: dt.datetime, gid: str = "g0123456789ab") -> dict:
    return journal.append(path, {
        "event": "opened", "when": _iso(when), "grant": gid, "vendor": "acme-imaging", "system": "pacs-test-centre",
        "ticket": "INC-42", "requester": "oncall@chu-exemple.example", "approver": "", "emergency": True,
        "opened_at": _iso(when), "expires_at": _iso(when + dt.timedelta(hours=2)),
        "review_by": _iso(when + dt.timedelta(hours=24))})


def test_a_break_glass_opening_reaches_email_webhook_and_syslog_once(inv, tmp_path, env):
    with servers.all_three() as (smtp, http, syslog):
        env(http)
        inv2 = replace(inv, policy=replace(inv.policy, alerts=_cfg(smtp, http, syslog)))
        state = StateDir.for_inventory(EXAMPLE)
        _break_glass(state.journal("access"), NOW - dt.timedelta(minutes=1))
        line = alerts_cli.after_command(EXAMPLE, inv2, now=NOW)
        assert line == "alerts: 3 sent (email 1, syslog 1, webhook 1)", line
        assert servers.wait_for(lambda: smtp.messages and http.posts and syslog.lines)
        msg = smtp.messages[0]
        assert "BREAK-GLASS access opened: acme-imaging -> pacs-test-centre" in " ".join(msg["Subject"].split())
        assert msg["X-Envelope-To"] == "rssi@chu-exemple.example" and msg["X-Vendorwall-Event"] == "break_glass_opened"
        assert "review it by 2026-11-29T09:59" in msg.get_payload()
        post = http.posts[0]
        assert (post["kind"], post["severity"], post["data"]["grant"]) == ("break_glass_opened", "warning",
                                                                           "g0123456789ab")
        assert http.headers[0]["Authorization"] == f"Bearer {TOKEN}"
        assert syslog.lines[0].startswith("<132>1 2026-11-28T09:59:00.000Z ")
        assert ' vendorwall - break_glass_opened [vendorwall@32473 kind="break_glass_opened"' in syslog.lines[0]
        # once: a second command, a daily check, nothing new goes out
        again = alerts_cli.after_command(EXAMPLE, inv2, now=NOW + dt.timedelta(minutes=5))
        assert again == "alerts: 0 sent, 3 already sent"
        assert len(smtp.messages) == 1 and len(http.posts) == 1 and len(syslog.lines) == 1
        sent = [e for e in journal.read(state.journal("alerts")) if e["event"] == "sent"]
        assert sorted(e["channel"] for e in sent) == ["email", "syslog", "webhook"]
        assert journal.verify(state.journal("alerts")) == []
        with open(state.journal("alerts")) as fh:
            assert TOKEN not in fh.read()


def test_a_failing_webhook_is_retried_then_sent_at_the_next_dispatch(tmp_path, env):
    with servers.all_three(http_statuses=[500, 502, 503]) as (smtp, http, syslog):
        env(http)
        cfg = replace(_cfg(smtp, http, syslog), email=None, syslog=None, retries=2)
        store = str(tmp_path / "alerts.jsonl")
        a = [events.Alert("grant_opened", "k1", "2026-11-28T09:00:00Z", "t", "x")]
        slept: list[float] = []
        rep = dispatch.dispatch(a, cfg, store, "example", NOW, sleep=slept.append)
        assert rep.sent == [] and rep.failed == [("k1", "webhook", "HTTP 503")] and len(http.posts) == 3
        assert slept == [0.5, 1.0]  # bounded backoff between the 3 attempts
        assert TOKEN not in rep.line()
        rep = dispatch.dispatch(a, cfg, store, "example", NOW, sleep=slept.append)
        assert rep.sent == [("k1", "webhook")] and len(http.posts) == 4
        assert [e["event"] for e in journal.read(store)] == ["failed", "sent"]


def test_a_hanging_webhook_does_not_hold_the_run_past_its_deadline(tmp_path, env):
    http = servers.Http(hang=5)
    try:
        env(http)
        cfg = Alerts(webhook=WebhookChannel(url_env="VW_TEST_HOOK_URL"), timeout_seconds=0.5, retries=5)
        alerts = [events.Alert("isolated", f"k{i}", "2026-11-28T09:00:00Z", "t", "x") for i in range(5)]
        t0 = time.monotonic()
        rep = dispatch.dispatch(alerts, cfg, str(tmp_path / "a.jsonl"), "example", NOW, deadline_s=2.0)
        took = time.monotonic() - t0
        assert took < 3.0, took
        assert rep.sent == [] and rep.failed and rep.deferred >= 1
        assert "deferred" in rep.line() and "FAILED" in rep.line()
    finally:
        http.stop()


def test_a_missing_secret_is_named_never_guessed(tmp_path, monkeypatch):
    monkeypatch.delenv("VW_TEST_HOOK_URL", raising=False)
    cfg = Alerts(webhook=WebhookChannel(url_env="VW_TEST_HOOK_URL"))
    rep = dispatch.dispatch([events.Alert("grant_opened", "k", "", "t", "x")], cfg, str(tmp_path / "a.jsonl"),
                            "example", NOW, sleep=lambda _: None)
    assert rep.failed == [("k", "webhook", "url: environment variable VW_TEST_HOOK_URL is not set")]


def test_time_based_alerts_from_the_inventory(inv):
    at = dt.datetime(2027, 9, 15, tzinfo=dt.UTC)
    got = {(a.kind, a.data.get("vendor")) for a in events.from_inventory(inv, at)}
    assert ("contract_ending", "climatec") in got  # ends 2027-09-30: within 30 days
    assert ("tunnel_retirement_passed", "exemplar-lab") in got  # retire_by 2027-06-30
    assert ("tunnel_retirement_passed", "radiante") not in got  # retire_by 2027-09-30: not yet
    assert not [a for a in events.from_inventory(inv, NOW) if a.kind == "tunnel_retirement_passed"]


def test_a_missed_break_glass_review_alerts_until_it_is_recorded(tmp_path):
    from vendorwall.access import grants

    j = str(tmp_path / "access.jsonl")
    _break_glass(j, NOW)
    kinds = lambda t: [a.kind for a in events.from_access(journal.read(j), t)]  # noqa: E731
    assert "break_glass_review_missed" not in kinds(NOW + dt.timedelta(hours=23))
    assert "break_glass_review_missed" in kinds(NOW + dt.timedelta(hours=25))
    assert grants.record_review(j, "g0123456789ab", "rssi@chu-exemple.example", "checked with the vendor").exit == 0
    assert "break_glass_review_missed" not in kinds(NOW + dt.timedelta(hours=25))
    assert grants.record_review(j, "gffffffffffff", "x", "").exit == 2


def test_time_based_alerts_repeat_after_repeat_days_only(tmp_path):
    sent: list[str] = []
    cfg = Alerts(syslog=SyslogTarget("127.0.0.1", 9), repeat_days=7)
    a = [events.Alert("contract_ending", "contract_ending:v:2027-09-30", "2027-09-30", "t", "x")]
    store = str(tmp_path / "a.jsonl")
    senders = {"syslog": lambda al, c, i, t: sent.append(al.key)}
    for day in (0, 1, 6, 7, 8):
        dispatch.dispatch(a, cfg, store, "e", NOW + dt.timedelta(days=day), senders=senders)
    assert len(sent) == 2  # day 0 and day 7


def test_the_isolation_alert_uses_the_kept_settings_and_the_incident_journal(inv, env):
    with servers.all_three() as (smtp, http, syslog):
        env(http)
        state = StateDir.for_inventory(EXAMPLE)
        assert "no alert settings" in alerts_cli.after_isolation(EXAMPLE, state.journal("incident"), now=NOW)
        alerts_cli.save_config(state, _cfg(smtp, http, syslog))
        journal.append(state.journal("incident"), {
            "event": "finished", "action": "isolate", "check": False, "vendors": ["acme-imaging"], "run": "r1",
            "when": _iso(NOW), "reason": "vendor compromised", "ticket": "INC-7", "who": {"user": "oncall"},
            "devices": {"fw-centre": {}, "fw-nord": {}}, "failed_devices": ["fw-nord"],
            "all_devices_done_seconds": 0.4})
        line = alerts_cli.after_isolation(EXAMPLE, state.journal("incident"), now=NOW)
        assert line.startswith("alerts: 3 sent"), line
        assert servers.wait_for(lambda: smtp.messages)
        assert "vendor ISOLATED: acme-imaging" in " ".join(smtp.messages[0]["Subject"].split())
        assert "FAILED on: fw-nord" in smtp.messages[0].get_payload()
        assert http.posts[0]["severity"] == "critical"


def test_an_idle_lock_of_the_account_review_alerts(tmp_path):
    d = tmp_path / "reports"
    d.mkdir()
    rows = [{"account": "acme-jdoe", "bastion": "bastion-1", "vendor": "acme-imaging", "person": "J. Doe",
             "lock_reasons": ["idle 120 days (> 90)"], "locked_before": False, "last_login": "2026-07-01"},
            {"account": "acme-old", "bastion": "bastion-1", "vendor": "acme-imaging",
             "lock_reasons": ["idle 400 days (> 90)"], "locked_before": True},
            {"account": "acme-exp", "bastion": "bastion-1", "vendor": "acme-imaging",
             "lock_reasons": ["past expiry"], "locked_before": False}]
    (d / "account-review-2026-11-28.json").write_text(json.dumps(rows))
    got = events.from_account_reviews(str(d), NOW)
    assert [a.data["account"] for a in got] == ["acme-jdoe"] and got[0].kind == "account_locked_idle"


def test_alerts_check_without_channels_says_so(tmp_path):
    inv = str(tmp_path / "example")
    shutil.copytree(EXAMPLE, inv)
    p = subprocess.run([sys.executable, "-m", "vendorwall", "alerts", "check", inv, "--now", "2026-11-28"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    assert "no channel configured" in p.stdout


def test_alerts_check_sends_the_time_based_ones_from_the_inventory_policy(tmp_path, env):
    inv = str(tmp_path / "example")
    shutil.copytree(EXAMPLE, inv)
    with servers.all_three() as (smtp, http, _syslog):
        env(http)
        path = os.path.join(inv, "vendorwall", "policy.yml")
        with open(path) as fh:
            data = yaml.safe_load(fh)
        data["policy"]["alerts"] = {
            "email": {"server": "127.0.0.1", "port": smtp.port, "security": "none",
                      "from": "vendorwall@chu-exemple.example", "to": ["rssi@chu-exemple.example"]},
            "webhook": {"url_env": "VW_TEST_HOOK_URL", "format": "mattermost"},
            "events": ["contract_ending", "tunnel_retirement_passed"]}
        with open(path, "w") as fh:
            yaml.safe_dump(data, fh, sort_keys=False)
        cmd = [sys.executable, "-m", "vendorwall", "alerts", "check", inv, "--now", "2026-11-28T08:00:00Z"]
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120, check=False, env=os.environ)
        assert p.returncode == 0, p.stderr
        print(p.stdout)
        # at 2026-11-28 no contract ends within 30 days and no tunnel is past its date: nothing holds
        assert p.stdout.startswith("0 alerts hold")
        assert TOKEN not in p.stdout + p.stderr


def test_the_daily_playbook_sends_a_missed_break_glass_review(tmp_path):
    tool = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable)) or shutil.which("ansible-playbook")
    if tool is None:
        pytest.skip("ansible-playbook not installed")
    inv = str(tmp_path / "example")
    shutil.copytree(EXAMPLE, inv)
    http = servers.Http()
    try:
        path = os.path.join(inv, "vendorwall", "policy.yml")
        with open(path) as fh:
            data = yaml.safe_load(fh)
        data["policy"]["alerts"] = {"webhook": {"url": http.url("/hook")}}
        with open(path, "w") as fh:
            yaml.safe_dump(data, fh, sort_keys=False)
        opened = dt.datetime.now(dt.UTC) - dt.timedelta(hours=30)
        _break_glass(StateDir.for_inventory(inv).journal("access"), opened)
        p = subprocess.run([tool, "-i", inv, "playbooks/alerts_check.yml"], capture_output=True, text=True, cwd=ROOT,
                           timeout=300, check=False)
        print(p.stdout[-3000:], p.stderr[-2000:])
        assert p.returncode == 0 and "changed=1" in p.stdout
        kinds = sorted(x["kind"] for x in http.posts)
        assert kinds == ["break_glass_opened", "break_glass_review_missed"]
        p = subprocess.run([tool, "-i", inv, "playbooks/alerts_check.yml"], capture_output=True, text=True, cwd=ROOT,
                           timeout=300, check=False)
        assert p.returncode == 0 and "changed=0" in p.stdout and len(http.posts) == 2  # once
    finally:
        http.stop()
