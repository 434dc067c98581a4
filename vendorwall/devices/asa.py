"""Cisco ASA driver for isolation and on-demand grants: planning functions + one session per operation.

The rendered configuration (``vendorwall.render.asa``) holds what these operations fill in:

- ``object-group network vw-quarantine``: referenced by deny ACEs above every permit but the must-keep
  flows. **quarantine** adds a ``network-object`` per prefix, **release** removes them; the placeholder
  ``host 0.0.0.0`` stays, so the group is never empty. The change applies at once (no commit).
- ``time-range vw-od-<system>``: a closed window per on-demand system, used by its permit ACEs.
  **grant_open** sets ``absolute start ... end ...`` (the ASA's local time, minute precision, the end
  rounded up), **grant_close** closes it again. At the end the ASA stops matching the ACEs itself, but a
  time-range does not tear established connections down: closing a grant early clears them.

Each operation is ONE session: the state (``show running-config object-group`` / ``time-range``), the
configuration commands computed from it (nothing added twice, nothing missing removed), then the
connection clearing (``clear conn address <net> netmask <mask>`` for each entry path up to
``flush_max_prefix``; never a ``clear conn`` without an address), then the state read back. A rejected
command stops the sequence before any clearing. A shun is not used: it takes host addresses only and
would block the must-keep flows of a quarantined segment too.

Pure functions (``*_commands``, :func:`parse_state`) are tested with recorded output; :func:`run` talks
to the ASA. Never run against a real ASA: see docs/platforms.md.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Network, ip_network
from typing import Any
from zoneinfo import ZoneInfo

from ..deploy.session import Session
from ..render.asa import CLOSED, network_object, when
from ..render.asa_cli import parse
from ..render.firewall_policy import QUARANTINE, od_name
from .errors import DeployError
from .target import Target

SHOW_STATE = ("show running-config object-group", "show running-config time-range")


@dataclass
class State:
    quarantine: list[IPv4Network] = field(default_factory=list)
    grants: dict[str, str] = field(default_factory=dict)  # open vw-od-* time-range -> its absolute line
    closed: list[str] = field(default_factory=list)


def parse_state(text: str) -> State:
    cfg = parse(text)
    st = State()
    lines = cfg.blocks.get(f"object-group network {QUARANTINE}", [])
    for x in lines:
        w = x.split()
        if w[0] != "network-object" or w[1:3] == ["host", "0.0.0.0"]:
            continue
        tok = w[1:]
        net = ip_network(tok[1]) if tok[0] == "host" else ip_network(
            tok[0] if "/" in tok[0] else f"{tok[0]}/{tok[1]}", strict=False)
        st.quarantine.append(net)  # type: ignore[arg-type]
    for name, body in cfg.time_ranges().items():
        if name.startswith("vw-od-"):
            absolute = next((x for x in body if x.startswith("absolute ")), "")
            if absolute == CLOSED:
                st.closed.append(name)
            else:
                st.grants[name] = absolute
    return st


def quarantine_commands(state: State, add: list[IPv4Network], remove: list[IPv4Network] = ()) -> list[str]:  # type: ignore[assignment]
    sub = [f" {network_object(n)}" for n in sorted(set(add), key=lambda n: (int(n.network_address), n.prefixlen))
           if n not in state.quarantine]
    sub += [f" no {network_object(n)}" for n in sorted(set(remove), key=lambda n: (int(n.network_address),
                                                                                   n.prefixlen))
            if n in state.quarantine]
    return [f"object-group network {QUARANTINE}", *sub] if sub else []


def clear_conn_commands(pairs: list[tuple[IPv4Network | None, IPv4Network | None]],
                        max_prefix: int = 24) -> tuple[list[str], list[IPv4Network]]:
    """``clear conn address`` per (source, destination) pair; a pair whose source is wider than
    ``/max_prefix`` is returned apart, never cleared without a filter."""
    cmds: list[str] = []
    wide: list[IPv4Network] = []
    for src, dst in pairs:
        if src is None and dst is None:
            raise ValueError("a clear conn without an address would clear every connection of the ASA")
        if src is not None and src.prefixlen < max_prefix:
            wide.append(src)
            continue
        parts = ["clear conn"]
        for n in (src, dst):
            if n is not None:
                parts.append(f"address {n.network_address}" + ("" if n.prefixlen == 32 else f" netmask {n.netmask}"))
        cmds.append(" ".join(parts))
    return cmds, wide


def grant_open_commands(system: str, start: dt.datetime, end: dt.datetime, tz: str) -> list[str]:
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise ValueError("grant window: aware datetimes with end after start")
    end = end.replace(second=0, microsecond=0) + (dt.timedelta(minutes=1) if end.second or end.microsecond
                                                  else dt.timedelta())
    local = ZoneInfo(tz)
    a = start.replace(second=0, microsecond=0).astimezone(local)
    b = end.astimezone(local)
    return [f"time-range {od_name(system, 64)}", " no absolute",
            f" absolute start {when(a.replace(tzinfo=None))} end {when(b.replace(tzinfo=None))}"]


def grant_close_commands(system: str) -> list[str]:
    return [f"time-range {od_name(system, 64)}", " no absolute", f" {CLOSED}"]


@dataclass
class Outcome:
    device: str
    ok: bool
    state: State | None = None
    error: str = ""
    error_kind: str = ""
    commands: list[str] = field(default_factory=list)
    not_cleared: list[IPv4Network] = field(default_factory=list)
    before: State | None = None  # the state the changes were computed from


Build = Callable[[State], list[str]]
SessionFactory = Callable[[Target], Any]


def read_state(s: Any) -> State:
    return parse_state("".join(s.show(c) + "\n" for c in SHOW_STATE))


def run(target: Target, changes: Build | list[str], *,
        clear: list[tuple[IPv4Network | None, IPv4Network | None]] = (),  # type: ignore[assignment]
        session_factory: SessionFactory = Session, check: bool = False, max_prefix: int = 24) -> Outcome:
    clears, wide = clear_conn_commands(list(clear), max_prefix)
    out = Outcome(target.device, False, not_cleared=wide)
    s = session_factory(target)
    try:
        s.open()
        st = out.before = read_state(s)
        cmds = changes(st) if callable(changes) else list(changes)
        out.commands = cmds + clears
        if not check:
            if cmds:
                s.configure(cmds)
            for c in clears:
                s.show(c)
        out.state = read_state(s)
        out.ok = True
    except DeployError as exc:
        out.error, out.error_kind = str(exc), exc.kind
    finally:
        with contextlib.suppress(Exception):
            s.close()
    return out
