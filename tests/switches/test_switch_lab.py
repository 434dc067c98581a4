"""The switch variant in the network-namespace lab (root): ``vendorwall lab up`` serves the IOS
and Junos switches of ``inventories/example-switches`` with fake-switches inside the lab's
controller namespace, and notes the NX-OS and AOS-CX switches it cannot simulate; ``lab deploy``
pushes to the Junos switches over NETCONF through that namespace (the same fan-out as the
playbook); a rerun changes nothing."""

from __future__ import annotations

import datetime as dt
import os

import labsupport
import pytest

from vendorwall import pipeline
from vendorwall.deploy import junos_plan
from vendorwall.deploy.junos_netconf import Netconf
from vendorwall.lab import netns, runner, switches

pytestmark = pytest.mark.lab
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
INVENTORY = os.path.join(REPO, "inventories", "example-switches")
LAB_ID = "sw" + format(os.getpid() % 4096, "03x")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    reason = labsupport.lab_available() or switches.available()
    if reason:
        pytest.skip(reason)
    lab_dir = str(tmp_path_factory.mktemp("swlab"))
    prefix = f"vw{LAB_ID}-"
    try:
        yield runner.up(INVENTORY, lab_dir=lab_dir, lab_id=LAB_ID, now=None)
    finally:
        runner.down(lab_dir, prefix)
        left = [n for n in netns.list_netns() if n.startswith(prefix)]
        assert not left, f"namespaces left behind: {left}"


def test_lab_serves_ios_and_junos_switches_and_says_which_it_cannot(lab) -> None:
    assert sorted(lab.switches) == ["sw-centre-1", "sw-centre-2", "sw-rive-1"]
    assert any("sw-nord-1, sw-nord-2, sw-sud-1" in n and "no simulator" in n for n in lab.notes), lab.notes


def test_lab_deploy_to_junos_over_netconf_then_rerun_changes_nothing(lab) -> None:
    junos_switches = ["sw-centre-1", "sw-centre-2"]
    res = pipeline.run(lab.inventory, dt.date.fromisoformat(lab.now), check_lock=False)
    configs = {d: res.configs[d].text for d in junos_switches}
    results = runner.deploy(lab, configs=configs, confirm_s=30)
    assert [str(r.error) for r in results if r.error] == []
    assert all(r.changed for r in results)
    for t in runner.targets(lab, switches=True, res=res):
        if t.device not in junos_switches:
            continue
        assert t.sock_factory is not None  # reached from inside the lab's controller namespace
        nc = Netconf(t).open()
        try:
            now = junos_plan.parse_xml(nc.get_config("running", junos_plan.GET_FILTER))
        finally:
            nc.close()
        want = junos_plan.parse_set(configs[t.device])
        assert now.vlans == want.vlans
        intent = res.model.devices[t.device]
        for ifname, vlan, _ in intent.access_ports:
            assert (now.ports[ifname].mode, now.ports[ifname].access_vlan) == ("access", vlan)
        assert now.ports[intent.uplink].trunk_allowed == tuple(sorted(s.vlan for s in intent.segments))
    again = runner.deploy(lab, configs=configs, confirm_s=30)
    assert [str(r.error) for r in again if r.error] == [] and not [r.device for r in again if r.changed]

