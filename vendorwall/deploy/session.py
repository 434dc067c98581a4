"""One device session over netmiko, with exit codes, error patterns, timeouts and masked logs.

- per-platform error patterns come from the platform capability files (``vendorwall/platforms``):
  netmiko's default ``error_pattern`` is empty, so a rejected command would otherwise pass;
- every netmiko/paramiko/socket exception becomes a typed error naming device, platform and command;
- the optional session log (``Target.session_log``) is netmiko's own, filtered: passwords and the
  enable secret are replaced by ``********``, long base64 payloads by ``<payload N chars>``.
"""

from __future__ import annotations

import contextlib
import re
import time
from functools import cache
from typing import Any

from ..devices.target import SockFactory, Target
from .errors import CommandError, ConnectError, ConnectionLost

__all__ = ["Session", "SockFactory", "Target", "device_type", "error_pattern", "mask"]

# The shell-level failures every Linux-based pusher also treats as a rejection.
_SHELL_ERRORS = ("command not found",)
_RC = re.compile(r"__VW_RC=(\d+)")
_LONG = re.compile(r"[A-Za-z0-9+/=]{200,}")
MASK = "********"


@cache
def device_type(platform: str) -> str:
    """netmiko's device type for ``platform`` (its capability file); the platform name when unknown."""
    from ..platforms import registry

    try:
        return registry.get(platform).netmiko_device_type or platform
    except KeyError:
        return platform


def mask(command: str) -> str:
    """Shorten payloads (base64 lines) so errors and logs stay readable and carry no file content."""
    return _LONG.sub(lambda m: f"<payload {len(m.group(0))} chars>", command)


@cache
def error_pattern(platform: str) -> str:
    """The regular expression of rejected-command output for ``platform`` (its capability file)."""
    from ..platforms import registry

    try:
        pats = list(registry.get(platform).error_patterns)
    except KeyError:
        pats = []
    if device_type(platform) == "linux":
        pats += _SHELL_ERRORS
    return "|".join(re.escape(p) for p in pats)


def _fail_fast_on_closed_channels() -> None:
    """netmiko polls ``recv_ready()``, which stays False on a closed paramiko channel, so a session
    lost mid-command would wait for the whole read timeout (60-120 s) before failing. Make an empty
    read of a closed channel (or of a dead transport) raise netmiko's own ReadException at once, as
    netmiko already does when a read returns 0 bytes. Only changes what happens on a dead session."""
    from netmiko import channel as nm_channel
    from netmiko.exceptions import ReadException

    cls = nm_channel.SSHChannel
    if getattr(cls, "_vendorwall_fail_fast", False):
        return
    original = cls.read_buffer

    def read_buffer(self: Any) -> str:
        out = original(self)
        rc = self.remote_conn
        if not out and rc is not None:
            transport = rc.get_transport() if hasattr(rc, "get_transport") else None
            if rc.closed or (rc.eof_received and not rc.recv_ready()) or (transport and not transport.is_active()):
                raise ReadException("Channel closed: the SSH session was lost.")
        return out

    cls.read_buffer = read_buffer  # type: ignore[method-assign]
    cls._vendorwall_fail_fast = True  # type: ignore[attr-defined]


def _masked_log(path: str, secrets: list[str]) -> Any:
    from netmiko.session_log import SessionLog

    class MaskedSessionLog(SessionLog):
        def no_log_filter(self, data: str) -> str:
            return mask(super().no_log_filter(data))

    from ..state import private_open

    with private_open(path, "a"):  # created 0600 (0700 directory) before netmiko appends to it
        pass
    no_log = {f"secret{i}": s for i, s in enumerate(sorted(set(secrets), key=len, reverse=True)) if s}
    # record_writes: what the controller sent is in the log too (masked), not only what the device echoed
    return MaskedSessionLog(file_name=path, file_mode="append", no_log=no_log, record_writes=True)


class Session:
    def __init__(self, target: Target):
        self.t = target
        self.conn: Any = None
        self.log: list[str] = []

    @property
    def device_type(self) -> str:
        return device_type(self.t.platform)

    def open(self) -> Session:
        from ..devices import ssh

        _fail_fast_on_closed_channels()
        t = self.t
        kw: dict[str, Any] = {}
        if t.secret:
            kw["secret"] = t.secret
        if t.session_log:
            kw["session_log"] = _masked_log(t.session_log, [t.password or "", t.secret or ""])
        try:
            self.conn = ssh.netmiko_session(t, self.device_type, **kw)
            if self.device_type == "linux":
                self.conn.send_command("stty cols 65535 -echoctl", read_timeout=t.command_timeout)
            elif self.device_type == "cisco_ios" and not self.conn.check_enable_mode():
                self.conn.enable()
        except ConnectError:
            raise  # host key refused, jump host failed: already typed
        except Exception as exc:  # netmiko/paramiko/socket errors all mean "could not connect"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ConnectError(t.device, t.platform, f"ssh {t.username}@{t.host}:{t.port}",
                               f"{type(exc).__name__}: {first}") from None
        return self

    def _check(self, command: str, rc: int, out: str) -> None:
        pattern = error_pattern(self.t.platform)
        if rc != 0 or (pattern and re.search(pattern, out)):
            raise CommandError(self.t.device, self.t.platform, mask(command), f"exit {rc}: {out.strip()[:1500]}")

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
            self._check(command, rc, out)
        return rc, out

    def show(self, command: str, *, timeout: float | None = None) -> str:
        """A CLI command with output (network OS: no exit code); error patterns still apply."""
        t = self.t
        started = time.monotonic()
        try:
            out = self.conn.send_command(command, read_timeout=timeout or t.command_timeout)
        except Exception as exc:
            raise ConnectionLost(t.device, t.platform, command, f"{type(exc).__name__}: {exc}") from None
        self.log.append(f"{command} ({time.monotonic() - started:.2f} s)")
        self._check(command, 0, out)
        return str(out)

    def configure(self, commands: list[str], *, timeout: float | None = None) -> str:
        """Send configuration commands (config mode, one by one, echo verified); stops at the first rejected
        command and raises CommandError naming it."""
        t = self.t
        started = time.monotonic()
        pattern = error_pattern(t.platform)
        try:
            out = self.conn.send_config_set(commands, exit_config_mode=False, cmd_verify=True,
                                            error_pattern=pattern, read_timeout=timeout or t.command_timeout)
            # "exit" leaves global configuration mode on IOS; the lab's simulator has no "end"
            self.conn.exit_config_mode(exit_config="exit")
        except Exception as exc:
            name = type(exc).__name__
            self._leave_config()
            if name == "ConfigInvalidException":
                bad = _rejected(str(exc), commands)
                raise CommandError(t.device, t.platform, bad, f"rejected: {str(exc).strip()[:1500]}") from None
            raise ConnectionLost(t.device, t.platform, f"configure ({len(commands)} commands)",
                                 f"{name}: {exc}") from None
        self.log.append(f"configure {len(commands)} commands ({time.monotonic() - started:.2f} s)")
        return str(out)

    def _leave_config(self) -> None:
        """Back to exec mode after a failed configuration (a rejected command leaves us in it)."""
        if self.device_type == "fortinet":
            return  # no config mode: "exit" would log out; the FortiOS pusher aborts its own transaction
        try:
            for _ in range(4):
                if not self.conn.check_config_mode():
                    return
                self.conn.send_command_timing("exit", read_timeout=self.t.command_timeout)
        except Exception:  # the session is gone: the caller reports that
            pass

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.disconnect()
            self.conn = None


def _rejected(message: str, commands: list[str]) -> str:
    """The command a ConfigInvalidException points at: netmiko names it ("Invalid input detected at
    command: CMD, matched error: ..."); otherwise the last command echoed in its output."""
    m = re.search(r"Invalid input detected at command: (.*?), matched error:", message, re.S)
    if m and m.group(1).strip():
        return m.group(1).strip()
    hit = ""
    for c in commands:
        if c.strip() and c.strip() in message:
            hit = c.strip()
    return hit or "configure"
