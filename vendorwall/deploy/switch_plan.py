"""Want-vs-have planning shared by the NX-OS, AOS-CX and Junos switches (pure, no device I/O).

The ownership rules are the IOS planner's (``ios_plan``), reused as they are: the VLANs inside the
site's ``vlan_range``, the intended access ports, the uplink trunk, and the retirement of access
ports that left the intent (shut down, out of the vendor VLAN, described as retired). Each platform
brings a *dialect*: how to read its configuration into that neutral state, how to print the state
(before/after/diff), and which commands turn one state into another.

One difference from IOS: on NX-OS and AOS-CX an interface that was never configured is
administratively down by default, so "down and nothing else configured" is not an operator's
shutdown: an intended access port in that state is brought up (``ports_down_by_default``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .ios_plan import RETIRED, IosConfig, Port, in_range, owned, target_state, unified

SwitchConfig = IosConfig
__all__ = ["RETIRED", "Dialect", "Port", "SwitchConfig", "SwitchPlan", "plan", "rollback_commands", "satisfied"]

Commands = Callable[[SwitchConfig, SwitchConfig, tuple[int, int]], list[str]]


@dataclass(frozen=True)
class Dialect:
    name: str
    canonical: Callable[[SwitchConfig], str]  # the owned state as the platform prints it
    commands: Commands  # have -> target on what vendorwall owns
    ports_down_by_default: bool = False
    # an interface absent from the running configuration: all defaults (IOS, Junos: enabled)
    missing_port: Port = field(default_factory=Port)


def complete(dialect: Dialect, cfg: SwitchConfig, ports: Iterable[str]) -> SwitchConfig:
    """``cfg`` with every port of ``ports`` present (an absent interface has the platform's defaults)."""
    missing = [p for p in ports if p not in cfg.ports]
    if not missing:
        return cfg
    return SwitchConfig(cfg.vlans, {**cfg.ports, **{p: dialect.missing_port for p in missing}})


@dataclass
class SwitchPlan:
    device: str
    before: str
    after: str
    target: SwitchConfig
    commands: list[str]
    changed: bool
    diff: str


def _unconfigured_down(p: Port) -> bool:
    return p.shutdown and p.description is None and p.access_vlan is None and p.trunk_allowed is None


def plan(dialect: Dialect, device: str, have_all: SwitchConfig, want: SwitchConfig,
         vlan_range: tuple[int, int]) -> SwitchPlan:
    """Raises ValueError when the intent names VLANs outside the site's range."""
    have_all = complete(dialect, have_all, want.ports)
    basis = have_all
    if dialect.ports_down_by_default:
        ports = {n: (Port(mode=p.mode) if n in want.ports and _unconfigured_down(p) else p)
                 for n, p in have_all.ports.items()}
        basis = SwitchConfig(have_all.vlans, ports)
    target = target_state(basis, want, vlan_range)
    have = owned(have_all, target.ports, vlan_range)
    cmds = dialect.commands(have, target, vlan_range)
    before, after = dialect.canonical(have), dialect.canonical(target)
    changed = bool(cmds)
    return SwitchPlan(device, before, after, target, cmds, changed, unified(before, after, device) if changed else "")


def rollback_commands(dialect: Dialect, now: SwitchConfig, backup: SwitchConfig, ports: Iterable[str],
                      vlan_range: tuple[int, int]) -> list[str]:
    """Commands restoring the backup's state of what a push touched (``ports`` and the range's VLANs)."""
    ports = list(ports)
    now, backup = complete(dialect, now, ports), complete(dialect, backup, ports)
    return dialect.commands(owned(now, ports, vlan_range), owned(backup, ports, vlan_range), vlan_range)


def satisfied(dialect: Dialect, running: SwitchConfig, target: SwitchConfig, vlan_range: tuple[int, int]) -> bool:
    running = complete(dialect, running, target.ports)
    return dialect.canonical(owned(running, target.ports, vlan_range)) == dialect.canonical(target)


def owned_text(dialect: Dialect, running: SwitchConfig, ports: Iterable[str], vlan_range: tuple[int, int]) -> str:
    ports = list(ports)
    return dialect.canonical(owned(complete(dialect, running, ports), ports, vlan_range))


def vlans_in_range(cfg: SwitchConfig, vlan_range: tuple[int, int]) -> dict[int, str]:
    return {v: n for v, n in cfg.vlans.items() if in_range(v, vlan_range)}


