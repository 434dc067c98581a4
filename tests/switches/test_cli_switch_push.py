"""NX-OS and AOS-CX pushers on scripted sessions (``cli_emulator``): the exact session (show,
checkpoint, configuration, verification, confirm, save, cleanup), check mode, idempotency,
rejected commands and their rollback, a failed native rollback, a session lost mid-change, and the
fan-out registry and deploy targets for every switch platform."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_emulator import Emulator

from vendorwall.deploy import aoscx, aoscx_plan, fanout, job, nxos, nxos_plan, switch_plan
from vendorwall.deploy.common import Options
from vendorwall.deploy.errors import CommandError
from vendorwall.deploy.session import Session, Target

FIX = Path(__file__).parent / "fixtures"
NORD, SUD = (3000, 3199), (3200, 3399)
CASES = {
    "nxos": (nxos, nxos_plan, "sw-nord-1.running.nxos.txt", "sw-nord-1.intended.nxos", NORD),
    "aoscx": (aoscx, aoscx_plan, "sw-sud-1.running.aoscx.txt", "sw-sud-1.intended.aoscx", SUD),
}


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """run(platform, emulator=None, **options) -> (Result, Emulator)."""
    def go(platform: str, emu: Emulator | None = None, **opts):
        mod, _, running, intended, vr = CASES[platform]
        emu = emu or Emulator(platform, (FIX / running).read_text())

        def fake_open(self: Session) -> Session:
            self.conn = emu
            return self

        monkeypatch.setattr(Session, "open", fake_open)
        t = Target(f"sw-{platform}", platform, "192.0.2.10", backup_dir=str(tmp_path / "backups"),
                   extra={"vlan_range": vr})
        return mod.push(t, (FIX / intended).read_text(), Options(**opts)), emu
    return go


def fresh(platform: str, **kw) -> Emulator:
    return Emulator(platform, (FIX / CASES[platform][2]).read_text(), **kw)


@pytest.mark.parametrize("platform", ["nxos", "aoscx"])
def test_check_mode_sends_nothing_but_show(run, platform: str) -> None:
    r, emu = run(platform, check=True)
    assert r.error is None and r.changed and r.commands and r.diff
    assert emu.sent == ["show running-config"] and emu.saved == 0 and not r.backup


def test_nxos_session_checkpoint_change_verify_save_cleanup(run) -> None:
    r, emu = run("nxos")
    assert r.error is None and r.changed and not r.rolled_back
    name = next(c.split()[1] for c in emu.sent if c.startswith("checkpoint "))
    assert emu.sent[:2] == ["show running-config", f"checkpoint {name}"]
    assert emu.sent[2:-3] == r.commands  # the plan, exactly, in one configuration session
    assert emu.sent[-3:] == ["show running-config", "copy running-config startup-config", f"no checkpoint {name}"]
    assert emu.saved == 1 and not emu.checkpoints
    assert "vlan 3050" in Path(r.backup).read_text()  # the running configuration before the change
    # the device now holds the target: a rerun changes nothing and sends nothing but show
    again, emu2 = run("nxos", emu)
    assert not again.changed and again.error is None and emu2.sent[-1] == "show running-config"


def test_aoscx_session_auto_checkpoint_confirmed_then_saved(run) -> None:
    r, emu = run("aoscx", confirm_s=90)
    assert r.error is None and r.changed
    assert emu.sent[:2] == ["show running-config", "checkpoint auto 2"]  # 90 s -> 2 minutes
    assert emu.sent[-3:] == ["show running-config", "checkpoint auto confirm", "write memory"]
    assert emu.confirmed == 1 and emu.saved == 1
    again, _ = run("aoscx", emu)
    assert not again.changed


def test_nxos_rejected_command_native_rollback(run) -> None:
    emu = fresh("nxos", reject={"  switchport access vlan 3011"})
    before = switch_plan.owned_text(nxos_plan.DIALECT, emu.state, ["Ethernet1/1", "Ethernet1/2", "Ethernet1/48"], NORD)
    r, emu = run("nxos", emu)
    assert isinstance(r.error, CommandError) and r.rolled_back and r.error.rolled_back
    assert "switchport access vlan 3011" in r.error.command
    assert any(c.startswith("rollback running-config checkpoint vendorwall_") for c in emu.sent)
    assert emu.saved == 0 and not emu.checkpoints  # nothing saved, checkpoint removed
    assert switch_plan.owned_text(nxos_plan.DIALECT, emu.state, ["Ethernet1/1", "Ethernet1/2", "Ethernet1/48"],
                                  NORD) == before


def test_nxos_failed_native_rollback_falls_back_to_reverse_commands(run) -> None:
    emu = fresh("nxos", reject={"  switchport access vlan 3011"}, rollback_fails=True)
    original = Emulator("nxos", emu.recorded).state
    r, emu = run("nxos", emu)
    assert isinstance(r.error, CommandError) and r.rolled_back
    i = next(i for i, c in enumerate(emu.sent) if c.startswith("rollback running-config"))
    assert "vlan 3001" in emu.sent[i:] and "  name OLD-NAME" in emu.sent[i:]  # reverse commands sent
    ports = [*list(nxos_plan.parse((FIX / CASES["nxos"][3]).read_text()).ports), "Ethernet1/5"]
    assert switch_plan.satisfied(nxos_plan.DIALECT, emu.state, switch_plan.owned(
        switch_plan.complete(nxos_plan.DIALECT, original, ports), ports, NORD), NORD)


def test_aoscx_rejected_command_reverse_commands_then_confirm(run) -> None:
    emu = fresh("aoscx", reject={"    vlan access 3211"})
    r, emu = run("aoscx", emu)
    assert isinstance(r.error, CommandError) and r.rolled_back
    assert emu.sent[-1] == "checkpoint auto confirm" and emu.saved == 0  # back to the backup, confirmed
    assert emu.state.vlans.get(3250) == "GONE-VENDOR" and 3212 not in emu.state.vlans


def test_verification_failure_rolls_back(run) -> None:
    def tamper(s: Session) -> None:
        s.conn.state.ports["Ethernet1/1"] = switch_plan.Port("someone else", "access", 100, None, False)

    r, emu = run("nxos", after_apply=tamper)
    assert r.error is not None and r.error.kind == "verify" and r.rolled_back
    assert "someone else" in r.error.message and emu.saved == 0


@pytest.mark.parametrize("platform,note", [("aoscx", "restores its previous configuration by itself"),
                                           ("nxos", "not saved")])
def test_session_lost_mid_change_is_reported_with_what_the_switch_does(run, platform: str, note: str) -> None:
    cmd = "  switchport access vlan 3011" if platform == "nxos" else "    vlan access 3211"
    r, emu = run(platform, fresh(platform, die_at=cmd))
    assert r.error is not None and r.error.kind == "connection lost" and note in r.error.message
    assert emu.saved == 0


def test_every_switch_platform_has_a_pusher_and_its_vlan_range() -> None:
    from vendorwall_testlib import NOW, REPO

    from vendorwall import pipeline

    assert {"nxos", "aoscx", "junos", "ios"} <= set(fanout.PUSHERS)
    res = pipeline.run(str(REPO / "inventories" / "example-switches"), NOW)
    names = job.select(res.inventory, None)
    targets = {t.device: t for t in job.targets(res, names, job.Credentials())}
    assert targets["sw-nord-1"].extra["vlan_range"] == (3000, 3199)
    assert targets["sw-sud-1"].extra["vlan_range"] == (3200, 3399)
    assert targets["sw-centre-1"].extra["vlan_range"] == (3400, 3599)
    assert Session(targets["sw-nord-1"]).device_type == "cisco_nxos"
    assert Session(targets["sw-sud-1"]).device_type == "aruba_aoscx"
