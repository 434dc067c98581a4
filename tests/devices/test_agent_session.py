"""The ``session`` agent: several requests over one channel, each answered before the next is sent.

Run here as a real process (the program the controller ships, with the device's flags ``-I -S``), fed
line by line through a pipe: what an SSH exec channel carries. The isolation uses it to anchor its
journal on each firewall over the connection that changed it (no second SSH connection per device).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import subprocess
import sys
import threading

import paramiko
import pytest

from vendorwall.devices import agents, anchors
from vendorwall.devices.errors import CommandError, ConnectionLost
from vendorwall.devices.target import HostKeys, Target

HASH = "ab" * 32


@pytest.fixture()
def session():
    argv = agents.local_session_argv(("anchor", "nft_state"))
    argv[0] = sys.executable  # this interpreter, with the same flags as on a device
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def ask(request: dict) -> dict:
        assert p.stdin and p.stdout
        p.stdin.write(json.dumps(request) + "\n")
        p.stdin.flush()
        line = p.stdout.readline()  # answered now: the session waits for the next request
        assert line, p.stderr.read() if p.stderr else ""
        return json.loads(line)

    yield p, ask
    if p.poll() is None:
        p.kill()
    p.wait(5)


def test_answers_each_request_before_reading_the_next(session, tmp_path):
    p, ask = session
    d = str(tmp_path / "vw")
    first = ask({"agent": "anchor", "op": "write", "dir": d, "journal": "incident/abc", "seq": 3, "hash": HASH})
    assert first["status"] == 0 and first["answer"]["ok"] is True
    assert p.poll() is None  # still running, waiting for the next line
    # the second request is sent only after the first answer was read: it sees the first one's effect
    second = ask({"agent": "anchor", "op": "read", "dir": d, "journal": "incident"})
    assert [(a["journal"], a["seq"], a["hash"]) for a in second["answer"]["anchors"]] == [("incident/abc", 3, HASH)]
    assert os.stat(os.path.join(d, "journal-anchors.jsonl")).st_mode & 0o777 == 0o600
    assert p.stdin is not None
    p.stdin.close()
    assert p.wait(10) == 0  # end of input: the session ends


def test_bad_requests_are_answered_and_the_session_goes_on(session, tmp_path):
    p, ask = session
    unknown = ask({"agent": "accounts", "op": "list"})
    assert unknown["status"] == 2 and "unknown agent" in unknown["answer"]["error"]
    marker = tmp_path / "pwned"
    evil = ask({"agent": "nft_state", "op": "quarantine", "action": "isolate",
                "elements": [{"prefix": "10.200.0.0/16", "vendor": f"v$(touch {marker})", "kind": "entry",
                              "name": "vpn"}]})
    assert evil["status"] == 2 and "not allowed" in evil["answer"]["error"] and not marker.exists()
    assert p.stdin is not None and p.stdout is not None
    p.stdin.write("not json\n")
    p.stdin.flush()
    assert "not JSON" in json.loads(p.stdout.readline())["answer"]["error"]
    ok = ask({"agent": "anchor", "op": "read", "dir": str(tmp_path / "none"), "journal": "incident"})
    assert ok["status"] == 0 and ok["answer"]["anchors"] == []


def test_the_program_is_a_constant_of_the_package():
    prog = agents.session_program(("nft_state", "anchor"))
    assert prog == agents.session_program(("anchor", "nft_state"))
    assert repr(agents.source("nft_state")) in prog and repr(agents.source("anchor")) in prog
    cmd = agents.session_command(("anchor", "nft_state"))
    assert cmd.startswith("python3 -I -S -c ") and cmd.endswith(" session")


# --------------------------------------------------------------------------- over a real SSH channel


class _Exec(paramiko.ServerInterface):
    """An SSH server that runs the exec request's command line here (the real session program), its
    standard streams on the channel; it records the command lines."""

    def __init__(self, commands: list[str]):
        self.commands = commands

    def check_auth_password(self, username: str, password: str) -> int:
        return paramiko.AUTH_SUCCESSFUL

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self.commands.append(command.decode())
        argv = shlex.split(command.decode())
        argv[0] = sys.executable
        threading.Thread(target=self._run, args=(channel, argv), daemon=True).start()
        return True

    @staticmethod
    def _run(channel: paramiko.Channel, argv: list[str]) -> None:
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def pump_in() -> None:
            assert p.stdin is not None
            while True:
                data = channel.recv(65536)
                if not data:
                    break
                p.stdin.write(data)
                p.stdin.flush()
            p.stdin.close()

        threading.Thread(target=pump_in, daemon=True).start()
        assert p.stdout is not None and p.stderr is not None
        for line in iter(p.stdout.readline, b""):
            channel.sendall(line)
        channel.sendall_stderr(p.stderr.read())
        channel.send_exit_status(p.wait())
        channel.close()


@pytest.fixture()
def sshd(tmp_path):
    key_path = str(tmp_path / "hostkey")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key_path], check=True)
    key = paramiko.Ed25519Key.from_private_key_file(key_path)
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    port = lsock.getsockname()[1]
    commands: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        lsock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = lsock.accept()
            except OSError:
                continue
            tr = paramiko.Transport(conn)
            tr.add_server_key(key)
            with contextlib.suppress(paramiko.SSHException, EOFError, OSError):
                tr.start_server(server=_Exec(commands))

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {key.get_name()} {key.get_base64()}\n")
    t = Target("fw-test", "nftables", "127.0.0.1", port, username="admin", password="pw", connect_timeout=5,
               command_timeout=10, host_keys=HostKeys((str(known),), user_files=False), ssh_config=False,
               remote_dir=str(tmp_path / "device"))
    yield t, commands
    stop.set()
    th.join(2)
    lsock.close()


def test_a_session_over_ssh_asks_twice_on_one_channel_then_the_program_exits(sshd):
    t, commands = sshd
    s = agents.Session(t, ("nft_state", "anchor"))
    first = s.ask("anchor", anchors.write_request(t, "incident/abc", {"seq": 1, "hash": HASH}))
    second = s.ask("anchor", {"op": "read", "dir": t.remote_dir, "journal": "incident"})
    assert first["ok"] and [a["seq"] for a in second["anchors"]] == [1]
    with pytest.raises(CommandError, match="status 2"):  # refused by the agent; the session goes on
        s.ask("anchor", {"op": "write", "dir": "relative/dir", "journal": "x", "seq": 2, "hash": HASH})
    assert s.ask("anchor", {"op": "read", "dir": t.remote_dir, "journal": "incident"})["ok"]
    assert s.close() == 0  # end of input: the program ended, exit status 0
    assert commands == [agents.session_command(("anchor", "nft_state"))]  # one exec: the package's constant
    with pytest.raises(ConnectionLost, match="ended"):
        s.ask("anchor", {"op": "read", "dir": t.remote_dir, "journal": "incident"})
