"""The ``session`` agent: several requests over one channel, each answered before the next is sent.

Run here as a real process (the program the controller ships, with the device's flags ``-I -S``), fed
line by line through a pipe: what an SSH exec channel carries. The isolation uses it to anchor its
journal on each firewall over the connection that changed it (no second SSH connection per device).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from vendorwall.devices import agents

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
