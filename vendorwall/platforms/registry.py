"""The platform registry: platform key -> capabilities, netmiko device type, renderer.

Each platform is one capability file (``<name>.yml`` beside this module). A new platform
(FortiOS, Stormshield, PAN-OS, ASA, another switch family) is a capability file, a renderer
registered in ``vendorwall.render`` (with its "meaning" parser in ``vendorwall.render.meaning``),
and, to be pushed, a pusher in ``vendorwall.deploy.fanout.PUSHERS``; nothing else changes shape.

A capability file declares:

- ``features``: what the platform can express (compile checks every rule against them: a rule
  needing a feature the platform lacks is an error naming platform and feature, never dropped);
- ``support``: the mission-level table of docs/platforms.md, one entry per :data:`SUPPORT_KEYS`
  with a level (``yes`` / ``partial`` / ``no``) and why;
- ``limits`` (name lengths, ...), ``defaults`` (platform settings a device may override),
  ``netmiko_device_type``, ``error_patterns`` (rejected-command output), ``commit`` style,
  ``logs`` (what the platform logs) and ``sources`` (where its syntax was checked);
- ``syslog_optin`` (appliances whose syslog target is a device-wide slot): the host variable that names
  the slot vendorwall may own (``var``), the regex its value matches (``pattern``), what it means
  (``expected``) and an ``example``. Without the variable on a device nothing device-wide is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

# The columns of the platform x feature table (docs/platforms.md), in order.
SUPPORT_KEYS = ("segments", "rules", "dates", "windows", "grants", "quarantine", "keep_flows",
                "live_session_cut", "atomic_apply", "rollback")
SUPPORT_TITLES = {"segments": "segments", "rules": "rules", "dates": "dates", "windows": "windows",
                  "grants": "grants", "quarantine": "quarantine", "keep_flows": "keep flows in quarantine",
                  "live_session_cut": "live-session cut", "atomic_apply": "atomic apply", "rollback": "rollback"}
# The switch table's columns (docs/platforms.md, "Switch platforms").
SWITCH_SUPPORT_KEYS = ("vlans", "access_ports", "trunk_allowed", "atomic_apply", "rollback", "confirm_timer",
                       "vendor_schema", "simulator")
SUPPORT_TITLES.update({"vlans": "vendor VLANs", "access_ports": "access ports", "trunk_allowed": "trunk list",
                       "confirm_timer": "device-side revert timer", "vendor_schema": "vendor schema",
                       "simulator": "tested on a simulator"})
KEYS_OF_ROLE = {"firewall": SUPPORT_KEYS, "switch": SWITCH_SUPPORT_KEYS}
LEVELS = {"yes": "✅", "partial": "◐", "no": "❌"}


@dataclass(frozen=True)
class Support:
    level: str  # yes | partial | no
    why: str

    @property
    def mark(self) -> str:
        return LEVELS.get(self.level, "?")


@dataclass(frozen=True)
class Platform:
    name: str
    role: str
    description: str
    netmiko_device_type: str
    config_extension: str
    renderer: str
    features: frozenset[str]
    limits: dict[str, int]
    commit: str
    error_patterns: tuple[str, ...]
    interface_pattern: str = ""  # switches: a regex the platform's interface names match ("": not checked)
    transport: str = "netmiko"  # how deploy reaches it: netmiko (CLI session) | netconf
    support: dict[str, Support] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    logs: str = ""
    sources: tuple[str, ...] = ()
    syslog_optin: dict[str, str] = field(default_factory=dict)  # var, pattern, expected, example

    def supports(self, feature: str) -> bool:
        return feature in self.features


def _load(data: dict[str, Any]) -> Platform:
    support = {k: Support(str(v.get("level", "no")), str(v.get("why", "")).strip())
               for k, v in (data.get("support") or {}).items()}
    return Platform(
        name=data["name"], role=data["role"], description=data.get("description", ""),
        netmiko_device_type=data["netmiko_device_type"], config_extension=data.get("config_extension", ""),
        renderer=data.get("renderer", ""), features=frozenset(data.get("features", [])),
        limits=dict(data.get("limits") or {}), commit=data.get("commit", ""),
        error_patterns=tuple(data.get("error_patterns", [])),
        interface_pattern=data.get("interface_pattern", ""), transport=data.get("transport", "netmiko"),
        support=support,
        defaults=dict(data.get("defaults") or {}), logs=str(data.get("logs", "")).strip(),
        sources=tuple(data.get("sources", [])),
        syslog_optin={k: str(v) for k, v in (data.get("syslog_optin") or {}).items()},
    )


@cache
def platforms() -> dict[str, Platform]:
    out = {}
    for entry in sorted(resources.files("vendorwall.platforms").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yml"):
            p = _load(yaml.safe_load(entry.read_text(encoding="utf-8")))
            out[p.name] = p
    return out


def get(name: str) -> Platform:
    return platforms()[name]


def platforms_for_role(role: str) -> list[str]:
    return sorted(n for n, p in platforms().items() if p.role == role)


def config_extensions() -> tuple[str, ...]:
    """Every extension a renderer writes (``plan`` recognises its own outputs by them)."""
    return tuple(sorted({f".{p.config_extension}" for p in platforms().values() if p.config_extension}))


def support_table(role: str = "firewall") -> str:
    """The platform x feature table of docs/platforms.md (Markdown), from the capability files."""
    names = platforms_for_role(role)
    keys = KEYS_OF_ROLE[role]
    head = "| platform | " + " | ".join(SUPPORT_TITLES[k] for k in keys) + " |"
    rows = [head, "|---" * (len(keys) + 1) + "|"]
    for n in names:
        p = platforms()[n]
        cells = [p.support[k].mark if k in p.support else "?" for k in keys]
        rows.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def support_reasons(role: str = "firewall") -> str:
    """Why each cell of :func:`support_table` is what it is (Markdown), from the capability files."""
    out: list[str] = []
    for n in platforms_for_role(role):
        p = platforms()[n]
        out.append(f"### {n}\n")
        out.append(f"{p.description}\n")
        for k in KEYS_OF_ROLE[role]:
            s = p.support.get(k)
            if s is not None:
                out.append(f"- **{SUPPORT_TITLES[k]}** {s.mark} {s.why}")
        if p.logs:
            out.append(f"- **logs**: {p.logs}")
        if p.sources:
            out.append("- **syntax checked against**: " + "; ".join(p.sources))
        out.append("")
    return "\n".join(out)
