"""``vendorwall lab deploy --as-platform fortios``: real packets through what a FortiOS policy means.

Each lab firewall is rendered on FortiOS, the text is read back into flow tuples, and the lab's nftables
firewall is loaded from those tuples; ``lab test`` then probes the whole intent (allowed, dated, on-demand
with and without a grant, forbidden samples) and must find no mismatch. A wrong meaning would show as
mismatches: the last step drops one FortiOS policy and checks that the probes see it.
"""

from __future__ import annotations

import re

import pytest
from labsupport import example_lab, lab_available

from vendorwall.lab import probe, runner

pytestmark = pytest.mark.lab
WHY = lab_available()


@pytest.mark.skipif(WHY is not None, reason=WHY or "")
def test_lab_probes_the_fortios_meaning(tmp_path, monkeypatch) -> None:
    with example_lab(str(tmp_path / "lab"), "f7a1") as (state, _model):
        configs = runner.render_as_platform(state, "fortios")
        assert all("(fortios meaning)" in t for t in configs.values())
        results = runner.deploy(state, configs=configs)
        assert not [r.error for r in results if r.failed]
        report = probe.run(state, seed=3, sample=10, timeout=0.5)
        assert report.outcomes and not report.mismatches, report.text()
        assert report.counts().get("on_demand_granted", {}).get("probes", 0) > 0

        # the check can fail: a FortiOS policy dropped from fw-centre's text is a mismatch on real packets
        from vendorwall.render import meaning

        real = meaning.meaning_of

        def broken(platform: str, text: str):
            policy = (r'    edit \d+\n        set name "[^"]+"\n(?:        set [^\n]*\n)*?'
                      r'        set service "vw-svc-dicom"\n(?:        set [^\n]*\n)*?    next\n')
            text = re.sub(policy, "", text, count=1)
            return real(platform, text)

        monkeypatch.setattr(meaning, "meaning_of", broken)
        configs = runner.render_as_platform(state, "fortios")
        assert not [r.error for r in runner.deploy(state, configs=configs) if r.failed]
        report = probe.run(state, seed=3, sample=10, timeout=0.5)
        assert report.mismatches, "dropping a policy must show on real packets"


@pytest.mark.skipif(WHY is not None, reason=WHY or "")
def test_lab_probes_the_stormshield_meaning(tmp_path, monkeypatch) -> None:
    """The same with Stormshield SNS (no peer generator exists for it: real packets are its oracle)."""
    with example_lab(str(tmp_path / "lab"), "s7b2") as (state, _model):
        configs = runner.render_as_platform(state, "stormshield")
        assert all("(stormshield meaning)" in t for t in configs.values())
        assert not [r.error for r in runner.deploy(state, configs=configs) if r.failed]
        report = probe.run(state, seed=5, sample=10, timeout=0.5)
        assert report.outcomes and not report.mismatches, report.text()
        assert report.counts().get("on_demand_granted", {}).get("probes", 0) > 0

        from vendorwall.render import meaning

        real = meaning.meaning_of

        def broken(platform: str, text: str):  # one pass rule carrying DICOM dropped from every firewall
            rule = re.compile(r"^CONFIG FILTER RULE INSERT [^\n]*action=pass [^\n]*vw-svc-dicom[^\n]*\n", re.M)
            return real(platform, rule.sub("", text, count=1))

        monkeypatch.setattr(meaning, "meaning_of", broken)
        configs = runner.render_as_platform(state, "stormshield")
        assert not [r.error for r in runner.deploy(state, configs=configs) if r.failed]
        report = probe.run(state, seed=5, sample=10, timeout=0.5)
        assert report.mismatches, "dropping a rule must show on real packets"


@pytest.mark.skipif(WHY is not None, reason=WHY or "")
def test_lab_probes_the_panos_meaning(tmp_path) -> None:
    """The PAN-OS meaning on real packets (its rules read with zones, schedules and on-demand groups)."""
    with example_lab(str(tmp_path / "lab"), "p3c9") as (state, _model):
        configs = runner.render_as_platform(state, "panos")
        assert all("(panos meaning)" in t for t in configs.values())
        assert not [r.error for r in runner.deploy(state, configs=configs) if r.failed]
        report = probe.run(state, seed=7, sample=10, timeout=0.5)
        assert report.outcomes and not report.mismatches, report.text()
        assert report.counts().get("on_demand_granted", {}).get("probes", 0) > 0


@pytest.mark.skipif(WHY is not None, reason=WHY or "")
def test_lab_probes_the_asa_meaning(tmp_path) -> None:
    """The Cisco ASA meaning on real packets (the global access list with its time-ranges)."""
    with example_lab(str(tmp_path / "lab"), "a5d1") as (state, _model):
        configs = runner.render_as_platform(state, "asa")
        assert all("(asa meaning)" in t for t in configs.values())
        assert not [r.error for r in runner.deploy(state, configs=configs) if r.failed]
        report = probe.run(state, seed=9, sample=10, timeout=0.5)
        assert report.outcomes and not report.mismatches, report.text()
        assert report.counts().get("on_demand_granted", {}).get("probes", 0) > 0
