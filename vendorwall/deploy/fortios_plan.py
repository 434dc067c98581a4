"""Pure planning for a FortiGate deploy: what runs vs. what is intended -> CLI commands (no device I/O).

Both sides are read by the same parser (:mod:`vendorwall.render.fortios_cli`): the rendered file
(``build/<inventory>/<firewall>.fortios``) and the ``show`` output of the tables vendorwall writes.

What vendorwall owns on a FortiGate, and therefore compares, changes and deletes:

- addresses, address groups, custom services and schedules named ``vw-*``;
- policies whose name starts with ``vw-`` (matched by name: a live policy keeps its id);
- zones named in the intent or described ``vendorwall ...``; VLAN interfaces named in the intent
  or described ``vendorwall ...``;
- the settings vendorwall renders of the one syslog slot the device names (``vw_syslog_slot``:
  ``log syslogdN setting`` / ``filter``): compared and set, never unset or deleted; the other slots are
  read (and backed up) but never compared or changed.

State objects (``vw-quarantine`` members, the ``vw-od-*`` grant windows) are created when missing
and otherwise left as they run, and the quarantine's addresses (``vw-q-*``) are isolation's, never
the deploy's: a deploy never lifts an isolation or closes an open grant. The rendered quarantine
(the vendors isolated at render time) is added to the live one: its ``vw-q-*`` addresses created or
corrected, its members appended when missing (``append member``), never a live member removed.
Everything else on the FortiGate is neither compared nor changed.

Commands: creations and updates table by table in dependency order (interfaces, zones, addresses,
groups, services, schedules, policies), then ``move`` commands putting vendorwall's policies in the
intended order at the top of the policy list, then deletions in the reverse order (policies first).
"""

from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass

from ..render.fortios import LOG_TABLES, TABLES
from ..render.fortios_cli import Entry, Table, parse

SHOW = tuple(f"show {t}" for t in TABLES)  # what the pusher reads (and backs up)
STATE_ATTRS = {"firewall addrgrp": {"vw-quarantine": ("member",)}}
STATE_PREFIX = {"firewall schedule onetime": ("vw-od-", ("start", "end"))}
# attributes vendorwall sets somewhere in a table: unset on an owned entry when the intent drops them
MANAGED = {"firewall policy": {"logtraffic-start", "schedule-timeout", "comments"},
           "firewall service custom": {"tcp-portrange", "udp-portrange"}}


# objects isolation creates (vendorwall.devices.fortios): never compared, changed or deleted by a deploy
DRIVER_OWNED = {"firewall address": "vw-q-"}


def owned(table: str, e: Entry, want: Table | None) -> bool:
    if table in LOG_TABLES:  # a device-wide syslog slot: vendorwall's only when the intent writes it
        return want is not None and e.key in want.entries
    if want is not None and e.key in want.entries:
        return True
    if table in DRIVER_OWNED and e.key.startswith(DRIVER_OWNED[table]):
        return False
    if table == "firewall policy":
        return e.get("name").startswith("vw-")
    if table in ("system interface", "system zone"):
        return e.get("description").startswith("vendorwall ")
    return e.key.startswith("vw-")


def _state_attrs(table: str, key: str) -> tuple[str, ...]:
    if key in STATE_ATTRS.get(table, {}):
        return STATE_ATTRS[table][key]
    pre = STATE_PREFIX.get(table)
    if pre and key.startswith(pre[0]):
        return pre[1]
    return ()


def _fmt(values: list[str], quoted: bool) -> str:
    return " ".join(f'"{v}"' if quoted else v for v in values)


@dataclass
class FortiPlan:
    device: str
    before: str
    after: str
    commands: list[str]
    changed: bool
    diff: str
    policy_ids: dict[str, str]  # policy name -> id (live id, or the new one)


def canonical(cfg: dict[str, Table], want: dict[str, Table]) -> str:
    """The owned part of ``cfg`` as text (ids and device-added attributes like uuid left out)."""
    lines: list[str] = []
    for t in TABLES:
        table = cfg.get(t)
        if table is None:
            continue
        w = want.get(t)
        keep = {a for e in (w.entries.values() if w else []) for a in e.settings} | MANAGED.get(t, set())
        for e in table.entries.values():
            if not owned(t, e, w):
                continue
            key = e.get("name") if t == "firewall policy" else e.key
            lines.append(f"{t} {key}")
            for a in sorted(e.settings):
                if a in keep and not (t == "firewall policy" and a == "name"):
                    lines.append(f"  {a} {' '.join(e.settings[a])}")
    return "\n".join(lines) + ("\n" if lines else "")


UNQUOTED = {"ip", "subnet", "action", "logtraffic", "logtraffic-start", "schedule-timeout", "role", "vlanid",
            "intrazone", "day", "tcp-portrange", "udp-portrange",
            # log syslogdN setting / filter
            "status", "mode", "port", "format", "enc-algorithm", "severity", "forward-traffic", "local-traffic",
            "multicast-traffic", "sniffer-traffic", "anomaly"}


def _quoted(table: str, attr: str) -> bool:
    if table == "firewall schedule recurring" and attr in ("start", "end"):
        return False
    return attr not in UNQUOTED


def plan_fortios(device: str, running: str, intended: str, *, id_base: int = 900000) -> FortiPlan:
    have, want = parse(running), parse(intended)
    cmds: list[str] = []
    ids: dict[str, str] = {}
    # policies are matched by name
    have_pol = {e.get("name"): e for e in (have.get("firewall policy") or Table("")).entries.values()}
    used_ids = {int(k) for k in (have.get("firewall policy") or Table("")).entries if k.isdigit()}
    next_id = max([id_base, *used_ids]) + 1
    for t in TABLES:
        w = want.get(t)
        if w is None:
            continue
        h = have.get(t) or Table(t)
        block: list[str] = []
        for e in w.entries.values():
            if t == "firewall policy":
                name = e.get("name")
                cur = have_pol.get(name)
                if cur is not None:
                    key = cur.key
                else:
                    key, next_id = str(next_id), next_id + 1
                ids[name] = key
            else:
                cur = h.entries.get(e.key)
                key = e.key
            state = _state_attrs(t, e.key)
            body: list[str] = []
            for attr, values in e.settings.items():
                if cur is not None and attr in state:
                    if (t, attr) == ("firewall addrgrp", "member"):  # the quarantine: render-time members added
                        missing = [v for v in values if v not in cur.settings.get(attr, [])]
                        if missing:
                            body.append(f"        append member {_fmt(missing, True)}")
                    continue  # live state: never overwritten
                if cur is None or cur.settings.get(attr) != values:
                    body.append(f"        set {attr} {_fmt(values, _quoted(t, attr))}")
            if cur is not None:
                for attr in sorted(MANAGED.get(t, set())):
                    if attr in cur.settings and attr not in e.settings:
                        body.append(f"        unset {attr}")
            if body and not key:  # the settings of a singleton table (a syslog slot): no edit
                block += [b.removeprefix("    ") for b in body]
            elif body:
                block += [f"    edit {key if key.isdigit() else _fmt([key], True)}", *body, "    next"]
        if block:
            cmds += [f"config {t}", *block, "end"]
    # order: vendorwall's policies first, in the intended order (a new policy is appended by the device)
    wanted_order = [ids[e.get("name")] for e in (want.get("firewall policy") or Table("")).entries.values()]
    hp = have.get("firewall policy") or Table("")
    stale = {k for k, e in hp.entries.items() if owned("firewall policy", e, None) and e.get("name") not in ids}
    live_order = [k for k in hp.entries if k not in stale]
    live_order += [k for k in wanted_order if k not in set(live_order)]  # created: appended by the device
    moves: list[str] = []
    if wanted_order and live_order[:len(wanted_order)] != wanted_order:
        if live_order and live_order[0] != wanted_order[0]:
            moves.append(f"    move {wanted_order[0]} before {live_order[0]}")
        for prev, cur_id in itertools.pairwise(wanted_order):
            moves.append(f"    move {cur_id} after {prev}")
    if moves:
        cmds += ["config firewall policy", *moves, "end"]
    # deletions: owned entries the intent no longer has, policies first
    for t in reversed(TABLES):
        if t not in have or t in LOG_TABLES:  # a syslog slot's settings are set, never deleted
            continue
        w = want.get(t)
        gone: list[str] = []
        for e in have[t].entries.values():
            if not owned(t, e, w):
                continue
            if t == "firewall policy":
                if e.get("name") in ids:
                    continue
            elif w is not None and e.key in w.entries:
                continue
            if _state_attrs(t, e.key) and t == "firewall addrgrp":
                continue  # the quarantine group stays, whatever the intent says
            gone.append(f"    delete {e.key if e.key.isdigit() else _fmt([e.key], True)}")
        if gone:
            cmds += [f"config {t}", *gone, "end"]
    before, after = canonical(have, want), canonical(want, want)
    diff = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                        f"{device}: running", f"{device}: intended"))
    return FortiPlan(device, before, after, cmds, bool(cmds), diff if cmds else "", ids)


def satisfied(running: str, intended: str) -> list[str]:
    """What still differs after applying (empty: the device runs the intent). State attributes and
    policy ids are not compared; policy order is (vendorwall's block, in order)."""
    p = plan_fortios("", running, intended)
    return [c for c in p.commands if c.strip().startswith(("set ", "unset ", "delete ", "move ", "append "))]
