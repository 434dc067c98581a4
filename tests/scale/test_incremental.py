"""Incremental runs equal clean runs, byte for byte (vendorwall/cache.py).

A hypothesis property: starting from a synthetic inventory, apply a random sequence of edits
(services of a system, a flow added or removed, a system added or removed, an entry path's
prefix, a vendor title, a site's management network, a policy value, a line-shifting comment...)
and after each one run ``plan`` twice on identical copies: once with the cache that earlier steps
filled, once with no cache at all. Every file written (configurations, isolation manifest, lock
file) and the summary must be identical. Also: a no-change rerun is answered from the ``run``
entry; a one-vendor edit re-renders only the devices it touches; damaged, foreign or unwritable
cache entries are misses, never errors. ``validate`` likewise: after each step, with the cache and
without it, the same answer (or the same errors); a no-change rerun is answered from the ``valid``
entry, an edit never is; an inventory whose devices Ansible reads is never answered from the cache.
"""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vendorwall_testlib import NOW, big_inventory, system, write_inventory

from vendorwall import cache, pipeline, plan
from vendorwall.errors import VendorwallError
from vendorwall.isolate import isolated, manifest

BASE = big_inventory(n_sites=2, per_vendor_site=4, seed=3)


def _systems(inv: dict[str, Any]) -> list[tuple[str, int]]:
    return [(v, i) for v in sorted(inv["vendors"]) for i in range(len(inv["vendors"][v]["systems"]))]


def edit(inv: dict[str, Any], kind: str, pick: int, root: Path) -> None:
    """Apply one edit of ``kind`` (``pick`` chooses where), keeping the inventory valid."""
    systems = _systems(inv)
    v, i = systems[pick % len(systems)]
    s = inv["vendors"][v]["systems"][i]
    if kind == "services":
        options = [["ssh"], ["https"], ["ssh", "https"], ["rdp", "viewer"], ["snmp"]]
        s["access"]["services"] = options[pick % len(options)]
        s["access"].pop("exception", None)
    elif kind == "flow_add":
        s.setdefault("flows", []).append({"from": ["g-wide", "g-narrow", "g-servers"][pick % 3],
                                          "services": ["hl7"]})
    elif kind == "flow_drop" and s.get("flows"):
        s["flows"].pop()
    elif kind == "system_add":
        site = s["site"]
        name = f"{v}-{site}-n{pick % 1000:03d}"
        if all(x["name"] != name for vv in inv["vendors"].values() for x in vv["systems"]):
            inv["vendors"][v]["systems"].append(system(name, v, site, "on_demand", ("https",))[1])
    elif kind == "system_drop":
        name = s["name"]
        if len(inv["vendors"][v]["systems"]) > 1:
            for vv in inv["vendors"].values():  # flows towards it go too
                for x in vv["systems"]:
                    x["flows"] = [f for f in x.get("flows", []) if f.get("to") != name and f.get("from") != name]
            del inv["vendors"][v]["systems"][i]
    elif kind == "entry_prefix":  # rule contents change, rule ids do not
        if pick % 2:
            p = inv["vendors"]["va"]["entry_paths"][1]
            p["pool"] = "10.200.0.32/27" if p["pool"] == "10.200.0.0/27" else "10.200.0.0/27"
        else:
            p = inv["vendors"]["vc"]["entry_paths"][0]
            p["pool"] = "10.200.1.64/28" if p["pool"] == "10.200.1.0/27" else "10.200.1.0/27"
    elif kind == "group_prefix":  # clinical rules' sources change, ids do not
        g = inv["client_groups"]["g-servers"]["prefixes"]
        g[-1] = "10.5.30.0/28" if g[-1] == "10.5.20.0/28" else "10.5.20.0/28"
    elif kind == "title":
        inv["vendors"][v]["title"] = f"Vendor {v} #{pick % 7}"
    elif kind == "management":
        site = sorted(inv["sites"])[pick % len(inv["sites"])]
        mg = inv["sites"][site]["management"]
        extra = "10.251.0.0/24"
        inv["sites"][site]["management"] = [m for m in mg if m != extra] if extra in mg else [*mg, extra]
    elif kind == "policy":
        inv["policy"]["on_demand_max_hours"] = 8 + pick % 3
    elif kind == "window" and s["access"]["mode"] == "scheduled":
        s["access"]["window"]["end"] = ["12:00", "13:30"][pick % 2]
    elif kind == "function":  # changes lines in the vendor file only (origins shift, rules do not)
        s["function"] = "system\nwith a second line" if pick % 2 else f"system {s['name']}"
    elif kind == "isolate":  # the isolation record (state directory): every policy carries the quarantine
        path = isolated.path_of(str(root))
        iso = isolated.read(path)
        vendors = dict(iso.vendors)
        if v in vendors:
            del vendors[v]
        else:
            vendors[v] = isolated.Entry(v, "2026-11-28T03:12:44.120Z", "test", scope=["access", "segment"][pick % 2])
        isolated.write(path, isolated.Isolation(vendors, path))
    elif kind == "port" and s.get("switch_ports"):
        s["switch_ports"][0]["interface"] = f"GigabitEthernet1/0/{41 + pick % 6}"


KINDS = ["services", "flow_add", "flow_drop", "system_add", "system_drop", "entry_prefix", "group_prefix", "title",
         "management", "policy", "window", "function", "port", "isolate"]


def _files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


def _plan(root: Path, out: Path, c: cache.Cache | None) -> tuple[str, dict[str, bytes], bytes]:
    """The summary (output directory shown as OUT), the files written (the isolation manifest of the
    state directory included), the lock file."""
    with cache.use(c):
        try:
            summary = repr(plan.plan(str(root), NOW, str(out), shown_root="inv").to_data())
        except VendorwallError as exc:
            summary = exc.render()
    summary = summary.replace(str(out), "OUT")
    lock = (root / "vendorwall" / "allocations.lock.yml")
    files = _files(out) if out.exists() else {}
    mpath = Path(manifest.default_path(str(root)))
    if mpath.exists():
        files["manifest"] = mpath.read_bytes()
    return summary, files, lock.read_bytes() if lock.exists() else b""


def _validate(root: Path, c: cache.Cache | None) -> str:
    with cache.use(c):
        try:
            return repr(pipeline.validated(str(root), NOW, shown_root="inv"))
        except VendorwallError as exc:
            return exc.render()


def _same_run(tmp: Path, inv: dict[str, Any], c: cache.Cache, step: int) -> bool:
    """Write ``inv`` into the incremental copy, mirror it (lock file included) into a clean copy, plan both."""
    inc, clean = tmp / "inc" / "inv", tmp / f"clean{step}" / "inv"  # same name: the manifest carries it
    lock = inc / "vendorwall" / "allocations.lock.yml"
    saved = lock.read_bytes() if lock.exists() else None
    write_inventory(inv, inc)
    if saved is not None:
        lock.write_bytes(saved)
    shutil.copytree(inc, clean)
    if (tmp / "out-inc").exists():  # both start from the outputs the previous step left
        shutil.copytree(tmp / "out-inc", tmp / f"out-clean{step}")
    # validate first (before plan rewrites the lock file), incremental then clean
    assert _validate(inc, c) == _validate(clean, None), f"validate differs after step {step}"
    got = _plan(inc, tmp / "out-inc", c)
    want = _plan(clean, tmp / f"out-clean{step}", None)
    assert got[0] == want[0], f"summary differs after step {step}"
    assert got[1].keys() == want[1].keys()
    for name in want[1]:
        assert got[1][name] == want[1][name], f"{name} differs after step {step}"
    assert got[2] == want[2], "lock file differs"
    shutil.rmtree(clean.parent)
    shutil.rmtree(tmp / f"out-clean{step}")
    return not got[0].startswith("error")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 10_000)), min_size=1, max_size=4))
def test_incremental_equals_clean(tmp_path_factory: pytest.TempPathFactory, edits: list[tuple[str, int]]) -> None:
    tmp = tmp_path_factory.mktemp("incr")
    c = cache.Cache(str(tmp / "cache"))
    inv = copy.deepcopy(BASE)
    _same_run(tmp, inv, c, 0)
    for step, (kind, pick) in enumerate(edits, 1):
        edit(inv, kind, pick, tmp / "inc" / "inv")
        _same_run(tmp, inv, c, step)
    hits = c.hits["run"]
    if _same_run(tmp, inv, c, len(edits) + 1):  # nothing changed: answered by the run entry
        assert c.hits["run"] == hits + 1
        # validated just before that plan, and the plan changed nothing: answered by the valid entry
        valid, answer = c.hits["valid"], _validate(tmp / "inc" / "inv", None)
        assert _validate(tmp / "inc" / "inv", c) == answer and c.hits["valid"] == valid + 1


def test_validate_answers_from_cache_only_when_nothing_changed(tmp_path: Path) -> None:
    inv = copy.deepcopy(BASE)
    root = tmp_path / "inv"
    write_inventory(inv, root)
    _plan(root, tmp_path / "out", None)  # the lock file
    lock = root / "vendorwall" / "allocations.lock.yml"
    saved = lock.read_text()
    c = cache.Cache(str(tmp_path / "cache"))
    first = _validate(root, c)
    assert first.startswith("Validated(") and c.misses["valid"] == 1
    assert _validate(root, c) == first and c.hits["valid"] == 1
    # an edit that breaks the inventory: the errors, never the cached answer
    inv["vendors"]["va"]["systems"][0]["access"]["services"] = ["no-such-service"]
    write_inventory(inv, root, lock_text=saved)
    broken = _validate(root, c)
    assert "unknown service 'no-such-service'" in broken and c.hits["valid"] == 1
    assert _validate(root, c) == broken and c.hits["valid"] == 1  # problems are always recomputed
    # back as validated: answered again
    write_inventory(BASE, root, lock_text=saved)
    assert _validate(root, c) == first and c.hits["valid"] == 2
    # the lock file is an input: a stale one is refused even though the domain files are as validated
    first_vlan = saved.index("vlan: ") + len("vlan: ")
    lock.write_text(saved[:first_vlan] + "3999" + saved[first_vlan + 4:])
    stale = _validate(root, None)
    assert stale != first and _validate(root, c) == stale


def test_devices_read_through_ansible_are_never_cached(tmp_path: Path) -> None:
    root = tmp_path / "inv"
    write_inventory(BASE, root)
    _plan(root, tmp_path / "out", None)
    (root / "group_vars").mkdir()
    (root / "group_vars" / "all.yml").write_text("---\nntp: 10.0.0.1\n")
    c = cache.Cache(str(tmp_path / "cache"))
    for _ in range(2):
        _validate(root, c)
        _plan(root, tmp_path / "out", c)
    assert c.hits["valid"] == c.misses["valid"] == 0
    assert c.hits["run"] == c.misses["run"] == 0


def test_one_vendor_change_rerenders_only_its_devices(tmp_path: Path) -> None:
    inv = copy.deepcopy(BASE)
    root = tmp_path / "inv"
    write_inventory(inv, root)
    c = cache.Cache(str(tmp_path / "cache"))
    _plan(root, tmp_path / "out", c)
    # a vendor of site s1 only: services of one of its systems
    name = next(s["name"] for s in inv["vendors"]["vc"]["systems"] if s["site"] == "s1")
    for s in inv["vendors"]["vc"]["systems"]:
        if s["name"] == name:
            s["access"]["services"] = ["rdp"]
    lock = (root / "vendorwall" / "allocations.lock.yml").read_bytes()
    write_inventory(inv, root)
    (root / "vendorwall" / "allocations.lock.yml").write_bytes(lock)
    c2 = cache.Cache(str(tmp_path / "cache"))
    with cache.use(c2):
        plan.plan(str(root), NOW, str(tmp_path / "out"), shown_root="inv")
    assert c2.misses["run"] == 1
    assert c2.misses["render"] == 1 and c2.hits["render"] == 3  # fw-s1 re-rendered; fw-s0 and both switches not
    assert c2.misses["parsed"] == 1  # the one vendor file
    assert c2.misses["vendor"] == 1 and c2.hits["vendor"] == 2  # its manifest record only


def test_damaged_or_foreign_entries_are_misses(tmp_path: Path) -> None:
    root = tmp_path / "inv"
    write_inventory(BASE, root)
    d = tmp_path / "cache"
    _plan(root, tmp_path / "out", cache.Cache(str(d)))
    parsed = sorted((d / "parsed").iterdir())
    parsed[0].write_bytes(b"not a pickle")
    os.chmod(parsed[1], 0o666)  # writable by others: never unpickled
    (d / "run").chmod(0o777)
    c = cache.Cache(str(d))
    got = _plan(root, tmp_path / "out", c)
    assert c.hits["run"] == 0 and c.misses["parsed"] >= 2
    want = _plan(root, tmp_path / "out2", None)
    assert got[1] == want[1]
