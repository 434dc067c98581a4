"""Units of the access lifecycle: one refusal per policy rule, durations, grant ids and elements,
device scripts and listings, the journal detecting an edited line."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os

import pytest

from vendorwall.access import grants, policy
from vendorwall.isolate import journal

NOW = dt.date(2026, 11, 28)
APPROVER = "pacs.admin@chu-exemple.example"


def req(**kw: object) -> policy.Request:
    base = dict(vendor="acme-imaging", system="pacs-test-centre", ticket="CHG-1", requester="alice@chu.example",
                approver=APPROVER, duration="4h", emergency=False)
    base.update(kw)
    return policy.Request(**base)  # type: ignore[arg-type]


def rules(inv, r: policy.Request, today: dt.date = NOW) -> list[str]:
    return [x.rule for x in policy.check(inv, r, today)]


def test_valid_request_passes(example_result):
    assert rules(example_result.inventory, req()) == []


@pytest.mark.parametrize("change, rule", [
    (dict(ticket=" "), "ticket"),
    (dict(requester=""), "requester"),
    (dict(vendor="dedalus"), "vendor"),
    (dict(system="nope"), "system"),
    (dict(system="robot-pharma-nord"), "system"),  # another vendor's system
    (dict(system="pacs-core-centre", duration="5h"), "duration"),  # system max_hours 4
    (dict(duration="9h"), "duration"),  # policy on_demand_max_hours 8
    (dict(duration="soon"), "duration"),
    (dict(duration="10"), "duration"),  # a bare number: minutes or hours? never guessed (main: 10 h)
    (dict(duration="0m"), "duration"),
    (dict(approver=""), "approver"),
    (dict(approver="someone@else.example"), "approver"),
    (dict(requester=APPROVER), "approver"),  # four eyes
    (dict(emergency=True, approver="", duration="3h"), "duration"),  # emergency_max_hours 2
])
def test_each_rule_refuses(example_result, change, rule):
    assert rules(example_result.inventory, req(**change)) == [rule]


def test_mode_not_on_demand(example_result):
    inv = example_result.inventory
    perm = next(s for s in inv.systems.values() if s.access.mode == "permanent")
    approver = (perm.approvers or inv.vendors[perm.vendor].approvers)[0]
    got = rules(inv, req(vendor=perm.vendor, system=perm.name, approver=approver, duration="1h"))
    assert got == ["on_demand"]


def test_contract_ended(example_result):
    inv = example_result.inventory
    ends = inv.vendors["acme-imaging"].contract_ends
    assert rules(inv, req(), ends + dt.timedelta(days=1)) == ["contract"]
    assert rules(inv, req(), ends) == []


def test_break_glass_needs_no_approver(example_result):
    assert rules(example_result.inventory, req(emergency=True, approver="", duration="2h")) == []


def test_refusal_text_names_the_rule(example_result):
    r = policy.check(example_result.inventory, req(requester=APPROVER), NOW)[0]
    text = r.render()
    assert text.startswith("error: access refused by rule approver:") and "expected:" in text and "hint:" in text


@pytest.mark.parametrize("text, secs", [("4h", 14400), ("90m", 5400), ("1h30m", 5400), ("45s", 45), ("2", None),
                                        ("1d", 86400), ("", None), ("4 hours", None), ("5ms", None),
                                        ("\u0661h", None), ("\u0968\u0966m", None)])  # Arabic-Indic one, Devanagari 20
def test_durations(text, secs):
    assert policy.parse_duration(text) == secs


def test_grant_id_deterministic():
    a = grants.grant_id("v", "s", "T", "2026-11-28T10:00:00.000Z")
    assert a == grants.grant_id("v", "s", "T", "2026-11-28T10:00:00.000Z") and a.startswith("g") and len(a) == 13
    assert a != grants.grant_id("v", "s", "T", "2026-11-28T10:00:00.001Z")


def test_elements_path_x_address_x_port(example_result):
    els = grants.elements_for(example_result.model, "pacs-archive-centre")  # via acme-bastion only; ssh, https
    assert {e.firewall for e in els} == {"fw-centre"}
    assert {e.src for e in els} == {"10.249.0.101"} and {e.port for e in els} == {22, 443}
    els = grants.elements_for(example_result.model, "pacs-test-centre")  # both paths, 3 ports
    assert len(els) == 6


def test_open_close_requests_and_comment():
    """Grants reach the firewall's agent as data; the comment keeps safe characters only."""
    e = grants.Element("fw", "tcp", "10.0.0.0/27", "10.1.1.1", 22)
    c = grants.comment("g0123456789ab", "v", "s", 'T"1\n; rm -rf / $(x)' + "x" * 200, True)
    assert len(c.encode()) < 128 and "BREAK-GLASS" in c
    assert set(c) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._/:=@+-")
    assert grants.open_request([e], 30, c) == {
        "op": "grants_open", "timeout": 30, "comment": c, "only_missing": False,
        "elements": [{"set": "grants_tcp", "src": "10.0.0.0/27", "dst": "10.1.1.1", "port": 22}]}
    assert grants.close_request([e])["elements"] == [{"set": "grants_tcp", "src": "10.0.0.0/27", "dst": "10.1.1.1",
                                                       "port": 22}]
    live = grants.LiveElement("fw", "grants_tcp", "10.0.0.0/27 . 10.1.1.1 . 22", 30, 20, c)
    assert grants.element_of(live) == e
    anyv = grants.LiveElement("fw", "grants_any", "10.0.0.0/27 . 10.1.1.1", 30, 20, c)
    assert grants.element_of(anyv) == grants.Element("fw", "any", "10.0.0.0/27", "10.1.1.1", None)


def test_parse_set_listing():
    text = json.dumps({"nftables": [{"metainfo": {}}, {"set": {"name": "grants_tcp", "elem": [
        {"elem": {"val": {"concat": [{"prefix": {"addr": "10.200.1.0", "len": 27}}, "10.64.1.2", 22]},
                  "timeout": 7200, "expires": 7100, "comment": "vwgrant=gabcdefabcdef v/s T"}}]}}]})
    live, err = grants.parse_set("fw", "grants_tcp", text)
    assert err == "" and live and live[0].key == "10.200.1.0/27 . 10.64.1.2 . 22" and live[0].grant == "gabcdefabcdef"
    assert grants.parse_set("fw", "grants_tcp", "Error: No such file or directory")[0] is None
    o = grants.observed("fw", {"ok": True, "before": {"grants_tcp": json.loads(text)["nftables"][1]["set"]["elem"]},
                               "after": {"grants_tcp": []}, "rc": 0, "t1": 5, "errors": {"grants_udp": "no set"}})
    assert o.before and o.before[0].grant == "gabcdefabcdef" and o.after == [] and o.t1 == 5.0
    assert o.errors == ["grants_udp: no set"]
    assert grants.observed("fw", {"before": "junk", "errors": 3}).before is None


def test_refusal_is_journaled_and_an_edited_line_is_detected(example_result, tmp_path):
    from vendorwall.access import devices

    path = str(tmp_path / "access-journal.jsonl")
    for r in (req(ticket=""), req(duration="12h"), req(requester=APPROVER)):
        out = grants.open_grant(example_result.model, r, devices.ConnOptions(), path, today=NOW)
        assert out.exit == 2 and out.data["result"] == "refused"
    assert journal.verify(path) == []
    with open(path) as fh:
        lines = fh.read().splitlines()
    e = json.loads(lines[1])
    e["duration"] = "2h"  # someone makes a refusal look harmless
    lines[1] = json.dumps(e, sort_keys=True, separators=(",", ":"))
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    problems = journal.verify(path)
    assert any(p.startswith("line 2: hash does not match") for p in problems), problems
    assert os.path.getsize(path) > 0


def test_request_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        req().vendor = "x"  # type: ignore[misc]


def test_an_isolated_vendor_gets_no_access_break_glass_included(example_result, tmp_path):
    """Rule 'isolated': the isolation record names the vendor; the refusal carries the incident reference,
    is journaled, and nothing is opened (no device contacted)."""
    from vendorwall.access import devices
    from vendorwall.isolate import isolated

    path = isolated.path_of(example_result.inventory.root)
    isolated.write(path, isolated.Isolation({"acme-imaging": isolated.Entry(
        "acme-imaging", "2026-11-28T03:12:44.120Z", "ransomware at the vendor", "INC-4711", "access", "oncall",
        "r123")}))
    jpath = str(tmp_path / "access.jsonl")
    for r in (req(), req(emergency=True, approver="", duration="1h")):
        out = grants.open_grant(example_result.model, r, devices.ConnOptions(lab_dir=str(tmp_path / "nolab")), jpath,
                                today=NOW)
        assert out.exit == 2 and [x["rule"] for x in out.data["refusals"]] == ["isolated"]
        text = "\n".join(out.lines)
        assert "access refused by rule isolated" in text and "INC-4711" in text and "r123" in text
        assert "vendorwall restore" in text
    assert [e["event"] for e in journal.read(jpath)] == ["refused", "refused"]
    # another vendor is not concerned
    assert rules(example_result.inventory, req(), NOW) == []
    assert [x.rule for x in policy.check(example_result.inventory, req(), NOW, isolated.read(path))] == ["isolated"]
    # an unreadable record refuses too (fail closed)
    with open(path, "w") as fh:
        fh.write("{broken")
    out = grants.open_grant(example_result.model, req(), devices.ConnOptions(), jpath, today=NOW)
    assert out.exit == 2 and out.data["refusals"][0]["rule"] == "isolated"
    assert "cannot read the isolation state" in out.data["refusals"][0]["found"]
