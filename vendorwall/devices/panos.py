"""PAN-OS driver for isolation and on-demand grants: tag registrations, no commit.

The rendered policy (``vendorwall.render.panos``) holds dynamic address groups that these operations
fill at run time through the User-ID API (``type=user-id``, a ``uid-message``), without touching the
configuration or committing:

- ``vw-quarantine`` (filter ``'vw-quarantine'``): referenced by deny rules above every allow rule but
  the must-keep flows. **quarantine** registers the vendor's prefixes (entry paths and segments; PAN-OS
  10.0+ registers networks) with the tag, persistent across reboots: ONE API call isolates a vendor.
  **release** unregisters them.
- ``vw-od-<system>``: the destination of the system's on-demand rules. **grant_open** registers the
  system's addresses with the tag and a timeout (seconds, rounded up): the firewall drops the
  registration itself when it expires. **grant_close** unregisters them.

Session clearing (``clear session all filter source <address>``, an operational command) follows the
registration for each host of an entry path up to ``flush_max_prefix``; segments are not cleared
(the must-keep flows). The state is read back with ``show object registered-ip all``.

Pure functions (``*_message``, :func:`parse_state`) are tested with recorded output; :func:`run` talks
to the firewall. Never run against a real PAN-OS: see docs/platforms.md.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import Any
from xml.sax.saxutils import quoteattr

from ..deploy.panos import default_session
from ..render.firewall_policy import QUARANTINE, od_name
from .errors import DeployError
from .target import Target

STATE = "<show><object><registered-ip><all></all></registered-ip></object></show>"


def _entry(n: IPv4Network) -> str:
    return str(n.network_address) if n.prefixlen == 32 else str(n)


def _message(kind: str, entries: list[tuple[IPv4Network, str, int | None]], persistent: bool) -> str:
    body = []
    for n, tag, timeout in sorted(entries, key=lambda e: (int(e[0].network_address), e[0].prefixlen, e[1])):
        attrs = f" ip={quoteattr(_entry(n))}" + (' persistent="1"' if persistent and kind == "register" else "")
        t = f' timeout="{timeout}"' if timeout is not None and kind == "register" else ""
        body.append(f"<entry{attrs}><tag><member{t}>{tag}</member></tag></entry>")
    return (f"<uid-message><version>2.0</version><type>update</type><payload><{kind}>" + "".join(body)
            + f"</{kind}></payload></uid-message>")


def quarantine_message(prefixes: list[IPv4Network]) -> str:
    return _message("register", [(n, QUARANTINE, None) for n in prefixes], persistent=True)


def release_message(prefixes: list[IPv4Network]) -> str:
    return _message("unregister", [(n, QUARANTINE, None) for n in prefixes], persistent=False)


def grant_open_message(system: str, addresses: list[IPv4Network], start: dt.datetime, end: dt.datetime) -> str:
    """Register ``system``'s addresses with its on-demand tag until ``end`` (a timeout counted from
    ``start``, the moment the call is made, rounded up to the second: never shorter than asked)."""
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise ValueError("grant window: aware datetimes with end after start")
    seconds = math.ceil((end - start).total_seconds())
    return _message("register", [(n, od_name(system, 63), seconds) for n in addresses], persistent=False)


def grant_close_message(system: str, addresses: list[IPv4Network]) -> str:
    return _message("unregister", [(n, od_name(system, 63), None) for n in addresses], persistent=False)


def clear_sessions_commands(prefixes: list[IPv4Network], max_prefix: int = 24) -> tuple[list[str], list[IPv4Network]]:
    cmds: list[str] = []
    wide: list[IPv4Network] = []
    for n in sorted(set(prefixes), key=lambda n: (int(n.network_address), n.prefixlen)):
        if n.prefixlen < max_prefix:
            wide.append(n)
            continue
        hosts = [n.network_address] if n.prefixlen == 32 else list(n.hosts()) or [n.network_address]
        cmds += [f"<clear><session><all><filter><source>{h}</source></filter></all></session></clear>"
                 for h in hosts]
    return cmds, wide


@dataclass
class State:
    quarantine: list[IPv4Network] = field(default_factory=list)
    grants: dict[str, list[IPv4Network]] = field(default_factory=dict)  # vw-od-* tag -> registered addresses


def parse_state(result: ET.Element) -> State:
    st = State()
    for e in result.iter("entry"):
        ip = e.get("ip", "")
        if not ip:
            continue
        n = IPv4Network(ip if "/" in ip else f"{ip}/32", strict=False)
        for m in e.findall("tag/member"):
            tag = m.text or ""
            if tag == QUARANTINE:
                st.quarantine.append(n)
            elif tag.startswith("vw-od-"):
                st.grants.setdefault(tag, []).append(n)
    st.quarantine.sort(key=lambda n: (int(n.network_address), n.prefixlen))
    return st


@dataclass
class Outcome:
    device: str
    ok: bool
    state: State | None = None
    error: str = ""
    error_kind: str = ""
    calls: list[str] = field(default_factory=list)
    not_cleared: list[IPv4Network] = field(default_factory=list)
    before: State | None = None


SessionFactory = Callable[[Target], Any]


def run(target: Target, message: str | Callable[[State], str] = "", *,
        clear: list[IPv4Network] = (),  # type: ignore[assignment]
        session_factory: SessionFactory = default_session, check: bool = False, max_prefix: int = 24) -> Outcome:
    """The state, [one User-ID call with ``message``, computed from it when callable] + [session clearing of
    ``clear``] + the state read back."""
    cmds, wide = clear_sessions_commands(list(clear), max_prefix)
    out = Outcome(target.device, False, not_cleared=wide)
    s = session_factory(target)
    try:
        s.open()
        out.before = parse_state(s.op(STATE))
        msg = message(out.before) if callable(message) else message
        out.calls = (["user-id " + msg] if msg else []) + [f"op {c}" for c in cmds]
        if not check:
            if msg:
                s.user_id(msg)
            for c in cmds:
                s.op(c)
        out.state = parse_state(s.op(STATE))
        out.ok = True
    except DeployError as exc:
        out.error, out.error_kind = str(exc), exc.kind
    finally:
        with contextlib.suppress(Exception):
            s.close()
    return out
