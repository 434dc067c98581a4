"""Free text typed on the command line (--reason, --ticket, --requester...) goes to journals, reports and
device comments: a terminal escape sequence, a bidirectional override or a newline in it is refused before
anything happens (before: journaled and printed as is, ESC sequences reaching the next reader's terminal)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

INV = str(Path(__file__).resolve().parent.parent / "inventories" / "example")


@pytest.mark.parametrize("args", [
    ["isolate", INV, "--vendor", "acme-imaging", "--reason", "breach\x1b[2J\x1b[31m"],
    ["isolate", INV, "--vendor", "acme-imaging", "--reason", "breach", "--ticket", "INC-1\ninjected line"],
    ["access", "open", INV, "--vendor", "acme-imaging", "--system", "pacs-test-centre", "--ticket", "CHG-\u202e1",
     "--requester", "alice@chu-exemple.example", "--approver", "pacs.admin@chu-exemple.example", "--duration", "1h"],
])
def test_control_characters_refused_nothing_journaled(args, tmp_path):
    env = {**os.environ, "VENDORWALL_STATE_DIR": str(tmp_path / "state")}
    p = subprocess.run([sys.executable, "-m", "vendorwall", *args], capture_output=True, text=True, timeout=120,
                       env=env, check=False)
    print(p.stdout, p.stderr)
    assert p.returncode == 2 and "control or invisible character" in p.stderr
    assert "\x1b" not in p.stdout + p.stderr and "\u202e" not in p.stdout + p.stderr
    assert not list((tmp_path / "state").rglob("*.jsonl")), "a journal entry was written"
