"""The push of a CLI switch over a netmiko session, want vs. have, shared by NX-OS and AOS-CX.

    show running-config -> backup on the controller -> plan (``switch_plan`` with the platform's
    dialect) -> [check mode stops here] -> the platform's safety net (NX-OS: a named checkpoint;
    AOS-CX: ``checkpoint auto``, which the switch reverts by itself unless confirmed) ->
    configuration commands, each checked against the platform's error patterns -> verify
    (``show running-config``: the owned part equals the target) -> confirm and save.

A rejected command or a failed verification rolls back (the platform's own rollback first where it
has one, then the reverse commands of what the push touched) and nothing is saved. The flavour of
each platform says how.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from . import switch_plan
from .common import Options, Result
from .errors import CommandError, ConnectionLost, DeployError, VerifyError
from .ios import _backup, _strip_banner
from .session import Session, Target


@dataclass(frozen=True)
class Flavour:
    dialect: switch_plan.Dialect
    parse: Callable[[str], switch_plan.SwitchConfig]
    # exec commands around the change; ``{name}`` is the checkpoint name, ``{minutes}`` the confirm timer
    prepare: tuple[str, ...]  # before the configuration commands
    native_rollback: tuple[str, ...]  # the platform's own rollback ((): none)
    confirm: tuple[str, ...]  # after a verified change (and after a rollback that restored the backup)
    save: tuple[str, ...]  # after confirm
    cleanup: tuple[str, ...]  # always, once prepare ran (best effort)
    lost_note: str  # what the switch does when the session is lost mid-change


def _vlan_range(target: Target) -> tuple[int, int]:
    vr = target.extra.get("vlan_range")
    if not vr:
        raise DeployError(target.device, target.platform, "plan",
                          "no vlan_range for this switch: vendorwall cannot tell which VLANs it owns")
    return int(vr[0]), int(vr[1])


def running_config(s: Session) -> str:
    return _strip_banner(s.show("show running-config", timeout=max(s.t.command_timeout, 120)))


def checkpoint_name(now: float | None = None) -> str:
    """``vendorwall_20261128T091402_123``: letters, digits and underscores only (both OSes accept it)."""
    now = time.time() if now is None else now
    return time.strftime("vendorwall_%Y%m%dT%H%M%S", time.gmtime(now)) + f"_{int(now * 1000) % 1000:03d}"


def push(flavour: Flavour, target: Target, text: str, opts: Options | None = None) -> Result:
    opts = opts or Options()
    d = flavour.dialect
    t0 = time.monotonic()
    res = Result(target.device, target.platform)
    s = Session(target)
    fmt = {"name": checkpoint_name(), "minutes": max(1, -(-opts.confirm_s // 60))}
    prepared = False
    try:
        vr = _vlan_range(target)
        want = flavour.parse(text)
        s.open()
        running = running_config(s)
        have = flavour.parse(running)
        try:
            p = switch_plan.plan(d, target.device, have, want, vr)
        except ValueError as exc:
            raise DeployError(target.device, target.platform, "plan", str(exc)) from None
        res.changed, res.diff, res.commands, res.before, res.after = p.changed, p.diff, p.commands, p.before, p.after
        if not p.changed or opts.check:
            return res
        res.backup = _backup(target, running, opts.backups)
        for c in flavour.prepare:
            s.show(c.format(**fmt))
        prepared = True
        try:
            s.configure(p.commands)
            if opts.after_apply is not None:
                opts.after_apply(s)
            now = flavour.parse(running_config(s))
            if not switch_plan.satisfied(d, now, p.target, vr):
                raise VerifyError(target.device, target.platform, "show running-config",
                                  "the running configuration differs from the target after applying:\n"
                                  + switch_plan.unified(p.after, switch_plan.owned_text(d, now, p.target.ports, vr),
                                                        target.device)[:3000])
        except (CommandError, VerifyError) as exc:
            exc.rolled_back = _rollback(flavour, s, have, p, vr, fmt)
            res.rolled_back = bool(exc.rolled_back)
            raise
        for c in (*flavour.confirm, *flavour.save):
            s.show(c.format(**fmt), timeout=max(target.command_timeout, 120))
        res.after = switch_plan.owned_text(d, now, p.target.ports, vr)
        return res
    except ConnectionLost as exc:
        if res.backup:
            exc.message += f" ({flavour.lost_note})"
        res.error = exc
        return res
    except DeployError as exc:
        res.error = exc
        return res
    finally:
        if prepared and s.conn is not None:
            for c in flavour.cleanup:
                try:
                    s.show(c.format(**fmt))
                except DeployError:
                    break
        res.log = s.log
        s.close()
        res.seconds = time.monotonic() - t0


def _rollback(flavour: Flavour, s: Session, backup: switch_plan.SwitchConfig, p: switch_plan.SwitchPlan,
              vr: tuple[int, int], fmt: dict[str, object]) -> bool:
    """Back to the backup's state of what the push touched; True when the switch is there (then the
    change is confirmed as undone, so a pending auto-checkpoint timer has nothing left to revert)."""
    d = flavour.dialect
    ports = list(p.target.ports)
    old = switch_plan.owned(switch_plan.complete(d, backup, ports), ports, vr)
    try:
        for c in flavour.native_rollback:
            try:
                s.show(c.format(**fmt), timeout=max(s.t.command_timeout, 300))
            except CommandError:  # the platform's rollback failed: the reverse commands below still run
                break
        now = flavour.parse(running_config(s))
        if not switch_plan.satisfied(d, now, old, vr):
            cmds = switch_plan.rollback_commands(d, now, backup, ports, vr)
            if cmds:
                s.configure(cmds)
            now = flavour.parse(running_config(s))
        ok = switch_plan.satisfied(d, now, old, vr)
        if ok:
            for c in flavour.confirm:
                s.show(c.format(**fmt))
        return ok
    except DeployError:
        return False
