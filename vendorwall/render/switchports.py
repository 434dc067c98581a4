"""What every switch renderer computes before printing: VLAN names, access ports, the trunk list,
and the check that each interface name is one the platform has (an error naming the platform, the
interface and where it was declared, never a silently wrong configuration).

The IOS renderer predates this module and keeps its own (identical) computation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import validate
from ..errors import Diagnostic
from ..model import DeviceIntent, Model
from ..platforms.registry import Platform
from .ios import vlan_name, vlan_ranges

__all__ = ["UPLINK_DESCRIPTION", "SwitchView", "check_interfaces", "empty_trunk", "view", "vlan_ranges"]


UPLINK_DESCRIPTION = "vendorwall trunk to the site firewall (vendor VLANs only)"


@dataclass(frozen=True)
class SwitchView:
    vlans: tuple[tuple[int, str], ...]  # (id, name), by id
    ports: tuple[tuple[str, int, str], ...]  # (interface, vlan, description)
    uplink: str
    trunk: tuple[int, ...]  # the uplink's allowed VLANs: the vendor VLANs only


def view(intent: DeviceIntent, plat: Platform) -> SwitchView:
    name_max = plat.limits.get("vlan_name_max", 32)
    desc_max = plat.limits.get("description_max", 240)
    vlans = []
    for seg in sorted(intent.segments, key=lambda s: s.vlan):
        label = seg.systems[0] if seg.mode == "dedicated" and seg.systems else "shared"
        vlans.append((seg.vlan, vlan_name(seg.vendor, label, name_max, seg.vlan)))
    ports = tuple((ifname, vlan, desc[:desc_max]) for ifname, vlan, desc in intent.access_ports)
    return SwitchView(tuple(vlans), ports, intent.uplink, tuple(v for v, _ in vlans))


def check_interfaces(model: Model, intent: DeviceIntent, plat: Platform) -> list[Diagnostic]:
    """Every interface of this switch (access ports and uplink) must match the platform's names."""
    if not plat.interface_pattern:
        return []
    rx = re.compile(plat.interface_pattern)
    diags: list[Diagnostic] = []
    inv = model.inventory
    expected = f"an interface name of platform {plat.name} (pattern {plat.interface_pattern})"
    hint = (f"{intent.device} is a {plat.name} switch (vw_platform in hosts.yml): use its interface names, "
            f"or correct its platform")
    site = inv.sites.get(intent.site)
    if site is not None and not rx.match(intent.uplink):
        i = next((k for k, sw in enumerate(site.switches) if sw.name == intent.device), 0)
        diags.append(Diagnostic(site.origin.file, site.origin.line, f"sites.{site.name}.switches[{i}].uplink",
                                f"interface name not valid on platform {plat.name}", expected,
                                repr(intent.uplink), hint, "platform"))
    for s in sorted(inv.systems.values(), key=lambda s: s.name):
        for k, p in enumerate(s.switch_ports):
            if p.switch == intent.device and not rx.match(p.interface):
                path = f"{s.origin.path}.switch_ports[{k}].interface" if s.origin.path else "switch_ports"
                diags.append(Diagnostic(s.origin.file, s.origin.line, path,
                                        f"interface name not valid on platform {plat.name}", expected,
                                        repr(p.interface), hint, "platform"))
    return validate.precise(inv, diags)  # the exact line of each dotted path



def empty_trunk(model: Model, intent: DeviceIntent, plat: Platform) -> Diagnostic:
    """The site has no vendor VLAN and the platform has no way to say 'allow none' on a trunk."""
    site = model.inventory.sites[intent.site]
    return Diagnostic(site.origin.file, site.origin.line, f"sites.{site.name}",
                      f"platform {plat.name} cannot express an empty trunk allowed list (uplink of {intent.device})",
                      "at least one vendor segment on the site", "no vendor VLAN on this site",
                      f"add a system to the site, or leave {intent.device} out of the site's switches until then",
                      "platform")
