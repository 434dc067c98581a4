"""Jinja filters for the vendorwall playbooks: thin wrappers over the vendorwall package.

    {{ ansible_inventory_sources | vendorwall_inventory_root }}        the inventory directory to plan
    {{ playbook_dir | vendorwall_project_dir }}                        where relative paths start
    {{ result.summary | vendorwall_summary_text(ansible_check_mode) }}  the text `vendorwall plan` prints

No logic of their own: the package computes, these filters only adapt Ansible data to it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

DOMAIN_DIR = "vendorwall"  # the subdirectory of an inventory that holds the domain files


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
    """The one inventory directory (hosts.yml + vendorwall/) among ansible-playbook's -i sources.

    A source may be the directory itself or a file inside it (inventories/example/hosts.yml). With
    ``required=False`` (isolation, which reads the manifest of the state directory and needs only the
    inventory's name), the first source's directory when none has a vendorwall/ subdirectory.
    """
    if isinstance(sources, str):
        sources = [sources]
    roots: list[str] = []
    for source in sources:
        root = source if os.path.isdir(source) else os.path.dirname(source)
        root = os.path.normpath(root)
        if os.path.isdir(os.path.join(root, DOMAIN_DIR)) and root not in roots:
            roots.append(root)
    if len(roots) != 1 and not required:
        first = next(iter(sources), "")
        return roots[0] if roots else (os.path.normpath(first if os.path.isdir(first) else os.path.dirname(first))
                                       if first else "")
    if len(roots) != 1:
        found = ", ".join(roots) if roots else "none among: " + (", ".join(sources) or "(no -i given)")
        raise AnsibleFilterError(
            "vendorwall_inventory_root: expected exactly one inventory directory with a "
            f"{DOMAIN_DIR}/ subdirectory in the -i sources, found {found}; "
            "pass -i inventories/NAME, or -e vendorwall_inventory_dir=DIR (under AWX, whose inventory is not "
            "the project's directory: the project's inventories/NAME)")
    return roots[0]


def vendorwall_project_dir(playbook_dir: str) -> str:
    """The directory relative paths are resolved against: the project holding ``playbooks/`` (this
    repository's layout), else the playbook's own directory (a hospital's repository with its playbooks
    at the top, using the collection)."""
    playbook_dir = os.path.normpath(str(playbook_dir))
    return os.path.dirname(playbook_dir) if os.path.basename(playbook_dir) == "playbooks" else playbook_dir


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "vendorwall_inventory_root": vendorwall_inventory_root,
            "vendorwall_project_dir": vendorwall_project_dir,
            "vendorwall_summary_text": vendorwall_summary_text,
        }
