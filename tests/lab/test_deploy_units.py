"""Device-facing code without devices: recorded IOS output, exact command lists, idempotency,
masking, the device-lock and commit-confirm shell, the Ansible module's arguments and result."""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import re
import signal
import subprocess
import sys

import pytest

from vendorwall.deploy import devlock, ios_plan, job, nftables, session
from vendorwall.deploy.common import Result
from vendorwall.deploy.errors import ConnectError

HERE = os.path.dirname(__file__)
FIX = os.path.join(HERE, "fixtures", "ios")
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
NORD = (3000, 3199)


def _fix(name: str) -> str:
    with open(os.path.join(FIX, name), encoding="utf-8") as fh:
        return fh.read()


RUNNING = _fix("sw-nord-1.running.txt")  # recorded from fake-switches, hand-configured drift
INTENDED = _fix("sw-nord-1.intended.ios")  # rendered by vendorwall for the example inventory


# --- IOS parsing and planning --------------------------------------------------------------------

def test_ios_parse_recorded_running_config():
    cfg = ios_plan.parse(RUNNING)
    assert cfg.vlans[3001] == "OLD-NAME" and cfg.vlans[100] == "USERS" and cfg.vlans[1] == ""
    assert cfg.ports["GigabitEthernet1/0/5"] == ios_plan.Port("vendorwall gone-vendor box", "access", 3050)
    assert cfg.ports["GigabitEthernet1/0/9"].shutdown
    assert cfg.ports["GigabitEthernet1/0/48"].trunk_allowed == (3000, 3001, 3050)
    assert cfg.ports["GigabitEthernet1/0/2"] == ios_plan.Port()


def test_ios_vlan_lists():
    assert ios_plan.parse_vlan_list("3000-3002,3005") == (3000, 3001, 3002, 3005)
    assert ios_plan.parse_vlan_list("none") == ()
    assert ios_plan.vlan_ranges([3005, 3000, 3001, 3002]) == "3000-3002,3005"
    assert ios_plan.vlan_ranges([]) == "none"


def test_ios_plan_exact_commands():
    p = ios_plan.plan_ios("sw-nord-1", RUNNING, INTENDED, NORD)
    want = ios_plan.parse(INTENDED)
    c = p.commands
    assert p.changed
    # every intended VLAN is created or renamed, each block closed with exit
    for vid, name in want.vlans.items():
        i = c.index(f"vlan {vid}")
        assert c[i + 1:i + 3] == [f" name {name}", "exit"]
    # a port in the wrong VLAN: only what differs
    i = c.index("interface GigabitEthernet1/0/1")
    assert c[i + 1:i + 3] == [f" switchport access vlan {want.ports['GigabitEthernet1/0/1'].access_vlan}", "exit"]
    # the port of a vendor that left: shut down first, then out of the VLAN, marked retired
    i = c.index("interface GigabitEthernet1/0/5")
    assert c[i + 1:i + 5] == [" shutdown", " description vendorwall retired (was VLAN 3050)",
                              " no switchport access vlan", "exit"]
    # the trunk carries the vendor VLANs only
    assert " switchport trunk allowed vlan 3000-3013" in c
    # the VLAN that left the intent goes last, after its ports and the trunk
    assert c[-1] == "no vlan 3050"
    # outside the site's range (100: users, 3500: another site's range) and unowned ports: untouched
    assert not [x for x in c if re.search(r"vlan (100|3500)\b", x) or "1/0/7" in x]
    assert "-vlan 3050" in p.diff and "+ switchport trunk allowed vlan 3000-3013" in p.diff


def test_ios_operator_shutdown_is_kept_retired_port_comes_back():
    running = RUNNING.replace("interface GigabitEthernet1/0/9\n", "interface GigabitEthernet1/0/3\n")
    p = ios_plan.plan_ios("sw", running, INTENDED, NORD)
    # an intended port an operator shut down, otherwise as intended: nothing to do, it stays down
    assert "interface GigabitEthernet1/0/3" not in p.commands and " no shutdown" not in p.commands
    assert p.target.ports["GigabitEthernet1/0/3"].shutdown
    retired = RUNNING.replace("description vendorwall tomora ct-nord-2",
                              "description vendorwall retired (was VLAN 3012)")
    retired = retired.replace("interface GigabitEthernet1/0/9\n", "interface GigabitEthernet1/0/3\n")
    p = ios_plan.plan_ios("sw", retired, INTENDED, NORD)
    i = p.commands.index("interface GigabitEthernet1/0/3")
    block = p.commands[i:p.commands.index("exit", i)]
    assert block[-1] == " no shutdown", "a port vendorwall retired comes back up, last"


def test_ios_idempotent_and_rollback():
    p = ios_plan.plan_ios("sw-nord-1", RUNNING, INTENDED, NORD)
    # a switch in the target state (rendered back as IOS text) plans nothing
    after = ios_plan.canonical(p.target) + "vlan 100\n name USERS\n"
    again = ios_plan.plan_ios("sw-nord-1", after, INTENDED, NORD)
    assert again.commands == [] and not again.changed and again.diff == ""
    assert ios_plan.satisfied(after, p.target, NORD)
    # rollback: the commands that bring what the push touched back to the backup
    back = ios_plan.rollback_commands(after, RUNNING, p.target.ports, NORD)
    restored = ios_plan.owned(ios_plan.parse(RUNNING), p.target.ports, NORD)
    assert "vlan 3050" in back and "no vlan 3002" in back
    assert ios_plan.rollback_commands(ios_plan.canonical(restored), RUNNING, p.target.ports, NORD) == []


def test_ios_intent_outside_range_is_refused():
    with pytest.raises(ValueError, match="outside the site's vlan_range"):
        ios_plan.plan_ios("sw", RUNNING, INTENDED, (3600, 3699))


# --- session: error patterns and masked logs ----------------------------------------------------

def test_error_patterns_come_from_the_platform_files():
    assert re.search(session.error_pattern("ios"), "% Invalid input detected at '^' marker.")
    assert re.search(session.error_pattern("nftables"), "/tmp/x.nft:3:1-4: Error: syntax error")
    assert re.search(session.error_pattern("nftables"), "sh: 1: nft: command not found")
    assert not re.search(session.error_pattern("ios"), "vlan 3000\n name VW-ERRORS-ARE-FINE")


def test_session_log_masks_secrets_and_payloads(tmp_path):
    path = str(tmp_path / "logs" / "sw.log")
    log = session._masked_log(path, ["s3cr3t-pw", "en4ble", ""])
    log.open()
    log.write("Password: s3cr3t-pw\nsw#enable\nPassword: en4")
    log.write("ble\necho " + "QUJD" * 100 + " | base64 -d\n")
    log.close()
    text = pathlib.Path(path).read_text()
    assert "s3cr3t-pw" not in text and "en4ble" not in text and "en4" not in text
    assert text.count(session.MASK) == 2 and "<payload 400 chars>" in text


def test_masked_command_in_errors():
    err = ConnectError("fw-x", "nftables", session.mask("echo " + "A" * 300), "boom")
    assert "<payload 300 chars>" in str(err) and "fw-x (nftables): connect failed" in str(err)


# --- device lock and commit-confirm, run in a real shell ----------------------------------------

def _sh(script: str) -> str:
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30).stdout


def test_device_lock_shell(tmp_path):
    d = str(tmp_path)
    # the holder: a shell that took the lock (its child does not inherit it, as on a device)
    holder = subprocess.Popen(["sh", "-c", devlock.acquire_command(d) + "; sleep 30 9>&-"], stdout=subprocess.PIPE,
                              text=True, start_new_session=True)
    try:
        assert holder.stdout and "__VW_LOCKED" in holder.stdout.readline()
        out = _sh(devlock.acquire_command(d))
        assert "__VW_HELD" in out and f"pid={os.getpid()}" in out and "controller=" in out and "since=" in out
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
    # the holder is gone: the kernel released its lock, nothing stale is left
    assert "__VW_LOCKED" in _sh(devlock.acquire_command(d))


def test_confirm_and_timer_claim_the_flag_exactly_once(tmp_path):
    d = tmp_path
    pending, rb = str(d / "pending.x"), str(d / "rollback.nft.x")
    (d / "pending.x").write_text("1\n")
    # the controller confirms first: the timer, firing later, does nothing
    assert "__VW_CLAIMED" in _sh(nftables._claim(pending, ""))
    timer = nftables._timer_script(pending, rb, 0).replace("nft -f", "echo ROLLBACK")
    assert "ROLLBACK" not in _sh(timer)
    # the timer fires first: the controller's confirm fails, it must report the rollback
    (d / "pending.x").write_text("1\n")
    assert "ROLLBACK" in _sh(timer)
    assert "__VW_CLAIMED" not in _sh(nftables._claim(pending, ""))


# --- the deploy job and the Ansible module -------------------------------------------------------

def test_job_selects_devices_and_rejects_unknown_ones():
    import datetime as dt

    from vendorwall import pipeline

    res = pipeline.run(os.path.join(ROOT, "inventories", "example"), dt.date(2026, 11, 28), check_lock=False)
    names = job.select(res.inventory, None)
    assert "fw-rive" in names and "sw-rive-1" in names and "bst-1" not in names
    assert job.select(res.inventory, ["localhost", "bst-1", "sw-rive-1", "fw-rive"]) == ["fw-rive", "sw-rive-1"]
    with pytest.raises(job.JobError, match=r"not in the inventory: fw-atlantis"):
        job.select(res.inventory, ["fw-atlantis"])
    with pytest.raises(job.JobError, match="unknown keys sudo"):
        job.check_connections({"fw-rive": {"sudo": True}}, res.inventory)
    [t] = job.targets(res, ["sw-rive-1"], job.Credentials(password="pw"), {"sw-rive-1": {"port": "2222"}})
    assert (t.host, t.port, t.platform, t.extra["vlan_range"]) == ("10.250.4.11", 2222, "ios", (3600, 3699))


def _module(args: dict, check: bool = False) -> dict:
    """Run library/vendorwall_deploy.py as Ansible would (a separate process, arguments on stdin)."""
    payload = {"ANSIBLE_MODULE_ARGS": {**args, "_ansible_check_mode": check}}
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "library", "vendorwall_deploy.py")],
                          input=json.dumps(payload), capture_output=True, text=True, timeout=120)
    return json.loads(proc.stdout)


def test_module_unknown_device_fails_with_a_hint():
    out = _module({"inventory": "inventories/example", "chdir": ROOT, "devices": ["fw-atlantis"],
                   "password": "hunter2-secret"})
    assert out["failed"] and "fw-atlantis" in out["msg"] and "firewalls and switches" in out["msg"]
    assert "hunter2-secret" not in json.dumps(out)


def test_module_unreachable_device_is_named_and_the_run_fails(tmp_path):
    # 192.0.2.1 (TEST-NET-1) is never routed here: the connection fails at once or times out in 1 s
    out = _module({"inventory": "inventories/example", "chdir": ROOT, "devices": ["fw-rive"],
                   "connections": {"fw-rive": {"host": "192.0.2.1", "port": 1}}, "connect_timeout": 1,
                   "lock_dir": str(tmp_path / "locks")}, check=True)
    assert out["failed"] and out["failed_devices"] == ["fw-rive"]
    err = out["devices"]["fw-rive"]["error"]
    assert err["kind"] == "connect" and err["device"] == "fw-rive" and err["platform"] == "nftables"
    assert "fw-rive (nftables): connect failed" in out["msg"]


def test_module_report_shape():
    from vendorwall.deploy import job as mod

    ok = Result("fw-a", "nftables", changed=True, diff="--- a\n+++ b\n", commands=["nft -f x"], before="a\n",
                after="b\n", seconds=1.0)
    same = Result("sw-b", "ios")
    out = mod.report([ok, same], 1.5, True, check=True)
    assert out["changed"] and out["failed_devices"] == [] and out["commands"] == ["fw-a: nft -f x"]
    assert out["devices"]["fw-a"]["before"] == "a\n" and out["devices"]["sw-b"]["state"] == "ok"
    assert out["diff"] == [{"before_header": "fw-a (running)", "after_header": "fw-a (intended)",
                            "before": "a\n", "after": "b\n"}]
    assert "fw-a (nftables): would change" in out["text"] and "1 would change, 1 unchanged" in out["text"]


# --- fan-out failure policy (fake pushers, no devices) -------------------------------------------

def _fake_fleet(monkeypatch, fail: set[str]):
    from vendorwall.deploy import fanout
    from vendorwall.deploy.session import Target

    calls: list[str] = []

    def push(t, text, opts):
        calls.append(t.device)
        r = Result(t.device, t.platform, changed=True)
        if t.device in fail:
            r.error = ConnectError(t.device, t.platform, f"ssh root@{t.host}:22", "TimeoutError: timed out")
        return r

    monkeypatch.setitem(fanout.PUSHERS, "nftables", push)
    targets = [Target(f"fw-{i}", "nftables", f"192.0.2.{i}") for i in range(6)]
    return fanout, targets, {t.device: "x" for t in targets}, calls


def test_fanout_continue_deploys_the_others(monkeypatch, tmp_path):
    fanout, targets, configs, calls = _fake_fleet(monkeypatch, {"fw-0"})
    res = fanout.deploy(targets, configs, lock_dir=str(tmp_path), workers=1)
    assert sorted(calls) == [t.device for t in targets]
    assert [r.state for r in res] == ["failed"] + ["changed"] * 5


def test_fanout_stop_starts_nothing_after_a_failure(monkeypatch, tmp_path):
    fanout, targets, configs, calls = _fake_fleet(monkeypatch, {"fw-0"})
    res = fanout.deploy(targets, configs, lock_dir=str(tmp_path), workers=1, on_failure="stop")
    assert calls == ["fw-0"] and [r.state for r in res] == ["failed"] + ["skipped"] * 5
    with pytest.raises(ValueError, match="on_failure"):
        fanout.deploy(targets, configs, lock_dir=str(tmp_path), on_failure="ignore")


def test_fanout_unsupported_platform_and_missing_config_are_errors(monkeypatch, tmp_path):
    from vendorwall.deploy.session import Target

    fanout, targets, _, _ = _fake_fleet(monkeypatch, set())
    odd = [Target("fw-pan", "nosuchos", "192.0.2.50"), targets[0]]  # a platform without a pusher (panos has one)
    res = fanout.deploy(odd, {"fw-pan": "x"}, lock_dir=str(tmp_path))
    by = {r.device: r for r in res}
    assert by["fw-pan"].error is not None and by["fw-pan"].error.kind == "unsupported"
    assert "no rendered configuration" in str(by["fw-0"].error)


def test_controller_lock_waits_then_names_the_holder(tmp_path):
    from vendorwall.deploy import fanout
    from vendorwall.deploy.errors import LockError

    with (fanout.DeviceLock(str(tmp_path), "fw-a", 0), pytest.raises(LockError, match=f"pid {os.getpid()}"),
          fanout.DeviceLock(str(tmp_path), "fw-a", 0.3)):
        pass


# --- what is pushed: always the inventory's rendering (no stale file), production refuses a stale lock -------

def _copy_example(tmp_path):
    import shutil

    dst = tmp_path / "example"
    shutil.copytree(os.path.join(ROOT, "inventories", "example"), dst)
    return str(dst)


def test_reviewed_files_older_than_the_inventory_are_refused_by_name(tmp_path):
    """The reviewed files of a plan, then an inventory change: deploying those files is refused, each stale
    file named (before: the old files were pushed as they were, 'changed', rc 0)."""
    from vendorwall import plan

    inv = _copy_example(tmp_path)
    out = str(tmp_path / "out")
    plan.plan(inv, dt.date(2026, 11, 28), out)
    devices = ["fw-centre", "fw-nord", "fw-rive", "fw-sud", "sw-rive-1"]
    req = job.Request(inventory=inv, devices=devices, configs=out, now="2026-11-28")
    assert sorted(job.prepare(req).configs) == devices  # fresh: accepted
    vendor = os.path.join(inv, "vendorwall", "vendors", "tomora.yml")
    text = pathlib.Path(vendor).read_text()
    assert "services: [ssh, https]" in text
    with open(vendor, "w") as fh:  # the vendor's SSH access removed: its firewalls' rulesets change
        fh.write(text.replace("services: [ssh, https]", "services: [https]"))
    fresh = job.prepare(job.Request(inventory=inv, devices=devices, now="2026-11-28"))  # the push renders it
    ext = {n: fresh.result.configs[n].extension for n in devices}
    changed = [n for n in devices if fresh.configs[n] != pathlib.Path(out, f"{n}.{ext[n]}").read_text()]
    assert changed and "sw-rive-1" not in changed
    with pytest.raises(job.JobError) as exc:
        job.prepare(req)
    msg = exc.value.render()
    assert "nothing was pushed" in msg and "stale" in msg
    assert [n for n in devices if f"/{n}." in msg] == changed, msg


def test_production_refuses_a_stale_lock_file(tmp_path):
    from vendorwall.errors import VendorwallError

    inv = _copy_example(tmp_path)
    job.prepare(job.Request(inventory=inv, devices=["fw-rive"], production=True, now="2026-11-28"))  # committed lock
    lock = os.path.join(inv, "vendorwall", "allocations.lock.yml")
    text = pathlib.Path(lock).read_text()
    first = text.index("\n  ", text.index("segments:"))  # drop the first pinned segment
    end = text.index("\n  ", first + 3)
    while text[end + 3] == " ":
        end = text.index("\n  ", end + 3)
    with open(lock, "w") as fh:
        fh.write(text[:first] + text[end:])
    with pytest.raises(VendorwallError) as exc:
        job.prepare(job.Request(inventory=inv, devices=["fw-rive"], production=True, now="2026-11-28"))
    assert "allocation lock file is stale" in exc.value.render()
    job.prepare(job.Request(inventory=inv, devices=["fw-rive"], now="2026-11-28"))  # not production: pushed
    os.unlink(lock)
    with pytest.raises(job.JobError, match="production: no allocation lock file"):
        job.prepare(job.Request(inventory=inv, devices=["fw-rive"], production=True, now="2026-11-28"))


def test_device_result_credits_each_device():
    """The per-host task's result: unreachable for a connection failure, failed for the rest, changed or ok
    with a one-line msg; details only with -v."""
    from vendorwall.ansible_action import device_result

    run = {"devices": {
        "fw-a": {"state": "failed", "msg": "fw-a (nftables): connect failed", "error": {"kind": "connect"}},
        "fw-b": {"state": "failed", "msg": "fw-b (nftables): verify failed", "error": {"kind": "verify"},
                 "commands": ["nft -f x"]},
        "fw-c": {"state": "changed", "changed": True, "seconds": 1.2, "before": "a", "after": "b",
                 "msg": "fw-c (nftables): changed in 1.2 s"},
        "sw-d": {"state": "ok", "changed": False, "seconds": 0.5},
        "sw-e": {"state": "skipped", "msg": "skipped (on_failure=stop)"}}}
    assert device_result(run, "fw-a") == {"changed": False, "msg": "fw-a (nftables): connect failed",
                                          "unreachable": True}
    b = device_result(run, "fw-b")
    assert b["failed"] and "unreachable" not in b and "commands" not in b
    assert device_result(run, "fw-b", verbosity=1)["commands"] == ["nft -f x"]
    c = device_result(run, "fw-c", diff=True)
    assert c["changed"] and c["diff"]["before"] == "a" and c["diff"]["after_header"] == "fw-c (intended)"
    assert device_result(run, "sw-d") == {"changed": False, "msg": "ok (no change) in 0.5 s"}
    assert device_result(run, "sw-e")["skipped"]
    assert device_result(run, "bst-1")["skipped"]  # a host of the play that is not deployed
    assert device_result({"failed": True, "msg": "bad inventory"}, "fw-a")["failed"]
