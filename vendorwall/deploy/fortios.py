"""Push a rendered FortiOS configuration to a FortiGate (netmiko ``fortinet``), want vs. have.

    show <each table vendorwall writes> -> backup on the controller (``backup_dir/<device>/<stamp>.cfg``,
    0600, kept ``backups`` deep) -> plan (``fortios_plan``: only vendorwall's objects; live state kept)
    -> [check mode stops here: the exact CLI commands are in the result]
    -> ``execute config-transaction start`` -> the commands, each checked against the platform's error
    patterns -> ``execute config-transaction commit`` -> verify (show again: nothing left to change)

Workspace mode (FortiOS >= 6.2) makes the change all or nothing: a rejected command makes the
pusher ``abort`` out of the block and the transaction (nothing applied, ``rolled_back: true``); a
session lost before the commit leaves the transaction to expire on the FortiGate (5 minutes idle),
discarding it. A verification failure after the commit sends the commands that restore the backup's
state of vendorwall's objects, in a new transaction.

Never run against a real FortiGate (none in this project's lab): the code path is tested against a
FortiOS CLI simulator (tests/platforms/fakefortigate.py) driven through this module, and the netmiko
``fortinet`` session set-up (prompt, paging) is netmiko's own. See docs/platforms.md.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

from . import fortios_plan
from .common import Options, Result
from .errors import CommandError, ConnectionLost, DeployError, VerifyError
from .session import Session, Target

START = "execute config-transaction start"
COMMIT = "execute config-transaction commit"
ABORT = "execute config-transaction abort"
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
    """The tables vendorwall writes, as the FortiGate shows them (one ``show`` per table)."""
    return "".join(s.show(cmd, timeout=max(s.t.command_timeout, 120)) + "\n" for cmd in fortios_plan.SHOW)


def _transaction(s: Any, commands: list[str]) -> None:
    """One workspace transaction; on a rejected command: abort out of the block and the transaction."""
    try:
        s.configure([START, *commands, COMMIT])
    except CommandError:
        abort_transaction(s)
        raise


def abort_transaction(s: Any) -> None:
    """After a rejected command: leave the edit and config blocks without saving, then the transaction."""
    with contextlib.suppress(DeployError):
        s.configure(["abort", "abort", "abort", ABORT])


def push(target: Target, text: str, opts: Options | None = None, *,
         session_factory: SessionFactory = Session) -> Result:
    from ..platforms import registry

    opts = opts or Options()
    t0 = time.monotonic()
    res = Result(target.device, target.platform)
    s = session_factory(target)
    id_base = int(registry.get("fortios").defaults.get("policy_id_base", 900000))
    try:
        s.open()
        running = running_config(s)
        p = fortios_plan.plan_fortios(target.device, running, text, id_base=id_base)
        res.changed, res.diff, res.commands, res.before, res.after = p.changed, p.diff, p.commands, p.before, p.after
        if not p.changed or opts.check:
            return res
        res.backup = _backup(target, running, opts.backups)
        try:
            _transaction(s, p.commands)
        except CommandError as exc:
            exc.rolled_back = True  # workspace mode: nothing of the transaction was applied
            res.rolled_back = True
            raise
        if opts.after_apply:
            opts.after_apply(s)
        now = running_config(s)
        left = fortios_plan.satisfied(now, text)
        if left:
            err = VerifyError(target.device, target.platform, "show",
                              "the FortiGate differs from the intent after the commit: " + "; ".join(left[:10]))
            err.rolled_back = _rollback(s, now, running, id_base)
            res.rolled_back = bool(err.rolled_back)
            raise err
        res.after = fortios_plan.plan_fortios(target.device, now, text, id_base=id_base).before
        return res
    except ConnectionLost as exc:
        if res.backup:
            exc.message += " (an uncommitted transaction is discarded by the FortiGate after 5 minutes idle)"
        res.error = exc
        return res
    except DeployError as exc:
        res.error = exc
        return res
    finally:
        res.log = list(getattr(s, "log", []))
        s.close()
        res.seconds = time.monotonic() - t0


def _rollback(s: Any, now: str, backup: str, id_base: int) -> bool:
    """Restore the backup's state of vendorwall's objects; True when the FortiGate is back to it."""
    try:
        back = fortios_plan.plan_fortios(s.t.device, now, backup, id_base=id_base)
        if back.commands:
            _transaction(s, back.commands)
        return not fortios_plan.satisfied(running_config(s), backup)
    except DeployError:
        return False
