#!/usr/bin/python
"""Ansible module vendorwall_access: open, close or list on-demand vendor grants (controller side)."""
# Ansible's layout puts DOCUMENTATION, EXAMPLES and RETURN before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vendorwall_access
short_description: Open, close or list on-demand, time-limited vendor access that the firewall itself expires
description:
  - Runs once, on the controller, as C(vendorwall access open|close|list) does.
  - O(action=open) checks the request against the inventory and the policy first (the system allows on-demand
    access, the duration is within its maximum, the approver is one of the system's approvers and not the
    requester, the vendor's contract is valid, a ticket is given; break-glass with O(emergency=true) needs no
    approver, has a shorter maximum and is flagged for review within 24 h). Any failure is a refusal naming the
    rule, nothing is changed, and the task fails.
  - A grant is one nftables element with a timeout per entry-path prefix x system address x port, added to the
    grants sets of the persistent state table on the system's site firewall in one transaction. The firewall ends
    the access (and live sessions) at expiry, whether or not the controller is up.
  - O(action=close) removes a grant before its expiry; O(action=list) reads the live grants from the firewalls
    (time left) and journals the grants that expired since the last look.
  - Every open, close, refusal and expiry is appended to the hash-chained access journal.
  - Use it with C(delegate_to=localhost), C(run_once=true) and
    C(ansible_python_interpreter={{ ansible_playbook_python }}).
version_added: "0.1.0"
author:
  - vendorwall contributors (@vendorwall)
options:
  action:
    description: open, close or list.
    type: str
    choices: [open, close, list]
    default: open
  inventory:
    description: The inventory directory (or a file in it); pass C(ansible_inventory_sources).
    type: list
    elements: str
    required: true
  vendor:
    description: The vendor (open).
    type: str
    default: ""
  system:
    description: The system (open).
    type: str
    default: ""
  ticket:
    description: The change or incident ticket (open; required by the policy).
    type: str
    default: ""
  requester:
    description: Who asks (open).
    type: str
    default: ""
  approver:
    description: One of the system's approvers, not the requester (open; none for break-glass).
    type: str
    default: ""
  duration:
    description: How long, e.g. C(4h), C(90m) (open).
    type: str
    default: ""
  emergency:
    description: Break-glass (open).
    type: bool
    default: false
  grant:
    description: The grant id (close).
    type: str
    default: ""
  reason:
    description: Why it is closed early (close).
    type: str
    default: ""
  journal:
    description: The access journal. Default C(build/<inventory name>/access-journal.jsonl).
    type: path
  now:
    description: The date of the policy checks (YYYY-MM-DD). Default today (UTC).
    type: str
  user:
    description: SSH user on the firewalls (default each device's C(ansible_user), else root).
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
  connect_timeout:
    description: Seconds per SSH connection.
    type: float
    default: 5
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
    description: Act on a lab started by C(vendorwall lab up).
    type: path
  chdir:
    description: Change into this directory first.
    type: path
requirements:
  - the vendorwall Python package and paramiko in the Python that runs the module
attributes:
  check_mode:
    description: O(action=open) checks the request against the policy and changes nothing; close and list read only.
    support: full
  diff_mode:
    description: Not supported.
    support: none
"""

EXAMPLES = r"""
- name: Open 4 hours of access for acme-imaging to pacs-test-centre
  vendorwall_access:
    action: open
    inventory: "{{ ansible_inventory_sources }}"
    vendor: acme-imaging
    system: pacs-test-centre
    ticket: CHG-1234
    requester: alice@chu.example
    approver: pacs.admin@chu.example
    duration: 4h
  delegate_to: localhost
  run_once: true
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""

RETURN = r"""
report:
  description: What C(vendorwall access) prints, one line per item.
  returned: always
  type: list
  elements: str
  sample: ["2026-11-28T10:00:00.000Z  grant g0123456789ab: acme-imaging -> pacs-test-centre for 4h00m ..."]
result:
  description: The outcome as data (C(vendorwall access ... --json)); C(result) is opened, refused, closed...
  returned: always
  type: dict
  sample: {}
"""

import datetime as dt
import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from vendorwall import ansible_support as support
    from vendorwall import pipeline
    from vendorwall.access import devices, grants, policy
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
            "action": {"type": "str", "choices": ["open", "close", "list"], "default": "open"},
            "inventory": {"type": "list", "elements": "str", "required": True},
            "vendor": {"type": "str", "default": ""},
            "system": {"type": "str", "default": ""},
            "ticket": {"type": "str", "default": ""},
            "requester": {"type": "str", "default": ""},
            "approver": {"type": "str", "default": ""},
            "duration": {"type": "str", "default": ""},
            "emergency": {"type": "bool", "default": False},
            "grant": {"type": "str", "default": ""},
            "reason": {"type": "str", "default": ""},
            "journal": {"type": "path"},
            "now": {"type": "str"},
            "user": {"type": "str"},
            "known_hosts": {"type": "list", "elements": "path", "default": []},
            "host_key_policy": {"type": "str", "choices": ["verify", "accept-new"]},
            "key_file": {"type": "path"},
            "connect_timeout": {"type": "float", "default": 5},
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
        module.fail_json(msg=missing_required_lib("vendorwall", reason="to open vendor access")
                         + " Install it in the Python that runs ansible-playbook: pip install -e .",
                         exception=IMPORT_ERROR)
    p = module.params
    support.chdir(module, p["chdir"])
    support.run_context(p["state_dir"], p["actor"])
    with support.failing(module):
        root = support.inventory_root(p["inventory"])
        if not root:
            raise UsageError("no inventory given", "pass -i inventories/NAME")
        today = dt.date.fromisoformat(p["now"]) if p["now"] else dt.datetime.now(dt.UTC).date()
        model = pipeline.run(root, today, check_lock=False, do_render=False, hosts=support.hosts_arg(p)).model
        o = devices.ConnOptions(user=p["user"], key_file=p["key_file"], known_hosts=tuple(p["known_hosts"]),
                                host_key_policy=p["host_key_policy"], connect_timeout=p["connect_timeout"],
                                lab_dir=os.path.abspath(p["lab_dir"]) if p["lab_dir"] else None)
        jpath = grants.journal_path(root, p["journal"])
        if p["action"] == "open":
            req = policy.Request(p["vendor"], p["system"], p["ticket"], p["requester"], p["approver"],
                                 p["duration"], p["emergency"])
            if module.check_mode:
                refusals = policy.check(model.inventory, req, today)
                if refusals:
                    module.fail_json(msg="\n".join(r.render() for r in refusals) + "\nnothing was changed",
                                     result={"result": "refused", "refusals": [r.to_data() for r in refusals]})
                els = grants.elements_for(model, req.system)
                module.exit_json(changed=True, report=[f"would open {len(els)} elements: " + ", ".join(
                    e.text() + " @" + e.firewall for e in els)], result={"result": "checked"})
            out = grants.open_grant(model, req, o, jpath, today=today)
        elif p["action"] == "close":
            if not p["grant"]:
                raise UsageError("no grant id", "pass -e grant=ID (vendorwall access list shows them)")
            out = grants.close_grant(model, p["grant"], o, jpath, reason=p["reason"])
        else:
            out = grants.list_grants(model, o, jpath)
    changed = out.data.get("result") in ("opened", "closed")
    result = {"changed": changed, "report": out.lines, "result": out.data}
    if out.exit != 0:
        module.fail_json(msg="\n".join(out.lines), **result)
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
