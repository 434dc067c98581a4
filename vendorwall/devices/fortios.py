"""FortiGate driver for isolation and on-demand grants: planning functions + one session per operation.

The rendered policy (``vendorwall.render.fortios``) holds what these operations fill in:

- ``vw-quarantine``: an address group referenced by deny policies above every allow policy except
  the must-keep clinical flows. **quarantine** adds one address ``vw-q-<prefix>`` per prefix
  (comment ``vw-isolate <vendor> <kind> <name>``) and appends it to the group; **release** unselects
  and deletes them. The built-in address ``none`` stays a member, so the group is never empty.
- ``vw-od-<system>``: a closed ``schedule onetime`` per on-demand system, used by that system's
  on-demand policies (``schedule-timeout enable``). **grant_open** sets its start and end (the
  FortiGate's local time), **grant_close** closes it again and clears the vendor's sessions to the
  system. At the end of a window the FortiGate itself stops the policies and ends their sessions.

Each operation is ONE session: a workspace transaction with the configuration changes, then the
session clearing (``diagnose sys session filter``/``clear``: outside the transaction, which cannot
hold diagnose commands), then the ``show`` commands that read the result back for verification.
The session filter is always reset first; a rejected filter command stops the sequence before its
``clear`` (the error patterns), so a clear never runs without its filter.

Session clearing by prefix would also cut must-keep flows of a quarantined segment: segments are
therefore not cleared (FortiOS re-checks sessions against changed policies with
``firewall-session-dirty check-all``, its default, and the keep policies sit above the quarantine);
entry paths (vendor sources) are.

Pure functions (``*_commands``, :func:`parse_state`) are tested with recorded output; :func:`run`
talks to the device. Never run against a real FortiGate: see docs/platforms.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import Any
from zoneinfo import ZoneInfo

from ..deploy.errors import CommandError, DeployError
from ..deploy.fortios import abort_transaction
from ..deploy.session import Session, Target
from ..render.fortios import CLOSED_END, CLOSED_START, EMPTY_MEMBER, QUARANTINE, fit, od_schedule, q
from ..render.fortios_cli import parse

START = "execute config-transaction start"
COMMIT = "execute config-transaction commit"
ABORT = "execute config-transaction abort"
SHOW_STATE = ("show firewall addrgrp", "show firewall address", "show firewall schedule onetime")
Q_PREFIX = "vw-q-"


def q_address(n: IPv4Network) -> str:
    return f"{Q_PREFIX}{n.network_address}" if n.prefixlen == 32 else f"{Q_PREFIX}{n.network_address}_{n.prefixlen}"


@dataclass(frozen=True)
class QElement:
    prefix: IPv4Network
    comment: str  # vw-isolate <vendor> <kind> <name>


def quarantine_commands(add: list[QElement], remove: list[IPv4Network] = ()) -> list[str]:  # type: ignore[assignment]
    """The transaction body that puts ``add`` into the quarantine and takes ``remove`` out of it."""
    cmds: list[str] = []
    if add:
        cmds.append("config firewall address")
        for e in sorted(add, key=lambda e: (int(e.prefix.network_address), e.prefix.prefixlen)):
            cmds += [f"    edit {q(q_address(e.prefix))}", f"        set subnet {e.prefix.network_address} "
                     f"{e.prefix.netmask}", f"        set comment {q(fit(e.comment, 255))}", "    next"]
        cmds += ["end", "config firewall addrgrp", f"    edit {q(QUARANTINE)}",
                 "        append member " + " ".join(q(q_address(e.prefix)) for e in add), "    next", "end"]
    if remove:
        cmds += ["config firewall addrgrp", f"    edit {q(QUARANTINE)}",
                 "        unselect member " + " ".join(q(q_address(n)) for n in remove), "    next", "end",
                 "config firewall address", *(f"    delete {q(q_address(n))}" for n in remove), "end"]
    return cmds


def clear_sessions_commands(pairs: list[tuple[IPv4Network | None, IPv4Network | None]]) -> list[str]:
    """Clear the sessions from ``src`` (and/or to ``dst``) of each pair: filter reset, filter, clear."""
    cmds: list[str] = []
    for src, dst in pairs:
        if src is None and dst is None:
            raise ValueError("a session clear without a filter would clear every session of the FortiGate")
        cmds.append("diagnose sys session filter clear")
        if src is not None:
            cmds.append(f"diagnose sys session filter src {src.network_address} {src.broadcast_address}")
        if dst is not None:
            cmds.append(f"diagnose sys session filter dst {dst.network_address} {dst.broadcast_address}")
        cmds.append("diagnose sys session clear")
    if cmds:
        cmds.append("diagnose sys session filter clear")
    return cmds


def fdate(t: dt.datetime, tz: str) -> str:
    local = t.astimezone(ZoneInfo(tz))
    return local.strftime("%H:%M %Y/%m/%d")


def grant_open_commands(system: str, start: dt.datetime, end: dt.datetime, tz: str) -> list[str]:
    """Open the on-demand window of ``system`` from ``start`` to ``end`` (aware datetimes).

    FortiOS schedules have minute granularity: the end is rounded up to the next minute, never down
    (a grant is never shorter than asked), and must be later than the start."""
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise ValueError("grant window: aware datetimes with end after start")
    end = end.replace(second=0, microsecond=0) + (dt.timedelta(minutes=1) if end.second or end.microsecond
                                                  else dt.timedelta())
    name = od_schedule(system)
    return ["config firewall schedule onetime", f"    edit {q(name)}",
            f"        set start {q(fdate(start.replace(second=0, microsecond=0), tz))}",
            f"        set end {q(fdate(end, tz))}", "    next", "end"]


def grant_close_commands(system: str) -> list[str]:
    name = od_schedule(system)
    return ["config firewall schedule onetime", f"    edit {q(name)}", f"        set start {q(CLOSED_START)}",
            f"        set end {q(CLOSED_END)}", "    next", "end"]


@dataclass
class State:
    quarantine: dict[IPv4Network, str] = field(default_factory=dict)  # prefix -> comment
    grants: dict[str, tuple[str, str]] = field(default_factory=dict)  # schedule name -> (start, end), open ones
    closed: list[str] = field(default_factory=list)  # vw-od-* schedules that are closed


def parse_state(text: str) -> State:
    """Quarantine members and grant windows from ``show`` output (:data:`SHOW_STATE`)."""
    cfg = parse(text)
    st = State()
    addrs = cfg.get("firewall address")
    group = cfg.get("firewall addrgrp")
    members = group.entries[QUARANTINE].values("member") if group and QUARANTINE in group.entries else []
    for m in members:
        if m == EMPTY_MEMBER or addrs is None or m not in addrs.entries:
            continue
        e = addrs.entries[m]
        sub = e.values("subnet")
        if len(sub) == 2:
            st.quarantine[IPv4Network(f"{sub[0]}/{sub[1]}")] = e.get("comment")
    sched = cfg.get("firewall schedule onetime")
    for name, e in (sched.entries.items() if sched else []):
        if not name.startswith("vw-od-"):
            continue
        if (e.get("start"), e.get("end")) == (CLOSED_START, CLOSED_END):
            st.closed.append(name)
        else:
            st.grants[name] = (e.get("start"), e.get("end"))
    return st


@dataclass
class Outcome:
    device: str
    ok: bool
    state: State | None = None
    error: str = ""
    error_kind: str = ""
    commands: list[str] = field(default_factory=list)
    before: State | None = None  # the state read first (when the changes are computed from it)


SessionFactory = Callable[[Target], Any]
Build = Callable[[State], list[str]]


def read_state(s: Any) -> State:
    return parse_state("".join(s.show(c) + "\n" for c in SHOW_STATE))


def run(target: Target, changes: Build | list[str], *, clear: list[str] = (),  # type: ignore[assignment]
        session_factory: SessionFactory = Session, check: bool = False) -> Outcome:
    """One session: [the state, when ``changes`` is computed from it] + [transaction with the changes] +
    [``clear`` commands] + show the state back. ``check``: only read the state (and report the commands)."""
    out = Outcome(target.device, False)
    s = session_factory(target)
    try:
        s.open()
        if callable(changes):
            out.before = read_state(s)
            changes = changes(out.before)
        cmds = ([START, *changes, COMMIT] if changes else []) + list(clear)
        out.commands = cmds
        if not check and cmds:
            try:
                if changes:
                    s.configure([START, *changes, COMMIT])
            except CommandError:
                abort_transaction(s)
                raise
            if clear:
                s.configure(list(clear))
        out.state = read_state(s)
        out.ok = True
    except DeployError as exc:
        out.error, out.error_kind = str(exc), exc.kind
    finally:
        s.close()
    return out
