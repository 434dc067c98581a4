"""Action plugin vendorwall_device_result: one device's result out of a fan-out's registered result, so PLAY
RECAP and AWX's host status credit it to the device (vendorwall.ansible_action.DeviceResultAction)."""

from __future__ import annotations

from vendorwall.ansible_action import DeviceResultAction as ActionModule  # noqa: F401
