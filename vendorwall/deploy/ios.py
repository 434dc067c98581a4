"""Push a rendered IOS switch configuration (netmiko ``cisco_ios``), want vs. have.

    show running-config -> backup on the controller (``backup_dir/<device>/<stamp>.cfg``, kept
    ``backups`` deep) -> plan (``ios_plan``: only what vendorwall owns) -> [check mode stops here]
    -> configuration commands, one by one, each checked against the platform's error patterns
    (``vendorwall/platforms/ios.yml``) -> verify (``show running-config`` again: the owned part
    equals the target) -> ``write memory``.

IOS applies line by line (no transaction). A rejected command, or a verification failure, makes
the controller send the commands that restore the backup's state of everything the push touched
(``rolled_back: true``), and nothing is saved: the startup configuration still holds the previous
state. A session lost mid-change leaves the running configuration partly changed and unsaved (a
reload or a rerun, which plans against what runs, converges); a device-side commit-confirm for
IOS (``configure terminal revert timer``) is not modelled by the lab's simulator, see docs/deploy.md.
"""

from __future__ import annotations

import os
import time

from ..state import ensure_dir, write_private
from . import ios_plan
from .common import Options, Result
from .errors import CommandError, ConnectionLost, DeployError, VerifyError
from .session import Session, Target


def _backup(target: Target, running: str, keep: int) -> str:
    d = ensure_dir(os.path.join(target.backup_dir, target.device))  # 0700: configurations hold secrets
    stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{int(time.time() * 1000) % 1000:03d}"
    path = os.path.join(d, f"{stamp}.cfg")
    write_private(path, running)  # 0600
    old = sorted(f for f in os.listdir(d) if f.endswith(".cfg"))
    for f in old[:-keep] if keep > 0 else []:
        os.unlink(os.path.join(d, f))
    return path


def _strip_banner(out: str) -> str:
    """``show running-config`` output from its first configuration line (no 'Building configuration')."""
    lines = out.replace("\r", "").splitlines()
    for i, line in enumerate(lines):
        if line.startswith(("version ", "hostname ", "!")):
            return "\n".join(lines[i:]) + "\n"
    return "\n".join(lines) + "\n"


def running_config(s: Session) -> str:
    return _strip_banner(s.show("show running-config", timeout=max(s.t.command_timeout, 120)))


def push(target: Target, text: str, opts: Options | None = None) -> Result:
    opts = opts or Options()
    t0 = time.monotonic()
    res = Result(target.device, target.platform)
    s = Session(target)
    vlan_range = target.extra.get("vlan_range")
    try:
        if not vlan_range:
            raise DeployError(target.device, target.platform, "plan",
                              "no vlan_range for this switch: vendorwall cannot tell which VLANs it owns")
        vr = (int(vlan_range[0]), int(vlan_range[1]))
        s.open()
        running = running_config(s)
        try:
            p = ios_plan.plan_ios(target.device, running, text, vr)
        except ValueError as exc:
            raise DeployError(target.device, target.platform, "plan", str(exc)) from None
        res.changed, res.diff, res.commands, res.before, res.after = p.changed, p.diff, p.commands, p.before, p.after
        if not p.changed or opts.check:
            return res
        res.backup = _backup(target, running, opts.backups)
        try:
            s.configure(p.commands)
            now = running_config(s)
            if not ios_plan.satisfied(now, p.target, vr):
                have = ios_plan.canonical(ios_plan.owned(ios_plan.parse(now), p.target.ports, vr))
                raise VerifyError(target.device, target.platform, "show running-config",
                                  "the running configuration differs from the target after applying:\n"
                                  + ios_plan.unified(p.after, have, target.device)[:3000])
        except (CommandError, VerifyError) as exc:
            exc.rolled_back = _rollback(s, running, p, vr)
            res.rolled_back = bool(exc.rolled_back)
            raise
        s.show("write memory", timeout=max(target.command_timeout, 120))
        res.after = ios_plan.canonical(ios_plan.owned(ios_plan.parse(now), p.target.ports, vr))
        return res
    except ConnectionLost as exc:
        if res.backup:
            exc.message += " (the change may be partly applied, and is not saved: rerun to converge)"
        res.error = exc
        return res
    except DeployError as exc:
        res.error = exc
        return res
    finally:
        res.log = s.log
        s.close()
        res.seconds = time.monotonic() - t0


def _rollback(s: Session, backup: str, p: ios_plan.IosPlan, vr: tuple[int, int]) -> bool:
    """Restore the backup's state of what the push touched; True when the device is back to it."""
    try:
        now = running_config(s)
        cmds = ios_plan.rollback_commands(now, backup, p.target.ports, vr)
        if cmds:
            s.configure(cmds)
        old = ios_plan.owned(ios_plan.parse(backup), p.target.ports, vr)
        return ios_plan.satisfied(running_config(s), old, vr)
    except DeployError:
        return False
