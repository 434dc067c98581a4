"""Bastions as hospitals run them: one egress shared by every vendor that uses the bastion.

An entry path ``{kind: bastion, bastion: B, shared_egress: true}`` takes B's ``vw_egress`` (hosts.yml); it is
allowed to the systems of every vendor that uses it, never quarantined (that would cut them all), and
isolating one of those vendors locks its accounts on B and ends its sessions. Validation refuses what
could not be cut (no egress declared, no account to lock, a source as well)."""

from __future__ import annotations

import copy

import pytest
from vendorwall_testlib import NOW, add_systems, base_inventory, system, write_inventory

from vendorwall import inventory, pipeline, validate
from vendorwall.isolate import actions, bastions, isolated, manifest, run
from vendorwall.state import StateDir

EGRESS = "10.249.0.10"


def shared_inventory() -> dict:
    inv = base_inventory(1)
    inv["hosts"]["all"]["children"]["bastions"]["hosts"]["bst-1"]["vw_egress"] = EGRESS
    for v in ("va", "vc"):
        inv["vendors"][v]["entry_paths"].append({"name": f"{v}-pam", "kind": "bastion", "bastion": "bst-1",
                                                 "shared_egress": True})
    return add_systems(inv, [system("va-pacs", "va", "s0", "permanent", ("https",), via=["va-pam"]),
                             system("vc-lab", "vc", "s0", "permanent", ("https",), via=["vc-pam"]),
                             system("vb-robot", "vb", "s0", "permanent", ("https",))])


def _diags(inv: dict, tmp_path) -> list[str]:
    root = write_inventory(inv, tmp_path / "inv")
    loaded, diags, _ = inventory.load(str(root))
    return [d.render() for d in diags + validate.check(loaded, NOW)]


def test_shared_egress_reaches_every_using_vendors_systems(tmp_path):
    root = write_inventory(shared_inventory(), tmp_path / "inv")
    res = pipeline.run(str(root), NOW, check_lock=False)
    rules = [r for r in res.model.rules if r.kind == "vendor_access" and r.via.endswith("-pam")]
    assert {(r.vendor, r.system) for r in rules} == {("va", "va-pacs"), ("vc", "vc-lab")}
    assert all([str(n) for n in r.src] == [f"{EGRESS}/32"] for r in rules)
    v = res.inventory.vendors["va"]
    assert [p.shared for p in v.entry_paths] == [False, False, True]


def test_isolating_a_shared_egress_vendor_never_quarantines_the_egress(tmp_path):
    root = write_inventory(shared_inventory(), tmp_path / "inv")
    res = pipeline.run(str(root), NOW, check_lock=False)
    mpath = str(tmp_path / "manifest.json")
    manifest.write_manifest(mpath, res.model)
    m = manifest.load(mpath)
    assert [e.shared for e in m.vendors["va"].entry_paths if e.name == "va-pam"] == [True]
    p = actions.plan(m, "va")
    assert f"{EGRESS}/32" not in {str(e.prefix) for e in p.elements}
    assert p.shared == [("va", "va-pam", "bst-1")]
    # the render-time quarantine leaves it out too
    path = StateDir.for_inventory(str(root)).isolation_file
    isolated.write(path, isolated.Isolation({"va": isolated.Entry("va", "2026-11-28T03:00:00.000Z", "x")}))
    res = pipeline.run(str(root), NOW, check_lock=False)
    assert EGRESS not in {e.value for e in res.model.devices["fw-s0"].quarantine}
    assert {e.value for e in res.model.devices["fw-s0"].quarantine} == {"10.249.0.1", "10.200.0.0/27"}
    # the vendor's accounts are on bst-1 (its bastion entry paths): the bastion step isolates it there
    [bp] = bastions.plan(m, ["va"])
    assert bp.bastion == "bst-1" and [a.id for a in bp.accounts] == ["va.tech"]


def test_headline_shared_flows_cut_only_when_the_accounts_are_disabled(tmp_path):
    root = write_inventory(shared_inventory(), tmp_path / "inv")
    res = pipeline.run(str(root), NOW, check_lock=False)
    mpath = str(tmp_path / "manifest.json")
    manifest.write_manifest(mpath, res.model)
    m = manifest.load(mpath)
    p = actions.plan(m, "va")
    fws = [run.DeviceResult(fw, "nftables", "", status="isolated") for fw in p.firewalls]
    failed = bastions.BastionResult("bst-1", "linux", "h", ["va"], status="failed", error_kind="connect")
    r = run.Run(p, m, "x", "", 0.0, 0.0, results=fws, bastions=[failed])
    assert [f for _, f, _ in r.open_flows()] == ["vendor/va/va-pacs/https/va-pam"]
    assert "NOT ISOLATED" in run.summary_line(r) and r.exit_code == 1
    assert "never quarantined; the vendor is cut on bst-1" in r.report()
    ok = bastions.BastionResult("bst-1", "linux", "h", ["va"], status="disabled")
    r = run.Run(p, m, "x", "", 0.0, 0.0, results=fws, bastions=[ok])
    assert r.open_flows() == [] and "isolated on all 1 devices" in run.summary_line(r)


@pytest.mark.parametrize("edit, message", [
    (lambda inv: inv["hosts"]["all"]["children"]["bastions"]["hosts"]["bst-1"].pop("vw_egress"),
     "bastion bst-1 declares no shared egress"),
    (lambda inv: inv["vendors"]["vc"].update(accounts=[]),
     "vendor behind a shared bastion egress without any account"),
    (lambda inv: inv["vendors"]["va"]["entry_paths"][2].update(source="10.249.0.77/32"),
     "a shared egress has no per-vendor source"),
    (lambda inv: inv["hosts"]["all"]["children"]["bastions"]["hosts"]["bst-1"].update(vw_egress="10.249.0.x"),
     "malformed shared egress"),
    (lambda inv: inv["vendors"]["vb"]["entry_paths"][0].update(source=f"{EGRESS}/32"),
     "overlapping prefixes"),
])
def test_validation_refuses_what_could_not_be_cut(tmp_path, edit, message):
    inv = copy.deepcopy(shared_inventory())
    edit(inv)
    diags = _diags(inv, tmp_path)
    assert any(message in d for d in diags), diags


def test_the_shared_egress_is_declared_once(tmp_path):
    assert _diags(shared_inventory(), tmp_path) == []


@pytest.mark.parametrize("check", [False, True])
def test_report_never_counts_a_flow_not_cut_as_cut(tmp_path, check):
    """The bastion of a shared egress not reached: the headline said NOT isolated, yet the report went on with
    "flows cut: 1" (--check: "flows would be cut (1)", listing it) and "their entry paths are quarantined above,
    so they reach no system meanwhile" - the shared egress is never quarantined."""
    root = write_inventory(shared_inventory(), tmp_path / "inv")
    res = pipeline.run(str(root), NOW, check_lock=False)
    mpath = str(tmp_path / "manifest.json")
    manifest.write_manifest(mpath, res.model)
    m = manifest.load(mpath)
    p = actions.plan(m, "va", check=check)
    fws = [run.DeviceResult(fw, "nftables", "", status="checked" if check else "isolated") for fw in p.firewalls]
    skipped = bastions.BastionResult("bst-1", "linux", "h", ["va"], status="skipped", error_kind="not in the lab")
    r = run.Run(p, m, "x", "", 0.0, 0.0, results=fws, bastions=[skipped])
    report = r.report()
    flow = "vendor/va/va-pacs/https/va-pam"
    assert [f for _, f, _ in r.open_flows()] == [flow]
    assert f"NOT CUT va: {flow}" in report
    counted = [ln for ln in report.splitlines() if ln.strip().startswith(("flows cut", "flows would be cut"))]
    assert counted and all("(0" in ln or ": 0 " in ln for ln in counted), counted
    assert f"    {flow}: " not in report  # not listed among the flows cut
    assert "reach no system meanwhile" not in report
