"""Golden error cases: every mistake a user can make gets a clear, located diagnostic.

``tests/errors/<case>/`` is a copy of ``tests/errors/_base`` (a minimal valid inventory) with
one kind of mistake, and ``expected.txt`` the exact stderr of

    vendorwall validate tests/errors/<case> --now 2026-11-28      (from the repo root, exit 2)

Both are written by ``scripts/regen_errors.py``; never edit expected.txt by hand. On a
mismatch the actual output is written to ``expected.txt.actual`` beside it.

A case whose output is known to be wrong has a ``PROBLEM`` file instead of ``expected.txt``;
its test is xfail(strict=True) and asserts what the output should do (``SHOULD`` below), so
it XPASSes (and fails) once the code is fixed: then drop the problem from the script and the
entry below, and regenerate.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vendorwall import cli

REPO = Path(__file__).resolve().parent.parent
ERRORS_REL = "tests/errors"
ERRORS = REPO / ERRORS_REL
BASE = ERRORS / "_base"
NOW = "2026-11-28"

CASES = sorted(d.name for d in ERRORS.iterdir() if d.is_dir() and not d.name.startswith("_"))
GOLDEN = [c for c in CASES if (ERRORS / c / "expected.txt").exists()]
PROBLEM = [c for c in CASES if (ERRORS / c / "PROBLEM").exists()]

HEAD = re.compile(r"^error: (?P<file>[^:\s]+):(?P<line>\d+): ")
DETAIL = re.compile(r"^  (expected: |found:    |hint:     )\S")
SUMMARY = re.compile(r"^(?P<n>\d+) errors? found$")


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VENDORWALL_DEBUG", raising=False)  # internal errors must not raise here


def validate(case: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
             root: str = ERRORS_REL) -> tuple[int, str, str]:
    """``vendorwall validate <root>/<case> --now NOW`` in-process, from the repo root."""
    monkeypatch.chdir(REPO)
    capsys.readouterr()
    rc = cli.main(["validate", f"{root}/{case}", "--now", NOW])
    out = capsys.readouterr()
    return rc, out.out, out.err


def heads(err: str) -> list[tuple[str, int, str]]:
    """(file, line, rest of the line) of each diagnostic."""
    out = []
    for line in err.splitlines():
        m = HEAD.match(line)
        if m:
            out.append((m["file"], int(m["line"]), line[m.end():]))
    return out


def line_of(case: str, rel: str, needle: str | bytes) -> int:
    data = (ERRORS / case / rel).read_bytes()
    pat = needle.encode() if isinstance(needle, str) else needle
    assert data.count(pat) == 1, f"{needle!r} must occur once in {case}/{rel}"
    return data[: data.index(pat)].count(b"\n") + 1


def check_format(case: str, err: str, root: str = ERRORS_REL) -> None:
    """Every line is a diagnostic head ``error: FILE:LINE: ...`` (FILE inside the case, LINE in
    the file), one of its detail lines, or the final count."""
    lines = err.splitlines()
    assert lines, "no output"
    m = SUMMARY.match(lines[-1])
    assert m, f"last line is not the error count: {lines[-1]!r}"
    n = 0
    for line in lines[:-1]:
        if line.startswith("error: "):
            n += 1
            h = HEAD.match(line)
            if h is None:
                # A file that does not exist has no line to point at (missing hosts.yml).
                f = line.split()[1].rstrip(":")
                assert not (REPO / f).exists(), f"diagnostic without file:line: {line!r}"
                assert f.startswith(f"{root}/{case}/"), line
                continue
            f, ln = h["file"], int(h["line"])
            assert f.startswith(f"{root}/{case}/"), f"diagnostic outside the case: {line!r}"
            path = REPO / f
            assert path.is_file(), f"names a file that does not exist: {line!r}"
            nlines = path.read_bytes().count(b"\n") + 1
            assert 1 <= ln <= nlines, f"line {ln} outside {f} ({nlines} lines): {line!r}"
        else:
            assert DETAIL.match(line), f"neither a diagnostic nor expected/found/hint: {line!r}"
    assert n >= 1, "no diagnostic"
    assert int(m["n"]) == n, f"count says {m['n']}, {n} diagnostics printed"


# ------------------------------------------------------------------------- what problem cases should do

A = "vendorwall/vendors/acme-imaging.yml"
T = "vendorwall/vendors/tomora.yml"


def _line_is(rel: str, needle: str | bytes) -> Callable[[str, str], None]:
    def check(case: str, err: str) -> None:
        want = line_of(case, rel, needle)
        got = [(f, ln) for f, ln, _ in heads(err)]
        assert (f"{ERRORS_REL}/{case}/{rel}", want) in got, f"expected a diagnostic at {rel}:{want}, got {got}"
    return check


def _all(*checks: Callable[[str, str], None]) -> Callable[[str, str], None]:
    def check(case: str, err: str) -> None:
        for c in checks:
            c(case, err)
    return check


def _has(text: str) -> Callable[[str, str], None]:
    def check(case: str, err: str) -> None:
        assert text.lower() in err.lower(), f"{text!r} not in output"
    return check


def _lacks(text: str) -> Callable[[str, str], None]:
    def check(case: str, err: str) -> None:
        assert text not in err, f"{text!r} in output"
    return check


def _n_errors(n: int) -> Callable[[str, str], None]:
    def check(case: str, err: str) -> None:
        assert err.rstrip().endswith(f"{n} error{'s' if n != 1 else ''} found"), err
    return check


def _no_regex_expected(case: str, err: str) -> None:
    for line in err.splitlines():
        if line.startswith("  expected: "):
            assert not re.search(r"[\^$\\]|\[.*\]\{|\(\?", line), f"raw regex shown: {line!r}"


def _formatted(case: str, err: str) -> None:
    check_format(case, err)


def _unclosed_bracket(case: str, err: str) -> None:
    want = line_of(case, A, "services: [ssh, https\n")  # the line that opens '[' and never closes it
    assert any(ln == want for _, ln, _ in heads(err)) or f"line {want}" in err, err


SHOULD: dict[str, Callable[[str, str], None]] = {
    "yaml-syntax-unclosed-bracket": _unclosed_bracket,
    "lock-syntax-error": _line_is("vendorwall/allocations.lock.yml", "<<<<<<<"),
    "nul-bytes": _all(_formatted, _line_is(T, b"\x00\x00"), _lacks("<unicode string>"), _has("hint:")),
    "non-utf8-latin1": _all(_line_is(T, b"\xf4"), _has("0xf4")),
    "binary-file": _has("0x89"),
    "site-group-unknown-device": _all(_line_is("hosts.yml", "sw-nord-2:"), _has("site_nord.hosts.sw-nord-2")),
    "address-is-gateway": _line_is(A, "addresses: [10.64.0.1]"),
    "vlan-reused": _all(_line_is(T, "vlan: 3050"), lambda case, err: _has(f"{A}:{line_of(case, A, 'vlan: 3050')}")(
        case, err)),
    "overlap-entry-paths": _all(_line_is(T, "pool: 10.200.1.16/28"), _has("entry_paths[0].pool:")),
    "unquoted-time": _all(_has("hint:"), _has('"12:00"')),
    "bad-time": _all(_no_regex_expected, _has("HH:MM")),
    "bad-email": _no_regex_expected,
    "entry-path-missing-source": _all(_lacks("'?'"), _n_errors(1)),
    "entry-path-field-of-other-kind": _all(_lacks("'?'"), _has("unknown key 'source'")),
    "hosts-missing-ansible-host": _lacks("found:    None"),
    "control-char-in-key": _formatted,
    "hosts-all-empty": _all(_lacks("internal error"), _has("hosts.yml has no groups"), _formatted),
    "lock-version": _all(_lacks("something else"), _has("found:    version 2")),
}


# ------------------------------------------------------------------------- tests


def test_cases_are_consistent() -> None:
    assert len(GOLDEN) >= 40, "golden cases missing: run scripts/regen_errors.py"
    for case in CASES:
        has_expected = (ERRORS / case / "expected.txt").exists()
        has_problem = (ERRORS / case / "PROBLEM").exists()
        assert has_expected != has_problem, f"{case}: needs exactly one of expected.txt / PROBLEM"
    assert set(PROBLEM) <= set(SHOULD), "every PROBLEM case needs a SHOULD entry"
    assert set(PROBLEM) >= FORMAT_PROBLEMS | CRASHES


def test_base_is_valid(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    rc, out, err = validate("_base", capsys, monkeypatch)
    assert (rc, err) == (0, ""), err
    assert "valid (2 vendors, 4 systems" in out


@pytest.mark.parametrize("case", GOLDEN)
def test_golden(case: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    rc, out, err = validate(case, capsys, monkeypatch)
    expected_file = ERRORS / case / "expected.txt"
    actual_file = ERRORS / case / "expected.txt.actual"
    expected = expected_file.read_text(encoding="utf-8")
    if err != expected:
        actual_file.write_text(err, encoding="utf-8")
    elif actual_file.exists():
        actual_file.unlink()
    assert err == expected, f"output differs: see {actual_file.relative_to(REPO)}; if the change is intended, " \
                            "rerun scripts/regen_errors.py and review the diff"
    assert rc == 2
    assert out == ""


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.xfail(
    strict=True, reason=(ERRORS / c / "PROBLEM").read_text(encoding="utf-8").strip())) if c in PROBLEM else c
    for c in sorted(SHOULD)])
def test_known_problem(case: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    rc, _, err = validate(case, capsys, monkeypatch)
    assert rc == 2, err
    SHOULD[case](case, err)


# Known problems (see their PROBLEM files) that also break the general checks below.
CRASHES: set[str] = set()  # cases that crashed (internal error) before a fix; none now
FORMAT_PROBLEMS: set[str] = set()  # cases whose output broke the diagnostic format; none now


def _xfail_if(cases: set[str]) -> list[object]:
    return [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="see its PROBLEM file"))
            if c in cases else c for c in CASES]


@pytest.mark.parametrize("case", _xfail_if(CRASHES))
def test_no_traceback(case: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    rc, _, err = validate(case, capsys, monkeypatch)
    assert "Traceback" not in err
    assert "internal error" not in err
    assert rc == 2


@pytest.mark.parametrize("case", _xfail_if(FORMAT_PROBLEMS))
def test_diagnostic_format(case: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, err = validate(case, capsys, monkeypatch)
    check_format(case, err)


def test_collect_all_reports_every_error(capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for case, at_least, files in (("collect-all-semantic", 8, 4), ("collect-all-structural", 6, 5)):
        _, _, err = validate(case, capsys, monkeypatch)
        h = heads(err) + [(ln.split()[1].rstrip(":"), 0, "") for ln in err.splitlines()
                          if ln.startswith("error: ") and not HEAD.match(ln)]
        assert len(h) >= at_least, err
        assert len({f for f, _, _ in h}) >= files, err


def test_real_command_line() -> None:
    """One case through the installed entry point, as a user runs it (exit code and stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "VENDORWALL_DEBUG"}
    res = subprocess.run([sys.executable, "-m", "vendorwall", "validate", f"{ERRORS_REL}/unknown-key", "--now", NOW],
                         cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert res.returncode == 2
    assert res.stderr == (ERRORS / "unknown-key" / "expected.txt").read_text(encoding="utf-8")


# ------------------------------------------------------------------------- fuzz


FUZZ_FILE = "vendorwall/vendors/tomora.yml"
_BASE_VENDOR = yaml.safe_load((BASE / FUZZ_FILE).read_text(encoding="utf-8"))

_scalars = (st.none() | st.booleans() | st.integers(-(2**40), 2**40)
            | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
            | st.sampled_from(["", "nord", "ssh", "telnet", "tomora-vpn", "10.64.0.0/24", "10.64.0.1",
                               "10.200.2.5/27", "300.1.1.1/8", "2026-02-30", "2026-12-01", "12:00", "on_demand",
                               "scheduled", "permanent", "shared", "lan_to_lan", "bastion", "vpn", "bst-1",
                               "pacs-nord", "radiology-ws-nord", "sw-nord-1", "8000-9999", "<<", "~"]))
_keys = st.text(max_size=8) | st.sampled_from(
    ["name", "site", "access", "mode", "services", "via", "window", "flows", "from", "to", "vlan", "addresses",
     "entry_paths", "kind", "pool", "source", "bastion", "peer", "remote_subnets", "systems", "accounts",
     "expires", "created", "shared", "contract", "ends", "hotline", "segment", "switch_ports", "exception"])
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(_keys, inner, max_size=4), max_leaves=12)


def _paths(node: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


_ALL_PATHS = _paths(_BASE_VENDOR)[1:]


def _set(doc: object, path: tuple[object, ...], value: object) -> object:
    if not path:
        return value
    node = doc
    for p in path[:-1]:
        node = node[p]  # type: ignore[index]
    node[path[-1]] = value  # type: ignore[index]
    return doc


@st.composite
def _mutated_vendor(draw: st.DrawFn) -> bytes:
    """The base vendor file with a few random subtrees replaced by random values."""
    doc = copy.deepcopy(_BASE_VENDOR)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_ALL_PATHS))
        value = draw(_values)
        with contextlib.suppress(KeyError, IndexError, TypeError):  # an earlier mutation removed the path
            doc = _set(doc, path, value)
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode("utf-8")


_garbage = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    _values.map(lambda v: yaml.safe_dump(v, allow_unicode=True).encode("utf-8")),
    st.fixed_dictionaries({"vendors": st.dictionaries(_keys, _values, max_size=2)}).map(
        lambda v: yaml.safe_dump(v, allow_unicode=True).encode("utf-8")),
    _mutated_vendor(),
)


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(BASE, root / "inv")
    return root


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=_garbage)
def test_fuzz_vendor_file(content: bytes, fuzz_root: Path, capsys: pytest.CaptureFixture[str],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    (fuzz_root / "inv" / FUZZ_FILE).write_bytes(content)
    monkeypatch.chdir(fuzz_root)
    capsys.readouterr()
    rc = cli.main(["validate", "inv", "--now", NOW])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    assert rc in (0, 2), (rc, err)
    if rc == 2:  # the line-by-line format is checked on the golden cases (keys may hold any character here)
        lines = err.split("\n")
        assert lines[0].startswith("error: inv/"), err
        assert SUMMARY.match(lines[-2]) and lines[-1] == "", err
    else:
        assert err == "", err
