"""A Stormshield SNS serverd session over SSH: one command, one answer, typed errors.

SNS firewalls are configured with *serverd* commands (``CONFIG OBJECT HOST NEW ...``). Over SSH, the
firewall's shell offers a serverd client (``cli`` by default, the capability file's
``defaults.serverd_command``): vendorwall opens ONE SSH channel running it (host key verified first,
:func:`vendorwall.devices.ssh.connect`), then writes one command line at a time and reads its answer
before sending the next, so that a rejected command stops the sequence (a script piped at once would
run on past an error, up to an ``ACTIVATE``).

Every answer ends with a code line ``<ret> code=<hex> msg="<text>"``: 1xx is a success (101 "Begin"
opens a multi-line answer, closed by its own code line), 2xx an error, 5xx/9xx a server failure
(python-SNS-API: ``SRV_RET_*``). An error raises :class:`CommandError` naming the command; a lost
channel raises :class:`ConnectionLost`. Commands are data built by vendorwall's planners: a command
holding a line break is refused before anything is sent (it would be two commands).

Never run against a real SNS: the code line format is the one Stormshield's python-SNS-API prints and
parses; the tests drive a serverd simulator (tests/platforms/fakesns.py) through the same interface.
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass
from typing import Any

from .errors import CommandError, ConnectionLost, DeployError
from .target import Target

CODE = re.compile(r'^(\d{3}) code=([0-9A-Fa-f]+) msg="([^"]*)"(?: format="([^"]*)")?\s*$')
BEGIN = 101


@dataclass
class Answer:
    ret: int
    code: str
    msg: str
    text: str = ""  # the data lines of a multi-line answer (section_line, list...)
    fmt: str = ""

    @property
    def ok(self) -> bool:
        return 100 <= self.ret < 200

    def line(self) -> str:
        return f'{self.ret} code={self.code} msg="{self.msg}"'


def read_answer(lines: list[str]) -> tuple[Answer | None, int]:
    """The first complete answer in ``lines`` (None if incomplete) and how many lines it used.
    Lines before the first code line (a banner, a prompt) are skipped."""
    begin: re.Match[str] | None = None
    data: list[str] = []
    for i, raw in enumerate(lines):
        m = CODE.match(raw.strip())
        if m is None:
            if begin is not None:
                data.append(raw.rstrip("\r"))
            continue
        if int(m.group(1)) == BEGIN and begin is None:
            begin = m
            continue
        ans = Answer(int(m.group(1)), m.group(2), m.group(3), "\n".join(data) + ("\n" if data else ""),
                     (begin.group(4) if begin is not None else m.group(4)) or "")
        return ans, i + 1
    return None, 0


def check_command(t: Target, command: str) -> None:
    if "\n" in command or "\r" in command or not command.strip():
        raise CommandError(t.device, t.platform, command[:80], "refused before sending: not one serverd command line")


class ServerdSession:
    """``open()``, ``run(command) -> Answer`` (raises on an error answer), ``close()``; ``log`` keeps what
    was sent and the code line that answered it."""

    def __init__(self, t: Target, command: str = "cli"):
        self.t = t
        self.command = command
        self.log: list[str] = []
        self._client: Any = None
        self._chan: Any = None
        self._buf = ""

    def open(self) -> ServerdSession:
        from . import ssh

        self._client = ssh.connect(self.t)
        try:
            self._chan = self._client.get_transport().open_session(timeout=self.t.connect_timeout)
            self._chan.settimeout(self.t.command_timeout)
            self._chan.set_combine_stderr(True)
            self._chan.exec_command(self.command)
        except Exception as exc:
            ssh.close(self._client)
            raise ConnectionLost(self.t.device, self.t.platform, self.command, f"{type(exc).__name__}: {exc}") from None
        return self

    def _read_until_answer(self, command: str, timeout: float) -> Answer:
        deadline = time.monotonic() + timeout
        while True:
            lines = self._buf.split("\n")
            ans, used = read_answer(lines[:-1])  # the last piece may be an incomplete line
            if ans is not None:
                self._buf = "\n".join(lines[used:])
                return ans
            if time.monotonic() > deadline:
                raise ConnectionLost(self.t.device, self.t.platform, command, f"no answer within {timeout:g} s")
            try:
                data = self._chan.recv(65536)
            except Exception as exc:
                raise ConnectionLost(self.t.device, self.t.platform, command, f"{type(exc).__name__}: {exc}") from None
            if not data:
                raise ConnectionLost(self.t.device, self.t.platform, command, "the serverd client closed the session")
            self._buf += data.decode(errors="replace").replace("\r", "")

    def run(self, command: str, *, timeout: float | None = None) -> Answer:
        check_command(self.t, command)
        if self._chan is None:
            raise ConnectionLost(self.t.device, self.t.platform, command, "session not open")
        try:
            self._chan.sendall((command + "\n").encode())
        except Exception as exc:
            raise ConnectionLost(self.t.device, self.t.platform, command, f"{type(exc).__name__}: {exc}") from None
        ans = self._read_until_answer(command, timeout or self.t.command_timeout)
        self.log.append(f"{command}  -> {ans.line()}")
        if not ans.ok:
            raise CommandError(self.t.device, self.t.platform, command, f"rejected: {ans.line()}")
        return ans

    def close(self) -> None:
        from . import ssh

        if self._chan is not None:
            with contextlib.suppress(Exception):  # closing anyway
                self._chan.sendall(b"QUIT\n")
            self._chan = None
        if self._client is not None:
            ssh.close(self._client)
            self._client = None


def run_all(s: Any, commands: list[str]) -> list[Answer]:
    """Every command in order; the first error stops the sequence (raised)."""
    return [s.run(c) for c in commands]


__all__ = ["Answer", "DeployError", "ServerdSession", "read_answer", "run_all"]
