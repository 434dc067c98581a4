"""Cisco IOS switch renderer: vendor VLANs with names, access ports, the trunk to the firewall.

Only what vendorwall owns is printed: the site's vendor VLANs, the access ports of maintained
systems and the allowed list of the uplink trunk, which is dedicated to the vendor VLANs.
Nothing else on the switch is touched.
"""

from __future__ import annotations

import re

from ..errors import Diagnostic
from ..model import DeviceIntent, Model
from ..platforms.registry import Platform
from . import register, template

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def vlan_name(vendor: str, system_or_mode: str, limit: int, vlan: int | None = None) -> str:
    """``VW3012-ACME-IMAGING-MRI-3T-01`` cut to the platform limit, no spaces or odd characters.

    The VLAN id leads, so names stay unique on a switch even when the limit cuts the rest.
    """
    head = f"VW{vlan}" if vlan is not None else "VW"
    name = _UNSAFE.sub("-", f"{head}-{vendor}-{system_or_mode}".upper())
    return name[:limit]


def vlan_ranges(vlans: list[int]) -> str:
    """``[3000, 3001, 3002, 3005]`` -> ``3000-3002,3005`` (IOS allowed-list syntax)."""
    out: list[str] = []
    vs = sorted(set(vlans))
    i = 0
    while i < len(vs):
        j = i
        while j + 1 < len(vs) and vs[j + 1] == vs[j] + 1:
            j += 1
        out.append(str(vs[i]) if i == j else f"{vs[i]}-{vs[j]}")
        i = j + 1
    return ",".join(out)


@register("ios")
def render(model: Model, intent: DeviceIntent, plat: Platform) -> tuple[str, dict[str, int], list[Diagnostic]]:
    name_max = plat.limits.get("vlan_name_max", 32)
    desc_max = plat.limits.get("description_max", 240)
    vlans = []
    for seg in sorted(intent.segments, key=lambda s: s.vlan):
        label = seg.systems[0] if seg.mode == "dedicated" and seg.systems else "shared"
        vlans.append((seg.vlan, vlan_name(seg.vendor, label, name_max, seg.vlan)))
    ports = [(ifname, vlan, desc[:desc_max]) for ifname, vlan, desc in intent.access_ports]
    text = template("switch", "ios", device=intent.device, site=intent.site, now=model.now.isoformat(),
                    vlans=vlans, ports=ports, uplink=intent.uplink,
                    trunk_allowed=vlan_ranges([v for v, _ in vlans]) or "none")
    return text, {"vlans": len(vlans), "access_ports": len(ports), "rules": 0}, []
