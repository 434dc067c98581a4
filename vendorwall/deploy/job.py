"""One deploy run: which devices, how to reach them, what to push; shared by the Ansible module
(``library/vendorwall_deploy.py``) and ``vendorwall lab deploy``.

- devices: the firewalls and switches of ``hosts.yml`` (or a subset, e.g. Ansible's ``--limit``);
- connection: the management address of ``hosts.yml`` on port 22 with the run's credentials,
  unless ``connections`` overrides it per device (``host``, ``port``, ``netns``, ``username``,
  ``key_file``, ``remote_dir``). ``netns`` opens the TCP connection from inside that network
  namespace of the controller: this is how the lab, whose management network lives in its
  controller namespace, is reached (``lab up`` writes the overrides to ``<lab dir>/ansible-vars.yml``);
- configuration: the rendered files of ``configs`` (as ``vendorwall plan`` wrote them), or rendered
  in memory from the inventory (check mode of the playbook, where plan writes nothing, and the lab).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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
    lock_dir: str = "build/locks"  # controller-side device locks
    backup_dir: str = "build/backups"  # controller-side backups (IOS)
    log_dir: str | None = None  # per-device netmiko session logs (secrets masked); None: no logs


def netns_factory(name: str) -> Any:
    """A socket factory opening TCP connections from inside network namespace ``name`` (root)."""
    from ..lab import netns

    def factory(host: str, port: int, timeout: float) -> socket.socket:
        return netns.connect_in(name, host, port, timeout)

    return factory


def select(inventory: Any, devices: list[str] | None) -> list[str]:
    """The devices to deploy: the firewalls and switches of hosts.yml, or the named subset of them.
    Names of other hosts (bastions, localhost) in the subset are ignored, as Ansible's --limit
    includes whatever the pattern matched."""
    eligible = sorted(n for n, d in inventory.devices.items() if d.role in DEPLOY_ROLES)
    if devices is None:
        return eligible
    unknown = sorted(set(devices) - set(inventory.devices) - {"localhost"})
    if unknown:
        raise JobError(f"devices not in hosts.yml: {', '.join(unknown)}",
                       f"firewalls and switches of the inventory: {', '.join(eligible)}")
    return [n for n in eligible if n in set(devices)]


def check_connections(connections: Mapping[str, Any], inventory: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for dev, over in (connections or {}).items():
        if dev not in inventory.devices:
            raise JobError(f"connections: {dev!r} is not a host of hosts.yml",
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
        t.backup_dir = paths.backup_dir
        if dev.role == "firewall" and dev.platform == "nftables":
            from ..access import logpipe

            sup = c.get("supervisor") or str(dev.vars.get("vendorwall_connlog_supervisor", "systemd"))
            extra["connlog"] = logpipe.install_request(model, t.remote_dir, supervisor=sup)
        t.extra = extra
        out.append(t)
    return out


def configs_from_files(res: Any, names: list[str], configs_dir: str) -> dict[str, str]:
    """The rendered files ``vendorwall plan`` wrote (``<configs_dir>/<device>.<ext>``)."""
    from ..plan import MANAGED_MARK

    out: dict[str, str] = {}
    missing = []
    for name in names:
        r = res.configs.get(name)
        ext = r.extension if r is not None else ""
        path = os.path.join(configs_dir, f"{name}.{ext}")
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except FileNotFoundError:
            missing.append(path)
            continue
        if MANAGED_MARK not in text[:512]:
            raise JobError(f"{path}: not a file vendorwall rendered (no '{MANAGED_MARK}' header)",
                           "render it with the plan playbook or `vendorwall plan`")
        out[name] = text
    if missing:
        raise JobError(f"rendered configuration missing: {', '.join(missing)}",
                       "run the plan first (playbooks/deploy.yml does), or render in memory (render: true)")
    return out


def configs_rendered(res: Any, names: list[str]) -> dict[str, str]:
    return {n: res.configs[n].text for n in names if n in res.configs}
