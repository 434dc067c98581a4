"""A firewall whose clock is 3 h ahead: the grant's expiry is journaled in the controller's time (the skew
measured on that contact removed), the skew is journaled per firewall, and the output warns. Recorded
agent answers stand for the firewall (the skew of a real clock cannot be set in a network namespace).

Before: the journaled expires_at was the firewall's clock + duration, 3 h wrong."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from vendorwall import journal
from vendorwall.access import devices, grants, policy
from vendorwall.devices import agents

AHEAD = 3 * 3600.0
APPROVER = "pacs.admin@chu-exemple.example"


class SkewedFirewall:
    """The nft_state and anchor agents of a firewall whose clock runs AHEAD seconds fast."""

    def __init__(self) -> None:
        self.sets: dict[str, list] = {s: [] for s in grants.GRANT_SETS}

    def __call__(self, t, name, request, **_kw):
        now = time.time() + AHEAD
        if name == "anchor":
            return {"ok": True, "time": now}
        assert name == "nft_state" and request["op"] == "grants_open", request
        before = {k: list(v) for k, v in self.sets.items()}
        for e in request["elements"]:
            parts = [e["src"], e["dst"], *([e["port"]] if e["port"] is not None else [])]
            self.sets[e["set"]].append({"elem": {"val": {"concat": parts}, "timeout": request["timeout"],
                                                 "expires": request["timeout"], "comment": request["comment"]}})
        return {"ok": True, "rc": 0, "before": before, "after": self.sets, "t0": now - 0.01, "t1": now,
                "time": now}


@pytest.fixture()
def skewed(monkeypatch):
    fw = SkewedFirewall()
    monkeypatch.setattr(agents, "run_agent", fw)
    monkeypatch.delenv(journal.KEY_ENV, raising=False)
    return fw


def test_grant_expiry_journaled_in_controller_time(skewed, example_result, tmp_path):
    jpath = str(tmp_path / "access.jsonl")
    req = policy.Request("acme-imaging", "pacs-test-centre", "CHG-SKEW", "alice@chu-exemple.example", APPROVER,
                         "2h", False)
    t0 = time.time()
    out = grants.open_grant(example_result.model, req, devices.ConnOptions(), jpath,
                            today=dt.datetime.now(dt.UTC).date())
    t1 = time.time()
    print("\n".join(out.lines))
    assert out.exit == 0, out.lines
    expires = grants.parse_stamp(out.data["expires_at"])
    assert t0 + 7200 - 1 <= expires <= t1 + 7200 + 1, "the expiry carries the firewall's clock error"
    entry = journal.read(jpath)[-1]
    assert entry["event"] == "opened" and entry["expires_at"] == out.data["expires_at"]
    skew = [f["clock_skew_s"] for f in entry["firewalls"].values()]
    assert skew and all(abs(s - AHEAD) < 5 for s in skew)
    assert any("clock is 3.0 h ahead of the controller's" in ln for ln in out.lines)
