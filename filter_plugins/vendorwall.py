"""Jinja filters for the vendorwall playbooks: thin wrappers over the vendorwall package.

    {{ ansible_inventory_sources | vendorwall_inventory_root }}        the inventory directory to plan
    {{ playbook_dir | vendorwall_project_dir }}                        where relative paths start
    {{ result.summary | vendorwall_summary_text(ansible_check_mode) }}  the text `vendorwall plan` prints

No logic of their own: the package computes, these filters only adapt Ansible data to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError


def vendorwall_summary_text(summary: Mapping[str, Any], check_mode: bool = False) -> str:
    """The plan summary returned by the vendorwall_plan module, as `vendorwall plan` prints it.

    ``check_mode`` (pass ``ansible_check_mode``) adds a last line: nothing was written.
    """
    try:
        from vendorwall.plan import Summary
    except ImportError as exc:
        raise AnsibleFilterError(f"vendorwall_summary_text: the vendorwall package is not importable ({exc}); "
                                 "install it in the Python that runs ansible-playbook: pip install -e .") from None
    try:
        text = Summary(**dict(summary)).text()
    except (TypeError, KeyError) as exc:
        raise AnsibleFilterError(f"vendorwall_summary_text: not a plan summary ({exc}); pass the 'summary' "
                                 "returned by the vendorwall_plan module") from None
    if check_mode:
        text += "\n  check mode: nothing was written; the lines above say what a real run would do"
    return text


def vendorwall_inventory_root(sources: Iterable[str] | str, required: bool = True) -> str:
    """The one inventory directory (hosts.yml + vendorwall/) among ansible-playbook's -i sources
    (:func:`vendorwall.ansible_support.inventory_dir`; the roles' action plugins use it when
    ``vendorwall_inventory_dir`` is not set)."""
    from vendorwall import ansible_support
    from vendorwall.errors import UsageError

    try:
        return ansible_support.inventory_dir(list(sources) if not isinstance(sources, str) else sources, required)
    except UsageError as exc:
        raise AnsibleFilterError(f"vendorwall_inventory_root: {exc.render()}") from None


def vendorwall_project_dir(playbook_dir: str) -> str:
    """Where relative paths start: the project holding ``playbooks/``, else the playbook's own directory."""
    from vendorwall import ansible_support

    return ansible_support.project_dir(playbook_dir)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "vendorwall_inventory_root": vendorwall_inventory_root,
            "vendorwall_project_dir": vendorwall_project_dir,
            "vendorwall_summary_text": vendorwall_summary_text,
        }
