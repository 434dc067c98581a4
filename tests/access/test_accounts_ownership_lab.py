"""Ownership of bastion accounts, in the bastion lab (its own sshd, private /etc, /home, /var/log and
/var/lib/vendorwall): vendorwall never modifies or removes an account it did not create.

- a local admin account whose name equals a vendor account id keeps its GECOS, shadow line and
  authorized_keys; the admin's key still logs in, the vendor's key does not; the report names it;
- removing that id from the inventory later does not delete it;
- a hand-made account carrying a forged ``vendorwall/...`` GECOS tag is not vendorwall's either;
- an account vendorwall created and the inventory dropped is removed (the registry, not the tag, decides).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess

import labsupport
import pytest

from vendorwall import pipeline
from vendorwall.access import accounts, devices

pytestmark = pytest.mark.lab

NOW = dt.date(2026, 11, 28)
ADMIN = "acme.jmartin"  # a vendor account id of the example inventory, pre-existing as a local admin
PREFIX = f"vwbo{os.getpid() % 4096:03x}-"


def _drop_account(inventory: str, account: str) -> None:
    path = os.path.join(inventory, "vendorwall", "vendors", "acme-imaging.yml")
    with open(path) as fh:
        lines = fh.read().split("\n")
    start = next(i for i, ln in enumerate(lines) if ln.strip() == f"- id: {account}")
    end = start + 1
    while end < len(lines) and lines[end].startswith(" " * (len(lines[start]) - len(lines[start].lstrip()) + 2)):
        end += 1
    with open(path, "w") as fh:
        fh.write("\n".join(lines[:start] + lines[end:]))


@pytest.fixture(scope="module")
def olab(tmp_path_factory):
    reason = labsupport.lab_available("useradd", "pkill")
    if reason:
        pytest.skip(reason)
    from vendorwall.lab import bastion, netns

    base = tmp_path_factory.mktemp("ownership")
    lab_dir = str(base / "lab")
    keys = base / "keys"
    keys.mkdir()
    model = pipeline.run(labsupport.EXAMPLE_INVENTORY, NOW, check_lock=False, do_render=False).model
    kmap = labsupport.account_keys(model, str(keys))
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / "admin")], check=True)
    state = None
    try:
        state = bastion.up(lab_dir, {"bst-1": []}, PREFIX)
        yield state, model, kmap, str(keys), base
    finally:
        bastion.down(lab_dir, PREFIX)
        assert not [n for n in netns.list_netns() if n.startswith(PREFIX)]
        if state is not None:
            assert bastion.host_files_unchanged(state) == [], "the host's account files changed"


def sh(state, script: str) -> str:
    from vendorwall.deploy.session import Target
    from vendorwall.devices.ssh import exec_command
    from vendorwall.devices.target import HostKeys
    from vendorwall.lab import netns

    ns = state.bastions["bst-1"]["netns"]
    t = Target("bst-1", "linux", "127.0.0.1", key_file=state.ssh_key, command_timeout=60,
               sock_factory=lambda h, p, to: netns.connect_in(ns, h, p, to),
               host_keys=HostKeys((state.known_hosts,), user_files=False, alias="bst-1"))
    return exec_command(t, "sh -s", script.encode(), label="test").stdout


def _snapshot(state, user: str) -> str:
    return sh(state, f"getent passwd {user}; getent shadow {user}; "
                     f"sha256sum /home/{user}/.ssh/authorized_keys 2>&1 | cut -c1-64\n")


def test_same_name_admin_account_untouched_and_never_removed(olab):
    from vendorwall.lab import bastion

    state, model, kmap, keys, base = olab
    with open(os.path.join(keys, "admin.pub")) as fh:
        admin_key = fh.read().strip()
    sh(state, f"useradd -m -s /bin/sh -c 'Local Admin' {ADMIN} && usermod -p '*' {ADMIN} && "
              f"mkdir -p /home/{ADMIN}/.ssh && echo '{admin_key}' > /home/{ADMIN}/.ssh/authorized_keys && "
              f"chown -R {ADMIN}: /home/{ADMIN}/.ssh && chmod 600 /home/{ADMIN}/.ssh/authorized_keys\n"
              "useradd -m -c 'vendorwall/acme-imaging/Forged Tag' forged.tag\n")
    before, forged = _snapshot(state, ADMIN), _snapshot(state, "forged.tag")
    assert "Local Admin" in before
    o = devices.ConnOptions(lab_dir=state.lab_dir, command_timeout=120)
    out = accounts.enforce(model, ["bst-1"], o, kmap, check=False)
    text = "\n".join(out.lines)
    print(text)
    assert _snapshot(state, ADMIN) == before, "a same-name account vendorwall did not create was modified"
    assert ADMIN in out.data["bastions"]["bst-1"]["not_managed"]
    assert "NOT touched" in text and ADMIN in text
    assert bastion.login(state, "bst-1", ADMIN, os.path.join(keys, "admin"))[0], "the admin's key no longer works"
    assert not bastion.login(state, "bst-1", ADMIN, os.path.join(keys, ADMIN))[0], "the vendor's key logs in"
    assert _snapshot(state, "forged.tag") == forged, "an account with a forged vendorwall tag was touched"
    # a vendorwall account the inventory keeps is there
    assert "acme.plefevre:" in sh(state, "getent passwd acme.plefevre\n")

    # the id leaves the inventory: the admin account stays; so does the forged one
    inv = str(base / "example")
    shutil.copytree(labsupport.EXAMPLE_INVENTORY, inv)
    _drop_account(inv, ADMIN)
    _drop_account(inv, "acme.plefevre")
    model2 = pipeline.run(inv, NOW, check_lock=False, do_render=False).model
    assert ADMIN not in {a.id for v in model2.inventory.vendors.values() for a in v.accounts}
    out2 = accounts.enforce(model2, ["bst-1"], o, kmap, check=False)
    print("\n".join(out2.lines))
    assert _snapshot(state, ADMIN) == before, "removing the id from the inventory touched the admin account"
    assert _snapshot(state, "forged.tag") == forged, "an account with a forged vendorwall tag was removed"
    assert bastion.login(state, "bst-1", ADMIN, os.path.join(keys, "admin"))[0]
    # ... while the account vendorwall created and the inventory dropped is gone
    assert out2.data["bastions"]["bst-1"]["removed"] == ["acme.plefevre"]
    assert sh(state, "getent passwd acme.plefevre || echo absent\n").strip() == "absent"


def test_agent_refuses_system_names_whatever_the_controller_sends(olab):
    """The agent re-checks what it receives: root, a Debian system user and a local system account
    (uid < 1000) are never created, modified or removed, even if a tampered request names them."""
    from vendorwall.devices import agents

    state, model, kmap, _keys, _base = olab
    sh(state, "useradd -r -c 'Backup service' svcbackup\n")
    before = sh(state, "getent passwd root daemon svcbackup; getent shadow root daemon svcbackup\n")
    t = devices.targets(model.inventory, ["bst-1"], devices.ConnOptions(lab_dir=state.lab_dir))[0]
    acc = [{"id": n, "vendor": "acme-imaging", "person": "X", "expires": "2027-01-01",
            "key": kmap["acme.jmartin"].strip()} for n in ("root", "daemon", "svcbackup")]
    ans = agents.run_agent(t, "accounts", {"op": "enforce", "accounts": acc})
    got = {r["id"]: (r["action"], r["detail"]) for r in ans["results"]}
    assert got["root"][0] == "refused" and got["daemon"][0] == "refused", got
    assert got["svcbackup"] == ("foreign", got["svcbackup"][1]) and "system account" in got["svcbackup"][1]
    lock = agents.run_agent(t, "accounts", {"op": "lock", "ids": ["root", "svcbackup"], "isolate": True})
    assert lock["accounts"] == [] and {f["id"] for f in lock["foreign"]} == {"root", "svcbackup"}
    adopt = agents.run_agent(t, "accounts", {"op": "adopt", "accounts": [{"id": "svcbackup",
                                                                          "vendor": "acme-imaging"}]})
    assert adopt["results"][0]["action"] == "refused"
    assert sh(state, "getent passwd root daemon svcbackup; getent shadow root daemon svcbackup\n") == before
    # a key with options or a second line never reaches authorized_keys: the request is refused whole
    from vendorwall.devices.errors import CommandError

    bad = [{"id": "acme.snguyen", "vendor": "acme-imaging", "person": "X", "expires": "2027-01-01",
            "key": 'command="sh" ' + kmap["acme.snguyen"].strip()}]
    with pytest.raises(CommandError, match="one SSH public key"):
        agents.run_agent(t, "accounts", {"op": "enforce", "accounts": bad})
    bad[0]["key"] = kmap["acme.snguyen"].strip() + "\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB attacker"
    with pytest.raises(CommandError, match="one SSH public key"):
        agents.run_agent(t, "accounts", {"op": "enforce", "accounts": bad})
