"""Fixed programs that run on Linux devices (nftables firewalls, bastions), fed data as data.

An agent is a Python 3 program shipped in this package (``<name>.py`` beside this file, standard library
only, Python >= 3.7 so a Debian 10 box runs it). :func:`run_agent` executes it over one SSH exec round
trip as ``python3 -I -S -c <program> <name>``: the command line holds nothing but the program itself, a
constant of the package; the request goes on standard input as one JSON document, and the agent answers
with one JSON document on standard output. ``-I -S``: the device's environment variables, user and site
packages play no part (the agents use the standard library only), and the interpreter starts ~10 ms
sooner.

:class:`Session` runs several requests, to one or more agents, over ONE exec channel (the ``session``
agent: one JSON line per request and per answer): the controller reads an answer and acts on it before it
sends the next request (an isolation, then the anchor of the journal entry that records it).

Nothing of the inventory, a manifest or an operator's input is ever spliced into a shell script: an
account id or a vendor name can only ever be a JSON string.

Agents re-validate what they receive (names by pattern, addresses by parsing) and call programs with
argument vectors (``subprocess.run([...])``), never through a shell.

The agent protocol: request ``{"op": NAME, ...}``; answer ``{"ok": true|false, ...}`` and exit status 0
when the agent ran (per-item outcomes are in the answer), non-zero when it could not (bad request, crash:
the answer then carries ``error``).
"""

from __future__ import annotations

import contextlib
import json
import shlex
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from ..errors import CommandError, ConnectionLost, DeployError
from ..ssh import Output, close, connect, exec_command
from ..target import Target

PYTHON = "python3"
FLAGS = ("-I", "-S")  # isolated mode, no site: standard library only, whatever the device's environment


@cache
def source(name: str) -> str:
    """The program text of agent ``name`` (a file of this package)."""
    if not name.isidentifier():
        raise ValueError(f"not an agent name: {name!r}")
    return (resources.files(__package__) / f"{name}.py").read_text(encoding="utf-8")


@cache
def command(name: str) -> str:
    """The exec command line of agent ``name``: constant for a given package version."""
    return f"{PYTHON} {' '.join(FLAGS)} -c {shlex.quote(source(name))} {name}"


@cache
def session_program(names: tuple[str, ...]) -> str:
    """The ``session`` agent's program serving agents ``names``: their program texts (files of this
    package) as one ``SOURCES`` constant, then the dispatcher. Constant for a given package version."""
    sources = {n: source(n) for n in sorted(set(names))}
    return f"SOURCES = {sources!r}\n" + source("session")


@cache
def session_command(names: tuple[str, ...]) -> str:
    """The exec command line of a session serving agents ``names``: constant for a given package version."""
    return f"{PYTHON} {' '.join(FLAGS)} -c {shlex.quote(session_program(names))} session"


def local_argv(name: str) -> list[str]:
    """The argument vector that runs agent ``name`` on this machine (the lab runs it in a firewall's
    network namespace as ``ip netns exec NS`` + this; tests in a throwaway one)."""
    return [PYTHON, *FLAGS, "-c", source(name), name]


def local_session_argv(names: tuple[str, ...]) -> list[str]:
    """The argument vector that runs a session serving agents ``names`` on this machine."""
    return [PYTHON, *FLAGS, "-c", session_program(names), "session"]


def run_local(name: str, request: dict[str, Any], prefix: tuple[str, ...] = (), timeout: float = 120) -> dict[str, Any]:
    """Run agent ``name`` here (after ``prefix``, e.g. ``ip netns exec NS``); its JSON answer, or
    ``{"ok": False, "error": ...}`` when it did not answer."""
    import subprocess

    payload = json.dumps(request, sort_keys=True, separators=(",", ":"))
    p = subprocess.run([*prefix, *local_argv(name)], input=payload, capture_output=True, text=True, check=False,
                       timeout=timeout)
    try:
        answer = json.loads(p.stdout)
    except json.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict):
        return {"ok": False, "error": f"exit {p.returncode}: {(p.stderr or p.stdout).strip()[-500:]}"}
    return answer


def run_agent(t: Target, name: str, request: dict[str, Any], *, timeout: float | None = None,
              client: Any = None) -> dict[str, Any]:
    """Run agent ``name`` on ``t`` with ``request`` on stdin; its JSON answer. Typed errors otherwise."""
    payload = json.dumps(request, sort_keys=True, separators=(",", ":")).encode()
    out: Output = exec_command(t, command(name), payload, label=f"agent {name} {request.get('op', '')}".strip(),
                               check=False, timeout=timeout, split_stderr=True, client=client)
    try:
        answer = json.loads(out.stdout) if out.stdout.strip() else None
    except json.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict):
        detail = (out.stderr or out.stdout).strip()[-1500:] or "no output"
        hint = " (is python3 installed on the device?)" if out.rc == 127 else ""
        raise CommandError(t.device, t.platform, f"agent {name}", f"exit {out.rc}: {detail}{hint}")
    if out.rc != 0:
        raise CommandError(t.device, t.platform, f"agent {name}",
                           f"exit {out.rc}: {answer.get('error') or out.stderr.strip()[-1500:]}")
    answer["_seconds"] = round(out.seconds, 4)
    return answer


@dataclass
class AgentResult:
    """One device's outcome of :func:`run_many`: its answer, or the typed error that prevented it."""

    device: str
    answer: dict[str, Any] | None = None
    error: str = ""
    error_kind: str = ""

    @property
    def ok(self) -> bool:
        return self.answer is not None


def run_many(targets: list[Target], name: str, request_for: Callable[[Target], dict[str, Any]], *,
             workers: int = 64) -> dict[str, AgentResult]:
    """Agent ``name`` on every target at once (a thread pool), each with its own request; never raises a
    device error (each device's error is in its result)."""

    def one(t: Target) -> AgentResult:
        try:
            return AgentResult(t.device, run_agent(t, name, request_for(t)))
        except DeployError as exc:
            return AgentResult(t.device, error=str(exc), error_kind=exc.kind)

    if not targets:
        return {}
    with ThreadPoolExecutor(max(1, min(workers, len(targets)))) as pool:
        return {r.device: r for r in pool.map(one, targets)}


class Session:
    """Agent requests over ONE SSH exec channel on ``t`` (the ``session`` agent): :meth:`ask` sends a
    request and waits for its answer; the channel stays open for the next one until :meth:`close`.

    Opening it connects (host key verified, as :func:`vendorwall.devices.ssh.connect`) and starts the
    program (a constant of the package, serving the agents ``names``); requests are data on standard input,
    one JSON line each. Typed errors: ConnectError/HostKeyError (could not connect), ConnectionLost (the
    channel died), CommandError (the program ended without answering, or the agent could not run).
    """

    def __init__(self, t: Target, names: tuple[str, ...], *, timeout: float | None = None, client: Any = None):
        self.t = t
        self.names = tuple(sorted(set(names)))
        self.timeout = timeout
        self._own = client is None
        self._client = client or connect(t)
        self._buf = bytearray()
        self.closed = False
        self._ended_input = False
        try:
            self._chan = self._client.get_transport().open_session(timeout=t.connect_timeout)
            self._chan.settimeout(timeout or t.command_timeout)
            self._chan.set_combine_stderr(False)
            self._chan.exec_command(session_command(self.names))
        except Exception as exc:
            self._drop()
            raise ConnectionLost(t.device, t.platform, "agent session", f"{type(exc).__name__}: {exc}") from None

    def ask(self, name: str, request: dict[str, Any]) -> dict[str, Any]:
        """Agent ``name``'s answer to ``request`` (the answer's ``_seconds``: send to answer)."""
        t = self.t
        label = f"agent {name} {request.get('op', '')}".strip()
        if name not in self.names:  # a caller's mistake, not a device's
            raise ValueError(f"the session on {t.device} does not serve agent {name!r}")
        if self.closed:
            raise ConnectionLost(t.device, t.platform, label, "the session has ended")
        started = time.monotonic()
        line = json.dumps({**request, "agent": name}, sort_keys=True, separators=(",", ":")).encode() + b"\n"
        try:
            self._chan.sendall(line)
            while b"\n" not in self._buf:
                data = self._chan.recv(65536)  # blocks up to the command timeout
                if not data:
                    break
                self._buf += data
        except Exception as exc:
            self._drop()
            raise ConnectionLost(t.device, t.platform, label, f"{type(exc).__name__}: {exc}") from None
        if b"\n" not in self._buf:  # the program ended without answering: say what it said
            detail = self._ended()
            hint = " (is python3 installed on the device?)" if detail.startswith("exit 127") else ""
            raise CommandError(t.device, t.platform, f"agent {name}", f"{detail}{hint}")
        raw, _, rest = bytes(self._buf).partition(b"\n")
        self._buf = bytearray(rest)
        try:
            reply = json.loads(raw)
        except ValueError:
            reply = None
        answer = reply.get("answer") if isinstance(reply, dict) else None
        if not isinstance(answer, dict):
            self._drop()
            raise CommandError(t.device, t.platform, f"agent {name}", f"not an answer: {raw[:300]!r}")
        status = reply.get("status") if isinstance(reply, dict) else None
        if status != 0:
            raise CommandError(t.device, t.platform, f"agent {name}",
                               f"status {status}: {answer.get('error') or 'no detail'}")
        answer["_seconds"] = round(time.monotonic() - started, 4)
        return answer

    def _ended(self) -> str:
        err = bytearray()
        try:
            while True:
                data = self._chan.recv_stderr(65536)
                if not data:
                    break
                err += data
            rc = self._chan.recv_exit_status()
        except Exception as exc:
            rc, err = -1, bytearray(f"{type(exc).__name__}: {exc}".encode())
        finally:
            self._drop()
        return f"exit {rc}: {err.decode(errors='replace').strip()[-1500:] or 'no output'}"

    def _drop(self) -> None:
        self.closed = True
        if self._own:
            close(self._client)

    def end_input(self) -> None:
        """End of input: the program exits after its last answer (:meth:`close` waits for it; ending the
        input of many sessions first lets them all exit at once)."""
        if self.closed or self._ended_input:
            return
        self._ended_input = True
        with contextlib.suppress(Exception):  # a dead channel: close() has nothing to wait for
            self._chan.shutdown_write()

    def close(self, wait: float = 5.0) -> int | None:
        """End the session: end of input, wait (up to ``wait`` s) until the program exits (no process is
        left behind on the device), then close the connection. Its exit status, None if unknown."""
        if self.closed:
            return None
        rc = None
        try:
            self.end_input()
            if self._chan.status_event.wait(wait):
                rc = self._chan.recv_exit_status()
            self._chan.close()
        except Exception:  # closing a dead channel: nothing left to do
            pass
        self._drop()
        return rc

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
