"""On-demand grants on the firewall appliances (FortiOS, Stormshield, PAN-OS, ASA).

An nftables firewall holds a grant as timeout elements tagged with the grant id; an appliance holds the
on-demand window of a *system* (``vw-od-<system>``: a schedule, a time object, a tag registration with a
timeout, a time-range), opened for the grant's duration and closed by the device itself at the end.
So on an appliance a grant opens every on-demand rule of the system (all its entry paths and services,
as the inventory allows them), and the grant id lives in the access journal only: ``access open`` and
``access close`` reach the appliances through :mod:`vendorwall.devices.appliances`, one session per
firewall, on the same thread pool as the nftables agent.

``access list`` and ``reconcile`` read the appliances' windows too (:func:`read_windows`: the drivers'
state read, nothing changed): a window open on the device now (its end, in the device's time zone, still
ahead; on PAN-OS, a registration its timeout has not dropped) is attributed to the journal's open grants
of that system on that firewall whose journaled expiry is ahead; an open window no such grant claims is
listed as not in the journal. A firewall whose window cannot be read is reported as such (and
``reconcile`` then journals nothing), never omitted.
"""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import Any
from zoneinfo import ZoneInfo

from ..compile import expand
from ..devices import appliances
from ..model import Model


def firewalls(model: Model, names: list[str]) -> list[str]:
    devs = model.inventory.devices
    return sorted(n for n in names if n in devs and appliances.supported(devs[n].platform))


def _nets(model: Model, system: str, fw: str) -> tuple[list[IPv4Network], list[IPv4Network]]:
    """(the system's addresses, its entry-path prefixes) in the vendor-access rules through ``fw``."""
    dst: set[IPv4Network] = set()
    src: set[IPv4Network] = set()
    for r in model.rules:
        if r.kind == "vendor_access" and r.system == system and fw in r.firewalls:
            for s, d, _proto, _port in expand(r):
                src.add(s)
                dst.add(d)
    key = lambda n: (int(n.network_address), n.prefixlen)  # noqa: E731
    return sorted(dst, key=key), sorted(src, key=key)


def _stamp(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _run(tgts: list[Any], one: Any, workers: int) -> dict[str, Any]:
    if not tgts:
        return {}
    with ThreadPoolExecutor(max(1, min(workers, len(tgts)))) as pool:
        return dict(zip([t.device for t in tgts], pool.map(one, tgts), strict=True))


def open_windows(model: Model, system: str, tgts: list[Any], seconds: int, workers: int = 16) -> dict[str, dict[str,
                                                                                                               Any]]:
    """Open ``system``'s on-demand window on each appliance target for ``seconds``: fw -> journal record."""
    def one(t: Any) -> dict[str, Any]:
        t0 = time.monotonic()
        addrs, _entry = _nets(model, system, t.device)
        start = dt.datetime.now(dt.UTC)
        g = appliances.grant_open(t, system, addrs, start, start + dt.timedelta(seconds=seconds))
        if not g.ok:
            return {"result": "failed", "error": g.error, "error_kind": g.error_kind, "platform": t.platform}
        return {"result": "opened", "elements": len(addrs), "platform": t.platform, "window": g.window,
                "device_change_at": _stamp(time.time()), "seconds": round(time.monotonic() - t0, 3)}

    return _run(tgts, one, workers)


def close_windows(model: Model, system: str, tgts: list[Any], workers: int = 16) -> dict[str, dict[str, Any]]:
    """Close ``system``'s window on each appliance target now (and clear its entry paths' sessions where
    the platform can): fw -> journal record."""
    def one(t: Any) -> dict[str, Any]:
        addrs, entry = _nets(model, system, t.device)
        g = appliances.grant_close(t, system, addrs, entry)
        if not g.ok:
            return {"result": "failed", "error": g.error, "error_kind": g.error_kind, "platform": t.platform}
        return {"result": "closed", "elements": len(addrs), "platform": t.platform, "window": g.window,
                "device_change_at": _stamp(time.time())}

    return _run(tgts, one, workers)


# --------------------------------------------------------------------------- live windows (access list, reconcile)


@dataclass
class Window:
    name: str  # vw-od-<system>, as the platform names it
    text: str  # the device's own words
    end: dt.datetime | None  # aware; None where the device does not say (PAN-OS: a timeout it keeps)


@dataclass
class Windows:
    device: str
    platform: str
    open: dict[str, Window] | None = None  # the windows open now; None: not read
    error: str = ""
    error_kind: str = ""
    seconds: float = 0.0


def window_name(platform: str, system: str) -> str:
    """``system``'s on-demand window as ``platform``'s driver names it."""
    from ..render.firewall_policy import od_name
    from ..render.fortios import od_schedule

    return od_schedule(system) if platform == "fortios" else od_name(system, 64 if platform == "asa" else 63)


def _tz(platform: str) -> ZoneInfo:
    from ..platforms import registry

    return ZoneInfo(str(registry.get(platform).defaults.get("timezone", "UTC")))


def window_end(platform: str, text: str) -> dt.datetime | None:
    """The end of a window in the device's words (FortiOS ``HH:MM YYYY/MM/DD``, Stormshield
    ``yyyy:mm:dd:hh:mm-yyyy:mm:dd:hh:mm``, ASA ``absolute start ... end HH:MM DD Month YYYY``), as an aware
    datetime in the platform's time zone; None when it cannot be read (then the window counts as open)."""
    try:
        if platform == "fortios":
            end = dt.datetime.strptime(text, "%H:%M %Y/%m/%d")
        elif platform == "stormshield":
            end = dt.datetime.strptime(text.rsplit("-", 1)[1], "%Y:%m:%d:%H:%M")
        elif platform == "asa":
            end = dt.datetime.strptime(text.rsplit(" end ", 1)[1], "%H:%M %d %B %Y")
        else:
            return None
    except (ValueError, IndexError):
        return None
    return end.replace(tzinfo=_tz(platform))


def _windows(t: Any, now: dt.datetime) -> Windows:
    t0 = time.monotonic()
    w = Windows(t.device, t.platform)
    factory = appliances.SESSIONS.get(t.platform)
    kw: dict[str, Any] = {"session_factory": factory} if factory is not None else {}
    found: dict[str, tuple[str, dt.datetime | None]] = {}
    if t.platform == "fortios":
        from ..devices import fortios as d

        o = d.run(t, [], check=True, **kw)
        ok, err, kind = o.ok and o.state is not None, o.error, o.error_kind
        found = {n: (f"{a} - {b}", window_end("fortios", b))
                 for n, (a, b) in (o.state.grants if o.state else {}).items()}
    elif t.platform == "stormshield":
        from ..devices import stormshield as s

        so = s.run(t, [], check=True, **kw)
        ok, err, kind = so.ok and so.state is not None, so.error, so.error_kind
        found = {n: (v, window_end("stormshield", v)) for n, v in (so.state.grants if so.state else {}).items()}
    elif t.platform == "panos":
        from ..devices import panos as p

        po = p.run(t, "", check=True, **kw)
        ok, err, kind = po.ok and po.state is not None, po.error, po.error_kind
        found = {n: ("registered: " + ", ".join(str(x) for x in nets), None)
                 for n, nets in (po.state.grants if po.state else {}).items()}
    elif t.platform == "asa":
        from ..devices import asa as a

        ao = a.run(t, [], check=True, **kw)
        ok, err, kind = ao.ok and ao.state is not None, ao.error, ao.error_kind
        found = {n: (v, window_end("asa", v)) for n, v in (ao.state.grants if ao.state else {}).items()}
    else:
        ok, err, kind = False, f"platform {t.platform}: no appliance driver, its grants cannot be listed", "unsupported"
    w.seconds = round(time.monotonic() - t0, 3)
    if not ok:
        w.error, w.error_kind = err or "no state read back", kind or "failed"
        return w
    w.open = {n: Window(n, text, end) for n, (text, end) in sorted(found.items()) if end is None or end > now}
    return w


def read_windows(tgts: list[Any], workers: int = 16, now: dt.datetime | None = None) -> dict[str, Windows]:
    """The on-demand windows open now on each appliance target (one state read each, nothing changed)."""
    at = now or dt.datetime.now(dt.UTC)
    return _run(tgts, lambda t: _windows(t, at), workers)


@dataclass
class Claimed:
    """What the appliances hold of the journal's open grants."""

    grants: dict[str, list[tuple[str, Window]]] = field(default_factory=dict)  # gid -> [(firewall, window)]
    unclaimed: list[tuple[str, Window]] = field(default_factory=list)  # open windows no open grant explains


def claim(wins: dict[str, Windows], open_grants: dict[str, dict[str, Any]], now: float) -> Claimed:
    """Attribute each open window to the journal's open grants (gid -> their ``opened`` entry) of that
    system on that firewall whose journaled expiry is still ahead."""
    out = Claimed()
    taken: set[tuple[str, str]] = set()
    for gid, op in sorted(open_grants.items()):
        try:
            left = dt.datetime.fromisoformat(str(op.get("expires_at", "")).replace("Z", "+00:00")).timestamp() - now
        except ValueError:
            continue
        for fw, r in sorted((op.get("firewalls") or {}).items()):
            w = wins.get(fw)
            if not (isinstance(r, dict) and r.get("window") and r.get("result") == "opened") or w is None or \
                    w.open is None:
                continue
            name = window_name(w.platform, str(op.get("system", "")))
            if name in w.open and left > 0:
                out.grants.setdefault(gid, []).append((fw, w.open[name]))
                taken.add((fw, name))
    for fw, w in sorted(wins.items()):
        out.unclaimed += [(fw, x) for n, x in (w.open or {}).items() if (fw, n) not in taken]
    return out
