"""A scheduled window without an end date runs until the vendor's contract ends (docs/inventory.md), and
the firewall itself ends it then, as it ends a permanent access at its ``until``. On main the last
daylight-saving period of the window was open-ended (``meta time >= T``, no bound): the window kept
opening every week after the contract ended until somebody redeployed."""

from __future__ import annotations

import datetime as dt
import re

from vendorwall_testlib import NOW, add_systems, base_inventory, system, write_inventory

from vendorwall import pipeline


def test_a_window_without_until_ends_with_the_contract_on_the_firewall(tmp_path):
    inv = add_systems(base_inventory(1), [system("va-w", "va", "s0", "scheduled", ("https",), variant=0)])
    assert "until" not in inv["vendors"]["va"]["systems"][0]["access"]
    inv["vendors"]["va"]["contract"]["ends"] = "2027-08-31"
    root = write_inventory(inv, tmp_path / "inv")
    res = pipeline.run(str(root), NOW, check_lock=False)
    rules = [r for r in res.model.rules if r.system == "va-w" and r.kind == "vendor_access"]
    assert rules and {r.validity.until for r in rules} == {dt.date(2027, 8, 31)}
    end = int(dt.datetime(2027, 9, 1, tzinfo=dt.UTC).timestamp())
    text = res.configs["fw-s0"].text
    periods = [ln for ln in text.splitlines() if "meta day" in ln and "meta hour" in ln]
    assert periods, "no window rule rendered"
    for ln in periods:  # every period of the window is bounded, the last one by the contract's end
        bounds = [int(x) for x in re.findall(r"meta time < (\d+)", ln)]
        assert bounds and max(bounds) <= end, ln
    assert any(f"meta time < {end}" in ln for ln in periods)
