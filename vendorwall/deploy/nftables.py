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

Then, when the target carries one (``target.extra["connlog"]``, set by :func:`vendorwall.deploy.job.targets`
from the model), the connection-log pipeline: its files go as data to the fixed agent ``connlog``
(:mod:`vendorwall.access.logpipe`), which installs and (re)starts it; idempotent, planned in check mode.

Boot: once confirmed (or found unchanged), the file is kept as ``<remote dir>/applied.nft`` and
``<remote dir>/boot.nft`` includes it, then ``quarantine.nft``: the live quarantine (and the policy's
render-time ``isolated`` set as it is now), which the firewall's ``nft_state`` agent rewrites after
every isolation, restore and deploy. The nftables service loads ``boot.nft`` at boot (docs/deploy.md:
``include "/var/lib/vendorwall/boot.nft"`` in ``/etc/nftables.conf``), so a firewall that reboots comes
back with the policy and closed for every isolated vendor. Grants are not persisted (closed by a reboot).
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


CHUNK = 32768  # base64 characters per command line: the session's terminal is 65535 columns wide


def upload_commands(text: str, path: str) -> list[str]:
    """Command lines, each under the terminal's width whatever the file's size: the payload in base64
    chunks appended to ``<path>.b64``, then decoded, its sha256 checked on the device, moved into place."""
    data = text.encode()
    digest = hashlib.sha256(data).hexdigest()
    b64 = base64.b64encode(data).decode()
    tmp, part = path + ".tmp", path + ".b64"
    chunks = [b64[i:i + CHUNK] for i in range(0, len(b64), CHUNK)] or [""]
    out = [f"printf %s {chunks[0]} > {_q(part)}"] + [f"printf %s {c} >> {_q(part)}" for c in chunks[1:]]
    out.append(f"base64 -d {_q(part)} > {_q(tmp)} && rm -f {_q(part)} && echo {_q(f'{digest}  {tmp}')} | "
               f"sha256sum -c --status && mv -f {_q(tmp)} {_q(path)} && echo __VW_UPLOADED")
    return out


def upload_command(text: str, path: str) -> str:
    """The upload as one line (small files; :func:`upload_commands` for any size)."""
    return " && ".join(upload_commands(text, path))


def upload(s: Session, text: str, path: str) -> None:
    out = ""
    for cmd in upload_commands(text, path):
        _, out = s.run(cmd)
    if "__VW_UPLOADED" not in out:
        raise DeployError(s.t.device, s.t.platform, f"upload {path}", f"checksum mismatch: {out.strip()[:200]}")


def live_listing(s: Session) -> str:
    return s.run(planning.listing_command())[1]


SPLIT = "__VW_SPLIT"


def listings_command(path: str) -> str:
    """The live listing, a separator, then the file's listing from a fresh network namespace on the
    device (same nft, same kernel: identical text when nothing changes)."""
    inner = f"nft -f {_q(path)} && {planning.listing_command()}"
    return f"{planning.listing_command()}; echo {SPLIT}; unshare --net sh -c {shlex.quote(inner)}"


def listings(s: Session, path: str) -> tuple[str, str]:
    _, out = s.run(listings_command(path))
    live, _, intended = out.partition(SPLIT)
    return live, intended


def pending_check_command(rd: str) -> str:
    return (f"for f in {_q(rd)}/pending.*; do [ -e \"$f\" ] || continue; "
            "if kill -0 \"$(cat \"$f\")\" 2>/dev/null; then echo \"__LIVE $f\"; else rm -f \"$f\"; fi; done")


CACHED = "__VW_CACHED"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def applied_check_command(rd: str, sha: str) -> str:
    """The live listing; ``__VW_CACHED`` first when the file to push is the one last applied (same
    sha256) and the live listing is still exactly what it was right after that apply: nothing to do,
    without uploading or loading anything (the no-change rerun). A hand edit, a rollback, another
    nft version: the listing differs, the full plan runs."""
    return (f"live=$({planning.listing_command()}); "
            f"if [ \"$(cat {_q(rd)}/applied.sha256 2>/dev/null)\" = {sha} ] && "
            f"[ \"$live\" = \"$(cat {_q(rd)}/applied.listing 2>/dev/null)\" ]; then echo {CACHED}; fi; "
            "printf '%s\\n' \"$live\"")


def record_applied_command(rd: str, sha: str) -> str:
    """Remember what runs now as the result of applying the file with this sha256."""
    return (f"live=$({planning.listing_command()}); printf '%s' \"$live\" > {_q(rd)}/applied.listing.tmp && "
            f"mv -f {_q(rd)}/applied.listing.tmp {_q(rd)}/applied.listing && echo {sha} > {_q(rd)}/applied.sha256")


def boot_command(rd: str) -> str:
    """Keep the applied file and (re)write boot.nft: the applied policy, then the live-quarantine snapshot
    (created empty if the agent never wrote it: an include of a missing file would fail the whole boot load)."""
    boot = ["# vendorwall: loaded at boot by the nftables service (include this file from /etc/nftables.conf).",
            "# The last policy vendorwall deployed, then the live quarantine (isolated vendors).",
            f'include "{rd}/applied.nft"', f'include "{rd}/quarantine.nft"']
    q = f"{rd}/quarantine.nft"
    # one line: the session is interactive (netmiko), a multi-line command would not come back
    return (f"cp -f {_q(rd)}/intended.nft {_q(rd)}/applied.nft.tmp && mv -f {_q(rd)}/applied.nft.tmp "
            f"{_q(rd)}/applied.nft && {{ [ -e {_q(q)} ] || echo '# no quarantine yet' > {_q(q)}; }} && "
            f"printf '%s\\n' {' '.join(shlex.quote(x) for x in boot)} > {_q(rd)}/boot.nft.tmp && "
            f"mv -f {_q(rd)}/boot.nft.tmp {_q(rd)}/boot.nft")


def persist_boot(target: Target, res: Result) -> None:
    """The live quarantine snapshot, rewritten by the firewall's agent now that the policy changed."""
    from ..devices.agents import run_agent

    try:
        ans = run_agent(target, "nft_state", {"op": "persist", "dir": target.remote_dir})
    except DeployError as exc:
        res.log.append(f"WARNING: boot snapshot of the quarantine not rewritten: {exc}")
        return
    if ans.get("persist_error"):
        res.log.append(f"WARNING: boot snapshot of the quarantine not rewritten: {ans['persist_error']}")
    else:
        res.log.append(f"boot: {target.remote_dir}/boot.nft (policy + live quarantine {ans.get('persisted')})")


def prepare_command(rd: str, lock_wait_s: float, sha: str) -> str:
    # umask 077 for the whole session (one interactive shell): the policy, its backups (the whole ruleset,
    # every set element), rollback and boot files are root's alone (0600, directories 0700)
    return (f"umask 077; if mkdir -p {_q(rd)}/backup; then {devlock.acquire_command(rd, lock_wait_s)}; "
            f"{pending_check_command(rd)}; echo {SPLIT}; {applied_check_command(rd, sha)}; "
            "else echo __VW_NODIR; fi")


def prepare(s: Session, rd: str, lock_wait_s: float, sha: str) -> tuple[bool, str]:
    """One round trip: the device directory, the device lock, no earlier change still pending, and the
    applied-file check. Returns (cached, live listing)."""
    _, out = s.run(prepare_command(rd, lock_wait_s, sha), timeout=max(s.t.command_timeout, lock_wait_s + 10))
    if "__VW_NODIR" in out:
        raise DeployError(s.t.device, s.t.platform, f"mkdir -p {rd}/backup",
                          f"cannot create the device's vendorwall directory: {out.strip()[:300]}")
    head, _, live = out.partition(SPLIT)
    devlock.check_acquired(s, head)
    if "__LIVE" in head:
        raise DeployError(s.t.device, s.t.platform, "check pending rollback timers",
                          "an earlier unconfirmed change is still waiting for its rollback timer "
                          f"({head.split('__LIVE')[1].strip()}); retry after it fires")
    cached = live.lstrip().startswith(CACHED)
    return cached, live.replace(CACHED, "", 1) if cached else live


def backup_command(rd: str, backup: str, rb: str, backups: int) -> str:
    """Forget the last applied file (a crash from here on must not look "unchanged"), back up the whole
    ruleset (keep ``backups``), and write the rollback file: the previous policy table and state chain only."""
    pol, st = planning.POLICY_TABLE, planning.STATE_TABLE
    rollback_file = ("{ echo " + shlex.quote(f"table {pol}") + "; echo " + shlex.quote(f"delete table {pol}")
                     + f"; nft list table {pol} 2>/dev/null; "
                     f"if nft list chain {st} forward >/dev/null 2>&1; then echo 'flush chain {st} forward'; "
                     f"nft list chain {st} forward; fi; }} > {_q(rb)}.tmp && mv -f {_q(rb)}.tmp {_q(rb)}")
    return (f"rm -f {_q(rd)}/applied.sha256 && nft list ruleset > {_q(backup)} && "
            f"{prune_command(f'{rd}/backup', '*.nft', backups)} && {rollback_file}")


def prune_command(d: str, glob: str, keep: int) -> str:
    """Remove all but the newest ``keep`` files ``d/glob``: their names carry a fixed-width timestamp, so
    the shell's sorted glob lists them oldest first (no parsing of ``ls``)."""
    return (f"( set -- {_q(d)}/{glob}; [ -e \"$1\" ] || exit 0; n=$#; for f do [ \"$n\" -le {keep} ] && break; "
            "rm -f \"$f\"; n=$((n - 1)); done )")


def timer_command(pending: str, rb: str, confirm_s: int) -> str:
    """Start the commit-confirm timer detached (a subshell: not a job of the session's shell), without the
    device-lock descriptor; print its pid."""
    script = _timer_script(pending, rb, confirm_s)
    return (f"( nohup sh -c {shlex.quote(script)} {devlock.FD}>&- >/dev/null 2>&1 </dev/null & "
            f"echo $! > {_q(pending)}; echo __PID=$! )")


def cleanup_command(rd: str, backups: int, sha: str) -> str:
    """After the confirm: old rollback files pruned, the applied file recorded, the boot files rewritten."""
    return (f"{prune_command(rd, 'rollback.nft.*', backups)}; " + record_applied_command(rd, sha) + " && "
            + boot_command(rd))


def _timer_script(pending: str, rb: str, confirm_s: int) -> str:
    """The commit-confirm timer. It and the controller race for the flag file: the timer claims it by
    renaming it (``mv``), the controller by removing it (``rm``); exactly one succeeds, so a confirm
    that comes too late is reported as such, never as a success over a rolled-back device. TERM (the
    controller's cancel) also stops the sleep, so no orphan is left."""
    return (f"trap 'kill $s 2>/dev/null; exit 0' TERM; sleep {confirm_s} & s=$!; wait $s; "
            f"if mv {_q(pending)} {_q(pending)}.expired 2>/dev/null; then nft -f {_q(rb)}; "
            f"rm -f {_q(pending)}.expired; fi")


def _claim(pending: str, timer_pid: str, then: str = "") -> str:
    """Shell: cancel the timer if the flag is still ours (prints __VW_CLAIMED, then runs ``then``),
    else wait until the timer's rollback has finished (at most 30 s)."""
    kill = f"kill {timer_pid} 2>/dev/null; " if timer_pid else ""
    after = f"{then}; " if then else ""
    return (f"if rm {_q(pending)} 2>/dev/null; then {kill}echo __VW_CLAIMED; {after}else "
            f"i=0; while [ -e {_q(pending)}.expired ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; fi")


def push(target: Target, text: str, opts: Options | None = None) -> Result:
    opts = opts or Options()
    res = _push_policy(target, text, opts)
    if res.error is None and target.extra.get("connlog"):
        connlog(target, res, opts)
    return res


def connlog(target: Target, res: Result, opts: Options) -> None:
    """Install (or plan, in check mode) the connection-log pipeline; its outcome joins the device's result."""
    from ..devices.agents import run_agent

    t0 = time.monotonic()
    try:
        ans = run_agent(target, "connlog", {**target.extra["connlog"], "check": opts.check}, timeout=180)
    except DeployError as exc:
        res.error = DeployError(target.device, target.platform, "connection-log pipeline",
                                f"policy applied, pipeline not installed: {exc.message}")
        return
    finally:
        res.seconds += time.monotonic() - t0
    done = sorted(set(ans.get("changed", [])))
    started = sorted(set(ans.get("started", []) + ans.get("restarted", [])))
    if not ans.get("ok"):
        res.error = DeployError(target.device, target.platform, "connection-log pipeline",
                                f"policy applied, pipeline not installed: {ans.get('error', 'failed')}")
        return
    if opts.check:
        would = ans.get("would_start", [])
        res.log.append(f"connection log: would change {', '.join(done) or 'nothing'}"
                       + (f", would start {', '.join(would)}" if would else ""))
        res.changed = res.changed or bool(done or would)
        return
    res.log.append(f"connection log: changed {', '.join(done) or 'nothing'}; started {', '.join(started) or 'none'}; "
                   f"running {', '.join(sorted(ans.get('running', {}))) or 'none'}")
    res.changed = res.changed or bool(done or started)


def check_no_isolation_lifted(target: Target, live: str, want: str) -> None:
    """Fail closed when the policy to push drops the render-time quarantine of a vendor the running policy
    keeps isolated. The policy is rendered from the controller's isolation record; a record that was lost
    (another controller, a fresh AWX volume, a restored backup) or edited, or a vendor renamed while
    isolated, must not silently re-open a vendor the firewall still has cut. A vendor is lifted by
    ``vendorwall restore``, never by a deploy (:func:`vendorwall.deploy.plan.lifted_isolations`: a vendor
    removed from the inventory may leave its quarantine behind, unless its addresses are still a vendor's)."""
    known = target.extra.get("vendors")
    lifted = planning.lifted_isolations(live, want, set(known) if known is not None else None)
    if lifted:
        names = ", ".join(sorted(lifted))
        prefixes = ", ".join(p for v in sorted(lifted) for p in lifted[v])
        raise DeployError(target.device, target.platform, "isolation check",
                          f"the running policy keeps {names} isolated ({prefixes}) but the policy to push does not "
                          f"(the isolation record read by this run does not list {'them' if len(lifted) > 1 else 'it'}"
                          ", or the inventory renamed it): pushing would re-open an isolated vendor; nothing was "
                          "changed. Deploy with the state "
                          "directory that holds the isolation record (--state-dir, vendorwall_state_dir), or lift "
                          "the isolation first: vendorwall restore INVENTORY --vendor "
                          f"{sorted(lifted)[0]} --reason ...")


def _push_policy(target: Target, text: str, opts: Options) -> Result:
    t0 = time.monotonic()
    res = Result(target.device, target.platform)
    s = Session(target)
    rd = target.remote_dir
    timer_pid = ""
    try:
        s.open()
        sha = digest(text)
        cached, live = prepare(s, rd, opts.lock_wait_s, sha)
        if cached:  # the file last applied, and nothing changed since: no upload, no load
            res.before = res.after = planning.normalize(live)
            res.log.append("unchanged since the last apply of this file (sha256 and live listing)")
            return res
        intended = f"{rd}/intended.nft"
        upload(s, text, intended)
        live, want = listings(s, intended)
        check_no_isolation_lifted(target, live, want)
        p = planning.plan_nftables(target.device, live, want, remote_dir=rd, confirm_s=opts.confirm_s,
                                   backups=opts.backups)
        res.changed, res.diff, res.commands, res.before = p.changed, p.diff, p.commands, p.before
        res.after = p.want
        if not p.changed:
            if not opts.check:
                s.run(record_applied_command(rd, sha) + " && " + boot_command(rd))
                persist_boot(target, res)
            else:
                s.run(record_applied_command(rd, sha))
            return res
        if opts.check:
            return res
        stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{int(time.time() * 1000) % 1000:03d}"
        res.backup = f"{rd}/backup/{stamp}.nft"
        rb = f"{rd}/rollback.nft.{stamp}"
        s.run(backup_command(rd, res.backup, rb, opts.backups))
        # commit-confirm: the device rolls back by itself unless the controller confirms in time.
        # The flag file names this push; the timer only acts on its own flag. The timer closes the
        # device-lock descriptor so it never holds the lock, and is started from a subshell: not a
        # job of the session's shell, so no job-control notice lands in a later command's output.
        pending = f"{rd}/pending.{stamp}"
        _, out = s.run(timer_command(pending, rb, opts.confirm_s))
        timer_pid = out.split("__PID=")[-1].split()[0] if "__PID=" in out else ""
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
        _, out = s.run(_claim(pending, timer_pid, cleanup_command(rd, opts.backups, sha)))
        if "__VW_CLAIMED" not in out:
            res.rolled_back = True
            raise ConfirmError(target.device, target.platform, "confirm",
                               f"the commit-confirm timer ({opts.confirm_s} s) expired before the controller "
                               "confirmed: the device rolled back to its previous policy; "
                               "raise confirm_seconds", rolled_back=True)
        res.after = after
        persist_boot(target, res)
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
        if s.conn is not None:  # releasing a lock this session does not hold is harmless
            devlock.release(s)
        res.log = s.log + res.log
        s.close()
        res.seconds = time.monotonic() - t0
