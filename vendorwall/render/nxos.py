"""Cisco NX-OS switch renderer: vendor VLANs with names, access ports, the trunk to the firewall.

Same ownership as the IOS renderer: the site's vendor VLANs, the access ports of maintained
systems and the allowed list of the uplink trunk (dedicated to the vendor VLANs). NX-OS syntax:
``switchport`` (layer 2), ``switchport mode access|trunk``, ``switchport access vlan N``,
``switchport trunk allowed vlan LIST`` (``none`` when the site has no vendor VLAN).
"""

from __future__ import annotations

from ..errors import Diagnostic
from ..model import DeviceIntent, Model
from ..platforms.registry import Platform
from . import register, switchports, template


@register("nxos")
def render(model: Model, intent: DeviceIntent, plat: Platform) -> tuple[str, dict[str, int], list[Diagnostic]]:
    v = switchports.view(intent, plat)
    diags = switchports.check_interfaces(model, intent, plat)
    text = template("switch", "nxos", device=intent.device, site=intent.site, now=model.now.isoformat(),
                    vlans=v.vlans, ports=v.ports, uplink=v.uplink,
                    uplink_description=switchports.UPLINK_DESCRIPTION,
                    trunk_allowed=switchports.vlan_ranges(list(v.trunk)) or "none")
    return text, {"vlans": len(v.vlans), "access_ports": len(v.ports), "rules": 0}, diags
