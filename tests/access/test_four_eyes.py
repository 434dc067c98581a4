"""Four eyes: an approver is a person, not a spelling. Before: 'PACS.Admin@...' approving a request by
'pacs.admin@...' passed (case-sensitive comparison), and a listed approver typed with capitals was refused."""

from __future__ import annotations

import datetime as dt

from vendorwall.access import policy

NOW = dt.date(2026, 11, 28)
APPROVER = "pacs.admin@chu-exemple.example"


def _rules(inv, requester: str, approver: str) -> list[str]:
    req = policy.Request("acme-imaging", "pacs-test-centre", "CHG-1", requester, approver, "4h")
    return [r.rule for r in policy.check(inv, req, NOW)]


def test_same_person_other_case_is_not_a_second_pair_of_eyes(example_result):
    inv = example_result.inventory
    assert "approver" in _rules(inv, "PACS.Admin@CHU-exemple.example", APPROVER)
    assert "approver" in _rules(inv, f" {APPROVER} ", APPROVER.upper())


def test_a_listed_approver_in_capitals_is_still_the_approver(example_result):
    inv = example_result.inventory
    assert "approver" not in _rules(inv, "alice@chu-exemple.example", APPROVER.upper())
