"""Pure planning for a Cisco ASA deploy: what runs vs. what is intended -> CLI commands (no device I/O).

Both sides are read by :mod:`vendorwall.render.asa_cli`: the rendered file and the ``show running-config``
output of the sections vendorwall writes (:data:`SHOW`).

What vendorwall owns on an ASA, and therefore compares, changes and deletes: object-groups and
time-ranges named ``vw-*``, subinterfaces described ``vendorwall ...`` (or named in the intent), and
its global access list, which lives under one of two names (``vw-global-a`` / ``vw-global-b``): a
changed access list is built complete under the name not in use, bound at once with ``access-group
<new> global``, then the old one cleared, so the firewall never runs half a list. Another global access
list bound on the ASA is a refusal (an ASA has one), never replaced.

Logging: the ``logging list vw-*`` entries, and the ``logging host`` line of the nameif and address the
intent names (added, or replaced when its parameters differ); the ASA's other logging lines (other hosts,
``logging enable``, ``logging trap``) are read but never compared or changed.

State is never overwritten: ``vw-quarantine``'s members and the ``vw-od-*`` time-ranges, once present.
The rendered quarantine (the vendors isolated at render time) is added to the live one: its missing
``network-object`` lines, never a live one removed.
Commands: subinterfaces, object-groups and time-ranges (created or changed line by line), the access
list swap, then what the intent no longer has (object-groups, time-ranges, subinterfaces, stray
``vw-global-*`` lists), once nothing bound uses them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from ..render.asa_cli import AsaConfig, parse

SHOW = ("show running-config interface", "show running-config object-group", "show running-config time-range",
        "show running-config access-list", "show running-config access-group", "show running-config logging")
LOG_LIST_PREFIX = "logging list vw-"


def norm_logging(line: str) -> str:
    """A logging line as rendered: the ASA shows ``logging host ... 6/6514`` for ``tcp/6514`` (17/ for udp/)."""
    w = line.split()
    if w[:2] == ["logging", "host"] and len(w) > 4:
        w[4] = w[4].replace("6/", "tcp/", 1) if w[4].startswith("6/") else w[4].replace("17/", "udp/", 1) \
            if w[4].startswith("17/") else w[4]
    return " ".join(w)


def _host_key(line: str) -> tuple[str, ...]:
    return tuple(line.split()[:4])  # logging host <nameif> <address>


def owned_logging(line: str, want: AsaConfig) -> bool:
    """vendorwall's logging lines: its ``logging list vw-*`` entries, and the ``logging host`` the intent names
    (same nameif and address); every other logging line of the ASA is its own."""
    if line.startswith(LOG_LIST_PREFIX):
        return True
    keys = {_host_key(x) for x in want.logging if x.startswith("logging host ")}
    return line.startswith("logging host ") and _host_key(line) in keys


def _logging_changes(have: AsaConfig, want: AsaConfig) -> list[str]:
    cur = [norm_logging(x) for x in have.logging]
    out: list[str] = []
    for line in want.logging:
        if line in cur:
            continue
        if line.startswith("logging host "):  # the same server with other parameters: replaced
            out += [f"no {x}" for x in cur if x.startswith("logging host ") and _host_key(x) == _host_key(line)]
        out.append(line)
    out += [f"no {x}" for x in cur if x.startswith(LOG_LIST_PREFIX) and x not in want.logging]
    return out
NAMES = ("vw-global-a", "vw-global-b")
QUARANTINE = "vw-quarantine"


class Refused(ValueError):
    """The ASA runs something vendorwall must not replace (another global access list)."""


def owned_block(head: str, lines: list[str], want: AsaConfig) -> bool:
    if head in want.blocks:
        return True
    w = head.split()
    if w[0] == "interface":
        return any(x.startswith("description vendorwall ") for x in lines)
    name = w[2] if w[0] == "object-group" else w[1]
    return name.startswith("vw-")


def is_state(head: str) -> bool:
    w = head.split()
    return (w[:3] == ["object-group", "network", QUARANTINE]) or (w[0] == "time-range" and w[1].startswith("vw-od-"))


def _no(head: str) -> str:
    w = head.split()
    return f"no {' '.join(w[:3])}" if w[0] == "object-group" else f"no {head}"


def _block_changes(head: str, have: list[str], want: list[str]) -> list[str]:
    """Sub-commands turning ``have`` into ``want`` (a time-range's absolute entry is replaced whole)."""
    out: list[str] = []
    for x in have:
        if x not in want:
            out.append("no absolute" if x.startswith("absolute ") else f"no {x}")
    out += [x for x in want if x not in have]
    return out


def bound(cfg: AsaConfig) -> str:
    return cfg.global_acl()


def canonical(cfg: AsaConfig, want: AsaConfig) -> str:
    lines: list[str] = []
    for head, body in cfg.blocks.items():
        if owned_block(head, body, want):
            lines.append(head)
            lines += [f" {x}" for x in body]
    lines += [norm_logging(x) for x in cfg.logging if owned_logging(norm_logging(x), want)]
    acl = bound(cfg)
    lines += [f"access-list <vendorwall> {x}" for x in cfg.acls.get(acl, [])] if acl in (*NAMES, "vw-global") else []
    return "\n".join(lines) + ("\n" if lines else "")


@dataclass
class AsaPlan:
    device: str
    before: str
    after: str
    commands: list[str]
    diff: str
    acl_from: str = ""  # the list bound before
    acl_to: str = ""  # the list bound after (empty: unchanged)

    @property
    def changed(self) -> bool:
        return bool(self.commands)


def plan_asa(device: str, running: str, intended: str) -> AsaPlan:
    have, want = parse(running), parse(intended)
    live = bound(have)
    if live and live not in NAMES:
        raise Refused(f"{device} binds another global access list ({live}); an ASA has one: vendorwall will not "
                      f"replace it (merge its entries into the inventory, or bind it to interfaces)")
    cmds: list[str] = []
    for head, body in want.blocks.items():
        cur = have.blocks.get(head)
        if cur is None:
            cmds += [head, *(f" {x}" for x in body)]
        elif not is_state(head):
            sub = _block_changes(head, cur, body)
            if sub:
                cmds += [head, *(f" {x}" for x in sub)]
        elif head == f"object-group network {QUARANTINE}":  # the rendered quarantine added, no live member removed
            sub = [x for x in body if x.startswith("network-object ") and x not in cur]
            if sub:
                cmds += [head, *(f" {x}" for x in sub)]
    # the access list: swapped whole when it differs
    acl_to = ""
    if not bound(want):  # nothing of vendorwall's bound (a backup from before the first deploy)
        if live:
            cmds.append(f"no access-group {live} global")
        cmds += [f"clear configure access-list {n}" for n in NAMES if n in have.acls]
    else:
        wlines = want.acls.get(bound(want), [])
        if have.acls.get(live, []) != wlines or not live:
            acl_to = NAMES[1] if live == NAMES[0] else NAMES[0]
            if acl_to in have.acls:
                cmds.append(f"clear configure access-list {acl_to}")
            cmds += [f"access-list {acl_to} {x}" for x in wlines]
            cmds.append(f"access-group {acl_to} global")
            if live:
                cmds.append(f"clear configure access-list {live}")
        keep = acl_to or live
        cmds += [f"clear configure access-list {n}" for n in NAMES if n in have.acls and n != keep
                 and f"clear configure access-list {n}" not in cmds]
    # log forwarding (the device opted in): vendorwall's message list and its logging host
    cmds += _logging_changes(have, want)
    # what the intent no longer has
    for head, body in have.blocks.items():
        if head not in want.blocks and owned_block(head, body, want) and not head.startswith(
                f"object-group network {QUARANTINE}"):
            cmds.append(_no(head))
    before, after = canonical(have, want), canonical(want, want)
    diff = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                        f"{device}: running", f"{device}: intended"))
    return AsaPlan(device, before, after, cmds, diff if cmds else "", live, acl_to)


def satisfied(running: str, intended: str) -> list[str]:
    """What still differs (empty: the ASA runs the intent); the access list's name is not compared."""
    return plan_asa("", running, intended).commands
