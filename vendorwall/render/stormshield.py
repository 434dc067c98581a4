"""Stormshield SNS renderer: one serverd command script per firewall, only objects vendorwall owns.

What it prints (serverd command syntax from Stormshield's CLI serverd commands reference; see
docs/platforms.md), from the platform-neutral rule base of :mod:`vendorwall.render.firewall_policy`:

- ``CONFIG NETWORK INTERFACE CREATE``: one VLAN interface per vendor segment (name ``vl<vlan>``, on the
  port named by ``vw_vlan_parent``, protected, the segment's gateway address);
- ``CONFIG OBJECT HOST|NETWORK NEW``: one object per prefix (``vw-<address>`` /
  ``vw-<address>_<len>``); ``CONFIG OBJECT GROUP NEW`` + ``ADDTO``: the address groups;
- ``CONFIG OBJECT SERVICE NEW``: one object per port range of a catalogue service, a
  ``SERVICEGROUP`` when a service has several ranges;
- ``CONFIG OBJECT TIME NEW``: the time objects (end dates, weekly windows, the day after a dated
  window, the closed on-demand windows ``vw-od-<system>`` that grants open);
- ``CONFIG FILTER RULE INSERT``: vendorwall's rules at the top of the filter slot, in order (must-keep
  flows, the quarantine blocks, the pass rules with their ended-window blocks, the logged default
  deny), every rule ``loglevel=log``; then ``CONFIG OBJECT ACTIVATE`` / ``CONFIG FILTER ACTIVATE``.

``vw-quarantine`` (its members) and the ``vw-od-*`` time objects are *state*: a deploy creates them
when missing and never overwrites what isolation and grants put in them (``vendorwall.deploy.stormshield``).
The quarantine carries the vendors isolated at render time (their entry paths and, with scope segment,
the segments this firewall routes): one object ``vw-q-<prefix>`` each, exactly as ``vendorwall isolate``
creates it, member of ``vw-quarantine``; a deploy adds the missing ones and never removes a live member
(``vendorwall restore`` does), so a redeploy or a new VPN pool of an isolated vendor stays closed.
The firewall's own rules below vendorwall's, its administration access and its implicit rules are
never touched.

Log forwarding (:mod:`vendorwall.render.logfwd`), when the inventory names a syslog server and the device
opts in with ``vw_syslog_slot`` (a syslog profile index, 0 to 3): the host object ``vw-syslog`` and
``CONFIG COMMUNICATION SYSLOG PROFILE UPDATE Index=<slot>`` (TCP, or TLS; RFC 5424; filter and connection
logs), then ``CONFIG COMMUNICATION ACTIVATE``; the other profiles are never written.
"""

from __future__ import annotations

import datetime as dt
from ipaddress import IPv4Network

from ..errors import Diagnostic
from ..model import DeviceIntent, Model
from ..platforms.registry import Platform
from . import firewall_policy as fp
from . import logfwd, register, template

WEEKDAY = {"mon": "1", "tue": "2", "wed": "3", "thu": "4", "fri": "5", "sat": "6", "sun": "0"}
CLOSED = "2001:01:01:00:00-2001:01:01:00:01"  # a closed on-demand window (yyyy:mm:dd:hh:mm-yyyy:mm:dd:hh:mm)
EPOCH = "2001:01:01:00:00"
FAR_END = "2037:12:31:23:59"
PLACEHOLDER = IPv4Network("0.0.0.0/32")  # the quarantine's member when empty: never a forwarded address
PLACEHOLDER_NAME = "vw-q-none"


def q(text: str) -> str:
    """A serverd token value: bare when safe, else double-quoted (quotes and line breaks replaced)."""
    text = text.replace('"', "'").replace("\n", " ").replace("\r", " ")
    if text and all(c.isalnum() or c in "-_.:/;,@" for c in text):
        return text
    return f'"{text}"'


def obj_name(n: IPv4Network) -> str:
    return f"vw-{n.network_address}" if n.prefixlen == 32 else f"vw-{n.network_address}_{n.prefixlen}"


def address_command(n: IPv4Network, comment: str, name: str = "") -> str:
    name = name or obj_name(n)
    if n.prefixlen == 32:
        return (f"CONFIG OBJECT HOST NEW update=1 name={q(name)} ip={n.network_address} resolve=static "
                f"comment={q(comment)}")
    return (f"CONFIG OBJECT NETWORK NEW update=1 name={q(name)} ip={n.network_address} mask={n.netmask} "
            f"comment={q(comment)}")


def sdate(day: dt.date, hhmm: str = "00:00") -> str:
    return day.strftime("%Y:%m:%d") + ":" + hhmm


def time_values(s: fp.Schedule) -> tuple[str, str, str]:
    """(time, weekday, date) of a time object."""
    if s.kind == "on_demand":
        return "", "", CLOSED
    if s.kind == "window" and s.window:
        return f"{s.window.start}-{s.window.end}", ";".join(WEEKDAY[d] for d in s.window.days), ""
    if s.kind == "after" and s.until:
        return "", "", f"{sdate(s.until + dt.timedelta(days=1))}-{FAR_END}"
    assert s.kind == "until" and s.until
    return "", "", f"{EPOCH}-{sdate(s.until + dt.timedelta(days=1))}"


def time_command(name: str, time: str, weekday: str, date: str, comment: str) -> str:
    return (f"CONFIG OBJECT TIME NEW update=1 name={q(name)} time={time} weekday={weekday} yearday= date={date} "
            f"comment={q(comment)}")


def service_objects(svc: fp.Service, limit: int) -> list[tuple[str, int, int]]:
    """(object name, first port, last port) per port range of a service (one range: the service's name)."""
    ranges = fp.port_ranges(svc.ports)
    if len(ranges) == 1:
        return [(svc.name, *ranges[0])]
    return [(fp.fit(f"{svc.name}-{lo}", limit), lo, hi) for lo, hi in ranges]


def rule_command(slot: int, position: int, p: fp.Policy) -> str:
    action = "pass" if p.action == "accept" else "block"
    parts = [f"CONFIG FILTER RULE INSERT index={slot} type=filter position={position} state=on action={action}",
             f"srctarget={','.join(p.src)}", f"dsttarget={','.join(p.dst)}"]
    if p.services == ["any"]:
        parts.append("ipproto=any")
    else:
        parts.append(f"dstport={','.join(p.services)}")
    parts += [f"schedule={p.schedule or 'anytime'}", "loglevel=log", f"rulename={q(p.name)}",
              f"comment={q(p.comment)}"]
    return " ".join(parts)


def syslog_command(fwd: logfwd.Forward) -> str:
    """The syslog profile the device lets vendorwall own (``vw_syslog_slot``): vendorwall's server (host object
    ``vw-syslog``), TCP or TLS, RFC 5424, the filter and connection log families; the profile's other families
    and certificates are left as they are."""
    return (f"CONFIG COMMUNICATION SYSLOG PROFILE UPDATE Index={fwd.slot} State=1 Name={logfwd.PROFILE} "
            f"Comment={q('vendorwall: connection logs of the vendorwall rules')} Server={logfwd.PROFILE} "
            f"Port={fwd.port} Protocol={'TLS' if fwd.tls else 'TCP'} SyslogProtocol=RFC5424 LogConnection=1 "
            "LogFilter=1")


@register("stormshield")
def render(model: Model, intent: DeviceIntent, plat: Platform) -> tuple[str, dict[str, int], list[Diagnostic]]:
    lim = plat.limits
    omax = lim.get("object_name_max", 63)
    cmax = lim.get("comment_max", 255)
    rs = fp.build(model, intent, fp.Limits(group=omax, service=omax, schedule=omax, policy=lim.get("rule_name_max", 63),
                                           comment=cmax))
    diags: list[Diagnostic] = []
    dev = model.inventory.devices.get(intent.device)
    parent = (dev.vlan_parent if dev is not None else "") or ""
    origin = dev.origin if dev is not None else None
    if intent.segments and not parent:
        diags.append(Diagnostic(origin.file if origin else intent.device, origin.line if origin else 0,
                                origin.path if origin else intent.device,
                                f"platform stormshield of {intent.device} needs the interface carrying the "
                                "vendor VLANs",
                                "vw_vlan_parent: the SNS port the VLAN interfaces sit on", "nothing",
                                "add vw_vlan_parent to the firewall in hosts.yml (e.g. in)", "platform"))
    interfaces = []
    for s in intent.segments:
        if len(s.interface) > lim.get("interface_name_max", 15):
            diags.append(Diagnostic(intent.device, 0, s.key, "interface name too long for Stormshield",
                                    f"at most {lim['interface_name_max']} characters", s.interface, "", "platform"))
        interfaces.append(f"CONFIG NETWORK INTERFACE CREATE state=1 protected=1 mtu=1500 physical={q(parent)} "
                          f"name={q(s.interface)} tag={s.vlan} address={s.gateway} mask={s.subnet.netmask} "
                          f"comment={q(fp.cut(f'vendorwall {s.key}', cmax))}")
    # address objects: one per prefix of every group (first comment wins)
    addr: dict[IPv4Network, str] = {}
    for g in rs.groups.values():
        for n in g.nets:
            addr.setdefault(n, g.comment)
    objects = [address_command(n, c) for n, c in sorted(addr.items(), key=lambda kv: fp.net_key(kv[0]))]
    fwd, fwd_note, fwd_diags = logfwd.forward_of(model, intent, plat)
    diags += fwd_diags
    if fwd is not None:  # the syslog server, a host object vendorwall owns (the profile names it)
        objects.append(address_command(IPv4Network(f"{fwd.host}/32"), "vendorwall: syslog server of the connection "
                                       "logs", logfwd.PROFILE))
    objects.append(address_command(PLACEHOLDER, "vendorwall isolate: placeholder of an empty quarantine",
                                   PLACEHOLDER_NAME))
    # the quarantine of the vendors isolated at render time: the objects isolation itself would create
    # (vw-q-*, same address and comment), members of vw-quarantine next to the placeholder
    quarantined = sorted(intent.quarantine, key=lambda e: fp.net_key(e.prefix))
    objects += [address_command(e.prefix, fp.cut(fp.quarantine_comment(e), 255), fp.q_name(e.prefix))
                for e in quarantined]
    groups: list[str] = []
    for g in rs.groups.values():
        groups.append(f"CONFIG OBJECT GROUP NEW update=1 name={q(g.name)} comment={q(g.comment)}")
        members = [PLACEHOLDER_NAME, *(fp.q_name(e.prefix) for e in quarantined)] if g.state else \
            [obj_name(n) for n in g.nets]
        groups += [f"CONFIG OBJECT GROUP ADDTO group={q(g.name)} node={q(m)}" for m in members]
    services: list[str] = []
    for svc in rs.services.values():
        objs = service_objects(svc, omax)
        for name, lo, hi in objs:
            services.append(f"CONFIG OBJECT SERVICE NEW update=1 name={q(name)} port={lo} proto={svc.protocol}"
                            + (f" toport={hi}" if hi != lo else "") + f" comment={q(svc.comment)}")
        if len(objs) > 1:
            services.append(f"CONFIG OBJECT SERVICEGROUP NEW update=1 name={q(svc.name)} comment={q(svc.comment)}")
            services += [f"CONFIG OBJECT SERVICEGROUP ADDTO group={q(svc.name)} node={q(n)}" for n, _, _ in objs]
    times = []
    for sch in rs.schedules.values():
        comment = {"on_demand": f"vendorwall on-demand window of {sch.system} (opened by grants)",
                   "window": "vendorwall weekly window", "after": "vendorwall: from the day after a dated window",
                   "until": "vendorwall end date"}[sch.kind]
        times.append(time_command(sch.name, *time_values(sch), comment))
    slot = int(plat.defaults.get("filter_slot", 9))
    rules = [rule_command(slot, n, p) for n, p in enumerate(rs.policies, start=1)]
    sections = [("vendor VLAN interfaces", interfaces), ("address objects", objects), ("address groups", groups),
                ("services", services), ("time objects", times),
                ("activate the objects", ["CONFIG OBJECT ACTIVATE"]),
                (f"log forwarding: syslog profile {fwd.slot}" if fwd else "log forwarding",
                 [syslog_command(fwd), "CONFIG COMMUNICATION ACTIVATE"] if fwd else []),
                (f"filter rules, at the top of slot {slot:02d}", rules),
                ("activate the filter slot", ["CONFIG FILTER ACTIVATE"])]
    text = template("firewall", "stormshield", device=intent.device, site=intent.site, now=model.now.isoformat(),
                    isolated=fp.isolated_names(model), slot=f"{slot:02d}", log_forwarding=fwd_note,
                    sections=[(t, lines) for t, lines in sections if lines])
    summary = {"rules": rs.rules, "elements": len(rules), "segments": len(intent.segments), "policies": len(rules)}
    return text, summary, diags
