"""Scheduled windows in the site's local time, across daylight-saving changes, with no reload.

The kernel compares ``meta hour`` and ``meta day`` in UTC. nft turns a window written as text
(``meta hour "08:00"-"12:00"``) into UTC with the offset of the moment it loads the rules, so after a
daylight-saving change the window was an hour off until the next deploy. Here a window is rendered in
UTC once per daylight-saving period of the site's time zone, each period bounded by absolute times
(``meta time >= START meta time < END``, epoch seconds) and the hours as numbers (seconds since UTC
midnight, which nft loads as they are, whatever the firewall's own time zone): the firewall switches
from one period's rule to the next at the very second of the change, by itself.

Periods cover the compile date to a horizon (two years, or the access's end date); before the first
change and after the last one the first and last periods are open-ended. A window that crosses UTC
midnight once converted is split in two. The kernel's ``meta day`` is UTC when the kernel's time zone
is UTC (``sys_tz``, the Linux default with the hardware clock in UTC).
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY = 86400
HORIZON_DAYS = 731
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Period:
    start: int | None  # epoch seconds, inclusive (None: since ever)
    end: int | None  # epoch seconds, exclusive (None: for ever)
    offset: int  # seconds east of UTC during the period


def zone(name: str) -> dt.tzinfo | None:
    """The IANA time zone ``name``; None when unknown (validation reports it)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _offset(tz: dt.tzinfo, t: int) -> int:
    off = dt.datetime.fromtimestamp(t, dt.UTC).astimezone(tz).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


@cache
def periods(tz_name: str, start: dt.date, end: dt.date | None = None) -> tuple[Period, ...]:
    """The daylight-saving periods of ``tz_name`` from ``start`` (UTC midnight) to ``end`` (the end of that day,
    default the horizon); the first one open towards the past, the last one towards the future unless ``end``."""
    tz = zone(tz_name)
    t0 = int(dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp())
    limit = t0 + HORIZON_DAYS * DAY
    if end is not None:
        limit = min(limit, int(dt.datetime(end.year, end.month, end.day, tzinfo=dt.UTC).timestamp()) + DAY)
    if tz is None:
        return (Period(None, None, 0),)
    changes: list[int] = []
    t, off = t0, _offset(tz, t0)
    while t < limit:  # daily scan, then bisection to the second
        nxt = min(t + DAY, limit)
        o2 = _offset(tz, nxt)
        if o2 != off:
            lo, hi = t, nxt
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset(tz, mid) == off:
                    lo = mid
                else:
                    hi = mid
            changes.append(hi)
            off = o2
        t = nxt
    bounds: list[int | None] = [None, *changes, None]
    out = []
    for a, b in itertools.pairwise(bounds):
        out.append(Period(a, b, _offset(tz, (a if a is not None else t0))))
    return tuple(out)


def _seconds(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 3600 + int(m) * 60


def utc_ranges(days: tuple[str, ...], start: str, end: str, offset: int) -> list[tuple[tuple[str, ...], int, int]]:
    """A local weekly window -> [(UTC days, first second, last second)], seconds since UTC midnight, both
    inclusive (nft's ``meta hour A-B``), split where it crosses UTC midnight, grouped by hours."""
    lo, hi = _seconds(start) - offset, _seconds(end) - offset
    pieces: dict[tuple[int, int], set[int]] = {}
    for d in days:
        di = DAYS.index(d)
        k = lo // DAY
        while k * DAY <= hi:
            a, b = max(lo, k * DAY) - k * DAY, min(hi, k * DAY + DAY - 1) - k * DAY
            pieces.setdefault((a, b), set()).add((di + k) % 7)
            k += 1
    return [(tuple(DAYS[i] for i in sorted(ds)), a, b) for (a, b), ds in sorted(pieces.items())]


def conditions(days: tuple[str, ...], start: str, end: str, tz_name: str, since: dt.date,
               until: dt.date | None) -> list[tuple[int | None, int | None, tuple[str, ...], int, int]]:
    """Every (period start, period end, UTC days, first second, last second) the window needs from ``since``
    on; ``until``: the access ends with that day (periods after it are dropped, the last one clipped)."""
    end_t = int(dt.datetime(until.year, until.month, until.day, tzinfo=dt.UTC).timestamp()) + DAY if until else None
    out = []
    for p in periods(tz_name, since, until):
        a, b = p.start, p.end
        if end_t is not None:
            if a is not None and a >= end_t:
                continue
            b = end_t if b is None else min(b, end_t)
        for ds, s, e in utc_ranges(days, start, end, p.offset):
            out.append((a, b, ds, s, e))
    return out
