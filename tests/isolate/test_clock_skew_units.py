"""Each isolation contact measures the firewall's clock skew (its change time against the answer's
arrival): journaled with the device's result, a warning beside its line above 60 s."""

from __future__ import annotations

import time

from vendorwall.isolate import run


def test_skew_journaled_and_warned():
    now = time.time()
    res = run.DeviceResult("fw-nord", "nftables", "10.250.1.1", status="isolated", device_t0=now + 10799.9,
                           device_t1=now + 10800.0, done_at=now, seconds=0.2)
    assert abs(res.to_data()["clock_skew_s"] - 10800.0) < 0.01
    line = run.device_line(res, "isolate")
    assert "WARNING fw-nord: its clock is 3.0 h ahead of the controller's" in line
    ok = run.DeviceResult("fw-sud", "nftables", "10.250.2.1", status="isolated", device_t1=now + 0.05, done_at=now)
    assert abs(ok.to_data()["clock_skew_s"]) < 1 and "WARNING" not in run.device_line(ok, "isolate")
