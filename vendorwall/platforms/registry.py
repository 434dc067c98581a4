"""The platform registry: platform key -> capabilities, netmiko device type, renderer.

Each platform is one capability file (``<name>.yml`` beside this module). A new platform
(FortiOS, PAN-OS, ASA, SRX, another switch family) is a new capability file plus a renderer
registered in ``vendorwall.render``; nothing else changes shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml


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

    def supports(self, feature: str) -> bool:
        return feature in self.features


def _load(data: dict[str, Any]) -> Platform:
    return Platform(
        name=data["name"], role=data["role"], description=data.get("description", ""),
        netmiko_device_type=data["netmiko_device_type"], config_extension=data.get("config_extension", ""),
        renderer=data.get("renderer", ""), features=frozenset(data.get("features", [])),
        limits=dict(data.get("limits") or {}), commit=data.get("commit", ""),
        error_patterns=tuple(data.get("error_patterns", [])),
        interface_pattern=data.get("interface_pattern", ""), transport=data.get("transport", "netmiko"),
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
