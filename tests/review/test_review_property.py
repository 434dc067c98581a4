"""Property: the access changes a review reports are exactly the set difference of the allowed flows.

For a random change of the example inventory (a random subset of the typical changes of
review_support.py, then random edits of random systems: services, access mode, entry paths,
segment mode, flows, removal), with or without ``vendorwall plan`` run afterwards, the review of
``main`` against the working tree reports:

- as added exactly the flows of ``export.flows(head)`` missing from ``export.flows(base)``,
  as removed exactly the reverse, compared on (kind, vendor, system, src, dst, protocol, port);
- as changed exactly the flows on both sides whose validity, entry path, firewalls, keep or log
  differ;
- the same sets in its JSON evidence, and every flow change in exactly one sentence.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import review_support as rs
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from vendorwall import export, pipeline
from vendorwall.review import as_json
from vendorwall.review.review import review

KEY = ("kind", "vendor", "system", "src", "dst", "protocol", "port")
COMPARED = ("validity", "until", "window", "max_hours", "via", "firewalls", "keep", "log")
ADMIN_SERVICES = ["ssh", "https", "rdp", "vnc", "snmp"]


def _flow_map(root: Path) -> dict[tuple[Any, ...], list[tuple[Any, ...]]]:
    res = pipeline.run(str(root), rs.NOW, shown_root=rs.INVENTORY, check_lock=False, do_render=False)
    out: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for f in export.flows(res.model):
        out.setdefault(tuple(f[k] for k in KEY), []).append(tuple(json.dumps(f[k]) for k in COMPARED))
    return {k: sorted(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[tuple[Any, ...], list[tuple[Any, ...]]]]:
    repo = rs.init_repo(tmp_path_factory.mktemp("review-property"))
    return repo, _flow_map(repo / rs.INVENTORY)


# --------------------------------------------------------------------------- random edits


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _dump(path: Path, data: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _random_edits(inv: Path, draw: Any) -> list[str]:
    files = sorted((inv / "vendorwall" / "vendors").glob("*.yml"))
    docs = {p: _load(p) for p in files}
    systems = [(p, vname, s) for p, d in docs.items() for vname, v in d["vendors"].items()
               for s in v.get("systems", [])]
    groups = sorted(_load(inv / "vendorwall" / "client_groups.yml")["client_groups"])
    referenced = {f.get("from") or f.get("to") for _, _, s in systems for f in s.get("flows", [])}
    done = []
    count = draw(st.integers(0, 4))
    for _ in range(count):
        path, vname, s = draw(st.sampled_from(systems))
        vendor = docs[path]["vendors"][vname]
        if s not in vendor["systems"]:
            continue  # removed by an earlier edit
        op = draw(st.sampled_from(["services", "mode", "via", "segment", "flows", "remove"]))
        a = s["access"]
        if op == "services":
            a["services"] = draw(st.lists(st.sampled_from(ADMIN_SERVICES), min_size=1, max_size=3, unique=True))
            a.pop("exception", None)
        elif op == "mode":
            mode = draw(st.sampled_from(["on_demand", "scheduled", "permanent"]))
            for k in ("max_hours", "window", "until", "justification"):
                a.pop(k, None)
            a["mode"] = mode
            if mode == "on_demand":
                a["max_hours"] = draw(st.integers(1, 8))
            elif mode == "scheduled":
                a["window"] = {"days": draw(st.lists(st.sampled_from(["mon", "tue", "wed"]), min_size=1,
                                                     unique=True)), "start": "08:00", "end": "12:00"}
            else:
                ends = dt.date.fromisoformat(str(vendor["contract"]["ends"]))
                a["until"] = min(ends, dt.date(2027, 6, 30))
                a["justification"] = "property test"
        elif op == "via":
            names = [p["name"] for p in vendor["entry_paths"]  # a confined tunnel only for its own systems
                     if p["kind"] != "lan_to_lan" or s["name"] in p.get("systems", [s["name"]])]
            a["via"] = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
        elif op == "segment":
            s["segment"] = "shared" if s.get("segment", "dedicated") == "dedicated" else "dedicated"
            s.pop("addresses", None)
            s.pop("vlan", None)
        elif op == "flows":
            flows = s.setdefault("flows", [])
            if flows and draw(st.booleans()):
                i = draw(st.integers(0, len(flows) - 1))
                if draw(st.booleans()):
                    flows[i]["keep"] = not flows[i].get("keep", False)
                else:
                    del flows[i]
            else:
                peer = draw(st.sampled_from(groups))
                if not any((f.get("from") or f.get("to")) == peer for f in flows):
                    flows.append({draw(st.sampled_from(["from", "to"])): peer,
                                  "services": draw(st.lists(st.sampled_from(["https", "hl7", "dicom"]), min_size=1,
                                                            unique=True))})
            if not flows:
                s.pop("flows")
        elif op == "remove":
            confined = {n for p in vendor["entry_paths"] for n in p.get("systems", [])}
            if s["name"] in referenced or s["name"] in confined:
                continue  # a flow's peer, or named by a confined tunnel: removing it alone is invalid
            vendor["systems"].remove(s)
            if not vendor["systems"]:
                vendor.pop("systems")
        done.append(f"{op} {s['name']}")
    for p, d in docs.items():
        _dump(p, d)
    return done


# --------------------------------------------------------------------------- the property


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(scenarios=st.sets(st.sampled_from(sorted(rs.SCENARIOS))), plan=st.booleans(), data=st.data())
def test_reported_flows_are_exactly_the_set_difference(repo: tuple[Path, Any], scenarios: set[str], plan: bool,
                                                       data: st.DataObject) -> None:
    root, base = repo
    inv = root / rs.INVENTORY
    rs.git(root, "checkout", "-q", "--", ".")
    rs.git(root, "clean", "-qfd")
    for name in sorted(scenarios):
        rs.SCENARIOS[name](inv)
    edits = _random_edits(inv, data.draw)
    if plan:
        rs.update_lock(inv)
    note = f"scenarios {sorted(scenarios)}, edits {edits}, plan {plan}"
    head = _flow_map(inv)
    rv = review(str(inv), "main", None, rs.NOW)

    event(f"flow changes: {'none' if not rv.flows else 'some'}; random edits: {len(edits)}")

    def keys(change: str) -> set[tuple[Any, ...]]:
        return {fc.key for fc in rv.flows if fc.change == change}

    assert keys("added") == set(head) - set(base), note
    assert keys("removed") == set(base) - set(head), note
    assert keys("changed") == {k for k in set(base) & set(head) if base[k] != head[k]}, note
    evidence = json.loads(as_json.render(rv))
    for change in ("added", "removed", "changed"):
        assert {tuple(f[k] for k in KEY) for f in evidence["flows"] if f["change"] == change} == keys(change), note
    in_statements = sorted(i for va in evidence["access"] for sa in va["systems"] for st_ in sa["statements"]
                           for i in st_["flows"])
    assert in_statements == list(range(len(evidence["flows"]))), note


def test_working_tree_untouched_by_a_review_of_two_revisions(tmp_path: Path) -> None:
    root = rs.build_repo(tmp_path, {"new_system": rs.new_system})
    inv = root / rs.INVENTORY
    (inv / "vendorwall" / "vendors" / "tomora.yml").write_text("not: [valid", encoding="utf-8")  # local edit
    status = rs.git(root, "status", "--porcelain")
    head_before = rs.git(root, "rev-parse", "HEAD")
    rv = review(str(inv), "main", "change/new_system", rs.NOW)
    assert rv.count("added") == 3
    assert rs.git(root, "status", "--porcelain") == status
    assert rs.git(root, "rev-parse", "HEAD") == head_before
    shutil.rmtree(root)
