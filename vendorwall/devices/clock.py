"""Device clocks: every agent answer carries the device's time, so each contact measures the skew between
the device and the controller. Journeys journal it, warn above :data:`WARN_S`, and convert times the
device decides (a grant's expiry runs on the firewall's clock) to the controller's before journaling."""

from __future__ import annotations

WARN_S = 60.0


def skew(device_time: float | None, before: float, after: float) -> float | None:
    """Device clock minus controller clock, in seconds: the device's time taken during a round trip that
    ran from ``before`` to ``after`` (controller ``time.time()``), compared with the middle of it (error
    at most half the round trip)."""
    if not isinstance(device_time, int | float) or isinstance(device_time, bool):
        return None
    return round(float(device_time) - (before + after) / 2, 3)


def warning(device: str, s: float | None) -> str:
    """A report line when ``device``'s clock is off by more than :data:`WARN_S` ("" otherwise)."""
    if s is None or abs(s) <= WARN_S:
        return ""
    return (f"WARNING {device}: its clock is {_human(abs(s))} {'ahead of' if s > 0 else 'behind'} the controller's "
            "(times it reports are corrected in the journal; fix its NTP)")


def _human(s: float) -> str:
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 60:
        return f"{s / 60:.0f} min"
    return f"{s:.0f} s"
