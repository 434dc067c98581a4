"""First run and one-pass errors: a new inventory validates before its first plan and says what
plan will allocate; the default forbidden services need not be in the catalogue; structural
and semantic mistakes surface in the same run (golden case tests/errors/collect-all-twelve)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vendorwall import cli

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "tests" / "errors" / "_base"
NOW = "2026-11-28"


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VENDORWALL_DEBUG", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = cli.main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_first_validate_passes_and_lists_what_plan_allocates(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    inv = tmp_path / "inv"
    shutil.copytree(BASE, inv)
    (inv / "vendorwall" / "allocations.lock.yml").unlink()
    rc, out, err = run(capsys, "validate", str(inv), "--now", NOW)
    assert rc == 0, err  # before: "allocation lock file is stale: no lock file", exit 2
    assert "no lock file yet" in out
    assert "will allocate and pin these 4 segment(s)" in out
    assert "  nord/acme-imaging/pacs-nord: VLAN 3000, 10.64.0.0/29 (pacs-nord 10.64.0.2)" in out
    # the README order works: validate, then plan writes the lock, then validate checks it
    rc, _, err = run(capsys, "plan", str(inv), "--out", str(tmp_path / "build"), "--now", NOW)
    assert rc == 0, err
    rc, out, err = run(capsys, "validate", str(inv), "--now", NOW)
    assert rc == 0 and "lock file up to date" in out, err
    # a stale lock (committed, then the inventory changed) is still an error
    lock = inv / "vendorwall" / "allocations.lock.yml"
    lock.write_text("".join(ln for ln in lock.read_text(encoding="utf-8").splitlines(True)
                            if "pacs-nord:" not in ln), encoding="utf-8")
    rc, _, err = run(capsys, "validate", str(inv), "--now", NOW)
    assert rc == 2 and "allocation lock file is stale" in err


def test_default_forbidden_services_need_not_be_in_the_catalogue(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    inv = tmp_path / "inv"
    shutil.copytree(BASE, inv)
    policy = inv / "vendorwall" / "policy.yml"
    text = policy.read_text(encoding="utf-8")
    for line in ("  telnet: {protocol: tcp, ports: [23]}\n", "  smb: {protocol: tcp, ports: [445]}\n",
                 "  any: {protocol: any}\n"):
        assert line in text
        text = text.replace(line, "")
    policy.write_text(text, encoding="utf-8")
    rc, _, err = run(capsys, "validate", str(inv), "--now", NOW)
    assert rc == 0, err  # before: "unknown service 'telnet' in forbidden_services" (x3)
    # a name the policy adds (not a default) must still exist
    policy.write_text(text.replace("forbidden_services: [telnet, smb, any]", "forbidden_services: [telnet, ftp]"),
                      encoding="utf-8")
    rc, _, err = run(capsys, "validate", str(inv), "--now", NOW)
    assert rc == 2 and "unknown service 'ftp' in forbidden_services" in err and "'telnet'" not in err


def test_twelve_mistakes_in_one_run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    rc, _, err = run(capsys, "validate", "tests/errors/collect-all-twelve", "--now", NOW)
    assert rc == 2 and err.rstrip().endswith("12 errors found")  # before: 6, then 6 more after fixing those
    # nothing is reported about what depends on a broken entry: pacs-nord (broken) is a flow peer,
    # sw-nord-1 (unknown platform) a site switch, https (broken) a service of ct-nord-1's access
    assert "unknown flow peer" not in err and "unknown switch" not in err and "unknown service 'https'" not in err
