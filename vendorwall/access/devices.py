"""SSH targets for the access commands: the firewalls (and bastions) of the inventory, or of a lab.

The connection code is the isolation's (:func:`vendorwall.isolate.transport.run_script`: one SSH
``exec`` round trip per device, typed errors) and the fan-out a thread pool, as in
:mod:`vendorwall.isolate.run`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..deploy.errors import DeployError
from ..deploy.session import Target
from ..devices.target import ConnSettings, HostKeys, for_device
from ..errors import UsageError
from ..isolate import transport
from ..model import Inventory
from ..state import StateDir

T = TypeVar("T")


@dataclass(frozen=True)
class ConnOptions:
    """A run's explicit connection choices (None: the device's inventory variables decide) and fan-out."""

    user: str | None = None
    key_file: str | None = None
    port: int | None = None
    connect_timeout: float = 5.0
    command_timeout: float = 30.0
    lab_dir: str | None = None
    known_hosts: tuple[str, ...] = ()
    host_key_policy: str | None = None
    password: str | None = field(default=None, repr=False)
    workers: int = 64

    @property
    def settings(self) -> ConnSettings:
        return ConnSettings(user=self.user, key_file=self.key_file, port=self.port, password=self.password,
                            known_hosts=self.known_hosts, host_key_policy=self.host_key_policy,
                            connect_timeout=self.connect_timeout, command_timeout=self.command_timeout)


def targets(inv: Inventory, names: list[str], o: ConnOptions) -> list[Target]:
    """Targets for devices ``names`` of the inventory; with ``o.lab_dir`` from the lab's controller
    namespace with its key (firewalls) or from the bastion namespace's recorded address."""
    out: list[Target] = []
    if o.lab_dir:
        from ..lab import bastion, netns, runner

        state = runner.LabState.load(o.lab_dir)
        bst = bastion.BastionState.load(o.lab_dir)
        if state is None and bst is None:
            raise UsageError(f"--lab-dir: no lab in {o.lab_dir}", "start one: vendorwall lab up INVENTORY")
        ctl = state.controller if state else ""

        def factory(host: str, port: int, timeout: float) -> Any:
            return netns.connect_in(ctl, host, port, timeout)

        for n in sorted(names):
            dev = inv.devices[n]
            if dev.role == "bastion":
                b = (bst.bastions.get(n) if bst else None) or {}
                ns = b.get("netns", "")

                def bfactory(host: str, port: int, timeout: float, ns: str = ns) -> Any:
                    return netns.connect_in(ns, host, port, timeout)

                out.append(Target(n, dev.platform, "127.0.0.1", key_file=bst.ssh_key if bst else None,
                                  sock_factory=bfactory, connect_timeout=o.connect_timeout,
                                  command_timeout=o.command_timeout,
                                  host_keys=HostKeys((bst.known_hosts,) if bst else (), user_files=False, alias=n)))
                continue
            if state is None:
                raise UsageError(f"--lab-dir: no firewall lab in {o.lab_dir}", "vendorwall lab up INVENTORY")
            info = state.firewalls.get(n) or {}
            out.append(Target(n, dev.platform, info.get("mgmt", dev.mgmt_address), key_file=state.ssh_key,
                              sock_factory=factory, connect_timeout=o.connect_timeout,
                              command_timeout=o.command_timeout,
                              host_keys=HostKeys((state.known_hosts,), user_files=False),
                              remote_dir=info.get("remote_dir", "/var/lib/vendorwall")))
        return out
    return [for_device(inv.devices[n], inv.root, o.settings) for n in sorted(names)]


@dataclass
class Answer:
    device: str
    ok: bool
    output: str = ""
    error: str = ""
    error_kind: str = ""
    seconds: float = 0.0


def run_all(tgts: list[Target], script: Callable[[Target], str], o: ConnOptions, label: str) -> dict[str, Answer]:
    """Run one script per device, all devices at once; one :class:`Answer` per device (never raises)."""

    def one(t: Target) -> Answer:
        try:
            res = transport.run_script(t, script(t), label=label)
            return Answer(t.device, True, res.stdout, seconds=res.seconds)
        except DeployError as exc:
            return Answer(t.device, False, error=str(exc), error_kind=exc.kind)

    if not tgts:
        return {}
    with ThreadPoolExecutor(max(1, min(o.workers, len(tgts)))) as pool:
        return {a.device: a for a in pool.map(one, tgts)}


def state_dir(inventory: str) -> StateDir:
    """The inventory's state directory (journals, archive, reports): :mod:`vendorwall.state`."""
    return StateDir.for_inventory(inventory)
