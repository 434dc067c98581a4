"""The journals against someone who can rewrite them: a cut tail, a fully re-chained file, a forged but
correctly chained entry, a forged user; the key outside the journal; a write that fails (disk full).

Before: verify() only checked the chain, so a file cut after a complete entry or rewritten and re-chained
from the first line verified "intact", and SUDO_USER (any string the caller sets) was the journaled user.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from vendorwall import journal

KEY = "ab" * 32


@pytest.fixture()
def keyed(monkeypatch):
    monkeypatch.setenv(journal.KEY_ENV, KEY)
    monkeypatch.delenv(journal.KEY_FILE_ENV, raising=False)


@pytest.fixture()
def nokey(monkeypatch, tmp_path):
    monkeypatch.delenv(journal.KEY_ENV, raising=False)
    monkeypatch.delenv(journal.KEY_FILE_ENV, raising=False)
    monkeypatch.setattr(journal, "DEFAULT_KEY_FILE", str(tmp_path / "absent.key"))


def _write(path: str, n: int = 4) -> list[dict]:
    return [journal.append(path, {"event": "opened" if i % 2 else "refused", "grant": f"g{i}", "i": i})
            for i in range(n)]


def _rechain(entries: list[dict]) -> list[dict]:
    """What an attacker without the key does: edit, then recompute every hash from the first line."""
    out, prev = [], ""
    for i, e in enumerate(entries, 1):
        e = {k: v for k, v in e.items() if k not in ("hash", "mac", "key_id")}
        e.update(seq=i, prev=prev)
        e["hash"] = journal.entry_hash(e)
        prev = e["hash"]
        out.append(e)
    return out


def _dump(path: str, entries: list[dict]) -> None:
    Path(path).write_text("".join(journal.canonical(e).decode() + "\n" for e in entries))


def test_entries_carry_a_mac_and_verify(tmp_path, keyed):
    path = str(tmp_path / "j.jsonl")
    es = _write(path)
    assert all(e["mac"] and e["key_id"] for e in es)
    assert journal.verify(path) == []
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_fully_rechained_file_detected_by_the_mac(tmp_path, keyed):
    path = str(tmp_path / "j.jsonl")
    es = _write(path)
    forged = [dict(e) for e in es]
    forged[0]["event"] = "opened"  # a refusal turned into a grant
    _dump(path, _rechain(forged))
    problems = journal.verify(path)
    assert problems and all("no MAC" in p or "MAC does not match" in p for p in problems), problems


def test_forged_correctly_chained_entry_detected(tmp_path, keyed):
    path = str(tmp_path / "j.jsonl")
    _write(path)
    last = journal.read(path)[-1]
    fake = {"seq": last["seq"] + 1, "prev": last["hash"], "event": "opened", "grant": "gforged"}
    fake["hash"] = journal.entry_hash(fake)
    fake["key_id"], fake["mac"] = last["key_id"], "0" * 64  # a MAC the forger cannot compute
    with open(path, "a") as fh:
        fh.write(journal.canonical(fake).decode() + "\n")
    assert any("line 5: MAC does not match" in p for p in journal.verify(path))
    del fake["mac"], fake["key_id"]
    lines = Path(path).read_text().splitlines()[:-1]
    Path(path).write_text("\n".join([*lines, journal.canonical(fake).decode()]) + "\n")
    assert any("no MAC" in p for p in journal.verify(path))


def test_cut_tail_detected_by_anchors(tmp_path, nokey):
    path = str(tmp_path / "j.jsonl")
    es = _write(path)
    jid = journal.identity(path)
    assert jid == f"j/{es[0]['hash'][:12]}"
    export = "\n".join(f"Dec  6 10:00:0{i} ctl vendorwall-journal[1]: {journal.anchor_text(jid, e)}"
                       for i, e in enumerate(es))
    anchors = journal.parse_anchors(export, jid, "syslog export")
    assert [a.seq for a in anchors] == [1, 2, 3, 4]
    assert journal.verify(path, anchors=anchors) == []
    lines = Path(path).read_text().splitlines(keepends=True)
    Path(path).write_text("".join(lines[:2]))  # two whole entries cut: the chain alone is intact
    assert journal.verify(path) == []
    problems = journal.verify(path, anchors=anchors)
    assert any("truncated" in p and "ends at entry 2" in p for p in problems), problems


def test_rechained_file_detected_by_anchors_without_a_key(tmp_path, nokey):
    path = str(tmp_path / "j.jsonl")
    es = _write(path)
    anchors = [journal.Anchor(e["seq"], e["hash"], "device fw-nord") for e in es[-1:]]  # only the last one
    forged = [dict(e) for e in es]
    forged[1]["grant"] = "gother"
    _dump(path, _rechain(forged))
    assert journal.verify(path) == []  # self-consistent
    assert any("differs from its anchor on device fw-nord" in p for p in journal.verify(path, anchors=anchors))


def test_cut_in_the_middle_of_an_entry(tmp_path, nokey):
    path = str(tmp_path / "j.jsonl")
    _write(path)
    raw = Path(path).read_bytes()
    Path(path).write_bytes(raw[:-40])
    assert any("truncated" in p for p in journal.verify(path))
    e = journal.append(path, {"event": "after"})  # the next writer starts a new line
    assert Path(path).read_bytes().endswith(journal.canonical(e) + b"\n")


def test_who_is_the_real_uid_sudo_only_via(monkeypatch):
    monkeypatch.setenv("SUDO_USER", "mallory")
    monkeypatch.setenv("USER", "mallory")
    monkeypatch.setenv("LOGNAME", "mallory")
    monkeypatch.setenv("AWX_USER_NAME", "alice\x1b[2J")
    monkeypatch.setenv("JOB_ID", "4242")
    w = journal.who()
    assert w["user"] == pwd.getpwuid(os.getuid()).pw_name and w["uid"] == os.getuid()
    assert w["via"] == "mallory" and w["awx_user"] == "alice[2J" and w["awx_job"] == "4242"


def test_key_file_readable_by_others_refused(tmp_path, monkeypatch):
    monkeypatch.delenv(journal.KEY_ENV, raising=False)
    key = tmp_path / "journal.key"
    key.write_text(KEY + "\n")
    key.chmod(0o644)
    monkeypatch.setenv(journal.KEY_FILE_ENV, str(key))
    with pytest.raises(journal.JournalError, match="readable by group or others"):
        journal.append(str(tmp_path / "j.jsonl"), {"event": "x"})
    key.chmod(0o400)
    e = journal.append(str(tmp_path / "j.jsonl"), {"event": "x"})
    assert e["key_id"] == journal.Key(bytes.fromhex(KEY), "x").id


def test_keygen_writes_0400_never_overwrites(tmp_path):
    p = str(tmp_path / "etc" / "journal.key")
    secret = journal.keygen(p)
    assert len(bytes.fromhex(secret)) == 32 and os.stat(p).st_mode & 0o777 == 0o400
    with pytest.raises(FileExistsError):
        journal.keygen(p)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs in a private mount namespace (root)")
def test_disk_full_is_a_journal_error_and_nothing_half_written(tmp_path):
    """A real full file system (a 64 KiB tmpfs in a private mount namespace): JournalError with the hint,
    the journal left with whole entries only."""
    d = tmp_path / "full"
    d.mkdir()
    code = f"""
import json, os, sys
from vendorwall import journal
path = {str(d / "j.jsonl")!r}
journal.append(path, {{"event": "first"}}, key=None)
fd = os.open({str(d / "filler")!r}, os.O_WRONLY | os.O_CREAT)
try:
    while True:
        os.write(fd, b"x" * 512)
except OSError:
    os.close(fd)
try:
    journal.append(path, {{"event": "second", "pad": "y" * 8000}}, key=None)
    print("WROTE")
except journal.JournalError as exc:
    print("ERROR", exc.message, "|", exc.hint)
print(json.dumps(journal.verify(path, key=None)), len(journal.read(path)))
"""
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                        'mount -t tmpfs -o size=64k tmpfs "$0" && exec "$1" -c "$2"', str(d), sys.executable, code],
                       capture_output=True, text=True, timeout=60, check=False)
    print(p.stdout, p.stderr[-1500:])
    assert p.returncode == 0
    out = p.stdout.splitlines()
    assert out[0].startswith("ERROR cannot write the journal: No space left on device")
    assert "disk holding the state directory is full" in out[0]
    assert out[1] == "[] 1"
    assert json.loads("[]") == []
