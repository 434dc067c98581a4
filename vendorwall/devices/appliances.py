"""One face for the firewall appliances' drivers (FortiOS, Stormshield, PAN-OS, ASA): quarantine and grants.

The journeys (``vendorwall isolate/restore``, ``vendorwall access open/close``) call :func:`quarantine`,
:func:`grant_open` and :func:`grant_close` with platform-neutral data (prefixes and their comments, a
system's addresses, a window); each call is ONE session (or, on PAN-OS, a few API calls) with the device,
typed errors caught into the result, never raised:

=============  =============================================  ===============================================
platform       quarantine                                     on-demand grant
=============  =============================================  ===============================================
fortios        vw-q-* addresses in vw-quarantine (transaction) schedule vw-od-<system> start/end
stormshield    vw-q-* objects in vw-quarantine (activation)    time object vw-od-<system> date range
panos          tag registration vw-quarantine (no commit)      tag registration vw-od-<system> with a timeout
asa            network-objects of vw-quarantine               time-range vw-od-<system> absolute start/end
=============  =============================================  ===============================================

Live sessions of the entry paths are cleared after a quarantine (each platform's way, up to a /24 where
it goes host by host); segments are not, because that would cut their must-keep flows (the must-keep
rules sit above the quarantine's denies on every platform).

``SESSIONS`` lets a caller (tests, a lab) give the session factory a platform's driver uses; by default
each driver opens its real transport.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import Any

from .target import Target

PLATFORMS = ("asa", "fortios", "panos", "stormshield")
SESSIONS: dict[str, Callable[[Target], Any]] = {}  # platform -> session factory (tests); default: the real one


def supported(platform: str) -> bool:
    return platform in PLATFORMS


@dataclass
class Quarantined:
    device: str
    platform: str
    ok: bool = False
    before: dict[IPv4Network, str] | None = None  # prefix -> comment ("" where the platform keeps none)
    after: dict[IPv4Network, str] | None = None
    commands: list[str] = field(default_factory=list)
    error: str = ""
    error_kind: str = ""
    notes: list[str] = field(default_factory=list)


def _kw(t: Target) -> dict[str, Any]:
    f = SESSIONS.get(t.platform)
    return {"session_factory": f} if f is not None else {}


def _tz(platform: str) -> str:
    from ..platforms import registry

    return str(registry.get(platform).defaults.get("timezone", "UTC"))


def _limit(platform: str) -> int:
    from ..platforms import registry

    return int(registry.get(platform).defaults.get("flush_max_prefix", 24))


def quarantine(t: Target, add: list[tuple[IPv4Network, str]], remove: list[IPv4Network],
               clear: list[IPv4Network], *, check: bool = False) -> Quarantined:
    """Put ``add`` (prefix, comment) into the device's quarantine, take ``remove`` out, then clear the
    live sessions of ``clear`` (entry paths); idempotent: only what is missing is added, only what is
    there is removed (computed from the state read in the same session)."""
    res = Quarantined(t.device, t.platform)
    if t.platform == "fortios":
        from . import fortios as d

        def build(st: Any) -> list[str]:
            return d.quarantine_commands([d.QElement(n, c) for n, c in add if n not in st.quarantine],
                                         [n for n in remove if n in st.quarantine])

        o = d.run(t, build, clear=d.clear_sessions_commands([(n, None) for n in clear]) if clear else [],
                  check=check, **_kw(t))
        res.ok, res.error, res.error_kind, res.commands = o.ok, o.error, o.error_kind, o.commands
        res.before = dict(o.before.quarantine) if o.before else None
        res.after = dict(o.state.quarantine) if o.state else None
        if clear:
            res.notes.append("entry-path sessions cleared (diagnose sys session filter/clear)")
    elif t.platform == "stormshield":
        from . import stormshield as s

        so = s.run(t, lambda st: s.quarantine_commands(st, [s.QElement(n, c) for n, c in add], remove),
                   flush=clear, check=check, max_prefix=_limit("stormshield"), **_kw(t))
        res.ok, res.error, res.error_kind, res.commands = so.ok, so.error, so.error_kind, so.commands
        res.before = dict(so.before.quarantine) if so.before else None
        res.after = dict(so.state.quarantine) if so.state else None
        if so.not_flushed:
            res.notes.append("not flushed (wider than /{}): {}".format(
                _limit("stormshield"), ", ".join(str(n) for n in so.not_flushed)))
    elif t.platform == "panos":
        from . import panos as p

        def message(st: Any) -> str:
            new = [n for n, _c in add if n not in st.quarantine]
            gone = [n for n in remove if n in st.quarantine]
            return p.quarantine_message(new) if new else (p.release_message(gone) if gone else "")

        po = p.run(t, message, clear=clear, check=check, **_kw(t))
        res.ok, res.error, res.error_kind, res.commands = po.ok, po.error, po.error_kind, po.calls
        res.before = {n: "" for n in po.before.quarantine} if po.before else None
        res.after = {n: "" for n in po.state.quarantine} if po.state else None
        if po.not_cleared:
            res.notes.append("sessions not cleared (wider than /24): " + ", ".join(str(n) for n in po.not_cleared))
    elif t.platform == "asa":
        from . import asa as a

        ao = a.run(t, lambda st: a.quarantine_commands(st, [n for n, _c in add], remove),
                   clear=[(n, None) for n in clear], check=check, max_prefix=_limit("asa"), **_kw(t))
        res.ok, res.error, res.error_kind, res.commands = ao.ok, ao.error, ao.error_kind, ao.commands
        res.before = {n: "" for n in ao.before.quarantine} if ao.before else None
        res.after = {n: "" for n in ao.state.quarantine} if ao.state else None
        if ao.not_cleared:
            res.notes.append("connections not cleared (wider than /24): " + ", ".join(str(n) for n in ao.not_cleared))
    else:
        res.error, res.error_kind = f"platform {t.platform}: no appliance driver", "unsupported"
    return res


@dataclass
class Granted:
    device: str
    platform: str
    ok: bool = False
    window: str = ""  # what the device holds afterwards (its own words)
    commands: list[str] = field(default_factory=list)
    error: str = ""
    error_kind: str = ""


def grant_open(t: Target, system: str, addresses: list[IPv4Network], start: dt.datetime,
               end: dt.datetime) -> Granted:
    """Open ``system``'s on-demand window from ``start`` to ``end`` (aware datetimes): the device closes it."""
    return _grant(t, system, addresses, (start, end), [])


def grant_close(t: Target, system: str, addresses: list[IPv4Network], entry: list[IPv4Network]) -> Granted:
    """Close ``system``'s window now; the live sessions from ``entry`` to the system are cleared where the
    platform can (FortiOS, ASA; Stormshield flushes the entry hosts; PAN-OS unregisters only)."""
    return _grant(t, system, addresses, None, entry)


def _grant(t: Target, system: str, addresses: list[IPv4Network], window: tuple[dt.datetime, dt.datetime] | None,
           entry: list[IPv4Network]) -> Granted:
    g = Granted(t.device, t.platform)
    try:
        if t.platform == "fortios":
            from . import fortios as d

            cmds = d.grant_open_commands(system, *window, _tz("fortios")) if window else d.grant_close_commands(system)
            clear = d.clear_sessions_commands([(n, a) for n in entry for a in addresses]) if entry else []
            o = d.run(t, cmds, clear=clear, **_kw(t))
            g.ok, g.error, g.error_kind, g.commands = o.ok, o.error, o.error_kind, o.commands
            name = d.od_schedule(system)
            g.window = " ".join(o.state.grants.get(name) or ("closed",)) if o.state else ""
        elif t.platform == "stormshield":
            from . import stormshield as s

            cmds = s.grant_open_commands(system, *window, _tz("stormshield")) if window else \
                s.grant_close_commands(system)
            so = s.run(t, cmds, flush=entry, max_prefix=_limit("stormshield"), **_kw(t))
            g.ok, g.error, g.error_kind, g.commands = so.ok, so.error, so.error_kind, so.commands
            g.window = next((v for k, v in (so.state.grants.items() if so.state else []) if k.endswith(system)),
                            "closed")
        elif t.platform == "panos":
            from . import panos as p

            msg = p.grant_open_message(system, addresses, *window) if window else \
                p.grant_close_message(system, addresses)
            po = p.run(t, msg, **_kw(t))
            g.ok, g.error, g.error_kind, g.commands = po.ok, po.error, po.error_kind, po.calls
            g.window = " ".join(str(n) for n in (po.state.grants.get(f"vw-od-{system}", []) if po.state else [])) \
                or "closed"
        elif t.platform == "asa":
            from . import asa as a

            cmds = a.grant_open_commands(system, *window, _tz("asa")) if window else a.grant_close_commands(system)
            ao = a.run(t, cmds, clear=[(n, x) for n in entry for x in addresses], max_prefix=_limit("asa"), **_kw(t))
            g.ok, g.error, g.error_kind, g.commands = ao.ok, ao.error, ao.error_kind, ao.commands
            g.window = next((v for k, v in (ao.state.grants.items() if ao.state else []) if k.endswith(system)),
                            "closed")
        else:
            g.error, g.error_kind = f"platform {t.platform}: no appliance driver", "unsupported"
    except ValueError as exc:  # a window the driver refuses (end before start)
        g.error, g.error_kind = str(exc), "invalid"
    return g
