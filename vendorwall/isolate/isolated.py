"""Which vendors are isolated: the controller's record, kept in the state directory.

``<state dir>/isolation.json`` (:attr:`vendorwall.state.StateDir.isolation_file`) says, per isolated
vendor, since when, why, under which ticket, with which scope, by whom and in which isolate run.
``vendorwall isolate`` writes it (before touching any device: fail closed) together with the
incident journal's ``started`` entry, under one lock; ``vendorwall restore`` removes the vendor once
every firewall has lifted it. Every render reads it: the policy of each firewall carries the
quarantine of the vendors isolated at render time, by vendor identity (their entry paths and
segments as the inventory says *now*), so a redeploy, a rollback, a reboot or a new VPN pool never
re-opens an isolated vendor. A deploy refuses to run when the record cannot be read.

Format (version 1)::

    {"version": 1,
     "vendors": {"NAME": {"since": "2026-11-28T03:12:44.120Z", "reason": "...", "ticket": "...",
                          "scope": "access|segment", "by": "user", "run": "run id"}}}

A missing file means "nobody is isolated" (a fresh controller). Anything else that cannot be read
(permissions, not JSON, not this format) is an error naming the file: never "nobody is isolated".
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import EXIT_FAIL, UsageError
from ..state import private_open, resolve, write_private

VERSION = 1
RECORD_NAME = "isolation.json"  # in the state directory (StateDir.isolation_file)
SCOPES = ("access", "segment")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", re.ASCII)


class IsolationStateError(UsageError):
    """The isolation record cannot be read: nothing that renders a policy may run."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"cannot read the isolation state {path}: {why}",
                         "vendorwall renders the quarantine of isolated vendors into every policy, so it refuses "
                         "to render or deploy without knowing who is isolated; fix the file's permissions or "
                         "content (the incident journal, journals/incident.jsonl, says who was isolated), "
                         "or pass the state directory that holds it: --state-dir DIR", EXIT_FAIL)
        self.path = path


@dataclass(frozen=True)
class Entry:
    vendor: str
    since: str
    reason: str
    ticket: str = ""
    scope: str = "access"
    by: str = ""
    run: str = ""

    def to_data(self) -> dict[str, str]:
        return {"since": self.since, "reason": self.reason, "ticket": self.ticket, "scope": self.scope,
                "by": self.by, "run": self.run}

    def describe(self) -> str:
        ticket = f", ticket {self.ticket}" if self.ticket else ""
        return f"isolated since {self.since} ({self.reason}{ticket}; scope {self.scope})"


@dataclass(frozen=True)
class Isolation:
    """The isolated vendors (name -> :class:`Entry`); empty: nobody is isolated."""

    vendors: Mapping[str, Entry] = field(default_factory=dict)
    path: str = ""

    def __contains__(self, vendor: object) -> bool:
        return vendor in self.vendors

    def __bool__(self) -> bool:
        return bool(self.vendors)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.vendors))

    def scopes(self) -> dict[str, str]:
        """Vendor -> scope, sorted (what the compiler needs)."""
        return {v: self.vendors[v].scope for v in sorted(self.vendors)}

    def to_data(self) -> dict[str, Any]:
        return {"version": VERSION, "vendors": {v: self.vendors[v].to_data() for v in sorted(self.vendors)}}


def path_of(inventory: str, override: str | None = None) -> str:
    """Where ``inventory``'s record is (nothing created: reading it must leave no trace)."""
    return os.path.join(resolve(inventory, override), RECORD_NAME)


def parse(text: str, path: str) -> Isolation:
    """The record's text -> :class:`Isolation`; :class:`IsolationStateError` naming what is wrong."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise IsolationStateError(path, f"not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("vendors"), dict):
        raise IsolationStateError(path, f"not a version {VERSION} isolation record "
                                        "({\"version\": 1, \"vendors\": {...}})")
    out: dict[str, Entry] = {}
    for name, e in data["vendors"].items():
        where = f"vendors.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            raise IsolationStateError(path, f"{where}: not a vendor name")
        if not isinstance(e, dict):
            raise IsolationStateError(path, f"{where}: not an object")
        fields = {k: e.get(k, "") for k in ("since", "reason", "ticket", "scope", "by", "run")}
        if not all(isinstance(v, str) for v in fields.values()):
            raise IsolationStateError(path, f"{where}: every field is text")
        if not _STAMP.match(fields["since"]):
            raise IsolationStateError(path, f"{where}.since: not a UTC time such as 2026-11-28T03:12:44.120Z")
        if fields["scope"] not in SCOPES:
            raise IsolationStateError(path, f"{where}.scope: one of {', '.join(SCOPES)}")
        out[name] = Entry(name, **fields)
    return Isolation(dict(sorted(out.items())), path)


def read(path: str) -> Isolation:
    """The record at ``path``; an empty one when the file does not exist."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        return Isolation({}, path)
    except (OSError, UnicodeDecodeError) as exc:
        raise IsolationStateError(path, getattr(exc, "strerror", None) or str(exc)) from None
    return parse(text, path)


def read_for(inventory: str, override: str | None = None) -> Isolation:
    """The record of ``inventory``'s state directory."""
    return read(path_of(inventory, override))


def write(path: str, iso: Isolation) -> None:
    """Atomically (temporary file + rename, 0600)."""
    write_private(path, json.dumps(iso.to_data(), indent=1, sort_keys=True) + "\n")


@contextlib.contextmanager
def locked(path: str) -> Iterator[None]:
    """An exclusive lock on the record (``<record>.lock``): read-modify-write by one run at a time."""
    with private_open(path + ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def with_isolated(iso: Isolation, entries: list[Entry]) -> Isolation:
    """``iso`` plus ``entries``. A vendor already isolated keeps its first ``since``/reason (the incident
    that started it); its scope only widens (access -> segment)."""
    out = dict(iso.vendors)
    for e in entries:
        old = out.get(e.vendor)
        if old is None:
            out[e.vendor] = e
        elif old.scope != e.scope and e.scope == "segment":
            out[e.vendor] = Entry(old.vendor, old.since, old.reason, old.ticket, "segment", old.by, old.run)
    return Isolation(dict(sorted(out.items())), iso.path)


def without(iso: Isolation, vendors: list[str]) -> Isolation:
    return Isolation({v: e for v, e in iso.vendors.items() if v not in set(vendors)}, iso.path)
