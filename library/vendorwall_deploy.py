#!/usr/bin/python
"""Ansible module vendorwall_deploy: push the rendered configurations to the firewalls and switches."""
# Ansible's layout puts DOCUMENTATION, EXAMPLES and RETURN before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vendorwall_deploy
short_description: Push vendorwall's firewall and switch configurations to the devices
description:
  - Renders, in memory, the configuration of every firewall and switch of a vendorwall inventory from
    the inventory itself (never from files an earlier run left), and pushes it, in the shape of a network
    resource module
    - C(before) (what runs), C(commands), C(after) (what runs afterwards), C(changed), and with
    C(--diff) the unified diff between what runs and what is intended, per device (RV(devices)).
  - B(Runs once, on the controller), and fans out to every device with a thread pool (a few seconds
    for 50 firewalls, against 10-20 s for Ansible's per-host loop). Use it with
    C(run_once=true), C(delegate_to=localhost) and
    C(ansible_python_interpreter={{ ansible_playbook_python }}), the Python in which the vendorwall
    package is installed, then credit each device with its own result with the per-host task
    M(vendorwall_device_result). The role vendorwall_deploy does all of this.
  - B(What is pushed) - the intent rendered in memory from O(inventory) and the devices of the play's
    inventory (its action plugin sends them, so C(group_vars/), C(host_vars/), INI, dynamic inventories and
    the run's credentials work as for any Ansible task). C(--limit), tags and C(--start-at-task) can
    therefore never push a stale file. With O(configs), the reviewed files of an earlier plan are checked
    against that rendering first and any that differs is refused, by name. With O(production=true) a
    stale (or missing) allocation lock file is refused (production pushes only what the committed lock
    pins).
  - B(nftables firewalls) - upload, plan on the device (the intended file loaded into a throwaway
    network namespace and listed next to the live table), back up the ruleset on the device (kept
    O(backups) deep), arm a commit-confirm timer of O(confirm_seconds), apply in one C(nft -f)
    transaction, verify (the live table equals the intended one and a new management session
    answers), confirm. A failed verification is rolled back by the controller; a lost session is
    rolled back by the device's timer. Quarantine and grant set elements are never touched.
  - B(IOS switches) - C(show running-config) (backed up on the controller in O(backup_dir)), plan
    want vs. have on what vendorwall owns (the VLANs of the site's C(vlan_range), the intended
    access ports, the uplink trunk's allowed list; vendorwall VLANs that left the intent are removed,
    VLANs outside the range never), configuration commands checked against the platform's error
    patterns, verification, C(write memory). A rejected command or a failed verification restores
    the backup's state of what the push touched, and nothing is saved.
  - B(Locks) - a device is never pushed to by two runs at once. On the controller, one lock file per
    device in O(lock_dir) (a second run waits up to O(lock_wait) seconds, then fails naming the
    holder's pid). On a Linux firewall, also a lock on the device itself (C(flock) held by the push's
    own SSH session, released by the kernel when the session ends, so it can never go stale); a second
    controller is refused with a message naming the device and the holder (controller, pid, time).
  - B(Failures) - every device is handled on its own. A rejected command or a failed verification
    never leaves a device half-applied (rolled back, see above). A session lost in the middle of a
    push is rolled back by the firewall's timer; on an IOS switch it can leave the running
    configuration partly changed but never saved, and the next run, which plans against what runs,
    converges. With O(on_failure=continue) an unreachable or failing device is reported with a
    typed error naming it, its platform and the command, and the other devices are still deployed;
    with O(on_failure=stop) no further device is started after the first failure (reported as
    skipped). In both cases the task fails at the end if any device failed.
version_added: "0.1.0"
author:
  - vendorwall contributors (@vendorwall)
options:
  inventory:
    description:
      - The inventory directory (C(vendorwall/), the domain files, and unless O(hosts) is given the
        Ansible inventory of the devices), e.g. C(inventories/example).
    type: path
    required: true
  hosts:
    description:
      - The devices as the play's inventory defines them, host name to C(groups), C(vars) (the C(vw_*),
        C(vendorwall_*) and connection variables) and C(origins). Set by the action plugin; leave it out.
    type: dict
  host_secrets:
    description:
      - Per host C(ansible_password) and C(ansible_become_password). Set by the action plugin; never logged.
    type: dict
  devices:
    description:
      - The devices to push to, among the firewalls and switches of the inventory. Names of other
        hosts (bastions, localhost) are ignored; a name that is not a host of the inventory is an error.
      - Default every firewall and switch. The role passes C(ansible_play_hosts), so C(--limit) works.
    type: list
    elements: str
  configs:
    description:
      - Reviewed files of an earlier plan (C(<device>.nft), C(<device>.ios)...). Each is compared with
        what the inventory renders now; if any differs (an older inventory or lock file), nothing is
        pushed and the stale files are named. Default none (push the in-memory rendering).
    type: path
  production:
    description:
      - Refuse to push when the allocation lock file is stale or missing (the committed lock must pin
        every segment that is pushed).
    type: bool
    default: false
  now:
    description:
      - The date to compile for (YYYY-MM-DD). Default today (UTC).
    type: str
  state_dir:
    description:
      - The inventory's state directory (manifest, locks, backups). Default C($VENDORWALL_STATE_DIR/<inventory>),
        else C(/var/lib/vendorwall/<inventory>) when writable, else C(~/.local/state/vendorwall/<inventory>).
    type: path
  lab_dir:
    description:
      - Push to a lab started by C(vendorwall lab up) instead, with its devices' addresses, keys, passwords and
        known_hosts, connections opened from its controller namespace.
    type: path
  actor:
    description:
      - Who the run acts for (AWX/AAP user and job). Set by the action plugin; recorded in the journals.
    type: dict
  chdir:
    description:
      - Change into this directory first; relative paths are resolved against it.
    type: path
  confirm_seconds:
    description:
      - The commit-confirm timer on nftables firewalls. If the controller has not confirmed a
        verified change within this time (session lost, controller killed), the device rolls back
        by itself.
    type: int
    default: 60
  backups:
    description:
      - Backups kept per device (on the firewall, in its vendorwall directory; for switches, in O(backup_dir)).
    type: int
    default: 10
  on_failure:
    description:
      - What to do with the other devices when one fails. V(continue) deploys them all anyway;
        V(stop) starts no further device after the first failure. The task fails either way.
    type: str
    choices: [continue, stop]
    default: continue
  username:
    description:
      - The SSH user on every device, unless O(connections) names another one (default each device's
        C(ansible_user), else root).
    type: str
  known_hosts:
    description:
      - known_hosts files to trust besides the inventory's C(vendorwall_known_hosts), C(~/.ssh/known_hosts)
        and C(/etc/ssh/ssh_known_hosts). Host keys are always verified.
    type: list
    elements: path
    default: []
  host_key_policy:
    description:
      - C(verify) (default) refuses a device whose host key is not known; C(accept-new) trusts a new key on
        first use and records it (logged). A changed key is always refused.
    type: str
    choices: [verify, accept-new]
  key_file:
    description:
      - The SSH private key file, unless O(connections) names another one.
    type: path
  password:
    description:
      - The SSH password (switches without key login). Never logged; masked in session logs.
    type: str
  enable_secret:
    description:
      - The IOS enable secret. Never logged; masked in session logs.
    type: str
  connections:
    description:
      - Per-device connection overrides, device name to a mapping of C(host), C(port), C(netns),
        C(username), C(key_file), C(remote_dir). Default the C(ansible_host) of C(hosts.yml), port 22.
      - C(netns) opens the TCP connection from inside that network namespace of the controller
        (needs root). The lab uses it; C(vendorwall lab up) writes the overrides of its devices to
        C(<lab dir>/ansible-vars.yml).
    type: dict
  lock_dir:
    description:
      - The controller-side lock directory (one lock file per device). Default C(locks/) of the state directory.
    type: path
  lock_wait:
    description:
      - Seconds a run waits for another run's controller-side lock on a device before failing.
    type: int
    default: 30
  backup_dir:
    description:
      - Where the running configuration of IOS switches is backed up on the controller.
        Default C(backups/) of the state directory.
    type: path
  log_dir:
    description:
      - Write one netmiko session log per device here (C(<device>.log)), passwords and the enable
        secret replaced by C(********). Default no session logs.
    type: path
  workers:
    description:
      - Devices pushed in parallel.
    type: int
    default: 16
  connect_timeout:
    description:
      - Seconds to open an SSH session.
    type: int
    default: 10
  command_timeout:
    description:
      - Seconds a command may run before the device is reported as failed.
    type: int
    default: 60
requirements:
  - the vendorwall Python package (with netmiko) in the Python that runs the module (C(pip install -e .))
notes:
  - Check mode plans every device (it connects, reads and compares) and changes nothing; on an
    nftables firewall it uploads the intended file to the device's vendorwall directory, which is
    not configuration.
  - After a push (not in check mode) the isolation manifest in the state directory is refreshed from
    the same rendering, so C(isolate.yml) acts on what was deployed even when C(--limit) skipped the plan.
  - There is no C(state) option, the intent is the inventory. To remove vendor access, remove it
    from the inventory and deploy.
attributes:
  check_mode:
    description: Plans every device and reports what would change, changing nothing.
    support: full
  diff_mode:
    description: Returns the unified diff between the running and the intended configuration of every device
      that changes.
    support: full
"""

EXAMPLES = r"""
- name: Push the intent of the inventory to the devices of the play
  vendorwall_deploy:
    inventory: inventories/example
    devices: "{{ ansible_play_hosts }}"
    key_file: ~/.ssh/vendorwall_ed25519
    enable_secret: "{{ vault_ios_enable_secret }}"
    confirm_seconds: 60
    on_failure: continue
  delegate_to: localhost
  run_once: true
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  changed_when: false
  failed_when: vendorwall_deploy_run.devices is not defined
  register: vendorwall_deploy_run

- name: Credit each device with its own result (PLAY RECAP, AWX host status)
  vendorwall_device_result:
    run: "{{ vendorwall_deploy_run }}"

- name: Check mode against the lab (vendorwall lab up)
  vendorwall_deploy:
    inventory: inventories/example
    lab_dir: build/lab/example
  check_mode: true
  delegate_to: localhost
  run_once: true
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""

RETURN = r"""
changed:
  description: Whether any device changed (in check mode, would change).
  returned: always
  type: bool
devices:
  description: Per device, what was found, done and left.
  returned: always
  type: dict
  contains:
    state:
      description: V(changed), V(ok) (nothing to do), V(failed) or V(skipped) (O(on_failure=stop)).
      type: str
    msg:
      description: One line, as the per-device task prints it.
      type: str
    changed:
      description: Whether the device changed (in check mode, would change).
      type: bool
    before:
      description: What runs, as compared (nftables - the listing of the policy table and the state
        table's declarations; IOS - the part vendorwall owns).
      type: str
    commands:
      description: What the push sends or does (nftables - the steps of the safe apply; IOS - the
        configuration commands, in order).
      type: list
      elements: str
    after:
      description: What runs afterwards (in check mode, what would run).
      type: str
    diff:
      description: The unified diff between C(before) and what is intended.
      type: str
    failed:
      description: Whether the device failed.
      type: bool
    error:
      description: The typed error (kind - connect, command, verify, confirm, lock, connection lost,
        unsupported; device; platform; command; message; rolled_back).
      type: dict
    rolled_back:
      description: Whether a change was rolled back to the backup.
      type: bool
    backup:
      description: The backup taken before the change (a path on the firewall, or on the controller for IOS).
      type: str
    seconds:
      description: Time spent on the device.
      type: float
  sample:
    fw-rive:
      state: changed
      changed: true
      before: "table inet vendorwall {\n..."
      commands: ["nft -f /var/lib/vendorwall/intended.nft  # one transaction"]
      after: "table inet vendorwall {\n..."
      diff: "--- fw-rive: running\n+++ fw-rive: intended\n..."
      failed: false
      error: null
      rolled_back: false
      backup: /var/lib/vendorwall/backup/20261128T101500-123.nft
      seconds: 3.9
commands:
  description: Every device's commands, prefixed with the device name.
  returned: always
  type: list
  elements: str
  sample: ["sw-nord-1: vlan 3014", "sw-nord-1:  name VW-ACME-CT-NORD-3", "sw-nord-1: exit"]
failed_devices:
  description: The devices that failed.
  returned: always
  type: list
  elements: str
text:
  description: One line per device and a summary line, as the role prints them.
  returned: always
  type: str
  sample: "fw-rive (nftables): changed in 3.9 s\ndeploy: 1 devices, 1 changed, 0 unchanged, 0 failed, 0 skipped, 4.0 s"
summary:
  description: Counts (devices, changed, ok, failed, skipped) and the wall time of the run.
  returned: always
  type: dict
  sample: {devices: 10, changed: 2, ok: 8, failed: 0, skipped: 0, seconds: 4.6}
diff:
  description: Per device that changes, the running and the intended configuration (Ansible's diff mode).
  returned: with --diff, when something changes
  type: list
  elements: dict
"""

import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from vendorwall import ansible_support as support
    from vendorwall.deploy import fanout, job
    from vendorwall.deploy.common import Options
except ImportError:
    HAS_VENDORWALL = False
    IMPORT_ERROR = traceback.format_exc()
else:
    HAS_VENDORWALL = True
    IMPORT_ERROR = ""

ARGUMENT_SPEC = {
    "inventory": {"type": "path", "required": True},
    "hosts": {"type": "dict"},
    "host_secrets": {"type": "dict", "no_log": True},
    "devices": {"type": "list", "elements": "str"},
    "configs": {"type": "path"},
    "production": {"type": "bool", "default": False},
    "now": {"type": "str"},
    "chdir": {"type": "path"},
    "state_dir": {"type": "path"},
    "lab_dir": {"type": "path"},
    "actor": {"type": "dict"},
    "confirm_seconds": {"type": "int", "default": 60},
    "backups": {"type": "int", "default": 10},
    "on_failure": {"type": "str", "choices": ["continue", "stop"], "default": "continue"},
    "username": {"type": "str"},
    "known_hosts": {"type": "list", "elements": "path", "default": []},
    "host_key_policy": {"type": "str", "choices": ["verify", "accept-new"]},
    "key_file": {"type": "path"},
    "password": {"type": "str", "no_log": True},
    "enable_secret": {"type": "str", "no_log": True},
    "connections": {"type": "dict"},
    "lock_dir": {"type": "path"},
    "lock_wait": {"type": "int", "default": 30},
    "backup_dir": {"type": "path"},
    "log_dir": {"type": "path"},
    "workers": {"type": "int", "default": 16},
    "connect_timeout": {"type": "int", "default": 10},
    "command_timeout": {"type": "int", "default": 60},
}


def request(p):
    """The module's parameters as a deploy request (vendorwall.deploy.job.Request)."""
    return job.Request(
        inventory=p["inventory"], hosts=support.hosts_arg(p), devices=p["devices"], configs=p["configs"],
        production=p["production"], now=p["now"], lab_dir=p["lab_dir"],
        creds=job.Credentials(p["username"], p["key_file"], p["password"], p["enable_secret"],
                              tuple(p["known_hosts"]), p["host_key_policy"]),
        connections=p["connections"], paths=job.Paths(lock_dir=p["lock_dir"], backup_dir=p["backup_dir"],
                                                      log_dir=p["log_dir"]),
        connect_timeout=p["connect_timeout"], command_timeout=p["command_timeout"])


def run_module():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_VENDORWALL:
        module.fail_json(msg=missing_required_lib("vendorwall", reason="to deploy")
                         + " Install it in the Python that runs ansible-playbook: pip install -e .",
                         exception=IMPORT_ERROR)
    p = module.params
    support.chdir(module, p["chdir"])
    support.run_context(p["state_dir"], p["actor"])
    with support.failing(module, stage=True, also=(job.JobError,), internal=False):
        prepared = job.prepare(request(p))
    t0 = time.monotonic()
    opts = Options(check=module.check_mode, confirm_s=p["confirm_seconds"], backups=p["backups"])
    results = fanout.deploy(prepared.targets, prepared.configs, opts, lock_dir=prepared.paths.lock_dir,
                            lock_wait_s=p["lock_wait"], workers=p["workers"], on_failure=p["on_failure"])
    result = job.report(results, time.monotonic() - t0, module._diff, module.check_mode)
    if not module.check_mode and any(r.changed and not r.failed for r in results):
        result["manifest"] = job.refresh_manifest(prepared)
    failed = [r for r in results if r.failed]
    if failed:
        s = result["summary"]
        module.fail_json(msg=f"{len(failed)} of {s['devices']} devices failed (on_failure={p['on_failure']}; "
                         f"{s['changed']} changed, {s['skipped']} skipped):\n"
                         + "\n".join(f"  {r.error}" for r in failed), **result)
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
