"""Read PAN-OS XML back: a rendered file (``<set xpath>`` calls) or what the firewall's XML API returns.

- :func:`parse` turns a rendered file into a :class:`PanConfig` (xpath -> child elements);
- :func:`meaning` computes what the configuration allows (security rules first match in order, zones
  checked against the subinterfaces behind them, schedules as conditions, the on-demand dynamic groups
  ``vw-od-<system>`` as the addresses their description says grants register, the quarantine group as the
  prefixes the file registers (``<register>``: the vendors isolated at render time), else empty until
  isolation registers prefixes; :mod:`vendorwall.render.evaluate`).

Used by the meaning tests and the lab (``--as-platform panos``), and by the PAN-OS pusher.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from ipaddress import IPv4Network

from . import evaluate as ev
from .meaning import Meaning, register

DAYS = {"monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu", "friday": "fri",
        "saturday": "sat", "sunday": "sun"}
QUARANTINE = "vw-quarantine"
OD_PREFIX = "vw-od-"
OD_MARK = "grants register"


@dataclass
class PanConfig:
    sets: dict[str, list[ET.Element]] = field(default_factory=dict)  # xpath -> children, in order
    # tag -> the prefixes the deploy registers with it (<register tag>: the render-time quarantine)
    registered: dict[str, list[IPv4Network]] = field(default_factory=dict)

    def under(self, suffix: str) -> list[ET.Element]:
        """Every child of the xpaths ending with ``suffix`` (``/address``, ``/rulebase/security/rules``...)."""
        return [el for x, els in self.sets.items() if x.endswith(suffix) for el in els]

    def entries(self, suffix: str) -> dict[str, ET.Element]:
        return {el.get("name", ""): el for el in self.under(suffix) if el.tag == "entry"}


def parse(text: str) -> PanConfig:
    root = ET.fromstring(text.encode() if isinstance(text, str) else text)
    cfg = PanConfig()
    for s in root.findall("set"):
        cfg.sets.setdefault(s.get("xpath", ""), []).extend(list(s))
    for r in root.findall("register"):
        cfg.registered.setdefault(r.get("tag", ""), []).extend(
            IPv4Network(e.get("ip", ""), strict=False) for e in r.findall("entry"))
    return cfg


def _members(el: ET.Element | None, path: str) -> list[str]:
    if el is None:
        return []
    return [m.text or "" for m in el.findall(f"{path}/member")]


def addresses(cfg: PanConfig) -> dict[str, list[IPv4Network]]:
    out: dict[str, list[IPv4Network]] = {"any": [ev.ANY]}
    for name, el in cfg.entries("/address").items():
        ipn = el.findtext("ip-netmask")
        if ipn:
            out[name] = [IPv4Network(ipn, strict=False)]
    groups = cfg.entries("/address-group")

    def resolve(name: str, seen: frozenset[str]) -> list[IPv4Network]:
        if name in out:
            return out[name]
        g = groups.get(name)
        if g is None or name in seen:
            return []
        if g.find("dynamic") is not None:
            desc = g.findtext("description") or ""
            if name.startswith(OD_PREFIX) and OD_MARK in desc:
                return [IPv4Network(x) for x in desc.split(OD_MARK, 1)[1].split()]
            # filled at run time by tag registration (the quarantine): what the file registers itself
            return list(cfg.registered.get((g.findtext("dynamic/filter") or "").strip("'"), []))
        return [n for m in _members(g, "static") for n in resolve(m, seen | {name})]

    for name in groups:
        out[name] = resolve(name, frozenset())
    return out


def services(cfg: PanConfig) -> dict[str, list[ev.Pair]]:
    out: dict[str, list[ev.Pair]] = {"any": [("any", None)]}
    for name, el in cfg.entries("/service").items():
        pairs: list[ev.Pair] = []
        for proto in ("tcp", "udp"):
            for part in (el.findtext(f"protocol/{proto}/port") or "").split(","):
                if not part:
                    continue
                lo, _, hi = part.partition("-")
                pairs += [(proto, p) for p in range(int(lo), int(hi or lo) + 1)]
        out[name] = pairs
    for name, el in cfg.entries("/service-group").items():
        out[name] = [p for m in _members(el, "members") for p in out.get(m, [])]
    return out


def _when(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y/%m/%d@%H:%M")


def schedules(cfg: PanConfig) -> dict[str, ev.Schedule]:
    out: dict[str, ev.Schedule] = {"": ev.ALWAYS}
    for name, el in cfg.entries("/schedule").items():
        nr = _members(el, "schedule-type/non-recurring")
        weekly = el.find("schedule-type/recurring/weekly")
        if len(nr) == 1:
            start, _, end = nr[0].partition("-")
            out[name] = ev.classify_range(name, _when(start), _when(end))
        elif weekly is not None:
            spans = {(d.tag, tuple(m.text or "" for m in d.findall("member"))) for d in weekly}
            times = {t for _d, t in spans}
            if len(times) == 1 and len(next(iter(times))) == 1:
                t0, _, t1 = next(iter(times))[0].partition("-")
                out[name] = ev.window([DAYS[d] for d, _t in spans if d in DAYS], t0, t1)
            else:
                out[name] = ev.Schedule("open")
        else:
            out[name] = ev.Schedule("open")  # a schedule vendorwall does not write
    return out


def zone_nets(cfg: PanConfig) -> dict[str, list[IPv4Network]]:
    units: dict[str, list[IPv4Network]] = {}
    for name, el in cfg.entries("/layer3/units").items():
        units[name] = [IPv4Network(ip.get("name", ""), strict=False) for ip in el.findall("ip/entry")]
    return {name: [n for i in _members(el, "network/layer3") for n in units.get(i, [])]
            for name, el in cfg.entries("/zone").items()}


def _inside(n: IPv4Network, nets: list[IPv4Network]) -> bool:
    return any(n.subnet_of(x) for x in nets)


def rules(cfg: PanConfig) -> list[ev.ERule]:
    addrs, svcs, scheds, zones = addresses(cfg), services(cfg), schedules(cfg), zone_nets(cfg)
    out: list[ev.ERule] = []
    for el in cfg.under("/rulebase/security/rules"):
        src_names, dst_names = _members(el, "source"), _members(el, "destination")
        src = [n for a in src_names for n in addrs.get(a, [])]
        dst = [n for a in dst_names for n in addrs.get(a, [])]
        fz, tz = _members(el, "from"), _members(el, "to")
        if "any" not in fz:
            src = [n for n in src if any(_inside(n, zones.get(z, [])) for z in fz)]
        if "any" not in tz:
            dst = [n for n in dst if any(_inside(n, zones.get(z, [])) for z in tz)]
        apps = _members(el, "application")
        pairs = [p for s in _members(el, "service") for p in svcs.get(s, [])] if apps == ["any"] else []
        sched = scheds.get(el.findtext("schedule") or "", ev.Schedule("never"))
        if any(d.startswith(OD_PREFIX) for d in dst_names):
            sched = ev.Schedule("on_demand")
        action = el.findtext("action") or "deny"
        out.append(ev.ERule("accept" if action == "allow" else "deny", src, dst, pairs, sched,
                            QUARANTINE in src_names or QUARANTINE in dst_names,
                            (el.findtext("disabled") or "no") != "yes", el.get("name", "")))
    return out


def meaning(text: str) -> Meaning:
    return ev.evaluate(rules(parse(text)))


register("panos")(meaning)
