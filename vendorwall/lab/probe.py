"""``vendorwall lab test``: check the data plane against the compiled intent with real connections.

Every allowed flow of the intent (``export.flows``) whose validity holds now is probed from the
namespace holding its source prefix (bound to the prefix's first host, or the system's own
address) to its destination; a seeded sample of forbidden tuples must fail:

- ``other_vendor``: a vendor entry path to another vendor's system, on a port that system serves;
- ``other_port``: a vendor entry path to its own system on a port no rule allows (listening anyway);
- ``vendor_to_vendor``: a system of one vendor to a system of another vendor;
- ``client_other_port``: a client group to a system on a port no rule allows;
- ``system_to_outside``: a system to an address outside the hospital (the lab's TEST-NET host).

On-demand flows are probed twice: without a grant (must fail), then with a grant added to the
firewall's ``vendorwall_state`` grant set (must connect); the test grants are removed afterwards.
An operator's live grant is never replaced or removed (:mod:`.testgrants`): a test grant is created only
where none holds the tuple, only those are removed, and a tuple a live grant holds is not probed
"without a grant".
Scheduled flows are skipped (their outcome depends on the wall clock; counted as skipped).
A forbidden probe passes only on a timeout (the firewall dropped it): a refusal would mean the
packet reached the destination host. TCP probes also check the answering namespace's banner.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import socket
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, ip_network
from typing import Any

from ..model import Model
from . import netns
from .topology import OUTSIDE_PORTS, PROBE_PORTS, Topology, build


@dataclass(frozen=True)
class Probe:
    category: str
    src_ns: str
    src: str
    dst_ns: str
    dst: str
    proto: str
    port: int
    expect: bool
    flow: str = ""
    firewalls: tuple[str, ...] = ()


@dataclass
class Outcome:
    probe: Probe
    ok: bool  # connected (tcp) / echoed (udp)
    detail: str

    @property
    def mismatch(self) -> bool:
        if self.probe.expect:
            return not self.ok
        return self.ok or self.detail != "timeout"


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def mismatches(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.mismatch]

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = defaultdict(lambda: {"probes": 0, "mismatches": 0})
        for o in self.outcomes:
            c = out[o.probe.category]
            c["probes"] += 1
            c["mismatches"] += int(o.mismatch)
        return dict(sorted(out.items()))

    def text(self) -> str:
        lines = []
        for cat, c in self.counts().items():
            lines.append(f"  {cat:<22} {c['probes']:>5} probes  {c['mismatches']:>3} mismatches")
        for reason, n in sorted(self.skipped.items()):
            lines.append(f"  skipped: {reason}: {n}")
        for o in self.mismatches:
            p = o.probe
            want = "allowed" if p.expect else "forbidden"
            lines.append(f"  MISMATCH {p.category}: {p.src} -> {p.dst} {p.proto}/{p.port} is {want} but "
                         f"{'connected' if o.ok else 'failed'} ({o.detail}) "
                         f"[{p.flow or 'sample'}; {p.src_ns} -> {p.dst_ns}]")
        total = len(self.outcomes)
        lines.append(f"lab test: {total} probes, {len(self.mismatches)} mismatches, "
                     f"{sum(self.skipped.values())} skipped, {self.seconds:.1f} s")
        return "\n".join(lines)


class _Cover:
    """Is a (src, dst, proto, port) tuple allowed by any flow of the intent (any validity)?"""

    def __init__(self, flows: list[dict[str, Any]]):
        self.idx: dict[tuple[str, int | None], list[tuple[IPv4Network, IPv4Network]]] = defaultdict(list)
        for f in flows:
            self.idx[(f["protocol"], f["port"])].append((ip_network(f["src"]), ip_network(f["dst"])))  # type: ignore[arg-type]

    def allows(self, src: str, dst: str, proto: str, port: int) -> bool:
        s, d = IPv4Address(src), IPv4Address(dst)
        for key in ((proto, port), ("any", None)):
            for sn, dn in self.idx.get(key, ()):
                if s in sn and d in dn:
                    return True
        return False


def build_probes(model: Model, topo: Topology, *, seed: int = 1, sample: int = 25,
                 today: dt.date | None = None) -> tuple[list[Probe], list[Probe], Counter[str]]:
    """-> (phase-1 probes, on-demand probes to run with a grant, skipped reasons)."""
    from ..export import flows as export_flows

    today = today or dt.datetime.now(dt.UTC).date()
    flows = export_flows(model)
    cover = _Cover(flows)
    skipped: Counter[str] = Counter()
    phase1: dict[tuple[str, str, str, int], Probe] = {}
    granted: dict[tuple[str, str, str, int], Probe] = {}
    ctl = topo.controller
    for f in flows:
        proto, port = f["protocol"], f["port"]
        if f["kind"] == "management":
            fw = topo.firewalls.get(f["firewalls"][0])
            if fw and IPv4Address(fw.controller) in ip_network(f["src"]):
                port = port or 22  # management is any protocol: probe the device's SSH
                key = (fw.controller, fw.mgmt, "tcp", port)
                phase1[key] = Probe("management", ctl, fw.controller, fw.netns, fw.mgmt, "tcp", port, True, f["id"])
            else:
                skipped["management source other than the lab controller"] += 1
            continue
        if proto not in ("tcp", "udp"):
            skipped[f"protocol {proto}"] += 1
            continue
        src, dst = topo.place(f["src"]), topo.place(f["dst"])
        if not src or not dst:
            skipped["source or destination not placed in the lab"] += 1
            continue
        key = (str(src[1]), str(dst[1]), proto, port)
        fws = tuple(f["firewalls"])
        v = f["validity"]
        if v == "scheduled":
            skipped["scheduled window (depends on the clock)"] += 1
            continue
        if v == "on_demand":
            if key not in phase1:
                phase1[key] = Probe("on_demand_no_grant", src[0], key[0], dst[0], key[1], proto, port, False,
                                    f["id"], fws)
            granted[key] = Probe("on_demand_granted", src[0], key[0], dst[0], key[1], proto, port, True, f["id"], fws)
            continue
        expect = v == "permanent" or (v == "until" and f["until"] and today < dt.date.fromisoformat(f["until"]))
        cat = "allowed_" + (f["kind"] if v == "permanent" else v)
        prev = phase1.get(key)
        if prev is None or (not prev.expect and expect):
            phase1[key] = Probe(cat, src[0], key[0], dst[0], key[1], proto, port, bool(expect), f["id"], fws)
    rng = random.Random(seed)
    ns = topo.namespaces
    vendor_of_entry = {n.name: n.label.split("/")[0] for n in ns.values() if n.role == "entry"}
    inv = model.inventory
    sys_addrs: dict[str, list[tuple[str, str]]] = defaultdict(list)  # vendor -> [(ns, addr)]
    sys_ports: dict[str, set[int]] = defaultdict(set)  # address -> tcp ports it listens on
    for listening in topo.listeners.values():
        for addr, proto, port in listening:
            if proto == "tcp":
                sys_ports[addr].add(port)
    for system, nsname in topo.system_ns.items():
        vendor = inv.systems[system].vendor
        for n in ns[nsname].addresses:
            sys_addrs[vendor].append((nsname, n))
    for v in sys_addrs:
        sys_addrs[v] = sorted(set(sys_addrs[v]))
    vendors = sorted(sys_addrs)

    def add_forbidden(cat: str, src: tuple[str, str], dst: tuple[str, str], port: int) -> bool:
        key = (src[1], dst[1], "tcp", port)
        if src[1] == dst[1] or cover.allows(src[1], dst[1], "tcp", port) or key in phase1:
            return False
        phase1[key] = Probe(cat, src[0], src[1], dst[0], dst[1], "tcp", port, False)
        return True

    def sample_loop(cat: str, gen: Any) -> None:
        got, tries = 0, 0
        while got < sample and tries < sample * 20:
            tries += 1
            cand = gen()
            if cand and add_forbidden(cat, *cand):
                got += 1

    entries = sorted((n.name, a) for n in ns.values() if n.role == "entry" for a in n.addresses)
    clients = sorted((n.name, a) for n in ns.values() if n.role == "client" for a in n.addresses)

    def other_vendor() -> Any:
        e = rng.choice(entries)
        others = [v for v in vendors if v != vendor_of_entry[e[0]]]
        d = rng.choice(sys_addrs[rng.choice(others)])
        return e, d, rng.choice(sorted(sys_ports[d[1]]))

    def other_port() -> Any:
        e = rng.choice(entries)
        own = sys_addrs.get(vendor_of_entry[e[0]])
        if not own:
            return None
        return e, rng.choice(own), rng.choice(PROBE_PORTS)

    def vendor_to_vendor() -> Any:
        a, b = rng.sample(vendors, 2)
        d = rng.choice(sys_addrs[b])
        return rng.choice(sys_addrs[a]), d, rng.choice(sorted(sys_ports[d[1]]))

    def client_other_port() -> Any:
        return rng.choice(clients), rng.choice(sys_addrs[rng.choice(vendors)]), rng.choice(PROBE_PORTS)

    def system_to_outside() -> Any:
        return (rng.choice(sys_addrs[rng.choice(vendors)]), (topo.outside[0], str(topo.outside[1])),
                rng.choice(OUTSIDE_PORTS))

    if entries and len(vendors) > 1:
        sample_loop("forbidden_other_vendor", other_vendor)
        sample_loop("forbidden_vendor_to_vendor", vendor_to_vendor)
    if entries:
        sample_loop("forbidden_other_port", other_port)
    if clients and vendors:
        sample_loop("forbidden_client_port", client_other_port)
    if vendors:
        sample_loop("forbidden_to_outside", system_to_outside)
    return list(phase1.values()), list(granted.values()), skipped


async def _probe(p: Probe, timeout: float, sem: asyncio.Semaphore) -> Outcome:
    loop = asyncio.get_running_loop()
    async with sem:
        kind = socket.SOCK_STREAM if p.proto == "tcp" else socket.SOCK_DGRAM
        s = netns.socket_in(p.src_ns, socket.AF_INET, kind)
        s.setblocking(False)
        try:
            s.bind((p.src, 0))
            if p.proto == "tcp":
                await asyncio.wait_for(loop.sock_connect(s, (p.dst, p.port)), timeout)
                if p.dst_ns and p.category != "management":
                    data = await asyncio.wait_for(loop.sock_recv(s, 64), timeout)
                    if data.decode(errors="replace").strip() != f"vw {p.dst_ns}":
                        return Outcome(p, True, f"answered by {data!r}, expected namespace {p.dst_ns}")
                return Outcome(p, True, "connected")
            await loop.sock_connect(s, (p.dst, p.port))
            await loop.sock_sendall(s, b"vw-probe")
            data = await asyncio.wait_for(loop.sock_recv(s, 64), timeout)
            return Outcome(p, data == b"vw-probe", "echoed")
        except TimeoutError:
            return Outcome(p, False, "timeout")
        except OSError as exc:
            return Outcome(p, False, exc.strerror or type(exc).__name__)
        finally:
            s.close()


async def _run_all(probes: list[Probe], timeout: float, parallel: int) -> list[Outcome]:
    sem = asyncio.Semaphore(parallel)
    return list(await asyncio.gather(*(_probe(p, timeout, sem) for p in probes)))


def _tuples(probes: list[Probe]) -> list[Any]:
    from . import testgrants

    return [testgrants.Tuple(fw, p.proto, p.src, p.dst, p.port) for p in probes for fw in p.firewalls]


def run(state: Any, *, seed: int = 1, sample: int = 25, timeout: float = 1.0, parallel: int = 256,
        progress: Any = lambda _: None) -> Report:
    from .. import pipeline

    t0 = time.monotonic()
    res = pipeline.run(state.inventory, dt.date.fromisoformat(state.now), check_lock=False, do_render=False)
    topo = build(res.model, state.lab_id)
    from . import testgrants

    phase1, granted, skipped = build_probes(res.model, topo, seed=seed, sample=sample)
    fw_ns = {dev: fw["netns"] for dev, fw in state.firewalls.items()}
    # a tuple an operator's live grant holds is not probed "without a grant" (it would connect)
    live = testgrants.held(fw_ns)
    kept = [p for p in phase1 if p.category != "on_demand_no_grant"
            or not any(live.holds(t) for t in _tuples([p]))]
    if len(kept) != len(phase1):
        skipped["on demand without a grant: a live grant (not this test's) holds the tuple"] += len(phase1) - len(kept)
    report = Report(skipped=skipped)
    progress(f"  phase 1: {len(kept)} probes (allowed, forbidden sample, on-demand without grant)")
    report.outcomes += asyncio.run(_run_all(kept, timeout, parallel))
    if granted:
        progress(f"  phase 2: {len(granted)} on-demand probes with a test grant")
        created = testgrants.add(fw_ns, _tuples(granted))  # never over an operator's grant
        try:
            report.outcomes += asyncio.run(_run_all(granted, timeout, parallel))
        finally:
            testgrants.remove(fw_ns, created)  # only the test's own
    report.seconds = time.monotonic() - t0
    return report
