"""Isolation on the firewall appliances (FortiOS, Stormshield, PAN-OS, ASA): the same plan, the same report.

:func:`run_device` is what :func:`vendorwall.isolate.run.run_device` calls for a firewall whose platform
has a driver (:mod:`vendorwall.devices.appliances`): the plan's elements go into the device's quarantine
(isolate), come out of it (restore), or are only compared with it (check), in one session, and the
answer fills the same :class:`~vendorwall.isolate.run.DeviceResult` as the nftables agent's: added,
already, missing, removed, would add / would remove, the vendors the live quarantine names. Entry paths'
live sessions are cleared after an isolation; segments are not (their must-keep flows sit above the
quarantine on every platform, and a session clear by address would cut them).

A restore lifts the planned prefixes, and every element whose comment names one of the vendors
(FortiOS and Stormshield keep ``vw-isolate <vendor> <kind> <name>`` on each element; PAN-OS
registrations and ASA network-objects carry none, so there the planned prefixes only).
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Any

from ..devices import appliances
from ..devices.target import Target
from .actions import COMMENT_PREFIX, Plan


def _value(n: IPv4Network) -> str:
    return str(n.network_address) if n.prefixlen == 32 else str(n)


def comment(e: Any) -> str:
    return f"{COMMENT_PREFIX} {e.vendor} {e.kind} {e.name}"


def _vendor(c: str) -> str:
    w = c.split()
    return w[1] if len(w) >= 2 and w[0] == COMMENT_PREFIX else ""


def _covered(n: IPv4Network, live: dict[IPv4Network, str]) -> bool:
    return any(n == x or n.subnet_of(x) for x in live)


def run_device(t: Target, p: Plan, res: Any) -> Any:
    """Fill ``res`` (a DeviceResult) for appliance ``t``."""
    isolate = p.action == "isolate"
    add = [(e.prefix, comment(e)) for e in p.elements] if isolate else []
    remove = [] if isolate else [e.prefix for e in p.elements]
    clear = [e.prefix for e in p.elements if e.kind == "entry"] if isolate else []
    if not isolate and p.vendors and t.platform in ("fortios", "stormshield"):
        # tagged with the vendor: lifted too (a manifest that changed since the isolation)
        probe = appliances.quarantine(t, [], [], [], check=True)
        if probe.ok and probe.before is not None:
            remove += [n for n, c in probe.before.items() if _vendor(c) in p.vendors and n not in remove]
    q = appliances.quarantine(t, add, remove, clear, check=p.check)
    res.notes += q.notes
    if not q.ok or q.after is None:
        res.status, res.error_kind, res.error = "failed", q.error_kind or "failed", q.error or "no state read back"
        return res
    before, after = q.before or {}, q.after
    res.isolated_vendors = sorted({_vendor(c) for c in after.values() if _vendor(c)})
    if p.check:
        res.status = "checked"
        for e in p.elements:
            if isolate:
                (res.already if _covered(e.prefix, before) else res.would_add).append(e.value)
            elif e.prefix in before:
                res.would_remove.append(e.value)
        res.notes.append(f"{t.platform}: would send {len(q.commands)} command(s)")
        return res
    if isolate:
        for e in p.elements:
            if not _covered(e.prefix, after):
                res.missing.append(e.value)
            elif _covered(e.prefix, before):
                res.already.append(e.value)
            else:
                res.added.append(e.value)
        res.changed = bool(res.added)
        if any(e.kind == "segment" for e in p.elements):
            res.notes.append("segments quarantined; their live sessions are not cleared (must-keep flows), the "
                             "quarantine rules stop their new connections and, where the platform re-checks "
                             "sessions, the established ones")
        if res.missing:
            res.status, res.error_kind = "failed", "verify"
            res.error = f"not in the quarantine after the change: {', '.join(res.missing)}"
        else:
            res.status = "isolated"
        return res
    res.removed = [_value(n) for n in sorted(set(remove), key=lambda n: (int(n.network_address), n.prefixlen))
                   if n in before and n not in after]
    res.missing = [_value(n) for n in sorted(set(remove), key=lambda n: (int(n.network_address), n.prefixlen))
                   if n in after]
    res.changed = bool(res.removed)
    if res.missing:
        res.status, res.error_kind = "failed", "verify"
        res.error = f"still quarantined after the restore: {', '.join(res.missing)}"
    else:
        res.status = "restored"
    return res
