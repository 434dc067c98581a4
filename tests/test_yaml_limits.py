"""Hostile YAML in an inventory: an alias bomb, a recursive alias, deep nesting, a huge file. Each is a
clear diagnostic (exit 2), never an internal error, a hang or gigabytes of memory.

The CLI case runs ``vendorwall validate`` under a 1 GiB address-space limit: before the bound, the
521-byte bomb needed ~6 GB and 55 s (killed or MemoryError, exit 70 here)."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys

import pytest

from vendorwall import yamlsrc

BOMB = "\n".join(["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                 + [f"{chr(ord('a') + i)}: &{chr(ord('a') + i)} [" + ", ".join([f"*{chr(ord('a') + i - 1)}"] * 9)
                    + "]" for i in range(1, 9)]) + "\n"
BASE = os.path.join(os.path.dirname(__file__), "errors", "_base")


def test_the_bomb_is_small():
    assert len(BOMB.encode()) < 600


def _codes(diags):
    return [(d.line, d.message) for d in diags]


def test_alias_bomb_refused():
    data, _src, diags = yamlsrc.load_text(BOMB, "bomb.yml")
    assert data is None and diags, "an alias bomb was expanded"
    d = diags[0]
    assert d.message == "YAML aliases expand too much" and "billion laughs" in d.hint
    assert d.line >= 1


def test_a_medium_bomb_refused_too():
    levels = [f"{c}: &{c} [" + ", ".join([f"*{p}"] * 10) + "]" for p, c in zip("abcde", "bcdef", strict=True)]
    text = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x, x]", *levels])
    _data, _src, diags = yamlsrc.load_text(text, "medium.yml")
    assert [d.message for d in diags] == ["YAML aliases expand too much"]


def test_recursive_alias_refused():
    for text in ("a: &a [*a]\n", "a: &a {b: [1, {c: *a}]}\n"):
        data, _src, diags = yamlsrc.load_text(text, "loop.yml")
        assert data is None and [d.message for d in diags] == ["YAML alias refers to itself"], text


def test_deep_nesting_refused():
    text = "a: " + "[" * 600 + "]" * 600 + "\n"
    data, _src, diags = yamlsrc.load_text(text, "deep.yml")
    assert data is None and [d.message for d in diags] == ["YAML nesting too deep"]
    text = "a: " + "[" * 5000 + "]" * 5000 + "\n"  # libyaml stops at 1000 levels itself
    data, _src, diags = yamlsrc.load_text(text, "deep.yml")
    assert data is None and "nesting depth" in diags[0].found


def test_small_honest_aliases_still_work():
    text = "web: &web [http, https]\nsystems:\n  - {name: a, services: *web}\n  - {name: b, services: *web}\n"
    data, _src, diags = yamlsrc.load_text(text, "ok.yml")
    assert diags == [] and data["systems"][1]["services"] == ["http", "https"]


def test_file_size_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(yamlsrc, "MAX_FILE_BYTES", 1000)
    p = tmp_path / "big.yml"
    p.write_text("a: " + "x" * 2000 + "\n")
    data, _src, diags = yamlsrc.load_file(str(p), "big.yml")
    assert data is None and [d.message for d in diags] == ["file too large"]


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.parametrize("case, message", [("bomb", "YAML aliases expand too much"),
                                           ("loop", "YAML alias refers to itself")])
def test_cli_exit_2_with_a_clear_message(tmp_path, case, message):
    inv = tmp_path / "inv"
    shutil.copytree(BASE, inv)
    target = inv / "vendorwall" / "client_groups.yml"
    target.write_text(BOMB if case == "bomb" else "client_groups: &g {x: [*g]}\n")
    p = subprocess.run([sys.executable, "-m", "vendorwall", "validate", str(inv), "--now", "2026-11-28"],
                       capture_output=True, text=True, timeout=120, preexec_fn=_limit_memory, check=False)
    print(p.stderr[-2000:])
    assert p.returncode == 2, p.stderr[-2000:]
    assert message in p.stderr and "client_groups.yml" in p.stderr and "Traceback" not in p.stderr
