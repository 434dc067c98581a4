"""What a vendor logged in on a shared bastion can no longer do (bastion lab: its own sshd, private /etc,
/home, /var/log, /var/lib/vendorwall; real SSH logins, real sockets):

- send from another vendor's source address (bind + connect as each account): refused on the bastion by
  the per-vendor source rules (``meta skuid``); unbound traffic leaves from the vendor's own address;
- forge its last login (or a colleague's) to escape the idle lock: the review only believes what root
  writes (sshd's log, journald's trusted fields, wtmp), never a file the vendor can write.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading

import labsupport
import pytest

from vendorwall import pipeline
from vendorwall.access import accounts, devices

pytestmark = pytest.mark.lab

PREFIX = f"vwbs{os.getpid() % 4096:03x}-"
TARGET = "10.249.0.250"  # a service address on the bastion's namespace, outside every vendor's sources
PORT = 7070
# vendor -> (its account on bst-1, its bastion source address) in the example inventory
ACME = ("acme.jmartin", "10.249.0.101")
CLIMATEC = ("climatec.fleroy", "10.249.0.107")


@pytest.fixture(scope="module")
def slab(tmp_path_factory):
    reason = labsupport.lab_available("useradd", "pkill")
    if reason:
        pytest.skip(reason)
    from vendorwall.lab import bastion, netns

    base = tmp_path_factory.mktemp("bastion-security")
    lab_dir = str(base / "lab")
    keys = base / "keys"
    keys.mkdir()
    today = dt.datetime.now(dt.UTC).date()
    model = pipeline.run(labsupport.EXAMPLE_INVENTORY, today, check_lock=False, do_render=False).model
    kmap = labsupport.account_keys(model, str(keys))
    listen = sorted({str(n.network_address) for v in model.inventory.vendors.values() for p in v.entry_paths
                     if p.kind == "bastion" and p.bastion == "bst-1" for n in p.prefixes})
    state = None
    try:
        state = bastion.up(lab_dir, {"bst-1": listen}, PREFIX)
        o = devices.ConnOptions(lab_dir=state.lab_dir, command_timeout=120)
        out = accounts.enforce(model, ["bst-1"], o, kmap, check=False)
        print("\n".join(out.lines))
        assert out.exit == 0, out.lines
        yield state, model, str(keys), o, today
    finally:
        bastion.down(lab_dir, PREFIX)
        assert not [n for n in netns.list_netns() if n.startswith(PREFIX)]
        if state is not None:
            assert bastion.host_files_unchanged(state) == [], "the host's account files changed"


class Listener:
    """A TCP service in the bastion's namespace that records the source address of every connection."""

    def __init__(self, ns: str):
        from vendorwall.lab import netns

        netns.run(["ip", "netns", "exec", ns, "ip", "addr", "replace", f"{TARGET}/32", "dev", "lo"])
        self.srv = netns.socket_in(ns)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind((TARGET, PORT))
        self.srv.listen(16)
        self.seen: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                c, peer = self.srv.accept()
            except OSError:
                return
            self.seen.append(peer[0])
            c.sendall(peer[0].encode())
            c.close()

    def close(self) -> None:
        self.srv.close()


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


def _probe(state, keys: str, account: str, sources: list[str]) -> dict[str, str]:
    import shlex

    from vendorwall.lab import bastion

    rc, out = bastion.run_as(state, "bst-1", account, os.path.join(keys, account),
                             f"python3 -c {shlex.quote(PROBE)} {' '.join(sources)}", timeout=30)
    assert rc == 0, out
    return {ln.split()[0]: " ".join(ln.split()[1:]) for ln in out.splitlines() if ln.strip()}


def test_a_vendor_account_cannot_send_from_another_vendors_address(slab):
    state, _model, keys, _o, _today = slab
    lst = Listener(state.bastions["bst-1"]["netns"])
    try:
        for (me, mine), (_other, theirs) in ((ACME, CLIMATEC), (CLIMATEC, ACME)):
            got = _probe(state, keys, me, ["-", mine, theirs])
            print(me, got)
            assert got[mine] == f"seen-as {mine}", got
            assert got[theirs].startswith("refused"), f"{me} sent from another vendor's address: {got}"
            assert got["-"] == f"seen-as {mine}", f"{me}'s unbound traffic left from another address: {got}"
        assert set(lst.seen) == {ACME[1], CLIMATEC[1]}
    finally:
        lst.close()


def test_a_vendor_cannot_forge_its_last_login(slab, tmp_path):
    """acme.jmartin logs in once, then tries to look active forever (a stamp dated 2100) and to make its idle
    colleague acme.plefevre look active; 200 days later both are idle and locked."""
    from vendorwall.lab import bastion

    state, model, keys, o, today = slab
    me, colleague = ACME[0], "acme.plefevre"
    forge = ("for f in /var/log/vendorwall/lastlogin/acme.jmartin /var/log/vendorwall/lastlogin/acme.plefevre; "
             "do echo 4102444800 > $f 2>/dev/null && echo wrote $f; done; "
             "echo 'Accepted publickey for acme.plefevre from 10.0.0.1 port 1 ssh2' >> /var/log/sshd.log "
             "2>/dev/null && echo wrote sshd.log; "
             "logger -p auth.info -t sshd 'Accepted publickey for acme.plefevre from 10.0.0.1 port 1 ssh2' "
             "2>/dev/null; "
             "echo '{}' > /var/lib/vendorwall/accounts.json 2>/dev/null && echo wrote registry; true")
    rc, out = bastion.run_as(state, "bst-1", me, os.path.join(keys, me), forge, timeout=30)
    print(out)
    assert rc == 0
    assert "wrote sshd.log" not in out and "wrote registry" not in out
    # the honest review today: the login is seen, not idle
    rev = accounts.review(model, ["bst-1"], o, str(tmp_path / "now"), True, today)
    rows = {r["account"]: r for r in rev.data["accounts"]}
    assert rows[me]["last_login"] != "never" and not any(x.startswith("idle") for x in rows[me]["lock_reasons"])
    seen = dt.datetime.fromisoformat(rows[me]["last_login"])
    assert seen <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5), "a login dated in the future"
    assert rows[colleague]["last_login"] == "never", "a colleague's forged login was believed"
    # 200 days later, with nobody logging in since
    later = today + dt.timedelta(days=200)
    rev = accounts.review(model, ["bst-1"], o, str(tmp_path / "later"), False, later)
    print("\n".join(rev.lines))
    rows = {r["account"]: r for r in rev.data["accounts"]}
    for acc in (me, colleague):
        assert any(x.startswith("idle") for x in rows[acc]["lock_reasons"]), f"{acc} escaped the idle lock"
        assert rows[acc]["locked"]
    assert not bastion.login(state, "bst-1", me, os.path.join(keys, me))[0], "an idle-locked account logs in"
