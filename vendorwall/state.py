"""The state directory: everything vendorwall keeps between runs, for one inventory, in one place.

Journeys share state: deploy must know who is isolated (to render their quarantine into every policy),
isolate needs the manifest written at plan time, access and isolate write journals, every push takes a
controller lock. All of it lives under one directory per inventory, never in the checkout (AWX discards a
job's checkout; a git-ignored ``build/`` is lost with it):

    <state dir>/
      manifest/            the isolation manifest (written by plan, read by isolate without the inventory)
      journals/            incident, access, accounts, logs: append-only, hash-chained JSON lines
      isolation.json       which vendors are isolated, since when, why (deploy reads it)
      locks/               controller-side device locks
      backups/             controller-side device backups (platforms without on-device backups)
      session-logs/        per-device session logs (secrets masked)
      connection-logs/     the collected connection-log archive
      cache/               content-addressed cache of parsed and compiled parts (plan)

Where it is, first match wins:

1. an explicit ``--state-dir`` / the ``vendorwall_state_dir`` Ansible variable;
2. the environment variable ``VENDORWALL_STATE_DIR`` (a base: the inventory's name is appended);
3. ``/var/lib/vendorwall/<inventory name>`` when that is writable (root, or a service account that owns
   it: the documented choice for a controller, an AWX persistent volume mounted there);
4. ``$XDG_STATE_HOME/vendorwall/<inventory name>`` (``~/.local/state/vendorwall/...``) for a user.

Directories are created 0700, files 0600 (journals, backups and logs hold what an attacker wants to
read or rewrite): :func:`private_open` / :func:`write_private` create them so, whatever the umask.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

ENV = "VENDORWALL_STATE_DIR"
SYSTEM_BASE = "/var/lib/vendorwall"
DIR_MODE = 0o700
FILE_MODE = 0o600


def inventory_name(inventory: str) -> str:
    return os.path.basename(os.path.normpath(os.path.abspath(inventory))) or "inventory"


def _user_base() -> str:
    xdg = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(xdg, "vendorwall")


def _writable_base(base: str) -> bool:
    if os.path.isdir(base):
        return os.access(base, os.W_OK | os.X_OK)
    parent = os.path.dirname(base)
    return os.path.isdir(parent) and os.access(parent, os.W_OK | os.X_OK)


_RUN_OVERRIDE: str | None = None  # the CLI's --state-dir (one process, one run)


def set_run_override(path: str | None) -> None:
    global _RUN_OVERRIDE
    _RUN_OVERRIDE = path


def resolve(inventory: str, override: str | None = None) -> str:
    """The state directory of ``inventory`` (not created)."""
    override = override or _RUN_OVERRIDE
    if override:
        return os.path.abspath(os.path.expanduser(override))
    name = inventory_name(inventory)
    env = os.environ.get(ENV)
    if env:
        return os.path.join(os.path.abspath(os.path.expanduser(env)), name)
    if _writable_base(SYSTEM_BASE):
        return os.path.join(SYSTEM_BASE, name)
    return os.path.join(_user_base(), name)


def ensure_dir(path: str) -> str:
    """Create ``path`` (and parents) 0700; an existing directory keeps its mode unless it is group/world
    writable, which is refused (someone else could plant files there)."""
    missing = []
    p = os.path.abspath(path)
    while not os.path.isdir(p):
        missing.append(p)
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    for d in reversed(missing):  # parents too: os.makedirs gives them the umask's mode (0755)
        with contextlib.suppress(FileExistsError):
            os.mkdir(d, DIR_MODE)
        with contextlib.suppress(OSError):
            os.chmod(d, DIR_MODE)
    st = os.stat(path)
    if st.st_mode & 0o022:
        os.chmod(path, st.st_mode & ~0o022 & 0o7777)
    return path


def private_open(path: str, mode: str = "a", encoding: str | None = "utf-8") -> IO[Any]:
    """Open ``path`` for writing, creating it 0600 (and its directory 0700) whatever the umask."""
    ensure_dir(os.path.dirname(os.path.abspath(path)))
    flags = os.O_WRONLY | os.O_CREAT
    if "a" in mode:
        flags |= os.O_APPEND
    if "w" in mode:
        flags |= os.O_TRUNC
    if "+" in mode:
        flags = (flags & ~os.O_WRONLY) | os.O_RDWR
    fd = os.open(path, flags, FILE_MODE)
    with contextlib.suppress(OSError):
        os.fchmod(fd, FILE_MODE)
    if "b" in mode:
        return os.fdopen(fd, mode)
    return os.fdopen(fd, mode, encoding=encoding)


def write_private(path: str, data: str | bytes) -> None:
    """Write ``path`` atomically (temporary file + rename), 0600."""
    d = ensure_dir(os.path.dirname(os.path.abspath(path)))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix="-" + os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@dataclass(frozen=True)
class StateDir:
    root: str

    @classmethod
    def for_inventory(cls, inventory: str, override: str | None = None) -> StateDir:
        return cls(resolve(inventory, override))

    def path(self, *parts: str) -> str:
        """A path under the state directory; its parent directories exist (0700) afterwards."""
        p = os.path.join(self.root, *parts)
        ensure_dir(os.path.dirname(p))
        return p

    def dir(self, *parts: str) -> str:
        return ensure_dir(os.path.join(self.root, *parts))

    # the places every journey shares ------------------------------------------------------------
    @property
    def manifest_dir(self) -> str:
        return self.dir("manifest")

    def journal(self, name: str) -> str:
        """``journals/<name>.jsonl`` (incident, access, accounts, logs)."""
        return self.path("journals", f"{name}.jsonl")

    @property
    def isolation_file(self) -> str:
        return self.path("isolation.json")

    @property
    def locks_dir(self) -> str:
        return self.dir("locks")

    @property
    def backups_dir(self) -> str:
        return self.dir("backups")

    @property
    def session_logs_dir(self) -> str:
        return self.dir("session-logs")

    @property
    def connection_logs_dir(self) -> str:
        return self.dir("connection-logs")

    @property
    def cache_dir(self) -> str:
        return self.dir("cache")

    def read_json(self, *parts: str, default: Any = None) -> Any:
        try:
            with open(os.path.join(self.root, *parts), encoding="utf-8") as fh:
                return json.load(fh)
        except FileNotFoundError:
            return default

    def write_json(self, data: Any, *parts: str) -> None:
        write_private(self.path(*parts), json.dumps(data, indent=1, sort_keys=True) + "\n")


def walk_private(root: str) -> Iterator[tuple[str, int]]:
    """Every file and directory under ``root`` with its mode (for the permission tests and a self-check)."""
    for dirpath, _dirnames, filenames in os.walk(root):
        yield dirpath, os.stat(dirpath).st_mode & 0o777
        for f in filenames:
            p = os.path.join(dirpath, f)
            with contextlib.suppress(FileNotFoundError):
                yield p, os.stat(p).st_mode & 0o777
