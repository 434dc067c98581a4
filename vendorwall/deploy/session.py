"""One device session over netmiko, with exit codes, error patterns and masked payloads."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import CommandError, ConnectError, ConnectionLost

# Output that means a rejected command, per platform (send_config_set's default pattern is empty).
ERROR_PATTERNS = {
    "nftables": r"(^|\n)(Error: |nft: |.*: command not found|.*No such file or directory)",
    "linux": r"(^|\n)(.*: command not found|.*No such file or directory)",
    "ios": r"(% Invalid input|% Incomplete command|% Ambiguous command|% Unknown command|% Error)",
}
_RC = re.compile(r"__VW_RC=(\d+)")
_LONG = re.compile(r"[A-Za-z0-9+/=]{200,}")


def mask(command: str) -> str:
    """Shorten payloads (base64 lines) so errors and logs stay readable and carry no file content."""
    return _LONG.sub(lambda m: f"<payload {len(m.group(0))} chars>", command)


SockFactory = Callable[[str, int, float], socket.socket]


@dataclass
class Target:
    device: str
    platform: str  # nftables | ios | linux
    host: str
    port: int = 22
    username: str = "root"
    key_file: str | None = None
    password: str | None = None
    remote_dir: str = "/var/lib/vendorwall"
    sock_factory: SockFactory | None = None  # opens the TCP connection (the lab: from its controller netns)
    connect_timeout: float = 10.0
    command_timeout: float = 60.0
    extra: dict[str, Any] = field(default_factory=dict)


class Session:
    def __init__(self, target: Target):
        self.t = target
        self.conn: Any = None
        self.log: list[str] = []

    def open(self) -> Session:
        from netmiko import ConnectHandler

        t = self.t
        device_type = {"nftables": "linux", "linux": "linux", "ios": "cisco_ios"}.get(t.platform, t.platform)
        kw: dict[str, Any] = dict(device_type=device_type, host=t.host, port=t.port, username=t.username,
                                  conn_timeout=t.connect_timeout, auth_timeout=t.connect_timeout,
                                  banner_timeout=t.connect_timeout, allow_agent=False, ssh_config_file=None,
                                  read_timeout_override=None)
        kw.pop("read_timeout_override")
        if t.key_file:
            kw.update(use_keys=True, key_file=t.key_file)
        if t.password:
            kw["password"] = t.password
        try:
            if t.sock_factory:
                kw["sock"] = t.sock_factory(t.host, t.port, t.connect_timeout)
            self.conn = ConnectHandler(**kw)
        except Exception as exc:  # netmiko/paramiko/socket errors all mean "could not connect"
            raise ConnectError(t.device, t.platform, f"ssh {t.username}@{t.host}:{t.port}",
                               f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}") from None
        if device_type == "linux":
            self.conn.send_command("stty cols 65535 -echoctl", read_timeout=t.command_timeout)
        return self

    def run(self, command: str, *, timeout: float | None = None, check: bool = True) -> tuple[int, str]:
        """Run one shell command; (exit code, output). Raises CommandError on rc != 0 or an error pattern."""
        t = self.t
        started = time.monotonic()
        try:
            out = self.conn.send_command(f"{command}; echo __VW_RC=$?", read_timeout=timeout or t.command_timeout,
                                         strip_prompt=True, strip_command=True)
        except Exception as exc:
            raise ConnectionLost(t.device, t.platform, mask(command), f"{type(exc).__name__}: {exc}") from None
        m = _RC.search(out)
        rc = int(m.group(1)) if m else -1
        out = _RC.sub("", out).rstrip("\n")
        self.log.append(f"{mask(command)} -> rc={rc} ({time.monotonic() - started:.2f} s)")
        if check:
            pattern = ERROR_PATTERNS.get(t.platform)
            if rc != 0 or (pattern and re.search(pattern, out)):
                raise CommandError(t.device, t.platform, mask(command), f"exit {rc}: {out.strip()[:1500]}")
        return rc, out

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.disconnect()
            except Exception:
                pass
            self.conn = None
