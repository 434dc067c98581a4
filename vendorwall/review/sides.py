"""Compile the two sides of a review: the base revision and the head (a revision or the working tree).

Each side goes through the ordinary pipeline (:func:`vendorwall.pipeline.run`) with
``check_lock=False``: the allocation is pinned by that side's own lock file, and a stale lock on
the head is reported as a risk flag rather than refused (the merge request may not have run
``vendorwall plan`` yet). Origins read ``<inventory path relative to the repository>/<file>:<line>``
on both sides, so the same file has the same name in the base and the head.

Most files are identical on both sides. :class:`ParseCache` parses each distinct file once (YAML
and its JSON Schema check, keyed by the file's shown path and content hash): the head then costs
only its changed files. It works by wrapping the loader functions for the duration of a ``with``
block; the parsed data is shared read-only between the sides, which the pipeline never mutates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from .. import allocate, inventory, pipeline, schema
from ..errors import Diagnostic, VendorwallError
from .gitsrc import Repo, Revision


@dataclass(frozen=True)
class Side:
    name: str  # "base" | "head"
    revision: Revision
    result: pipeline.Result
    stale_lock: Diagnostic | None


class SideInvalid(Exception):
    """A side whose inventory does not validate: its diagnostics, labelled with the revision."""

    def __init__(self, name: str, revision: Revision, inventory_path: str, error: VendorwallError) -> None:
        self.name = name
        self.revision = revision
        self.diagnostics = [_label(d, revision) for d in error.diagnostics]
        super().__init__(f"{name} {revision.label}: {len(self.diagnostics)} error(s)")
        self.inventory_path = inventory_path

    def render(self) -> str:
        n = len(self.diagnostics)
        head = (f"error: the {self.name} ({self.revision.label}) of {self.inventory_path} does not validate "
                f"({n} error{'s' if n != 1 else ''}); the review compares two valid inventories")
        body = "\n".join(d.render() for d in self.diagnostics)
        hint = ("  hint:     files are shown as REVISION:PATH (git show REVISION:PATH prints them); fix the "
                "errors on that revision, or run 'vendorwall validate' on a checkout of it")
        if self.revision.working_tree:
            hint = "  hint:     fix the files in the working tree ('vendorwall validate INVENTORY' lists the same)"
        return f"{head}\n{body}\n{hint}"


def _label(d: Diagnostic, revision: Revision) -> Diagnostic:
    if revision.working_tree:
        return d
    return replace(d, file=f"{revision.rev}:{d.file}")


class ParseCache:
    """Memo of per-file parsing shared by the two sides (see the module docstring)."""

    def __init__(self) -> None:
        self._files: dict[tuple[str, bytes], tuple[Any, Any, list[Diagnostic]]] = {}
        self._schema: dict[tuple[int, int], list[Diagnostic]] = {}
        self._parsed: set[int] = set()  # ids of the data held in _files (kept alive there)
        self.hits = 0
        self.misses = 0

    def _load_file(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        def load_file(path: str, display: str | None = None) -> Any:
            try:
                with open(path, "rb") as fh:
                    raw = fh.read()
            except OSError:
                return orig(path, display)
            key = (display or path, hashlib.sha1(raw).digest())
            hit = self._files.get(key)
            if hit is None:
                self.misses += 1
                hit = self._files[key] = orig(path, display)
                if isinstance(hit[0], (dict, list)):
                    self._parsed.add(id(hit[0]))
            else:
                self.hits += 1
            return hit

        return load_file

    def _check(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        def check(data: Any, src: Any) -> list[Diagnostic]:
            if id(data) not in self._parsed:  # not from this cache: its id may be reused
                return list(orig(data, src))
            key = (id(data), id(src))
            hit = self._schema.get(key)
            if hit is None:
                hit = self._schema[key] = list(orig(data, src))
            return list(hit)

        return check

    @contextmanager
    def installed(self) -> Iterator[None]:
        saved = (inventory.load_file, allocate.load_file, schema.check)
        inventory.load_file = self._load_file(saved[0])
        allocate.load_file = self._load_file(saved[1])
        schema.check = self._check(saved[2])
        try:
            yield
        finally:
            inventory.load_file, allocate.load_file, schema.check = saved


def compile_side(name: str, repo: Repo, revision: Revision, now: dt.date, workdir: str) -> Side:
    """Compile one side; raises :class:`SideInvalid` when its inventory does not validate."""
    if revision.working_tree:
        root = os.path.join(repo.top, *repo.inventory.split("/")) if repo.inventory else repo.top
    else:
        root = tempfile.mkdtemp(prefix=f"{name}-", dir=workdir)
        repo.materialise(revision, root)
    try:
        res = pipeline.run(root, now, shown_root=repo.shown, check_lock=False)
    except VendorwallError as exc:
        raise SideInvalid(name, revision, repo.shown, exc) from None
    return Side(name, revision, res, allocate.stale(res.lock, res.allocations))
