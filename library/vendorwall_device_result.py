#!/usr/bin/python
"""Documentation of vendorwall_device_result, an action plugin (plugins/action/vendorwall_device_result.py)."""
# ruff: noqa: E402

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vendorwall_device_result
short_description: Credit one device with its own result of a vendorwall fan-out
description:
  - vendorwall pushes to every device in one controller-side fan-out (M(vendorwall_deploy), run once). This
    per-host task reads the registered result and reports this host's part of it, so PLAY RECAP and the
    host status of AWX / Ansible Automation Platform show which device changed, failed or was unreachable.
  - A device vendorwall could not connect to is reported as unreachable; any other failure (a rejected
    command, a failed verification, a refused host key) as failed; a device left out by O(run)'s
    C(on_failure=stop) as skipped.
  - One line per device (C(msg)); with C(-v) also the commands, the rollback and the backup; with C(-vv)
    the configuration before and after; with C(--diff) the diff of a device that changes.
  - An action plugin that never connects to the device.
version_added: "0.1.0"
author:
  - vendorwall contributors (@vendorwall)
options:
  run:
    description: The registered result of the fan-out (its C(devices) mapping, device name to result).
    type: dict
    required: true
  device:
    description: The device to report; default C(inventory_hostname).
    type: str
attributes:
  check_mode:
    description: Reports what the fan-out planned in check mode (would change).
    support: full
  diff_mode:
    description: Returns this device's diff (running vs intended) when it changes.
    support: full
"""

EXAMPLES = r"""
- name: Push to every device of the play, once from the controller
  vendorwall_deploy:
    inventory: inventories/example
    devices: "{{ ansible_play_batch }}"
  delegate_to: localhost
  run_once: true
  register: vendorwall_deploy_run
  changed_when: false
  failed_when: vendorwall_deploy_run.devices is not defined

- name: Result of this device
  vendorwall_device_result:
    run: "{{ vendorwall_deploy_run }}"
"""

RETURN = r"""
msg:
  description: This device's result in one line.
  returned: always
  type: str
  sample: "fw-rive (nftables): changed in 3.9 s"
commands:
  description: What the push sent or did on this device (with -v).
  returned: with -v
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={"run": {"type": "dict", "required": True}, "device": {"type": "str"}})
    module.fail_json(msg="vendorwall_device_result is an action plugin: run it from a playbook")


if __name__ == "__main__":
    main()
