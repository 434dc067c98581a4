"""Isolation on the access path: the vendor's bastion accounts disabled and their live SSH sessions ended,
in the same run (and thread pool) as the firewalls; restore re-enables them; an unreachable bastion is
named, the firewalls are isolated all the same. Units (recorded output) and a lab (marked lab; root):
the example inventory's firewall lab plus a bastion namespace (vendorwall.lab.bastion: its own sshd in a
private mount namespace with private /etc, /home, /var/log), the host's account files checked unchanged."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import time

import labsupport
import pytest

from vendorwall.isolate import actions, bastions, manifest, run

HERE = os.path.dirname(__file__)
INVENTORY = os.path.abspath(os.path.join(HERE, "..", "..", "inventories", "example"))
VENDOR = "acme-imaging"  # accounts on bst-1
OTHER = "appelia"  # accounts on bst-2, which the lab does not start: unreachable
LAB_ID = "ib" + format(os.getpid() % 4096, "03x")
BPREFIX = f"vwbi{os.getpid() % 4096:03x}-"


# --------------------------------------------------------------------------- units


def _manifest(tmp_path, example_result) -> manifest.Manifest:
    path = str(tmp_path / "manifest.json")
    manifest.write_manifest(path, example_result.model)
    return manifest.load(path)


def test_plan_names_the_bastions_of_the_vendors_accounts(tmp_path, example_result):
    m = _manifest(tmp_path, example_result)
    bp = bastions.plan(m, [VENDOR])
    assert [b.bastion for b in bp] == ["bst-1"] and bp[0].vendors == [VENDOR]
    assert {a.id for a in bp[0].accounts} == {a.id for a in m.vendors[VENDOR].accounts}
    assert all(a.expires for a in bp[0].accounts)
    every = bastions.plan(m, actions.select_vendors(m, "all"))
    assert [b.bastion for b in every] == ["bst-1", "bst-2"]
    assert bastions.plan(m, ["anestra"]) == []  # VPN-only: no bastion
    assert bastions.plan(m, [VENDOR]) == bp  # deterministic


def test_requests_carry_data_only(tmp_path, example_result):
    m = _manifest(tmp_path, example_result)
    bp = bastions.plan(m, [VENDOR])[0]
    iso = bastions.request(bp, "isolate", False)
    assert iso == {"op": "lock", "isolate": True, "check": False, "vendors": [VENDOR],
                   "ids": sorted(a.id for a in bp.accounts)}
    res = bastions.request(bp, "restore", False)
    assert res["op"] == "unlock"
    assert {"id": "acme.jmartin", "vendor": VENDOR, "expires": "2027-08-31"} in res["accounts"]
    assert bastions.request(bp, "isolate", True)["check"] is True
    json.dumps(iso)  # JSON data, nothing else


def _acc(id_: str, action: str, rc: int, l1: bool, e1: str, p1: int, l2: bool, e2: str, left: int,
         was_locked: bool | None = False) -> dict:
    rec = None if was_locked is None else {"was_locked": was_locked, "expire": e1, "at": 1}
    return {"id": id_, "vendor": VENDOR, "action": action, "rc": rc, "locked_before": l1, "expire_before": e1,
            "processes_before": p1, "locked_after": l2, "expire_after": e2, "processes_left": left, "record": rec}


def test_evaluate_isolate_restore_and_a_survivor(tmp_path, example_result):
    m = _manifest(tmp_path, example_result)
    bp = bastions.plan(m, [VENDOR])[0]
    ids = [a.id for a in bp.accounts]
    ans = {"ok": True, "t0": 1.0, "t1": 2.5, "foreign": [{"id": ids[2], "uid": 1001, "why": "not created"}],
           "accounts": [_acc(ids[0], "disable", 0, False, "20696", 3, True, "1", 0),
                        _acc(ids[1], "disable", 0, False, "20696", 0, True, "1", 2)]}
    r = bastions.evaluate(bp, "isolate", False, ans, bastions.BastionResult("bst-1", "linux", "h", [VENDOR]))
    assert r.status == "failed" and r.bad == [ids[1]] and r.not_managed == [ids[2]] and r.device_t1 == 2.5
    assert "usermod --lock --expiredate 1" in r.error and r.sessions_ended == 3
    assert any("vendorwall did not create" in n and ids[2] in n for n in r.notes)
    exp = str((dt.date.fromisoformat(bp.accounts[0].expires) - dt.date(1970, 1, 1)).days)
    ans = {"ok": True, "accounts": [_acc(ids[0], "enable", 0, True, "1", 0, False, exp, 0),
                                    _acc(ids[1], "norecord", 0, True, "1", 0, True, "1", 0, None)]}
    r = bastions.evaluate(bp, "restore", False, ans, bastions.BastionResult("bst-1", "linux", "h", [VENDOR]))
    assert r.status == "restored", r.error
    assert any("not by a vendorwall isolation" in n for n in r.notes)
    r = bastions.evaluate(bp, "isolate", False, {"ok": False, "error": "boom"},
                          bastions.BastionResult("bst-1", "linux", "h", [VENDOR]))
    assert r.failed and "did not finish" in r.error and "boom" in r.error


# --------------------------------------------------------------------------- lab


def _sha(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


class BLab:
    def __init__(self, state, bstate, model, manifest_path: str, journal: str, keys: str):
        self.state, self.bstate, self.model = state, bstate, model
        self.manifest_path, self.journal, self.keys = manifest_path, journal, keys

    @property
    def lab_dir(self) -> str:
        return self.state.lab_dir

    def key(self, account: str) -> str:
        return os.path.join(self.keys, account)


@pytest.fixture(scope="module")
def blab(tmp_path_factory):
    reason = labsupport.lab_available("usermod", "pkill")
    if reason:
        pytest.skip(reason)
    from vendorwall import pipeline
    from vendorwall.access import accounts, devices
    from vendorwall.lab import bastion, netns, runner

    host = {p: _sha(p) for p in ("/etc/passwd", "/etc/shadow")}
    base = tmp_path_factory.mktemp("isobastion")
    lab_dir = str(base / "lab")
    prefix = f"vw{LAB_ID}-"
    keys = base / "keys"
    keys.mkdir()
    bstate = None
    try:
        state = runner.up(INVENTORY, lab_dir=lab_dir, lab_id=LAB_ID, now=None)
        model = pipeline.run(INVENTORY, dt.date.fromisoformat(state.now), check_lock=False, do_render=False).model
        mpath = str(base / "build" / "example" / "manifest.json")
        manifest.write_manifest(mpath, model)
        results = runner.deploy(state, confirm_s=60)
        assert [str(r.error) for r in results if r.error] == []
        bstate = bastion.up(lab_dir, {"bst-1": []}, BPREFIX)  # bst-2 is not started: unreachable
        kmap = {}
        for v in model.inventory.vendors.values():
            for a in v.accounts:
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / a.id)], check=True)
                kmap[a.id] = (keys / f"{a.id}.pub").read_text()
        o = devices.ConnOptions(lab_dir=lab_dir, command_timeout=120)
        out = accounts.enforce(model, ["bst-1"], o, kmap, check=False)
        assert out.exit == 0, out.lines
        yield BLab(state, bstate, model, mpath, str(base / "build" / "example" / "incident-journal.jsonl"), str(keys))
    finally:
        if bstate is not None:
            bastion.down(lab_dir, BPREFIX)
        runner.down(lab_dir, prefix)
        left = [n for n in netns.list_netns() if n.startswith(prefix) or n.startswith(BPREFIX)]
        assert not left, f"namespaces left behind: {left}"
        if bstate is not None:
            assert bastion.host_files_unchanged(bstate) == [], "the host's account files changed"
        assert {p: _sha(p) for p in host} == host, "the host's /etc/passwd or /etc/shadow changed"


def _execute(lab: BLab, vendor: str = VENDOR, action: str = "isolate", check: bool = False) -> run.Run:
    m = manifest.load(lab.manifest_path)
    p = actions.plan(m, vendor, "access", action, check=check)
    tg = run.lab_targets(m, lab.lab_dir, connect_timeout=2.0)
    bt = run.lab_bastion_targets(m, lab.lab_dir, sorted(m.bastions), connect_timeout=2.0)
    r = run.execute(m, p, tg, reason=f"lab test {action} {vendor} bastions", ticket="LAB-6B",
                    journal_path=lab.journal, bastion_targets=bt)
    print(r.report())
    return r


class Session:
    """A vendor logged in over SSH to the bastion, running a long command (a live session)."""

    def __init__(self, lab: BLab, account: str):
        import paramiko

        from vendorwall.lab import netns

        b = lab.bstate.bastions["bst-1"]
        self.sock = netns.connect_in(b["netns"], "127.0.0.1", 22, 5)
        self.client = paramiko.SSHClient()
        self.client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        self.client.connect("127.0.0.1", username=account, pkey=paramiko.PKey.from_path(lab.key(account)),
                            sock=self.sock, timeout=5, banner_timeout=5, auth_timeout=5, allow_agent=False,
                            look_for_keys=False)
        self.chan = self.client.get_transport().open_session()
        self.chan.exec_command("echo up; exec sleep 600")
        self.chan.settimeout(5)
        assert self.chan.recv(16).startswith(b"up")

    def ended_within(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.chan.exit_status_ready() or self.chan.closed or not self.client.get_transport().is_active():
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self.client.close()
        self.sock.close()


def _shadow(lab: BLab, account: str) -> str:
    from vendorwall.access import devices

    tg = devices.targets(lab.model.inventory, ["bst-1"], devices.ConnOptions(lab_dir=lab.lab_dir))[0]
    from vendorwall.isolate import transport

    return transport.run_script(tg, f"getent shadow {account}; pgrep -u {account} | wc -l\n").stdout


@pytest.mark.lab
def test_lab_check_lists_the_accounts_and_changes_nothing(blab):
    from vendorwall.lab import bastion

    s = Session(blab, "acme.jmartin")
    try:
        before = _shadow(blab, "acme.jmartin")
        r = _execute(blab, check=True)
        assert r.exit_code == 0 and [b.status for b in r.bastions] == ["checked"]
        report = r.report()
        assert "acme.jmartin (acme-imaging): active" in report and "would be disabled and its sessions ended" in report
        assert "accounts would be disabled" in report
        assert _shadow(blab, "acme.jmartin") == before and not s.ended_within(0.3)
    finally:
        s.close()
    assert bastion.login(blab.bstate, "bst-1", "acme.jmartin", blab.key("acme.jmartin"))[0]


@pytest.mark.lab
def test_lab_isolate_ends_the_session_and_locks_out_then_restore_lets_it_back(blab):
    from vendorwall.lab import bastion

    assert bastion.login(blab.bstate, "bst-1", "acme.jmartin", blab.key("acme.jmartin"))[0]
    s = Session(blab, "acme.jmartin")
    try:
        t = time.monotonic()
        r = _execute(blab)
        took = time.monotonic() - t
        assert r.exit_code == 0, r.report()
        b = r.bastions[0]
        assert b.device == "bst-1" and b.status == "disabled" and b.sessions_ended >= 1
        assert {a.id for a in b.accounts} == {a.id for a in manifest.load(blab.manifest_path).vendors[VENDOR].accounts}
        assert all(x.status == "isolated" for x in r.results)
        assert s.ended_within(3), "the vendor's live SSH session survived the isolation"
        print(f"FIGURES isolate with bastion: firewalls +{r.all_done_seconds:.3f} s, everything "
              f"+{r.everything_done_seconds:.3f} s, bastion {b.seconds:.3f} s, call {took:.3f} s")
    finally:
        s.close()
    ok, why = bastion.login(blab.bstate, "bst-1", "acme.jmartin", blab.key("acme.jmartin"))
    assert not ok, f"a disabled account logged in: {why}"
    assert "acme.jmartin:!" in _shadow(blab, "acme.jmartin")
    # idempotent: a rerun changes nothing and keeps the first isolation record
    again = _execute(blab)
    assert again.exit_code == 0 and not again.bastions[0].changed
    assert all("was_locked=0" in a.record for a in again.bastions[0].accounts)
    # the journal carries the bastion's result
    with open(blab.journal) as fh:
        last = json.loads(fh.readlines()[-1])
    assert last["bastions"]["bst-1"]["result"] == "disabled" and last["failed_bastions"] == []
    # restore: unlocked, the manifest's expiry back, logs in again
    r = _execute(blab, action="restore")
    assert r.exit_code == 0 and r.bastions[0].status == "restored", r.report()
    ok, why = bastion.login(blab.bstate, "bst-1", "acme.jmartin", blab.key("acme.jmartin"))
    assert ok, why
    exp = (dt.date(2027, 8, 31) - dt.date(1970, 1, 1)).days
    line = _shadow(blab, "acme.jmartin").splitlines()[0].split(":")
    assert not line[1].startswith("!") and line[7] == str(exp)


@pytest.mark.lab
def test_lab_restore_keeps_an_account_locked_before_the_isolation_locked(blab):
    from vendorwall.access import devices
    from vendorwall.isolate import transport
    from vendorwall.lab import bastion

    tg = devices.targets(blab.model.inventory, ["bst-1"], devices.ConnOptions(lab_dir=blab.lab_dir))[0]
    transport.run_script(tg, "usermod --lock acme.plefevre\n")  # as the account review does for an idle one
    assert _execute(blab).exit_code == 0
    r = _execute(blab, action="restore")
    assert r.exit_code == 0
    assert any("acme.plefevre: was already locked" in n for n in r.bastions[0].notes)
    assert not bastion.login(blab.bstate, "bst-1", "acme.plefevre", blab.key("acme.plefevre"))[0]
    assert bastion.login(blab.bstate, "bst-1", "acme.jmartin", blab.key("acme.jmartin"))[0]


@pytest.mark.lab
def test_lab_unreachable_bastion_named_firewalls_isolated(blab, capsys):
    from vendorwall.isolate.__main__ import main

    rc = main(["isolate", blab.manifest_path, "--vendor", OTHER, "--reason", "lab: unreachable bastion",
               "--lab-dir", blab.lab_dir, "--connect-timeout", "1", "--journal", blab.journal])
    out, err = capsys.readouterr()
    print(out, err)
    assert rc == 1
    assert "bst-2" in err and "NOT disabled" in err and "bst-2 (connect)" in out
    assert "ACCOUNTS NOT DONE on 1 of 1 bastions: bst-2 (connect)" in out
    assert "isolated on all 4 devices" in out  # the firewalls are isolated all the same
    r = _execute(blab, OTHER, action="restore")
    assert r.exit_code == 1 and not r.failed_firewalls and [b.device for b in r.failed_bastions] == ["bst-2"]
