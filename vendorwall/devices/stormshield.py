"""Stormshield SNS driver for isolation and on-demand grants: planning functions + one session per operation.

The rendered policy (``vendorwall.render.stormshield``) holds what these operations fill in:

- ``vw-quarantine``: a host group referenced by block rules above every pass rule except the must-keep
  flows. **quarantine** creates one object ``vw-q-<prefix>`` per prefix (comment ``vw-isolate <vendor>
  <kind> <name>``) and adds it to the group; **release** takes them out and deletes them. The
  placeholder ``vw-q-none`` (0.0.0.0) stays a member, so the group is never empty.
- ``vw-od-<system>``: a closed time object per on-demand system, used by that system's pass rules.
  **grant_open** sets its date range (the firewall's local time, minute precision, the end rounded up),
  **grant_close** closes it again. At the end of the range the firewall stops matching the rules itself.

Each operation is ONE serverd session: ``MODIFY ON``, read the state (the quarantine group, the objects),
the commands computed from that state (idempotent: a prefix already quarantined is not added twice),
``CONFIG OBJECT ACTIVATE`` (which reloads the filter that uses the objects), then the session flushing
(``MONITOR FLUSH STATE <address>`` for each host of an entry path up to ``flush_max_prefix``), then
the state read back. A rejected command cancels the pending changes (``CONFIG CANCELALL``) and stops
before any flush.

Segments are not flushed: a host flush would also cut the must-keep flows the quarantine spares.
Pure functions (``*_commands``, :func:`parse_state`) are tested with recorded output; :func:`run` talks
to the device. Never run against a real SNS: see docs/platforms.md.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import Any
from zoneinfo import ZoneInfo

from ..deploy.stormshield import CANCEL, default_session
from ..render import stormshield as rs
from ..render.firewall_policy import QUARANTINE, cut, od_name
from ..render.stormshield_cli import parse_answers
from .errors import CommandError, DeployError
from .target import Target

Q_PREFIX = "vw-q-"
STATE_READS = (f"CONFIG OBJECT GROUP SHOW name={QUARANTINE}", "CONFIG OBJECT LIST type=host,network,time usage=any")


def q_name(n: IPv4Network) -> str:
    return f"{Q_PREFIX}{n.network_address}" if n.prefixlen == 32 else f"{Q_PREFIX}{n.network_address}_{n.prefixlen}"


@dataclass(frozen=True)
class QElement:
    prefix: IPv4Network
    comment: str  # vw-isolate <vendor> <kind> <name>


@dataclass
class State:
    quarantine: dict[IPv4Network, str] = field(default_factory=dict)  # prefix -> comment
    grants: dict[str, str] = field(default_factory=dict)  # open vw-od-* time object -> its date range
    closed: list[str] = field(default_factory=list)  # closed vw-od-* time objects
    members: list[str] = field(default_factory=list)  # the quarantine group's members, as listed


def parse_state(text: str) -> State:
    """The quarantine's members and the grant windows from the answers to :data:`STATE_READS`."""
    head, _, rest = text.partition("[Object]")
    cfg = parse_answers(objects="[Object]" + rest if rest else "", groups=head)
    st = State(members=list(cfg.members.get(QUARANTINE, [])))
    for m in st.members:
        kind, a = cfg.objects.get(m, ("", {}))
        if not m.startswith(Q_PREFIX) or m == rs.PLACEHOLDER_NAME:
            continue
        if kind == "host":
            st.quarantine[IPv4Network(f"{a.get('ip')}/32")] = a.get("comment", "")
        elif kind == "network":
            st.quarantine[IPv4Network(f"{a.get('ip')}/{a.get('mask')}")] = a.get("comment", "")
    for name, a in sorted(cfg.of_type("time").items()):
        if name.startswith("vw-od-"):
            if a.get("date", "") == rs.CLOSED:
                st.closed.append(name)
            else:
                st.grants[name] = a.get("date", "")
    return st


def quarantine_commands(state: State, add: list[QElement], remove: list[IPv4Network] = ()) -> list[str]:  # type: ignore[assignment]
    """Objects + group membership putting ``add`` into the quarantine and taking ``remove`` out, from
    what the group holds now (nothing twice, nothing missing removed), then the activation."""
    cmds: list[str] = []
    for e in sorted(add, key=lambda e: (int(e.prefix.network_address), e.prefix.prefixlen)):
        name = q_name(e.prefix)
        cmds.append(rs.address_command(e.prefix, cut(e.comment, 255), name))
        if name not in state.members:
            cmds.append(f"CONFIG OBJECT GROUP ADDTO group={QUARANTINE} node={rs.q(name)}")
    for n in sorted(remove, key=lambda n: (int(n.network_address), n.prefixlen)):
        name = q_name(n)
        if name in state.members:
            cmds.append(f"CONFIG OBJECT GROUP REMOVEFROM group={QUARANTINE} node={rs.q(name)}")
        if n in state.quarantine or name in state.members:
            kind = "HOST" if n.prefixlen == 32 else "NETWORK"
            cmds.append(f"CONFIG OBJECT {kind} DELETE name={rs.q(name)}")
    return [*cmds, "CONFIG OBJECT ACTIVATE"] if cmds else []


def flush_commands(prefixes: list[IPv4Network], max_prefix: int = 24) -> tuple[list[str], list[IPv4Network]]:
    """``MONITOR FLUSH STATE`` for every host address of each prefix no wider than ``/max_prefix``; the
    prefixes too wide to flush host by host are returned apart (said in the result, never silently)."""
    cmds: list[str] = []
    wide: list[IPv4Network] = []
    for n in sorted(set(prefixes), key=lambda n: (int(n.network_address), n.prefixlen)):
        if n.prefixlen < max_prefix:
            wide.append(n)
            continue
        hosts = [n.network_address] if n.prefixlen == 32 else list(n.hosts()) or [n.network_address]
        cmds += [f"MONITOR FLUSH STATE {h}" for h in hosts]
    return cmds, wide


def sns_time(t: dt.datetime, tz: str) -> str:
    return t.astimezone(ZoneInfo(tz)).strftime("%Y:%m:%d:%H:%M")


def grant_open_commands(system: str, start: dt.datetime, end: dt.datetime, tz: str) -> list[str]:
    """Open the on-demand window of ``system`` from ``start`` to ``end`` (aware datetimes); minute
    precision, the end rounded up (a grant is never shorter than asked)."""
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise ValueError("grant window: aware datetimes with end after start")
    end = end.replace(second=0, microsecond=0) + (dt.timedelta(minutes=1) if end.second or end.microsecond
                                                  else dt.timedelta())
    date = f"{sns_time(start.replace(second=0, microsecond=0), tz)}-{sns_time(end, tz)}"
    return [rs.time_command(od_name(system, 63), "", "", date, f"vendorwall on-demand window of {system} (open)"),
            "CONFIG OBJECT ACTIVATE"]


def grant_close_commands(system: str) -> list[str]:
    return [rs.time_command(od_name(system, 63), "", "", rs.CLOSED,
                            f"vendorwall on-demand window of {system} (opened by grants)"), "CONFIG OBJECT ACTIVATE"]


@dataclass
class Outcome:
    device: str
    ok: bool
    state: State | None = None
    error: str = ""
    error_kind: str = ""
    commands: list[str] = field(default_factory=list)
    not_flushed: list[IPv4Network] = field(default_factory=list)  # too wide to flush host by host
    before: State | None = None  # the state the changes were computed from


Build = Callable[[State], list[str]]
SessionFactory = Callable[[Target], Any]


def read_state(s: Any) -> State:
    return parse_state("".join(s.run(c).text for c in STATE_READS))


def run(target: Target, changes: Build | list[str], *, flush: list[IPv4Network] = (),  # type: ignore[assignment]
        session_factory: SessionFactory = default_session, check: bool = False,
        max_prefix: int | None = None) -> Outcome:
    """One session: MODIFY ON, the state, [the changes computed from it + activation], [the flushes],
    the state read back. ``check``: only read the state and report the commands that would run."""
    from ..platforms import registry

    limit = int(max_prefix or registry.get("stormshield").defaults.get("flush_max_prefix", 24))
    flushes, wide = flush_commands(list(flush), limit)
    out = Outcome(target.device, False, not_flushed=wide)
    s = session_factory(target)
    try:
        s.open()
        s.run("MODIFY ON")
        st = out.before = read_state(s)
        cmds = changes(st) if callable(changes) else list(changes)
        out.commands = cmds + flushes
        if not check:
            try:
                for c in cmds:
                    s.run(c)
            except CommandError:
                with contextlib.suppress(DeployError):
                    s.run(CANCEL)
                raise
            for c in flushes:
                s.run(c)
        out.state = read_state(s)
        out.ok = True
    except DeployError as exc:
        out.error, out.error_kind = str(exc), exc.kind
    finally:
        with contextlib.suppress(Exception):
            s.close()
    return out
