"""The pipeline, in one place: load -> validate -> allocate -> compile -> render -> plan.

Each stage collects every problem it finds; the run stops at the first stage that has any
(a stage barrier), so a user fixes everything in one pass and later stages never see bad data.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from typing import Any

from . import allocate as alloc
from . import cache, hostsrc, inventory, render, validate
from . import compile as comp
from .allocate import Allocation, Lock
from .errors import Diagnostic, VendorwallError
from .isolate import isolated
from .isolate.isolated import Isolation
from .model import Inventory, Model


@dataclass(frozen=True)
class Result:
    inventory: Inventory
    lock: Lock
    allocations: dict[str, Allocation]
    model: Model
    configs: dict[str, render.Rendered]


def _barrier(stage: str, diags: list[Diagnostic]) -> None:
    if diags:
        raise VendorwallError(diags, stage)


def load_and_validate(root: str, now: dt.date, shown_root: str | None = None, *,
                      hosts: Mapping[str, Any] | None = None) -> tuple[Inventory, Lock]:
    """Load, then run the semantic checks on everything that loaded (the loader leaves out only
    the entries with structural errors and names them in ``inv.broken``, so checks skip what
    depends on them): one run lists the structural and the semantic mistakes together.
    ``hosts``: the devices from a play's inventory (:func:`vendorwall.inventory.load`)."""
    inv, diags, _ = inventory.load(root, shown_root, hosts=hosts)
    lock, lock_diags = alloc.read_lock(root, shown_root if shown_root is not None else root)
    _barrier("validate", diags + lock_diags + validate.check(inv, now))
    return inv, lock


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the duration of a run.

    The pipeline builds a large graph of long-lived objects (YAML nodes, the typed inventory,
    rules, set elements) and frees almost none of it until the end, so every generation-2
    collection rescans all of it: load and compile become super-linear in the inventory size
    (benchmarks/README.md). Reference counting still frees everything acyclic.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_KEEP: list[Result] | None = None  # see exiting_process()


def exiting_process() -> None:
    """For a command-line process that exits once this command is done (``vendorwall validate``,
    ``plan``): the collector stays off and every run's objects are kept until the process ends, which
    then exits without freeing them (:func:`vendorwall.cli.main`). Freeing a 50,000-system model
    object by object, and the full collection that re-enabling the collector starts, cost seconds."""
    global _KEEP
    gc.disable()
    _KEEP = []


def run(root: str, now: dt.date, *, shown_root: str | None = None, check_lock: bool = True,
        do_render: bool = True, isolation: Isolation | None = None,
        hosts: Mapping[str, Any] | None = None) -> Result:
    with gc_paused():
        res = _run(root, now, shown_root=shown_root, check_lock=check_lock, do_render=do_render,
                   isolation=isolation, hosts=hosts)
    if _KEEP is not None:
        _KEEP.append(res)
    return res


def _run(root: str, now: dt.date, *, shown_root: str | None = None, check_lock: bool = True,
         do_render: bool = True, isolation: Isolation | None = None,
         hosts: Mapping[str, Any] | None = None) -> Result:
    """The whole pipeline up to rendered configurations (no device I/O).

    ``check_lock`` makes a stale lock file an error (validate, export); ``plan`` turns it off
    because writing the lock is its job. ``isolation``: the vendors isolated now; when rendering
    without it, the inventory's isolation record (state directory) is read, and a record that cannot
    be read stops the run (:class:`vendorwall.isolate.isolated.IsolationStateError`): every rendered
    policy carries the quarantine of the vendors isolated at render time.
    """
    if isolation is None and do_render:
        isolation = isolated.read_for(root)
    inv, lock = load_and_validate(root, now, shown_root, hosts=hosts)
    allocations, diags = alloc.allocate(inv, lock)
    diags = validate.precise(inv, diags)
    if check_lock and not diags and lock.exists:  # no lock file yet: a first run, 'plan' writes it
        stale = alloc.stale(lock, allocations, shown_root if shown_root is not None else root)
        diags += [stale] if stale else []
    _barrier("allocate", diags)
    model, diags = comp.compile_model(inv, allocations, now, isolation.scopes() if isolation else None)
    _barrier("compile", diags)
    configs: dict[str, render.Rendered] = {}
    if do_render:
        configs, diags = render.render_all(model)
        _barrier("render", diags)
    return Result(inv, lock, allocations, model, configs)


# --------------------------------------------------------------------------- whole-run cache keys


def inputs_key(kind: str, root: str, now: dt.date, shown_root: str | None, *extra: str) -> str | None:
    """The cache key of a whole run over ``root`` (``plan``'s ``run`` entry, ``validate``'s ``valid``):
    every input file's name and bytes (device inventory, domain files, lock file), the isolation record
    (state directory), the date, the name the inventory is shown under and ``extra``.

    None (never cached) when the device inventory is read through Ansible (other inventory sources,
    group_vars/host_vars, templating, vault: what Ansible reads then is not a list of files this key
    could cover)."""
    hosts = os.path.join(root, hostsrc.HOSTS_FILE)
    try:
        with open(hosts, "rb") as fh:
            hosts_raw = fh.read()
    except OSError:
        return None
    if not _devices_read_without_ansible(root, hosts_raw):
        return None
    parts: list[bytes | str] = [now.isoformat(), shown_root or root, *extra, hostsrc.HOSTS_FILE, hosts_raw]
    # the isolation record is an input too: a policy carries the quarantine of the vendors isolated now
    for path in [*inventory.domain_files(root), alloc.lock_path(root), isolated.path_of(root)]:
        parts.append(os.path.relpath(path, root))
        try:
            with open(path, "rb") as fh:
                parts.append(fh.read())
        except OSError:
            parts.append(b"\0missing")
    return cache.digest(kind, *parts)


def _devices_read_without_ansible(root: str, raw: bytes) -> bool:
    """Whether the devices come from ``hosts.yml`` alone (:func:`vendorwall.hostsrc.fast_eligible`)."""
    import yaml

    text = raw.decode("utf-8", "replace")
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return True  # the reader reports it at its line: nothing read beyond this file
    return hostsrc.fast_eligible(root, data, text)


@dataclass(frozen=True)
class Validated:
    """What ``vendorwall validate`` says about a valid inventory."""

    vendors: int
    systems: int
    segments: int
    rules: int
    lock_exists: bool
    pending: tuple[tuple[str, int, str, str], ...]  # no lock file yet: (segment, VLAN, subnet, hosts)


def validated(root: str, now: dt.date, shown_root: str | None = None) -> Validated:
    """The whole pipeline as ``validate`` runs it (stale lock file refused); with an active cache, an
    inventory validated before with exactly these inputs (:func:`inputs_key`) is answered from the
    cache's ``valid`` entry. Only a valid result is kept: problems are always recomputed."""
    c = cache.active()
    key = inputs_key("valid", root, now, shown_root) if c is not None else None
    if c is not None and key is not None:
        hit = c.get("valid", key)
        if isinstance(hit, tuple) and len(hit) == 6:
            return Validated(*hit)
    res = run(root, now, shown_root=shown_root)
    pending = () if res.lock.exists else tuple(
        (k, a.vlan, str(a.subnet),
         ", ".join(f"{s} {' '.join(map(str, addrs))}" for s, addrs in sorted(a.hosts.items())))
        for k, a in sorted(res.allocations.items()))
    out = Validated(len(res.inventory.vendors), len(res.inventory.systems), len(res.model.segments),
                    len(res.model.rules), res.lock.exists, pending)
    if c is not None and key is not None:
        c.put("valid", key, astuple(out))
    return out
