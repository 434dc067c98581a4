"""One deploy run: which devices, how to reach them, what to push; shared by the Ansible module
(``library/vendorwall_deploy.py``) and ``vendorwall lab deploy``.

- devices: the firewalls and switches of the inventory (the play's, as its action plugin sends it, or
  the inventory directory's) or a subset (Ansible's ``--limit``);
- connection: each device's Ansible variables (``ansible_host``, ``ansible_port``, ``ansible_user``...,
  :mod:`vendorwall.devices.target`) and the run's credentials; a lab (``lab_dir``) gives its own
  (:func:`vendorwall.lab.runner.connections`: addresses, keys, the controller namespace ``netns`` the
  connections are opened from); ``connections`` overrides per device (``host``, ``port``, ``netns``,
  ``username``, ``key_file``, ``remote_dir``, ``known_hosts``);
- configuration: ALWAYS rendered in memory from the inventory, in the same run as the push, so that no
  ``--limit``, tag or ``--start-at-task`` can push a file an earlier run left. Reviewed files
  (``configs``) are only compared with that rendering: any that differs is refused, by name. In
  production (``production=True``) a stale or missing lock file is refused.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..state import StateDir
from .session import Target

DEPLOY_ROLES = ("firewall", "switch")
CONNECTION_KEYS = {"host": str, "port": int, "netns": str, "username": str, "key_file": str, "remote_dir": str,
                   "known_hosts": str, "supervisor": str}


class JobError(ValueError):
    """A bad request (unknown device, bad override, missing file): message plus a hint."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        return f"error: {self.message}" + (f"\n  hint:     {self.hint}" if self.hint else "")


@dataclass
class Credentials:
    username: str | None = None  # None: the device's ansible_user, else root
    key_file: str | None = None
    password: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)  # IOS enable secret
    known_hosts: tuple[str, ...] = ()  # besides the inventory's vendorwall_known_hosts and ~/.ssh/known_hosts
    host_key_policy: str | None = None  # verify (default) | accept-new


@dataclass
class Paths:
    lock_dir: str | None = None  # controller-side device locks; None: the state directory's locks/
    backup_dir: str | None = None  # controller-side backups (IOS); None: the state directory's backups/
    log_dir: str | None = None  # per-device netmiko session logs (secrets masked); None: no logs


def netns_factory(name: str) -> Any:
    """A socket factory opening TCP connections from inside network namespace ``name`` (root)."""
    from ..lab import netns

    def factory(host: str, port: int, timeout: float) -> socket.socket:
        return netns.connect_in(name, host, port, timeout)

    return factory


def select(inventory: Any, devices: list[str] | None, known: set[str] | None = None) -> list[str]:
    """The devices to deploy: the firewalls and switches of the inventory, or the named subset of them.
    Names of other hosts (bastions, localhost, ``known``: the play's other hosts) in the subset are
    ignored, as Ansible's --limit includes whatever the pattern matched."""
    eligible = sorted(n for n, d in inventory.devices.items() if d.role in DEPLOY_ROLES)
    if devices is None:
        return eligible
    unknown = sorted(set(devices) - set(inventory.devices) - {"localhost"} - (known or set()))
    if unknown:
        raise JobError(f"devices not in the inventory: {', '.join(unknown)}",
                       f"firewalls and switches of the inventory: {', '.join(eligible)}")
    return [n for n in eligible if n in set(devices)]


def check_connections(connections: Mapping[str, Any], inventory: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for dev, over in (connections or {}).items():
        if dev not in inventory.devices:
            raise JobError(f"connections: {dev!r} is not a host of the inventory",
                           f"hosts: {', '.join(sorted(inventory.devices))}")
        if not isinstance(over, Mapping):
            raise JobError(f"connections.{dev}: expected a mapping of {', '.join(CONNECTION_KEYS)}",
                           f"got {type(over).__name__}")
        bad = sorted(set(over) - set(CONNECTION_KEYS))
        if bad:
            raise JobError(f"connections.{dev}: unknown keys {', '.join(bad)}",
                           f"known keys: {', '.join(CONNECTION_KEYS)}")
        try:
            out[dev] = {k: CONNECTION_KEYS[k](v) for k, v in over.items() if v is not None}
        except (TypeError, ValueError) as exc:
            raise JobError(f"connections.{dev}: {exc}", "port is a number, the other keys are text") from None
    return out


def targets(res: Any, names: list[str], creds: Credentials, connections: Mapping[str, Any] | None = None,
            paths: Paths | None = None, *, connect_timeout: float = 10.0,
            command_timeout: float = 60.0) -> list[Target]:
    """Deploy targets for ``names`` from a pipeline result (inventory + compiled model)."""
    from ..devices.target import ConnSettings, HostKeys, for_device

    inv, model = res.inventory, res.model
    paths = paths or Paths()
    over = check_connections(connections or {}, inv)
    out = []
    for name in names:
        dev = inv.devices[name]
        c = over.get(name, {})
        extra: dict[str, Any] = {}
        intent = model.devices.get(name)
        if dev.role == "switch" and intent is not None:
            extra["vlan_range"] = tuple(inv.sites[intent.site].vlan_range)
        t = for_device(dev, inv.root, ConnSettings(
            user=c.get("username", creds.username), key_file=c.get("key_file", creds.key_file), port=c.get("port"),
            password=creds.password, secret=creds.secret, known_hosts=creds.known_hosts,
            host_key_policy=creds.host_key_policy, connect_timeout=connect_timeout, command_timeout=command_timeout))
        if c.get("host"):
            t.host = c["host"]
        if c.get("known_hosts"):  # a lab: its own devices' keys only, nothing else trusted
            t.host_keys = HostKeys((c["known_hosts"],), t.host_keys.policy, user_files=False)
        t.remote_dir = c.get("remote_dir", "/var/lib/vendorwall")
        t.sock_factory = netns_factory(c["netns"]) if c.get("netns") else None
        t.session_log = os.path.join(paths.log_dir, f"{name}.log") if paths.log_dir else None
        t.backup_dir = paths.backup_dir or StateDir.for_inventory(inv.root).backups_dir
        if dev.role == "firewall" and dev.platform == "nftables":
            from ..access import logpipe

            sup = c.get("supervisor") or str(dev.vars.get("vendorwall_connlog_supervisor", "systemd"))
            extra["connlog"] = logpipe.install_request(model, t.remote_dir, supervisor=sup)
            extra["vendors"] = sorted(inv.vendors)  # the deploy's isolation check (deploy/nftables.py)
        t.extra = extra
        out.append(t)
    return out


def check_reviewed(res: Any, names: list[str], configs_dir: str) -> None:
    """Reviewed files (``<configs_dir>/<device>.<ext>``, as ``vendorwall plan`` wrote them) against what the
    inventory renders now: any missing or different file is refused, every one named (nothing is pushed)."""
    stale, missing = [], []
    for name in names:
        r = res.configs.get(name)
        if r is None:
            continue
        path = os.path.join(configs_dir, f"{name}.{r.extension}")
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except FileNotFoundError:
            missing.append(path)
            continue
        if text != r.text:
            stale.append(path)
    if stale or missing:
        parts = ([f"stale (the inventory, the lock file or the isolation record changed since they were "
                  f"rendered): {', '.join(stale)}"]
                 if stale else []) + ([f"missing: {', '.join(missing)}"] if missing else [])
        raise JobError("reviewed configurations do not match the inventory, nothing was pushed: " + "; ".join(parts),
                       "render them again (playbooks/plan.yml or vendorwall plan), review, then deploy; "
                       "or deploy without configs: the push renders the inventory itself")


def configs_rendered(res: Any, names: list[str]) -> dict[str, str]:
    return {n: res.configs[n].text for n in names if n in res.configs}


@dataclass
class Request:
    """What a deploy run is asked (the module's parameters)."""

    inventory: str
    hosts: Mapping[str, Any] | None = None  # the play's inventory (vendorwall.hostsrc.from_snapshot)
    devices: list[str] | None = None
    configs: str | None = None  # reviewed files to compare with the rendering
    production: bool = False  # refuse a stale or missing lock file
    now: str | None = None
    lab_dir: str | None = None
    creds: Credentials = field(default_factory=Credentials)
    connections: Mapping[str, Any] | None = None
    paths: Paths = field(default_factory=Paths)
    connect_timeout: float = 10.0
    command_timeout: float = 60.0


@dataclass
class Prepared:
    result: Any  # the pipeline's Result
    names: list[str]
    targets: list[Target]
    configs: dict[str, str]
    paths: Paths


def prepare(req: Request) -> Prepared:
    """Inventory, devices, targets and configurations for a run (no device I/O): the intent is rendered
    here, in memory, from the inventory."""
    from .. import pipeline
    from ..cli import parse_now

    res = pipeline.run(req.inventory, parse_now(req.now), check_lock=req.production, do_render=True,
                       hosts=req.hosts)
    if req.production and not res.lock.exists:
        raise JobError(f"production: no allocation lock file ({res.lock.shown})",
                       f"run 'vendorwall plan {req.inventory}', commit the lock file, then deploy")
    known = set((req.hosts or {}).get("hosts") or {})
    names = select(res.inventory, req.devices, known)
    creds, connections, paths = req.creds, req.connections, req.paths
    if req.lab_dir:  # only the lab's devices: a device the lab does not serve is never tried at its real address
        creds, connections, paths = lab_connection(req.lab_dir, req.creds, req.connections)
        names = [n for n in names if n in lab_devices(req.lab_dir)]
    sd = StateDir.for_inventory(req.inventory)
    paths = Paths(lock_dir=paths.lock_dir or sd.locks_dir, backup_dir=paths.backup_dir or sd.backups_dir,
                  log_dir=paths.log_dir)
    tgs = targets(res, names, creds, connections, paths, connect_timeout=req.connect_timeout,
                  command_timeout=req.command_timeout)
    if req.configs:
        check_reviewed(res, names, req.configs)
    return Prepared(res, names, tgs, configs_rendered(res, names), paths)


def lab_connection(lab_dir: str, creds: Credentials,
                   connections: Mapping[str, Any] | None) -> tuple[Credentials, dict[str, Any], Paths]:
    """A lab's credentials, connections and paths (``vendorwall lab up``): the lab's own, whatever the
    inventory says, so no production address is ever tried; ``connections`` still override per device."""
    from ..lab import runner

    state = runner.LabState.load(os.path.abspath(lab_dir))
    if state is None:
        raise JobError(f"lab_dir: no lab in {lab_dir}", "start one: vendorwall lab up INVENTORY")
    conns = runner.connections(state)
    for dev, over in (connections or {}).items():
        conns[dev] = {**conns.get(dev, {}), **(over or {})}
    lab_creds = Credentials(password=state.switch_login.get("password"), secret=state.switch_login.get("secret"),
                            known_hosts=(state.known_hosts,) if state.known_hosts else ())
    return lab_creds, conns, runner.paths(state)


def lab_devices(lab_dir: str) -> set[str]:
    from ..lab import runner

    state = runner.LabState.load(os.path.abspath(lab_dir))
    return set(state.firewalls) | set(state.switches) if state else set()


def refresh_manifest(prep: Prepared) -> str:
    """Write the isolation manifest of what was just pushed to the state directory (when it changed), so
    isolate acts on what runs even when a ``--limit`` skipped the plan. Returns its path."""
    from ..isolate import manifest
    from ..state import write_private

    path = manifest.default_path(prep.result.inventory.root)
    text = manifest.dumps(manifest.build_manifest(prep.result.model))
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                return path
    except FileNotFoundError:
        pass
    write_private(path, text)
    return path


def describe(r: Any, check: bool) -> str:
    from .fanout import describe as _describe

    return _describe(r, check)


def report(results: list[Any], seconds: float, want_diff: bool, check: bool = False) -> dict[str, Any]:
    """The module result from the per-device results (pure): per device its state, a one-line ``msg``,
    what was found, done and left; a short ``text`` (one line per device and a total)."""
    devices = {}
    commands = []
    diffs = []
    for r in results:
        d = r.to_data(full=True)
        d["state"] = r.state
        d["msg"] = (f"{r.error} ({r.seconds:.1f} s)" if r.error else
                    f"{r.device} ({r.platform}): {describe(r, check)} in {r.seconds:.1f} s")
        devices[r.device] = d
        commands += [f"{r.device}: {c}" for c in r.commands]
        if want_diff and r.changed and not r.failed:
            diffs.append({"before_header": f"{r.device} (running)", "after_header": f"{r.device} (intended)",
                          "before": r.before, "after": r.after})
    states = [r.state for r in results]
    summary = {"devices": len(results), "changed": states.count("changed"), "ok": states.count("ok"),
               "failed": states.count("failed"), "skipped": states.count("skipped"), "seconds": round(seconds, 3)}
    out: dict[str, Any] = {"changed": any(r.changed and not r.failed for r in results), "devices": devices,
                           "commands": commands, "failed_devices": [r.device for r in results if r.failed],
                           "summary": summary}
    verb = "would change" if check else "changed"
    out["text"] = "\n".join(
        [devices[r.device]["msg"] for r in results]
        + [f"deploy{' (check mode)' if check else ''}: {summary['devices']} devices, {summary['changed']} {verb}, "
           f"{summary['ok']} unchanged, {summary['failed']} failed, {summary['skipped']} skipped, {seconds:.1f} s"])
    if diffs:
        out["diff"] = diffs
    return out
