"""Fixed programs that run on Linux devices (nftables firewalls, bastions), fed data as data.

An agent is a Python 3 program shipped in this package (``<name>.py`` beside this file, standard library
only, Python >= 3.7 so a Debian 10 box runs it). :func:`run_agent` executes it over one SSH exec round
trip as ``python3 -c <program> <name>``: the command line holds nothing but the program itself, a constant
of the package; the request goes on standard input as one JSON document, and the agent answers with one
JSON document on standard output. Nothing of the inventory, a manifest or an operator's input is ever
spliced into a shell script: an account id or a vendor name can only ever be a JSON string.

Agents re-validate what they receive (names by pattern, addresses by parsing) and call programs with
argument vectors (``subprocess.run([...])``), never through a shell.

The agent protocol: request ``{"op": NAME, ...}``; answer ``{"ok": true|false, ...}`` and exit status 0
when the agent ran (per-item outcomes are in the answer), non-zero when it could not (bad request, crash:
the answer then carries ``error``).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from ..errors import CommandError, DeployError
from ..ssh import Output, exec_command
from ..target import Target

PYTHON = "python3"


@cache
def source(name: str) -> str:
    """The program text of agent ``name`` (a file of this package)."""
    if not name.isidentifier():
        raise ValueError(f"not an agent name: {name!r}")
    return (resources.files(__package__) / f"{name}.py").read_text(encoding="utf-8")


@cache
def command(name: str) -> str:
    """The exec command line of agent ``name``: constant for a given package version."""
    return f"{PYTHON} -c {shlex.quote(source(name))} {name}"


def local_argv(name: str) -> list[str]:
    """The argument vector that runs agent ``name`` on this machine (the lab runs it in a firewall's
    network namespace as ``ip netns exec NS`` + this; tests in a throwaway one)."""
    return [PYTHON, "-c", source(name), name]


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
