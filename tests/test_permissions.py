"""What vendorwall keeps on the controller is private whatever the umask: device backups, session logs,
journals, archives and reports 0600, their directories (parents included) 0700. Before: IOS backups,
netmiko session logs and audit samples were created 0644, and the state directory's parents 0755."""

from __future__ import annotations

import os
import stat

import pytest

from vendorwall import journal, state


@pytest.fixture()
def loose_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def test_switch_backup_private(tmp_path, loose_umask):
    from vendorwall.deploy import ios
    from vendorwall.deploy.session import Target

    t = Target("sw-nord-1", "ios", "192.0.2.1")
    t.backup_dir = str(tmp_path / "state" / "backups")
    path = ios._backup(t, "hostname sw-nord-1\nenable secret 5 $1$xyz\n", 3)
    assert _mode(path) == 0o600
    assert _mode(os.path.dirname(path)) == 0o700 and _mode(t.backup_dir) == 0o700
    assert _mode(tmp_path / "state") == 0o700


def test_session_log_private(tmp_path, loose_umask):
    from vendorwall.deploy.session import _masked_log

    path = tmp_path / "logs" / "fw-nord.log"
    _masked_log(str(path), ["s3cret"])
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700


def test_journal_and_state_dirs_private(tmp_path, loose_umask, monkeypatch):
    monkeypatch.delenv(journal.KEY_ENV, raising=False)
    st = state.StateDir(str(tmp_path / "a" / "b" / "example"))
    p = st.journal("incident")
    journal.append(p, {"event": "x"})
    assert _mode(p) == 0o600
    for d in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "example"):
        assert _mode(d) == 0o700, d
    assert all(m in (0o600, 0o700) for _p, m in state.walk_private(str(tmp_path / "a")))
