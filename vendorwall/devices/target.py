"""How one device is reached: address, credentials, host-key trust, jump host.

One :class:`Target` per device and run, whatever the journey (deploy, isolate, access, accounts, logs)
and whatever the channel (an SSH exec round trip, a netmiko CLI session). Connection settings come,
in this order (first wins), from:

1. the run's explicit options (a CLI flag, a module parameter);
2. the device's inventory variables, as Ansible names them: ``ansible_host``, ``ansible_port``,
   ``ansible_user``, ``ansible_ssh_private_key_file``, ``ansible_password``, ``ansible_become_password``
   (so an AWX Machine or Network credential just works);
3. the user's ``~/.ssh/config`` (``HostName``, ``Port``, ``User``, ``IdentityFile``, ``ProxyJump``),
   read when the connection is opened (:mod:`vendorwall.devices.ssh`);
4. defaults (port 22, user root).

Host keys are verified by default, as OpenSSH does with ``StrictHostKeyChecking yes``: the device's key
must be in a known_hosts file: the one the inventory names (``vendorwall_known_hosts`` in hosts.yml, a
path relative to the inventory), the user's ``~/.ssh/known_hosts`` and the system's
``/etc/ssh/ssh_known_hosts``. Trust on first use (``accept-new``, OpenSSH's name) is an explicit opt-in:
a new key is recorded and logged, a changed key is always refused.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

SockFactory = Callable[[str, int, float], socket.socket]

HOST_KEY_POLICIES = ("verify", "accept-new")
KNOWN_HOSTS_VAR = "vendorwall_known_hosts"
HOST_KEY_POLICY_VAR = "vendorwall_host_key_policy"


@dataclass(frozen=True)
class HostKeys:
    """Where a device's SSH host key is looked up, and what to do with an unknown one."""

    files: tuple[str, ...] = ()  # known_hosts files read first (the inventory's, the lab's)
    policy: str = "verify"  # verify | accept-new (trust on first use: explicit, logged)
    user_files: bool = True  # also ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts
    alias: str | None = None  # look the key up under this name (OpenSSH HostKeyAlias)
    record_to: str | None = None  # accept-new: where a new key is written (default: first of files, else ~)

    def __post_init__(self) -> None:
        if self.policy not in HOST_KEY_POLICIES:
            raise ValueError(f"host key policy must be one of {', '.join(HOST_KEY_POLICIES)}, not {self.policy!r}")

    def all_files(self) -> list[str]:
        out = list(self.files)
        if self.user_files:
            out += [os.path.expanduser("~/.ssh/known_hosts"), "/etc/ssh/ssh_known_hosts"]
        return out

    def record_file(self) -> str:
        return self.record_to or (self.files[0] if self.files else os.path.expanduser("~/.ssh/known_hosts"))


@dataclass
class Target:
    device: str
    platform: str  # nftables | ios | linux | ...
    host: str
    port: int = 22
    username: str = "root"
    key_file: str | None = None
    password: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)  # enable secret (IOS), become password (Linux)
    remote_dir: str = "/var/lib/vendorwall"
    sock_factory: SockFactory | None = None  # opens the TCP connection (the lab: from its controller netns)
    connect_timeout: float = 10.0
    command_timeout: float = 60.0
    session_log: str | None = None  # netmiko session log file (secrets masked); None: no log
    backup_dir: str = "build/backups"  # controller-side backups (platforms without on-device backups)
    extra: dict[str, Any] = field(default_factory=dict)  # platform data the planner needs (IOS: vlan_range)
    host_keys: HostKeys = field(default_factory=HostKeys)
    jump: Target | None = None  # reach the device through this SSH host (OpenSSH ProxyJump)
    ssh_config: bool = True  # read ~/.ssh/config for what the run and the inventory leave unset
    explicit: frozenset[str] = frozenset()  # fields set by the run or the inventory: ~/.ssh/config never overrides

    @property
    def where(self) -> str:
        return f"ssh {self.username}@{self.host}:{self.port}"


@dataclass(frozen=True)
class ConnSettings:
    """A run's explicit connection choices (CLI flags, module parameters); None = not given."""

    user: str | None = None
    key_file: str | None = None
    port: int | None = None
    password: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)
    known_hosts: tuple[str, ...] = ()
    host_key_policy: str | None = None
    connect_timeout: float = 10.0
    command_timeout: float = 60.0


def _inventory_path(inventory_root: str, value: str) -> str:
    value = os.path.expanduser(value)
    return value if os.path.isabs(value) else os.path.join(inventory_root, value)


def from_vars(device: str, platform: str, host_vars: Mapping[str, Any], *, inventory_root: str = "",
              settings: ConnSettings | None = None, default_host: str = "") -> Target:
    """A Target from a device's inventory variables (Ansible's names) and the run's explicit settings."""
    s = settings or ConnSettings()
    v = host_vars or {}
    explicit: set[str] = set()

    def pick(run_value: Any, var: str, default: Any, name: str) -> Any:
        if run_value is not None:
            explicit.add(name)
            return run_value
        if v.get(var) not in (None, ""):
            explicit.add(name)
            return v[var]
        return default

    host = str(v.get("ansible_host") or default_host or device)
    port = int(pick(s.port, "ansible_port", 22, "port"))
    user = str(pick(s.user, "ansible_user", "root", "username"))
    key = pick(s.key_file, "ansible_ssh_private_key_file", None, "key_file")
    password = pick(s.password, "ansible_password", None, "password")
    secret = s.secret if s.secret is not None else (v.get("ansible_become_password") or v.get("ansible_become_pass")
                                                    or None)
    files = [_inventory_path(inventory_root, f) for f in s.known_hosts]
    inv_known = v.get(KNOWN_HOSTS_VAR)
    if isinstance(inv_known, str) and inv_known:
        files.append(_inventory_path(inventory_root, inv_known))
    elif isinstance(inv_known, list):
        files += [_inventory_path(inventory_root, str(f)) for f in inv_known if f]
    policy = s.host_key_policy or str(v.get(HOST_KEY_POLICY_VAR) or "verify")
    return Target(device, platform, host, port, username=user,
                  key_file=os.path.expanduser(str(key)) if key else None,
                  password=str(password) if password is not None else None,
                  secret=str(secret) if secret is not None else None,
                  connect_timeout=s.connect_timeout, command_timeout=s.command_timeout,
                  host_keys=HostKeys(tuple(dict.fromkeys(files)), policy), explicit=frozenset(explicit))


def for_device(dev: Any, inventory_root: str, settings: ConnSettings | None = None) -> Target:
    """The Target of an inventory device (:class:`vendorwall.model.Device`): its variables, the run's settings."""
    return from_vars(dev.name, dev.platform, getattr(dev, "vars", {}) or {}, inventory_root=inventory_root,
                     settings=settings, default_host=dev.mgmt_address)
