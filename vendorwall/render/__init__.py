"""Render the compiled model per device and platform.

Python computes every value (sets, elements, names, limits); the Jinja templates in
``vendorwall/templates/<feature>/<platform>.j2`` only print them (StrictUndefined). A renderer
registers under the key its capability file names in ``renderer:``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2

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


def render_all(model: Model) -> tuple[dict[str, Rendered], list[Diagnostic]]:
    out: dict[str, Rendered] = {}
    diags: list[Diagnostic] = []
    for name in sorted(model.devices):
        rendered, d = render_device(model, model.devices[name])
        diags.extend(d)
        if rendered is not None:
            out[name] = rendered
    return out, diags


# Import the built-in renderers so they register.
from . import aoscx, ios, junos, nftables, nxos  # noqa: E402,F401
