"""Deploy to many devices at once: a thread pool, one lock per device, one result per device.

Policy for failures (documented in docs/lab.md): every device is handled independently. A device
that cannot be reached or fails verification is reported with its typed error (and rolled back
when anything was applied); the others are still deployed; the run's exit status is non-zero
if any device failed.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed

from . import nftables
from .errors import LockError
from .session import Target

Progress = Callable[[str], None]


class DeviceLock:
    """An exclusive lock per device on the controller (``lock_dir/<device>.lock``)."""

    def __init__(self, lock_dir: str, device: str, wait_s: float):
        os.makedirs(lock_dir, exist_ok=True)
        self.path = os.path.join(lock_dir, f"{device}.lock")
        self.device = device
        self.wait_s = wait_s
        self.fh = None

    def __enter__(self) -> DeviceLock:
        self.fh = open(self.path, "a+")
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.fh.seek(0)
                self.fh.truncate()
                self.fh.write(f"{os.getpid()}\n")
                self.fh.flush()
                return self
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self.fh.seek(0)
                    holder = self.fh.read().strip() or "?"
                    self.fh.close()
                    raise LockError(self.device, "", f"lock {self.path}",
                                    f"another deploy (pid {holder}) is pushing to this device; "
                                    f"gave up after {self.wait_s:.0f} s") from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        if self.fh:
            fcntl.flock(self.fh, fcntl.LOCK_UN)
            self.fh.close()


def deploy(targets: list[Target], configs: dict[str, str], opts: nftables.Options | None = None, *,
           lock_dir: str = "build/locks", lock_wait_s: float = 0.0, workers: int = 16,
           progress: Progress = lambda _: None) -> list[nftables.Result]:
    opts = opts or nftables.Options()

    def one(t: Target) -> nftables.Result:
        try:
            with DeviceLock(lock_dir, t.device, lock_wait_s):
                if t.platform != "nftables":
                    r = nftables.Result(t.device, t.platform)
                    r.error = LockError(t.device, t.platform, "", "no pusher for this platform yet")
                    r.error.kind = "unsupported"
                    return r
                return nftables.push(t, configs[t.device], opts)
        except LockError as exc:
            exc.platform = t.platform
            r = nftables.Result(t.device, t.platform)
            r.error = exc
            return r

    results: list[nftables.Result] = []
    with ThreadPoolExecutor(max(1, min(workers, len(targets)))) as pool:
        futs = {pool.submit(one, t): t for t in targets}
        for fut in as_completed(futs):
            r = fut.result()
            results.append(r)
            state = ("FAILED: " + str(r.error)) if r.error else ("changed" if r.changed else "ok (no change)")
            if opts.check and r.changed and not r.error:
                state = "would change"
            progress(f"  {r.device}: {state} in {r.seconds:.1f} s")
    results.sort(key=lambda r: r.device)
    return results
