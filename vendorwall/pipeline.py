"""The pipeline, in one place: load -> validate -> allocate -> compile -> render -> plan.

Each stage collects every problem it finds; the run stops at the first stage that has any
(a stage barrier), so a user fixes everything in one pass and later stages never see bad data.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from . import allocate as alloc
from . import compile as comp
from . import inventory, render, validate
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


def run(root: str, now: dt.date, *, shown_root: str | None = None, check_lock: bool = True,
        do_render: bool = True, isolation: Isolation | None = None,
        hosts: Mapping[str, Any] | None = None) -> Result:
    with gc_paused():
        return _run(root, now, shown_root=shown_root, check_lock=check_lock, do_render=do_render,
                    isolation=isolation, hosts=hosts)


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
