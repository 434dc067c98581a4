"""The controller side of vendorwall's Ansible modules: what only the play knows, sent to the module.

Each module of the collection (``library/vendorwall_*.py``) has an action plugin of the same name
(``plugins/action/``) made of one of the classes below. Running in ansible-playbook's own process, it adds
to the module's arguments what a module cannot see:

- ``hosts`` / ``host_secrets``: the play's inventory as Ansible resolved it (every host's groups and its
  ``vw_*``, ``vendorwall_*`` and connection variables, templated; ``group_vars/``, ``host_vars/``, INI,
  NetBox or an AWX inventory alike), with the run's credentials as the lowest layer: ``-u``,
  ``--private-key``, ``-k``/``-K`` (what an AWX Machine credential sets) and an AWX Network credential's
  ``ANSIBLE_NET_*`` variables. Passwords travel apart, in a ``no_log`` argument;
- ``actor``: the AWX/AAP user and job (``awx_user_name``, ``awx_job_id``...) for the journals
  (:mod:`vendorwall.actor`).

The module then runs as usual (on the controller: ``delegate_to: localhost``, ``run_once``). The fan-out's
own result is not printed with ``-v`` (``_ansible_verbose_override``): each device's result is, by the
per-host task ``vendorwall_device_result``, so PLAY RECAP and AWX's host status credit every change, failure
and unreachable device to the device itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ansible.plugins.action import ActionBase

from . import actor, ansible_support, hostsrc
from .errors import UsageError, plain_text

NET_ENV = {"ansible_user": "ANSIBLE_NET_USERNAME", "ansible_password": "ANSIBLE_NET_PASSWORD",
           "ansible_ssh_private_key_file": "ANSIBLE_NET_SSH_KEYFILE",
           "ansible_become_password": "ANSIBLE_NET_AUTH_PASS"}
UNREACHABLE_KINDS = ("connect",)  # a device vendorwall could not open a session with (not a refused host key)


def credentials(play_context: Any, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The run's credentials as inventory variables: ``-u``, ``--private-key``, ``-k``, ``-K`` (AWX Machine
    credential), else ``ANSIBLE_NET_*`` (AWX Network credential). Lower than any inventory variable."""
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {k: env[v] for k, v in NET_ENV.items() if env.get(v)}
    for var, attr in (("ansible_user", "remote_user"), ("ansible_ssh_private_key_file", "private_key_file"),
                      ("ansible_password", "password"), ("ansible_become_password", "become_pass")):
        value = getattr(play_context, attr, None)
        if value not in (None, ""):
            out[var] = value
    return out


def _origin(value: Any) -> list[Any] | None:
    o = hostsrc._origin_of(value)
    return [o[0], o[1]] if o else None


def snapshot(task_vars: Mapping[str, Any], creds: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any],
                                                                                list[str]]:
    """``(hosts, secrets, problems)``: every inventory host's groups, the variables vendorwall uses
    (templated by Ansible), where they come from; secrets apart; templating problems as text."""
    hostvars = task_vars.get("hostvars") or {}
    names = list((task_vars.get("groups") or {}).get("all") or [])
    hosts: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    problems: list[str] = []
    for name in names:
        hv = hostvars[name]
        raw = getattr(hv, "_vars", None) or {}
        values: dict[str, Any] = {}
        origins: dict[str, Any] = {}
        for key in list(hv):
            canon = hostsrc.ALIASES.get(key, key)
            if not hostsrc.wanted(canon):
                continue
            try:
                value = hv[key]
            except Exception as exc:  # an undefined variable, a vault without its password
                if canon not in hostsrc.SECRET_VARS:
                    problems.append(f"{name}: {key}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
                continue
            values[key] = value
            o = _origin(raw.get(key))
            if o:
                origins[canon] = o
        kept = hostsrc.keep_vars(values)
        for key, value in creds.items():  # the run's credentials: below every inventory variable
            kept.setdefault(key, value)
        secrets[name] = {k: kept.pop(k) for k in hostsrc.SECRET_VARS if kept.get(k) not in (None, "")}
        hosts[name] = {"groups": [g for g in (hv.get("group_names") or []) if g != "all"],
                       "vars": hostsrc.plain(kept), "origins": origins}
    return hosts, {k: hostsrc.plain(v) for k, v in secrets.items() if v}, problems


class VendorwallAction(ActionBase):
    """Run the module of the same name with ``actor`` (and, with ``SNAPSHOT``, the play's inventory)."""

    TRANSFERS_FILES = False
    INVENTORY_REQUIRED = True  # the inventory directory must hold vendorwall/ (isolation: only its name is used)
    SNAPSHOT = False  # send the play's inventory (hosts, host_secrets)
    CREDENTIAL = False  # send the run's credentials (user, password...) as ``credential`` (no inventory read)
    QUIET = False  # the fan-out's result is not printed with -v (the per-device task prints each device)
    # module argument -> the play variable it is read from, literally: never templated (see literal_inputs)
    LITERAL: Mapping[str, str] = MappingProxyType({})
    REQUIRED: tuple[tuple[str, ...], str] = ((), "")  # literal arguments that must not be empty, and the message

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        try:
            args.update(literal_inputs(task_vars, {a: v for a, v in self.LITERAL.items() if a not in args}))
        except UsageError as exc:
            result.update(failed=True, msg=exc.render())
            return result
        needed, why = self.REQUIRED
        if any(not str(args.get(a) or "").strip() for a in needed):
            result.update(failed=True, msg=why)
            return result
        args.setdefault("actor", actor.from_vars(task_vars))
        if not args.get("inventory"):  # vendorwall_inventory_dir not set: the directory given with -i
            try:
                sources = list(task_vars.get("ansible_inventory_sources") or [])
                args["inventory"] = ansible_support.inventory_dir(sources, self.INVENTORY_REQUIRED)
            except UsageError as exc:
                result.update(failed=True, msg=exc.render())
                return result
        if not args.get("chdir") and task_vars.get("playbook_dir"):
            args["chdir"] = ansible_support.project_dir(task_vars["playbook_dir"])
        creds = credentials(self._play_context)
        if self.SNAPSHOT and args.get("hosts") is None:
            hosts, secrets, problems = snapshot(task_vars, creds)
            if problems:
                result.update(failed=True, msg="cannot resolve the inventory's variables:\n  " + "\n  ".join(problems))
                return result
            args["hosts"], args["host_secrets"] = hosts, secrets
        if self.CREDENTIAL and args.get("credential") is None:
            args["credential"] = {k: v for k, v in hostsrc.plain(creds).items()}
        result.update(self._execute_module(module_args=args, task_vars=task_vars))
        if self.QUIET and not result.get("failed"):
            result["_ansible_verbose_override"] = True
        return result


def device_result(run: Mapping[str, Any] | None, device: str, *, check: bool = False, diff: bool = False,
                  verbosity: int = 0) -> dict[str, Any]:
    """One device's task result from a fan-out's result (``devices`` by name): changed, failed,
    unreachable or skipped, a one-line ``msg``, details with ``-v`` (commands), ``-vv`` (before/after)."""
    if not isinstance(run, Mapping) or not isinstance(run.get("devices"), Mapping):
        msg = (run or {}).get("msg") if isinstance(run, Mapping) else None
        return {"failed": True, "msg": f"no per-device result: the run failed before any device ({msg or 'no result'})"}
    d = run["devices"].get(device)
    if not isinstance(d, Mapping):
        return {"skipped": True, "changed": False, "msg": f"{device}: not a device of this run"}
    state = d.get("state", "")
    took = f" in {d.get('seconds', 0):.1f} s"
    out: dict[str, Any] = {"changed": False}
    err = d.get("error") or {}
    if state == "failed":
        kind = err.get("kind", "") if isinstance(err, Mapping) else ""
        out["msg"] = d.get("msg") or str(err)
        out["unreachable" if kind in UNREACHABLE_KINDS else "failed"] = True
        if verbosity >= 1 and isinstance(err, Mapping):
            out["error"] = dict(err)
    elif state == "skipped":
        out.update(skipped=True, msg=d.get("msg") or "skipped")
    else:
        out["changed"] = bool(d.get("changed"))
        out["msg"] = d.get("msg") or ((("would change" if check else "changed") if out["changed"]
                                       else "ok (no change)") + took)
    if verbosity >= 1:
        out["state"] = state
        out["commands"] = list(d.get("commands") or [])
        for k in ("rolled_back", "backup"):
            if d.get(k):
                out[k] = d[k]
    if verbosity >= 2:
        out["before"], out["after"] = d.get("before", ""), d.get("after", "")
    if diff and out["changed"] and state != "failed":
        out["diff"] = {"before": d.get("before", ""), "after": d.get("after", ""),
                       "before_header": f"{device} (running)", "after_header": f"{device} (intended)"}
    return out


class DeviceResultAction(ActionBase):
    """``vendorwall_device_result``: this host's result out of a fan-out's registered result."""

    TRANSFERS_FILES = False
    _requires_connection = False  # reads a registered result: never connects to the device
    _VALID_ARGS = frozenset(("run", "device"))

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        device = self._task.args.get("device") or task_vars.get("inventory_hostname", "")
        result.update(device_result(self._task.args.get("run"), str(device), check=bool(self._task.check_mode),
                                    diff=bool(self._task.diff), verbosity=self._display.verbosity))
        return result


def literal_inputs(task_vars: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """The request's free text (ticket, reason, requester...) as the operator typed it (``-e ticket=...``, an AWX
    survey), read from the play's variables *without templating*: Ansible renders Jinja found in extra
    variables whenever a template refers to them (``-e 'ticket={{ lookup("pipe", "...") }}'`` ran a command on
    the controller), so the roles never refer to them; the action plugin copies the raw text. Control,
    invisible and bidirectional characters are refused (UsageError), as on the command line."""
    out: dict[str, Any] = {}
    for arg, var in names.items():
        if var not in task_vars:
            continue
        value = task_vars[var]
        if isinstance(value, bool | int | float) or value is None:
            out[arg] = value
            continue
        if not isinstance(value, str):
            raise UsageError(f"-e {var}: a text expected", f"-e {var}=VALUE")
        out[arg] = plain_text(f"-e {var}", f"{value}")  # an f-string: a plain str, Ansible's tags dropped
    return out


class SnapshotAction(VendorwallAction):
    """Modules that read the inventory's devices (plan, access, accounts and logs)."""

    SNAPSHOT = True


class DeployAction(VendorwallAction):
    """vendorwall_deploy: the play's inventory, and its (large) result left to the per-device task."""

    SNAPSHOT = True
    QUIET = True


class CredentialAction(VendorwallAction):
    """vendorwall_isolate: reads the manifest, not the inventory; the run's credentials as defaults."""

    CREDENTIAL = True
    INVENTORY_REQUIRED = False


class AccessAction(SnapshotAction):
    """vendorwall_access: the request's fields from the play's variables, literally."""

    LITERAL: Mapping[str, str] = MappingProxyType({k: k for k in (
        "vendor", "system", "ticket", "requester", "approver", "duration", "emergency", "grant", "reason")})


class IsolateAction(CredentialAction):
    """vendorwall_isolate: the vendor, reason, ticket and scope from the play's variables, literally."""

    LITERAL: Mapping[str, str] = MappingProxyType({k: k for k in ("vendor", "reason", "ticket", "scope")})
    REQUIRED = (("vendor", "reason"), "error: a vendor and a reason are needed: -e vendor=NAME (or all) "
                                      '-e reason="why" [-e ticket=T] [-e scope=segment]; nothing was changed')
