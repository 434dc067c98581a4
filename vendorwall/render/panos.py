"""Palo Alto Networks PAN-OS renderer: the XML API calls that create what vendorwall owns on one vsys.

The rendered file is an XML document of ``<set xpath="...">`` elements: each is one XML API
``type=config action=set`` call (the element's children are the API's ``element`` parameter), in
dependency order, as a first deploy sends them; ``vendorwall.deploy.panos`` compares the same entries
with what the firewall holds and sends only what differs. From the platform-neutral rule base
(:mod:`vendorwall.render.firewall_policy`):

- the vendor VLAN subinterfaces (``<parent>.<vlan>``, layer 3, the segment's gateway), imported into
  the vsys and the virtual router; one zone per vendor (``vendor_<vendor>``);
- tags (``vw-quarantine``, ``vw-od-<system>``), address objects per prefix, static address groups,
  service objects (``any`` is the built-in service ``any``), schedules (non-recurring for end dates and
  "from the day after", recurring weekly for windows);
- the dynamic address groups filled at run time by tag registration (User-ID API, no commit):
  ``vw-quarantine`` (isolation) and ``vw-od-<system>`` (grants register the system's addresses with a
  timeout; the group's description lists them);
- ``<register tag="vw-quarantine">``: the quarantine of the vendors isolated at render time (their entry
  paths and, with scope segment, the segments this firewall routes), which the deploy registers with the
  quarantine tag (persistent, as ``vendorwall isolate`` does) before it commits: a redeploy, a rebuilt
  firewall or a new VPN pool of an isolated vendor stays closed; ``vendorwall restore`` unregisters them;
- the security rules, in order: must-keep flows, the quarantine denies, the allow rules (the on-demand
  ones to their ``vw-od-<system>`` group) with their ended-window denies, the logged default deny to and
  from each vendor zone and from the vendor sources. Every rule logs at session end, vendor access also
  at its start; application ``any`` with port-based services.

Log forwarding (:mod:`vendorwall.render.logfwd`), when the inventory names a syslog server: a syslog server
profile ``vw-syslog`` (TCP, or SSL with TLS; IETF format) and a log forwarding profile ``vw-logs`` (traffic
logs to it) in the vsys, set as ``log-setting`` on every vendorwall rule: vendorwall's own objects, so no
opt-in; the firewall's other profiles are never touched.

The firewall's own objects and rules, its management and its other zones are never touched.
"""

from __future__ import annotations

import datetime as dt
from ipaddress import IPv4Network
from xml.sax.saxutils import escape, quoteattr

from ..errors import Diagnostic
from ..model import DeviceIntent, Model
from ..platforms.registry import Platform
from . import firewall_policy as fp
from . import logfwd, register, template

DAYS = {"mon": "monday", "tue": "tuesday", "wed": "wednesday", "thu": "thursday", "fri": "friday",
        "sat": "saturday", "sun": "sunday"}
DEVICE = "/config/devices/entry[@name='localhost.localdomain']"
EPOCH = "2001/01/01@00:00"
FAR_END = "2037/12/31@23:59"
OD_WORDS = "vendorwall on-demand window of {system}: grants register"


def vsys_path(vsys: str) -> str:
    return f"{DEVICE}/vsys/entry[@name='{vsys}']"


def units_path(parent: str) -> str:
    kind = "aggregate-ethernet" if parent.startswith("ae") else "ethernet"
    return f"{DEVICE}/network/interface/{kind}/entry[@name='{parent}']/layer3/units"


def e(text: str) -> str:
    return escape(text)


def members(tag: str, names: list[str]) -> str:
    return f"<{tag}>" + "".join(f"<member>{e(n)}</member>" for n in names) + f"</{tag}>"


def addr_name(n: IPv4Network) -> str:
    return f"vw-{n.network_address}" if n.prefixlen == 32 else f"vw-{n.network_address}_{n.prefixlen}"


def pdate(day: dt.date, hhmm: str = "00:00") -> str:
    return f"{day.strftime('%Y/%m/%d')}@{hhmm}"


def schedule_element(s: fp.Schedule) -> str:
    if s.kind == "window" and s.window:
        days = "".join(f"<{DAYS[d]}><member>{s.window.start}-{s.window.end}</member></{DAYS[d]}>"
                       for d in s.window.days)
        return (f"<entry name={quoteattr(s.name)}><schedule-type><recurring><weekly>{days}</weekly></recurring>"
                f"</schedule-type></entry>")
    assert s.until is not None
    rng = (f"{pdate(s.until + dt.timedelta(days=1))}-{FAR_END}" if s.kind == "after"
           else f"{EPOCH}-{pdate(s.until + dt.timedelta(days=1))}")
    return (f"<entry name={quoteattr(s.name)}><schedule-type><non-recurring><member>{rng}</member></non-recurring>"
            f"</schedule-type></entry>")


def syslog_elements(fwd: logfwd.Forward) -> tuple[str, str]:
    """The syslog server profile ``vw-syslog`` (TCP, or SSL when the inventory says TLS; IETF = RFC 5424) and
    the log forwarding profile ``vw-logs`` sending the traffic logs of the rules it is set on to it."""
    name = f"<entry name=\"{logfwd.PROFILE}\">"
    server = (f"{name}<server>{name}<server>{e(fwd.host)}</server>"
              f"<transport>{'SSL' if fwd.tls else 'TCP'}</transport><port>{fwd.port}</port><format>IETF</format>"
              "<facility>LOG_USER</facility></entry></server></entry>")
    profile = (f"<entry name=\"{logfwd.LOG_PROFILE}\"><description>vendorwall: traffic logs of the vendorwall rules to "
               f"{e(fwd.host)}</description><match-list><entry name=\"vw-traffic\"><log-type>traffic</log-type>"
               f"<filter>All Logs</filter><send-syslog><member>{logfwd.PROFILE}</member></send-syslog></entry>"
               "</match-list></entry>")
    return server, profile


def rule_element(p: fp.Policy, desc_max: int, log_setting: str = "") -> str:
    action = "allow" if p.action == "accept" else "deny"
    parts = [f"<entry name={quoteattr(p.name)}>", members("from", [p.src_zone]), members("to", [p.dst_zone]),
             members("source", p.src), members("destination", p.dst), members("source-user", ["any"]),
             members("category", ["any"]), members("application", ["any"]), members("service", p.services),
             f"<action>{action}</action>"]
    if p.log_start:
        parts.append("<log-start>yes</log-start>")
    parts.append("<log-end>yes</log-end>")
    if log_setting:
        parts.append(f"<log-setting>{e(log_setting)}</log-setting>")
    if p.schedule:
        parts.append(f"<schedule>{e(p.schedule)}</schedule>")
    parts.append(f"<description>{e(fp.cut(p.comment, desc_max))}</description></entry>")
    return "".join(parts)


@register("panos")
def render(model: Model, intent: DeviceIntent, plat: Platform) -> tuple[str, dict[str, int], list[Diagnostic]]:
    lim = plat.limits
    omax = lim.get("object_name_max", 63)
    dmax = lim.get("object_description_max", 1023)
    rs = fp.build(model, intent, fp.Limits(group=omax, service=omax, schedule=omax, policy=lim.get("rule_name_max", 63),
                                           comment=lim.get("description_max", 1023), zone=lim.get("zone_name_max", 31)))
    diags: list[Diagnostic] = []
    dev = model.inventory.devices.get(intent.device)
    parent = (dev.vlan_parent if dev is not None else "") or ""
    origin = dev.origin if dev is not None else None
    if intent.segments and not parent:
        diags.append(Diagnostic(origin.file if origin else intent.device, origin.line if origin else 0,
                                origin.path if origin else intent.device,
                                f"platform panos of {intent.device} needs the interface carrying the vendor VLANs",
                                "vw_vlan_parent: the PAN-OS port or aggregate the subinterfaces sit on", "nothing",
                                "add vw_vlan_parent to the firewall in hosts.yml (e.g. ethernet1/2)", "platform"))
    vsys = str(plat.defaults.get("vsys", "vsys1"))
    vr = str(plat.defaults.get("virtual_router", "default"))
    ifname = {s.key: f"{parent}.{s.vlan}" for s in intent.segments}
    for s in intent.segments:
        if len(ifname[s.key]) > lim.get("interface_name_max", 31):
            diags.append(Diagnostic(intent.device, 0, s.key, "interface name too long for PAN-OS",
                                    f"at most {lim['interface_name_max']} characters", ifname[s.key], "", "platform"))
    sets: list[tuple[str, list[str]]] = []
    units = [f"<entry name={quoteattr(ifname[s.key])}><tag>{s.vlan}</tag><ip><entry name=\"{s.gateway}/"
             f"{s.subnet.prefixlen}\"/></ip><comment>{e(fp.cut(f'vendorwall {s.key}', dmax))}</comment></entry>"
             for s in intent.segments]
    names = [ifname[s.key] for s in intent.segments]
    vp = vsys_path(vsys)
    if units:
        sets += [(units_path(parent), units),
                 (f"{DEVICE}/network/virtual-router/entry[@name='{vr}']/interface",
                  [f"<member>{e(n)}</member>" for n in names]),
                 (f"{vp}/import/network/interface", [f"<member>{e(n)}</member>" for n in names])]
        sets.append((f"{vp}/zone", [f"<entry name={quoteattr(z)}><network>"
                                    + members("layer3", [ifname[s.key] for s in segs]) + "</network></entry>"
                                    for z, segs in sorted(rs.zones.items())]))
    # on-demand rules go to the system's dynamic group (grants register its addresses); no schedule
    od_groups: dict[str, list[str]] = {}
    for p in rs.policies:
        sch = rs.schedules.get(p.schedule)
        if sch is not None and sch.kind == "on_demand":
            nets = [str(n) for g in p.dst for n in rs.groups[g].nets]
            od_groups.setdefault(sch.name, [])
            od_groups[sch.name] = sorted(set(od_groups[sch.name]) | set(nets))
            p.dst, p.schedule = [sch.name], fp.ALWAYS
    tags = [f"<entry name=\"{fp.QUARANTINE}\"><comments>vendorwall isolate: quarantined sources and segments"
            "</comments></entry>"]
    tags += [f"<entry name={quoteattr(n)}><comments>{e('vendorwall grants of ' + n.removeprefix('vw-od-'))}"
             "</comments></entry>" for n in sorted(od_groups)]
    sets.append((f"{vp}/tag", tags))
    addrs: dict[str, str] = {}
    for g in rs.groups.values():
        for n in g.nets:
            addrs.setdefault(str(n), g.comment)
    nets_sorted = sorted((IPv4Network(k) for k in addrs), key=fp.net_key)
    sets.append((f"{vp}/address", [f"<entry name={quoteattr(addr_name(n))}><ip-netmask>{n}</ip-netmask>"
                                   f"<description>{e(fp.cut(addrs[str(n)], dmax))}</description></entry>"
                                   for n in nets_sorted]))
    groups = []
    for g in rs.groups.values():
        if g.state:
            groups.append(f"<entry name={quoteattr(g.name)}><dynamic><filter>'{e(g.name)}'</filter></dynamic>"
                          f"<description>{e(g.comment)}</description></entry>")
        else:
            groups.append(f"<entry name={quoteattr(g.name)}>{members('static', [addr_name(n) for n in g.nets])}"
                          f"<description>{e(g.comment)}</description></entry>")
    for name, nets in sorted(od_groups.items()):
        words = OD_WORDS.format(system=name[len("vw-od-"):])
        groups.append(f"<entry name={quoteattr(name)}><dynamic><filter>'{e(name)}'</filter></dynamic>"
                      f"<description>{e(words + ' ' + ' '.join(nets))}</description></entry>")
    sets.append((f"{vp}/address-group", sorted(groups)))
    if rs.services:
        sets.append((f"{vp}/service", [
            f"<entry name={quoteattr(s.name)}><protocol><{s.protocol}><port>"
            + ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in fp.port_ranges(s.ports))
            + f"</port></{s.protocol}></protocol><description>{e(s.comment)}</description></entry>"
            for s in rs.services.values()]))
    scheds = [schedule_element(s) for s in rs.schedules.values() if s.kind != "on_demand"]
    if scheds:
        sets.append((f"{vp}/schedule", scheds))
    fwd, fwd_note, fwd_diags = logfwd.forward_of(model, intent, plat)
    diags += fwd_diags
    # vendorwall's own profiles, before the rules that name them; the containers are listed even when empty, so
    # a deploy reads them and deletes vw-syslog / vw-logs once the inventory names no syslog server
    server, profile = syslog_elements(fwd) if fwd is not None else ("", "")
    log_xpaths = (f"{vp}/log-settings/syslog", f"{vp}/log-settings/profiles")
    sets += [(log_xpaths[0], [server] if server else []), (log_xpaths[1], [profile] if profile else [])]
    rules = [rule_element(p, lim.get("description_max", 1023), logfwd.LOG_PROFILE if fwd else "")
             for p in rs.policies]
    sets.append((f"{vp}/rulebase/security/rules", rules))
    # the quarantine of the vendors isolated at render time: registered with the quarantine tag (User-ID,
    # persistent) by the deploy, exactly as vendorwall isolate registers them
    registered = [(quoteattr(str(x.prefix.network_address) if x.prefix.prefixlen == 32 else str(x.prefix)),
                   quoteattr(fp.quarantine_comment(x)))
                  for x in sorted(intent.quarantine, key=lambda x: fp.net_key(x.prefix))]
    text = template("firewall", "panos", device=intent.device, site=intent.site, now=model.now.isoformat(),
                    vsys=vsys, sets=[(quoteattr(x), els) for x, els in sets if els or x in log_xpaths],
                    isolated=e(fp.isolated_names(model)), quarantine_tag=fp.QUARANTINE, registered=registered,
                    log_forwarding=e(fwd_note))
    summary = {"rules": rs.rules, "elements": len(rules), "segments": len(intent.segments), "policies": len(rules)}
    return text, summary, diags
