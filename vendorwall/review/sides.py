"""Compile the two sides of a review: the base revision and the head (a revision or the working tree).

Each side goes through the ordinary pipeline (:func:`vendorwall.pipeline.run`) with
``check_lock=False``: the allocation is pinned by that side's own lock file, and a stale lock on
the head is reported as a risk flag rather than refused (the merge request may not have run
``vendorwall plan`` yet). Origins read ``<inventory path relative to the repository>/<file>:<line>``
on both sides, so the same file has the same name in the base and the head.

Speed (the 5,000-system benchmark in benchmarks/bench_review.py):

- Most files are identical on both sides. :class:`ParseCache` parses each distinct file once
  (YAML and its JSON Schema check, keyed by the file's shown path and content hash), by wrapping
  the loader functions for the duration of a ``with`` block; the parsed data is shared read-only
  between the sides, which the pipeline never mutates.
- With ``jobs=2`` (the default on a machine with two CPUs or more, where ``fork`` exists), a
  forked process parses half of the distinct files while this one parses the other half, then a
  forked process compiles the base while this one compiles the head. The base comes back as a
  :class:`Compiled` without its inventory, which this process loads from the shared parse cache.
  The result is the same as with ``jobs=1``, byte for byte (a test checks it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import multiprocessing
import os
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from .. import allocate, inventory, pipeline, schema
from ..errors import Diagnostic, UsageError, VendorwallError
from ..isolate.isolated import Isolation
from ..model import Inventory, Segment
from ..render import Rendered
from .compare import FlowFacts, FlowKey, side_flows
from .gitsrc import Repo, Revision


@dataclass(frozen=True)
class Compiled:
    """What the comparison needs of one compiled side."""

    name: str  # "base" | "head"
    revision: Revision
    inventory: Inventory
    segments: tuple[Segment, ...]
    flows: dict[FlowKey, tuple[FlowFacts, ...]]
    configs: dict[str, Rendered]
    stale_lock: Diagnostic | None


class SideInvalid(Exception):
    """A side whose inventory does not validate: its diagnostics, labelled with the revision."""

    def __init__(self, name: str, revision: Revision, inventory_path: str, diagnostics: list[Diagnostic]) -> None:
        self.name = name
        self.revision = revision
        self.inventory_path = inventory_path
        self.diagnostics = [_label(d, revision) for d in diagnostics]
        super().__init__(f"{name} {revision.label}: {len(self.diagnostics)} error(s)")

    def __reduce__(self) -> tuple[Any, ...]:  # crosses the process boundary with jobs=2
        return (_side_invalid, (self.name, self.revision, self.inventory_path, self.diagnostics))

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


def _side_invalid(name: str, revision: Revision, path: str, diags: list[Diagnostic]) -> SideInvalid:
    exc = SideInvalid(name, revision, path, [])
    exc.diagnostics = diags  # already labelled
    return exc


def _label(d: Diagnostic, revision: Revision) -> Diagnostic:
    if revision.working_tree:
        return d
    return replace(d, file=f"{revision.rev}:{d.file}")


# --------------------------------------------------------------------------- the parse cache


ParseKey = tuple[str, bytes]  # (shown path, sha1 of the content)


class ParseCache:
    """Memo of per-file parsing shared by the two sides (see the module docstring)."""

    def __init__(self) -> None:
        self._files: dict[ParseKey, tuple[Any, Any, list[Diagnostic]]] = {}
        self._schema: dict[tuple[int, int], list[Diagnostic]] = {}
        self._parsed: set[int] = set()  # ids of the data held in _files (kept alive there)
        self.hits = 0
        self.misses = 0

    def put(self, key: ParseKey, parsed: tuple[Any, Any, list[Diagnostic]],
            schema_diags: list[Diagnostic] | None) -> None:
        self._files[key] = parsed
        data, src, _ = parsed
        if isinstance(data, dict | list):
            self._parsed.add(id(data))
            if schema_diags is not None:
                self._schema[(id(data), id(src))] = schema_diags

    def __contains__(self, key: ParseKey) -> bool:
        return key in self._files

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
                hit = orig(path, display)
                self.put(key, hit, None)
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


def inventory_files(root: str, shown_root: str) -> list[tuple[str, str, bool]]:
    """``(path, shown path, is a domain file)`` of every file the pipeline reads, shown as it shows them."""
    shown_root = os.path.normpath(shown_root)
    out = [(os.path.join(root, "hosts.yml"), os.path.join(shown_root, "hosts.yml"), False)]
    out += [(p, os.path.join(shown_root, os.path.relpath(p, root)), True) for p in inventory.domain_files(root)]
    lock = allocate.lock_path(root)
    out.append((lock, os.path.join(shown_root, inventory.DOMAIN_DIR, inventory.LOCK_FILE), False))
    return [f for f in out if os.path.isfile(f[0])]


def _parse(files: list[tuple[ParseKey, str, bool]]) -> list[tuple[ParseKey, Any, list[Diagnostic] | None]]:
    """Parse files with the real loader and schema check (no cache): what a prefetch worker does."""
    out = []
    for key, path, domain in files:
        parsed = inventory.load_file(path, key[0])
        data, src, diags = parsed
        checked = schema.check(data, src) if domain and not diags and data is not None else None
        out.append((key, parsed, checked))
    return out


# --------------------------------------------------------------------------- one side


def root_of(name: str, repo: Repo, revision: Revision, workdir: str) -> str:
    """The directory holding the side's inventory: the working tree, or a copy from git."""
    if revision.working_tree:
        return os.path.join(repo.top, *repo.inventory.split("/")) if repo.inventory else repo.top
    root = tempfile.mkdtemp(prefix=f"{name}-", dir=workdir)
    repo.materialise(revision, root)
    return root


def compile_side(name: str, repo: Repo, revision: Revision, root: str, now: dt.date,
                 with_inventory: bool = True, isolation: Isolation | None = None) -> Compiled:
    """Compile one side; raises :class:`SideInvalid` when its inventory does not validate.

    ``isolation``: the vendors isolated now (the reviewed inventory's record; None: nobody). Both
    sides render the same quarantine, and a side materialised from git in a temporary directory
    never reads or creates a state directory named after that directory."""
    try:
        res = pipeline.run(root, now, shown_root=repo.shown, check_lock=False,
                           isolation=isolation if isolation is not None else Isolation())
    except VendorwallError as exc:
        raise SideInvalid(name, revision, repo.shown, exc.diagnostics) from None
    inv = res.inventory if with_inventory else None
    return Compiled(name, revision, inv, res.model.segments, side_flows(res.model),  # type: ignore[arg-type]
                    res.configs, allocate.stale(res.lock, res.allocations))


# --------------------------------------------------------------------------- both sides


@dataclass
class Stats:
    files_parsed: int = 0  # distinct files parsed (YAML and schema)
    files_shared: int = 0  # files of the head identical to the base's, parsed once for both
    jobs: int = 1


def default_jobs() -> int:
    fork = "fork" in multiprocessing.get_all_start_methods()
    return 2 if fork and (os.cpu_count() or 1) >= 2 else 1


def compile_both(repo: Repo, base: Revision, head: Revision, now: dt.date, workdir: str,
                 jobs: int | None = None, isolation: Isolation | None = None,
                 ) -> tuple[dict[str, Compiled], list[SideInvalid], Stats]:
    jobs = default_jobs() if jobs is None else max(1, min(jobs, 2))
    if jobs > 1 and "fork" not in multiprocessing.get_all_start_methods():
        jobs = 1
    roots = {"base": root_of("base", repo, base, workdir), "head": root_of("head", repo, head, workdir)}
    revs = {"base": base, "head": head}
    cache = ParseCache()
    stats = Stats(jobs=jobs)
    files: dict[ParseKey, tuple[str, bool]] = {}
    per_side: dict[str, set[ParseKey]] = {}
    for name, root in roots.items():
        keys = set()
        for path, shown, domain in inventory_files(root, repo.shown):
            with open(path, "rb") as fh:
                key = (shown, hashlib.sha1(fh.read()).digest())
            files.setdefault(key, (path, domain))
            keys.add(key)
        per_side[name] = keys
    stats.files_parsed = len(files)
    stats.files_shared = len(per_side["base"] & per_side["head"])
    todo = [(k, p, d) for k, (p, d) in sorted(files.items(), key=lambda kv: -os.path.getsize(kv[1][0]))]
    out: dict[str, Compiled] = {}
    errors: list[SideInvalid] = []
    if jobs == 1:
        for key, parsed, checked in _parse(todo):
            cache.put(key, parsed, checked)
        with cache.installed():
            for name in ("base", "head"):
                try:
                    out[name] = compile_side(name, repo, revs[name], roots[name], now, True, isolation)
                except SideInvalid as exc:
                    errors.append(exc)
        return out, errors, stats
    # 1. parse: a forked worker takes every other file (largest first), this process the rest
    with _Fork(_parse, todo[0::2]) as worker:
        for key, parsed, checked in _parse(todo[1::2]):
            cache.put(key, parsed, checked)
        for key, parsed, checked in worker.result():
            cache.put(key, parsed, checked)
    # 2. compile: a forked worker compiles the base (without its inventory), this process the head
    with cache.installed(), _Fork(compile_side, "base", repo, base, roots["base"], now, False,
                                       isolation) as worker:
        try:
            out["head"] = compile_side("head", repo, head, roots["head"], now, True, isolation)
        except SideInvalid as exc:
            errors.append(exc)
        try:
            compiled = worker.result()
            base_inv, _, _ = inventory.load(roots["base"], repo.shown)  # typed objects from the parse cache
            out["base"] = replace(compiled, inventory=base_inv)
        except SideInvalid as exc:
            errors.insert(0, exc)
    return out, errors, stats


class _Fork:
    """Run ``fn(*args)`` in a forked process; ``result()`` returns its value or raises its exception
    (a :class:`SideInvalid` or :class:`UsageError` as such, anything else as a RuntimeError)."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        ctx = multiprocessing.get_context("fork")
        self._recv, send = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_child, args=(send, fn, args), daemon=True)
        self._send = send
        self._done = False

    def __enter__(self) -> _Fork:
        self._proc.start()
        self._send.close()
        return self

    def result(self) -> Any:
        try:
            kind, value = self._recv.recv()
        except EOFError:
            kind, value = "crash", f"the worker process ended with code {self._proc.exitcode} before answering"
        self._done = True
        self._proc.join()
        if kind == "ok":
            return value
        if kind == "invalid":
            raise value
        if kind == "usage":
            raise UsageError(*value)
        raise RuntimeError(f"review worker failed: {value}")

    def __exit__(self, *exc: object) -> None:
        if not self._done:
            self._proc.kill()
            self._proc.join()
        self._recv.close()


def _child(send: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        message: tuple[str, Any] = ("ok", fn(*args))
    except SideInvalid as exc:
        message = ("invalid", exc)
    except UsageError as exc:
        message = ("usage", (exc.message, exc.hint, exc.exit_code))
    except BaseException:  # a bug: its traceback goes to the parent, which reports an internal error
        message = ("crash", traceback.format_exc())
    send.send(message)
    send.close()
    os._exit(0)  # no atexit handlers, no temporary directory cleanup: they belong to the parent
