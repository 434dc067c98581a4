"""Unit tests of pure helpers: YAML source tracking, IOS VLAN helpers, nftables collapse,
allocation internals and the lock file, the error report. """

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vendorwall_testlib import NOW, add_systems, base_inventory, ios_config, nft_sets, system, write_inventory

from vendorwall import allocate as alloc
from vendorwall import pipeline
from vendorwall.errors import Diagnostic, Report, VendorwallError
from vendorwall.render.ios import vlan_name, vlan_ranges
from vendorwall.render.nftables import collapse
from vendorwall.yamlsrc import dotted, load_file, load_text, undotted

N = IPv4Network

# --------------------------------------------------------------------------- yamlsrc

_part = st.one_of(st.integers(0, 500),
                  st.text(st.characters(blacklist_characters=".[]", blacklist_categories=("Cs",)), min_size=1,
                          max_size=12))


@settings(max_examples=50, deadline=None)
@given(st.lists(_part, max_size=6))
def test_dotted_undotted_round_trip(path: list) -> None:
    assert undotted(dotted(tuple(path))) == tuple(path)


@pytest.mark.parametrize(("path", "text"), [
    ((), ""),
    (("vendors",), "vendors"),
    (("vendors", "acme", "systems", 2, "site"), "vendors.acme.systems[2].site"),
    (("a", 0, 1, "b"), "a[0][1].b"),
    ((3, "x"), "[3].x"),
])
def test_dotted_examples(path: tuple, text: str) -> None:
    assert dotted(path) == text
    assert undotted(text) == path


SAMPLE = """\
# a comment
vendors:
  acme:
    title: Acme
    systems:
      - name: one
        site: nord
      - name: two
        addresses: [10.0.0.1, 10.0.0.2]
"""


def test_line_numbers() -> None:
    data, src, diags = load_text(SAMPLE, "v.yml")
    assert not diags
    assert data["vendors"]["acme"]["systems"][1]["addresses"] == ["10.0.0.1", "10.0.0.2"]
    assert src.line(("vendors",)) == 2
    assert src.line(("vendors", "acme", "title")) == 4
    assert src.line(("vendors", "acme", "systems", 0)) == 6
    assert src.line(("vendors", "acme", "systems", 0, "site")) == 7
    assert src.line(("vendors", "acme", "systems", 1, "addresses", 1)) == 9
    # a missing key is reported at its nearest known ancestor
    assert src.line(("vendors", "acme", "systems", 1, "vlan")) == 8
    assert src.line(("nothing", "here")) == src.line(()) == 2  # the document root (first node)


def test_duplicate_key_reported_with_both_lines() -> None:
    text = "sites:\n  nord:\n    title: A\n  sud:\n    title: B\n  nord:\n    title: C\n"
    data, _src, diags = load_text(text, "sites.yml")
    assert len(diags) == 1
    d = diags[0]
    assert (d.file, d.line, d.path, d.code) == ("sites.yml", 6, "sites.nord", "yaml")
    assert "duplicate key" in d.message
    assert "first at line 2" in d.found
    assert data["sites"]["nord"] == {"title": "A"}  # the first one is kept


def test_scalars_stay_json_compatible() -> None:
    data, _src, diags = load_text("d: 2026-11-28\nb: yes\nn: ~\ni: 0x10\nf: 1.5\nt: 2026-11-28T10:00:00\n", "x")
    assert not diags
    assert data == {"d": "2026-11-28", "b": True, "n": None, "i": 16, "f": 1.5, "t": "2026-11-28T10:00:00"}


def test_syntax_error_and_merge_keys_are_diagnostics(tmp_path: Path) -> None:
    _, _, diags = load_text("a: [1, 2\nb: 3\n", "bad.yml")
    assert [(d.file, d.message, d.code) for d in diags] == [("bad.yml", "YAML syntax error", "yaml")]
    _, _, diags = load_text("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n", "m.yml")
    assert [(d.line, d.path) for d in diags] == [(3, "other")] and "merge" in diags[0].message
    p = tmp_path / "latin1.yml"
    p.write_bytes("title: H\xf4pital\n".encode("latin-1"))
    _, _, diags = load_file(str(p), "shown.yml")
    assert [(d.file, d.code) for d in diags] == [("shown.yml", "io")]
    _, _, diags = load_file(str(tmp_path / "missing.yml"))
    assert diags and diags[0].message == "cannot read file"


def test_empty_document() -> None:
    assert load_text("", "e.yml")[0] is None
    assert load_text("# only a comment\n", "e.yml")[2] == []


# --------------------------------------------------------------------------- IOS helpers


@pytest.mark.parametrize(("vlans", "text"), [
    ([], ""),
    ([5], "5"),
    ([3000, 3001, 3002, 3005], "3000-3002,3005"),
    ([8, 7, 1, 2, 2, 3, 10], "1-3,7-8,10"),
    ([1, 4094], "1,4094"),
    ([2, 3], "2-3"),
])
def test_vlan_ranges(vlans: list[int], text: str) -> None:
    assert vlan_ranges(vlans) == text


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 4094), max_size=60))
def test_vlan_ranges_round_trip(vlans: list[int]) -> None:
    text = vlan_ranges(vlans)
    back: set[int] = set()
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        assert not hi or int(hi) > int(lo) + 0  # a range has two distinct ends
        back.update(range(int(lo), int(hi or lo) + 1))
    assert back == set(vlans)
    assert text.count(",") + 1 == (len(text.split(",")) if text else 1)


def test_vlan_name() -> None:
    assert vlan_name("acme-imaging", "mri-3t-01", 32) == "VW-ACME-IMAGING-MRI-3T-01"
    assert vlan_name("v", "a b/c.d", 32) == "VW-V-A-B-C-D"
    assert vlan_name("fictiva-health", "dpi-app-centre-1", 32) == "VW-FICTIVA-HEALTH-DPI-APP-CENTRE"
    assert len(vlan_name("x" * 40, "y" * 40, 32)) == 32
    assert vlan_name("abc", "shared", 5) == "VW-AB"


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=50), st.text(max_size=50), st.integers(1, 64))
def test_vlan_name_limits(vendor: str, label: str, limit: int) -> None:
    name = vlan_name(vendor, label, limit)
    assert len(name) <= limit
    assert re.fullmatch(r"[A-Z0-9_-]*", name), name


def test_vlan_names_unique_per_switch(example_result) -> None:
    for name, r in example_result.configs.items():
        if r.platform != "ios":
            continue
        names = list(ios_config(r.text)["vlans"].values())
        dup = sorted({n for n in names if names.count(n) > 1})
        assert not dup, f"{name}: VLAN names used twice: {dup}"


# --------------------------------------------------------------------------- nftables collapse

H = "10.64.0.2/32"


def test_collapse_nested_sources_removed() -> None:
    tuples = {(N("10.10.0.0/16"), N(H), 443): "wide", (N("10.10.5.0/24"), N(H), 443): "narrow",
              (N("10.10.5.7/32"), N(H), 443): "host"}
    assert collapse(tuples) == {(N("10.10.0.0/16"), N(H), 443): "wide"}


def test_collapse_nested_destinations_removed() -> None:
    tuples = {(N(H), N("10.5.0.0/16"), 104): "wide", (N(H), N("10.5.10.0/28"), 104): "narrow"}
    assert collapse(tuples) == {(N(H), N("10.5.0.0/16"), 104): "wide"}


def test_collapse_keeps_disjoint_and_distinct() -> None:
    tuples = {
        (N("10.10.0.0/24"), N(H), 443): "a",
        (N("10.10.1.0/24"), N(H), 443): "b",  # disjoint source
        (N("10.10.0.0/25"), N(H), 80): "c",  # nested source, another port
        (N("10.10.0.0/25"), N("10.64.0.3/32"), 443): "d",  # nested source, another destination
        (N("10.10.0.0/25"), N(H), None): "e",  # protocol any
    }
    assert collapse(tuples) == tuples


def test_collapse_keeps_the_comment_of_the_cover() -> None:
    tuples = {(N("10.10.5.0/24"), N(H), 443): "narrow", (N("10.10.0.0/16"), N(H), 443): "wide"}
    assert collapse(tuples) == {(N("10.10.0.0/16"), N(H), 443): "wide"}


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["10.10.0.0/16", "10.10.5.0/24", "10.10.5.0/25", "10.10.5.128/25",
                                           "10.10.6.0/24", "10.10.5.9/32", "10.20.0.0/24"]),
                          st.sampled_from(["10.64.0.2/32", "10.64.0.3/32"]), st.sampled_from([22, 443, None])),
                max_size=12))
def test_collapse_property(raw: list) -> None:
    """Nothing lost (every tuple covered by a kept one), nothing widened, no two kept tuples overlap."""
    tuples = {(N(s), N(d), p): f"r{i}" for i, (s, d, p) in enumerate(raw)}
    out = collapse(tuples)
    assert set(out) <= set(tuples)
    for s, d, p in tuples:
        assert any(s.subnet_of(s2) and d.subnet_of(d2) and p == p2 for s2, d2, p2 in out)
    kept = list(out)
    for i, (s, d, p) in enumerate(kept):
        for s2, d2, p2 in kept[i + 1:]:
            assert not (p == p2 and s.overlaps(s2) and d.overlaps(d2)), (s, d, p, s2, d2, p2)


# --------------------------------------------------------------------------- allocation internals


def _space(*nets: str) -> alloc._Space:
    sp = alloc._Space()
    for n in nets:
        net = N(n)
        sp.add(int(net.network_address), int(net.broadcast_address))
    return sp


def test_first_free_lowest_aligned() -> None:
    pools = (N("10.0.0.0/24"),)
    assert alloc._first_free(pools, 29, _space(), {}) == N("10.0.0.0/29")
    # a used /29 at .8: the next /27 starts at .32 (aligned), the next /29 at .0
    used = _space("10.0.0.8/29")
    assert alloc._first_free(pools, 27, used, {}) == N("10.0.0.32/27")
    assert alloc._first_free(pools, 29, used, {}) == N("10.0.0.0/29")


def test_first_free_cursor_and_pools() -> None:
    pools = (N("10.0.0.0/28"), N("10.0.1.0/24"))
    used = _space()
    cursor: dict = {}
    got = []
    for _ in range(3):
        net = alloc._first_free(pools, 29, used, cursor)
        assert net is not None
        used.add(int(net.network_address), int(net.broadcast_address))
        got.append(net)
    assert got == [N("10.0.0.0/29"), N("10.0.0.8/29"), N("10.0.1.0/29")]
    # a pool smaller than the prefix is skipped, not cut
    assert alloc._first_free((N("10.0.0.0/30"), N("10.0.2.0/24")), 29, _space(), {}) == N("10.0.2.0/29")


def test_first_free_exhausted() -> None:
    pools = (N("10.0.0.0/28"),)
    assert alloc._first_free(pools, 29, _space("10.0.0.0/29", "10.0.0.8/29"), {}) is None
    assert alloc._first_free(pools, 27, _space(), {}) is None


def test_space_overlaps() -> None:
    sp = _space("10.0.0.8/29", "10.0.0.32/27")
    ip = lambda a: int(IPv4Address(a))  # noqa: E731
    assert sp.overlaps(ip("10.0.0.0"), ip("10.0.0.7")) is None
    assert sp.overlaps(ip("10.0.0.0"), ip("10.0.0.8")) == (ip("10.0.0.8"), ip("10.0.0.15"))
    assert sp.overlaps(ip("10.0.0.16"), ip("10.0.0.31")) is None
    assert sp.overlaps(ip("10.0.0.0"), ip("10.0.0.255")) is not None
    assert sp.overlaps(ip("10.0.0.40"), ip("10.0.0.40")) == (ip("10.0.0.32"), ip("10.0.0.63"))


def _allocs() -> dict[str, alloc.Allocation]:
    return {
        "nord/acme/pacs": alloc.Allocation("nord/acme/pacs", 3001, N("10.64.0.8/29"),
                                           {"pacs": (IPv4Address("10.64.0.10"),)}),
        "nord/lab": alloc.Allocation("nord/lab", 3000, N("10.64.0.32/27"),
                                     {"an-2": (IPv4Address("10.64.0.34"),),
                                      "an-1": (IPv4Address("10.64.0.35"), IPv4Address("10.64.0.36"))}),
        "sud/empty": alloc.Allocation("sud/empty", 3200, N("10.65.0.0/29"), {}),
    }


def _write_lock(root: Path, text: str) -> None:
    (root / "vendorwall").mkdir(parents=True, exist_ok=True)
    (root / "vendorwall" / "allocations.lock.yml").write_text(text, encoding="utf-8")


def test_lock_round_trip(tmp_path: Path) -> None:
    allocs = _allocs()
    text = alloc.render_lock(allocs)
    assert text.startswith("# vendorwall allocation lock")
    assert text.index("nord/acme/pacs") < text.index("nord/lab") < text.index("sud/empty")  # sorted
    assert "an-1: [10.64.0.35, 10.64.0.36], an-2: [10.64.0.34]" in text  # hosts sorted too
    _write_lock(tmp_path, text)
    lock, diags = alloc.read_lock(str(tmp_path), "shown")
    assert not diags and lock.exists
    assert lock.segments == allocs
    assert lock.lines["nord/lab"] == text.splitlines().index(next(
        line for line in text.splitlines() if line.startswith("  nord/lab:"))) + 1
    assert alloc.render_lock(lock.segments) == text
    assert alloc.stale(lock, allocs) is None


def test_empty_and_missing_lock(tmp_path: Path) -> None:
    text = alloc.render_lock({})
    assert "segments: {}" in text
    _write_lock(tmp_path, text)
    lock, diags = alloc.read_lock(str(tmp_path), "shown")
    assert not diags and lock.exists and lock.segments == {}
    lock, diags = alloc.read_lock(str(tmp_path / "nowhere"), "shown")
    assert not diags and not lock.exists
    stale = alloc.stale(lock, _allocs())
    assert stale is not None and "no lock file" in stale.found and "3 segment(s) to allocate" in stale.found


def test_malformed_lock_entry_is_located(tmp_path: Path) -> None:
    _write_lock(tmp_path, "version: 1\nsegments:\n  a/b: {vlan: 3000, subnet: 10.0.0.0/29, hosts: {}}\n"
                          "  a/c: {vlan: x, subnet: 10.0.0.8/29}\n")
    lock, diags = alloc.read_lock(str(tmp_path), "inv")
    assert list(lock.segments) == ["a/b"]
    assert [(d.file, d.line, d.path, d.message) for d in diags] == [
        ("inv/vendorwall/allocations.lock.yml", 4, "segments.a/c", "malformed lock entry")]
    _write_lock(tmp_path, "segments: {}\nversion: 2\n")
    _, diags = alloc.read_lock(str(tmp_path), "inv")
    assert [(d.line, d.code) for d in diags] == [(2, "lock")] and "version 2" in diags[0].found
    _write_lock(tmp_path, "version: 1\nsegments: [a, b]\n")
    lock, diags = alloc.read_lock(str(tmp_path), "inv")
    assert [d.code for d in diags] == ["lock"] and lock.segments == {}


def test_stale_lock_lists_changes() -> None:
    allocs = _allocs()
    lock = alloc.Lock("p", "shown", True, {k: v for k, v in allocs.items() if k != "sud/empty"})
    lock.segments["gone/x"] = allocs["sud/empty"]
    lock.segments["nord/lab"] = dataclasses.replace(allocs["nord/lab"], vlan=3099)
    lock.lines = {"gone/x": 7, "nord/lab": 5}
    d = alloc.stale(lock, allocs)
    assert d is not None and d.line == 5
    assert d.found == "1 segment(s) to allocate (sud/empty); 1 to free (gone/x); 1 changed (nord/lab)"
    assert alloc.lock_changes(lock, allocs) == {"added": ["sud/empty"], "freed": ["gone/x"], "changed": ["nord/lab"]}


def _pinned(addr: str) -> dict:
    return add_systems(base_inventory(), [system("x1", "va", "s1", addresses=[addr]),
                                          system("x2", "va", "s1")])


@pytest.mark.parametrize("addr", ["10.65.0.8", "10.65.0.15"])
def test_pinned_network_or_broadcast_address_rejected(tmp_path: Path, addr: str) -> None:
    root = write_inventory(_pinned(addr), tmp_path / "inv")
    try:
        res = pipeline.run(str(root), NOW, check_lock=False)
    except VendorwallError as exc:  # rejected with a diagnostic on the address: what we want
        assert any(d.path.endswith("addresses") or "addresses" in d.path for d in exc.diagnostics)
        return
    seg = next(s for s in res.model.segments if "x1" in s.hosts)
    for a in seg.hosts["x1"]:
        assert a not in (seg.subnet.network_address, seg.subnet.broadcast_address), \
            f"x1 got {a}, the {'network' if a == seg.subnet.network_address else 'broadcast'} address of {seg.subnet}"


def test_lock_network_address_not_kept(tmp_path: Path) -> None:
    inv = add_systems(base_inventory(), [system("x1", "va", "s1")])
    lock = alloc.render_lock({"s1/va/x1": alloc.Allocation("s1/va/x1", 3100, N("10.65.0.0/29"),
                                                           {"x1": (IPv4Address("10.65.0.0"),)})})
    root = write_inventory(inv, tmp_path / "inv", lock_text=lock)
    res = pipeline.run(str(root), NOW, check_lock=False)
    assert res.allocations["s1/va/x1"].hosts["x1"] != (IPv4Address("10.65.0.0"),)


def test_pinned_address_and_vlan_win(tmp_path: Path) -> None:
    inv = add_systems(base_inventory(), [system("x1", "va", "s1", addresses=["10.65.0.42"], vlan=3150),
                                         system("x0", "va", "s1")])
    res = pipeline.run(str(write_inventory(inv, tmp_path / "inv")), NOW, check_lock=False)
    a = res.allocations["s1/va/x1"]
    assert (a.vlan, a.subnet, a.hosts["x1"]) == (3150, N("10.65.0.40/29"), (IPv4Address("10.65.0.42"),))
    b = res.allocations["s1/va/x0"]
    assert (b.vlan, b.subnet, b.hosts["x0"]) == (3100, N("10.65.0.0/29"), (IPv4Address("10.65.0.2"),))


def test_duplicate_flow_rejected_or_exported_deterministically(tmp_path: Path) -> None:
    from vendorwall import export

    flows = [{"from": "g-wide", "services": ["https"], "keep": True}, {"from": "g-wide", "services": ["https"]}]
    outputs = []
    for order in (flows, flows[::-1]):
        inv = add_systems(base_inventory(), [system("x1", "va", "s1", flows=order)])
        try:
            res = pipeline.run(str(write_inventory(inv, tmp_path / "inv")), NOW, check_lock=False)
        except VendorwallError:
            return  # rejected as a duplicate: fine
        ids = [r.id for r in res.model.rules]
        assert len(ids) == len(set(ids)), f"rule ids not unique: {sorted(i for i in ids if ids.count(i) > 1)}"
        outputs.append([{k: v for k, v in f.items() if k != "origin"} for f in export.flows(res.model)])
    assert outputs[0] == outputs[1]


# --------------------------------------------------------------------------- nftables: validity dates


def test_until_day_consistent_between_validation_and_firewall(tmp_path: Path) -> None:
    until = dt.date(2026, 12, 8)
    inv = add_systems(base_inventory(), [system("x1", "va", "s1", "permanent", ("https",))])
    inv["vendors"]["va"]["systems"][0]["access"]["until"] = until.isoformat()
    root = write_inventory(inv, tmp_path / "inv")
    try:
        res = pipeline.run(str(root), until, check_lock=False)  # compiled on the 'until' day itself
    except VendorwallError:
        return  # consistent too: an access is no longer valid on its 'until' day
    text = res.configs["fw-s1"].text
    bounds = [int(x) for x in re.findall(r"meta time < (\d+)", text)]
    assert bounds, "no dated rule rendered"
    end_of_day = int(dt.datetime(2026, 12, 9, tzinfo=dt.UTC).timestamp())
    assert min(bounds) >= end_of_day, "the firewall cuts the access at the start of a day validate accepts"


def test_until_and_window_rendered_in_their_own_sets(tmp_path: Path) -> None:
    inv = add_systems(base_inventory(), [
        system("x1", "va", "s1", "permanent", ("https",), variant=1),
        system("x2", "va", "s1", "scheduled", ("ssh",), variant=2),
        system("x3", "vc", "s1", "on_demand", ("any",)),
    ])
    res = pipeline.run(str(write_inventory(inv, tmp_path / "inv")), NOW, check_lock=False)
    text = res.configs["fw-s1"].text
    sets = {name for (table, name) in nft_sets(text) if table == "vendorwall"}
    assert {"until_20270930_tcp", "window_tue_thu_0800_1200_until_20270630_tcp", "ondemand_any"} <= sets
    assert f"@until_20270930_tcp meta time < {int(dt.datetime(2027, 10, 1, tzinfo=dt.UTC).timestamp())} accept" \
        in text
    # a window: UTC per daylight-saving period of the site's time zone (Europe/Paris: 08:00 is 07:00 UTC in
    # winter, 06:00 in summer), the last period ending with the access's until (2027-06-30)
    end = int(dt.datetime(2027, 7, 1, tzinfo=dt.UTC).timestamp())
    assert '@window_tue_thu_0800_1200_until_20270630_tcp meta time < 1806195600 meta day { "Tuesday", "Thursday" } ' \
           "meta hour 25200-39600 meta mark set" in text
    assert f'@window_tue_thu_0800_1200_until_20270630_tcp meta time >= 1806195600 meta time < {end} meta day ' \
           '{ "Tuesday", "Thursday" } meta hour 21600-36000 meta mark set' in text
    assert "@window_tue_thu_0800_1200_until_20270630_tcp meta mark & 0x00800000 == 0x00800000 accept" in text


# --------------------------------------------------------------------------- errors


def _d(file: str, line: int, path: str = "", msg: str = "m", **kw: str) -> Diagnostic:
    return Diagnostic(file, line, path, msg, **kw)


def test_diagnostic_render() -> None:
    d = _d("v.yml", 12, "vendors.acme.systems[2].site", "unknown site 'nrod'", expected="a site of sites",
           found="'nrod'", hint="did you mean 'nord'?")
    assert d.render() == ("error: v.yml:12: vendors.acme.systems[2].site: unknown site 'nrod'\n"
                          "  expected: a site of sites\n"
                          "  found:    'nrod'\n"
                          "  hint:     did you mean 'nord'?")
    assert _d("hosts.yml", 0, msg="missing device inventory").render() == "error: hosts.yml: missing device inventory"


def test_report_sorts_and_deduplicates() -> None:
    rep = Report()
    assert not rep and len(rep) == 0
    rep.add(_d("b.yml", 3, "x"))
    rep.extend([_d("a.yml", 10, "y"), _d("a.yml", 2, "z"), _d("b.yml", 3, "x"), _d("a.yml", 10, "w")])
    assert rep and len(rep) == 5  # raw count; duplicates go at sorting
    assert [(d.file, d.line, d.path) for d in rep] == [("a.yml", 2, "z"), ("a.yml", 10, "w"), ("a.yml", 10, "y"),
                                                       ("b.yml", 3, "x")]
    text = rep.render()
    assert text.endswith("\n4 errors found")
    assert text.index("a.yml:2:") < text.index("a.yml:10: w") < text.index("b.yml:3:")
    one = Report([_d("a.yml", 1)])
    assert one.render().endswith("\n1 error found")


def test_vendorwall_error_carries_sorted_unique_diagnostics() -> None:
    exc = VendorwallError([_d("b", 1), _d("a", 5), _d("b", 1)], "validate")
    assert [d.file for d in exc.diagnostics] == ["a", "b"]
    assert str(exc) == "2 error(s) in stage validate"
    assert exc.render().endswith("2 errors found")
