"""Vendor accounts on a lab bastion (its own sshd under ``unshare --mount`` with a private /etc, /home,
/var/log and /var/lib/vendorwall): enforcement creates, updates and removes only the accounts the bastion's
registry says vendorwall created (tests/access/test_accounts_ownership_lab.py: same-name accounts); real
SSH logins; an expired account cannot log in; the review locks idle and expired accounts, from last logins
a vendor cannot forge; this machine's account files never change."""

from __future__ import annotations

import datetime as dt
import os
import subprocess

import pytest

from vendorwall.access import accounts, devices
from vendorwall.isolate import transport

pytestmark = pytest.mark.lab

TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture(scope="module")
def bastion_lab(tmp_path_factory, example_result, lab_skip_reason):
    from vendorwall.lab import bastion, netns

    reason = lab_skip_reason
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("bastion")
    lab_dir = str(base / "lab")
    prefix = f"vwb{os.getpid() % 4096:03x}-"
    keys = base / "keys"
    keys.mkdir()
    for v in example_result.inventory.vendors.values():
        for a in v.accounts:
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / a.id)], check=True)
    try:
        state = bastion.up(lab_dir, {"bst-1": ["10.249.0.101"], "bst-2": []}, prefix)
        yield state, str(keys)
    finally:
        bastion.down(lab_dir, prefix)
        assert not [n for n in netns.list_netns() if n.startswith(prefix)]
        assert bastion.host_files_unchanged(state) == [], "the host's account files changed"


def sh(state, script: str, b: str = "bst-1") -> str:
    from vendorwall.deploy.session import Target
    from vendorwall.devices.target import HostKeys
    from vendorwall.lab import netns

    ns = state.bastions[b]["netns"]
    t = Target(b, "linux", "127.0.0.1", key_file=state.ssh_key, command_timeout=120,
               sock_factory=lambda h, p, to: netns.connect_in(ns, h, p, to),
               host_keys=HostKeys((state.known_hosts,), user_files=False, alias=b))
    return transport.run_script(t, script).stdout


def test_enforce_login_expiry_review(bastion_lab, example_result):
    from vendorwall.lab import bastion

    state, keys = bastion_lab
    model = example_result.model
    o = devices.ConnOptions(lab_dir=state.lab_dir, command_timeout=120)
    kmap = {}
    for f in os.listdir(keys):
        if f.endswith(".pub"):
            with open(os.path.join(keys, f)) as fh:
                kmap[f[:-4]] = fh.read()
    sh(state, "useradd -c 'local admin' localadm; useradd -c 'vendorwall/gone/Old Timer' -e 2027-01-01 old.vendor\n")
    out = accounts.enforce(model, ["bst-1", "bst-2"], o, kmap, check=False)
    print("\n".join(out.lines))
    assert out.exit == 0
    want = {w.account.id for w in accounts.wanted(model)[0]["bst-1"]}
    assert set(out.data["bastions"]["bst-1"]["accounts"]) == want and "acme.jmartin" in want
    # old.vendor carries a vendorwall-looking GECOS tag, but vendorwall did not create it: not removed
    assert out.data["bastions"]["bst-1"]["removed"] == []
    assert "old.vendor:" in sh(state, "getent passwd old.vendor\n"), "a hand-made tagged account was removed"
    assert "localadm:" in sh(state, "getent passwd localadm\n"), "a non-vendorwall account was touched"
    assert subprocess.run(["getent", "passwd", "acme.jmartin"], capture_output=True).returncode == 2, \
        "the account leaked into this machine's /etc/passwd"
    again = accounts.enforce(model, ["bst-1"], o, kmap, check=False)
    assert again.data["bastions"]["bst-1"]["created"] == [] and again.data["bastions"]["bst-1"]["removed"] == []
    assert 'expiry-time="20270831"' in sh(state, "cat /home/acme.jmartin/.ssh/authorized_keys\n")
    # real logins
    ok, who = bastion.login(state, "bst-1", "acme.jmartin", os.path.join(keys, "acme.jmartin"))
    assert ok, who
    # the expiry date passes (the bastion's clock cannot move: the account's expiry is set in the past)
    sh(state, "usermod --expiredate 2020-01-01 acme.snguyen\n")
    ok, _why = bastion.login(state, "bst-1", "acme.snguyen", os.path.join(keys, "acme.snguyen"))
    assert not ok, "an expired account logged in"
    # review: acme.plefevre (created 2026-02-15, never logged in) is idle; acme.snguyen past expiry;
    # acme.jmartin just logged in: neither idle nor locked
    rev = accounts.review(model, ["bst-1"], o, os.path.join(state.lab_dir, "review"), False, TODAY)
    print("\n".join(rev.lines))
    rows = {r["account"]: r for r in rev.data["accounts"]}
    assert rows["acme.jmartin"]["last_login"] != "never" and not rows["acme.jmartin"]["locked"]
    assert "past expiry" in rows["acme.snguyen"]["lock_reasons"] and rows["acme.snguyen"]["locked"]
    if (TODAY - dt.date(2026, 2, 15)).days > 90:
        assert any(x.startswith("idle") for x in rows["acme.plefevre"]["lock_reasons"])
        ok, _ = bastion.login(state, "bst-1", "acme.plefevre", os.path.join(keys, "acme.plefevre"))
        assert not ok, "an idle account locked by the review still logs in"
    shadow = sh(state, "getent shadow acme.plefevre acme.snguyen acme.jmartin\n")
    assert "acme.snguyen:!" in shadow and "acme.jmartin:*" in shadow
    with open(rev.data["report"]) as fh:
        report = fh.read()
    assert "## acme-imaging" in report and "### Idle" in report and "### Without owner" in report


def test_review_and_accounts_playbooks(bastion_lab, tmp_path):
    import shutil
    import sys
    from pathlib import Path

    state, keys = bastion_lab
    root = Path(__file__).resolve().parents[2]
    tool = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable)) or shutil.which("ansible-playbook")
    if not tool:
        pytest.skip("ansible-playbook not found")
    env = {**os.environ, "ANSIBLE_CONFIG": str(root / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    for pb, extra in (("accounts.yml", ["-e", f"vendorwall_keys_dir={keys}"]),
                      ("review.yml", ["-e", f"vendorwall_review_out={tmp_path}"])):
        p = subprocess.run([tool, "-i", str(root / "inventories" / "example"), str(root / "playbooks" / pb),
                            "-e", f"vendorwall_lab_dir={state.lab_dir}", "-e", '{"bastions": ["bst-1"]}', *extra],
                           cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False)
        print(p.stdout[-2500:], p.stderr[-1500:])
        assert p.returncode == 0, pb
    assert any(f.name.startswith("account-review-") for f in tmp_path.iterdir())
