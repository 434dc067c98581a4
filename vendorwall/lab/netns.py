"""Network-namespace helpers: run ``ip`` batches, enter a namespace from one thread.

``in_netns(name)`` switches only the calling thread (``setns(2)`` on a network namespace is
per thread), so one process can open listening or client sockets in many namespaces: a socket
stays in the namespace it was created in. This keeps the lab to one listener process and lets
``lab test`` and the deploy fan-out run from the controller process without ``ip netns exec``.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"
_libc = ctypes.CDLL(None, use_errno=True)


class NetnsError(RuntimeError):
    pass


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise NetnsError(f"setns: {os.strerror(err)}")


@contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Run the body with the calling thread inside network namespace ``name``."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        try:
            target = os.open(os.path.join(NETNS_DIR, name), os.O_RDONLY)
        except FileNotFoundError:
            raise NetnsError(f"no network namespace {name!r}") from None
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(own)


def socket_in(name: str | None, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> socket.socket:
    if name is None:
        return socket.socket(family, kind)
    with in_netns(name):
        return socket.socket(family, kind)


def connect_in(name: str | None, host: str, port: int, timeout: float = 5.0) -> socket.socket:
    """A TCP connection opened from inside namespace ``name`` (None: this namespace)."""
    s = socket_in(name)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
    except OSError:
        s.close()
        raise
    return s


def list_netns() -> list[str]:
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def run(cmd: list[str], *, input: str | None = None, check: bool = True, timeout: float = 60) -> str:
    proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(cmd[:6])}{' ...' if len(cmd) > 6 else ''}: exit {proc.returncode}: "
                         f"{(proc.stderr or proc.stdout).strip()[:2000]}")
    return proc.stdout


def ip_batch(lines: list[str], netns: str | None = None) -> None:
    """One ``ip -batch`` process for many commands (optionally inside ``netns``)."""
    if not lines:
        return
    cmd = ["ip"] + (["-n", netns] if netns else []) + ["-batch", "-"]
    run(cmd, input="\n".join(lines) + "\n")


def netns_pids(name: str) -> list[int]:
    out = run(["ip", "netns", "pids", name], check=False)
    return [int(x) for x in out.split() if x.isdigit()]


def known_hosts_line(name: str, pub_file: str) -> str:
    """A known_hosts line for ``name`` from a host key's ``.pub`` file (the lab knows its devices' keys:
    it generated them)."""
    with open(pub_file, encoding="utf-8") as fh:
        ktype, b64 = fh.read().split()[:2]
    return f"{name} {ktype} {b64}\n"
