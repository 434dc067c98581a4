"""FortiGate (FortiOS 7.x) renderer: one CLI script per firewall, only objects vendorwall owns.

What it prints (syntax checked against the FortiOS CLI reference and the argument specs of the
``fortinet.fortios`` Ansible collection; see docs/platforms.md):

- ``config system interface``: one VLAN interface per vendor segment (``vl<vlan>`` on the
  device's trunk, ``vw_vlan_parent`` in hosts.yml), the gateway address, no administrative access;
- ``config system zone``: one zone per vendor (``vendor_<vendor>``, intra-zone traffic denied):
  the policies name zones, so a vendor's segments are one policy endpoint;
- ``config firewall address`` / ``addrgrp``: one address per prefix, one group per system, entry
  path and client group; ``vw-vendor-sources`` (every entry path) and ``vw-quarantine``;
- ``config firewall service custom``: one service per catalogue service (``any`` is ``ALL``);
- ``config firewall schedule onetime`` / ``recurring``: ``vw-until-<date>`` for end dates,
  ``vw-w-...`` for weekly windows, ``vw-after-<date>`` (deny once a dated window has ended) and one
  ``vw-od-...`` per on-demand system, rendered closed: opening a grant moves its window
  (``vendorwall.devices.fortios``), and the FortiGate closes it itself at the end;
- ``config firewall policy``, in order: must-keep clinical flows (above the quarantine, so an
  isolation spares them); the quarantine (deny from and to ``vw-quarantine``, logged); the allow
  policies (``schedule-timeout enable`` on timed ones: live sessions end with the schedule);
  finally a logged deny to, from and between the vendor zones and from the vendor sources.
  Every policy logs all traffic (``logtraffic all``), vendor access also its session starts.

``vw-quarantine`` and the ``vw-od-*`` schedules are *state*: a deploy creates them when missing
and never overwrites what isolation and grants put in them (see ``vendorwall.deploy.fortios``).
The quarantine carries the vendors isolated at render time (the controller's isolation record, by
identity: their entry paths and, with scope segment, the segments this firewall routes): one address
``vw-q-<prefix>`` each, exactly as ``vendorwall isolate`` creates it, members of ``vw-quarantine``; a
deploy adds the missing ones (never removes a live member: ``vendorwall restore`` does), so a redeploy,
a rebuilt FortiGate or a new VPN pool of an isolated vendor is closed in the same transaction.
Management access to the FortiGate itself (trusted hosts, local-in policies) is never touched.

Log forwarding (:mod:`vendorwall.render.logfwd`): when the inventory names a syslog server and the device
opts in with ``vw_syslog_slot`` (syslogd2, syslogd3 or syslogd4), ``config log <slot> setting`` (server,
reliable TCP, RFC 5424, ``enc-algorithm high`` with TLS) and ``config log <slot> filter`` (traffic logs) of
that slot only; the other slots (and ``log syslogd``) are never written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from ipaddress import IPv4Network

from ..errors import Diagnostic
from ..model import DeviceIntent, Model, Rule, Segment, Window
from ..platforms.registry import Platform
from . import firewall_policy as fp
from . import logfwd, register, template

DAYS = {"mon": "monday", "tue": "tuesday", "wed": "wednesday", "thu": "thursday", "fri": "friday",
        "sat": "saturday", "sun": "sunday"}
QUARANTINE = "vw-quarantine"
VENDOR_SOURCES = "vw-vendor-sources"
EMPTY_MEMBER = "none"  # FortiOS's built-in empty address: a group is never empty
CLOSED_START = "00:00 2001/01/01"  # a closed on-demand window (FortiOS: hh:mm yyyy/mm/dd)
CLOSED_END = "00:01 2001/01/01"
EPOCH_START = "00:00 2001/01/01"  # start of an end-dated schedule: valid from any date we deploy on
FAR_END = "23:59 2037/12/31"


@dataclass(frozen=True)
class Entry:
    """One ``edit`` of a ``config`` table: key (name or policy id) and ``set`` lines, in order."""

    table: str
    key: str
    settings: tuple[tuple[str, str], ...]
    state: bool = False  # live state (quarantine members, grant windows): created, never overwritten

    @property
    def edit(self) -> str:
        """The ``edit`` argument; "" for the settings of a singleton table (``config log syslogd2 setting``)."""
        if not self.key:
            return ""
        return self.key if self.key.isdigit() else q(self.key)


@dataclass
class FortiConfig:
    tables: dict[str, list[Entry]] = field(default_factory=dict)

    def add(self, e: Entry) -> None:
        self.tables.setdefault(e.table, []).append(e)


# The device-wide syslog slots a FortiGate may let vendorwall own (hosts.yml vw_syslog_slot): singleton tables,
# read (and backed up) on every deploy, written only in the slot the device names.
LOG_SLOTS = ("syslogd2", "syslogd3", "syslogd4")
LOG_TABLES = tuple(f"log {s} {t}" for s in LOG_SLOTS for t in ("setting", "filter"))
# Table order: what a policy references exists before the policy (and is deleted after it).
TABLES = ("system interface", "system zone", "firewall address", "firewall addrgrp", "firewall service custom",
          "firewall schedule onetime", "firewall schedule recurring", "firewall policy", *LOG_TABLES)


def log_entries(fwd: logfwd.Forward) -> list[Entry]:
    """The syslog slot the device lets vendorwall own: vendorwall's server, reliable syslog (RFC 6587 over TCP),
    RFC 5424 format, TLS when the inventory says so; the filter forwards traffic logs (every policy's, the
    FortiGate has no per-policy syslog target) at severity information and up."""
    return [Entry(f"log {fwd.slot} setting", "", (
        ("status", "enable"), ("server", q(fwd.host)), ("mode", "reliable"), ("port", str(fwd.port)),
        ("format", "rfc5424"), ("enc-algorithm", "high" if fwd.tls else "disable"))),
        Entry(f"log {fwd.slot} filter", "", (
            ("severity", "information"), ("forward-traffic", "enable"), ("local-traffic", "disable"),
            ("multicast-traffic", "disable"), ("sniffer-traffic", "disable"), ("anomaly", "disable")))]


def q(text: str) -> str:
    return '"' + text.replace("\\", "/").replace('"', "'").replace("\n", " ") + '"'


def qs(names: list[str]) -> str:
    return " ".join(q(n) for n in names)


def fit(name: str, limit: int) -> str:
    """``name`` within ``limit`` characters, unique: long names keep a stable hash suffix."""
    if len(name) <= limit:
        return name
    h = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:limit - 9]}-{h}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def addr_name(n: IPv4Network) -> str:
    return f"vw-{n.network_address}" if n.prefixlen == 32 else f"vw-{n.network_address}_{n.prefixlen}"


def port_ranges(ports: tuple[int, ...]) -> str:
    """(22,) -> ``22``; (8000..8010, 9000) -> ``8000-8010 9000`` (FortiOS portrange syntax)."""
    out: list[str] = []
    ps = sorted(set(ports))
    i = 0
    while i < len(ps):
        j = i
        while j + 1 < len(ps) and ps[j + 1] == ps[j] + 1:
            j += 1
        out.append(str(ps[i]) if i == j else f"{ps[i]}-{ps[j]}")
        i = j + 1
    return " ".join(out)


def fdate(day: dt.date, hhmm: str = "00:00") -> str:
    return f"{hhmm} {day.strftime('%Y/%m/%d')}"


def od_schedule(system: str, limit: int = 31) -> str:
    """The on-demand window of ``system`` (stable: grants find it by this name)."""
    return fit(f"vw-od-{system}", limit)


def window_schedule(w: Window, limit: int = 31) -> str:
    return fit(f"vw-w-{'-'.join(w.days)}-{w.start.replace(':', '')}-{w.end.replace(':', '')}", limit)


@dataclass
class _Policy:
    name: str
    srcintf: str
    dstintf: str
    srcaddr: list[str]
    dstaddr: list[str]
    service: list[str]
    action: str
    schedule: str
    comment: str
    log_start: bool = False
    timed: bool = False
    rule_ids: list[str] = field(default_factory=list)


def _merge_destinations(pols: list[_Policy], ids: dict[tuple[str, ...], list[str]],
                        grouped: dict[tuple[str, ...], _Policy]) -> list[_Policy]:
    """Accept policies that differ only by destination become one (exact: same sources, services and
    schedule). Policies paired with an ended-window deny stay as they are (the pair must stay adjacent)."""
    key_of = {id(p): k for k, p in grouped.items()}
    paired = {id(grouped[k[:-1]]) for k in grouped if k[-1] == "after"} | {
        id(grouped[k]) for k in grouped if k[-1] == "after"}
    out: list[_Policy] = []
    merged: dict[tuple[object, ...], _Policy] = {}
    for p in pols:
        p.rule_ids = list(ids[key_of[id(p)]])
        if id(p) in paired:
            out.append(p)
            continue
        mkey = (p.action, p.srcintf, p.dstintf, tuple(p.srcaddr), tuple(p.service), p.schedule, p.log_start)
        m = merged.get(mkey)
        if m is None:
            merged[mkey] = p
            out.append(p)
        else:
            m.dstaddr = sorted(set(m.dstaddr) | set(p.dstaddr))
            m.rule_ids += p.rule_ids
    return out


class _Builder:
    def __init__(self, model: Model, intent: DeviceIntent, plat: Platform):
        self.model = model
        self.inv = model.inventory
        self.intent = intent
        self.plat = plat
        self.lim = plat.limits
        self.cfg = FortiConfig()
        self.addresses: dict[IPv4Network, str] = {}
        self.groups: dict[str, tuple[list[str], str]] = {}  # name -> (members, comment)
        self.seen: dict[tuple[str, tuple[IPv4Network, ...]], str] = {}
        self.services: dict[str, Entry] = {}
        self.schedules: dict[str, Entry] = {}
        self.zone_of_system: dict[str, str] = {}
        self.diags: list[Diagnostic] = []

    # --- names and objects -------------------------------------------------------------------
    def address(self, n: IPv4Network, comment: str) -> str:
        if n not in self.addresses:
            self.addresses[n] = addr_name(n)
            self.cfg.add(Entry("firewall address", self.addresses[n], (
                ("subnet", f"{n.network_address} {n.netmask}"), ("comment", q(_cut(comment, 255))))))
        return self.addresses[n]

    def group(self, name: str, nets: tuple[IPv4Network, ...], comment: str) -> str:
        done = self.seen.get((name, nets))
        if done is not None:  # the same system / entry path / client group: built once
            return done
        self.seen[(name, nets)] = name = fit(name, self.lim.get("address_name_max", 79))
        members = [self.address(n, comment) for n in sorted(nets, key=lambda n: (int(n.network_address),
                                                                                  n.prefixlen))]
        old = self.groups.get(name)
        if old is None:
            self.groups[name] = (members, comment)
        else:
            self.groups[name] = (sorted(set(old[0]) | set(members)), old[1])
        return name

    def endpoint(self, rule: Rule, side: str) -> tuple[str, str]:
        """(interface or zone, address group) of one side of a rule."""
        nets = rule.src if side == "src" else rule.dst
        if rule.kind == "vendor_access":
            system_side = side == "dst"
        else:  # clinical/<system>/<from|to>/<peer>/<service>
            system_side = (side == "dst") == (rule.id.split("/")[2] == "from")
        if system_side:
            zone = self.zone_of_system.get(rule.system, "any")
            return zone, self.group(f"vw-sys-{rule.system}", nets, f"vendorwall system {rule.system}")
        if rule.kind == "vendor_access":
            return "any", self.group(f"vw-path-{rule.vendor}-{rule.via}", nets,
                                     f"vendorwall entry path {rule.via} of {rule.vendor}")
        peer = rule.peer
        if peer in self.inv.client_groups:
            return "any", self.group(f"vw-cg-{peer}", nets, f"vendorwall client group {peer}")
        return self.zone_of_system.get(peer, "any"), self.group(f"vw-sys-{peer}", nets, f"vendorwall system {peer}")

    def service(self, rule: Rule) -> str:
        if rule.protocol == "any":
            return "ALL"
        name = fit(f"vw-svc-{rule.service}", self.lim.get("service_name_max", 79))
        if name not in self.services:
            key = "tcp-portrange" if rule.protocol == "tcp" else "udp-portrange"
            self.services[name] = Entry("firewall service custom", name, (
                (key, port_ranges(rule.ports)), ("comment", q(f"vendorwall service {rule.service}"))))
        return name

    def schedule_for(self, rule: Rule) -> tuple[str, str | None]:
        """(accept schedule, deny-after schedule or None) of a rule's validity."""
        v = rule.validity
        smax = self.lim.get("schedule_name_max", 31)
        if v.kind == "on_demand":
            name = od_schedule(rule.system, smax)
            self.schedules.setdefault(name, Entry("firewall schedule onetime", name, (
                ("start", q(CLOSED_START)), ("end", q(CLOSED_END))), state=True))
            return name, None
        if v.kind == "scheduled" and v.window:
            w = v.window
            name = window_schedule(w, smax)
            self.schedules.setdefault(name, Entry("firewall schedule recurring", name, (
                ("start", w.start), ("end", w.end), ("day", " ".join(DAYS[d] for d in w.days)))))
            after = None
            if v.until:
                after = fit(f"vw-after-{v.until.strftime('%Y%m%d')}", smax)
                self.schedules.setdefault(after, Entry("firewall schedule onetime", after, (
                    ("start", q(fdate(v.until + dt.timedelta(days=1)))), ("end", q(FAR_END)))))
            return name, after
        if v.until:
            name = fit(f"vw-until-{v.until.strftime('%Y%m%d')}", smax)
            self.schedules.setdefault(name, Entry("firewall schedule onetime", name, (
                ("start", q(EPOCH_START)), ("end", q(fdate(v.until + dt.timedelta(days=1)))))))
            return name, None
        return "always", None

    def policy_name(self, key: str, label: str) -> str:
        h = hashlib.sha256(key.encode()).hexdigest()[:8]
        return f"vw-{h}-{label}"[: self.lim.get("policy_name_max", 35)]


def _interface_entries(b: _Builder, segs: tuple[Segment, ...], parent: str) -> None:
    amax = b.lim.get("alias_max", 25)
    for s in segs:
        b.cfg.add(Entry("system interface", s.interface, (
            ("vdom", q(b.plat.defaults.get("vdom", "root"))),
            ("ip", f"{s.gateway} {s.subnet.netmask}"),
            ("description", q(_cut(f"vendorwall {s.key}", b.lim.get("description_max", 255)))),
            ("alias", q(_cut(s.key.replace("/", " "), amax))),
            ("role", "lan"),
            ("interface", q(parent)),
            ("vlanid", str(s.vlan)))))


@register("fortios")
def render(model: Model, intent: DeviceIntent, plat: Platform) -> tuple[str, dict[str, int], list[Diagnostic]]:
    b = _Builder(model, intent, plat)
    dev = model.inventory.devices.get(intent.device)
    parent = (dev.vlan_parent if dev is not None else "") or ""
    origin = dev.origin if dev is not None else None
    if intent.segments and not parent:
        b.diags.append(Diagnostic(origin.file if origin else intent.device, origin.line if origin else 0,
                                  origin.path if origin else intent.device,
                                  f"platform fortios of {intent.device} needs the interface carrying the vendor VLANs",
                                  "vw_vlan_parent: the FortiGate port or aggregate the VLAN interfaces sit on",
                                  "nothing", "add vw_vlan_parent to the firewall in hosts.yml (e.g. port2)",
                                  "platform"))
    for s in intent.segments:
        if len(s.interface) > plat.limits.get("interface_name_max", 15):
            b.diags.append(Diagnostic(intent.device, 0, s.key, "interface name too long for FortiOS",
                                      f"at most {plat.limits['interface_name_max']} characters", s.interface, "",
                                      "platform"))
    zmax = plat.limits.get("zone_name_max", 35)
    zones: dict[str, list[str]] = {}
    for s in intent.segments:
        z = fit(s.zone, zmax)
        zones.setdefault(z, []).append(s.interface)
        for sys in s.systems:
            b.zone_of_system[sys] = z
    _interface_entries(b, intent.segments, parent)
    for z, ifs in sorted(zones.items()):
        b.cfg.add(Entry("system zone", z, (("description", q(f"vendorwall vendor zone {z}")),
                                           ("intrazone", "deny"), ("interface", qs(sorted(ifs))))))

    keep: list[_Policy] = []
    allow: list[_Policy] = []
    grouped: dict[tuple[str, ...], _Policy] = {}
    ids: dict[tuple[str, ...], list[str]] = {}
    for r in intent.rules:
        if r.kind == "management":
            continue
        sif, sg = b.endpoint(r, "src")
        dif, dg = b.endpoint(r, "dst")
        svc = b.service(r)
        sched, after = b.schedule_for(r)
        is_keep = r.keep  # must-keep clinical, infrastructure and staff flows (vendor access is never kept)
        # one policy per endpoints + schedule; services merge (exact: same sources and destinations)
        gkey = ("keep" if is_keep else r.kind, sif, dif, sg, dg, sched, after or "")
        p = grouped.get(gkey)
        if p is None:
            label = (r.system or "x")[:21]
            p = _Policy(b.policy_name("|".join(gkey), label), sif, dif, [sg], [dg], [], "accept", sched, "",
                        log_start=r.kind == "vendor_access", timed=sched != "always")
            grouped[gkey] = p
            if after:
                ended = _Policy(b.policy_name("after|" + "|".join(gkey), label), sif, dif, [sg], [dg], [],
                                "deny", after, "", timed=True)
                grouped[(*gkey, "after")] = ended
                allow.append(ended)
                ids[(*gkey, "after")] = []
            (keep if is_keep else allow).append(p)
            ids[gkey] = []
        if svc not in p.service:
            p.service.append(svc)
            if after:
                grouped[(*gkey, "after")].service.append(svc)
        ids[gkey].append(r.id)
        if after:
            ids[(*gkey, "after")].append(r.id)
    for p in grouped.values():
        p.service.sort()
    keep, allow = _merge_destinations(keep, ids, grouped), _merge_destinations(allow, ids, grouped)
    # the vendor sources and the quarantine (state: members are isolation's)
    srcs = [b.address(n, "vendorwall vendor entry path") for n in intent.vendor_sources]
    b.groups[VENDOR_SOURCES] = (srcs or [EMPTY_MEMBER], "vendorwall: every vendor entry path of this firewall")
    for name in sorted(b.groups):
        members, comment = b.groups[name]
        b.cfg.add(Entry("firewall addrgrp", name, (("member", qs(sorted(set(members)))),
                                                   ("comment", q(_cut(comment, 255))))))
    # the quarantine of the vendors isolated at render time: the addresses isolation itself would create
    # (vw-q-*, same subnet and comment), so a deploy adds what is missing and isolate/restore find them
    qmembers = [EMPTY_MEMBER]
    for e in sorted(intent.quarantine, key=lambda e: fp.net_key(e.prefix)):
        b.cfg.add(Entry("firewall address", fp.q_name(e.prefix), (
            ("subnet", f"{e.prefix.network_address} {e.prefix.netmask}"),
            ("comment", q(fit(fp.quarantine_comment(e), 255))))))
        qmembers.append(fp.q_name(e.prefix))
    b.cfg.add(Entry("firewall addrgrp", QUARANTINE, (
        ("member", qs(qmembers)), ("comment", q("vendorwall isolate: quarantined sources and segments"))),
        state=True))
    for name in sorted(b.services):
        b.cfg.add(b.services[name])
    for name in sorted(b.schedules):
        b.cfg.add(b.schedules[name])

    quarantine = [
        _Policy("vw-quarantine-from", "any", "any", [QUARANTINE], ["all"], ["ALL"], "deny", "always",
                "vendorwall isolate: traffic from quarantined sources and segments"),
        _Policy("vw-quarantine-to", "any", "any", ["all"], [QUARANTINE], ["ALL"], "deny", "always",
                "vendorwall isolate: traffic to quarantined segments")]
    denies: list[_Policy] = []
    for z in sorted(zones):
        denies.append(_Policy(fit(f"vw-deny-to-{z}", plat.limits.get("policy_name_max", 35)), "any", z, ["all"],
                            ["all"], ["ALL"], "deny", "always", f"vendorwall default deny to {z}"))
        denies.append(_Policy(fit(f"vw-deny-from-{z}", plat.limits.get("policy_name_max", 35)), z, "any", ["all"],
                            ["all"], ["ALL"], "deny", "always", f"vendorwall default deny from {z}"))
    denies.append(_Policy("vw-deny-vendor-sources", "any", "any", [VENDOR_SOURCES], ["all"], ["ALL"], "deny", "always",
                        "vendorwall default deny from the vendor entry paths"))
    for p in [*keep, *allow]:
        word = "ended window: " if p.action == "deny" else ""
        p.comment = _cut(f"vendorwall {word}{', '.join(sorted(p.rule_ids))}", plat.limits.get("comment_max", 1023))
    base = int(plat.defaults.get("policy_id_base", 900000))
    for n, p in enumerate([*keep, *quarantine, *allow, *denies], start=1):
        sets = [("name", q(p.name)), ("srcintf", q(p.srcintf)), ("dstintf", q(p.dstintf)),
                ("srcaddr", qs(p.srcaddr)), ("dstaddr", qs(p.dstaddr)), ("action", p.action),
                ("schedule", q(p.schedule)), ("service", qs(p.service)), ("logtraffic", "all")]
        if p.log_start:
            sets.append(("logtraffic-start", "enable"))
        if p.timed:
            sets.append(("schedule-timeout", "enable"))
        sets.append(("comments", q(p.comment)))
        b.cfg.add(Entry("firewall policy", str(base + n), tuple(sets)))
    fwd, fwd_note, fwd_diags = logfwd.forward_of(model, intent, plat)
    b.diags += fwd_diags
    for log_entry in log_entries(fwd) if fwd is not None else []:
        b.cfg.add(log_entry)
    tables = [(t, b.cfg.tables.get(t, [])) for t in TABLES if b.cfg.tables.get(t)]
    text = template("firewall", "fortios", device=intent.device, site=intent.site, now=model.now.isoformat(),
                    tables=tables, vdom=plat.defaults.get("vdom", "root"), isolated=fp.isolated_names(model),
                    log_forwarding=fwd_note)
    n_pol = len(b.cfg.tables.get("firewall policy", []))
    summary = {"rules": len([r for r in intent.rules if r.kind != "management"]), "elements": n_pol,
               "segments": len(intent.segments), "policies": n_pol}
    return text, summary, b.diags


def config_of(tables: list[tuple[str, list[Entry]]]) -> FortiConfig:
    cfg = FortiConfig()
    for _t, entries in tables:
        for e in entries:
            cfg.add(e)
    return cfg
