"""A bastion's shared egress in the lab: vendors va and vc both reach their systems from bst-1's one egress.
Isolating va locks va's accounts on bst-1 and ends va's live session, while vc's account and session keep
working and the shared egress is not quarantined (vc's systems stay reachable from it). Real firewalls,
real sshd on the bastion (private /etc), real packets."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time

import labsupport
import pytest
from test_isolate_bastions import Session  # a live SSH session on the bastion
from test_shared_egress import EGRESS, shared_inventory
from vendorwall_testlib import write_inventory

from vendorwall import pipeline
from vendorwall.isolate import actions, manifest, run

pytestmark = pytest.mark.lab
LAB_ID = "se" + format(os.getpid() % 4096, "03x")
BPREFIX = f"vwbs{os.getpid() % 4096:03x}-"


class _Lab:
    def __init__(self, bstate, keys: str):
        self.bstate, self.keys = bstate, keys

    def key(self, account: str) -> str:
        return os.path.join(self.keys, account)


def test_lab_shared_egress_vendor_isolated_by_its_accounts_others_keep_working(tmp_path):
    reason = labsupport.lab_available("usermod", "pkill")
    if reason:
        pytest.skip(reason)
    from vendorwall.access import accounts, devices
    from vendorwall.lab import bastion, netns, runner

    inv = shared_inventory()
    inv["hosts"]["all"]["children"].pop("switches")
    inv["hosts"]["all"]["children"]["site_s0"]["hosts"].pop("sw-s0-1")
    inv["sites"]["s0"]["switches"] = []
    root = str(write_inventory(inv, tmp_path / "inv"))
    lab_dir = str(tmp_path / "lab")
    keys = tmp_path / "keys"
    keys.mkdir()
    bstate = None
    try:
        state = runner.up(root, lab_dir=lab_dir, lab_id=LAB_ID, now=None)
        model = pipeline.run(root, dt.date.fromisoformat(state.now), check_lock=False, do_render=False).model
        assert [str(r.error) for r in runner.deploy(state, confirm_s=60) if r.error] == []
        mpath = str(tmp_path / "manifest.json")
        manifest.write_manifest(mpath, model)
        bstate = bastion.up(lab_dir, {"bst-1": []}, BPREFIX)
        kmap = {}
        for v in model.inventory.vendors.values():
            for a in v.accounts:
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / a.id)], check=True)
                kmap[a.id] = (keys / f"{a.id}.pub").read_text()
        out = accounts.enforce(model, ["bst-1"], devices.ConnOptions(lab_dir=lab_dir, command_timeout=120), kmap,
                               check=False)
        assert out.exit == 0, out.lines
        lab = _Lab(bstate, str(keys))

        def addr(system: str) -> str:
            return next(str(a) for seg in model.segments for n, ads in seg.hosts.items() if n == system for a in ads)

        def from_egress(system: str) -> bool:
            src_ns, src = state.places[f"{EGRESS}/32"]
            s = netns.socket_in(src_ns)
            s.settimeout(0.5)
            try:
                s.bind((src, 0))
                s.connect((addr(system), 443))
                return s.recv(64).startswith(b"vw ")
            except OSError:
                return False
            finally:
                s.close()

        assert from_egress("va-pacs") and from_egress("vc-lab")
        va, vc = Session(lab, "va.tech"), Session(lab, "vc.tech")
        try:
            m = manifest.load(mpath)
            p = actions.plan(m, "va")
            bt = run.lab_bastion_targets(m, lab_dir, sorted(m.bastions), connect_timeout=2.0)
            r = run.execute(m, p, run.lab_targets(m, lab_dir), reason="breach at va", bastion_targets=bt)
            print(r.report())
            assert r.exit_code == 0 and "isolated on all 1 devices" in run.summary_line(r)
            assert [b.status for b in r.bastions] == ["disabled"]
            assert va.ended_within(3), "va's live session on the shared bastion survived"
            assert not vc.ended_within(0.5), "vc's session was cut: the isolation of va hit another vendor"
            assert not bastion.login(bstate, "bst-1", "va.tech", lab.key("va.tech"))[0]
            assert bastion.login(bstate, "bst-1", "vc.tech", lab.key("vc.tech"))[0]
            assert from_egress("vc-lab"), "the shared egress was cut: every vendor of the bastion lost access"
            listing = subprocess.run(["ip", "netns", "exec", state.firewalls["fw-s0"]["netns"], "nft", "list",
                                      "set", "inet", "vendorwall_state", "quarantine"], capture_output=True,
                                     text=True, check=True).stdout
            assert EGRESS not in listing and "10.200.0.0/27" in listing  # va's own VPN pool is quarantined
            time.sleep(0.1)
            r = run.execute(m, actions.plan(m, "va", action="restore"), run.lab_targets(m, lab_dir),
                            reason="cleared", bastion_targets=bt)
            assert r.exit_code == 0, r.report()
            assert bastion.login(bstate, "bst-1", "va.tech", lab.key("va.tech"))[0]
        finally:
            va.close()
            vc.close()
    finally:
        if bstate is not None:
            bastion.down(lab_dir, BPREFIX)
        runner.down(lab_dir, f"vw{LAB_ID}-")
        left = [n for n in netns.list_netns() if n.startswith((f"vw{LAB_ID}-", BPREFIX))]
        assert not left, f"namespaces left behind: {left}"
        if bstate is not None:
            assert bastion.host_files_unchanged(bstate) == []
