"""Deploy to many devices at once: a thread pool, one lock per device, one result per device.

Failure policy (docs/deploy.md): every device is handled independently and nothing is ever left
half-applied on one device (nftables: one transaction, verified, rolled back otherwise; IOS:
rolled back to the backup's state on a rejected command or a failed verification). With
``on_failure="continue"`` (the default) a device that cannot be reached or fails is reported with
its typed error and the others are still deployed; with ``on_failure="stop"`` no device is
started once one has failed (those are reported as skipped; devices already running finish).
Either way the run fails (non-zero exit, a failed Ansible task) if any device failed.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import IO

from . import aoscx, asa, fortios, ios, junos, nftables, nxos, panos, stormshield
from .common import Options, Result
from .errors import DeployError, LockError
from .session import Target

Progress = Callable[[str], None]
Pusher = Callable[[Target, str, Options], Result]

# platform -> pusher; a platform without one is reported as unsupported, never skipped silently
PUSHERS: dict[str, Pusher] = {"nftables": nftables.push, "ios": ios.push, "nxos": nxos.push, "aoscx": aoscx.push,
                              "junos": junos.push, "fortios": fortios.push, "stormshield": stormshield.push,
                              "panos": panos.push, "asa": asa.push}
ON_FAILURE = ("continue", "stop")


class DeviceLock:
    """An exclusive lock per device on the controller (``lock_dir/<device>.lock``)."""

    def __init__(self, lock_dir: str, device: str, wait_s: float):
        os.makedirs(lock_dir, exist_ok=True)
        self.path = os.path.join(lock_dir, f"{device}.lock")
        self.device = device
        self.wait_s = wait_s
        self.fh: IO[str] | None = None

    def __enter__(self) -> DeviceLock:
        self.fh = fh = open(self.path, "a+")  # held for the lock's lifetime, closed in __exit__
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fh.seek(0)
                fh.truncate()
                fh.write(f"{os.getpid()}\n")
                fh.flush()
                return self
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.seek(0)
                    holder = fh.read().strip() or "?"
                    fh.close()
                    self.fh = None
                    raise LockError(self.device, "", f"lock {self.path}",
                                    f"another deploy (pid {holder}) is pushing to this device; "
                                    f"gave up after {self.wait_s:.0f} s") from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        if self.fh:
            fcntl.flock(self.fh, fcntl.LOCK_UN)
            self.fh.close()


def describe(r: Result, check: bool) -> str:
    if r.error:
        return "FAILED: " + str(r.error)
    if r.skipped:
        return "skipped (an earlier device failed, on_failure=stop)"
    if r.changed:
        return "would change" if check else "changed"
    return "ok (no change)"


def deploy(targets: list[Target], configs: dict[str, str], opts: Options | None = None, *,
           lock_dir: str = "build/locks", lock_wait_s: float = 0.0, workers: int = 16,
           on_failure: str = "continue", progress: Progress = lambda _: None) -> list[Result]:
    if on_failure not in ON_FAILURE:
        raise ValueError(f"on_failure must be one of {', '.join(ON_FAILURE)}, not {on_failure!r}")
    opts = opts or Options()
    failed = threading.Event()

    def one(t: Target) -> Result:
        if on_failure == "stop" and failed.is_set():
            return Result(t.device, t.platform, skipped=True)
        r = attempt(t)
        if r.failed:
            failed.set()  # here, in the worker: the next device of this worker already sees it
        return r

    def attempt(t: Target) -> Result:
        pusher = PUSHERS.get(t.platform)
        if pusher is None:
            r = Result(t.device, t.platform)
            r.error = DeployError(t.device, t.platform, "", f"no pusher for platform {t.platform!r} "
                                  f"(supported: {', '.join(sorted(PUSHERS))})")
            r.error.kind = "unsupported"
            return r
        if t.device not in configs:
            r = Result(t.device, t.platform)
            r.error = DeployError(t.device, t.platform, "", "no rendered configuration for this device")
            return r
        try:
            with DeviceLock(lock_dir, t.device, lock_wait_s):
                return pusher(t, configs[t.device], opts)
        except LockError as exc:
            exc.platform = t.platform
            r = Result(t.device, t.platform)
            r.error = exc
            return r

    results: list[Result] = []
    if not targets:
        return results
    with ThreadPoolExecutor(max(1, min(workers, len(targets)))) as pool:
        futs = {pool.submit(one, t): t for t in targets}
        for fut in as_completed(futs):
            r = fut.result()
            results.append(r)
            progress(f"  {r.device}: {describe(r, opts.check)} in {r.seconds:.1f} s")
    results.sort(key=lambda r: r.device)
    return results
