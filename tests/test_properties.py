"""Property tests (hypothesis) on small generated inventories, loaded through the real loader.

- allocation is stable under insertion and removal of systems (dedicated and shared), and never
  gives two segments of a site one VLAN or overlapping subnets;
- nothing is allowed that the inventory does not say: every exported flow traces back to a
  declared access, flow or management network, every declaration yields its flows, and every
  rendered set element / VLAN / access port is one of them;
- output is deterministic: the same inventory written in another order (keys, lists, files)
  gives the same export, lock file and rendered configurations.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import tempfile
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vendorwall_testlib import (
    EXAMPLE,
    NOW,
    VENDOR_PATHS,
    add_systems,
    base_inventory,
    ios_config,
    nft_sets,
    system,
    write_inventory,
)

from vendorwall import allocate as alloc
from vendorwall import export, inventory, pipeline, validate
from vendorwall.render.ios import vlan_ranges

# VW_HYPOTHESIS_EXAMPLES=1000 for a deep run; 40 keeps the suite fast
SETTINGS = settings(max_examples=int(os.environ.get("VW_HYPOTHESIS_EXAMPLES", "40")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
SITES = ("s0", "s1")
VENDORS = tuple(VENDOR_PATHS)
ACCESS_SERVICES = ("ssh", "https", "rdp", "viewer", "snmp", "any")
FLOW_SERVICES = ("https", "dicom", "hl7", "bacnet", "viewer")
GROUPS = ("g-wide", "g-narrow", "g-servers")
MODES = ("on_demand", "scheduled", "permanent")


# --------------------------------------------------------------------------- generation


@st.composite
def system_desc(draw: st.DrawFn, n: int) -> dict[str, Any]:
    """One system, as a description independent of the others (peers resolved later)."""
    vendor = draw(st.sampled_from(VENDORS))
    flows = draw(st.lists(st.tuples(
        st.sampled_from(("from", "to")),
        st.one_of(st.sampled_from(GROUPS), st.integers(0, 1000)),  # a client group or the i-th other system
        st.lists(st.sampled_from(FLOW_SERVICES), min_size=1, max_size=2, unique=True),
        st.booleans()), max_size=2))
    return {
        "n": n, "vendor": vendor, "site": draw(st.sampled_from(SITES)), "shared": draw(st.booleans()),
        "mode": draw(st.sampled_from(MODES)),
        "services": draw(st.lists(st.sampled_from(ACCESS_SERVICES), min_size=1, max_size=3, unique=True)),
        "via": draw(st.none() | st.lists(st.sampled_from(VENDOR_PATHS[vendor]), min_size=1, unique=True)),
        "flows": flows, "variant": draw(st.integers(0, 5)), "port": draw(st.booleans()),
    }


def name_of(desc: dict[str, Any]) -> str:
    return f"sys-{desc['n']:03d}"


def materialize(descs: list[dict[str, Any]]) -> dict[str, Any]:
    """The logical inventory of these systems (flow peers resolved among the present systems)."""
    names = [name_of(d) for d in descs]
    systems = []
    for d in descs:
        me = name_of(d)
        others = [n for n in names if n != me]
        flows = []
        seen: set[tuple[str, str, str]] = set()
        for direction, peer, services, keep in d["flows"]:
            if isinstance(peer, int):
                if not others:
                    continue
                peer = others[peer % len(others)]
            # the same (direction, peer, service) twice is a known bug of its own (test_units)
            services = [s for s in services if (direction, peer, s) not in seen]
            seen.update((direction, peer, s) for s in services)
            if services:
                flows.append({direction: peer, "services": services, **({"keep": True} if keep else {})})
        systems.append(system(me, d["vendor"], d["site"], d["mode"], tuple(d["services"]), shared=d["shared"],
                              via=d["via"], flows=flows, variant=d["variant"],
                              port=f"GigabitEthernet2/0/{d['n']}" if d["port"] else None))
    return add_systems(base_inventory(len(SITES)), systems)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(before, after): systems removed from and inserted into a base set, names interleaved."""
    numbers = draw(st.lists(st.integers(0, 999), min_size=1, max_size=18, unique=True))
    descs = [draw(system_desc(n)) for n in numbers]
    in_base = draw(st.lists(st.booleans(), min_size=len(descs), max_size=len(descs)))
    removed = draw(st.lists(st.booleans(), min_size=len(descs), max_size=len(descs)))
    before = [d for d, b in zip(descs, in_base, strict=True) if b]
    after = [d for d, b, r in zip(descs, in_base, removed, strict=True) if not b or not r]
    return before, after


def load(root: Path) -> Any:
    inv, diags, _ = inventory.load(str(root))
    assert not diags, "\n".join(d.render() for d in diags)
    diags = validate.check(inv, NOW)
    assert not diags, "\n".join(d.render() for d in diags)
    return inv


# --------------------------------------------------------------------------- allocation


def check_site_allocations(inv: Any, allocs: dict[str, alloc.Allocation]) -> None:
    by_site: dict[str, list[alloc.Allocation]] = {}
    for key, a in allocs.items():
        by_site.setdefault(key.split("/")[0], []).append(a)
    for site_name, segs in by_site.items():
        site = inv.sites[site_name]
        vlans = [a.vlan for a in segs]
        assert len(vlans) == len(set(vlans)), f"site {site_name}: a VLAN used twice: {sorted(vlans)}"
        nets = sorted((a.subnet for a in segs), key=lambda n: int(n.network_address))
        for x, y in itertools.pairwise(nets):
            assert not x.overlaps(y), f"site {site_name}: {x} overlaps {y}"
        addrs: list[IPv4Address] = []
        for a in segs:
            assert site.vlan_range[0] <= a.vlan <= site.vlan_range[1]
            assert any(a.subnet.subnet_of(p) for p in site.segment_pool), a
            for sys_name, hs in a.hosts.items():
                assert inv.systems[sys_name].segment_key == a.key
                for h in hs:
                    assert h in a.subnet and h not in (a.subnet.network_address, a.subnet.network_address + 1,
                                                       a.subnet.broadcast_address), (a.key, sys_name, h)
                    addrs.append(h)
        assert len(addrs) == len(set(addrs)), f"site {site_name}: an address given twice"
    expected_keys = {s.segment_key for s in inv.systems.values()}
    assert set(allocs) == expected_keys
    assert {n for a in allocs.values() for n in a.hosts} == set(inv.systems)


@SETTINGS
@given(scenarios())
def test_allocation_stable_under_insertion_and_removal(scenario: tuple[list[dict], list[dict]]) -> None:
    before, after = scenario
    with tempfile.TemporaryDirectory() as tmp:
        inv1 = load(write_inventory(materialize(before), Path(tmp) / "a"))
        allocs1, diags = alloc.allocate(inv1, alloc.Lock("", "", False))
        assert not diags
        check_site_allocations(inv1, allocs1)
        # the lock travels through its file, as in real use
        root2 = write_inventory(materialize(after), Path(tmp) / "b", lock_text=alloc.render_lock(allocs1))
        inv2 = load(root2)
        lock, ldiags = alloc.read_lock(str(root2), str(root2))
        assert not ldiags and lock.segments == allocs1
        allocs2, diags = alloc.allocate(inv2, lock)
        assert not diags, "\n".join(d.render() for d in diags)
        check_site_allocations(inv2, allocs2)
        for key in allocs1.keys() & allocs2.keys():
            a, b = allocs1[key], allocs2[key]
            assert (b.vlan, b.subnet) == (a.vlan, a.subnet), f"{key} renumbered: {a} -> {b}"
            for name in a.hosts.keys() & b.hosts.keys():
                assert b.hosts[name] == a.hosts[name], f"{name} readdressed in {key}"
        # a fixpoint: allocating again with the new lock changes nothing, and the lock is not stale
        lock2 = alloc.Lock("", "", True, dict(allocs2))
        allocs3, diags = alloc.allocate(inv2, lock2)
        assert not diags and allocs3 == allocs2
        assert alloc.stale(lock2, allocs3) is None


# --------------------------------------------------------------------------- traceability


def _net(text: str) -> IPv4Network:
    return IPv4Network(text)


def _ports(inv: dict[str, Any], service: str) -> tuple[str, set[int | None]]:
    svc = inv["services"][service]
    if svc["protocol"] == "any":
        return "any", {None}
    ports: set[int | None] = set()
    for p in svc["ports"]:
        if isinstance(p, int):
            ports.add(p)
        else:
            lo, hi = map(int, p.split("-"))
            ports.update(range(lo, hi + 1))
    return svc["protocol"], ports


def _path_prefixes(path: dict[str, Any]) -> list[IPv4Network]:
    raw = {"bastion": [path.get("source")], "vpn": [path.get("pool")]}.get(path["kind"], path.get("remote_subnets"))
    return [_net(p) for p in raw]


def check_traceable(inv: dict[str, Any], data: dict[str, Any], configs: dict[str, Any]) -> None:
    """``inv`` is the logical inventory (what the user wrote), ``data`` the export, ``configs`` the render."""
    systems = {d["name"]: (vendor, d) for vendor, v in inv["vendors"].items() for d in v["systems"]}
    addr = {name: [_net(f"{a}/32") for a in addrs] for seg in data["segments"] for name, addrs in seg["hosts"].items()}
    assert set(addr) == set(systems)
    groups = {g: [_net(p) for p in d["prefixes"]] for g, d in inv["client_groups"].items()}
    fw_of_site = {s: d["firewall"] for s, d in inv["sites"].items()}
    fw_hosts = inv["hosts"]["all"]["children"]["firewalls"]["hosts"]

    def peer_prefixes(peer: str) -> list[IPv4Network]:
        return groups[peer] if peer in groups else addr[peer]

    def peer_fws(peer: str) -> set[str]:
        return {fw_of_site[systems[peer][1]["site"]]} if peer in systems else set()

    def paths_of(vendor: str, sd: dict[str, Any], svc: str) -> dict[str, list[IPv4Network]]:
        """The entry paths a vendor reaches a system through for one service: access.via, by default every
        bastion and VPN and the maintenance tunnels confined to the system; a tunnel only for its own
        systems and services (docs/inventory.md, LAN-to-LAN tunnels)."""
        eps = inv["vendors"][vendor]["entry_paths"]
        me = sd["name"]

        def tunnel_ok(p: dict[str, Any], default: bool) -> bool:
            if p["kind"] != "lan_to_lan":
                return True
            return p.get("purpose", "maintenance") == "maintenance" and (
                me in p.get("systems", []) or (not default and not p.get("systems"))) and (
                not p.get("services") or svc in p["services"])

        via = sd["access"].get("via")
        return {p["name"]: _path_prefixes(p) for p in eps
                if (via is None or p["name"] in via) and tunnel_ok(p, via is None)}

    flows = data["flows"]
    tuples = set()
    for f in flows:
        src, dst, proto, port = _net(f["src"]), _net(f["dst"]), f["protocol"], f["port"]
        tuples.add((f["kind"], src, dst, proto, port))
        if f["kind"] == "vendor_access":
            vendor, sd = systems[f["system"]]
            assert f["vendor"] == vendor
            paths = paths_of(vendor, sd, f["service"])
            assert f["via"] in paths, f"{f['id']}: path {f['via']} not in access.via"
            assert any(src.subnet_of(p) for p in paths[f["via"]]), f"{f['id']}: {src} outside {f['via']}"
            assert dst in addr[f["system"]], f"{f['id']}: {dst} is not {f['system']}"
            assert f["service"] in sd["access"]["services"]
            assert (proto, port) in {(p, x) for p, xs in [_ports(inv, f["service"])] for x in xs}
            assert set(f["firewalls"]) == {fw_of_site[sd["site"]]}
        elif f["kind"] == "clinical":
            vendor, sd = systems[f["system"]]
            me = addr[f["system"]]
            ok = False
            for fl in sd.get("flows", []):
                direction = "from" if "from" in fl else "to"
                peer = fl[direction]
                if f["service"] not in fl["services"] or (proto, port) not in {
                        (p, x) for p, xs in [_ports(inv, f["service"])] for x in xs}:
                    continue
                theirs = peer_prefixes(peer)
                ends = (theirs, me) if direction == "from" else (me, theirs)
                if any(src.subnet_of(n) for n in ends[0]) and any(dst.subnet_of(n) for n in ends[1]):
                    ok = set(f["firewalls"]) == {fw_of_site[sd["site"]]} | peer_fws(peer)
                    if ok:
                        break
            assert ok, f"clinical flow {f['id']} {src} -> {dst} {proto}/{port} declared nowhere"
        elif f["kind"] == "management":
            (fw,) = f["firewalls"]
            site = next(s for s, d in inv["sites"].items() if d["firewall"] == fw)
            assert src in [_net(p) for p in inv["sites"][site]["management"]]
            assert dst == _net(f"{fw_hosts[fw]['ansible_host']}/32")
            assert (proto, port) == ("any", None)
        else:
            pytest.fail(f"unknown flow kind {f['kind']}")

    # conversely: every declaration yields its flows
    for name, (vendor, sd) in systems.items():
        for svc in sd["access"]["services"]:
            proto, ports = _ports(inv, svc)
            for prefixes in paths_of(vendor, sd, svc).values():
                for p in prefixes:
                    for a in addr[name]:
                        for port in ports:
                            assert ("vendor_access", p, a, proto, port) in tuples, (name, svc, p)
        for fl in sd.get("flows", []):
            direction = "from" if "from" in fl else "to"
            for svc in fl["services"]:
                proto, ports = _ports(inv, svc)
                for theirs in peer_prefixes(fl[direction]):
                    for mine in addr[name]:
                        src, dst = (theirs, mine) if direction == "from" else (mine, theirs)
                        for port in ports:
                            assert ("clinical", src, dst, proto, port) in tuples, (name, fl, svc)
    for d in inv["sites"].values():
        for m in d["management"]:
            assert ("management", _net(m), _net(f"{fw_hosts[d['firewall']]['ansible_host']}/32"), "any", None) in tuples

    check_configs(inv, data, configs)


_CATEGORY = {"allow": "permanent", "until": "until", "window": "scheduled", "ondemand": "on_demand"}


def check_configs(inv: dict[str, Any], data: dict[str, Any], configs: dict[str, Any]) -> None:
    """Rendered set elements are exactly export flows (collapse only drops covered ones)."""
    for site_name, site in inv["sites"].items():
        fw = site["firewall"]
        sets = nft_sets(configs[fw].text)
        mine = [f for f in data["flows"] if fw in f["firewalls"]]
        assert {_net(e[0]) for e in sets[("vendorwall", "mgmt")].elements} == {_net(m) for m in site["management"]}
        assert {_net(e[0]) for e in sets[("vendorwall", "vendor_src")].elements} == {
            _net(f["src"]) for f in mine if f["kind"] == "vendor_access"}
        by_cat: dict[tuple[str, str], set[tuple[IPv4Network, IPv4Network, int | None]]] = {}
        assert sets[("vendorwall", "isolated")].elements == ()  # nobody is isolated: no render-time quarantine
        for (table, name), s in sets.items():
            if table != "vendorwall" or name in ("mgmt", "vendor_src", "isolated") or name.startswith("keep_"):
                continue
            cat, proto = _CATEGORY[name.split("_")[0]], name.rsplit("_", 1)[1]
            for e in s.elements:
                by_cat.setdefault((cat, proto), set()).add(
                    (_net(e[0]), _net(e[1]), int(e[2]) if len(e) == 3 else None))
        declared = {(f["validity"], f["protocol"], _net(f["src"]), _net(f["dst"]), f["port"])
                    for f in mine if f["kind"] != "management"}
        for (cat, proto), elems in by_cat.items():
            for src, dst, port in elems:
                assert (cat, proto, src, dst, port) in declared, f"{fw}: element {src} . {dst} . {port} " \
                                                                  f"({cat}, {proto}) allowed by no flow"
        for cat, proto, src, dst, port in declared:
            assert any(src.subnet_of(s) and dst.subnet_of(d) and p == port
                       for s, d, p in by_cat.get((cat, proto), ())), f"{fw}: flow {src} -> {dst} {proto}/{port} " \
                                                                     f"({cat}) not rendered"
        for sw in site.get("switches", []):
            ios = ios_config(configs[sw["name"]].text)
            segs = [s for s in data["segments"] if s["site"] == site_name]
            assert set(ios["vlans"]) == {s["vlan"] for s in segs}
            vlan_of = {n: s["vlan"] for s in segs for n in s["systems"]}
            expected_ports = {p["interface"]: vlan_of[d["name"]] for v in inv["vendors"].values()
                              for d in v["systems"] for p in d.get("switch_ports", []) if p["switch"] == sw["name"]}
            assert ios["ports"] == expected_ports
            assert ios["trunk"] == [(sw["uplink"], vlan_ranges(list(ios["vlans"])) or "none")]


@SETTINGS
@given(st.lists(st.integers(0, 999), min_size=1, max_size=14, unique=True).flatmap(
    lambda ns: st.tuples(*[system_desc(n) for n in ns])))
def test_nothing_allowed_that_the_inventory_does_not_say(descs: tuple[dict[str, Any], ...]) -> None:
    inv = materialize(list(descs))
    with tempfile.TemporaryDirectory() as tmp:
        root = write_inventory(inv, Path(tmp) / "inv")
        res = pipeline.run(str(root), NOW, check_lock=False)
    check_traceable(inv, export.to_data(res.model), res.configs)


def test_traceability_of_the_example(example_result: Any) -> None:
    """The same checks on the example inventory, read back from its YAML files as plain data."""
    merged: dict[str, Any] = {"services": {}, "sites": {}, "client_groups": {}, "vendors": {}}
    for path in sorted((EXAMPLE / "vendorwall").rglob("*.yml")):
        if path.name == "allocations.lock.yml":
            continue
        for key, value in yaml.safe_load(path.read_text(encoding="utf-8")).items():
            if key == "policy":
                merged["policy"] = value
            else:
                merged[key].update({k: _strs(v) for k, v in value.items()})
    merged["hosts"] = yaml.safe_load((EXAMPLE / "hosts.yml").read_text(encoding="utf-8"))
    check_traceable(merged, export.to_data(example_result.model), example_result.configs)


def _strs(v: Any) -> Any:
    """YAML dates -> ISO strings, as vendorwall's loader keeps them."""
    if isinstance(v, dict):
        return {k: _strs(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_strs(x) for x in v]
    return v.isoformat() if hasattr(v, "isoformat") else v


# --------------------------------------------------------------------------- determinism


def _without_origins(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "flows": [{k: v for k, v in f.items() if k != "origin"} for f in data["flows"]]}


@SETTINGS
@given(st.lists(st.integers(0, 999), min_size=1, max_size=12, unique=True).flatmap(
    lambda ns: st.tuples(*[system_desc(n) for n in ns])), st.integers(0, 2**32 - 1), st.booleans())
def test_output_deterministic_under_reordering(descs: tuple[dict[str, Any], ...], seed: int,
                                               with_lock: bool) -> None:
    inv = materialize(list(descs))
    with tempfile.TemporaryDirectory() as tmp:
        lock_text = None
        if with_lock:  # a lock from a smaller inventory: part pinned, part allocated anew
            small = write_inventory(materialize(list(descs)[::2]), Path(tmp) / "small")
            lock_text = alloc.render_lock(pipeline.run(str(small), NOW, check_lock=False).allocations)
        a = pipeline.run(str(write_inventory(inv, Path(tmp) / "a", lock_text=lock_text)), NOW, check_lock=False)
        b = pipeline.run(str(write_inventory(inv, Path(tmp) / "b", shuffle=random.Random(seed),
                                             lock_text=lock_text)), NOW, check_lock=False)
    ja = json.dumps(_without_origins(export.to_data(a.model)), sort_keys=True, indent=1)
    jb = json.dumps(_without_origins(export.to_data(b.model)), sort_keys=True, indent=1)
    assert ja == jb
    assert alloc.render_lock(a.allocations) == alloc.render_lock(b.allocations)
    assert sorted(a.configs) == sorted(b.configs)
    for name in a.configs:
        assert a.configs[name].text == b.configs[name].text, f"{name} differs"
