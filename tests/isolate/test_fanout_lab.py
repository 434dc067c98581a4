"""The isolation's fan-out in the lab: one SSH connection and one program per firewall, the journal's
"started" entry on disk before any firewall is touched, the "finished" entry anchored on every firewall
over the connection that changed it (before: a second connection and program start per firewall, after
the cut, for the anchor; and "started" written while the firewalls were already being changed).
"""

from __future__ import annotations

import os

import pytest
from test_isolate_lab import qvalues, vendor_prefixes

from vendorwall import journal
from vendorwall.devices import agents, ssh
from vendorwall.isolate import actions, manifest, run

pytestmark = pytest.mark.lab
VENDOR = "radiante"


def _agents_left(lab, fws: list[str]) -> list[str]:
    """Agent programs still running in the firewalls' namespaces."""
    from vendorwall.lab import netns

    left = []
    for fw in fws:
        for pid in netns.netns_pids(lab.fw_ns(fw)):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    argv = fh.read().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"python3") and b"session" in argv:
                left.append(f"{fw}: pid {pid}")
    return left


def test_one_connection_per_firewall_started_first_finished_anchored(iso_lab, tmp_path, monkeypatch):
    monkeypatch.delenv(journal.KEY_ENV, raising=False)
    jpath = str(tmp_path / "incident.jsonl")
    connects: list[str] = []
    orig_connect = ssh.connect

    def counting(t):
        connects.append(t.device)
        return orig_connect(t)

    monkeypatch.setattr(ssh, "connect", counting)
    monkeypatch.setattr(agents, "connect", counting)
    seen_at_first_touch: list[list[str]] = []
    orig_device = run.run_device

    def watching(t, p, **kw):
        seen_at_first_touch.append([e["event"] for e in journal.read(jpath)] if os.path.exists(jpath) else [])
        return orig_device(t, p, **kw)

    monkeypatch.setattr(run, "run_device", watching)
    m = manifest.load(iso_lab.manifest_path)
    fws = sorted(m.firewalls)
    try:
        for action in ("isolate", "restore"):
            seen_at_first_touch.clear()
            connects.clear()
            r = run.execute(m, actions.plan(m, VENDOR, action=action), run.lab_targets(m, iso_lab.lab_dir),
                            reason=f"lab: fan-out {action}", journal_path=jpath, accounts=False)
            print(r.report())
            assert r.exit_code == 0
            assert sorted(connects) == fws  # one connection per firewall, the anchor included
            assert all(seen[-1:] == ["started"] for seen in seen_at_first_touch), seen_at_first_touch
            last = journal.read(jpath)[-1]
            assert last["event"] == "finished" and last["action"] == action
            assert r.anchored == {fw: "" for fw in fws}
            for fw in fws:  # the finished entry's hash is on every firewall
                with open(os.path.join(iso_lab.state.firewalls[fw]["remote_dir"], "journal-anchors.jsonl")) as fh:
                    assert last["hash"] in fh.read().splitlines()[-1]
            assert _agents_left(iso_lab, fws) == []  # every session's program has ended
            on_devices = [qvalues(iso_lab, fw) & vendor_prefixes(iso_lab, VENDOR) for fw in fws]
            assert all(on_devices) if action == "isolate" else not any(on_devices)
    finally:
        monkeypatch.undo()
        r = run.execute(m, actions.plan(m, VENDOR, action="restore"), run.lab_targets(m, iso_lab.lab_dir),
                        reason="lab: fan-out cleanup", accounts=False)
        assert not r.failed
