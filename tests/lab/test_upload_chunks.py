"""The nftables upload fits the session's terminal whatever the file's size (a firewall file over ~49 KB,
one 65,536-character base64 line, was lost as 'connection lost': the example's fw-centre with its scheduled
windows per daylight-saving period crossed it)."""

from __future__ import annotations

import subprocess

from vendorwall.deploy import nftables


def test_upload_in_chunks_under_the_terminal_width(tmp_path):
    text = "".join(f"# line {i} of a large rendered policy, with some padding to make it long\n" for i in range(4000))
    path = tmp_path / "intended.nft"
    cmds = nftables.upload_commands(text, str(path))
    assert len(text.encode()) > 200_000 and len(cmds) > 5
    assert all(len(c) < 40_000 for c in cmds)
    out = subprocess.run(["sh", "-s"], input="\n".join(cmds) + "\n", capture_output=True, text=True,
                         check=True).stdout  # one line at a time, as the session sends them
    assert "__VW_UPLOADED" in out and path.read_text() == text
    assert not (tmp_path / "intended.nft.b64").exists() and not (tmp_path / "intended.nft.tmp").exists()
    small = nftables.upload_commands("x\n", str(path))
    assert len(small) == 2
