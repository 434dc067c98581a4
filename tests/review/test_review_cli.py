"""``vendorwall diff`` from the command line: bad input, exit codes, outputs, the working tree default.

Every bad input gives exit 2 and a message with a hint, never a traceback: an unknown revision,
not a git repository, an inventory absent at a revision, a side whose inventory does not validate
(its errors labelled ``REVISION:PATH:LINE``). ``--fail-on`` gives exit 3 when a flag at or above
the severity exists.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import review_support as rs

from vendorwall import cli

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def vw(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run ``vendorwall ARGS`` in-process; wires the diff command if vendorwall/cli.py does not yet."""
    if "diff" not in cli._COMMANDS:
        from vendorwall.review import cli as review_cli

        monkeypatch.setattr(cli, "_EXTENSIONS", [*cli._EXTENSIONS, ("diff", review_cli.register)])
        monkeypatch.setitem(cli._COMMANDS, "diff", review_cli.handle)

    def run(*argv: str, cwd: Path | None = None) -> tuple[int, str, str]:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        rc = cli.main(list(argv))
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        assert "internal error" not in err
        return rc, out, err

    return run


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rs.build_repo(tmp_path_factory.mktemp("review-cli"), {
        "permanent_added": rs.permanent_added, "system_removed": rs.system_removed})


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A repository of its own, for tests that edit the working tree or add commits."""
    return rs.init_repo(tmp_path)


NOW = ["--now", rs.NOW.isoformat()]


# --------------------------------------------------------------------------- bad input


def test_unknown_revision(vw: Run, repo: Path) -> None:
    rc, out, err = vw("diff", rs.INVENTORY, "--base", "no-such-branch", *NOW, cwd=repo)
    assert rc == 2 and out == ""
    assert "error: --base: unknown revision 'no-such-branch'" in err
    assert "hint:" in err and "git fetch" in err


def test_unknown_head_revision(vw: Run, repo: Path) -> None:
    rc, _, err = vw("diff", rs.INVENTORY, "--base", "main", "--head", "deadbeef", *NOW, cwd=repo)
    assert rc == 2
    assert "--head: unknown revision 'deadbeef'" in err


def test_not_a_git_repository(vw: Run, tmp_path: Path) -> None:
    inv = tmp_path / "plain" / "example"
    shutil.copytree(rs.EXAMPLE, inv)
    rc, _, err = vw("diff", str(inv), "--base", "main", *NOW, cwd=tmp_path)
    assert rc == 2
    assert "error: not a git repository" in err and "hint:" in err


def test_inventory_absent_at_base(vw: Run, scratch: Path) -> None:
    other = scratch / "inventories" / "other"
    shutil.copytree(scratch / rs.INVENTORY, other)
    rc, _, err = vw("diff", "inventories/other", "--base", "main", *NOW, cwd=scratch)
    assert rc == 2
    assert "inventory inventories/other does not exist at main" in err


def test_invalid_head_working_tree(vw: Run, scratch: Path) -> None:
    path = scratch / rs.INVENTORY / "vendorwall" / "vendors" / "tomora.yml"
    rs.replace_in_system(path, "ct-nord-2", "        site: nord\n", "        site: nowhere\n")
    rc, out, err = vw("diff", rs.INVENTORY, "--base", "main", *NOW, cwd=scratch)
    assert rc == 2 and out == ""
    assert "error: the head (working tree) of inventories/example does not validate (1 error)" in err
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "site: nowhere" in t)
    assert f"error: inventories/example/vendorwall/vendors/tomora.yml:{line}: " in err
    assert "unknown site 'nowhere'" in err


def test_invalid_revisions_are_labelled(vw: Run, scratch: Path) -> None:
    """Both sides invalid: each side's errors, labelled REVISION:PATH:LINE."""
    inv = scratch / rs.INVENTORY
    path = inv / "vendorwall" / "vendors" / "tomora.yml"
    rs.replace_in_system(path, "ct-nord-2", "          max_hours: 2\n", "          max_hours: 99\n")
    rs.git(scratch, "commit", "-qam", "bad base")
    rs.git(scratch, "tag", "bad-base")
    rs.replace_once(path, "ends: 2029-01-31", "ends: 2020-01-31")
    rs.git(scratch, "commit", "-qam", "bad head")
    rc, _, err = vw("diff", rs.INVENTORY, "--base", "bad-base", "--head", "main", *NOW, cwd=scratch)
    assert rc == 2
    assert "error: the base (bad-base (" in err and "error: the head (main (" in err
    assert "error: bad-base:inventories/example/vendorwall/vendors/tomora.yml:" in err
    assert "on-demand window over the policy maximum" in err
    assert "error: main:inventories/example/vendorwall/vendors/tomora.yml:" in err
    assert "contract ended" in err
    assert "git show REVISION:PATH" in err


def test_bad_option_values(vw: Run, repo: Path) -> None:
    rc, _, err = vw("diff", rs.INVENTORY, "--base", "main", "--save", "pdf=x.pdf", *NOW, cwd=repo)
    assert rc == 2 and "--save: expected FORMAT=FILE" in err
    rc, _, err = vw("diff", rs.INVENTORY, "--base", "main", "--blast-radius", "0", *NOW, cwd=repo)
    assert rc == 2 and "--blast-radius must be at least 1" in err
    rc, _, err = vw("diff", rs.INVENTORY, "--base", "main", "--now", "tomorrow", cwd=repo)
    assert rc == 2 and "--now: not a date" in err


# --------------------------------------------------------------------------- exit codes and outputs


def test_fail_on_sets_exit_3(vw: Run, repo: Path) -> None:
    args = ("diff", rs.INVENTORY, "--base", "main", "--head", "change/permanent_added", *NOW)
    rc, out, _ = vw(*args, cwd=repo)
    assert rc == 0 and "on-demand system turned permanent" in out
    rc, out, _ = vw(*args, "--fail-on", "high", cwd=repo)
    assert rc == 3 and "**fails** the gate `--fail-on high`" in out
    rc, _, _ = vw("diff", rs.INVENTORY, "--base", "main", "--head", "change/system_removed", "--fail-on", "low",
                  *NOW, cwd=repo)
    assert rc == 0


def test_out_and_save(vw: Run, repo: Path, tmp_path: Path) -> None:
    md, js, html = tmp_path / "r.md", tmp_path / "sub" / "r.json", tmp_path / "r.html"
    rc, out, err = vw("diff", rs.INVENTORY, "--base", "main", "--head", "change/permanent_added", "--out", str(md),
                      "--save", f"json={js}", "--save", f"html={html}", "--fail-on", "medium", *NOW, cwd=repo)
    assert rc == 3 and out == ""
    assert "vendorwall diff: 0 flows added, 0 removed, 2 changed; flags 1 high" in err
    assert md.read_text().startswith("<!-- vendorwall-diff -->")
    data = json.loads(js.read_text())
    assert data["version"] == 1 and data["gate"] == {"fail_on": "medium", "failed": True, "exit_code": 3}
    assert html.read_text().startswith("<!DOCTYPE html>")


def test_json_is_deterministic(vw: Run, repo: Path) -> None:
    args = ("--base", "main", "--head", "change/system_removed", "--format", "json", *NOW)
    first = vw("diff", rs.INVENTORY, *args, cwd=repo)[1]
    again = vw("diff", rs.INVENTORY, *args, cwd=repo)[1]
    elsewhere = vw("diff", "example", *args, cwd=repo / "inventories")[1]
    assert first == again == elsewhere  # paths in the report are relative to the repository
    assert json.loads(first)["summary"]["segments"] == {"allocated": 0, "freed": 1, "changed": 0}


def test_working_tree_is_the_default_head(vw: Run, scratch: Path) -> None:
    """Uncommitted (and untracked) files are reviewed; a lock file not yet updated is flagged."""
    inv = scratch / rs.INVENTORY
    rs.new_vendor(inv)  # an untracked file, no 'vendorwall plan'
    rc, out, _ = vw("diff", rs.INVENTORY, "--base", "main", "--format", "json", *NOW, cwd=scratch)
    assert rc == 0
    data = json.loads(out)
    assert data["head"] == {"rev": None, "commit": None, "working_tree": True, "label": "working tree"}
    assert data["summary"]["vendors"]["added"] == ["ophtalis"]
    assert data["summary"]["stale_lock"] is True
    stale = [f for f in data["flags"] if f["code"] == "stale_lock"]
    assert len(stale) == 1 and stale[0]["severity"] == "low"
    assert stale[0]["file"] == "inventories/example/vendorwall/allocations.lock.yml"
    rs.update_lock(inv)
    data = json.loads(vw("diff", rs.INVENTORY, "--base", "main", "--format", "json", *NOW, cwd=scratch)[1])
    assert data["summary"]["stale_lock"] is False
    assert not [f for f in data["flags"] if f["code"] == "stale_lock"]


def test_no_change(vw: Run, repo: Path) -> None:
    rc, out, _ = vw("diff", rs.INVENTORY, "--base", "main", "--head", "main", "--fail-on", "low", *NOW, cwd=repo)
    assert rc == 0
    assert "No risk flag." in out and "No access change" in out and "No device configuration changes." in out


def test_one_or_two_processes_give_the_same_report(vw: Run, repo: Path) -> None:
    args = ("diff", rs.INVENTORY, "--base", "main", "--head", "change/permanent_added", "--format", "json", *NOW)
    one = vw(*args, "--jobs", "1", cwd=repo)
    two = vw(*args, "--jobs", "2", cwd=repo)
    assert one == two


def test_invalid_base_reported_from_the_worker_process(vw: Run, scratch: Path) -> None:
    """With two processes the base compiles in a forked worker: its errors still come back labelled."""
    path = scratch / rs.INVENTORY / "vendorwall" / "vendors" / "tomora.yml"
    rs.replace_once(path, "ends: 2029-01-31", "ends: 2020-01-31")
    rs.git(scratch, "commit", "-qam", "bad")
    rs.git(scratch, "tag", "bad")
    rs.git(scratch, "checkout", "-q", "HEAD~1", "--", ".")
    for jobs in ("1", "2"):
        rc, out, err = vw("diff", rs.INVENTORY, "--base", "bad", "--jobs", jobs, *NOW, cwd=scratch)
        assert rc == 2 and out == ""
        assert err.startswith("error: the base (bad (")
        assert "error: bad:inventories/example/vendorwall/vendors/tomora.yml:" in err and "contract ended" in err


# --------------------------------------------------------------------------- the isolation record of a review


def test_sides_from_git_render_the_reviewed_inventorys_isolation_and_create_no_state(
        repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each side materialised from git lives in a temporary directory (``base-XXXX``, ``head-XXXX``): it
    used to read (and create) a state directory of that name, one more empty directory in the state
    base per review, and to render without the quarantine of the vendors isolated now. Both sides now
    render the reviewed inventory's isolation, and the state base is left as it was."""
    import datetime as dt

    from vendorwall.isolate.isolated import Entry, Isolation
    from vendorwall.render.nftables import ISOLATED_MARK
    from vendorwall.review.gitsrc import Repo
    from vendorwall.review.sides import compile_both

    base = tmp_path / "state-base"
    base.mkdir()
    monkeypatch.setenv("VENDORWALL_STATE_DIR", str(base))
    monkeypatch.chdir(repo)
    iso = Isolation({"tomora": Entry("tomora", "2026-11-30T08:00:00Z", "drill")})
    git_repo = Repo.find(rs.INVENTORY)
    revs = git_repo.resolve("main", "--base"), git_repo.resolve("change/permanent_added", "--head")
    for jobs in (1, 2):
        texts = {}
        for label, record in (("none", None), ("isolated", iso)):
            work = tmp_path / f"work-{label}-{jobs}"
            work.mkdir()
            sides, errors, _ = compile_both(git_repo, *revs, dt.date.fromisoformat(rs.NOW.isoformat()), str(work),
                                            jobs, record)
            assert errors == []
            texts[label] = {side: {d: r.text for d, r in c.configs.items()} for side, c in sides.items()}
        for side in ("base", "head"):
            fw_none = {d: t for d, t in texts["none"][side].items() if ISOLATED_MARK in t}
            fw_iso = {d: t for d, t in texts["isolated"][side].items() if d in fw_none}
            assert fw_none, f"{side}: no nftables firewall rendered"
            assert all(ISOLATED_MARK + "none" in t for t in fw_none.values())
            assert all(ISOLATED_MARK + "tomora" in t for t in fw_iso.values()), side
    assert sorted(p.name for p in base.iterdir()) == []


def test_an_isolated_vendor_does_not_show_every_firewall_as_changed(
        vw: Run, scratch: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The working tree (head) rendered the quarantine of the vendors isolated now, the base from git did
    not (it looked for the record of its temporary directory): with one vendor isolated, a one-line
    change showed every firewall as changed. Both sides now render the reviewed inventory's record."""
    from vendorwall.isolate import isolated

    base = tmp_path / "state-base"
    monkeypatch.setenv("VENDORWALL_STATE_DIR", str(base))
    monkeypatch.chdir(scratch)
    args = ("diff", rs.INVENTORY, "--base", "main", "--format", "json", *NOW)
    rc, out, _ = vw(*args)
    assert rc == 0 and json.loads(out)["devices"] == []  # nothing changed yet
    record = isolated.path_of(str(scratch / rs.INVENTORY))
    os.makedirs(os.path.dirname(record), mode=0o700)
    isolated.write(record, isolated.Isolation({"tomora": isolated.Entry("tomora", "2026-11-30T08:00:00Z", "drill")}))
    rc, out, _ = vw(*args)
    assert rc == 0 and json.loads(out)["devices"] == []
    assert sorted(p.name for p in base.iterdir()) == [rs.INVENTORY.rsplit("/", 1)[-1]]

