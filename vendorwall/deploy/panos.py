"""Push a rendered PAN-OS configuration to a firewall (XML API), want vs. have, one commit.

    config lock -> the candidate must hold no one else's pending changes -> get each container vendorwall
    writes -> backup on the controller (0600, kept ``backups`` deep) -> plan (``panos_plan``) -> [check
    mode stops here: the exact API calls are in the result] -> set/edit/move/delete in the candidate ->
    commit lock -> commit (synchronous) -> verify (get again: nothing left to change) -> locks released

Atomic: the firewall applies the candidate at once on commit. A rejected call or a failed commit
reverts the candidate (``load config from running-config.xml``: nothing applied, ``rolled_back``).
A verification failure after the commit sends the calls that restore the backup's state and commits
again. Locks are always released (a lock left by a lost session expires with the admin session).

The rendered quarantine (``<register tag="vw-quarantine">``: the vendors isolated at render time) is
registered first, the missing prefixes only, persistent, in one User-ID call (as ``vendorwall isolate``
does; no commit needed), so a commit that introduces a new entry path of an isolated vendor finds it
closed already. A deploy never unregisters: ``vendorwall restore`` does.

Never run against a real PAN-OS (none in this project's lab): tested against an XML API simulator
(tests/platforms/fakepanos.py) driven through this module. See docs/platforms.md.
"""

from __future__ import annotations

import contextlib
import os
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from ..devices.panos_api import PanApi
from ..render.panos_xml import parse
from . import panos_plan as pp
from .common import Options, Result
from .errors import CommandError, DeployError, VerifyError
from .session import Target

SessionFactory = Callable[[Target], Any]
CONFIG_LOCK = "<request><config-lock><add><comment>vendorwall deploy</comment></add></config-lock></request>"
CONFIG_UNLOCK = "<request><config-lock><remove></remove></config-lock></request>"
COMMIT_LOCK = "<request><commit-lock><add><comment>vendorwall deploy</comment></add></commit-lock></request>"
COMMIT_UNLOCK = "<request><commit-lock><remove></remove></commit-lock></request>"
PENDING = "<check><pending-changes></pending-changes></check>"
REVERT = "<load><config><from>running-config.xml</from></config></load>"


def default_session(t: Target) -> PanApi:
    from ..platforms import registry

    return PanApi(t, float(registry.get("panos").defaults.get("commit_timeout", 600)))


def _backup(target: Target, running: str, keep: int) -> str:
    d = os.path.join(target.backup_dir, target.device)
    os.makedirs(d, mode=0o700, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{int(time.time() * 1000) % 1000:03d}"
    path = os.path.join(d, f"{stamp}.xml")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as fh:
        fh.write(running)
    old = sorted(f for f in os.listdir(d) if f.endswith(".xml"))
    for f in old[:-keep] if keep > 0 else []:
        os.unlink(os.path.join(d, f))
    return path


def candidate(s: Any, intended: str) -> str:
    """The firewall's candidate configuration at every container the intent names."""
    containers: dict[str, ET.Element | None] = {}
    for xpath in parse(intended).sets:
        res = s.get(xpath)
        containers[xpath] = res[0] if len(res) else None
    return pp.running_text(containers)


def apply_calls(s: Any, calls: list[pp.Call]) -> None:
    for c in calls:
        if c.action == "move":
            s.move(c.xpath, c.where, c.dst or None)
        elif c.action == "delete":
            s.delete(c.xpath)
        else:
            getattr(s, c.action)(c.xpath, c.element)


def _revert(s: Any) -> bool:
    try:
        s.op(REVERT)
        return True
    except DeployError:
        return False


def push(target: Target, text: str, opts: Options | None = None, *,
         session_factory: SessionFactory = default_session) -> Result:
    opts = opts or Options()
    t0 = time.monotonic()
    res = Result(target.device, target.platform)
    s = session_factory(target)
    locks: list[str] = []
    try:
        s.open()
        s.op(CONFIG_LOCK)
        locks.append(CONFIG_UNLOCK)
        if (s.op(PENDING).text or "").strip() == "yes":
            raise CommandError(target.device, target.platform, "check pending-changes",
                               "the candidate configuration holds uncommitted changes (another administrator's?): "
                               "commit or revert them first; nothing was changed")
        running = candidate(s, text)
        p = pp.plan_panos(target.device, running, text)
        res.changed, res.diff, res.commands, res.before, res.after = p.changed, p.diff, p.commands, p.before, p.after
        reg = _quarantine_message(s, text)
        if reg:  # the render-time quarantine, registered before the commit that may open a new entry path
            res.changed, res.commands = True, [f"user-id {reg}", *res.commands]
            if not opts.check:
                _register(s, target, text, reg)
        if not p.changed or opts.check:
            return res
        res.backup = _backup(target, running, opts.backups)
        try:
            apply_calls(s, p.calls)
            s.op(COMMIT_LOCK)
            locks.append(COMMIT_UNLOCK)
            s.commit()
        except DeployError as exc:
            exc.rolled_back = res.rolled_back = _revert(s)
            raise
        if opts.after_apply:
            opts.after_apply(s)
        now = candidate(s, text)
        left = pp.satisfied(now, text)
        if left:
            err = VerifyError(target.device, target.platform, "get",
                              "the candidate differs from the intent after the commit: " + "; ".join(left[:5]))
            err.rolled_back = res.rolled_back = _rollback(s, now, running)
            raise err
        res.after = pp.plan_panos(target.device, now, text).before
        return res
    except DeployError as exc:
        res.error = exc
        return res
    finally:
        for unlock in reversed(locks):
            with contextlib.suppress(DeployError):
                s.op(unlock)
        res.log = list(getattr(s, "log", []))
        with contextlib.suppress(Exception):
            s.close()
        res.seconds = time.monotonic() - t0


def _quarantine_message(s: Any, text: str) -> str:
    """The User-ID message registering the file's render-time quarantine (``<register tag="vw-quarantine">``)
    that the firewall does not hold yet; empty when nothing is missing."""
    from ..devices import panos as driver  # the driver imports this module

    want = parse(text).registered.get(driver.QUARANTINE, [])
    if not want:
        return ""
    have = set(driver.parse_state(s.op(driver.STATE)).quarantine)
    missing = [n for n in want if n not in have]
    return driver.quarantine_message(missing) if missing else ""


def _register(s: Any, target: Target, text: str, message: str) -> None:
    s.user_id(message)
    left = _quarantine_message(s, text)
    if left:
        raise VerifyError(target.device, target.platform, "user-id",
                          "the render-time quarantine is not registered after the call: " + left)


def _rollback(s: Any, now: str, backup: str) -> bool:
    """Send the candidate back to the backup's state of vendorwall's entries and commit; True when it is."""
    try:
        back = pp.plan_panos(s.t.device, now, backup)
        apply_calls(s, back.calls)
        s.commit()
        return not pp.satisfied(candidate(s, backup), backup)
    except DeployError:
        _revert(s)
        return False
