"""Scheduled windows follow the site's local time across daylight-saving changes (render in UTC per period).

Units: the periods of Europe/Paris, a window crossing UTC midnight once converted, the rendered rules.
Lab (marked lab): a fake time zone whose daylight-saving change falls a minute after the deploy; the
window, open before the change, closes at the change with nothing reloaded (main: nft converted the
window's hours once, at load time, so it stayed an hour off until the next deploy)."""

from __future__ import annotations

import datetime as dt
import os
import struct
import time
import zoneinfo
from pathlib import Path

import pytest
from vendorwall_testlib import NOW, add_systems, base_inventory, nft_chain, system, write_inventory

from vendorwall import inventory, pipeline, validate
from vendorwall.render import windows


def test_periods_of_paris():
    ps = windows.periods("Europe/Paris", dt.date(2026, 11, 28))
    assert ps[0].start is None and ps[0].offset == 3600
    assert ps[0].end == int(dt.datetime(2027, 3, 28, 1, 0, tzinfo=dt.UTC).timestamp())
    assert ps[1].offset == 7200 and ps[1].end == int(dt.datetime(2027, 10, 31, 1, 0, tzinfo=dt.UTC).timestamp())
    assert ps[-1].end is None and len(ps) == 5  # two years: four changes
    assert windows.periods("UTC", dt.date(2026, 11, 28)) == (windows.Period(None, None, 0),)


def test_a_window_crossing_utc_midnight_is_split():
    assert windows.utc_ranges(("mon",), "00:30", "02:00", 3600) == [(("mon",), 0, 3600), (("sun",), 84600, 86399)]
    assert windows.utc_ranges(("tue", "thu"), "08:00", "12:00", 7200) == [(("tue", "thu"), 21600, 36000)]
    assert windows.utc_ranges(("sun",), "22:00", "23:30", -3600 * 3) == [(("mon",), 3600, 9000)]


def test_rendered_window_switches_at_the_change(tmp_path):
    inv = add_systems(base_inventory(1), [system("va-w", "va", "s0", "scheduled", ("https",), variant=0)])
    root = write_inventory(inv, tmp_path / "inv")
    res = pipeline.run(str(root), NOW, check_lock=False)
    text = res.configs["fw-s0"].text
    chain = nft_chain(text, "vendorwall", "every_set")
    marks = [r for r in chain if "@window_tue_thu_0800_1200_until_20281231_tcp" in r and "meta mark set" in r]
    change = int(dt.datetime(2027, 3, 28, 1, 0, tzinfo=dt.UTC).timestamp())
    assert any(f"meta time < {change} " in r and "meta hour 25200-39600" in r for r in marks)  # 08-12 at UTC+1
    assert any(f"meta time >= {change} " in r and "meta hour 21600-36000" in r for r in marks)  # 08-12 at UTC+2
    assert not any('meta hour "' in r for r in chain)  # never a local time for nft to convert at load
    inside = chain.index(marks[0])
    outside = next(i for i, r in enumerate(chain)
                   if "@window_tue_thu_0800_1200_until_20281231_tcp" in r and r.endswith("drop"))
    assert inside < outside < chain.index("ct state established,related accept")
    # the connection class of the window (established packets): the same periods, then out of time
    cls = nft_chain(text, "vendorwall", "class_window_tue_thu_0800_1200_until_20281231")
    opens = [r for r in cls if r.endswith("goto open")]
    assert any(f"meta time < {change} " in r and "meta hour 25200-39600" in r for r in opens)
    assert any(f"meta time >= {change} " in r and "meta hour 21600-36000" in r for r in opens)
    assert cls[-1].endswith('prefix "vw-out-of-time" drop')


def test_unknown_time_zone_is_refused(tmp_path):
    inv = add_systems(base_inventory(1), [system("va-w", "va", "s0", "scheduled", ("https",))])
    inv["policy"]["timezone"] = "Europe/Pariss"
    inv["sites"]["s0"]["timezone"] = "Mars/Olympus"
    root = write_inventory(inv, tmp_path / "inv")
    loaded, diags, _ = inventory.load(str(root))
    text = "\n".join(d.render() for d in diags + validate.check(loaded, NOW))
    assert "unknown time zone 'Europe/Pariss'" in text and "unknown time zone 'Mars/Olympus'" in text


# --------------------------------------------------------------------------- lab: a simulated DST boundary


def tzif(path: Path, change: int, std: int = 0, dst: int = 3600) -> None:
    """A TZif (version 1) file: offset ``std`` until ``change`` (epoch seconds), then ``dst``."""
    chars = b"LST\x00LDT\x00"
    header = b"TZif" + b"\x00" + b"\x00" * 15 + struct.pack(">6l", 0, 0, 0, 1, 2, len(chars))
    data = struct.pack(">l", change) + bytes([1]) + struct.pack(">lBB", std, 0, 0) + struct.pack(">lBB", dst, 1, 4)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + data + chars)


@pytest.mark.lab
def test_lab_window_closes_at_a_simulated_dst_change_without_reload(tmp_path):
    import labsupport

    from vendorwall.lab import netns, runner

    reason = labsupport.lab_available()
    if reason:
        pytest.skip(reason)
    now = time.time()
    utc = dt.datetime.fromtimestamp(now, dt.UTC)
    secs = utc.hour * 3600 + utc.minute * 60
    if not 3600 <= secs <= 86400 - 3 * 3600:
        pytest.skip("too close to UTC midnight for a same-day window")
    change = int(now) + 75
    name = f"Lab/Dst{os.getpid()}"
    tzdir = tmp_path / "zoneinfo"
    tzif(tzdir / name, change)
    zoneinfo.reset_tzpath(to=[str(tzdir), *zoneinfo.TZPATH])
    zoneinfo.ZoneInfo.clear_cache()
    try:
        # local time = UTC until the change, UTC+1 after it; the window: 30 min ago .. 30 min after the change
        start = dt.datetime.fromtimestamp(now - 1800, dt.UTC).strftime("%H:%M")
        end = dt.datetime.fromtimestamp(change + 1800, dt.UTC).strftime("%H:%M")
        day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[utc.weekday()]
        inv = base_inventory(1)
        hosts = inv["hosts"]["all"]["children"]
        hosts.pop("switches")
        hosts["site_s0"]["hosts"].pop("sw-s0-1")
        inv["sites"]["s0"]["switches"] = []
        inv["policy"]["timezone"] = name
        sysd = system("va-w", "va", "s0", "scheduled", ("https",))
        sysd[1]["access"]["window"] = {"days": [day], "start": start, "end": end}
        sysd[1]["access"].pop("until", None)
        root = write_inventory(add_systems(inv, [sysd]), tmp_path / "inv")
        lab_id = "dst" + format(os.getpid() % 4096, "03x")
        lab_dir = str(tmp_path / "lab")
        try:
            state = runner.up(str(root), lab_dir=lab_dir, lab_id=lab_id, now=utc.date())
            assert [str(r.error) for r in runner.deploy(state, confirm_s=60) if r.error] == []
            model = pipeline.run(str(root), utc.date(), check_lock=False, do_render=False).model
            dst = next(str(a) for seg in model.segments for n, ads in seg.hosts.items() if n == "va-w" for a in ads)
            src_ns, src = state.places["10.200.0.0/27"]

            def connects() -> bool:
                s = netns.socket_in(src_ns)
                s.settimeout(0.5)
                try:
                    s.bind((src, 0))
                    s.connect((dst, 443))
                    return s.recv(64).startswith(b"vw ")
                except OSError:
                    return False
                finally:
                    s.close()

            assert time.time() < change - 2, "lab up and deploy took longer than the margin"
            assert connects(), "the window should be open before the change (local = UTC)"
            while time.time() < change + 1:
                time.sleep(0.2)
            assert not connects(), "the window stayed open after the change: it did not follow the local time"
        finally:
            runner.down(lab_dir, f"vw{lab_id}-")
            assert not [n for n in netns.list_netns() if n.startswith(f"vw{lab_id}-")]
    finally:
        zoneinfo.reset_tzpath()
        zoneinfo.ZoneInfo.clear_cache()
        windows.periods.cache_clear()
