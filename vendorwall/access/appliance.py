"""On-demand grants on the firewall appliances (FortiOS, Stormshield, PAN-OS, ASA).

An nftables firewall holds a grant as timeout elements tagged with the grant id; an appliance holds the
on-demand window of a *system* (``vw-od-<system>``: a schedule, a time object, a tag registration with a
timeout, a time-range), opened for the grant's duration and closed by the device itself at the end.
So on an appliance a grant opens every on-demand rule of the system (all its entry paths and services,
as the inventory allows them), and the grant id lives in the access journal only: ``access open`` and
``access close`` reach the appliances through :mod:`vendorwall.devices.appliances`, one session per
firewall, on the same thread pool as the nftables agent; ``access list`` and ``reconcile`` read the
nftables firewalls only (an appliance's open window carries no grant id to match).
"""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Network
from typing import Any

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


def _run(tgts: list[Any], one: Any, workers: int) -> dict[str, dict[str, Any]]:
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
