"""Lab helpers shared by the lab tests (tests/access, tests/isolate, tests/lab): whether the lab can run
here, the example inventory's lab brought up and always torn down, and a streaming vendor TCP session.

Imported as ``labsupport`` (tests/ is on sys.path: pytest puts it there for tests/conftest.py). A plain
module rather than fixtures in tests/conftest.py: each test directory keeps its own lab fixture, its own
lab id and its own scope.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from vendorwall import pipeline
from vendorwall.lab import netns, runner

EXAMPLE_INVENTORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "inventories", "example"))


def lab_available(*tools: str) -> str | None:
    """Why the lab cannot run here (None: it can): root, nft, ip, unshare, ssh-keygen, ``tools``, sshd."""
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("nft", "ip", "unshare", "ssh-keygen", *tools):
        if not shutil.which(tool):
            return f"needs {tool}"
    if not os.path.exists("/usr/sbin/sshd"):
        return "needs openssh-server"
    return None


@contextlib.contextmanager
def example_lab(lab_dir: str, lab_id: str) -> Iterator[tuple[Any, Any]]:
    """The example inventory's lab, up (not deployed), and its model: ``(state, model)``.

    Always torn down: the namespaces by their own prefix (``vw<lab_id>-``), processes by their recorded
    ids; a namespace left behind fails the test.
    """
    prefix = f"vw{lab_id}-"
    try:
        state = runner.up(EXAMPLE_INVENTORY, lab_dir=lab_dir, lab_id=lab_id, now=None)
        model = pipeline.run(EXAMPLE_INVENTORY, dt.date.fromisoformat(state.now), check_lock=False,
                             do_render=False).model
        yield state, model
    finally:
        runner.down(lab_dir, prefix)
        left = [n for n in netns.list_netns() if n.startswith(prefix)]
        assert not left, f"namespaces left behind: {left}"


class Lab:
    """A lab fixture's value: the lab's state, the inventory's model and the journal the test writes."""

    def __init__(self, state: Any, model: Any, journal: str):
        self.state = state
        self.model = model
        self.journal = journal

    @property
    def lab_dir(self) -> str:
        return self.state.lab_dir

    def fw_ns(self, dev: str) -> str:
        return self.state.firewalls[dev]["netns"]


def deploy(state: Any, **kwargs: Any) -> None:
    """``runner.deploy`` (commit-confirm 60 s) to every lab firewall; every one must succeed."""
    results = runner.deploy(state, confirm_s=60, **kwargs)
    assert [str(r.error) for r in results if r.error] == []


class Stream:
    """A vendor TCP session sending 64-byte chunks every ``interval`` seconds; the receiver timestamps
    every chunk it gets (``arrivals``)."""

    def __init__(self, src_ns: str, src: str, dst_ns: str, dst: str, port: int, interval: float):
        self.interval = interval
        self.arrivals: list[float] = []
        self.stop = threading.Event()
        self.srv = netns.socket_in(dst_ns)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind((dst, port))
        self.srv.listen(1)
        self.cli = netns.socket_in(src_ns)
        self.cli.bind((src, 0))
        self.cli.settimeout(3)
        self.cli.connect((dst, port))
        self.conn, _ = self.srv.accept()
        self.conn.settimeout(0.1)
        self.cli.settimeout(0.05)
        self.threads = [threading.Thread(target=self._recv, daemon=True),
                        threading.Thread(target=self._send, daemon=True)]
        for t in self.threads:
            t.start()

    def _recv(self) -> None:
        while not self.stop.is_set():
            try:
                data = self.conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            self.arrivals.append(time.time())

    def _send(self) -> None:
        while not self.stop.is_set():
            try:
                self.cli.send(b"v" * 64)
            except (TimeoutError, BlockingIOError):
                pass
            except OSError:
                return
            time.sleep(self.interval)

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(2)
        for s in (self.cli, self.conn, self.srv):
            s.close()


def account_keys(model: Any, keys_dir: str) -> dict[str, str]:
    """One fresh ed25519 key pair per vendor account of ``model`` in ``keys_dir`` (``<id>``, ``<id>.pub``):
    account id -> public key line."""
    import subprocess

    out = {}
    for v in model.inventory.vendors.values():
        for a in v.accounts:
            path = os.path.join(keys_dir, a.id)
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True)
            with open(path + ".pub") as fh:
                out[a.id] = fh.read()
    return out
