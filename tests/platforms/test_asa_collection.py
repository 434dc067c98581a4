"""Every object-group and ACE vendorwall renders for ASA is read by Cisco's own Ansible collection as meant.

cisco.asa 4.0.3 (the last ``ansible`` PyPI package bundling it is 9.13.0; scripts/vendor_schemas.py
extracts it into build/vendor-schemas, CI runs it) parses ASA configuration text with its resource
templates (``asa_ogs`` / ``asa_acls`` facts) and validates the result with the modules' argument specs
(ansible-core's ``ArgumentSpecValidator``, in place of the AnsibleModule the facts expect). The test
asserts both: no argument-spec error, and what the collection read equals what vendorwall wrote (every
group with its members, every ACE with its action, protocol, groups, log level and time-range). A typo
in the syntax makes the collection read something else (the negative controls).

A quirk of the collection, not of the rendering: its template reads ``time-range NAME`` with the
keyword included in the value.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import pytest
from vendorwall_testlib import REPO

from vendorwall import render
from vendorwall.render import asa_cli


def _collection() -> Any:
    mod = "ansible_collections.cisco.asa.plugins.module_utils.network.asa.facts.acls.acls"
    try:
        return importlib.import_module(mod)
    except ImportError:
        pass
    extracted = REPO / "build" / "vendor-schemas"
    if (extracted / "ansible_collections" / "cisco" / "asa").is_dir():
        sys.path.insert(0, str(extracted))
        importlib.invalidate_caches()
        return importlib.import_module(mod)
    if os.environ.get("CI"):
        pytest.fail("cisco.asa missing in CI: .ci/run must run scripts/vendor_schemas.py")
    pytest.skip("cisco.asa not available: run python scripts/vendor_schemas.py")


class _Module:
    def fail_json(self, **kw: Any) -> None:
        raise AssertionError(kw)


def read(text: str) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """(ACLs, object-groups, argument-spec errors) as cisco.asa's facts read ``text``."""
    _collection()
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    from ansible_collections.ansible.netcommon.plugins.module_utils.network.common import utils
    from ansible_collections.cisco.asa.plugins.module_utils.network.asa.facts.acls.acls import AclsFacts
    from ansible_collections.cisco.asa.plugins.module_utils.network.asa.facts.ogs.ogs import OGsFacts

    problems: list[str] = []

    def validate(spec: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        res = ArgumentSpecValidator(spec).validate(data)
        problems.extend(res.error_messages)
        return res.validated_parameters

    old = utils.validate_config
    utils.validate_config = validate
    try:
        cfg = asa_cli.parse(text)
        og_text = "".join(h + "\n" + "".join(f" {x}\n" for x in lines) for h, lines in cfg.blocks.items()
                          if h.startswith("object-group"))
        acl_text = "".join(f"access-list {name} {x}\n" for name, lines in cfg.acls.items() for x in lines)
        acls = AclsFacts(_Module()).populate_facts(None, {"ansible_network_resources": {}}, data=acl_text)
        ogs = OGsFacts(_Module()).populate_facts(None, {"ansible_network_resources": {}}, data=og_text)
    finally:
        utils.validate_config = old
    return (acls["ansible_network_resources"].get("acls", {}), ogs["ansible_network_resources"].get("ogs", []),
            problems)


def compare(text: str, written: str = "") -> list[str]:
    """What cisco.asa reads in ``text`` vs what vendorwall wrote (``written``, default ``text``)."""
    acls, ogs, problems = read(text)
    cfg = asa_cli.parse(written or text)
    out = list(problems)
    # object-groups: members as written
    theirs = {(o["object_type"], g["name"]): g for o in ogs for g in o["object_groups"]}
    for head, lines in cfg.blocks.items():
        w = head.split()
        if w[0] != "object-group":
            continue
        g = theirs.get((w[1], w[2]))
        if g is None:
            out.append(f"{head}: not read")
            continue
        if w[1] == "network":
            want = sorted(x.split()[2] if x.split()[1] == "host" else " ".join(x.split()[1:])
                          for x in lines if x.startswith("network-object"))
            obj = g.get("network_object", {})
            got = sorted([*obj.get("host", []), *obj.get("address", [])])
            if want != got:
                out.append(f"{head}: {want[:3]} read as {got[:3]}")
        else:
            want = sorted(x.split(maxsplit=1)[1] for x in lines if x.startswith("port-object"))
            got = sorted(f"eq {p['eq']}" if "eq" in p else f"range {p['range']['start']} {p['range']['end']}"
                         for p in g.get("port_object", []))
            if want != got or g.get("protocol") != w[3]:
                out.append(f"{head}: {want[:3]} read as {got[:3]} {g.get('protocol')}")
    # ACEs: action, protocol, groups, log level, time-range
    by_name = {a["name"]: a for a in acls.get("acls", [])}
    for name, lines in cfg.acls.items():
        aces = [a for a in by_name.get(name, {}).get("aces", []) if "grant" in a]
        mine = [x.split() for x in lines if x.startswith("extended ")]
        if len(aces) != len(mine):
            out.append(f"{name}: {len(mine)} ACEs read as {len(aces)}")
            continue
        for w, a in zip(mine, aces, strict=True):
            got = [a.get("grant"), a.get("protocol"), a["source"].get("object_group", "any" if a["source"].get("any")
                                                                        else "?"),
                   a["destination"].get("object_group", "any" if a["destination"].get("any") else "?"),
                   a["destination"].get("service_object_group", ""), a.get("log", ""),
                   (a.get("time_range") or "").removeprefix("time-range ")]
            src = w[4] if w[3] == "object-group" else w[3]
            j = 5 if w[3] == "object-group" else 4
            dst = w[j + 1] if w[j] == "object-group" else w[j]
            k = j + 2 if w[j] == "object-group" else j + 1
            svc = w[k + 1] if k < len(w) and w[k] == "object-group" else ""
            tr = w[w.index("time-range") + 1] if "time-range" in w else ""
            want = [w[1], w[2], src, dst, svc, w[w.index("log") + 1] if "log" in w else "", tr]
            if got != want:
                out.append(f"{name} {' '.join(w)[:120]}: read as {got}")
    return out


def test_rendered_asa_read_by_cisco_asa_as_written(example_result) -> None:
    """The collection's templates cost ~20 ms per line: three of the example's firewalls (dates, windows,
    on-demand, port ranges, every group kind), not every firewall of every inventory."""
    n = 0
    for dev in ("fw-nord", "fw-rive", "fw-sud"):
        r, diags = render.render_as(example_result.model, dev, "asa", vlan_parent="GigabitEthernet0/1")
        assert r is not None and not diags
        problems = compare(r.text)
        assert not problems, problems[:5]
        n += r.text.count(" extended ")
    assert n > 100


def test_the_check_can_fail(example_result) -> None:
    r, _ = render.render_as(example_result.model, "fw-rive", "asa", vlan_parent="GigabitEthernet0/1")
    assert r is not None
    for bad in (r.text.replace(" network-object host ", " network-object hots ", 1),
                r.text.replace(" log informational", " logg informational", 1),
                r.text.replace(" port-object eq ", " port-object eqq ", 1)):
        assert bad != r.text
        assert compare(bad, r.text), "a typo must show"
