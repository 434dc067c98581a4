#!/usr/bin/python
"""Ansible module vendorwall_accounts: vendor accounts on the bastions and connection logs (controller side)."""
# Ansible's layout puts DOCUMENTATION, EXAMPLES and RETURN before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vendorwall_accounts
short_description: Enforce and review vendor accounts on the bastions; collect and purge vendor connection logs
description:
  - Runs once, on the controller, as C(vendorwall accounts enforce|review) and C(vendorwall logs collect|purge) do,
    with one SSH round trip per bastion (or firewall), all at once.
  - O(action=enforce) creates the inventory's vendor accounts on the bastions of their vendor's bastion entry
    paths (account expiry, SSH key with C(expiry-time)), removes the accounts vendorwall created (the bastion's
    root-only registry records them, not a GECOS tag) that left the inventory, and installs the per-vendor
    source rules. Accounts vendorwall did not create, even with a vendor account's name, are never touched.
  - O(action=review) collects last logins, locks accounts idle longer than C(policy.idle_lock_days) and those past
    expiry, and writes the account review report per vendor.
  - O(action=logs_collect) fetches new connection records from the firewalls into the hash-chained, compressed
    archive; O(action=logs_purge) drops segments older than C(policy.log_retention_days).
version_added: "0.1.0"
author:
  - vendorwall contributors (@vendorwall)
options:
  action:
    description: What to do.
    type: str
    choices: [enforce, review, logs_collect, logs_purge]
    required: true
  inventory:
    description: The inventory directory (or a file in it); pass C(ansible_inventory_sources).
    type: list
    elements: str
    required: true
  bastions:
    description: Only these bastions (default every bastion of the inventory).
    type: list
    elements: str
    default: []
  keys_dir:
    description: SSH public keys of accounts without C(ssh_key) in the inventory (C(DIR/<account id>.pub)).
    type: path
  out:
    description: Review report directory (default C(build/<inventory>/account-review)).
    type: path
  archive:
    description: Connection-log archive directory (default C(build/<inventory>/connection-logs)).
    type: path
  now:
    description: The review date (YYYY-MM-DD). Default today (UTC).
    type: str
  user:
    description: SSH user (default each device's C(ansible_user), else root).
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
    description: SSH private key.
    type: path
  hosts:
    description:
      - The devices as the play's inventory defines them (host name to C(groups), C(vars), C(origins)).
        Set by the action plugin; without it the inventory directory is read.
    type: dict
  host_secrets:
    description: Per host C(ansible_password) and C(ansible_become_password). Set by the action plugin; never logged.
    type: dict
  state_dir:
    description:
      - The inventory's state directory (journals, archive, reports). Default C($VENDORWALL_STATE_DIR/<inventory>),
        else C(/var/lib/vendorwall/<inventory>) when writable, else C(~/.local/state/vendorwall/<inventory>).
    type: path
  actor:
    description: Who the run acts for (the AWX/AAP user and job). Set by the action plugin; recorded in the journals.
    type: dict
  lab_dir:
    description: Act on a lab (its bastion namespaces and firewalls).
    type: path
  chdir:
    description: Change into this directory first.
    type: path
requirements:
  - the vendorwall Python package and paramiko in the Python that runs the module
attributes:
  check_mode:
    description: enforce and review report what they would change and change nothing.
    support: full
  diff_mode:
    description: Not supported.
    support: none
"""

EXAMPLES = r"""
- name: Review vendor accounts
  vendorwall_accounts:
    action: review
    inventory: "{{ ansible_inventory_sources }}"
  delegate_to: localhost
  run_once: true
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""

RETURN = r"""
report:
  description: What the command line prints, one line per item.
  returned: always
  type: list
  elements: str
  sample: ["11 vendor accounts on 1 bastions: locked 2 (acme.plefevre, acme.snguyen); report: ..."]
result:
  description: The outcome as data (as with C(--json)).
  returned: always
  type: dict
  sample: {}
"""

import argparse
import datetime as dt
import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from vendorwall import ansible_support as support
    from vendorwall import pipeline
    from vendorwall.access import accounts, devices, logs
    from vendorwall.errors import UsageError
except ImportError:
    HAS_VENDORWALL = False
    IMPORT_ERROR = traceback.format_exc()
else:
    HAS_VENDORWALL = True
    IMPORT_ERROR = ""


def run_module():
    module = AnsibleModule(
        argument_spec={
            "action": {"type": "str", "choices": ["enforce", "review", "logs_collect", "logs_purge"],
                       "required": True},
            "inventory": {"type": "list", "elements": "str", "required": True},
            "bastions": {"type": "list", "elements": "str", "default": []},
            "keys_dir": {"type": "path"},
            "out": {"type": "path"},
            "archive": {"type": "path"},
            "now": {"type": "str"},
            "user": {"type": "str"},
            "known_hosts": {"type": "list", "elements": "path", "default": []},
            "host_key_policy": {"type": "str", "choices": ["verify", "accept-new"]},
            "key_file": {"type": "path"},
            "lab_dir": {"type": "path"},
            "hosts": {"type": "dict"},
            "host_secrets": {"type": "dict", "no_log": True},
            "state_dir": {"type": "path"},
            "actor": {"type": "dict"},
            "chdir": {"type": "path"},
        },
        supports_check_mode=True,
    )
    if not HAS_VENDORWALL:
        module.fail_json(msg=missing_required_lib("vendorwall", reason="to manage vendor accounts"),
                         exception=IMPORT_ERROR)
    p = module.params
    if p["chdir"]:
        os.chdir(p["chdir"])
    support.run_context(p["state_dir"], p["actor"])
    with support.failing(module, internal_hint=False):
        root = support.inventory_root(p["inventory"])
        if not root:
            raise UsageError("no inventory given", "pass -i inventories/NAME")
        today = dt.date.fromisoformat(p["now"]) if p["now"] else dt.datetime.now(dt.UTC).date()
        model = pipeline.run(root, today, check_lock=False, do_render=False, hosts=support.hosts_arg(p)).model
        o = devices.ConnOptions(user=p["user"], key_file=p["key_file"], known_hosts=tuple(p["known_hosts"]),
                                host_key_policy=p["host_key_policy"],
                                lab_dir=os.path.abspath(p["lab_dir"]) if p["lab_dir"] else None)
        if p["action"] in ("enforce", "review"):
            args = argparse.Namespace(inventory=root, accounts_command=p["action"], bastion=p["bastions"],
                                      check=module.check_mode, out=p["out"], keys_dir=p["keys_dir"],
                                      now=p["now"])
            out = accounts.run(args, model, o)
            data = out.data
            changed = (any(b.get("created") or b.get("removed") or b.get("updated") or b.get("would_create")
                           or b.get("would_update") or b.get("would_remove") for b in data.get("bastions", {}).values())
                       if p["action"] == "enforce" else bool(data.get("locked_now")))
        else:
            if module.check_mode:
                module.exit_json(changed=False, report=["check mode: logs not collected or purged"], result={})
            args = argparse.Namespace(inventory=root, archive=p["archive"],
                                      logs_command=p["action"].split("_", 1)[1])
            out = logs.run(args, model, o)
            changed = bool(out.data.get("records") or out.data.get("purged"))
    result = {"changed": changed, "report": out.lines, "result": out.data}
    if out.exit != 0:
        module.fail_json(msg="\n".join(out.lines), **result)
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
