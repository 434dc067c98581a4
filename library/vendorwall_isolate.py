#!/usr/bin/python
"""Ansible module vendorwall_isolate: emergency isolation of a vendor on every firewall (controller side)."""
# Ansible's layout puts DOCUMENTATION, EXAMPLES and RETURN before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vendorwall_isolate
short_description: Cut a vendor (or all vendors) on every firewall at once, live sessions included, or restore it
description:
  - Runs once, on the controller, and fans out itself with a thread pool (one SSH round trip per
    firewall, all firewalls at once), exactly as C(vendorwall isolate) and C(vendorwall restore) do.
    An Ansible host loop would cost 8-12 s for 50 firewalls; this costs about one SSH round trip.
  - O(action=isolate) adds the vendor's entry paths (bastion source, VPN pool, LAN-to-LAN subnets) to the
    quarantine set of the persistent state table C(inet vendorwall_state) of every firewall. The state
    chain drops quarantined addresses before any established-connection accept, so live sessions stop
    at their next packet. With O(scope=segment) the vendor's segments are quarantined too, except the
    clinical flows the inventory marks C(keep=true).
  - O(action=restore) removes exactly the vendor's quarantine elements.
  - Reads only the isolation manifest written by C(vendorwall plan) (C(build/<inventory>/manifest.json)),
    never the inventory, so a broken inventory or a missing checkout does not stop an isolation.
  - Every firewall is handled independently. One that cannot be reached is named in the result and
    fails the task; the others are isolated all the same, and a rerun (idempotent) finishes the job.
  - Every run appends a C(started) and a C(finished) entry to the hash-chained incident journal.
  - Use it with C(delegate_to=localhost), C(run_once=true) and
    C(ansible_python_interpreter={{ ansible_playbook_python }}), the Python where vendorwall is installed.
version_added: "0.1.0"
author:
  - vendorwall contributors (@vendorwall)
options:
  action:
    description: C(isolate) cuts the vendor, C(restore) lifts the isolation.
    type: str
    choices: [isolate, restore]
    default: isolate
  vendor:
    description: A vendor name of the manifest, or C(all).
    type: str
    required: true
  reason:
    description: Why; written to the incident journal and the report. Must not be empty.
    type: str
    required: true
  ticket:
    description: Incident or change ticket reference, for the journal.
    type: str
    default: ""
  scope:
    description:
      - C(access) quarantines the vendor's entry paths only (the vendor's access; patient care untouched).
      - C(segment) also quarantines the vendor's segments, keeping only the must-keep clinical flows.
      - Ignored by O(action=restore), which lifts both.
    type: str
    choices: [access, segment]
    default: access
  manifest:
    description:
      - The isolation manifest. Default C(manifest/manifest.json) in the state directory of O(inventory).
    type: path
  inventory:
    description:
      - The inventory directory (or a file in it, such as its C(hosts.yml)); only its name is used, to find
        the default manifest. Pass C(ansible_inventory_sources).
    type: list
    elements: str
    default: []
  journal:
    description: The incident journal. Default C(journals/incident.jsonl) in the inventory's state directory.
    type: path
  user:
    description: SSH user on the firewalls (default their C(ansible_user) at plan time, else root).
    type: str
  key_file:
    description: SSH private key. Default the SSH agent and the keys of C(~/.ssh).
    type: path
  port:
    description: SSH port of the firewalls (default their C(ansible_port) at plan time, else 22).
    type: int
  connect_timeout:
    description: Seconds per SSH connection.
    type: float
    default: 5
  command_timeout:
    description: Seconds for a firewall's script.
    type: float
    default: 30
  workers:
    description: Firewalls handled at once (as C(vendorwall isolate --workers)).
    type: int
    default: 256
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
  credential:
    description:
      - The run's credentials as inventory variables (C(ansible_user), C(ansible_ssh_private_key_file),
        C(ansible_password), C(ansible_become_password)) from C(-u), C(--private-key), C(-k), C(-K) or an AWX
        Machine credential; below the manifest's own variables. Set by the action plugin; never logged.
    type: dict
  state_dir:
    description:
      - The inventory's state directory, where C(vendorwall plan) wrote the manifest and the journals are.
        Default C($VENDORWALL_STATE_DIR/<inventory>), else C(/var/lib/vendorwall/<inventory>) when writable,
        else C(~/.local/state/vendorwall/<inventory>).
    type: path
  actor:
    description: Who the run acts for (the AWX/AAP user and job). Set by the action plugin; recorded in the journal.
    type: dict
  lab_dir:
    description:
      - Act on a lab started by C(vendorwall lab up) (its key, connections from its controller namespace)
        and probe the vendor side and the clinical flows afterwards.
    type: path
  chdir:
    description: Change into this directory first; relative paths are resolved against it.
    type: path
requirements:
  - the vendorwall Python package and paramiko in the Python that runs the module (C(pip install -e .))
notes:
  - Check mode connects to every firewall and only reads. It returns what would be quarantined (or lifted)
    per device, the live sessions of those prefixes (C(conntrack -L), when the firewall has it), the flows
    that would be cut and the must-keep clinical flows that stay up, the accounts and tunnels.
  - Accounts on the bastions and LAN-to-LAN tunnels are listed for a manual action (not automated yet);
    their traffic is dropped by the firewalls meanwhile (bastion sources and tunnel subnets are quarantined).
attributes:
  check_mode:
    description: Reads every firewall, changes nothing, reports what would change.
    support: full
  diff_mode:
    description: Not supported; RV(result.devices) lists the elements added or removed per firewall.
    support: none
"""

EXAMPLES = r"""
- name: Cut dedalus on every firewall now
  vendorwall_isolate:
    action: isolate
    vendor: dedalus
    reason: "Vendor breach notice CERT-2026-041"
    ticket: INC-4711
    inventory: "{{ ansible_inventory_sources }}"
    chdir: "{{ playbook_dir | dirname }}"
  delegate_to: localhost
  run_once: true
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  register: vendorwall_isolate_result

- name: Lift it
  vendorwall_isolate:
    action: restore
    vendor: dedalus
    reason: "Vendor cleared by the CISO"
    manifest: build/chu/manifest.json
  delegate_to: localhost
  run_once: true
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""

RETURN = r"""
report:
  description: The timestamped report C(vendorwall isolate) prints, one line per list item.
  returned: always, except on bad input
  type: list
  elements: str
  sample:
    - "2026-11-28T03:02:11.120Z  ISOLATE vendor dedalus (scope access)  reason: breach  ticket: INC-4711"
    - "2026-11-28T03:02:11.742Z  fw-nord        isolated      2 added, 0 already there  0.52 s"
    - "2026-11-28T03:02:11.901Z  isolated on all 4 devices (+0.78 s from the command's start)"
result:
  description: The run as data, as C(vendorwall isolate --json) prints it.
  returned: always, except on bad input
  type: dict
  contains:
    action:
      description: isolate or restore.
      type: str
    check:
      description: Whether this was a dry run.
      type: bool
    vendors:
      description: The vendors acted on.
      type: list
      elements: str
    elements:
      description: The quarantine elements (prefix, vendor, kind entry|segment, name).
      type: list
      elements: dict
    refused:
      description: Elements never pushed, with the reason (overlapping a management network, nested).
      type: list
      elements: dict
    devices:
      description:
        - Per firewall, C(result) (isolated, partial, restored, checked, failed), C(changed), C(added),
          C(already), C(removed), C(would_add), C(would_remove), C(missing), C(error), C(error_kind),
          C(sessions) (check mode), C(device_change_at) (the firewall's clock after its transaction, UTC),
          C(seconds).
      type: dict
    failed_devices:
      description: Firewalls not done (unreachable, no quarantine set, verification failed, partial).
      type: list
      elements: str
    all_devices_done_seconds:
      description: From the command's start to the last firewall's answer.
      type: float
    cut_flows:
      description: Ids of the flows this isolation cuts (would cut).
      type: list
      elements: str
    keep_flows:
      description: Ids of the must-keep clinical flows that stay up.
      type: list
      elements: str
    accounts:
      description: The vendors' accounts to disable on the bastions (not automated yet).
      type: list
      elements: dict
    tunnels:
      description: The vendors' LAN-to-LAN tunnels to bring down (not automated yet).
      type: list
      elements: dict
    journal:
      description: The journal's path and the hash of this run's last entry.
      type: dict
    exit:
      description: The command line's exit code (0 done everywhere, 1 a firewall not done).
      type: int
  sample: {}
errors:
  description: The diagnostics of bad input (unknown vendor, unreadable manifest); nothing was changed.
  returned: failure on bad input
  type: list
  elements: dict
  sample:
    - file: build/chu/manifest.json
      line: 0
      path: --vendor
      message: "unknown vendor: nothing was changed"
      expected: a vendor of the manifest, or all
      found: "'dedalus'"
      hint: "known vendors: acme-imaging, anestra, ..."
      code: reference
"""

import os
import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from vendorwall import ansible_support as support
    from vendorwall.devices.target import ConnSettings, from_vars
    from vendorwall.errors import UsageError
    from vendorwall.isolate import actions, manifest, run
    from vendorwall.state import StateDir
except ImportError:
    HAS_VENDORWALL = False
    IMPORT_ERROR = traceback.format_exc()
else:
    HAS_VENDORWALL = True
    IMPORT_ERROR = ""

STARTED = (time.time(), time.monotonic())


def run_module():
    module = AnsibleModule(
        argument_spec={
            "action": {"type": "str", "choices": ["isolate", "restore"], "default": "isolate"},
            "vendor": {"type": "str", "required": True},
            "reason": {"type": "str", "required": True},
            "ticket": {"type": "str", "default": ""},
            "scope": {"type": "str", "choices": ["access", "segment"], "default": "access"},
            "manifest": {"type": "path"},
            "inventory": {"type": "list", "elements": "str", "default": []},
            "journal": {"type": "path"},
            "user": {"type": "str"},
            "key_file": {"type": "path"},
            "port": {"type": "int"},
            "connect_timeout": {"type": "float", "default": 5},
            "command_timeout": {"type": "float", "default": 30},
            "workers": {"type": "int", "default": 256},
            "known_hosts": {"type": "list", "elements": "path", "default": []},
            "host_key_policy": {"type": "str", "choices": ["verify", "accept-new"]},
            "lab_dir": {"type": "path"},
            "credential": {"type": "dict", "no_log": True},
            "state_dir": {"type": "path"},
            "actor": {"type": "dict"},
            "chdir": {"type": "path"},
        },
        supports_check_mode=True,
    )
    if not HAS_VENDORWALL:
        module.fail_json(msg=missing_required_lib("vendorwall", reason="to isolate a vendor")
                         + " Install it in the Python that runs ansible-playbook: pip install -e .",
                         exception=IMPORT_ERROR)
    p = module.params
    support.chdir(module, p["chdir"])
    support.run_context(p["state_dir"], p["actor"])
    with support.failing(module, errors=True):
        if not p["reason"].strip():
            raise UsageError("reason: empty", "say why: -e reason='vendor breach, CERT notice 2026-041'")
        root = support.inventory_root(p["inventory"])
        if not p["manifest"] and not root:
            raise UsageError("no manifest and no inventory given",
                             "pass -i inventories/NAME or -e vendorwall_inventory_dir=DIR (then the manifest of "
                             "its state directory is read) or -e vendorwall_manifest=FILE")
        path = manifest.resolve(root, p["manifest"])
        m = manifest.load(path)
        plan = actions.plan(m, p["vendor"], p["scope"], p["action"], check=module.check_mode)
        conn = ConnSettings(user=p["user"], key_file=p["key_file"], port=p["port"],
                            known_hosts=tuple(p["known_hosts"]), host_key_policy=p["host_key_policy"],
                            connect_timeout=p["connect_timeout"], command_timeout=p["command_timeout"])
        if p["lab_dir"]:
            targets = run.lab_targets(m, os.path.abspath(p["lab_dir"]), connect_timeout=p["connect_timeout"],
                                      command_timeout=p["command_timeout"])
        else:
            cred = p["credential"] or {}  # -u/-k/an AWX Machine credential: below the manifest's variables
            targets = [from_vars(fw.name, fw.platform, {**cred, **fw.ssh}, settings=conn,
                                 default_host=fw.mgmt_address)
                       for fw in sorted(m.firewalls.values(), key=lambda f: f.name)]
        state = StateDir.for_inventory(m.inventory or path)
        jpath = p["journal"] or state.journal("incident")
        r = run.execute(m, plan, targets, reason=p["reason"], ticket=p["ticket"], journal_path=jpath,
                        started=STARTED[0], started_mono=STARTED[1], workers=p["workers"],
                        settings=conn, isolation_path=state.isolation_file,
                        access_journal=state.journal("access"),
                        lab_dir=os.path.abspath(p["lab_dir"]) if p["lab_dir"] else None)
    data = r.to_data()
    changed = any(x.changed for x in r.results) if not plan.check else any(
        x.would_add or x.would_remove for x in r.results)
    result = {"changed": changed, "report": r.report().splitlines(), "result": data}
    if r.exit_code != 0:
        why = []
        if r.failed:
            why.append(f"NOT done on {len(r.failed)} of {len(r.results)} firewalls: "
                       + ", ".join(x.device for x in r.failed) + " (the others are done)")
        if r.refused_mgmt:
            why.append("prefixes overlapping a management network were refused (REFUSED in the report)")
        if r.open_flows():
            why.append(f"{len(r.open_flows())} of {r.vendor_flows()} vendor flows NOT cut (NOT CUT in the report)")
        if r.record_error:
            why.append(r.record_error)
        if r.lab and r.lab.get("mismatches"):
            why.append(f"{len(r.lab['mismatches'])} lab probe mismatches")
        module.fail_json(msg=f"{p['action']}: " + "; ".join(why) + "; fix the cause shown in the report and rerun "
                         "(idempotent)", **result)
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
