"""Typed, frozen objects: the inventory after validation, and the compiled model.

Nothing downstream of validation handles raw dicts: the loader turns checked YAML into these
objects, the compiler turns them into segments and rules, renderers print them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cached_property
from ipaddress import IPv4Address, IPv4Network
from typing import Any


@dataclass(frozen=True, order=True)
class Origin:
    """Where an object was declared: ``file:line`` plus the dotted path."""

    file: str
    line: int
    path: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


NO_ORIGIN = Origin("<default>", 0)


# --------------------------------------------------------------------------- inventory


@dataclass(frozen=True)
class SyslogTarget:
    host: str
    port: int = 514
    tls: bool = False
    ca_file: str = ""
    permitted_peer: str = ""
    protocol: str = "tcp"


@dataclass(frozen=True)
class ConnectionLogs:
    """``policy.connection_logs``: the pipeline deploy installs on the nftables firewalls."""

    local_keep_days: int = 14
    install_packages: bool = False
    syslog: SyslogTarget | None = None


@dataclass(frozen=True)
class EmailChannel:
    server: str
    sender: str
    to: tuple[str, ...]
    port: int = 25
    security: str = "starttls"  # none | starttls | tls
    username: str = ""
    password_env: str = ""  # the password is read from this environment variable, never from the inventory


@dataclass(frozen=True)
class WebhookChannel:
    url: str = ""
    url_env: str = ""
    token_env: str = ""
    format: str = "generic"  # generic | mattermost | teams


@dataclass(frozen=True)
class Alerts:
    """``policy.alerts``: who is told, how (docs/alerts.md)."""

    events: tuple[str, ...] = ()  # empty: every event
    repeat_days: int = 7
    retries: int = 2
    timeout_seconds: float = 5.0
    email: EmailChannel | None = None
    webhook: WebhookChannel | None = None
    syslog: SyslogTarget | None = None


@dataclass(frozen=True)
class Policy:
    account_max_lifetime_days: int = 365
    idle_lock_days: int = 90
    on_demand_max_hours: int = 8
    emergency_max_hours: int = 2
    max_validity_days: int = 365
    log_retention_days: int = 365
    review_interval_days: int = 180
    forbidden_services: tuple[str, ...] = ("telnet", "smb", "any")
    log_group: int = 1
    connection_log_group: int = 2
    connection_logs: ConnectionLogs = field(default_factory=ConnectionLogs)
    alerts: Alerts = field(default_factory=Alerts)
    origin: Origin = NO_ORIGIN
    timezone: str = "Europe/Paris"  # the sites' clock for scheduled windows (IANA name); a site may override it


@dataclass(frozen=True)
class Service:
    name: str
    protocol: str  # tcp | udp | any
    ports: tuple[int, ...]  # expanded, sorted; empty for protocol any
    origin: Origin = NO_ORIGIN

    @property
    def label(self) -> str:
        if self.protocol == "any":
            return "any"
        return ",".join(f"{self.protocol}/{p}" for p in self.ports)


@dataclass(frozen=True)
class Device:
    name: str
    role: str  # firewall | switch | bastion
    platform: str
    mgmt_address: str
    sites: tuple[str, ...]
    origin: Origin = NO_ORIGIN
    vlan_parent: str = ""  # hosts.yml vw_vlan_parent: the port carrying the vendor VLANs (FortiOS, Stormshield)
    # the device-wide syslog slot vendorwall may own (its platform's syslog_optin variable: FortiOS
    # vw_syslog_slot syslogd2..4, Stormshield the syslog profile index, ASA vw_syslog_interface); "": none
    syslog_slot: str = ""
    # the host's inventory variables (connection: ansible_port, ansible_user, vendorwall_known_hosts...);
    # may hold secrets (ansible_password): never printed, never exported
    vars: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class SwitchLink:
    name: str
    uplink: str


@dataclass(frozen=True)
class Site:
    name: str
    title: str
    kind: str
    firewall: str
    switches: tuple[SwitchLink, ...]
    segment_pool: tuple[IPv4Network, ...]
    vlan_range: tuple[int, int]
    prefix_dedicated: int
    prefix_shared: int
    management: tuple[IPv4Network, ...]
    origin: Origin = NO_ORIGIN
    networks: dict[str, ExistingNetwork] = field(default_factory=dict, compare=False)  # brownfield, by name
    timezone: str = ""  # IANA name of the site's clock ("" : the policy's)


@dataclass(frozen=True)
class ExistingNetwork:
    """A network that exists today (subnet, VLAN, gateway), which a vendor segment can adopt."""

    name: str
    site: str
    subnet: IPv4Network
    vlan: int
    gateway: IPv4Address
    routed_by: str  # who holds the gateway today; the site's firewall: nothing moves
    origin: Origin = NO_ORIGIN


@dataclass(frozen=True)
class ClientGroup:
    name: str
    title: str
    site: str | None
    prefixes: tuple[IPv4Network, ...]
    origin: Origin = NO_ORIGIN


@dataclass(frozen=True)
class EntryPath:
    name: str
    kind: str  # bastion | vpn | lan_to_lan
    prefixes: tuple[IPv4Network, ...]  # the source addresses vendor traffic arrives from
    bastion: str | None = None
    peer: str | None = None
    justification: str = ""
    retire_by: dt.date | None = None
    origin: Origin = NO_ORIGIN
    # a bastion's egress shared by every vendor that uses the bastion (PAM bastions connect to targets from
    # one address): never quarantined; the vendor is cut on the bastion itself (its accounts)
    shared: bool = False
    # LAN-to-LAN tunnels: confinement and retirement plan
    purpose: str = "maintenance"  # maintenance (an entry path) | interface (clinical flows name it)
    systems: tuple[str, ...] = ()  # the only systems it may reach ((): those naming it in access.via)
    services: tuple[str, ...] = ()  # the only services it may carry ((): each system's access services)
    replacement: str = ""  # the entry path that replaces it
    checklist: tuple[str, ...] = ()  # retirement checklist


@dataclass(frozen=True)
class Account:
    id: str
    person: str
    email: str
    expires: dt.date
    created: dt.date | None = None
    owner: str = ""
    shared: bool = False
    ssh_key: str = ""
    origin: Origin = NO_ORIGIN


@dataclass(frozen=True)
class Window:
    days: tuple[str, ...]
    start: str
    end: str


@dataclass(frozen=True)
class Access:
    mode: str  # on_demand | scheduled | permanent
    services: tuple[str, ...]
    via: tuple[str, ...]  # entry path names (resolved: never empty)
    max_hours: int | None = None
    window: Window | None = None
    justification: str = ""
    until: dt.date | None = None
    exception_services: tuple[str, ...] = ()
    exception_justification: str = ""
    origin: Origin = NO_ORIGIN


@dataclass(frozen=True)
class Flow:
    direction: str  # "from" (peer connects to system) | "to" (system connects to peer)
    peer: str
    services: tuple[str, ...]
    keep: bool = False
    origin: Origin = NO_ORIGIN
    justification: str = ""


@dataclass(frozen=True)
class SwitchPort:
    switch: str
    interface: str


@dataclass(frozen=True)
class System:
    name: str
    vendor: str
    site: str
    function: str
    criticality: str
    owner: str
    segment_mode: str  # dedicated | shared
    addresses: tuple[IPv4Address, ...]  # pinned; empty = allocate
    vlan: int | None
    switch_ports: tuple[SwitchPort, ...]
    approvers: tuple[str, ...]
    access: Access
    flows: tuple[Flow, ...]
    origin: Origin = NO_ORIGIN
    tags: tuple[str, ...] = ()  # groups of systems (modality, lab-analyser...): flow peers and staff targets
    infra_skip: tuple[str, ...] = ()  # infrastructure services this system opts out of
    infra_add: tuple[str, ...] = ()  # opt-in infrastructure services it uses
    network: str = ""  # an existing network of its site that its segment adopts (brownfield)
    current_address: IPv4Address | None = None  # where the device is today, before it moves (migration plan)
    current_vlan: int | None = None

    @property
    def segment_key(self) -> str:
        if self.segment_mode == "shared":
            return f"{self.site}/{self.vendor}"
        return f"{self.site}/{self.vendor}/{self.name}"


@dataclass(frozen=True)
class Vendor:
    name: str
    title: str
    hotline: str
    security_contact: str
    contract_reference: str
    contract_ends: dt.date
    entry_paths: tuple[EntryPath, ...]
    approvers: tuple[str, ...]
    accounts: tuple[Account, ...]
    systems: tuple[System, ...]
    origin: Origin = NO_ORIGIN


@dataclass(frozen=True)
class InfraService:
    """A shared service (DNS, NTP, AD, syslog, backup, antivirus) compiled for every system it applies to."""

    name: str
    title: str
    site: str | None  # None: every site
    prefixes: tuple[IPv4Network, ...]
    services: tuple[str, ...]
    direction: str = "to"  # to: systems -> servers; from: servers -> systems
    default: bool = True  # applies to every system of its site(s) unless skipped; False: opt-in
    keep: bool = False
    origin: Origin = NO_ORIGIN


@dataclass(frozen=True)
class StaffPath:
    """A hospital team's administration path: its client group to the systems (or tags) it operates."""

    name: str
    title: str
    source: str  # a client group
    targets: tuple[str, ...]  # systems or tags
    services: tuple[str, ...]
    keep: bool = True
    origin: Origin = NO_ORIGIN


@dataclass(frozen=True)
class Inventory:
    root: str
    policy: Policy
    services: dict[str, Service]
    devices: dict[str, Device]
    sites: dict[str, Site]
    client_groups: dict[str, ClientGroup]
    vendors: dict[str, Vendor]
    systems: dict[str, System]  # every vendor's systems by (globally unique) name
    sources: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # file -> yamlsrc.Source
    # names of entries left out because of structural errors (or seen in a file that did not
    # parse): semantic checks do not call references to them "unknown" (they are broken, and said so)
    broken: frozenset[str] = field(default_factory=frozenset, compare=False)
    infrastructure: dict[str, InfraService] = field(default_factory=dict)
    staff: dict[str, StaffPath] = field(default_factory=dict)

    @cached_property
    def tags(self) -> dict[str, tuple[str, ...]]:
        """Tag -> the systems that carry it, sorted."""
        out: dict[str, list[str]] = {}
        for s in self.systems.values():
            for t in s.tags:
                out.setdefault(t, []).append(s.name)
        return {t: tuple(sorted(names)) for t, names in sorted(out.items())}


# --------------------------------------------------------------------------- compiled model


@dataclass(frozen=True)
class Segment:
    key: str  # site/vendor[/system]
    site: str
    vendor: str
    mode: str
    systems: tuple[str, ...]
    vlan: int
    subnet: IPv4Network
    gateway: IPv4Address
    hosts: dict[str, tuple[IPv4Address, ...]]  # system -> its addresses
    interface: str
    zone: str
    firewall: str
    adopted: str = ""  # the existing network it adopts ("" when allocated)
    routed_by: str = ""  # adopted: who holds its gateway today


@dataclass(frozen=True)
class Validity:
    kind: str  # permanent | until | scheduled | on_demand
    until: dt.date | None = None
    window: Window | None = None
    max_hours: int | None = None

    def describe(self) -> str:
        if self.kind == "until" and self.until:
            return f"until {self.until.isoformat()}"
        if self.kind == "scheduled" and self.window:
            return f"scheduled {','.join(self.window.days)} {self.window.start}-{self.window.end}"
        if self.kind == "on_demand":
            return f"on demand, at most {self.max_hours} h per opening"
        return "permanent"


@dataclass(frozen=True)
class Rule:
    """One allow rule of the intent: a (sources, destinations, service) triple with its context."""

    id: str
    kind: str  # vendor_access | clinical
    vendor: str  # owning vendor ("" for none)
    system: str
    src: tuple[IPv4Network, ...]
    dst: tuple[IPv4Network, ...]
    service: str
    protocol: str
    ports: tuple[int, ...]
    validity: Validity
    action: str = "accept"
    log: bool = True
    keep: bool = False
    via: str = ""  # entry path (vendor access) or peer name (clinical)
    peer: str = ""
    firewalls: tuple[str, ...] = ()
    origin: Origin = NO_ORIGIN


COMMENT_SAFE = re.compile(r"[^A-Za-z0-9 ._/:=@+-]")


@dataclass(frozen=True)
class QuarantineElement:
    """One prefix an isolation quarantines: a vendor's entry path (``entry``) or segment (``segment``)."""

    prefix: IPv4Network
    vendor: str
    kind: str  # entry | segment
    name: str  # the entry path or the segment key

    @property
    def value(self) -> str:
        return str(self.prefix.network_address) if self.prefix.prefixlen == 32 else str(self.prefix)

    @property
    def comment(self) -> str:
        """``vw-isolate <vendor> <kind> <name>``: safe characters only, at most 128 bytes (nftables)."""
        text = COMMENT_SAFE.sub("_", f"vw-isolate {self.vendor} {self.kind} {self.name}")
        return text if len(text) <= 128 else text[:125] + "..."

    def to_data(self) -> dict[str, str]:
        return {"prefix": str(self.prefix), "vendor": self.vendor, "kind": self.kind, "name": self.name}


@dataclass(frozen=True)
class DeviceIntent:
    device: str
    role: str
    platform: str
    site: str
    mgmt: tuple[IPv4Network, ...] = ()
    segments: tuple[Segment, ...] = ()
    rules: tuple[Rule, ...] = ()
    vendor_sources: tuple[IPv4Network, ...] = ()
    uplink: str = ""
    access_ports: tuple[tuple[str, int, str], ...] = ()  # (interface, vlan, description)
    # firewalls: what the vendors isolated at compile time quarantine here (their entry paths, and with
    # scope segment the segments this firewall routes), by identity: the inventory's prefixes of now
    quarantine: tuple[QuarantineElement, ...] = ()


@dataclass(frozen=True)
class VendorFacts:
    """What touches one vendor, computed once per model (the manifest, the review and isolation
    read it instead of each filtering every rule per vendor)."""

    segments: tuple[Segment, ...]  # the vendor's segments, sorted by key
    access: tuple[Rule, ...]  # its vendor-access rules, sorted by id
    clinical: tuple[Rule, ...]  # clinical rules with one of its systems at either end, sorted by id


@dataclass(frozen=True)
class Model:
    now: dt.date
    inventory: Inventory
    segments: tuple[Segment, ...]
    rules: tuple[Rule, ...]
    devices: dict[str, DeviceIntent] = field(default_factory=dict)
    isolated: dict[str, str] = field(default_factory=dict)  # vendor -> scope, isolated at compile time

    @cached_property
    def by_vendor(self) -> dict[str, VendorFacts]:
        """Vendor name -> its :class:`VendorFacts`, for every vendor of the inventory (one pass)."""
        systems = self.inventory.systems
        segs: dict[str, list[Segment]] = {v: [] for v in self.inventory.vendors}
        access: dict[str, list[Rule]] = {v: [] for v in self.inventory.vendors}
        clinical: dict[str, list[Rule]] = {v: [] for v in self.inventory.vendors}
        for seg in self.segments:
            segs.setdefault(seg.vendor, []).append(seg)
        for r in self.rules:  # sorted by id: every list below stays sorted
            if r.kind == "vendor_access":
                access.setdefault(r.vendor, []).append(r)
            elif r.kind == "clinical":
                mine = systems.get(r.system)
                peer = systems.get(r.peer)
                owners = {mine.vendor if mine else r.vendor, *((peer.vendor,) if peer else ())}
                for owner in owners:
                    clinical.setdefault(owner, []).append(r)
        return {v: VendorFacts(tuple(sorted(segs.get(v, ()), key=lambda s: s.key)), tuple(access.get(v, ())),
                               tuple(clinical.get(v, ())))
                for v in sorted({*segs, *access, *clinical})}
