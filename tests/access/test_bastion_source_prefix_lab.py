"""Per-vendor source rules on a bastion, for sources that are not one /32 (bastion lab: its own sshd,
private /etc and /home, real SSH logins, real sockets).

A vendor whose bastion source is a prefix (a /29 the bastion holds a few addresses of) or several addresses
has no one address to rewrite its unbound traffic to. Its unbound traffic left from the bastion's own
address (on main: its management address, which every firewall's input chain accepts, and which no
isolation ever quarantines). Now refused: a vendor account sends only from its vendor's sources.
"""

from __future__ import annotations

import datetime as dt
import os

import labsupport
import pytest
from test_bastion_security_lab import PORT, TARGET, Listener
from vendorwall_testlib import base_inventory, write_inventory

from vendorwall import pipeline
from vendorwall.access import accounts, devices

pytestmark = pytest.mark.lab

PREFIX = f"vwsp{os.getpid() % 4096:03x}-"
VA = ("va.tech", "10.249.0.9")  # va's source is 10.249.0.8/29: the bastion holds 10.249.0.9
VB = ("vb.tech", "10.249.0.2")  # vb's source is one /32: unbound traffic is rewritten to it
PROBE = f"""
import socket, sys
for src in sys.argv[1:]:
    c = socket.socket()
    c.settimeout(3)
    try:
        if src != "-":
            c.bind((src, 0))
        c.connect(("{TARGET}", {PORT}))
        print(src, "seen-as", c.recv(64).decode())
    except OSError as exc:
        print(src, "refused", type(exc).__name__)
    finally:
        c.close()
"""


@pytest.fixture(scope="module")
def plab(tmp_path_factory):
    reason = labsupport.lab_available("useradd", "pkill")
    if reason:
        pytest.skip(reason)
    from vendorwall.lab import bastion, netns

    base = tmp_path_factory.mktemp("bastion-prefix")
    inv = base_inventory(1)
    inv["vendors"]["va"]["entry_paths"][0]["source"] = "10.249.0.8/29"
    root = str(write_inventory(inv, base / "inv"))
    today = dt.datetime.now(dt.UTC).date()
    model = pipeline.run(root, today, check_lock=False, do_render=False).model
    keys = base / "keys"
    keys.mkdir()
    kmap = labsupport.account_keys(model, str(keys))
    lab_dir = str(base / "lab")
    state = None
    try:
        state = bastion.up(lab_dir, {"bst-1": [VA[1], VB[1]]}, PREFIX)
        out = accounts.enforce(model, ["bst-1"], devices.ConnOptions(lab_dir=state.lab_dir, command_timeout=120),
                               kmap, check=False)
        print("\n".join(out.lines))
        assert out.exit == 0, out.lines
        yield state, str(keys)
    finally:
        bastion.down(lab_dir, PREFIX)
        assert not [n for n in netns.list_netns() if n.startswith(PREFIX)]
        if state is not None:
            assert bastion.host_files_unchanged(state) == [], "the host's account files changed"


def _probe(state, keys: str, account: str, sources: list[str]) -> dict[str, str]:
    import shlex

    from vendorwall.lab import bastion

    rc, out = bastion.run_as(state, "bst-1", account, os.path.join(keys, account),
                             f"python3 -c {shlex.quote(PROBE)} {' '.join(sources)}", timeout=30)
    assert rc == 0, out
    return {ln.split()[0]: " ".join(ln.split()[1:]) for ln in out.splitlines() if ln.strip()}


def test_a_vendor_with_a_source_prefix_sends_only_from_it(plab):
    state, keys = plab
    lst = Listener(state.bastions["bst-1"]["netns"])
    try:
        got = _probe(state, keys, VA[0], ["-", VA[1], VB[1], TARGET])
        print(VA[0], got)
        assert got[VA[1]] == f"seen-as {VA[1]}", got
        assert got[VB[1]].startswith("refused"), f"sent from another vendor's address: {got}"
        assert got["-"].startswith("refused"), f"unbound traffic left from an address not its vendor's: {got}"
        assert got[TARGET].startswith("refused"), f"sent from the bastion's own address: {got}"
        got = _probe(state, keys, VB[0], ["-", VB[1], VA[1]])  # the /32 vendor: rewritten, as before
        print(VB[0], got)
        assert got["-"] == f"seen-as {VB[1]}" and got[VB[1]] == f"seen-as {VB[1]}", got
        assert got[VA[1]].startswith("refused"), got
        assert set(lst.seen) == {VA[1], VB[1]}
    finally:
        lst.close()
