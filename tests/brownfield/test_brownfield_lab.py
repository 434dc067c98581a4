"""The brownfield variant of the example, proven with real packets: adopted subnets (devices keep
their addresses, the firewall their gateway), infrastructure flows (DNS, NTP, syslog, AD, backup),
staff administration paths, group flows, and a LAN-to-LAN tunnel confined to its two analysers."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest

from vendorwall import pipeline
from vendorwall.lab import netns, probe, runner

REPO = Path(__file__).resolve().parents[2]
INVENTORY = str(REPO / "inventories" / "example-brownfield")
NOW = dt.date(2026, 11, 28)

pytestmark = pytest.mark.lab


def _why_not() -> str | None:
    import sys

    sys.path.insert(0, str(REPO / "tests"))
    from labsupport import lab_available

    return lab_available()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Any:
    why = _why_not()
    if why:
        pytest.skip(why)
    lab_dir = str(tmp_path_factory.mktemp("bf-lab"))
    lab_id = "b" + format(os.getpid() % 4096, "03x")  # this test's own namespaces: vw<id>-*
    prefix = f"vw{lab_id}-"
    try:
        state = runner.up(INVENTORY, lab_dir=lab_dir, lab_id=lab_id, now=NOW)
        results = runner.deploy(state, confirm_s=60)
        assert [str(r.error) for r in results if r.error] == []
        yield state
    finally:
        runner.down(lab_dir, prefix)
        left = [n for n in netns.list_netns() if n.startswith(prefix)]
        assert not left, f"namespaces left behind: {left}"


def test_data_plane_matches_the_brownfield_intent(lab: Any) -> None:
    report = probe.run(lab, seed=3, sample=25)
    print(report.text())
    assert report.mismatches == []
    counts = report.counts()
    # shared services and staff paths are probed like every other allowed flow
    assert counts["allowed_infrastructure"]["probes"] >= 40
    assert counts["allowed_staff"]["probes"] >= 30
    assert counts["on_demand_granted"]["probes"] > 0
    assert sum(c["probes"] for k, c in counts.items() if k.startswith("forbidden")) >= 100


def test_adopted_devices_keep_addresses_behind_the_firewall_and_the_tunnel_is_confined(lab: Any) -> None:
    model = pipeline.run(INVENTORY, NOW, check_lock=False, do_render=False).model
    from vendorwall.lab.topology import build

    topo = build(model, lab.lab_id)
    segs = {s.key: s for s in model.segments}
    # the CT scanners keep 10.10.50.21/.22 in VLAN 150; the firewall holds the old gateway 10.10.50.1
    ct = segs["nord/tomora"]
    assert (ct.vlan, str(ct.gateway)) == (150, "10.10.50.1")
    ct_ns = topo.system_ns["ct-nord-1"]
    dns = topo.place("10.5.1.10/32")
    pacs = topo.place("10.5.40.10/32")
    tunnel = topo.place("198.51.100.64/27")
    bloodgas = topo.place("10.64.8.10/32")
    chem = topo.place("10.30.61.11/32")
    assert dns and pacs and tunnel and bloodgas and chem
    probes = [
        # CT (adopted address) -> DNS (infrastructure, udp) and -> PACS (group flow 'from: modality', dicom)
        probe.Probe("infra", ct_ns, "10.10.50.21", dns[0], str(dns[1]), "udp", 53, True),
        probe.Probe("group", ct_ns, "10.10.50.21", pacs[0], str(pacs[1]), "tcp", 104, True),
        # ct-nord-2 opted out of syslog: its packets to the collector are dropped; ct-nord-1's pass
        probe.Probe("skip", ct_ns, "10.10.50.22", topo.place("10.5.61.20/32")[0], "10.5.61.20", "udp", 514, False),
        probe.Probe("kept", ct_ns, "10.10.50.21", topo.place("10.5.61.20/32")[0], "10.5.61.20", "udp", 514, True),
        # the tunnel never reaches the blood gas analysers (before: every Exemplar system), even on VNC
        probe.Probe("tunnel", tunnel[0], str(tunnel[1]), bloodgas[0], "10.64.8.10", "tcp", 5900, False),
        # ... nor a chemistry analyser without a grant (on demand)
        probe.Probe("tunnel", tunnel[0], str(tunnel[1]), chem[0], "10.30.61.11", "tcp", 5900, False),
    ]
    outcomes = asyncio.run(probe._run_all(probes, 1.0, 16))
    bad = [(o.probe.category, o.probe.src, o.probe.dst, o.probe.port, o.detail) for o in outcomes if o.mismatch]
    assert bad == []
