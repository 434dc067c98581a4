"""The lab topology, computed from the compiled model (pure: no I/O).

Layout (L3 only; the kernel here has no bridge or 802.1Q devices)::

    ctl --m<i>/mgmt0-- fw<i> --vl<vlan>/eth0-- s<j>   (one system namespace per segment)
                         |
                       up0/f<i>
                         |
    e<k> (entry path) --eth0/e<k>-- core --eth0/c<k>-- c<k> (client group)
                                     |
                                   out (the outside: a TEST-NET address)

- the controller namespace ``ctl`` reaches each firewall on its management address (hosts.yml
  ``ansible_host``) from an address inside that site's management network, over a dedicated
  point-to-point veth (host routes), so the firewall's input chain accepts it;
- each vendor VLAN is a routed veth of the firewall namespace named like the segment interface
  (``vl<vlan>``), gateway on the firewall side, the systems' addresses on the peer side;
- each IOS switch of the inventory is a fake-switches instance (Cisco IOS CLI over SSH) listening
  on 127.0.0.1 of the controller namespace, one port per switch: it models the switch's
  configuration (VLANs, access ports, trunk), not its data plane;
- entry paths (VPN pools, bastion sources, LAN-to-LAN subnets) and client groups sit outside every
  firewall, behind ``core``, which routes each site's segments to that site's firewall. This is
  what the compiled intent assumes: a vendor flow crosses the firewall of the system's site, a
  system-to-system flow between sites crosses both firewalls, a client-group flow crosses the
  firewall of the system's site.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, ip_network

from ..model import Model

PROBE_PORTS = (22, 23, 445, 3389, 8080)  # every system also listens here: "other port" probes are real
OUTSIDE_ADDR = IPv4Address("192.0.2.10")  # TEST-NET-1, held by the lab's "out" namespace
OUTSIDE_PORTS = (22, 443)
CORE_EDGE_ADDR = "169.254.255.1"  # the core's address on every edge veth (link-local, never routed)


@dataclass
class Namespace:
    name: str
    role: str  # ctl | core | out | fw | sys | entry | client
    label: str  # device, segment key, entry path or client group name
    links: list[str] = field(default_factory=list)  # `ip -n <name> -batch` lines creating veths
    config: list[str] = field(default_factory=list)  # `ip -n <name> -batch` lines run after all links exist
    forward: bool = False
    addresses: list[str] = field(default_factory=list)  # host addresses living here (for probes)


@dataclass
class Firewall:
    device: str
    netns: str
    mgmt: str  # the firewall's management address (ansible_host)
    controller: str  # the controller's address on the link to this firewall
    site: str
    segments: int


@dataclass
class Switch:
    device: str
    site: str
    port: int  # SSH port on 127.0.0.1 of the controller namespace
    ports: list[str]  # the simulated switch's physical interfaces
    vlan_range: tuple[int, int]
    model: str = "ios"  # ios: fake-switches' IOS CLI over SSH; junos: its Juniper ELS model over NETCONF


SWITCH_PORT_BASE = 10001
SWITCH_DEFAULT_PORTS = [f"GigabitEthernet1/0/{i}" for i in range(1, 49)]


@dataclass
class Topology:
    lab_id: str
    prefix: str
    namespaces: dict[str, Namespace]
    firewalls: dict[str, Firewall]
    controller: str  # controller namespace name
    # where each prefix of the intent lives: prefix -> (namespace, source/destination address)
    places: dict[IPv4Network, tuple[str, IPv4Address]]
    listeners: dict[str, list[tuple[str, str, int]]]  # namespace -> (address, proto, port)
    system_ns: dict[str, str]  # system name -> namespace
    outside: tuple[str, IPv4Address] = ("", OUTSIDE_ADDR)
    switches: dict[str, Switch] = field(default_factory=dict)  # IOS switches (fake-switches, in ctl)

    def place(self, prefix: str | IPv4Network) -> tuple[str, IPv4Address] | None:
        net = ip_network(prefix) if isinstance(prefix, str) else prefix
        hit = self.places.get(net)  # type: ignore[arg-type]
        if hit:
            return hit
        for p, where in self.places.items():  # a /32 inside a placed prefix
            if net.subnet_of(p):  # type: ignore[arg-type]
                return where[0], net.network_address  # type: ignore[return-value]
        return None


class TopologyError(ValueError):
    pass


def lab_id_for(inventory: str) -> str:
    return hashlib.sha1(os.path.realpath(inventory).encode()).hexdigest()[:4]


def first_host(net: IPv4Network) -> IPv4Address:
    return net.network_address if net.prefixlen >= 31 else net.network_address + 1


def _controller_address(mgmt: IPv4Address, nets: tuple[IPv4Network, ...], used: set[IPv4Address]) -> IPv4Address:
    ordered = sorted(nets, key=lambda n: (mgmt not in n, n.prefixlen))
    for net in ordered:
        if net.prefixlen >= 31:
            continue
        cand = net.broadcast_address - 1
        while cand > net.network_address:
            if cand not in used and cand != mgmt:
                return cand
            cand -= 1
    raise TopologyError(f"no free controller address in the management networks {', '.join(map(str, nets))}")


def _port_order(name: str) -> tuple[str, tuple[int, ...]]:
    head = name.rstrip("0123456789/.")
    return head, tuple(int(x) for x in name[len(head):].replace(".", "/").split("/") if x.isdigit())


def build(model: Model, lab_id: str) -> Topology:
    inv = model.inventory
    prefix = f"vw{lab_id}-"
    ns: dict[str, Namespace] = {}

    def add(suffix: str, role: str, label: str) -> Namespace:
        name = prefix + suffix
        ns[name] = Namespace(name, role, label)
        return ns[name]

    ctl = add("ctl", "ctl", "controller")
    core = add("core", "core", "core")
    core.forward = True
    ctl.config.append("link set lo up")
    core.config.append("link set lo up")
    places: dict[IPv4Network, tuple[str, IPv4Address]] = {}
    listeners: dict[str, list[tuple[str, str, int]]] = {}
    used = {IPv4Address(d.mgmt_address) for d in inv.devices.values()}
    firewalls: dict[str, Firewall] = {}
    system_ns: dict[str, str] = {}
    fws = sorted(n for n, d in model.devices.items() if d.role == "firewall" and d.platform == "nftables")
    seg_index = 0
    for i, dev in enumerate(fws):
        intent = model.devices[dev]
        fw = add(f"f{i}", "fw", dev)
        fw.forward = True
        mgmt = IPv4Address(inv.devices[dev].mgmt_address)
        caddr = _controller_address(mgmt, intent.mgmt, used)
        used.add(caddr)
        firewalls[dev] = Firewall(dev, fw.name, str(mgmt), str(caddr), intent.site, len(intent.segments))
        # management link: ctl m<i> <-> fw mgmt0, host routes only
        ctl.links.append(f"link add m{i} type veth peer name mgmt0 netns {fw.name}")
        ctl.config += [f"addr add {caddr}/32 dev m{i}", f"link set m{i} up",
                       f"route add {mgmt}/32 dev m{i} src {caddr}"]
        fw.config += ["link set lo up", f"addr add {mgmt}/32 dev mgmt0", "link set mgmt0 up",
                      f"route add {caddr}/32 dev mgmt0 src {mgmt}"]
        # uplink: fw up0 <-> core f<i>, a link-local /30
        a, b = f"169.254.{i}.1", f"169.254.{i}.2"
        core.links.append(f"link add f{i} type veth peer name up0 netns {fw.name}")
        core.config += [f"addr add {a}/30 dev f{i}", f"link set f{i} up"]
        fw.config += [f"addr add {b}/30 dev up0", "link set up0 up", f"route add default via {a}"]
        for seg in intent.segments:
            sname = f"s{seg_index}"
            seg_index += 1
            sys_ns = add(sname, "sys", seg.key)
            fw.links.append(f"link add {seg.interface} type veth peer name eth0 netns {sys_ns.name}")
            fw.config += [f"addr add {seg.gateway}/{seg.subnet.prefixlen} dev {seg.interface}",
                          f"link set {seg.interface} up"]
            core.config.append(f"route add {seg.subnet} via {b}")
            sys_ns.config += ["link set lo up"]
            for system, addrs in sorted(seg.hosts.items()):
                system_ns[system] = sys_ns.name
                for addr in addrs:
                    sys_ns.config.append(f"addr add {addr}/{seg.subnet.prefixlen} dev eth0")
                    sys_ns.addresses.append(str(addr))
                    places[IPv4Network(f"{addr}/32")] = (sys_ns.name, addr)
                    listeners.setdefault(sys_ns.name, []).extend((str(addr), "tcp", p) for p in PROBE_PORTS)
            sys_ns.config += ["link set eth0 up", f"route add default via {seg.gateway}"]

    def edge(suffix: str, role: str, label: str, nets: list[IPv4Network]) -> None:
        e = add(suffix, role, label)
        core.links.append(f"link add {suffix} type veth peer name eth0 netns {e.name}")
        core.config += [f"addr add {CORE_EDGE_ADDR}/32 dev {suffix}", f"link set {suffix} up"]
        e.config += ["link set lo up", "link set eth0 up", f"route add {CORE_EDGE_ADDR}/32 dev eth0"]
        for net in nets:
            host = first_host(net)
            e.config.append(f"addr add {host}/32 dev eth0")
            e.addresses.append(str(host))
            core.config.append(f"route add {host}/32 dev {suffix}")
            places[net] = (e.name, host)
        e.config.append(f"route add default via {CORE_EDGE_ADDR} dev eth0")

    k = 0
    seen: set[IPv4Network] = set()
    for vname in sorted(inv.vendors):
        for path in inv.vendors[vname].entry_paths:
            nets = [n for n in path.prefixes if n not in seen]
            seen.update(nets)
            if nets:
                edge(f"e{k}", "entry", f"{vname}/{path.name}", nets)
                k += 1
    for k, gname in enumerate(sorted(inv.client_groups)):
        nets = [n for n in inv.client_groups[gname].prefixes if n not in seen]
        seen.update(nets)
        if nets:
            edge(f"c{k}", "client", gname, nets)
    for k, iname in enumerate(sorted(inv.infrastructure)):  # shared servers (DNS, NTP...): one namespace each
        nets = [n for n in inv.infrastructure[iname].prefixes
                if n not in seen and not any(n.subnet_of(s) for s in seen)]
        seen.update(nets)
        if nets:
            edge(f"i{k}", "client", f"infrastructure/{iname}", nets)
    if any(OUTSIDE_ADDR in n for n in seen):
        raise TopologyError(f"the lab's outside address {OUTSIDE_ADDR} is inside an inventory prefix")
    edge("o0", "out", "outside", [IPv4Network(f"{OUTSIDE_ADDR}/32")])
    out_ns = prefix + "o0"
    listeners.setdefault(out_ns, []).extend((str(OUTSIDE_ADDR), "tcp", p) for p in OUTSIDE_PORTS)
    switches: dict[str, Switch] = {}
    # the switch platforms fake-switches simulates (NX-OS and AOS-CX: none, see docs/switches.md)
    sws = sorted(n for n, d in model.devices.items() if d.role == "switch" and d.platform in ("ios", "junos"))
    for i, dev in enumerate(sws):
        intent = model.devices[dev]
        defaults = set(SWITCH_DEFAULT_PORTS) if intent.platform == "ios" else set()
        names = defaults | {p for p, _, _ in intent.access_ports} | ({intent.uplink} - {""})
        switches[dev] = Switch(dev, intent.site, SWITCH_PORT_BASE + i, sorted(names, key=_port_order),
                               inv.sites[intent.site].vlan_range, intent.platform)
    topo = Topology(lab_id, prefix, ns, firewalls, ctl.name, places, listeners, system_ns, (out_ns, OUTSIDE_ADDR),
                    switches)
    # every destination of the intent listens on its ports (tcp accept, udp echo)
    from ..export import flows

    for f in flows(model):
        if f["protocol"] not in ("tcp", "udp") or f["kind"] == "management":
            continue
        where = topo.place(f["dst"])
        if where:
            listeners.setdefault(where[0], []).append((str(where[1]), f["protocol"], int(f["port"])))
    for name in listeners:
        listeners[name] = sorted(set(listeners[name]))
    for n in ns.values():
        for line in n.links:
            iface = line.split()[2]
            if len(iface) > 15:
                raise TopologyError(f"interface name {iface!r} longer than 15 characters")
    return topo
