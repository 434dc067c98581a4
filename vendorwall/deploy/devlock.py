"""The lock on the device itself: two controllers never push to one device at once.

On a Linux device the lock is ``flock`` on a file of the device's vendorwall directory, taken by
the session's own login shell on file descriptor 9 (``exec 9>>push.lock; flock -n 9``). The
kernel releases it when that shell exits, so a controller that dies or loses its session can
never leave a stale lock behind; the lock file holds who took it (controller host, pid, run id,
time, the shell's pid on the device) so a refusal names the holder. Background processes started
during the push (the commit-confirm timer) close descriptor 9 so they never hold the lock.

This is on top of the controller-side lock (``fanout.DeviceLock``), which only covers runs from
one controller. Network OS platforms without a shell (IOS) rely on the controller-side lock; see
docs/deploy.md.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
import time
import uuid

from .errors import LockError
from .session import Session

FD = 9
RUN_ID = uuid.uuid4().hex[:8]  # one per controller process


def lock_path(remote_dir: str) -> str:
    return f"{remote_dir}/push.lock"


def holder_line() -> str:
    return (f"controller={socket.gethostname()} pid={os.getpid()} run={RUN_ID} "
            f"since={time.strftime('%Y-%m-%dT%H:%M:%S%z')}")


def acquire_command(remote_dir: str, wait_s: float = 0) -> str:
    path = shlex.quote(lock_path(remote_dir))
    how = f"-w {max(1, int(wait_s))}" if wait_s > 0 else "-n"
    return (f"exec {FD}>>{path}; if flock {how} {FD}; then "
            f"printf '%s shell=%s\\n' {shlex.quote(holder_line())} \"$$\" > {path}; echo __VW_LOCKED; "
            f"else echo \"__VW_HELD $(cat {path} 2>/dev/null)\"; fi")


def release_command() -> str:
    return f"flock -u {FD} 2>/dev/null; exec {FD}>&-"


def acquire(s: Session, wait_s: float = 0) -> None:
    """Take the device lock for this session, or raise LockError naming the device and the holder."""
    _, out = s.run(acquire_command(s.t.remote_dir, wait_s), timeout=max(s.t.command_timeout, wait_s + 10))
    check_acquired(s, out)


def check_acquired(s: Session, out: str) -> None:
    """Raise LockError unless the output of ``acquire_command`` says the lock was taken."""
    if "__VW_LOCKED" in out:
        return
    holder = out.split("__VW_HELD", 1)[1].strip() if "__VW_HELD" in out else out.strip()
    raise LockError(s.t.device, s.t.platform, f"flock {lock_path(s.t.remote_dir)}",
                    f"the device is locked by another push ({holder or 'holder unknown'}); "
                    "it is released when that session ends: retry later")


def release(s: Session) -> None:
    with contextlib.suppress(Exception):  # the session is gone: the kernel released the lock with the shell
        s.run(release_command(), check=False, timeout=10)
