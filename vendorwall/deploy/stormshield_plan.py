"""Pure planning for a Stormshield SNS deploy: what runs vs. what is intended -> serverd commands.

The running side is what the firewall answers to :func:`read_commands` (kept as text, one ``### <command>``
header per answer: the controller's backup); the intended side is the rendered script
(``build/<inventory>/<firewall>.sns``). Both become a :class:`~vendorwall.render.stormshield_cli.SnsConfig`.

What vendorwall owns on an SNS firewall, and therefore compares, changes and deletes:

- objects named ``vw-*`` (hosts, networks, groups, services, service groups, time objects);
- filter rules of its slot whose ``rulename`` starts with ``vw-`` (kept as one block at the top, in order);
- VLAN interfaces named in the intent or commented ``vendorwall ...``;
- the attributes vendorwall sets of the one syslog profile the device names (``vw_syslog_slot``); every
  profile is read (and backed up), the others are never compared or changed.

State is never overwritten: the quarantine group's members, the ``vw-q-*`` objects isolation creates
and the ``vw-od-*`` time objects grants open (created when missing, otherwise left as they run).
The rendered quarantine (the vendors isolated at render time) is added to the live one: its ``vw-q-*``
objects created or corrected, the missing members added to ``vw-quarantine``, never a live one removed.
Everything else on the firewall is neither compared nor changed.

Commands come in phases, each closed by its activation: interfaces (``CONFIG NETWORK ACTIVATE``);
objects and group members (``CONFIG OBJECT ACTIVATE``: new objects exist before a rule uses them); the
syslog profile (``CONFIG COMMUNICATION ACTIVATE``);
vendorwall's rules removed and inserted again at the top of the slot when they differ, then
``CONFIG FILTER CHECK`` and ``CONFIG FILTER ACTIVATE`` (the slot changes at once); finally the stale
objects and interfaces, deleted once no active rule uses them.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from ..render.stormshield import q
from ..render.stormshield_cli import GROUP_TYPES, SnsConfig, parse_answers, parse_script

QUARANTINE = "vw-quarantine"
DRIVER_PREFIX = "vw-q-"  # objects isolation creates (vendorwall.devices.stormshield)
OD_PREFIX = "vw-od-"
RULE_KEYS = ("state", "action", "srctarget", "dsttarget", "dstport", "ipproto", "schedule", "loglevel", "rulename",
             "comment")
RULE_DEFAULTS = {"state": "on", "dstport": "any", "ipproto": "any", "schedule": "anytime", "loglevel": "none"}
IFACE_KEYS = ("physical", "tag", "address", "mask", "comment", "protected", "state")
OBJECT_LIST = "CONFIG OBJECT LIST type=host,network,group,service,servicegroup,time usage=any"
SYSLOG_SHOW = "CONFIG COMMUNICATION SYSLOG PROFILE SHOW"  # every syslog profile: read and backed up
HEADER = re.compile(r"^### (.+)$", re.M)


def read_commands(slot: int) -> list[str]:
    """What the pusher reads first (the group members follow, one SHOW per owned group)."""
    return [OBJECT_LIST, f"CONFIG FILTER EXPLICIT index={slot} type=filter", "CONFIG NETWORK INTERFACE SHOW",
            SYSLOG_SHOW]


def member_command(kind: str, name: str) -> str:
    return f"CONFIG OBJECT {kind.upper()} SHOW name={q(name)}"


def running_text(answers: list[tuple[str, str]]) -> str:
    """The answers (command, data text) as one text: the backup, readable and parsed back by :func:`parse_running`."""
    return "".join(f"### {cmd}\n{text}" + ("" if text.endswith("\n") or not text else "\n") for cmd, text in answers)


def parse_running(text: str) -> SnsConfig:
    parts = HEADER.split(text)
    objects = groups = rules = interfaces = syslog = ""
    for cmd, body in zip(parts[1::2], parts[2::2], strict=True):
        c = cmd.upper()
        if c.startswith("CONFIG OBJECT LIST"):
            objects += body
        elif " SHOW NAME=" in c and c.startswith("CONFIG OBJECT "):
            groups += body
        elif c.startswith("CONFIG FILTER EXPLICIT"):
            rules += body
        elif c.startswith("CONFIG NETWORK INTERFACE SHOW"):
            interfaces += body
        elif c.startswith(SYSLOG_SHOW):
            syslog += body
    return parse_answers(objects, groups, rules, interfaces, syslog)


def syslog_changes(have: SnsConfig, want: SnsConfig) -> list[str]:
    """The syslog profiles the intent writes (the device's vw_syslog_slot), when an attribute it sets differs
    (keys compared without case: the firewall answers ``State``, ``Server``...); other profiles never."""
    out: list[str] = []
    for index, attrs in want.syslog.items():
        cur = {k.lower(): v for k, v in have.syslog.get(index, {}).items()}
        if any(cur.get(k.lower()) != v for k, v in attrs.items()):
            out.append(f"CONFIG COMMUNICATION SYSLOG PROFILE UPDATE Index={index} "
                       + " ".join(f"{k}={q(v)}" for k, v in attrs.items()))
    return out


def owned_object(name: str, want: SnsConfig) -> bool:
    if name in want.objects:
        return True
    return name.startswith("vw-") and not name.startswith(DRIVER_PREFIX)


def owned_interface(name: str, attrs: dict[str, str], want: SnsConfig) -> bool:
    return name in want.interfaces or attrs.get("comment", "").startswith("vendorwall ")


def is_state(name: str) -> bool:
    return name == QUARANTINE or name.startswith(OD_PREFIX)


def norm_rule(r: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((k, r.get(k) or RULE_DEFAULTS.get(k, "")) for k in RULE_KEYS)


def _same_object(have: tuple[str, dict[str, str]], want: tuple[str, dict[str, str]]) -> bool:
    if have[0] != want[0]:
        return False
    return all((have[1].get(k) or "") == (v or "") for k, v in want[1].items())


def _object_command(name: str, kind: str, attrs: dict[str, str]) -> str:
    args = " ".join(f"{k}={q(v) if v else ''}" for k, v in attrs.items())
    return f"CONFIG OBJECT {kind.upper()} NEW update=1 name={q(name)} {args}".rstrip()


def _iface_args(attrs: dict[str, str]) -> str:
    return " ".join(f"{k}={q(v)}" for k, v in attrs.items() if k not in ("name", "ifname"))


def canonical(cfg: SnsConfig, want: SnsConfig) -> str:
    """The owned part of ``cfg`` as text (device-added attributes left out): the diff's both sides."""
    lines: list[str] = []
    for name, attrs in sorted(cfg.interfaces.items()):
        if owned_interface(name, attrs, want):
            keys = [k for k in IFACE_KEYS if k in want.interfaces.get(name, attrs)]
            lines.append(f"interface {name} " + " ".join(f"{k}={attrs.get(k, '')}" for k in keys))
    for name, (kind, attrs) in sorted(cfg.objects.items()):
        if not owned_object(name, want):
            continue
        keys = list(want.objects.get(name, (kind, attrs))[1])
        lines.append(f"{kind} {name} " + " ".join(f"{k}={attrs.get(k, '')}" for k in keys))
        if kind in GROUP_TYPES:
            lines.append(f"  members {' '.join(cfg.members.get(name, []))}")
    for i, r in enumerate(cfg.rules, start=1):
        if r.get("rulename", "").startswith("vw-"):
            lines.append(f"rule {i} " + " ".join(f"{k}={v}" for k, v in norm_rule(r)))
    for index, wattrs in sorted(want.syslog.items()):  # the profile the intent writes, its keys only
        cur = {k.lower(): v for k, v in cfg.syslog.get(index, {}).items()}
        lines.append(f"syslog profile {index} " + " ".join(f"{k}={cur.get(k.lower(), '')}" for k in wattrs))
    return "\n".join(lines) + ("\n" if lines else "")


@dataclass
class SnsPlan:
    device: str
    before: str
    after: str
    commands: list[str]
    changed: bool
    diff: str
    phases: list[list[str]] = field(default_factory=list)  # each ends with its activation


def _free_ifnames(have: SnsConfig, count: int) -> list[str]:
    used = {a.get("ifname", "") for a in have.interfaces.values()}
    out: list[str] = []
    i = 0
    while len(out) < count:
        if f"vlan{i}" not in used:
            out.append(f"vlan{i}")
        i += 1
    return out


def plan_stormshield(device: str, running: str, intended: str, *, slot: int = 9) -> SnsPlan:
    have, want = parse_running(running), parse_script(intended)
    phases: list[list[str]] = []
    # 1. interfaces
    ifc: list[str] = []
    new_ifaces = [n for n in want.interfaces if n not in have.interfaces]
    for name, ifname in zip(new_ifaces, _free_ifnames(have, len(new_ifaces)), strict=True):
        ifc.append(f"CONFIG NETWORK INTERFACE CREATE ifname={ifname} name={q(name)} "
                   f"{_iface_args(want.interfaces[name])}")
    for name, attrs in want.interfaces.items():
        cur = have.interfaces.get(name)
        if cur is not None and any((cur.get(k) or "") != v for k, v in attrs.items() if k != "name"):
            ifc.append(f"CONFIG NETWORK INTERFACE UPDATE ifname={cur.get('ifname', '')} name={q(name)} "
                       f"{_iface_args(attrs)}")
    if ifc:
        phases.append([*ifc, "CONFIG NETWORK ACTIVATE"])
    # 2. objects and members (state kept)
    objs: list[str] = []
    for name, (kind, attrs) in want.objects.items():
        cur_obj = have.objects.get(name)
        if cur_obj is not None and is_state(name):
            continue
        if cur_obj is None or not _same_object(cur_obj, (kind, attrs)):
            objs.append(_object_command(name, kind, attrs))
    for name, members in want.members.items():
        kind = want.objects[name][0]
        now = have.members.get(name, []) if name in have.objects else []
        if name == QUARANTINE and name in have.objects:  # isolation's members: the rendered ones added, none removed
            objs += [f"CONFIG OBJECT {kind.upper()} ADDTO group={q(name)} node={q(m)}" for m in members if m not in now]
            continue
        objs += [f"CONFIG OBJECT {kind.upper()} ADDTO group={q(name)} node={q(m)}" for m in members if m not in now]
        objs += [f"CONFIG OBJECT {kind.upper()} REMOVEFROM group={q(name)} node={q(m)}" for m in now
                 if m not in members]
    if objs:
        phases.append([*objs, "CONFIG OBJECT ACTIVATE"])
    # 2b. the syslog profile the device lets vendorwall own (its server object exists and is active by now)
    logs = syslog_changes(have, want)
    if logs:
        phases.append([*logs, "CONFIG COMMUNICATION ACTIVATE"])
    # 3. vendorwall's rules: one block at the top of the slot, in order
    owned_pos = [i for i, r in enumerate(have.rules) if r.get("rulename", "").startswith("vw-")]
    same = ([norm_rule(have.rules[i]) for i in owned_pos] == [norm_rule(r) for r in want.rules]
            and owned_pos == list(range(len(want.rules))))
    if not same:
        rules = [f"CONFIG FILTER RULE REMOVE index={slot} type=filter position={i + 1}" for i in reversed(owned_pos)]
        for n, r in enumerate(want.rules, start=1):
            args = " ".join(f"{k}={q(v)}" for k, v in r.items() if k not in ("type", "state", "action"))
            rules.append(f"CONFIG FILTER RULE INSERT index={slot} type=filter position={n} "
                         f"state={r.get('state', 'on')} action={r.get('action', 'block')} {args}")
        phases.append([*rules, f"CONFIG FILTER CHECK index={slot} type=filter", "CONFIG FILTER ACTIVATE"])
    # 4. stale objects (groups before their members) and interfaces, once no rule uses them
    # a host object a syslog profile still names stays (the device no longer opts in: the profile is the
    # network team's again, and the firewall refuses to delete an object in use)
    applied = {i: {k.lower(): v for k, v in a.items()} for i, a in have.syslog.items()}  # the profiles, once applied
    for i, a in want.syslog.items():
        applied.setdefault(i, {}).update({k.lower(): v for k, v in a.items()})
    named = {a.get(k) for a in applied.values() for k in ("server", "backupserver") if a.get(k)}
    gone = [(name, kind) for name, (kind, _a) in have.objects.items()
            if owned_object(name, want) and name not in want.objects and name != QUARANTINE and name not in named]
    gone.sort(key=lambda nk: (nk[1] not in GROUP_TYPES, nk[0]))
    stale = [f"CONFIG OBJECT {kind.upper()} DELETE name={q(name)}" for name, kind in gone]
    if stale:
        phases.append([*stale, "CONFIG OBJECT ACTIVATE"])
    old_ifaces = [a.get("ifname", "") for n, a in sorted(have.interfaces.items())
                  if owned_interface(n, a, want) and n not in want.interfaces]
    if old_ifaces:
        phases.append([*(f"CONFIG NETWORK INTERFACE REMOVE ifname={i}" for i in old_ifaces), "CONFIG NETWORK ACTIVATE"])
    cmds = [c for ph in phases for c in ph]
    before, after = canonical(have, want), canonical(want, want)
    diff = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                        f"{device}: running", f"{device}: intended"))
    return SnsPlan(device, before, after, cmds, bool(cmds), diff if cmds else "", phases)


def satisfied(running: str, intended: str, *, slot: int = 9) -> list[str]:
    """What still differs (empty: the firewall runs the intent; state is not compared)."""
    return plan_stormshield("", running, intended, slot=slot).commands
