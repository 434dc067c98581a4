"""``vendorwall diff`` materialises a revision's inventory from git into a temporary directory: a crafted
tree (entries named ``..``, which ``git mktree`` accepts) must not write outside it. Refused with a clear
error (exit 2); nothing written anywhere else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from review_support import EXAMPLE, GIT_ENV, git

from vendorwall.errors import UsageError
from vendorwall.review.gitsrc import Repo


def _mktree(repo: Path, entries: list[tuple[str, str, str, str]]) -> str:
    text = "".join(f"{mode} {kind} {oid}\t{name}\n" for mode, kind, oid, name in entries)
    return subprocess.run(["git", "mktree", "--missing"], cwd=repo, input=text, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}, check=True).stdout.strip()


def _blob(repo: Path, data: str) -> str:
    return subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=data, capture_output=True,
                          text=True, env={**os.environ, **GIT_ENV}, check=True).stdout.strip()


@pytest.fixture()
def evil_repo(tmp_path):
    """A repository whose 'evil' commit holds the example inventory plus ../../escaped.yml under it."""
    repo = tmp_path / "work" / "repo"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    shutil.copytree(EXAMPLE, repo / "inv")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "inventory")
    inv_tree = git(repo, "rev-parse", "HEAD:inv").strip()
    listing = git(repo, "ls-tree", inv_tree)
    entries = [(ln.split()[0], ln.split()[1], ln.split()[2], ln.split("\t", 1)[1]) for ln in listing.splitlines()]
    payload = _blob(repo, "planted: by a crafted tree\n")
    inner = _mktree(repo, [("100644", "blob", payload, "escaped.yml")])
    up1 = _mktree(repo, [("040000", "tree", inner, "..")])
    evil_inv = _mktree(repo, [*entries, ("040000", "tree", up1, "..")])
    top = _mktree(repo, [("040000", "tree", evil_inv, "inv")])
    commit = git(repo, "commit-tree", top, "-p", "HEAD", "-m", "evil").strip()
    git(repo, "update-ref", "refs/heads/evil", commit)
    return repo


def _planted(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("escaped.yml")]


def test_materialise_refuses_dotdot_entries(evil_repo, tmp_path):
    r = Repo.find(str(evil_repo / "inv"))
    rev = r.resolve("evil", "--head")
    dest = tmp_path / "work" / "side" / "dest"
    dest.mkdir(parents=True)
    with pytest.raises(UsageError, match=r"leaves the inventory"):
        r.materialise(rev, str(dest))
    assert _planted(tmp_path) == [], "a crafted git tree wrote outside the temporary directory"


def test_diff_cli_exit_2(evil_repo, tmp_path):
    p = subprocess.run([sys.executable, "-m", "vendorwall", "diff", str(evil_repo / "inv"), "--base", "main",
                        "--head", "evil", "--format", "json", "--now", "2026-11-28"], capture_output=True, text=True,
                       cwd=tmp_path, env={**os.environ, "TMPDIR": str(tmp_path / "work")}, timeout=300, check=False)
    print(p.stderr[-1500:])
    assert p.returncode == 2 and "leaves the inventory" in p.stderr and "Traceback" not in p.stderr
    assert _planted(tmp_path) == []
