"""Cisco ASA renderer: one CLI configuration per firewall, only what vendorwall owns.

What it prints (ASA 9.x syntax; checked against the cisco.asa collection's own parsers and argument
specs, see docs/platforms.md), from the platform-neutral rule base of :mod:`vendorwall.render.firewall_policy`:

- one VLAN subinterface per vendor segment (``<vw_vlan_parent>.<vlan>``, ``nameif vw<vlan>``,
  described ``vendorwall ...``);
- ``object-group network`` per system, entry path, client group... (``network-object host`` /
  ``network-object <net> <mask>``; an IPv6 prefix is written as ``<prefix>/<len>``, never dropped),
  ``object-group service <name> tcp|udp`` per catalogue service;
- ``time-range``: ``absolute end`` for end dates, ``periodic`` per weekday for windows, ``absolute
  start`` for "from the day after" a dated window, and a closed ``absolute start ... end ...`` per
  on-demand system (``vw-od-<system>``) that grants open;
- one access list ``vw-global`` (remark + ACEs per rule: must-keep flows, the quarantine denies, the
  permits with their ended-window denies, the logged default deny), every ACE ``log informational``,
  applied with ``access-group vw-global global``.

``vw-quarantine``'s members and the ``vw-od-*`` time-ranges are *state*: a deploy creates them when
missing and never overwrites what isolation and grants put in them (``vendorwall.deploy.asa``).
``vw-quarantine`` carries the vendors isolated at render time (their entry paths and, with scope segment,
the segments this firewall routes): one ``network-object`` each, as ``vendorwall isolate`` adds it, so
the top deny ACEs close them; a deploy adds the missing ones and never removes a live one
(``vendorwall restore`` does), so a redeploy or a new VPN pool of an isolated vendor stays closed.

Log forwarding (:mod:`vendorwall.render.logfwd`), when the inventory names a syslog server and the device
opts in with ``vw_syslog_interface`` (the nameif that reaches the server): ``logging list vw-conn`` (messages
106100, 302013-302014) and ``logging host <nameif> <address> tcp/<port> [secure]``. ``logging enable``,
``logging trap`` (which messages every logging host receives) and ``logging permit-hostdown`` are the ASA's
own settings, never written: with TCP syslog and without ``permit-hostdown`` an ASA stops passing new
connections while the server is unreachable (docs/platforms.md says so).
"""

from __future__ import annotations

import datetime as dt
from ipaddress import IPv4Network, IPv6Network, ip_network

from ..errors import Diagnostic
from ..model import DeviceIntent, Model
from ..platforms.registry import Platform
from . import firewall_policy as fp
from . import logfwd, register, template

DAYS = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday",
        "sat": "Saturday", "sun": "Sunday"}
EPOCH = dt.datetime(2001, 1, 1, 0, 0)
CLOSED = "absolute start 00:00 01 January 2001 end 00:01 01 January 2001"
PLACEHOLDER = "network-object host 0.0.0.0"  # the quarantine's member when empty: never a forwarded address


def clean(text: str) -> str:
    return " ".join(text.replace("\n", " ").split())


def when(t: dt.datetime) -> str:
    return f"{t.strftime('%H:%M')} {t.day:02d} {t.strftime('%B')} {t.year}"


def network_object(n: IPv4Network | IPv6Network) -> str:
    if n.version == 6:
        return f"network-object host {n.network_address}" if n.prefixlen == 128 else f"network-object {n}"
    return f"network-object host {n.network_address}" if n.prefixlen == 32 else \
        f"network-object {n.network_address} {n.netmask}"


def time_range_lines(s: fp.Schedule) -> list[str]:
    if s.kind == "on_demand":
        return [CLOSED]
    if s.kind == "window" and s.window:
        return [f"periodic {DAYS[d]} {s.window.start} to {s.window.end}" for d in s.window.days]
    assert s.until is not None
    day_after = dt.datetime.combine(s.until + dt.timedelta(days=1), dt.time(0, 0))
    if s.kind == "after":
        return [f"absolute start {when(day_after)}"]
    return [f"absolute end {when(day_after)}"]


def endpoint(name: str) -> str:
    return "any" if name == "any" else f"object-group {name}"


def aces(acl: str, p: fp.Policy, services: dict[str, fp.Service], remark_max: int) -> list[str]:
    action = "permit" if p.action == "accept" else "deny"
    out = [f"access-list {acl} remark {fp.cut(clean(f'{p.name}: {p.comment}'), remark_max)}"]
    tail = " log informational" + (f" time-range {p.schedule}" if p.schedule else "")
    for src in p.src:
        for dst in p.dst:
            for svc in p.services:
                if svc == "any":
                    out.append(f"access-list {acl} extended {action} ip {endpoint(src)} {endpoint(dst)}{tail}")
                else:
                    proto = services[svc].protocol
                    out.append(f"access-list {acl} extended {action} {proto} {endpoint(src)} {endpoint(dst)} "
                               f"object-group {svc}{tail}")
    return out


def logging_lines(fwd: logfwd.Forward) -> list[str]:
    """The ASA's share of log forwarding: the message list ``vw-conn`` (106100 ACE hits, 302013/302014 TCP
    connections built and torn down with bytes and duration) and one ``logging host`` on the nameif the device
    names (TCP, ``secure`` = TLS when the inventory says so)."""
    return [*(f"logging list {logfwd.ASA_LIST} message {m}" for m in logfwd.ASA_MESSAGES),
            f"logging host {fwd.slot} {fwd.host} tcp/{fwd.port}" + (" secure" if fwd.tls else "")]


@register("asa")
def render(model: Model, intent: DeviceIntent, plat: Platform) -> tuple[str, dict[str, int], list[Diagnostic]]:
    lim = plat.limits
    gmax = lim.get("object_group_name_max", 64)
    rs = fp.build(model, intent, fp.Limits(group=gmax, service=gmax, schedule=lim.get("time_range_name_max", 64),
                                           policy=40, comment=lim.get("description_max", 200)))
    diags: list[Diagnostic] = []
    dev = model.inventory.devices.get(intent.device)
    parent = (dev.vlan_parent if dev is not None else "") or ""
    origin = dev.origin if dev is not None else None
    if intent.segments and not parent:
        diags.append(Diagnostic(origin.file if origin else intent.device, origin.line if origin else 0,
                                origin.path if origin else intent.device,
                                f"platform asa of {intent.device} needs the interface carrying the vendor VLANs",
                                "vw_vlan_parent: the ASA port or port-channel the subinterfaces sit on", "nothing",
                                "add vw_vlan_parent to the firewall in hosts.yml (e.g. GigabitEthernet0/1)",
                                "platform"))
    acl = str(plat.defaults.get("acl_name", "vw-global"))
    level = int(plat.defaults.get("security_level", 50))
    dmax = lim.get("description_max", 200)
    interfaces = [(f"{parent}.{s.vlan}", [f"description {fp.cut(f'vendorwall {s.key}', dmax)}", f"vlan {s.vlan}",
                                          f"nameif vw{s.vlan}", f"security-level {level}",
                                          f"ip address {s.gateway} {s.subnet.netmask}"])
                  for s in intent.segments]
    quarantined = sorted(intent.quarantine, key=lambda e: fp.net_key(e.prefix))
    groups = []
    for g in rs.groups.values():
        body = [f"description {clean(g.comment)}"]
        if g.state:  # the quarantine: the placeholder, then the vendors isolated at render time
            body += [PLACEHOLDER, *(network_object(e.prefix) for e in quarantined)]
        else:
            body += [network_object(ip_network(str(n))) for n in g.nets]
        groups.append((f"object-group network {g.name}", body))
    for svc in rs.services.values():
        body = [f"description {clean(svc.comment)}"]
        body += [f"port-object eq {lo}" if lo == hi else f"port-object range {lo} {hi}"
                 for lo, hi in fp.port_ranges(svc.ports)]
        groups.append((f"object-group service {svc.name} {svc.protocol}", body))
    ranges = [(f"time-range {s.name}", time_range_lines(s)) for s in rs.schedules.values()]
    lines = [line for p in rs.policies for line in aces(acl, p, rs.services, lim.get("remark_max", 100))]
    fwd, fwd_note, fwd_diags = logfwd.forward_of(model, intent, plat)
    diags += fwd_diags
    text = template("firewall", "asa", device=intent.device, site=intent.site, now=model.now.isoformat(),
                    isolated=fp.isolated_names(model), log_forwarding=fwd_note,
                    logging=logging_lines(fwd) if fwd is not None else [],
                    blocks=[*(("interface " + n, b) for n, b in interfaces), *groups, *ranges],
                    acl_lines=lines, binding=f"access-group {acl} global")
    n_aces = sum(1 for x in lines if " extended " in x)
    summary = {"rules": rs.rules, "elements": n_aces, "segments": len(intent.segments), "policies": len(rs.policies)}
    return text, summary, diags
