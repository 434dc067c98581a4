"""A policy file reaches the firewall in command lines shorter than the session's 65,535 columns (stty cols):
one longer line wraps, netmiko never sees its echo and the upload times out. The example inventory's
policy grew past that (66,000 base64 characters) and every lab deploy failed; the chunks rebuild the file
byte for byte (checked here by a real sh)."""

from __future__ import annotations

import subprocess

from vendorwall.deploy import nftables


def test_chunks_short_and_the_file_rebuilt_exactly(tmp_path):
    text = "".join(f"table inet t{i} {{\n  comment \"é {i}\"\n}}\n" for i in range(4000))
    path = tmp_path / "state dir" / "intended.nft"
    path.parent.mkdir()
    lines = nftables.upload_commands(text, str(path))
    assert len(lines) > 2 and max(len(x) for x in lines) < 60_000
    out = ""
    for cmd in lines:
        out = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, check=True).stdout
    assert "__VW_UPLOADED" in out and path.read_text() == text
    assert not list((tmp_path / "state dir").glob("*.b64"))


def test_a_damaged_chunk_is_refused(tmp_path):
    path = tmp_path / "intended.nft"
    lines = nftables.upload_commands("table inet t {}\n" * 5000, str(path))
    lines[0] = lines[0].replace("printf %s ", "printf %s AAAA", 1)
    out = ""
    for cmd in lines:
        out = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, check=False).stdout
    assert "__VW_UPLOADED" not in out and not path.exists()
