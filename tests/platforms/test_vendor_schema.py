"""Every object vendorwall renders for FortiOS is valid against Fortinet's own argument specs.

The specs are the ``versioned_schema`` of the ``fortinet.fortios`` Ansible collection's modules
(fortios_firewall_policy, ..._address, ...), from the ``ansible`` PyPI package: installed, or
extracted by ``scripts/vendor_schemas.py`` into build/vendor-schemas (CI runs it; see the script).
Each rendered ``edit`` becomes the module's dict (``set a-b x`` -> ``a_b: x``; member lists ->
``[{name: x}]``) and goes through ansible-core's ``ArgumentSpecValidator``: unknown attributes,
wrong types and values outside the module's choices fail. Each attribute (and each choice used)
must also exist in the oldest FortiOS the capability file targets (``defaults.fortios_version``),
by the schema's ``v_range``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import sys
from typing import Any

import pytest
from vendorwall_testlib import REPO

from vendorwall import render
from vendorwall.platforms import registry
from vendorwall.render import fortios_cli
from vendorwall.render.fortios import LOG_TABLES

MODULE_OF = {"system interface": "system_interface", "system zone": "system_zone",
             "firewall address": "firewall_address", "firewall addrgrp": "firewall_addrgrp",
             "firewall service custom": "firewall_service_custom",
             "firewall schedule onetime": "firewall_schedule_onetime",
             "firewall schedule recurring": "firewall_schedule_recurring", "firewall policy": "firewall_policy",
             **{t: t.replace(" ", "_") for t in LOG_TABLES}}  # log syslogd2 setting -> log_syslogd2_setting
KEY_OF = {"firewall policy": "policyid"}
PKG = "ansible_collections.fortinet.fortios"


def _collection() -> Any:
    try:
        return importlib.import_module("ansible_collections.fortinet.fortios.plugins.module_utils.fortios.fortios")
    except ImportError:
        pass
    extracted = REPO / "build" / "vendor-schemas"
    if extracted.is_dir():
        sys.path.insert(0, str(extracted))
        importlib.invalidate_caches()
        return importlib.import_module("ansible_collections.fortinet.fortios.plugins.module_utils.fortios.fortios")
    if os.environ.get("CI"):
        pytest.fail("fortinet.fortios argument specs missing in CI: .ci/run must run scripts/vendor_schemas.py")
    pytest.skip("fortinet.fortios argument specs not available: run python scripts/vendor_schemas.py")


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.lstrip("v").split("."))


def _in_range(v_range: list[list[str]] | None, target: tuple[int, ...]) -> bool:
    if not v_range:
        return True
    return any(_version(lo) <= target and (not hi or target <= _version(hi)) for lo, hi in v_range)


def _as_module_dict(entry: fortios_cli.Entry, table: str, spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {KEY_OF.get(table, "name"): entry.key} if entry.key else {}  # "": a singleton table
    for attr, values in entry.settings.items():
        k = attr.replace("-", "_")
        s = spec.get(k, {})
        if s.get("type") == "list" and s.get("elements") == "dict":
            child = next(iter(s.get("options", {"name": None})))
            out[k] = [{child: v} for v in values]
        elif s.get("type") == "list":
            out[k] = values
        else:
            out[k] = " ".join(values)
    return out


def _check(text: str, target: tuple[int, ...]) -> tuple[int, list[str]]:
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    fortios = _collection()
    problems: list[str] = []
    checked = 0
    for table, t in fortios_cli.parse(text).items():
        mod = importlib.import_module(f"{PKG}.plugins.modules.fortios_{MODULE_OF[table]}")
        schema = mod.versioned_schema
        spec = fortios.schema_to_module_spec(schema)["options"]
        validator = ArgumentSpecValidator(spec)
        for entry in t.entries.values():
            data = _as_module_dict(entry, table, spec)
            res = validator.validate(data)
            checked += 1
            for err in res.error_messages:
                problems.append(f"{table} {entry.key}: {err}")
            for attr, values in entry.settings.items():
                node = schema["children"].get(attr.replace("-", "_"), {})
                if not _in_range(node.get("v_range"), target):
                    problems.append(f"{table} {entry.key}: {attr} not in FortiOS {target}")
                for opt in node.get("options", []):
                    if opt["value"] in values and not _in_range(opt.get("v_range"), target):
                        problems.append(f"{table} {entry.key}: {attr} {opt['value']} not in FortiOS {target}")
    return checked, problems


def _target() -> tuple[int, ...]:
    return _version(str(registry.get("fortios").defaults["fortios_version"]) + ".0")


@pytest.mark.parametrize("source", ["example", "synthetic"])
def test_rendered_objects_match_fortinet_argument_specs(source, example_result, big_result) -> None:
    result = example_result if source == "example" else big_result
    total = 0
    for dev, intent in sorted(result.model.devices.items()):
        if intent.role != "firewall":
            continue
        r, diags = render.render_as(result.model, dev, "fortios")
        assert r is not None and not diags
        checked, problems = _check(r.text, _target())
        assert not problems, problems[:10]
        total += checked
    assert total > 100


def test_log_forwarding_slot_matches_fortinet_argument_specs() -> None:
    """The syslog slot of the log-forwarding example (inventories/example-syslog: vw_syslog_slot: syslogd2)."""
    from vendorwall import pipeline

    _collection()
    try:  # a build/vendor-schemas extracted before the log modules were added to scripts/vendor_schemas.py
        importlib.import_module(f"{PKG}.plugins.modules.fortios_log_syslogd2_setting")
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("fortinet.fortios log_syslogd* specs missing in CI: rerun scripts/vendor_schemas.py")
        pytest.skip("fortios_log_syslogd* specs not extracted: rm -r build/vendor-schemas, then run "
                    "python scripts/vendor_schemas.py")
    res = pipeline.run(str(REPO / "inventories" / "example-syslog"), dt.date(2026, 11, 28))
    r, diags = render.render_device(res.model, res.model.devices["fw-nord"])
    assert r is not None and not diags
    tables = [(t, tbl.entries[""].settings) for t, tbl in fortios_cli.parse(r.text).items() if t in LOG_TABLES]
    logs = "".join(f"config {t}\n" + "".join(f"    set {k} {' '.join(v)}\n" for k, v in sets.items()) + "end\n"
                   for t, sets in tables)
    assert "config log syslogd2 setting" in logs and "config log syslogd2 filter" in logs
    checked, problems = _check(logs, _target())
    assert checked == 2 and not problems, problems
    _checked, problems = _check(logs.replace("enc-algorithm high", "enc-algorithm strong"), _target())
    assert problems and "strong" in problems[0]


def test_the_validation_can_fail() -> None:
    """A misspelt attribute, a bad choice and a type error are all reported."""
    bad = ("config firewall policy\n    edit 900001\n        set name \"x\"\n        set logtrafic all\n"
           "        set action permit\n    next\nend\n"
           "config system interface\n    edit \"vl1\"\n        set vlanid many\n    next\nend\n")
    _checked, problems = _check(bad, _target())
    text = "\n".join(problems)
    assert "logtrafic" in text and "permit" in text and "vlanid" in text, text


def test_the_render_time_quarantine_matches_fortinet_argument_specs() -> None:
    """The vw-q-* addresses and the quarantine group of a vendor isolated at render time are valid objects too."""
    from vendorwall import pipeline
    from vendorwall.isolate.isolated import Entry, Isolation

    iso = Isolation({"climatec": Entry("climatec", "2026-11-28T03:00:00.000Z", "breach", "INC-7", "segment")})
    res = pipeline.run(str(REPO / "inventories" / "example-multivendor"), dt.date(2026, 11, 28), check_lock=False,
                       isolation=iso)
    r, diags = render.render_as(res.model, "fw-nord", "fortios")
    assert r is not None and not diags
    assert '"vw-q-10.200.6.0_27"' in r.text
    checked, problems = _check(r.text, _target())
    assert not problems, problems[:10]
    assert checked > 100
