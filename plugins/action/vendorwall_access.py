"""Action plugin of vendorwall_access: runs the module with what only the play knows (vendorwall.ansible_action)."""

from __future__ import annotations

try:
    from vendorwall.ansible_action import AccessAction as ActionModule
except ImportError:  # the vendorwall package is missing: the module itself says how to install it
    from ansible.plugins.action.normal import ActionModule  # noqa: F401
