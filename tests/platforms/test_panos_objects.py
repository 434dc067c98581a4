"""Every entry vendorwall renders for PAN-OS is read by pan-os-python's object model without loss.

pan-os-python (PyPI, Palo Alto Networks' own object model of the PAN-OS configuration; test extra)
parses each rendered container with the class of its xpath (AddressObject, AddressGroup, ServiceObject,
ScheduleObject, Tag, SecurityRule, Zone, Layer3Subinterface) and prints it back: the element it prints
must equal the rendered one (children order aside). An element or a value pan-os-python does not know
(a misspelt ``log-end``, a ``schedule-type`` it cannot read) is dropped or changed on the way, so the
comparison fails: the negative control below proves it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

pytest.importorskip("panos", reason="pan-os-python (test extra) validates the PAN-OS rendering")

import panos.device as pdev
import panos.network as net
import panos.objects as obj
import panos.policies as pol
from panos.firewall import Firewall

from vendorwall import render
from vendorwall.render import panos_xml

CLASSES = {"/address": obj.AddressObject, "/address-group": obj.AddressGroup, "/service": obj.ServiceObject,
           "/schedule": obj.ScheduleObject, "/tag": obj.Tag, "/rulebase/security/rules": pol.SecurityRule,
           "/zone": net.Zone, "/layer3/units": net.Layer3Subinterface,
           "/log-settings/syslog": pdev.SyslogServerProfile, "/log-settings/profiles": obj.LogForwardingProfile}
MEMBER_LISTS = ("/virtual-router/entry[@name='default']/interface", "/import/network/interface")


def _canon(el: ET.Element) -> tuple[object, ...]:
    return (el.tag, tuple(sorted(el.attrib.items())), (el.text or "").strip(), tuple(sorted(_canon(c) for c in el)))


def check(text: str) -> tuple[int, list[str]]:
    fw = Firewall("192.0.2.1", api_key="unused", vsys="vsys1")
    fw._version_info = (10, 1, 0)  # the oldest PAN-OS the rendering targets (networks as registered IPs)
    problems: list[str] = []
    checked = 0
    for xpath, els in panos_xml.parse(text).sets.items():
        suffix = next((s for s in CLASSES if xpath.endswith(s)), None)
        if suffix is None:
            assert xpath.endswith(MEMBER_LISTS), xpath
            assert all(e.tag == "member" for e in els)
            continue
        cls = CLASSES[suffix]
        parent = fw
        if cls is pol.SecurityRule:
            parent = pol.Rulebase()
            fw.add(parent)
        inst = cls()
        inst.parent = parent
        container = ET.Element(suffix.rsplit("/", 1)[1])
        container.extend(els)
        parsed = inst.refreshall_from_xml(container)
        assert len(parsed) == len(els)
        for o, el in zip(parsed, els, strict=True):
            o.parent = parent
            checked += 1
            if _canon(o.element()) != _canon(el):
                problems.append(f"{cls.__name__} {el.get('name')}: {ET.tostring(el)[:200]!r} read back as "
                                f"{ET.tostring(o.element())[:200]!r}")
    return checked, problems


@pytest.mark.parametrize("source", ["example", "synthetic"])
def test_rendered_entries_read_back_by_pan_os_python(source, example_result, big_result) -> None:
    result = example_result if source == "example" else big_result
    total = 0
    for dev, intent in sorted(result.model.devices.items()):
        if intent.role != "firewall":
            continue
        r, diags = render.render_as(result.model, dev, "panos", vlan_parent="ethernet1/2")
        assert r is not None and not diags
        checked, problems = check(r.text)
        assert not problems, problems[:5]
        total += checked
    assert total > 100


def test_log_forwarding_profiles_read_back_by_pan_os_python() -> None:
    """vw-syslog (SyslogServerProfile + SyslogServer), vw-logs (LogForwardingProfile + its match list) and the
    rules' log-setting, from the log-forwarding example (inventories/example-syslog)."""
    import datetime as dt

    from vendorwall_testlib import REPO

    from vendorwall import pipeline

    res = pipeline.run(str(REPO / "inventories" / "example-syslog"), dt.date(2026, 11, 28))
    r, diags = render.render_device(res.model, res.model.devices["fw-centre"])
    assert r is not None and not diags and "<log-setting>vw-logs</log-setting>" in r.text
    checked, problems = check(r.text)
    assert checked > 100 and not problems, problems[:5]
    for a, b in (("send-syslog>", "send-syslogs>"), ("log-setting>", "log-settings>"), ("facility>", "facilty>")):
        bad = r.text.replace(f"<{a}", f"<{b}", 1).replace(f"</{a}", f"</{b}", 1)
        assert bad != r.text and check(bad)[1], a


def test_the_check_can_fail(example_result) -> None:
    r, _ = render.render_as(example_result.model, "fw-centre", "panos", vlan_parent="ethernet1/2")
    assert r is not None
    for bad in (r.text.replace("<log-end>", "<log-ending>", 1).replace("</log-end>", "</log-ending>", 1),
                r.text.replace("<ip-netmask>", "<ip-mask>", 1).replace("</ip-netmask>", "</ip-mask>", 1),
                r.text.replace("<weekly>", "<weekly><holiday><member>x</member></holiday>", 1)):
        assert bad != r.text
        _checked, problems = check(bad)
        assert problems
