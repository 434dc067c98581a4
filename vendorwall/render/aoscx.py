"""Aruba AOS-CX switch renderer: vendor VLANs with names, access ports, the trunk to the firewall.

Same ownership as the IOS renderer. AOS-CX syntax: ``vlan N`` / ``name``, ``vlan access N`` on an
access port, ``vlan trunk allowed LIST`` on the uplink (a port becomes a trunk by it). AOS-CX has
no "allow none" form, so a site without vendor VLANs is an error naming the platform.
Interface descriptions are cut to the platform's 64 characters.
"""

from __future__ import annotations

from ..errors import Diagnostic
from ..model import DeviceIntent, Model
from ..platforms.registry import Platform
from . import register, switchports, template


@register("aoscx")
def render(model: Model, intent: DeviceIntent, plat: Platform) -> tuple[str, dict[str, int], list[Diagnostic]]:
    v = switchports.view(intent, plat)
    diags = switchports.check_interfaces(model, intent, plat)
    if not v.trunk:
        diags.append(switchports.empty_trunk(model, intent, plat))
    text = template("switch", "aoscx", device=intent.device, site=intent.site, now=model.now.isoformat(),
                    vlans=v.vlans, ports=v.ports, uplink=v.uplink,
                    uplink_description=switchports.UPLINK_DESCRIPTION[:plat.limits.get("description_max", 64)],
                    trunk_allowed=switchports.vlan_ranges(list(v.trunk)))
    return text, {"vlans": len(v.vlans), "access_ports": len(v.ports), "rules": 0}, diags
