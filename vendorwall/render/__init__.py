"""Render the compiled model per device and platform.

Python computes every value (sets, elements, names, limits); the Jinja templates in
``vendorwall/templates/<feature>/<platform>.j2`` only print them (StrictUndefined). A renderer
registers under the key its capability file names in ``renderer:``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple, dataclass
from functools import cache
from typing import Any

import jinja2

from .. import cache as vwcache
from ..errors import Diagnostic
from ..model import DeviceIntent, Model
from ..platforms import registry


@dataclass(frozen=True)
class Rendered:
    device: str
    platform: str
    extension: str
    text: str
    summary: dict[str, int]


RendererFn = Callable[[Model, DeviceIntent, registry.Platform], tuple[str, dict[str, int], list[Diagnostic]]]
_RENDERERS: dict[str, RendererFn] = {}


def register(key: str) -> Callable[[RendererFn], RendererFn]:
    def deco(fn: RendererFn) -> RendererFn:
        _RENDERERS[key] = fn
        return fn

    return deco


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("vendorwall", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def template(feature: str, platform: str, **context: Any) -> str:
    return environment().get_template(f"{feature}/{platform}.j2").render(**context)


def render_device(model: Model, intent: DeviceIntent) -> tuple[Rendered | None, list[Diagnostic]]:
    plat = registry.get(intent.platform)
    fn = _RENDERERS.get(plat.renderer)
    if fn is None:
        return None, []
    text, summary, diags = fn(model, intent, plat)
    return Rendered(intent.device, plat.name, plat.config_extension, text, summary), diags


def render_as(model: Model, device: str, platform: str, vlan_parent: str = "port2") -> tuple[Rendered | None,
                                                                                        list[Diagnostic]]:
    """``device`` rendered as if it ran ``platform`` (golden files of every platform, benchmarks, the oracle).
    A platform that needs a VLAN parent interface gets ``vlan_parent`` unless hosts.yml names one."""
    from dataclasses import replace

    intent = replace(model.devices[device], platform=platform)
    dev = model.inventory.devices.get(device)
    if dev is not None and not dev.vlan_parent:
        devices = {**model.inventory.devices, device: replace(dev, vlan_parent=vlan_parent)}
        model = replace(model, inventory=replace(model.inventory, devices=devices))
    return render_device(model, intent)


def render_all(model: Model) -> tuple[dict[str, Rendered], list[Diagnostic]]:
    """Every device; with an active cache, a device whose render inputs did not change is not re-rendered
    (see :class:`vendorwall.cache.Fingerprints` for what the inputs are)."""
    out: dict[str, Rendered] = {}
    diags: list[Diagnostic] = []
    c = vwcache.active()
    fp = vwcache.Fingerprints(model) if c is not None else None
    for name in sorted(model.devices):
        intent = model.devices[name]
        key = ""
        if c is not None and fp is not None:
            key = fp.device(intent, registry.get(intent.platform))
            hit = c.get("render", key)
            if hit is not None:
                out[name] = Rendered(*hit)
                continue
        rendered, d = render_device(model, intent)
        diags.extend(d)
        if rendered is not None:
            out[name] = rendered
            if c is not None and not d:  # only clean renders are kept: a diagnostic is always recomputed
                c.put("render", key, astuple(rendered))
    return out, diags


# Import the built-in renderers so they register.
from . import aoscx, asa, fortios, ios, junos, nftables, nxos, panos, stormshield  # noqa: E402,F401
