"""Push a rendered Cisco ASA configuration (netmiko ``cisco_asa``), want vs. have, access list swapped at once.

    show running-config <each section vendorwall writes> -> backup on the controller (0600, kept
    ``backups`` deep) -> plan (``asa_plan``: only vendorwall's objects; state kept; another global access
    list is a refusal) -> [check mode stops here: the exact commands are in the result] -> the commands
    (object-groups and time-ranges, the new access list under the spare name, ``access-group ... global``,
    the old list cleared, stale objects) -> verify (show again: nothing left to change) -> write memory

A rejected command or a failed verification: the commands that bring vendorwall's part back to the
backup (the old access list bound again if the swap had happened, changed object-groups and
time-ranges restored), then verified; nothing is saved, so a reload also returns to the startup
configuration. ``write memory`` only after a verified change.

Never run against a real ASA (none in this project's lab): tested against an ASA CLI simulator
(tests/platforms/fakeasa.py) driven through this module; netmiko's ``cisco_asa`` session set-up is
netmiko's own. See docs/platforms.md.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

from . import asa_plan as ap
from .common import Options, Result
from .errors import CommandError, DeployError, VerifyError
from .session import Session, Target

SessionFactory = Callable[[Target], Any]


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


def running_config(s: Any) -> str:
    return "".join(s.show(c, timeout=max(s.t.command_timeout, 120)) + "\n" for c in ap.SHOW)


def push(target: Target, text: str, opts: Options | None = None, *,
         session_factory: SessionFactory = Session) -> Result:
    opts = opts or Options()
    t0 = time.monotonic()
    res = Result(target.device, target.platform)
    s = session_factory(target)
    try:
        s.open()
        running = running_config(s)
        try:
            p = ap.plan_asa(target.device, running, text)
        except ap.Refused as exc:
            raise CommandError(target.device, target.platform, "show running-config access-group", str(exc)) from None
        res.changed, res.diff, res.commands, res.before, res.after = p.changed, p.diff, p.commands, p.before, p.after
        if not p.changed or opts.check:
            return res
        res.backup = _backup(target, running, opts.backups)
        try:
            s.configure(p.commands)
        except CommandError as exc:
            exc.rolled_back = res.rolled_back = _rollback(s, running)
            raise
        if opts.after_apply:
            opts.after_apply(s)
        now = running_config(s)
        left = ap.satisfied(now, text)
        if left:
            err = VerifyError(target.device, target.platform, "show running-config",
                              "the ASA differs from the intent after the change: " + "; ".join(left[:10]))
            err.rolled_back = res.rolled_back = _rollback(s, running)
            raise err
        s.show("write memory")
        res.after = ap.plan_asa(target.device, now, text).before
        return res
    except DeployError as exc:
        res.error = exc
        return res
    finally:
        res.log = list(getattr(s, "log", []))
        with contextlib.suppress(Exception):
            s.close()
        res.seconds = time.monotonic() - t0


def _rollback(s: Any, backup: str) -> bool:
    """Bring vendorwall's part back to the backup; True when the ASA runs it again (nothing saved)."""
    try:
        back = ap.plan_asa(s.t.device, running_config(s), backup)
        if back.commands:
            s.configure(back.commands)
        return not ap.satisfied(running_config(s), backup)
    except (DeployError, ap.Refused):
        return False
