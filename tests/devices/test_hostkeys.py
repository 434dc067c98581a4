"""Host keys are verified on every SSH path before anything is sent: a rogue server gets no password.

A real SSH server (paramiko's server side, on loopback, its own host key) plays the device or the rogue
that answers in its place; it records every authentication attempt, so "nothing was sent" is observed,
not assumed. Both channels are covered: the exec round trip (isolate, access, accounts, logs, agents) and
the netmiko session (deploy).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
import pytest

from vendorwall.deploy.session import Session
from vendorwall.devices import agents, ssh
from vendorwall.devices.errors import ConnectError, HostKeyError
from vendorwall.devices.target import ConnSettings, HostKeys, Target, from_vars


@dataclass
class FakeServer:
    port: int
    key: paramiko.PKey
    passwords: list[str] = field(default_factory=list)  # every password a client sent
    commands: list[bytes] = field(default_factory=list)
    stdin: list[bytes] = field(default_factory=list)

    def known_line(self, name: str | None = None) -> str:
        return f"{name or ssh.known_name('127.0.0.1', self.port)} {self.key.get_name()} {self.key.get_base64()}\n"


class _Iface(paramiko.ServerInterface):
    def __init__(self, srv: FakeServer):
        self.srv = srv
        self.event = threading.Event()

    def check_auth_password(self, username: str, password: str) -> int:
        self.srv.passwords.append(password)
        return paramiko.AUTH_SUCCESSFUL

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self.srv.commands.append(command)
        threading.Thread(target=self._answer, args=(channel,), daemon=True).start()
        return True

    def _answer(self, channel: paramiko.Channel) -> None:
        data = b""
        while True:
            chunk = channel.recv(65536)
            if not chunk:
                break
            data += chunk
        self.srv.stdin.append(data)
        channel.sendall(b'{"ok": true, "time": 0}')
        channel.send_exit_status(0)
        channel.close()


@pytest.fixture()
def server() -> Iterator[FakeServer]:
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    srv = FakeServer(lsock.getsockname()[1], paramiko.Ed25519Key.from_private_key_file(_keyfile()))
    stop = threading.Event()

    def serve() -> None:
        lsock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = lsock.accept()
            except OSError:
                continue
            t = paramiko.Transport(conn)
            t.add_server_key(srv.key)
            try:
                t.start_server(server=_Iface(srv))
            except (paramiko.SSHException, EOFError, OSError):
                continue

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    yield srv
    stop.set()
    th.join(2)
    lsock.close()


_KEYS: list[str] = []


def _keyfile() -> str:
    """A fresh ed25519 host key per server (ssh-keygen: paramiko cannot generate ed25519)."""
    import subprocess
    import tempfile

    d = tempfile.mkdtemp(prefix="vw-hostkey-")
    path = os.path.join(d, "key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True)
    _KEYS.append(d)
    return path


def target(srv: FakeServer, known: Path | None, policy: str = "verify", **kw: object) -> Target:
    files = (str(known),) if known else ()
    return Target("fw-test", "nftables", "127.0.0.1", srv.port, username="admin", password="s3cret-password",
                  connect_timeout=5, command_timeout=5, host_keys=HostKeys(files, policy, user_files=False),
                  ssh_config=False, **kw)  # type: ignore[arg-type]


def test_known_key_connects_and_data_goes_on_stdin(server: FakeServer, tmp_path: Path) -> None:
    kh = tmp_path / "known_hosts"
    kh.write_text(server.known_line())
    out = agents.run_agent(target(server, kh), "facts", {"op": "facts", "name": "a'b; rm -rf /"})
    assert out["ok"] is True
    # the command line is the package's constant program; the request only travels on stdin
    assert server.commands == [agents.command("facts").encode()]
    assert b"rm -rf" in server.stdin[0] and b"rm -rf" not in server.commands[0]
    assert server.passwords == ["s3cret-password"]


@pytest.mark.parametrize("policy", ["verify", "accept-new"])
def test_changed_key_is_refused_before_any_password(server: FakeServer, tmp_path: Path, policy: str) -> None:
    other = paramiko.Ed25519Key.from_private_key_file(_keyfile())
    kh = tmp_path / "known_hosts"
    kh.write_text(f"{ssh.known_name('127.0.0.1', server.port)} {other.get_name()} {other.get_base64()}\n")
    with pytest.raises(HostKeyError) as exc:
        ssh.exec_command(target(server, kh, policy), "true")
    msg = str(exc.value)
    assert "HOST KEY MISMATCH" in msg and ssh.fingerprint(server.key) in msg and str(kh) in msg
    assert "nothing was sent" in msg
    assert server.passwords == [] and server.commands == []
    assert kh.read_text().count("\n") == 1  # accept-new never replaces a known key


def test_unknown_key_is_refused_by_default(server: FakeServer, tmp_path: Path) -> None:
    with pytest.raises(HostKeyError) as exc:
        ssh.exec_command(target(server, tmp_path / "missing"), "true")
    assert "is unknown" in str(exc.value) and ssh.fingerprint(server.key) in str(exc.value)
    assert server.passwords == [] and server.commands == []


def test_netmiko_session_verifies_too(server: FakeServer, tmp_path: Path) -> None:
    """The deploy's channel (netmiko) uses the same verified client: a rogue switch gets no password."""
    t = target(server, tmp_path / "missing")
    t.platform = "ios"
    with pytest.raises(HostKeyError):
        Session(t).open()
    assert server.passwords == []
    other = paramiko.Ed25519Key.from_private_key_file(_keyfile())
    kh = tmp_path / "known_hosts"
    kh.write_text(f"{ssh.known_name('127.0.0.1', server.port)} {other.get_name()} {other.get_base64()}\n")
    with pytest.raises(HostKeyError) as exc:
        Session(target(server, kh)).open()
    assert "HOST KEY MISMATCH" in str(exc.value)
    assert server.passwords == []


def test_accept_new_records_logs_and_then_verifies(server: FakeServer, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    kh = tmp_path / "sub" / "known_hosts"
    out = ssh.exec_command(target(server, kh, "accept-new"), "true")
    assert out.rc == 0
    err = capsys.readouterr().err
    assert "trusting the unknown host key" in err and ssh.fingerprint(server.key) in err and str(kh) in err
    assert kh.read_text() == server.known_line()
    assert (kh.stat().st_mode & 0o777) == 0o600
    # from now on the recorded key is required, even without the opt-in
    ssh.exec_command(target(server, kh, "verify"), "true")
    assert server.passwords == ["s3cret-password", "s3cret-password"]


def test_alias_looks_the_key_up_under_the_device_name(server: FakeServer, tmp_path: Path) -> None:
    """Several devices behind one address (the lab's bastions on 127.0.0.1): each key under its name."""
    kh = tmp_path / "known_hosts"
    kh.write_text(server.known_line("bst-1"))
    t = target(server, kh)
    t.host_keys = HostKeys((str(kh),), user_files=False, alias="bst-1")
    assert ssh.exec_command(t, "true").rc == 0
    t.host_keys = HostKeys((str(kh),), user_files=False, alias="bst-2")
    with pytest.raises(HostKeyError):
        ssh.exec_command(t, "true")


def test_jump_host_is_verified_too(server: FakeServer, tmp_path: Path) -> None:
    """A jump host with an unknown key is refused before the device is even tried."""
    t = target(server, tmp_path / "missing")
    t.jump = target(server, tmp_path / "missing")
    with pytest.raises(HostKeyError) as exc:
        ssh.exec_command(t, "true")
    assert "jump" in str(exc.value) or "fw-test" in str(exc.value)
    assert server.passwords == []


def test_ssh_config_is_honoured(server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """~/.ssh/config gives the port and the known_hosts file for what the inventory leaves unset."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    kh = tmp_path / "kh"
    kh.write_text(server.known_line())
    (home / ".ssh" / "config").write_text(
        f"Host fw-alias\n  HostName 127.0.0.1\n  Port {server.port}\n  UserKnownHostsFile {kh}\n")
    monkeypatch.setenv("HOME", str(home))
    t = from_vars("fw-test", "nftables", {"ansible_host": "fw-alias", "ansible_password": "pw"},
                  settings=ConnSettings(connect_timeout=5, command_timeout=5))
    t.host_keys = HostKeys((), user_files=False)
    assert ssh.exec_command(t, "true").rc == 0
    assert server.passwords == ["pw"]


def test_inventory_variables_make_the_target(tmp_path: Path) -> None:
    t = from_vars("fw-1", "nftables", {"ansible_host": "192.0.2.1", "ansible_port": 2222, "ansible_user": "ops",
                                       "ansible_ssh_private_key_file": "keys/id", "ansible_password": "pw",
                                       "vendorwall_known_hosts": "known_hosts"}, inventory_root=str(tmp_path))
    assert (t.host, t.port, t.username, t.password) == ("192.0.2.1", 2222, "ops", "pw")
    assert t.key_file == "keys/id" and t.host_keys.files == (str(tmp_path / "known_hosts"),)
    assert t.host_keys.policy == "verify" and "pw" not in repr(t)
    # the run's explicit settings win over the inventory
    t = from_vars("fw-1", "nftables", {"ansible_user": "ops"}, settings=ConnSettings(user="root", port=22),
                  default_host="192.0.2.9")
    assert (t.username, t.port, t.host) == ("root", 22, "192.0.2.9")


def test_unreachable_is_a_connect_error_not_a_host_key_one() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = Target("fw-x", "nftables", "127.0.0.1", port, connect_timeout=2, ssh_config=False,
               host_keys=HostKeys((), user_files=False))
    with pytest.raises(ConnectError) as exc:
        ssh.exec_command(t, "true")
    assert not isinstance(exc.value, HostKeyError)
