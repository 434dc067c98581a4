"""The intent as data: ``vendorwall export INVENTORY --format json``.

Schema (version 1, documented in docs/export.md; fields are only ever added):

- ``version``: 1; ``now``: the date the intent was compiled for;
- ``flows``: every allowed flow, one per (src, dst, protocol, port), sorted; each has
  ``id`` (the rule id), ``kind`` (vendor_access | clinical | management), ``vendor`` and
  ``system`` (names, "" for none), ``src`` and ``dst`` (prefixes), ``protocol`` (tcp|udp|any),
  ``port`` (int, null for protocol any), ``service``, ``validity`` (permanent | until |
  scheduled | on_demand), ``until`` (date or null), ``window``, ``max_hours``, ``via``,
  ``peer``, ``keep``, ``log``, ``firewalls`` and ``origin`` (file:line);
- ``segments``: site, vendor, systems, vlan, subnet, gateway, interface, zone, firewall, hosts;
- ``devices``: device name -> role, platform, site, rule and segment counts.
"""

from __future__ import annotations

import json
from typing import Any

from .compile import expand
from .model import Model, Rule

EXPORT_VERSION = 1


def _validity(rule: Rule) -> dict[str, Any]:
    v = rule.validity
    return {
        "validity": v.kind,
        "until": v.until.isoformat() if v.until else None,
        "window": ({"days": list(v.window.days), "start": v.window.start, "end": v.window.end}
                   if v.window else None),
        "max_hours": v.max_hours,
    }


def flows(model: Model) -> list[dict[str, Any]]:
    out = []
    for r in model.rules:
        common = {"id": r.id, "kind": r.kind, "vendor": r.vendor, "system": r.system, "service": r.service,
                  **_validity(r), "via": r.via, "peer": r.peer, "keep": r.keep, "log": r.log,
                  "firewalls": list(r.firewalls), "origin": str(r.origin)}
        for src, dst, proto, port in expand(r):
            out.append({**common, "src": str(src), "dst": str(dst), "protocol": proto, "port": port})
    out.sort(key=lambda f: (f["id"], f["src"], f["dst"], f["port"] or 0))
    return out


def to_data(model: Model) -> dict[str, Any]:
    return {
        "version": EXPORT_VERSION,
        "now": model.now.isoformat(),
        "flows": flows(model),
        "segments": [
            {"key": s.key, "site": s.site, "vendor": s.vendor, "mode": s.mode, "systems": list(s.systems),
             "vlan": s.vlan, "subnet": str(s.subnet), "gateway": str(s.gateway), "interface": s.interface,
             "zone": s.zone, "firewall": s.firewall,
             "hosts": {k: [str(a) for a in v] for k, v in s.hosts.items()}}
            for s in model.segments
        ],
        "devices": {
            name: {"role": d.role, "platform": d.platform, "site": d.site, "rules": len(d.rules),
                   "segments": len(d.segments)}
            for name, d in sorted(model.devices.items())
        },
    }


def to_json(model: Model) -> str:
    return json.dumps(to_data(model), indent=1, sort_keys=True) + "\n"
