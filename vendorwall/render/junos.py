"""Juniper Junos EX (ELS) switch renderer, as ``set`` commands: vendor VLANs, access ports, the trunk.

Same ownership as the IOS renderer. Junos names its VLANs (``set vlans NAME vlan-id N``); ports
refer to VLANs by id (``vlan members 3000``), so a renamed VLAN never strands a port. ELS syntax:
``unit 0 family ethernet-switching interface-mode access|trunk`` and ``vlan members``. An ELS trunk
must have members, so a site without vendor VLANs is an error naming the platform. The deploy
(``vendorwall/deploy/junos.py``) sends the same state over NETCONF, not this text.
"""

from __future__ import annotations

from ..errors import Diagnostic
from ..model import DeviceIntent, Model
from ..platforms.registry import Platform
from . import register, switchports, template


def quoted(text: str) -> str:
    """A Junos string value: no double quotes or backslashes inside (they are replaced)."""
    return text.replace("\\", "/").replace('"', "'")


@register("junos")
def render(model: Model, intent: DeviceIntent, plat: Platform) -> tuple[str, dict[str, int], list[Diagnostic]]:
    v = switchports.view(intent, plat)
    diags = switchports.check_interfaces(model, intent, plat)
    if not v.trunk:
        diags.append(switchports.empty_trunk(model, intent, plat))
    ports = [(ifname, vlan, quoted(desc)) for ifname, vlan, desc in v.ports]
    text = template("switch", "junos", device=intent.device, site=intent.site, now=model.now.isoformat(),
                    vlans=v.vlans, ports=ports, uplink=v.uplink,
                    uplink_description=switchports.UPLINK_DESCRIPTION,
                    trunk_members=" ".join(str(x) for x in v.trunk))
    return text, {"vlans": len(v.vlans), "access_ports": len(v.ports), "rules": 0}, diags
