"""Isolation that sticks, in the lab (real nftables, real SSH, real packets), on a small inventory of its own:

- a flushed ruleset (a reboot) reloaded from the persisted boot file is closed for the isolated vendor,
  and so is a redeploy after a flush (main: the vendor reconnected while the journal said isolated);
- a deploy rolled back after the isolation keeps it;
- a deploy that gives the isolated vendor a new VPN pool quarantines the pool in the same transaction;
- data as data: strings that would break a script reach the firewall's agent as data and run nothing;
- an operator's live grant survives ``lab test`` and ``isolate/restore --lab-dir`` (main replaced its
  timeout and comment, then deleted it).

Each test deploys what it needs (the state directory, hence the isolation record, is per test)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import labsupport
import pytest
from vendorwall_testlib import add_systems, base_inventory, system, write_inventory

from vendorwall import pipeline
from vendorwall.access import devices, grants, policy
from vendorwall.deploy.errors import VerifyError
from vendorwall.isolate import actions, isolated, manifest, run
from vendorwall.lab import netns, probe, runner
from vendorwall.state import StateDir

pytestmark = pytest.mark.lab

LAB_ID = "sk" + format(os.getpid() % 4096, "03x")
NEW_POOL = "10.200.9.0/27"


def _inventory(new_pool: bool) -> dict:
    inv = base_inventory(1)
    hosts = inv["hosts"]["all"]["children"]
    hosts.pop("switches")
    hosts["site_s0"]["hosts"].pop("sw-s0-1")
    inv["sites"]["s0"]["switches"] = []
    if new_pool:
        inv["vendors"]["va"]["entry_paths"].append({"name": "va-vpn2", "kind": "vpn", "pool": NEW_POOL})
    return add_systems(inv, [
        system("va-pacs", "va", "s0", "permanent", ("https",),
               flows=[{"from": "g-servers", "services": ["dicom"], "keep": True}]),
        system("vb-lab", "vb", "s0", "permanent", ("https",)),
        system("vc-robot", "vc", "s0", "on_demand", ("ssh",)),
    ])


class Lab:
    def __init__(self, state, root: str, tmp):
        self.state, self.root, self.tmp = state, root, tmp

    @property
    def fw(self) -> str:
        return "fw-s0"

    @property
    def ns(self) -> str:
        return self.state.firewalls[self.fw]["netns"]

    @property
    def remote_dir(self) -> str:
        return self.state.firewalls[self.fw]["remote_dir"]

    def forget(self) -> None:
        """Each test has its own state directory, hence its own isolation record: the firewall forgets what
        an earlier test isolated (a deploy refuses to lift an isolation the record no longer lists)."""
        self.nft("flush", "ruleset")

    def write(self, new_pool: bool) -> None:
        write_inventory(_inventory(new_pool), self.root)

    def model(self):
        return pipeline.run(self.root, dt.date.fromisoformat(self.state.now), check_lock=False,
                            do_render=False).model

    def addr(self, system: str) -> str:
        return next(str(a) for seg in self.model().segments for n, ads in seg.hosts.items() if n == system
                    for a in ads)

    def connects(self, src_prefix: str, system: str, port: int, timeout: float = 0.5) -> bool:
        src_ns, src = self.state.places[src_prefix]
        s = netns.socket_in(src_ns)
        s.settimeout(timeout)
        try:
            s.bind((src, 0))
            s.connect((self.addr(system), port))
            return s.recv(64).startswith(b"vw ")
        except OSError:
            return False
        finally:
            s.close()

    def nft(self, *args: str, stdin: str | None = None) -> str:
        return subprocess.run(["ip", "netns", "exec", self.ns, "nft", *args], input=stdin, capture_output=True,
                              text=True, check=True).stdout

    def deploy(self, **kw) -> list:
        return runner.deploy(self.state, confirm_s=60, **kw)

    def isolate(self, vendor: str, action: str = "isolate") -> run.Run:
        m = self.manifest()
        p = actions.plan(m, vendor, "access", action)
        r = run.execute(m, p, run.lab_targets(m, self.state.lab_dir), reason=f"lab {action}", ticket="INC-LAB",
                        isolation_path=StateDir.for_inventory(self.root).isolation_file, accounts=False)
        print(r.report())
        return r

    def manifest(self) -> manifest.Manifest:
        path = str(self.tmp / "manifest.json")
        manifest.write_manifest(path, self.model())
        return manifest.load(path)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    reason = labsupport.lab_available()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("sticky")
    root = str(base / "inv")
    write_inventory(_inventory(True), root)  # the lab places every prefix of the larger inventory
    lab_dir = str(base / "lab")
    prefix = f"vw{LAB_ID}-"
    try:
        state = runner.up(root, lab_dir=lab_dir, lab_id=LAB_ID, now=None)
        yield Lab(state, root, base)
    finally:
        runner.down(lab_dir, prefix)
        left = [n for n in netns.list_netns() if n.startswith(prefix)]
        assert not left, f"namespaces left behind: {left}"


VA_VPN = "10.200.0.0/27"
VB_BASTION = "10.249.0.2/32"


def test_01_flush_reboot_and_redeploy_keep_the_vendor_cut(lab):
    lab.write(new_pool=False)
    assert [str(r.error) for r in lab.deploy() if r.error] == []
    assert lab.connects(VA_VPN, "va-pacs", 443) and lab.connects(VB_BASTION, "vb-lab", 443)
    boot = os.path.join(lab.remote_dir, "boot.nft")
    assert os.path.exists(boot) and os.path.exists(os.path.join(lab.remote_dir, "applied.nft"))
    r = lab.isolate("va")
    assert r.exit_code == 0, r.report()
    assert not lab.connects(VA_VPN, "va-pacs", 443) and lab.connects(VB_BASTION, "vb-lab", 443)
    assert "va" in isolated.read_for(lab.root)
    # reboot: the ruleset is gone (open), then the nftables service loads the persisted boot file
    lab.nft("flush", "ruleset")
    assert lab.connects(VA_VPN, "va-pacs", 443), "the lab's flush did not open the firewall"
    lab.nft("-f", boot)
    assert not lab.connects(VA_VPN, "va-pacs", 443), "the persisted boot ruleset lets the isolated vendor in"
    assert lab.connects(VB_BASTION, "vb-lab", 443), "the persisted boot ruleset cut another vendor"
    assert "vw-isolate va entry va-vpn" in lab.nft("list", "set", "inet", "vendorwall_state", "quarantine")
    # a reboot without the boot file (empty ruleset), then a redeploy: the policy itself carries the quarantine
    lab.nft("flush", "ruleset")
    assert [str(r.error) for r in lab.deploy() if r.error] == []
    assert "10.200.0.0/27" not in lab.nft("list", "set", "inet", "vendorwall_state", "quarantine")
    assert not lab.connects(VA_VPN, "va-pacs", 443), "a redeploy after a flush re-opened the isolated vendor"
    assert lab.connects(VB_BASTION, "vb-lab", 443)


def test_02_a_rolled_back_deploy_keeps_the_isolation(lab):
    lab.write(new_pool=False)
    lab.nft("flush", "ruleset")
    lab.isolate("va")  # recorded (the firewall has no state table yet: reported, the record stands)
    assert [str(r.error) for r in lab.deploy() if r.error] == []
    assert not lab.connects(VA_VPN, "va-pacs", 443)

    def break_it(s) -> None:  # what the operator changed by hand on the device during the push
        s.run("nft add rule inet vendorwall input counter")

    lab.write(new_pool=True)  # a change to deploy
    res = lab.deploy(after_apply=break_it)
    failed = [r for r in res if r.error]
    assert failed and isinstance(failed[0].error, VerifyError) and failed[0].rolled_back
    assert not lab.connects(VA_VPN, "va-pacs", 443), "the rollback re-opened the isolated vendor"
    assert lab.connects(VB_BASTION, "vb-lab", 443)


def test_03_a_new_pool_of_an_isolated_vendor_is_cut_by_the_deploy_that_adds_it(lab):
    lab.write(new_pool=False)
    lab.forget()
    assert [str(r.error) for r in lab.deploy() if r.error] == []
    r = lab.isolate("va")
    assert r.exit_code == 0, r.report()
    lab.write(new_pool=True)  # the vendor gets a new VPN pool: the manifest of the isolation never knew it
    assert [str(r.error) for r in lab.deploy() if r.error] == []
    assert NEW_POOL in lab.nft("list", "set", "inet", "vendorwall", "vendor_src")  # an allowed source now...
    assert not lab.connects(NEW_POOL, "va-pacs", 443), "the new pool of an isolated vendor gets in"
    assert not lab.connects(VA_VPN, "va-pacs", 443)
    # restore lifts it everywhere (by identity: the new pool too), the record forgets the vendor
    r = lab.isolate("va", "restore")
    assert r.exit_code == 0, r.report()
    assert lab.connects(NEW_POOL, "va-pacs", 443) and lab.connects(VA_VPN, "va-pacs", 443)
    assert "va" not in isolated.read_for(lab.root)
    quarantine = (Path(lab.remote_dir) / "quarantine.nft").read_text()
    assert "vw-isolate va" not in quarantine  # the boot snapshot follows the restore


def test_04_strings_that_would_break_a_script_run_nothing_on_the_firewall(lab, tmp_path):
    """A tampered manifest (a name with a newline and the old heredoc terminator, shell metacharacters):
    the manifest is refused; and even handed to the device, the agent takes it as data and runs nothing."""
    lab.write(new_pool=False)
    lab.forget()
    assert [str(r.error) for r in lab.deploy() if r.error] == []
    marker = f"/tmp/vw-pwned-{os.getpid()}"
    evil = f"x\n__VW_EOF\ntouch {marker}\n__VW_EOF"
    m = lab.manifest()
    data = manifest.build_manifest(lab.model())
    data["vendors"]["va"]["entry_paths"][0]["name"] = evil
    bad = tmp_path / "manifest.json"
    bad.write_text(manifest.dumps(data))  # re-indexed, sha256s recomputed: only the schema can tell
    from vendorwall.errors import VendorwallError

    with pytest.raises(VendorwallError) as exc:
        manifest.load(str(bad)).vendors["va"]
    assert "entry_paths[0].name" in exc.value.render()
    # bypass the manifest: the plan carries the strings straight to the firewall
    good = actions.plan(m, "va")
    e = good.elements[0]
    evil_plan = actions.Plan("isolate", ["va"], "access",
                             [actions.Element(e.prefix, "va", "entry", evil),
                              actions.Element(e.prefix, f"va$(touch {marker})", "entry", "p")],
                             [], [], [], [], [lab.fw])
    [t] = run.lab_targets(m, lab.state.lab_dir)
    res = run.run_device(t, evil_plan)
    assert res.failed and "not allowed" in res.error
    assert not os.path.exists(marker)
    assert "10.200.0.0" not in lab.nft("list", "set", "inet", "vendorwall_state", "quarantine")


def test_05_an_operators_grant_survives_lab_test_and_isolate_lab_dir(lab, tmp_path):
    lab.write(new_pool=True)  # 'lab test' probes the inventory the lab was built from
    assert [str(r.error) for r in lab.deploy() if r.error] == []
    model = lab.model()
    req = policy.Request("vc", "vc-robot", "OPS-77", "alice@chu.example", "owner@vc.example", "2h")
    out = grants.open_grant(model, req, devices.ConnOptions(lab_dir=lab.state.lab_dir), str(tmp_path / "a.jsonl"),
                            today=dt.date.fromisoformat(lab.state.now))
    assert out.exit == 0, out.lines
    gid = out.data["grant"]

    def live() -> list:
        return [x for x in grants.read_live(model, devices.ConnOptions(lab_dir=lab.state.lab_dir))[0].get(gid,
                grants.LiveGrant(gid, "", [])).elements]

    before = live()
    assert before and all(x.comment.startswith(f"vwgrant={gid}") for x in before)
    report = probe.run(lab.state, sample=5, timeout=0.5)
    print(report.text())
    assert report.mismatches == []
    after = live()
    assert [x.key for x in after] == [x.key for x in before], "lab test removed the operator's grant"
    assert all(x.comment == before[0].comment and (x.expires or 0) > 3600 for x in after), \
        "lab test reset the operator's grant (timeout or comment)"
    # isolate and restore with the lab's probes (test grants for the isolated vendor's on-demand flows)
    m = lab.manifest()
    p = actions.plan(m, "vc", "access", "isolate")
    r = run.execute(m, p, run.lab_targets(m, lab.state.lab_dir), reason="lab", accounts=False,
                    lab_dir=lab.state.lab_dir)
    print(r.report())
    assert r.lab is not None and r.lab["mismatches"] == []
    now = live()
    assert [x.key for x in now] == [x.key for x in before], "isolate --lab-dir removed the operator's grant"
    assert all(x.comment == before[0].comment and (x.expires or 0) > 3600 for x in now)
    # the restore revokes it (test_09), and its lab probes (test grants of their own) still pass
    p = actions.plan(m, "vc", "access", "restore")
    r = run.execute(m, p, run.lab_targets(m, lab.state.lab_dir), reason="lab", accounts=False,
                    lab_dir=lab.state.lab_dir)
    print(r.report())
    assert r.lab is not None and r.lab["mismatches"] == []
    assert live() == []


VC_VPN = "10.200.1.0/27"


def test_09_a_grant_opened_before_an_isolation_does_not_come_back_with_the_restore(lab, tmp_path):
    """A grant approved before the incident was held back by the quarantine, then came back with the
    restore, with no new approval (the vendor reached the system again). The restore revokes the vendor's
    grants in the transaction that lifts the quarantine, says so, and closes them in the access journal."""
    lab.forget()
    lab.write(new_pool=False)
    assert [str(r.error) for r in lab.deploy() if r.error] == []
    model = lab.model()
    opts = devices.ConnOptions(lab_dir=lab.state.lab_dir)
    req = policy.Request("vc", "vc-robot", "OPS-78", "alice@chu.example", "owner@vc.example", "2h")
    access_journal = StateDir.for_inventory(lab.root).journal("access")
    out = grants.open_grant(model, req, opts, access_journal, today=dt.date.fromisoformat(lab.state.now))
    assert out.exit == 0, out.lines
    gid = out.data["grant"]
    assert lab.connects(VC_VPN, "vc-robot", 22)
    other = grants.open_grant(model, policy.Request("va", "va-pacs", "OPS-79", "alice@chu.example",
                                                    "owner@va.example", "2h"), opts, str(tmp_path / "other.jsonl"),
                              today=dt.date.fromisoformat(lab.state.now))
    r = lab.isolate("vc")
    assert r.exit_code == 0
    assert not lab.connects(VC_VPN, "vc-robot", 22)
    journal_path = StateDir.for_inventory(lab.root).journal("incident")
    m = lab.manifest()
    r = run.execute(m, actions.plan(m, "vc", "access", "restore"), run.lab_targets(m, lab.state.lab_dir),
                    reason="lab restore", ticket="INC-LAB", journal_path=journal_path, accounts=False,
                    isolation_path=StateDir.for_inventory(lab.root).isolation_file, access_journal=access_journal)
    text = r.report()
    print(text)
    assert r.exit_code == 0
    assert not lab.connects(VC_VPN, "vc-robot", 22), "the grant opened before the isolation came back"
    assert [c for res in r.results for c in res.revoked] and all(
        c.startswith(f"vwgrant={gid} vc/vc-robot") for res in r.results for c in res.revoked)
    assert "grant element(s) revoked" in text
    live = grants.read_live(model, opts)[0]
    assert gid not in live
    if other.exit == 0:  # another vendor's grant is not touched
        assert other.data["grant"] in live
    from vendorwall import journal

    entries = [e for e in journal.read(access_journal) if e.get("grant") == gid]
    assert entries and entries[-1]["event"] == "closed" and "revoked by the restore" in entries[-1]["reason"]


def test_06_deploy_refuses_without_a_readable_isolation_record(lab):
    lab.write(new_pool=False)
    path = StateDir.for_inventory(lab.root).isolation_file
    with open(path, "w") as fh:
        fh.write("{damaged")
    with pytest.raises(isolated.IsolationStateError):
        lab.deploy()
    os.unlink(path)


def test_07_a_lost_or_edited_isolation_record_never_lets_a_deploy_reopen_the_vendor(lab):
    """The record is the controller's; the firewall knows who it keeps isolated. After a flush and a
    redeploy the policy's render-time set is the only quarantine on the firewall; a deploy from a controller
    whose record is lost or edited then re-opened the vendor (main), silently. It now refuses that device."""
    lab.write(new_pool=False)
    lab.forget()
    assert [str(r.error) for r in lab.deploy() if r.error] == []
    r = lab.isolate("va")
    assert r.exit_code == 0, r.report()
    lab.nft("flush", "ruleset")
    assert [str(r.error) for r in lab.deploy() if r.error] == []
    assert "10.200.0.0/27" not in lab.nft("list", "set", "inet", "vendorwall_state", "quarantine")
    assert not lab.connects(VA_VPN, "va-pacs", 443)
    path = StateDir.for_inventory(lab.root).isolation_file
    kept = Path(path).read_text()
    try:
        Path(path).write_text('{"version": 1, "vendors": {}}')  # lost (another controller) or edited
        lab.write(new_pool=True)  # and some change to deploy
        failed = [r for r in lab.deploy() if r.error]
        assert [r.device for r in failed] == [lab.fw]
        assert "keeps va isolated" in str(failed[0].error) and "nothing was changed" in str(failed[0].error)
        assert not lab.connects(VA_VPN, "va-pacs", 443), "a deploy without the isolation record re-opened the vendor"
        assert lab.connects(VB_BASTION, "vb-lab", 443)
    finally:
        Path(path).write_text(kept)
    lab.write(new_pool=False)
    assert [str(r.error) for r in lab.deploy() if r.error] == []
    r = lab.isolate("va", "restore")  # lifting is restore's job: then a deploy goes through
    assert r.exit_code == 0, r.report()
    assert [str(r.error) for r in lab.deploy() if r.error] == []
    assert lab.connects(VA_VPN, "va-pacs", 443)


def test_08_renaming_an_isolated_vendor_never_reopens_it_removing_it_may_lift_it(lab):
    """The quarantine follows the vendor's name: renamed while isolated, its entry paths were rendered open
    under the new name and the deploy re-opened them (main). A deploy now refuses while they are still a
    vendor's source; a vendor removed from the inventory leaves nothing to re-open, and the deploy goes on."""
    lab.write(new_pool=False)
    lab.forget()
    assert [str(r.error) for r in lab.deploy() if r.error] == []
    r = lab.isolate("va")
    assert r.exit_code == 0, r.report()
    lab.nft("flush", "ruleset")  # the live quarantine lost: the policy's render-time set is the only one
    assert [str(r.error) for r in lab.deploy() if r.error] == []
    assert not lab.connects(VA_VPN, "va-pacs", 443)
    renamed = _inventory(False)
    renamed["vendors"]["va-group"] = renamed["vendors"].pop("va")
    write_inventory(renamed, lab.root)
    failed = [r for r in lab.deploy() if r.error]
    assert [r.device for r in failed] == [lab.fw] and "keeps va isolated" in str(failed[0].error)
    assert not lab.connects(VA_VPN, "va-pacs", 443), "renaming an isolated vendor re-opened it"
    assert lab.connects(VB_BASTION, "vb-lab", 443)
    removed = _inventory(False)
    del removed["vendors"]["va"]
    write_inventory(removed, lab.root)
    assert [str(r.error) for r in lab.deploy() if r.error] == []  # nothing of va's is a vendor source now
    assert lab.connects(VB_BASTION, "vb-lab", 443)  # (va-pacs left with its vendor)
