"""Who a run acts for, when a platform runs vendorwall on a person's behalf (AWX / Ansible Automation Platform).

Under AWX the process runs as the execution environment's account (``runner``), not as the person who
launched the job; AWX passes the person and the job as extra variables (``awx_user_name``, ``awx_job_id``...;
``tower_*`` on older releases). The roles send them to the modules as ``actor``, the modules call
:func:`set_current`, and every journal entry's ``who`` (:func:`vendorwall.isolate.journal.who`) then names the
person and the job, keeping the account that really ran as ``runner``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_CURRENT: dict[str, Any] = {}
# actor key -> the AWX/AAP extra variables that carry it (first found wins; tower_* on older releases)
AWX_VARS = {
    "user": ("awx_user_name", "tower_user_name"),
    "email": ("awx_user_email", "tower_user_email"),
    "job_id": ("awx_job_id", "tower_job_id"),
    "job_template": ("awx_job_template_name", "tower_job_template_name"),
    "workflow_job_id": ("awx_workflow_job_id", "tower_workflow_job_id"),
    "schedule": ("awx_schedule_name", "tower_schedule_name"),
    "controller": ("awx_host", "tower_host"),
}
KEYS = ("user", "email", "job_id", "job_template", "workflow_job_id", "schedule", "controller", "platform")


def from_vars(variables: Mapping[str, Any]) -> dict[str, Any]:
    """The actor of a play from its variables: AWX/AAP's extra variables; empty outside AWX."""
    out: dict[str, Any] = {}
    for key, names in AWX_VARS.items():
        for name in names:
            value = variables.get(name)
            if value not in (None, ""):
                out[key] = value if isinstance(value, int) else str(value)
                break
    if out:
        # "platform", not "via": a journal's "via" is the SUDO_USER of the run (vendorwall.journal.who)
        out["platform"] = "awx" if any(n.startswith("awx_") and variables.get(n) not in (None, "")
                                  for names in AWX_VARS.values() for n in names) else "tower"
    return out


def set_current(actor: Mapping[str, Any] | None) -> None:
    """Set the actor of this process's run (None or empty: the process's own user)."""
    global _CURRENT
    _CURRENT = {k: actor[k] for k in KEYS if actor and actor.get(k) not in (None, "")}


def current() -> dict[str, Any]:
    return dict(_CURRENT)


def apply(who: Mapping[str, Any]) -> dict[str, Any]:
    """A journal's ``who`` with the current actor: the person as ``user``, the account that ran as ``runner``."""
    out = dict(who)
    if _CURRENT:
        if "user" in _CURRENT and out.get("user") != _CURRENT["user"]:
            out["runner"] = out.get("user")
        out.update(_CURRENT)
    return out
