"""Junos deploy against a simulator: fake-switches' Juniper ELS model over NETCONF (SSH subsystem),
one process on 127.0.0.1 per test module, started and killed by its own pid.

Proves on a NETCONF server what the unit tests prove on recorded output: check mode changes
nothing, a push converges in one commit and a rerun is a no-change run, drift an operator left
(a range VLAN under another name, a port moved) is corrected while what vendorwall does not own
(a VLAN outside the range, another port) is left as it is, a rejected change leaves the running
configuration untouched, and a failed verification after the confirmed commit is rolled back.
What the simulator does not model: the confirmed-commit timer (it commits at once and never
reverts), ``rollback N``, and Junos' own validation beyond VLAN references (see docs/switches.md).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vendorwall.deploy import junos, junos_plan, switch_plan
from vendorwall.deploy.common import Options
from vendorwall.deploy.errors import CommandError, ConnectError
from vendorwall.deploy.junos_netconf import Netconf
from vendorwall.deploy.session import Target
from vendorwall.devices.errors import HostKeyError
from vendorwall.devices.target import HostKeys
from vendorwall.lab import switches

REPO = Path(__file__).resolve().parents[2]
INTENDED = (REPO / "tests" / "golden" / "example-switches" / "configs" / "sw-centre-1.junos").read_text()
CENTRE = (3400, 3599)
PORTS = ["ge-0/0/0", "ge-0/0/1", "ge-0/0/2", "ge-0/0/5", "ge-0/0/8", "ge-0/0/9", "ge-0/0/10", "ge-0/0/19",
         "ge-0/0/47"]
ES = "unit 0 family ethernet-switching"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def fake_junos(tmp_path_factory: pytest.TempPathFactory):
    reason = switches.available()
    if reason:
        pytest.skip(reason)
    d = tmp_path_factory.mktemp("junos")
    port = _free_port()
    spec = d / "spec.json"
    spec.write_text(json.dumps({"username": "vwlab", "password": "lab-only-secret", "secret": "x", "switches": [
        {"device": "sw-centre-1", "port": port, "model": "junos", "ports": PORTS}]}))
    os.chmod(spec, 0o600)
    known = d / "known_hosts"  # fake-switches' fixed host key: the NETCONF session verifies it
    known.write_text(f"[127.0.0.1]:{port} {switches.host_public_key()}\n")
    proc = subprocess.Popen([sys.executable, "-m", "vendorwall.lab.switches", str(spec)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready 1", proc.stderr.read() if proc.stderr else ""
        yield {"port": port, "dir": d, "known_hosts": str(known)}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def target(env: dict, **kw) -> Target:
    kw.setdefault("host_keys", HostKeys((env["known_hosts"],), user_files=False))
    return Target("sw-centre-1", "junos", "127.0.0.1", env["port"], username="vwlab", password="lab-only-secret",
                  backup_dir=str(env["dir"] / "backups"), connect_timeout=5, command_timeout=20,
                  extra={"vlan_range": CENTRE}, ssh_config=False, **kw)


def running(env: dict) -> switch_plan.SwitchConfig:
    nc = Netconf(target(env)).open()
    try:
        return junos_plan.parse_xml(nc.get_config("running", junos_plan.GET_FILTER))
    finally:
        nc.close()


def operator_edit(env: dict, ops: list[junos_plan.Op]) -> None:
    """Someone else changes the switch (through NETCONF, as a CLI user's commit would)."""
    nc = Netconf(target(env)).open()
    try:
        nc.lock()
        for verb in ("delete", "set"):
            part = [o for o in ops if o.verb == verb]
            if part:
                nc.edit(junos_plan.edit_config(part), f"operator {verb}")
        nc.commit()
        nc.unlock()
    finally:
        nc.close()


def test_check_mode_changes_nothing_then_push_converges(fake_junos) -> None:
    before = running(fake_junos)
    r = junos.push(target(fake_junos), INTENDED, Options(check=True))
    assert r.error is None and r.changed and r.commands
    assert running(fake_junos) == before  # check mode: nothing committed
    r = junos.push(target(fake_junos), INTENDED, Options())
    assert r.error is None and r.changed and not r.rolled_back, r.error
    assert any(x.startswith("commit confirmed") for x in r.log) and r.log[-2].startswith("commit ->")
    now = running(fake_junos)
    want = junos_plan.parse_set(INTENDED)
    assert {v: n for v, n in now.vlans.items() if CENTRE[0] <= v <= CENTRE[1]} == want.vlans
    assert now.ports["ge-0/0/47"].trunk_allowed == want.ports["ge-0/0/47"].trunk_allowed
    assert now.ports["ge-0/0/0"].access_vlan == 3415 and now.ports["ge-0/0/0"].mode == "access"
    assert Path(r.backup).is_file()
    again = junos.push(target(fake_junos), INTENDED, Options())
    assert again.error is None and not again.changed and again.commands == []


def test_drift_corrected_unowned_left_alone(fake_junos) -> None:
    junos.push(target(fake_junos), INTENDED, Options())
    operator_edit(fake_junos, [
        junos_plan.Op("set", "vlan_id", "USERS", "100"),  # outside the range: not vendorwall's
        junos_plan.Op("set", "mode", "ge-0/0/8", "access"), junos_plan.Op("set", "member", "ge-0/0/8", "100"),
        junos_plan.Op("delete", "member", "ge-0/0/2", "3422"), junos_plan.Op("set", "member", "ge-0/0/2", "100"),
        junos_plan.Op("set", "vlan_id", "ROGUE", "3500"),  # inside the range, not intended
    ])
    r = junos.push(target(fake_junos), INTENDED, Options())
    assert r.error is None and r.changed
    assert "delete vlans ROGUE" in r.commands
    assert f"set interfaces ge-0/0/2 {ES} vlan members 3422" in r.commands
    assert not [c for c in r.commands if "USERS" in c or "ge-0/0/8" in c]
    now = running(fake_junos)
    assert now.vlans[100] == "USERS" and 3500 not in now.vlans
    assert now.ports["ge-0/0/8"].access_vlan == 100 and now.ports["ge-0/0/2"].access_vlan == 3422


def test_rejected_change_leaves_running_untouched(fake_junos) -> None:
    junos.push(target(fake_junos), INTENDED, Options())
    before = running(fake_junos)
    bad = INTENDED.replace("set interfaces ge-0/0/9 ", "set interfaces ge-0/0/200 ")  # the switch has no port 200
    r = junos.push(target(fake_junos), bad, Options())
    assert isinstance(r.error, CommandError) and r.rolled_back
    assert "edit-config" in r.error.command and "ge-0/0/200" in r.error.message
    assert running(fake_junos) == before
    # the candidate was discarded and unlocked: the next push works
    assert junos.push(target(fake_junos), INTENDED, Options()).error is None


def test_failed_verification_rolled_back(fake_junos) -> None:
    """Fault injection: something changes an owned port between the commit and the verification."""
    junos.push(target(fake_junos), INTENDED, Options())
    before = running(fake_junos)
    moved = INTENDED.replace(f"set interfaces ge-0/0/9 {ES} vlan members 3599",
                             f"set interfaces ge-0/0/9 {ES} vlan members 3401")

    def tamper(nc: Netconf) -> None:  # the switch does not end up as planned
        nc.edit(junos_plan.edit_config([junos_plan.Op("set", "description", "ge-0/0/9", "tampered")]), "tamper")
        nc.commit()

    r = junos.push(target(fake_junos), moved, Options(after_apply=tamper))
    assert r.error is not None and r.error.kind == "verify" and r.rolled_back, r.error
    assert running(fake_junos) == before


def test_wrong_password_is_a_connect_error(fake_junos) -> None:
    t = target(fake_junos)
    t.password = "wrong"
    started = time.monotonic()
    r = junos.push(t, INTENDED, Options())
    assert isinstance(r.error, ConnectError) and "vwlab@127.0.0.1" in r.error.command
    assert "wrong" not in str(r.error) and time.monotonic() - started < 15


def test_netconf_refuses_an_unknown_or_changed_host_key(fake_junos, tmp_path):
    """The NETCONF session goes through the shared device layer: a switch whose key is not on record gets
    no password (the simulator would accept any)."""
    with pytest.raises(HostKeyError, match="is unknown"):
        Netconf(target(fake_junos, host_keys=HostKeys((str(tmp_path / "none"),), user_files=False))).open()
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[127.0.0.1]:{fake_junos['port']} " + " ".join(other.with_suffix(".pub").read_text().split()[:2])
                  + "\n")
    with pytest.raises(HostKeyError, match="HOST KEY MISMATCH"):
        Netconf(target(fake_junos, host_keys=HostKeys((str(kh),), user_files=False))).open()
