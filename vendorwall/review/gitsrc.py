"""Read an inventory as it is at a git revision, without touching the working tree.

``git ls-tree`` lists the inventory's blobs at the revision and one ``git cat-file --batch``
process streams their contents into a temporary directory, which the ordinary pipeline then
compiles. The working tree, the index and HEAD are never read or written for a revision (the
``--head`` default, the working tree, is read in place by the caller).

Every failure is a :class:`~vendorwall.errors.UsageError` (exit 2) that says what went wrong and
what to try: not a git repository, an unknown revision, an inventory absent at a revision.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from dataclasses import dataclass

from ..errors import UsageError

GIT_TIMEOUT = 120  # seconds; a local repository answers in milliseconds


@dataclass(frozen=True)
class Revision:
    """What the user named (``rev``), what it resolved to (``commit``), and how to show it."""

    rev: str
    commit: str  # 40 hex digits; "" for the working tree

    @property
    def working_tree(self) -> bool:
        return not self.commit

    @property
    def label(self) -> str:
        if self.working_tree:
            return "working tree"
        short = self.commit[:12]
        return short if self.rev in (self.commit, short) else f"{self.rev} ({short})"


WORKING_TREE = Revision("", "")


def _git(cwd: str, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, timeout=GIT_TIMEOUT,
                              check=False, env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
    except FileNotFoundError:
        raise UsageError("git is not installed", "install git (apt-get install git); vendorwall diff reads "
                         "both revisions from the repository") from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"git {args[0]} did not answer within {GIT_TIMEOUT} s", "check the repository "
                         "(git status) and retry") from None


def safe_relpath(rel: str) -> bool:
    """A relative POSIX path made only of plain names (no '', '.', '..', no leading '/', no NUL)."""
    parts = rel.split("/")
    return bool(rel) and "\0" not in rel and all(p not in ("", ".", "..") for p in parts)


def _write_under(dest: str, rel: str, body: bytes) -> None:
    """Write ``dest/rel`` without ever leaving ``dest``: plain names only, directories created here (a
    symbolic link found on the way is refused, never followed), the file created new."""
    if not safe_relpath(rel):  # blobs() already refused it; kept here so no caller can bypass it
        raise UsageError(f"refusing to write {rel!r} outside {dest}", "")
    parts = rel.split("/")
    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o700, dir_fd=fd)
            nfd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nfd
        out = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=fd)
        with os.fdopen(out, "wb") as fh:
            fh.write(body)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Repo:
    """A git repository and the inventory's path inside it (POSIX, relative to the top level)."""

    top: str
    inventory: str

    @classmethod
    def find(cls, inventory: str) -> Repo:
        """The repository holding ``inventory`` (a path as the user typed it)."""
        path = os.path.realpath(inventory)
        probe = path
        while not os.path.isdir(probe):  # the inventory may be absent from the working tree
            parent = os.path.dirname(probe)
            if parent == probe:
                break
            probe = parent
        res = _git(probe, "rev-parse", "--show-toplevel")
        if res.returncode != 0:
            raise UsageError(f"not a git repository: {inventory} (searched from {probe})",
                             "vendorwall diff compiles revisions read from git; run it on an inventory inside a "
                             "git checkout (git clone ..., or git init && git add && git commit)")
        top = os.path.realpath(res.stdout.decode().strip())
        rel = os.path.relpath(path, top)
        if rel == os.curdir:
            rel = ""
        if rel.startswith(os.pardir):
            raise UsageError(f"inventory {inventory} is outside the git repository {top}",
                             "pass an inventory directory inside the repository")
        return cls(top, rel.replace(os.sep, "/"))

    @property
    def shown(self) -> str:
        """The inventory path as messages and reports show it (relative to the repository)."""
        return self.inventory or "."

    def resolve(self, rev: str, option: str) -> Revision:
        if not rev or rev.startswith("-"):
            raise UsageError(f"{option}: not a revision: {rev!r}", "name a branch, tag or commit, e.g. origin/main")
        res = _git(self.top, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
        if res.returncode != 0:
            raise UsageError(f"{option}: unknown revision {rev!r} in {self.top}",
                             f"check the name with 'git log --oneline -3 {rev}'; in CI, fetch the base branch "
                             "first (git fetch origin main; a shallow clone needs enough depth)")
        return Revision(rev, res.stdout.decode().strip())

    def blobs(self, revision: Revision) -> list[tuple[str, str]]:
        """``(path relative to the inventory, blob id)`` of every file of the inventory at ``revision``."""
        prefix = f"{self.inventory}/" if self.inventory else ""
        args = ["ls-tree", "-r", "-z", "--full-tree", revision.commit]
        if prefix:
            args += ["--", prefix]
        res = _git(self.top, *args)
        if res.returncode != 0:
            raise UsageError(f"cannot list {self.shown} at {revision.label}: {res.stderr.decode().strip()}",
                             "check the revision and the path with 'git ls-tree REV -- PATH'")
        out = []
        for entry in res.stdout.split(b"\0"):
            if not entry:
                continue
            meta, _, path = entry.partition(b"\t")
            mode, kind, oid = meta.decode().split()
            if kind != "blob" or mode == "120000":  # submodules and symbolic links are not inventory files
                continue
            name = path.decode("utf-8", "surrogateescape")
            rel = name[len(prefix):]
            if not safe_relpath(rel):
                raise UsageError(f"{self.shown} at {revision.label}: the git tree holds a path that leaves the "
                                 f"inventory or is not a plain name: {rel!r}",
                                 "a crafted tree (entries named '..', '.', or empty), which git itself never "
                                 "checks out: inspect it with 'git ls-tree -r REV' and do not merge it")
            out.append((rel, oid))
        if not any(p == "hosts.yml" or p.startswith("vendorwall/") for p, _ in out):
            raise UsageError(f"inventory {self.shown} does not exist at {revision.label}",
                             f"check with 'git ls-tree --name-only {revision.rev} -- {prefix or '.'}'; "
                             "a new inventory has no base to compare with")
        return sorted(out)

    def materialise(self, revision: Revision, dest: str) -> dict[str, str]:
        """Write the inventory at ``revision`` under ``dest``; returns {relative path: blob id}."""
        blobs = self.blobs(revision)
        request = b"".join(oid.encode() + b"\n" for _, oid in blobs)
        res = _git(self.top, "cat-file", "--batch", stdin=request)
        if res.returncode != 0:
            raise UsageError(f"cannot read {self.shown} at {revision.label}: {res.stderr.decode().strip()}",
                             "check the repository with 'git fsck'")
        data = res.stdout
        pos = 0
        for rel, oid in blobs:
            nl = data.index(b"\n", pos)
            header = data[pos:nl].split()
            if len(header) != 3 or header[0].decode() != oid:
                raise UsageError(f"unexpected answer from git cat-file for {rel}: {data[pos:nl]!r}",
                                 "check the repository with 'git fsck'")
            size = int(header[2])
            body = data[nl + 1:nl + 1 + size]
            pos = nl + 1 + size + 1
            _write_under(dest, rel, body)
        return dict(blobs)
