#!/usr/bin/python
"""Ansible module vendorwall_plan: `vendorwall plan` from a playbook (controller side)."""
# Ansible's layout puts DOCUMENTATION, EXAMPLES and RETURN before the imports.
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vendorwall_plan
short_description: Render vendor VLANs, firewall rules and switch config from a vendorwall inventory
description:
  - Runs the vendorwall pipeline (load, validate, allocate, compile, render) on one inventory
    directory, writes one configuration file per device into O(out) and updates the allocation
    lock file of the inventory, exactly as C(vendorwall plan INVENTORY --out OUT) does.
  - Files whose content does not change are not rewritten; managed files of devices that left the
    inventory are removed from O(out).
  - Runs on the controller, once; use it with C(delegate_to=localhost), C(run_once=true) and
    C(ansible_python_interpreter={{ ansible_playbook_python }}), the Python in which the
    vendorwall package is installed.
  - On an invalid inventory the task fails with every diagnostic (file:line, dotted path, what was
    expected, what was found, a hint), never with a traceback.
version_added: "0.1.0"
author:
  - vendorwall contributors (@vendorwall)
options:
  inventory:
    description:
      - The inventory directory (C(hosts.yml) and C(vendorwall/)), e.g. C(inventories/example).
    type: path
    required: true
  out:
    description:
      - The output directory for the rendered configurations, created when missing.
      - Default C(build/<inventory name>), relative to O(chdir), as the command line does.
    type: path
  now:
    description:
      - The date to compile for (YYYY-MM-DD), which decides the expired and not-yet-valid accesses.
      - Default today (UTC).
    type: str
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
      - The inventory's state directory. Default C($VENDORWALL_STATE_DIR/<inventory>), else
        C(/var/lib/vendorwall/<inventory>) when writable, else C(~/.local/state/vendorwall/<inventory>).
    type: path
  actor:
    description: Who the run acts for (the AWX/AAP user and job). Set by the action plugin; recorded in the journals.
    type: dict
  chdir:
    description:
      - Change into this directory first; a relative O(inventory) or O(out) is resolved against it,
        and messages name the inventory relative to it when it lies below it.
      - The role vendorwall_plan passes the project directory (the parent of the playbooks directory).
      - Default the working directory of the module.
    type: path
requirements:
  - the vendorwall Python package in the Python that runs the module (C(pip install -e .))
notes:
  - Check mode computes everything and writes nothing; RV(files) and RV(lock_changed) tell what a
    real run would write. With C(--diff) the task shows the content changes per file.
attributes:
  check_mode:
    description: Computes the plan and reports what would change, writing nothing.
    support: full
  diff_mode:
    description: Returns the content changes of every file that changes (or would).
    support: full
"""

EXAMPLES = r"""
- name: Render every device configuration of the inventory
  vendorwall_plan:
    inventory: inventories/example
    out: build/example
    now: "2026-11-28"
    chdir: "{{ playbook_dir | dirname }}"
  delegate_to: localhost
  run_once: true
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  register: vendorwall_plan_result

- name: Print the summary as the command line does
  ansible.builtin.debug:
    msg: "{{ vendorwall_plan_result.summary | vendorwall_summary_text }}"
"""

RETURN = r"""
text:
  description: The summary as C(vendorwall plan) prints it (the role prints it); in check mode a last line says
    that nothing was written.
  returned: success
  type: str
summary:
  description:
    - What the plan contains, as C(vendorwall plan --json) prints it; the filter
      C(vendorwall_summary_text) turns it into the command line's text.
  returned: success
  type: dict
  contains:
    inventory:
      description: The inventory as messages name it.
      type: str
    out:
      description: The output directory.
      type: str
    now:
      description: The date compiled for.
      type: str
    vendors:
      description: Number of vendors.
      type: int
    systems:
      description: Number of maintained systems.
      type: int
    segments_per_site:
      description: Vendor segments (one VLAN each) per site.
      type: dict
    devices:
      description: Per device, its role, platform, output file and counts (rules, set elements, VLANs, ports).
      type: dict
    lock:
      description: Segments allocated (added), freed and changed since the lock file.
      type: dict
    lock_written:
      description: Whether the lock file was written (in check mode, would be).
      type: bool
    files_written:
      description: Every output file of the plan.
      type: list
      elements: str
    files_removed:
      description: Stale managed files of devices that left the inventory, removed (in check mode, would be).
      type: list
      elements: str
  sample:
    inventory: inventories/example
    out: build/example
    now: "2026-11-28"
    vendors: 14
    systems: 69
    segments_per_site: {centre: 26, nord: 14, rive: 5, sud: 13}
    devices:
      fw-rive: {role: firewall, platform: nftables, file: build/example/fw-rive.nft, rules: 20,
                elements: 20, segments: 5, sets: 3}
    lock: {added: [], freed: [], changed: []}
    lock_written: false
    files_written: [build/example/fw-rive.nft]
    files_removed: []
files:
  description: The files this run created, changed or removed (in check mode, would), lock file included.
  returned: success
  type: list
  elements: str
  sample: [build/example/fw-rive.nft]
lock_changed:
  description: Whether the allocation lock file changed (in check mode, would change); commit it.
  returned: success
  type: bool
  sample: false
errors:
  description: Every diagnostic of the stage that stopped the run.
  returned: failure on an invalid inventory
  type: list
  elements: dict
  sample:
    - file: inventories/example/vendorwall/vendors/sonexa.yml
      line: 75
      path: vendors.sonexa.systems[4].site
      message: unknown site 'atlantis'
      expected: a site of sites
      found: "'atlantis'"
      hint: "known sites: centre, nord, rive, sud"
      code: reference
stage:
  description: The pipeline stage whose barrier stopped the run (load, validate, allocate, compile, render).
  returned: failure on an invalid inventory
  type: str
  sample: validate
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from vendorwall import ansible_support as support
    from vendorwall import plan as vwplan
    from vendorwall.cli import parse_now
except ImportError:
    HAS_VENDORWALL = False
    IMPORT_ERROR = traceback.format_exc()
else:
    HAS_VENDORWALL = True
    IMPORT_ERROR = ""

def run_module():
    module = AnsibleModule(
        argument_spec={
            "inventory": {"type": "path", "required": True},
            "out": {"type": "path"},
            "now": {"type": "str"},
            "chdir": {"type": "path"},
            "hosts": {"type": "dict"},
            "host_secrets": {"type": "dict", "no_log": True},
            "state_dir": {"type": "path"},
            "actor": {"type": "dict"},
        },
        supports_check_mode=True,
    )
    if not HAS_VENDORWALL:
        module.fail_json(msg=missing_required_lib("vendorwall", reason="to plan the inventory")
                         + " Install it in the Python that runs ansible-playbook: pip install -e .",
                         exception=IMPORT_ERROR)
    p = module.params
    support.chdir(module, p["chdir"])
    support.run_context(p["state_dir"], p["actor"])
    root = p["inventory"]
    shown = _shown(root)
    out_dir = p["out"] or os.path.join("build", os.path.basename(os.path.normpath(root)))

    def unwritable(exc: OSError) -> str:  # out is not a writable directory, the lock file is read-only...
        return (f"error: {exc.filename or out_dir}: {exc.strerror}\n"
                f"  hint:     out must be a writable directory (-e vendorwall_out=DIR); got {out_dir}")

    with support.failing(module, stage=True, errors=True, os_error=unwritable):
        now = parse_now(p["now"])
        pv = vwplan.preview(root, now, out_dir, shown_root=shown, hosts=support.hosts_arg(p))
        if not module.check_mode:
            vwplan.apply(pv)
    files = pv.changed
    text = pv.summary.text()
    if module.check_mode:
        text += "\n  check mode: nothing was written; the lines above say what a real run would do"
    result = {
        "changed": bool(files),
        "text": text,
        "summary": pv.summary.to_data(),
        "files": files,
        "lock_changed": pv.lock_path in files,
    }
    if module._diff:
        result["diff"] = [{"before_header": f, "after_header": f, "before": pv.before.get(f, ""),
                           "after": pv.after.get(f) or ""} for f in files]
    module.exit_json(**result)


def _shown(root):
    rel = os.path.relpath(root)
    return root if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel


def main():
    run_module()


if __name__ == "__main__":
    main()
