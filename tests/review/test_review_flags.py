"""Risk flags, one rule at a time, and the helpers they rest on.

Flags a valid inventory can raise are tested through a real review of a working-tree edit (and
their ``file:line`` checked against the edited file). Flags only an inventory that fails
validation could raise (shared account, contract ended...) are tested on the typed inventory
directly: the review refuses invalid sides, but the rules must still hold if validation changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from ipaddress import IPv4Network
from pathlib import Path

import pytest
import review_support as rs

from vendorwall import pipeline
from vendorwall.model import Inventory, Origin
from vendorwall.review import compare, isolation, risk, words
from vendorwall.review.review import Review, review

VENDORS = Path(rs.INVENTORY) / "vendorwall" / "vendors"


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    return rs.init_repo(tmp_path)


def _review(root: Path, settings: risk.Settings | None = None) -> Review:
    return review(str(root / rs.INVENTORY), "main", None, rs.NOW, settings)


def _flags(rv: Review, code: str) -> list[risk.Flag]:
    return [f for f in rv.flags if f.code == code]


def _line(root: Path, rel: Path, text: str) -> int:
    lines = (root / rel).read_text(encoding="utf-8").splitlines()
    return next(i for i, t in enumerate(lines, 1) if text in t)


# --------------------------------------------------------------------------- through a review


def test_forbidden_service_by_exception(scratch: Path) -> None:
    rel = VENDORS / "tomora.yml"
    rs.replace_in_system(scratch / rel, "ct-centre-1", "          services: [ssh, https]\n",
                         "          services: [ssh, https, smb]\n          exception: {services: [smb], justification: "
                         "log export, approved_by: rssi@chu-exemple.example}\n")
    [flag] = _flags(_review(scratch), "forbidden_service")
    assert flag.severity == "high" and flag.system == "ct-centre-1"
    assert flag.where == f"{rel}:{_line(scratch, rel, 'services: [ssh, https, smb]')}"
    assert "newly allowed" in flag.message and "log export" in flag.message


def test_broad_service(scratch: Path) -> None:
    rel = VENDORS / "magnetika.yml"
    rs.replace_in_system(scratch / rel, "mri-nord-1", "services: [ssh, https]", "services: [ssh, https, acme-viewer]")
    [flag] = _flags(_review(scratch), "broad_service")
    assert flag.severity == "medium" and "acme-viewer (tcp/8000-8010)" in flag.message


def test_blast_radius_per_vendor_and_overall(scratch: Path) -> None:
    rs.new_vendor(scratch / rs.INVENTORY)
    rv = _review(scratch, risk.Settings(blast_radius=2))
    [flag] = _flags(rv, "blast_radius")
    assert flag.severity == "high" and flag.vendor == "ophtalis"
    assert flag.where == f"{VENDORS / 'ophtalis.yml'}:4"
    rs.new_system(scratch / rs.INVENTORY)  # a second vendor gains one system: 3 systems in all
    rv = _review(scratch, risk.Settings(blast_radius=3))
    [flag] = _flags(rv, "blast_radius")
    assert flag.severity == "medium" and "2 vendor(s) access to 3 systems" in flag.message


def test_policy_relaxed(scratch: Path) -> None:
    rel = Path(rs.INVENTORY) / "vendorwall" / "policy.yml"
    rs.replace_once(scratch / rel, "forbidden_services: [telnet, smb, any]", "forbidden_services: [telnet, any]")
    rs.replace_once(scratch / rel, "on_demand_max_hours: 8 ", "on_demand_max_hours: 10")
    flags = _flags(_review(scratch), "policy_relaxed")
    assert [(f.severity, f.line) for f in flags] == [
        ("high", _line(scratch, rel, "forbidden_services:")), ("medium", _line(scratch, rel, "on_demand_max_hours"))]
    assert "no longer forbidden to vendors: smb" in flags[0].message


def test_keep_flow_removed(scratch: Path) -> None:
    rel = VENDORS / "tomora.yml"
    rs.replace_in_system(scratch / rel, "ct-nord-1", "          - {to: ris-server-centre, services: [dicom], "
                         "keep: true}\n", "")
    rv = _review(scratch)
    [flag] = _flags(rv, "keep_flow_removed")
    assert flag.severity == "medium" and flag.side == "base" and flag.system == "ct-nord-1"
    assert rv.count("removed") == 1


def test_contract_ending_and_mode_changes(scratch: Path) -> None:
    rel = VENDORS / "tomora.yml"
    path = scratch / rel
    rs.replace_once(path, "ends: 2029-01-31", "ends: 2027-01-15")
    rs.replace_in_system(path, "ct-nord-2", "          max_hours: 2\n", "          max_hours: 4\n")
    rs.replace_in_system(path, "ct-centre-1", "          services: [ssh, https]\n", "          services: [ssh]\n")
    rv = _review(scratch)
    [ending] = _flags(rv, "contract_ending")
    assert ending.severity == "medium" and "in 48 days" in ending.message
    assert ending.where == f"{rel}:{_line(scratch, rel, 'ends: 2027-01-15')}"
    [longer] = _flags(rv, "on_demand_longer")
    assert longer.severity == "low" and "4 h (was 2 h)" in longer.message


def test_on_demand_to_scheduled_and_validity_extended(scratch: Path) -> None:
    rs.replace_in_system(scratch / VENDORS / "tomora.yml", "ct-nord-2", """\
          mode: on_demand
          services: [ssh, https]
          max_hours: 2
""", """\
          mode: scheduled
          services: [ssh, https]
          window: {days: [sat], start: "06:00", end: "08:00"}
""")
    rs.replace_once(scratch / VENDORS / "climatec.yml", "ends: 2027-09-30", "ends: 2027-11-30")
    rs.replace_once(scratch / VENDORS / "climatec.yml", "until: 2027-09-30", "until: 2027-10-31")
    rv = _review(scratch)
    assert [f.severity for f in _flags(rv, "on_demand_to_scheduled")] == ["medium"]
    # one rule with validation: a weekly window may run without an end date (until the contract ends); said
    # at low severity, never "over the policy maximum" (validation accepts it)
    assert _flags(rv, "validity_over_policy") == []
    [noend] = _flags(rv, "scheduled_without_end")
    assert noend.severity == "low" and "until the contract" in noend.message
    [ext] = _flags(rv, "validity_extended")
    assert ext.severity == "low" and "from 2027-09-30 to 2027-10-31" in ext.message
    sentence = next(st.text for va in rv.access for sa in va.systems for st in sa.statements
                    if sa.system == "ct-nord-2")
    # no end date of its own: the contract's end, which the firewall enforces
    assert "validity changed from on demand, at most 2 h per opening to on schedule (sat 06:00-08:00) " \
           "until 2029-01-31" in sentence


# --------------------------------------------------------------------------- on typed inventories


@pytest.fixture(scope="module")
def example() -> pipeline.Result:
    return pipeline.run(str(rs.EXAMPLE), rs.NOW, shown_root=rs.INVENTORY, do_render=False)


def _with_vendor(inv: Inventory, name: str, **changes: object) -> Inventory:
    vendors = {**inv.vendors, name: dataclasses.replace(inv.vendors[name], **changes)}
    return dataclasses.replace(inv, vendors=vendors)


def _with_system(inv: Inventory, name: str, **access: object) -> Inventory:
    s = inv.systems[name]
    s2 = dataclasses.replace(s, access=dataclasses.replace(s.access, **access))
    v = inv.vendors[s.vendor]
    inv = _with_vendor(inv, s.vendor, systems=tuple(s2 if x.name == name else x for x in v.systems))
    return dataclasses.replace(inv, systems={**inv.systems, name: s2})


def _run(base: Inventory, head: Inventory, changes: list[compare.FlowChange] | None = None) -> list[risk.Flag]:
    touched = compare.touched(base, head, changes or [], [])
    return risk.flags(base, head, rs.NOW, touched, changes or [], risk.Settings())


def test_account_flags(example: pipeline.Result) -> None:
    inv = example.inventory
    v = inv.vendors["tomora"]
    acc = v.accounts[0]
    bad = (dataclasses.replace(acc, id="tomora.shared", shared=True, owner=""),
           dataclasses.replace(acc, id="tomora.forever", expires=dt.date.min),
           dataclasses.replace(acc, id="tomora.long", created=dt.date(2026, 1, 1), expires=dt.date(2028, 1, 1)))
    flags = _run(inv, _with_vendor(inv, "tomora", accounts=(*v.accounts, *bad)))
    codes = sorted((f.code, f.severity) for f in flags)
    assert codes == [("account_lifetime", "high"), ("account_shared", "high"), ("account_without_expiry", "high"),
                     ("account_without_owner", "medium")]


def test_contract_and_validity_flags(example: pipeline.Result) -> None:
    inv = example.inventory
    head = _with_vendor(inv, "tomora", contract_ends=dt.date(2026, 1, 1))
    assert [f.code for f in _run(inv, head)] == ["contract_ended"]
    head = _with_system(inv, "bms-supervisor-centre", until=dt.date(2028, 6, 30))
    codes = sorted(f.code for f in _run(inv, head))
    assert codes == ["contract_before_access", "permanent_access", "validity_extended", "validity_over_policy"]


def test_whole_subnet_destination() -> None:
    facts = compare.FlowFacts("vendor/v/s/https/p", "https", "on_demand", None, None, 4, "p", "p", False, True,
                              ("fw",), Origin("f.yml", 7, ""))
    change = compare.FlowChange("added", ("vendor_access", "v", "s", "10.249.0.1/32", "10.64.0.0/24", "tcp", 443),
                                (), (facts,))
    out = risk._Out(Inventory("", *[None] * 2, {}, {}, {}, {}, {}), None)  # type: ignore[arg-type]
    risk._flows(out, [change])
    [flag] = out.flags
    assert (flag.code, flag.severity, flag.where) == ("whole_subnet_destination", "high", "f.yml:7")


def test_isolation_detects_a_keep_flow_from_the_entry_path(example: pipeline.Result) -> None:
    inv = example.inventory
    flows = compare.side_flows(example.model)
    # a must-keep flow whose source is inside acme-imaging's VPN pool would be cut by isolation
    key = ("clinical", "tomora", "ct-nord-1", "10.200.1.0/28", "10.64.0.161/32", "tcp", 104)
    facts = compare.FlowFacts("clinical/ct-nord-1/from/x/dicom", "dicom", "permanent", None, None, None, "", "x",
                              True, True, ("fw-nord",), Origin("f.yml", 1, ""))
    segs = [(s.key, s.vendor) for s in example.model.segments]
    [imp] = isolation.impacts({"acme-imaging": "changed"}, inv, inv, {**flows, key: (facts,)}, flows, segs, segs)
    assert not imp.keep_survive and imp.broken_keep == ("clinical/ct-nord-1/from/x/dicom (10.200.1.0/28 -> "
                                                        "10.64.0.161/32)",)
    [ok] = isolation.impacts({"acme-imaging": "changed"}, inv, inv, flows, flows, segs, segs)
    assert ok.keep_survive and ok.access_flows == ok.access_flows_before == 22
    assert ok.accounts == ("acme.jmartin", "acme.plefevre", "acme.snguyen")


# --------------------------------------------------------------------------- helpers


def test_prefix_index() -> None:
    idx = isolation.PrefixIndex([(IPv4Network("10.0.0.0/24"), "a"), (IPv4Network("10.0.1.5/32"), "b"),
                                 (IPv4Network("192.168.0.0/16"), "c")])
    assert idx.overlapping(IPv4Network("10.0.0.128/25")) == {"a"}  # inside a
    assert idx.overlapping(IPv4Network("10.0.0.0/23")) == {"a", "b"}  # contains a and b
    assert idx.overlapping(IPv4Network("10.0.2.0/24")) == set()
    assert idx.overlapping(IPv4Network("0.0.0.0/0")) == {"a", "b", "c"}


def test_words_helpers() -> None:
    assert words.compress([22, 8000, 8001, 8002, 8004]) == "22,8000-8002,8004"
    label = words.ports_label([("ssh", "tcp", 22), ("viewer", "tcp", 8001), ("viewer", "tcp", 8000),
                               ("any", "any", None)])
    assert label == "any (every protocol and port), ssh tcp/22 and viewer tcp/8000-8001"


def test_strip_ignores_origins(example: pipeline.Result) -> None:
    s = example.inventory.systems["ct-nord-1"]
    moved = dataclasses.replace(s, origin=Origin("x.yml", 99, "p"),
                                access=dataclasses.replace(s.access, origin=Origin("x.yml", 100, "q")))
    assert moved != s and compare.strip(moved) == compare.strip(s)
    assert compare.strip(dataclasses.replace(s, criticality="low")) != compare.strip(s)


# --------------------------------------------------------------------------- issue 10: wording, isolated vendors


def test_a_port_gaining_a_second_service_name_is_said(scratch: Path) -> None:
    """A new catalogue name on a port the system already allows: the flow 'changes' by its rules; the sentence
    says how (main printed '...: .')."""
    policy = scratch / rs.INVENTORY / "vendorwall" / "policy.yml"
    rs.replace_once(policy, "  https: {protocol: tcp, ports: [443]}\n",
                    "  https: {protocol: tcp, ports: [443]}\n  robot-web: {protocol: tcp, ports: [443]}\n")
    rs.replace_in_system(scratch / VENDORS / "tomora.yml", "ct-nord-2", "          services: [ssh, https]\n",
                         "          services: [ssh, https, robot-web]\n")
    rv = _review(scratch)
    texts = [st.text for va in rv.access for sa in va.systems for st in sa.statements]
    assert texts and not any(t.endswith(": .") for t in texts), texts
    assert any("now also allowed as service robot-web" in t for t in texts), texts


def test_new_permanent_access_shows_its_justification(scratch: Path) -> None:
    rs.permanent_added(scratch / rs.INVENTORY)
    rv = _review(scratch)
    [flag] = _flags(rv, "on_demand_to_permanent")
    assert "justification: remote tube monitoring pilot, six months, ticket CHG-2211" in flag.message


def test_a_change_touching_an_isolated_vendor_is_flagged(scratch: Path) -> None:
    from vendorwall.isolate import isolated

    rs.permanent_added(scratch / rs.INVENTORY)
    iso = isolated.Isolation({"tomora": isolated.Entry("tomora", "2026-11-27T22:10:00.000Z", "vendor breach",
                                                       "INC-4711")})
    rv = review(str(scratch / rs.INVENTORY), "main", None, rs.NOW, None, None, iso)
    [flag] = _flags(rv, "changes_isolated_vendor")
    assert flag.severity == "high" and flag.vendor == "tomora" and "INC-4711" in flag.message
    [imp] = [i for i in rv.isolation if i.vendor == "tomora"]
    assert imp.isolated and "ISOLATED NOW" in rs_sentence(imp)
    assert _flags(_review(scratch), "changes_isolated_vendor") == []  # not isolated: no flag


def rs_sentence(imp: isolation.Impact) -> str:
    from vendorwall.review.as_markdown import isolation_sentence

    return isolation_sentence(imp)


def test_isolation_impact_says_what_is_manual(scratch: Path) -> None:
    """A VPN-only vendor's accounts and a LAN-to-LAN tunnel are by hand; bastion accounts are not (main said
    the isolation disables every account 'on the bastions' and brings the tunnels down)."""
    rs.tunnel_added(scratch / rs.INVENTORY)
    rs.replace_once(scratch / VENDORS / "anestra.yml", "person: Julie Roux", "person: Julie Roux-Martin")
    rv = _review(scratch)
    imp = {i.vendor: i for i in rv.isolation}
    mag, ane = imp["magnetika"], imp["anestra"]
    assert any("bring down LAN-to-LAN tunnel" in m for m in mag.manual) and mag.accounts
    assert ane.accounts == () and ane.accounts_manual == ("anestra.dfaure", "anestra.jroux")
    assert any("VPN concentrator" in m and "anestra.jroux" in m for m in ane.manual)
    text = rs_sentence(ane)
    assert "disables 0 accounts on the bastions" in text and "By hand: lock 2 account(s) on the VPN" in text


def test_a_widened_service_is_flagged_by_its_ports_even_without_new_flows(example: pipeline.Result) -> None:
    """Forbidden services are ports: a catalogue change that widens a vendor-used service is flagged whatever
    flows it adds (main flagged it only for systems gaining flows in the change), high when the new port is
    a forbidden one."""
    inv = example.inventory
    https = inv.services["https"]
    head = dataclasses.replace(inv, services={**inv.services, "https": dataclasses.replace(https, ports=(23, 443))})
    flags = _run(inv, head)  # no flow change passed in: the widening alone must be seen
    [f] = [x for x in flags if "service https changes" in x.message]
    assert f.severity == "high" and f.code == "forbidden_service" and "telnet (tcp/23)" in f.message
    vnc = next(n for n, s in inv.services.items() if n not in ("https",) and s.protocol == "tcp"
               and any(n in x.access.services for x in inv.systems.values()))
    svc = inv.services[vnc]
    head = dataclasses.replace(inv, services={**inv.services, vnc: dataclasses.replace(
        svc, ports=tuple(sorted({*svc.ports, 60001})))})
    [g] = [x for x in _run(inv, head) if f"service {vnc} changes" in x.message]
    assert g.code in ("service_widened", "blast_radius") and "forbidden" not in g.message
