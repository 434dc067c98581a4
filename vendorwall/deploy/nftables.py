"""Safe apply of a rendered nftables file to one Linux firewall.

    upload (one base64 line, checksum checked) -> plan (intended listing from a throwaway netns
    on the device vs. the live listing) -> [check mode stops here] -> backup (full ruleset, kept
    ``backups`` deep) + rollback file (previous policy table and state chain only) -> arm the
    commit-confirm timer on the device -> ``nft -f`` (one transaction) -> verify (live listing ==
    intended listing, and a *new* management session answers) -> confirm (cancel the timer).

If verification fails the controller loads the rollback file itself; if the controller loses the
session anywhere between arming and confirming, the timer on the device loads it after
``confirm_s`` seconds. The state table's sets (quarantine, grants) are never flushed or replaced.
The whole push runs under the device lock (``devlock``: ``flock`` held by the session's own shell).
"""

from __future__ import annotations

import base64
import hashlib
import shlex
import time

from . import devlock
from . import plan as planning
from .common import Options, Result
from .errors import ConfirmError, ConnectionLost, DeployError, VerifyError
from .session import Session, Target

__all__ = ["Options", "Result", "push"]


def _q(path: str) -> str:
    return shlex.quote(path)


def upload(s: Session, text: str, path: str) -> str:
    data = text.encode()
    digest = hashlib.sha256(data).hexdigest()
    b64 = base64.b64encode(data).decode()
    tmp = path + ".tmp"
    _, out = s.run(f"echo {b64} | base64 -d > {_q(tmp)} && sha256sum {_q(tmp)}")
    if digest not in out:
        raise DeployError(s.t.device, s.t.platform, f"upload {path}", f"checksum mismatch: {out.strip()[:200]}")
    s.run(f"mv -f {_q(tmp)} {_q(path)}")
    return digest


def live_listing(s: Session) -> str:
    return s.run(planning.listing_command())[1]


def intended_listing(s: Session, path: str) -> str:
    """Load the file into a fresh network namespace on the device and list it there."""
    inner = f"nft -f {_q(path)} && {planning.listing_command()}"
    return s.run(f"unshare --net sh -c {shlex.quote(inner)}")[1]


def _refuse_if_pending(s: Session, rd: str) -> None:
    """An earlier push still waiting for its rollback timer: refuse (its timer would undo ours)."""
    _, out = s.run(f"for f in {_q(rd)}/pending.*; do [ -e \"$f\" ] || continue; "
                   "if kill -0 \"$(cat \"$f\")\" 2>/dev/null; then echo \"__LIVE $f\"; else rm -f \"$f\"; fi; done")
    if "__LIVE" in out:
        raise DeployError(s.t.device, s.t.platform, "check pending rollback timers",
                          "an earlier unconfirmed change is still waiting for its rollback timer "
                          f"({out.split('__LIVE')[1].strip()}); retry after it fires")


def _timer_script(pending: str, rb: str, confirm_s: int) -> str:
    """The commit-confirm timer. It and the controller race for the flag file: the timer claims it by
    renaming it (``mv``), the controller by removing it (``rm``); exactly one succeeds, so a confirm
    that comes too late is reported as such, never as a success over a rolled-back device. TERM (the
    controller's cancel) also stops the sleep, so no orphan is left."""
    return (f"trap 'kill $s 2>/dev/null; exit 0' TERM; sleep {confirm_s} & s=$!; wait $s; "
            f"if mv {_q(pending)} {_q(pending)}.expired 2>/dev/null; then nft -f {_q(rb)}; "
            f"rm -f {_q(pending)}.expired; fi")


def _claim(pending: str, timer_pid: str) -> str:
    """Shell: cancel the timer if the flag is still ours (prints __VW_CLAIMED), else wait until the
    timer's rollback has finished (at most 30 s)."""
    kill = f"kill {timer_pid} 2>/dev/null; " if timer_pid else ""
    return (f"if rm {_q(pending)} 2>/dev/null; then {kill}echo __VW_CLAIMED; else "
            f"i=0; while [ -e {_q(pending)}.expired ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; fi")


def push(target: Target, text: str, opts: Options | None = None) -> Result:
    opts = opts or Options()
    t0 = time.monotonic()
    res = Result(target.device, target.platform)
    s = Session(target)
    rd = target.remote_dir
    timer_pid = ""
    locked = False
    try:
        s.open()
        s.run(f"mkdir -p {_q(rd)}/backup")
        devlock.acquire(s, opts.lock_wait_s)
        locked = True
        _refuse_if_pending(s, rd)
        intended = f"{rd}/intended.nft"
        upload(s, text, intended)
        p = planning.plan_nftables(target.device, live_listing(s), intended_listing(s, intended),
                                   remote_dir=rd, confirm_s=opts.confirm_s, backups=opts.backups)
        res.changed, res.diff, res.commands, res.before = p.changed, p.diff, p.commands, p.before
        res.after = p.want
        if not p.changed or opts.check:
            return res
        stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{int(time.time() * 1000) % 1000:03d}"
        res.backup = f"{rd}/backup/{stamp}.nft"
        s.run(f"nft list ruleset > {_q(res.backup)} && ls -1t {_q(rd)}/backup/*.nft | tail -n +{opts.backups + 1} "
              f"| xargs -r rm -f")
        rb = f"{rd}/rollback.nft.{stamp}"
        pol, st = planning.POLICY_TABLE, planning.STATE_TABLE
        s.run("{ echo " + shlex.quote(f"table {pol}") + "; echo " + shlex.quote(f"delete table {pol}")
              + f"; nft list table {pol} 2>/dev/null; "
              f"if nft list chain {st} forward >/dev/null 2>&1; then echo 'flush chain {st} forward'; "
              f"nft list chain {st} forward; fi; }} > {_q(rb)}.tmp && mv -f {_q(rb)}.tmp {_q(rb)}")
        # commit-confirm: the device rolls back by itself unless the controller confirms in time.
        # The flag file names this push; the timer only acts on its own flag. The timer closes the
        # device-lock descriptor so it never holds the lock.
        pending = f"{rd}/pending.{stamp}"
        script = _timer_script(pending, rb, opts.confirm_s)
        _, out = s.run(f"nohup sh -c {shlex.quote(script)} {devlock.FD}>&- >/dev/null 2>&1 </dev/null & "
                       "echo __PID=$!")
        timer_pid = out.split("__PID=")[-1].split()[0] if "__PID=" in out else ""
        s.run(f"echo {timer_pid} > {_q(pending)}")
        s.run(f"nft -f {_q(intended)}", timeout=max(target.command_timeout, 120))
        if opts.after_apply:
            opts.after_apply(s)
        try:
            after = planning.normalize(live_listing(s))
            if after != p.want:
                raise VerifyError(target.device, target.platform, "nft list table",
                                  "the running table differs from the intended one:\n"
                                  + planning.unified(p.want, after, target.device)[:3000])
            if opts.verify_mgmt:
                probe = Session(target)
                try:
                    probe.open()
                    _, out = probe.run("echo vw-mgmt-ok")
                    if "vw-mgmt-ok" not in out:
                        raise VerifyError(target.device, target.platform, "echo vw-mgmt-ok",
                                          "management session did not answer")
                except DeployError as exc:
                    raise VerifyError(target.device, target.platform, "new management session",
                                      f"management access lost after apply: {exc.message}") from None
                finally:
                    probe.close()
        except VerifyError as exc:
            # claim the flag first: either we roll back, or the timer already is
            _, out = s.run(_claim(pending, timer_pid))
            if "__VW_CLAIMED" in out:
                s.run(f"nft -f {_q(rb)}")
            exc.rolled_back = True
            res.rolled_back = True
            raise
        _, out = s.run(_claim(pending, timer_pid))
        if "__VW_CLAIMED" not in out:
            res.rolled_back = True
            raise ConfirmError(target.device, target.platform, "confirm",
                               f"the commit-confirm timer ({opts.confirm_s} s) expired before the controller "
                               "confirmed: the device rolled back to its previous policy; "
                               "raise confirm_seconds", rolled_back=True)
        s.run(f"ls -1t {_q(rd)}/rollback.nft.* | tail -n +{opts.backups + 1} | xargs -r rm -f; true")
        res.after = after
        return res
    except ConnectionLost as exc:
        if timer_pid:
            exc.message += f" (the device rolls back by itself within {opts.confirm_s} s unless confirmed)"
        res.error = exc
        return res
    except DeployError as exc:
        res.error = exc
        return res
    finally:
        if locked and s.conn is not None:
            devlock.release(s)
        res.log = s.log
        s.close()
        res.seconds = time.monotonic() - t0
