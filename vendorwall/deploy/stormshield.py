"""Push a rendered Stormshield SNS configuration to a firewall (serverd over SSH), want vs. have.

    MODIFY ON -> read (objects, group members, the filter slot, interfaces) -> backup on the controller
    (``backup_dir/<device>/<stamp>.cfg``, 0600, kept ``backups`` deep) -> plan (``stormshield_plan``: only
    vendorwall's objects; live state kept) -> [check mode stops here: the exact commands are in the result]
    -> each phase's commands, each answer checked, then its activation -> verify (read again: nothing
    left to change)

A rejected command stops the push before its phase's activation and cancels every pending change
(``CONFIG CANCELALL``): what earlier phases activated stays (new objects, interfaces), the filter slot
is unchanged unless its own activation ran (``rolled_back``: true when nothing had been activated). A
verification failure sends the commands that restore the backup's state of vendorwall's objects and
rules. One SSH session for the whole push.

Never run against a real SNS (none in this project's lab): tested against a serverd simulator
(tests/platforms/fakesns.py) driven through this module. See docs/platforms.md.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

from ..devices.serverd import ServerdSession
from . import stormshield_plan as sp
from .common import Options, Result
from .errors import CommandError, ConnectionLost, DeployError, VerifyError
from .session import Target

SessionFactory = Callable[[Target], Any]
CANCEL = "CONFIG CANCELALL"
# the attributes vendorwall writes per object type (a device answer holds more: prefixlen, ipv6, used...)
KEYS = {"host": ("ip", "resolve", "comment"), "network": ("ip", "mask", "comment"), "group": ("comment",),
        "service": ("port", "proto", "toport", "comment"), "servicegroup": ("comment",),
        "time": ("time", "weekday", "yearday", "date", "comment")}


def _defaults() -> dict[str, Any]:
    from ..platforms import registry

    return registry.get("stormshield").defaults


def default_session(t: Target) -> ServerdSession:
    return ServerdSession(t, str(_defaults().get("serverd_command", "cli")))


def slot_of(t: Target) -> int:
    return int(t.extra.get("filter_slot", _defaults().get("filter_slot", 9)))


def _backup(target: Target, running: str, keep: int) -> str:
    d = os.path.join(target.backup_dir, target.device)
    os.makedirs(d, mode=0o700, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{int(time.time() * 1000) % 1000:03d}"
    path = os.path.join(d, f"{stamp}.cfg")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as fh:
        fh.write(running)
    old = sorted(f for f in os.listdir(d) if f.endswith(".cfg"))
    for f in old[:-keep] if keep > 0 else []:
        os.unlink(os.path.join(d, f))
    return path


def running_config(s: Any, slot: int) -> str:
    """vendorwall's part of the firewall as it answers (objects, owned group members, the slot, interfaces)."""
    answers = [(c, s.run(c).text) for c in sp.read_commands(slot)]
    cfg = sp.parse_running(sp.running_text(answers))
    for name, (kind, _a) in sorted(cfg.objects.items()):
        if kind in ("group", "servicegroup") and name.startswith("vw-"):
            c = sp.member_command(kind, name)
            answers.append((c, s.run(c).text))
    return sp.running_text(answers)


def apply_phases(s: Any, phases: list[list[str]]) -> int:
    """Run each phase; on a rejected command cancel the pending changes and raise. Returns the number of
    phases activated."""
    done = 0
    for phase in phases:
        try:
            for c in phase:
                s.run(c)
        except CommandError as exc:
            with contextlib.suppress(DeployError):
                s.run(CANCEL)
            exc.rolled_back = done == 0
            raise
        done += 1
    return done


def push(target: Target, text: str, opts: Options | None = None, *,
         session_factory: SessionFactory = default_session) -> Result:
    opts = opts or Options()
    t0 = time.monotonic()
    res = Result(target.device, target.platform)
    slot = slot_of(target)
    s = session_factory(target)
    try:
        s.open()
        s.run("MODIFY ON")
        running = running_config(s, slot)
        p = sp.plan_stormshield(target.device, running, text, slot=slot)
        res.changed, res.diff, res.commands, res.before, res.after = p.changed, p.diff, p.commands, p.before, p.after
        if not p.changed or opts.check:
            return res
        res.backup = _backup(target, running, opts.backups)
        try:
            apply_phases(s, p.phases)
        except CommandError as exc:
            res.rolled_back = bool(exc.rolled_back)
            raise
        if opts.after_apply:
            opts.after_apply(s)
        now = running_config(s, slot)
        left = sp.satisfied(now, text, slot=slot)
        if left:
            err = VerifyError(target.device, target.platform, "CONFIG OBJECT LIST / CONFIG FILTER EXPLICIT",
                              "the firewall differs from the intent after activation: " + "; ".join(left[:10]))
            err.rolled_back = _rollback(s, now, running, slot)
            res.rolled_back = bool(err.rolled_back)
            raise err
        res.after = sp.plan_stormshield(target.device, now, text, slot=slot).before
        return res
    except DeployError as exc:
        res.error = exc
        return res
    finally:
        res.log = list(getattr(s, "log", []))
        with contextlib.suppress(Exception):
            s.close()
        res.seconds = time.monotonic() - t0


# syslog profile arguments that take "" (CONFIG COMMUNICATION SYSLOG PROFILE UPDATE): an empty one in the backup is
# restored as empty (Server="" un-names vendorwall's host object); other empty answers are left out
SYSLOG_EMPTY_OK = {"comment", "server", "backupserver", "bindaddr", "caserver", "certserver", "certclient",
                   "sekoiaintakekey"}


def backup_as_script(running: str, slot: int) -> str:
    """The backup's state of vendorwall's objects and rules as a script the planner can aim at."""
    cfg = sp.parse_running(running)
    lines: list[str] = []
    for name, attrs in cfg.interfaces.items():
        if attrs.get("comment", "").startswith("vendorwall "):
            lines.append(f"CONFIG NETWORK INTERFACE CREATE name={sp.q(name)} {sp._iface_args(attrs)}")
    for name, (kind, attrs) in cfg.objects.items():
        if name.startswith("vw-") and not name.startswith(sp.DRIVER_PREFIX):
            lines.append(sp._object_command(name, kind, {k: v for k, v in attrs.items() if k in KEYS[kind]}))
    for name, members in cfg.members.items():
        if name.startswith("vw-"):
            kind = cfg.objects[name][0]
            lines += [f"CONFIG OBJECT {kind.upper()} ADDTO group={sp.q(name)} node={sp.q(m)}" for m in members]
    for index, attrs in cfg.syslog.items():  # every profile as it was: only the changed one differs
        kept = {k: v for k, v in attrs.items() if v or k.lower() in SYSLOG_EMPTY_OK}
        lines.append(f"CONFIG COMMUNICATION SYSLOG PROFILE UPDATE Index={index} "
                     + " ".join(f"{k}={sp.q(v)}" for k, v in kept.items()))
    n = 0
    for r in cfg.rules:
        if r.get("rulename", "").startswith("vw-"):
            n += 1
            args = " ".join(f"{k}={sp.q(v)}" for k, v in r.items() if k not in ("type",))
            lines.append(f"CONFIG FILTER RULE INSERT index={slot} type=filter position={n} {args}")
    return "\n".join(lines) + "\n"


def _rollback(s: Any, now: str, backup: str, slot: int) -> bool:
    """Restore the backup's state of vendorwall's objects and rules; True when the firewall is back to it."""
    try:
        want = backup_as_script(backup, slot)
        back = sp.plan_stormshield(s.t.device, now, want, slot=slot)
        apply_phases(s, back.phases)
        return not sp.satisfied(running_config(s, slot), want, slot=slot)
    except (DeployError, ConnectionLost):
        return False
