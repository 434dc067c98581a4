#!/usr/bin/env python3
"""Packet path: the cost of the rendered nftables policy on forwarded traffic, next to plain forwarding.

    sudo python3 benchmarks/bench_packet_path.py [--sizes 100,50000] [--old-rev REV] [--repeat 5]
                                                 [--rr 20000] [--crr 2000] [--json]

Three network namespaces made here: a client, a router (the firewall) and a server, joined by veth
pairs; the router forwards. The router runs, in turn:

- ``plain``: no ruleset (IP forwarding only);
- ``conntrack``: the least a stateful firewall costs (``ct state established,related accept``,
  ``ct state new accept``): connection tracking on, no policy;
- ``new N``: the policy the renderer of this checkout writes for a firewall of the example inventory
  (fw-centre: its sets, windows, dated, on-demand, must-keep and isolated sets, state table), with its
  rules replaced by the measured flows plus synthetic tuples spread over its categories (75 % on
  demand, 17 % scheduled, 8 % permanent or dated, as in ``gen_inventory.py``) up to N set elements;
- ``old N``: the same intent rendered by the code of ``--old-rev`` (a temporary git worktree), when given.

Measured flows (TCP through the router, each to its own server address):

- ``keep``: a must-keep clinical flow (client group -> system, permanent);
- ``clinical``: a clinical flow that is not must-keep (permanent);
- ``vendor``: a vendor's on-demand access with a live grant (``grants_tcp`` element, 1 h).

Per flow, a C program (``packet_loop.c``, compiled here with ``cc``; a Python loop if there is no C
compiler, which dilutes the ratios and is said so) measures ``rr``: 1-byte round trips on one established
connection (every packet is an established one), and ``crr``: connect, one round trip, close (reset),
i.e. the new-connection path with its classification. Variants are interleaved in every repetition;
medians are printed with the ratio to plain forwarding and to the conntrack floor, and the 1-minute load
average before and after (2 CPUs shared: read ratios, not absolute times).

Always removes its namespaces and processes (by their own names and ids), also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODE = os.environ.get("VW_BENCH_CODE") or ROOT  # the vendorwall whose renderer --emit uses
sys.path.insert(0, CODE)

PORT = 5001
DEVICE = "fw-centre"
NOW = dt.date(2026, 11, 28)
# measured flows: name -> (client address, server address, what it is)
FLOWS = {
    "keep": ("10.1.200.10", "10.64.200.10", "must-keep clinical flow"),
    "clinical": ("10.1.200.11", "10.64.200.11", "clinical flow (not must-keep)"),
    "vendor": ("10.249.200.10", "10.64.200.12", "vendor on-demand access, live grant"),
}
CLIENT_LINK, ROUTER_C, ROUTER_S, SERVER_LINK = "172.30.0.2", "172.30.0.1", "172.30.0.5", "172.30.0.6"


# --------------------------------------------------------------------------- the policy


def _emit(size: int) -> str:
    """The nftables policy of ``DEVICE`` with the measured flows and synthetic tuples up to ``size``
    elements, rendered by the vendorwall at ``CODE`` (this function runs in a child process there)."""
    from ipaddress import IPv4Network

    from vendorwall import pipeline
    from vendorwall.platforms import registry
    from vendorwall.render import nftables

    res = pipeline.run(os.path.join(ROOT, "inventories", "example"), NOW, check_lock=False, do_render=False)
    model = res.model
    intent = model.devices[DEVICE]
    templates: dict[tuple[Any, ...], Any] = {}
    mgmt = []
    for r in intent.rules:
        if r.kind == "management":
            mgmt.append(r)
            continue
        templates.setdefault((r.kind, r.validity, r.protocol, r.keep), r)

    def net(a: str) -> tuple[IPv4Network, ...]:
        return (IPv4Network(a + "/32"),)

    def pick(kind: str, validity: str, keep: bool) -> Any:
        return next(t for (k, v, p, kp), t in sorted(templates.items(), key=lambda kv: kv[1].id)
                    if k == kind and v.kind == validity and p == "tcp" and kp == keep)

    rules = []
    for name, (kind, validity, keep) in {"keep": ("clinical", "permanent", True),
                                         "clinical": ("clinical", "permanent", False),
                                         "vendor": ("vendor_access", "on_demand", False)}.items():
        src, dst, _ = FLOWS[name]
        rules.append(dataclasses.replace(pick(kind, validity, keep), id=f"bench-{name}", src=net(src), dst=net(dst),
                                         ports=(PORT,)))
    # every category of the real firewall (windows with their daylight-saving periods, dated, ...), then padding
    by_kind: dict[str, list[Any]] = {"ondemand": [], "scheduled": [], "other": []}
    for t in sorted(templates.values(), key=lambda r: r.id):
        v = t.validity.kind
        by_kind["ondemand" if v == "on_demand" else "scheduled" if v == "scheduled" else "other"].append(t)
    cycle = [("ondemand", 75), ("scheduled", 17), ("other", 8)]
    plan = [k for k, w in cycle for _ in range(w) if by_kind[k]]
    firsts = [t for k in by_kind for t in by_kind[k]]  # every category once, then weighted
    i = 0
    while len(rules) < size:
        if i < len(firsts):
            t = firsts[i]
        else:
            group = by_kind[plan[i % len(plan)]]
            t = group[(i // len(plan)) % len(group)]
        port = t.ports[0] if t.ports else PORT
        rules.append(dataclasses.replace(t, id=f"pad-{i:06d}", src=net(f"10.{200 + i // 65536}.{i // 256 % 256}."
                                                                         f"{i % 256}"),
                                         dst=(IPv4Network(f"10.{128 + i // 65536}.{i // 256 % 256}.{i % 256}/32"),),
                                         ports=(port,) if t.protocol != "any" else ()))
        i += 1
    intent = dataclasses.replace(intent, rules=tuple(mgmt + rules),
                                 vendor_sources=tuple(intent.vendor_sources) + net(FLOWS["vendor"][0]))
    plat = registry.get("nftables") if hasattr(registry, "get") else registry.platforms()["nftables"]
    text, summary, diags = nftables.render(model, intent, plat)
    if diags:
        raise SystemExit(f"render: {diags}")
    return f"# elements: {summary['elements']}\n" + text


def policy(size: int, code: str | None) -> tuple[str, int]:
    """(nft text, set elements) of the policy at ``size``, rendered by ``code`` (None: this checkout)."""
    env = dict(os.environ, VW_BENCH_CODE=code or ROOT, PYTHONPATH=code or ROOT)
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--emit", str(size)], env=env,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"rendering the policy ({code or 'this checkout'}) failed:\n{out.stderr[-3000:]}")
    first, text = out.stdout.split("\n", 1)
    return text, int(first.split(":")[1])


FLOOR = """table inet vwfloor {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		ct state new accept
	}
}
"""


# --------------------------------------------------------------------------- the namespaces


def sh(cmd: list[str], *, input: str | None = None, check: bool = True) -> str:
    p = subprocess.run(cmd, input=input, capture_output=True, text=True, check=False, timeout=600)
    if check and p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:8])}: exit {p.returncode}: {(p.stderr or p.stdout).strip()[:2000]}")
    return p.stdout


class Topology:
    def __init__(self, prefix: str):
        self.c, self.r, self.s = prefix + "c", prefix + "r", prefix + "s"
        self.procs: list[subprocess.Popen[str]] = []

    def ip(self, ns: str, *lines: str) -> None:
        sh(["ip", "-n", ns, "-batch", "-"], input="\n".join(lines) + "\n")

    def up(self) -> None:
        for ns in (self.c, self.r, self.s):
            sh(["ip", "netns", "add", ns])
        self.ip(self.r, f"link add r0 type veth peer name c0 netns {self.c}",
                f"link add r1 type veth peer name s0 netns {self.s}", "link set lo up",
                f"addr add {ROUTER_C}/30 dev r0", f"addr add {ROUTER_S}/30 dev r1", "link set r0 up", "link set r1 up",
                *(f"route add {src}/32 via {CLIENT_LINK} dev r0" for src, _d, _w in FLOWS.values()),
                *(f"route add {dst}/32 via {SERVER_LINK} dev r1" for _s, dst, _w in FLOWS.values()))
        self.ip(self.c, "link set lo up", f"addr add {CLIENT_LINK}/30 dev c0", "link set c0 up",
                *(f"addr add {src}/32 dev c0" for src, _d, _w in FLOWS.values()), f"route add default via {ROUTER_C}")
        self.ip(self.s, "link set lo up", f"addr add {SERVER_LINK}/30 dev s0", "link set s0 up",
                *(f"addr add {dst}/32 dev s0" for _s, dst, _w in FLOWS.values()), f"route add default via {ROUTER_S}")
        sh(["ip", "netns", "exec", self.r, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])

    def server(self, argv: list[str]) -> None:
        p = subprocess.Popen(["ip", "netns", "exec", self.s, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        self.procs.append(p)
        assert p.stdout is not None
        if p.stdout.readline().strip() != "ready":
            raise SystemExit(f"echo server did not start: {p.stderr.read() if p.stderr else ''}")

    def ruleset(self, text: str) -> float:
        """Replace the router's ruleset (flush + load): the seconds ``nft -f`` took."""
        sh(["ip", "netns", "exec", self.r, "nft", "flush", "ruleset"])
        if not text:
            return 0.0
        with tempfile.NamedTemporaryFile("w", suffix=".nft", delete=False) as fh:
            fh.write(text)
        try:
            t0 = time.perf_counter()
            sh(["ip", "netns", "exec", self.r, "nft", "-f", fh.name])
            return time.perf_counter() - t0
        finally:
            os.unlink(fh.name)

    def down(self) -> None:
        for p in self.procs:
            with contextlib.suppress(ProcessLookupError):
                p.kill()
            p.wait()
        for ns in (self.c, self.r, self.s):
            sh(["ip", "netns", "del", ns], check=False)


# --------------------------------------------------------------------------- the loops


def build_loop(workdir: str) -> list[str] | None:
    """argv prefix of the compiled C loop, or None (no compiler: the Python loop is used)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None
    exe = os.path.join(workdir, "packet_loop")
    sh([cc, "-O2", "-Wall", "-o", exe, os.path.join(ROOT, "benchmarks", "packet_loop.c")])
    return [exe]


PY_LOOP = r"""
import socket, sys, time
mode, src, dst, port, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def conn():
    s = socket.socket(); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1); s.bind((src, 0))
    s.connect((dst, port)); return s
if mode == "server":
    import selectors
    sel = selectors.DefaultSelector(); ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", int(sys.argv[2]))); ls.listen(1024); sel.register(ls, selectors.EVENT_READ)
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            if key.fileobj is ls:
                c, _a = ls.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sel.register(c, selectors.EVENT_READ)
            else:
                try:
                    d = key.fileobj.recv(4096)
                except OSError:
                    d = b""
                if d: key.fileobj.sendall(d)
                else: sel.unregister(key.fileobj); key.fileobj.close()
t0 = None
if mode == "rr":
    s = conn(); s.sendall(b"x"); s.recv(1); t0 = time.perf_counter_ns()
    for _ in range(count): s.sendall(b"x"); s.recv(1)
    t1 = time.perf_counter_ns(); s.close()
else:
    import struct
    t0 = time.perf_counter_ns()
    for _ in range(count):
        s = conn(); s.sendall(b"x"); s.recv(1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close()
    t1 = time.perf_counter_ns()
print("%.1f" % ((t1 - t0) / count))
"""


def _cpu_ns(pid: int) -> int:
    with open(f"/proc/{pid}/schedstat") as fh:
        return int(fh.read().split()[0])


def run_loop(topo: Topology, loop: list[str], mode: str, flow: str, count: int) -> tuple[float, float]:
    """(wall, CPU) microseconds per round trip or connection; CPU: the client's and the server's (the
    forwarding runs in their softirq context: the router's rules are charged there)."""
    src, dst, _ = FLOWS[flow]
    server = topo.procs[0].pid
    s0 = _cpu_ns(server)
    out = sh(["ip", "netns", "exec", topo.c, *loop, mode, src, dst, str(PORT), str(count)])
    s1 = _cpu_ns(server)
    wall, cpu = (float(x) for x in out.split())
    return wall / 1000.0, (cpu + (s1 - s0) / count) / 1000.0


def grant(topo: Topology) -> None:
    src, dst, _ = FLOWS["vendor"]
    sh(["ip", "netns", "exec", topo.r, "nft", "add", "element", "inet", "vendorwall_state", "grants_tcp",
        f"{{ {src} . {dst} . {PORT} timeout 1h }}"])


def load1() -> float:
    return os.getloadavg()[0]


@contextlib.contextmanager
def topology(i: int) -> Iterator[Topology]:
    topo = Topology(f"vwpp{os.getpid()}-{i}")
    try:
        topo.up()
        yield topo
    finally:
        topo.down()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,50000", help="set elements of the policy (default 100,50000)")
    ap.add_argument("--old-rev", help="also measure the policy rendered by this git revision")
    ap.add_argument("--repeat", type=int, default=30, help="measurements per variant, flow and mode")
    ap.add_argument("--rr", type=int, default=3000, help="round trips per rr measurement")
    ap.add_argument("--crr", type=int, default=300, help="connections per crr measurement")
    ap.add_argument("--flows", default=",".join(FLOWS))
    ap.add_argument("--modes", default="rr,crr", help="rr (established packets), crr (new connections)")
    ap.add_argument("--ruleset", action="append", default=[], metavar="NAME=FILE",
                    help="also measure this nft file (it must carry the state table for the vendor flow's grant)")
    ap.add_argument("--cpu", type=int, default=0, help="the CPU client and server run on (-1: no pinning)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--emit", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.emit is not None:
        sys.stdout.write(_emit(args.emit))
        return 0
    if os.geteuid() != 0 or not shutil.which("nft"):
        print("needs root and nft", file=sys.stderr)
        return 2
    sizes = [int(x) for x in args.sizes.split(",")]
    flows = args.flows.split(",")
    modes = [(m, args.rr if m == "rr" else args.crr) for m in args.modes.split(",")]
    load_start = load1()
    variants: list[tuple[str, str, int]] = [("plain", "", 0), ("conntrack", FLOOR, 0)]
    with tempfile.TemporaryDirectory(prefix="vwpp") as work:
        old_dir = None
        if args.old_rev:
            old_dir = os.path.join(work, "old")
            sh(["git", "-C", ROOT, "worktree", "add", "--detach", old_dir, args.old_rev])
        for spec in args.ruleset:
            name, path = spec.split("=", 1)
            with open(path) as fh:
                variants.append((name, fh.read(), 0))
        try:
            for n in sizes:
                text, elements = policy(n, None)
                variants.append((f"new {n}", text, elements))
                if old_dir:
                    text, elements = policy(n, old_dir)
                    variants.append((f"old {n}", text, elements))
        finally:
            if old_dir:
                sh(["git", "-C", ROOT, "worktree", "remove", "--force", old_dir], check=False)
        loop = build_loop(work)
        if loop is None:
            py = os.path.join(work, "loop.py")
            with open(py, "w") as fh:
                fh.write(PY_LOOP)
            loop = [sys.executable, py]
        # client and server on one CPU: every wake-up is local (no idle vCPU to wake through the hypervisor, whose
        # cost swamps the forwarding path's on a virtual machine); --cpu -1: no pinning
        pin = ["taskset", "-c", str(args.cpu)] if args.cpu >= 0 and shutil.which("taskset") else []
        results: dict[str, dict[str, list[float]]] = {v[0]: {} for v in variants}
        load_times: dict[str, float] = {}
        loads = []
        with contextlib.ExitStack() as stack:
            topos = {}
            for i, (name, text, _el) in enumerate(variants):  # one router per variant: loaded once, runs interleaved
                topo = topos[name] = stack.enter_context(topology(i))
                topo.server([*pin, *loop, "server", str(PORT)])
                load_times[name] = topo.ruleset(text)
                if "vendorwall_state" in text:
                    grant(topo)
            for rep in range(args.repeat):
                k = rep % len(variants)
                loads.append(load1())
                for name, _text, _el in variants[k:] + variants[:k]:
                    for flow in flows:
                        for mode, count in modes:
                            wall, cpu = run_loop(topos[name], [*pin, *loop], mode, flow, count)
                            results[name].setdefault(f"{mode} {flow}", []).append(wall)
                            results[name].setdefault(f"{mode} {flow} cpu", []).append(cpu)
                if (rep + 1) % 10 == 0 or rep + 1 == args.repeat:
                    print(f"repetition {rep + 1}/{args.repeat} done (load {load1():.2f})", file=sys.stderr)
    med = {v: {k: statistics.median(xs) for k, xs in r.items()} for v, r in results.items()}
    report: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "load_start": load_start, "load_end": load1(),
                          "load_range": [min(loads), max(loads)], "loop": "C" if loop[0].endswith("packet_loop")
                          else "Python"},
              "elements": {v[0]: v[2] for v in variants},
              "load_seconds": load_times,
              "median_us": med,
              "min_us": {v: {k: min(xs) for k, xs in r.items()} for v, r in results.items()},
              "samples_us": results}
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    m = report["machine"]
    print(f"machine: {m['cpus']} CPUs, load average {m['load_start']:.2f} at start, {m['load_end']:.2f} at end "
          f"(range {m['load_range'][0]:.2f}-{m['load_range'][1]:.2f} during the runs); {m['loop']} loop; "
          f"median of {args.repeat}, {args.rr} round trips (rr) / {args.crr} connections (crr) each")
    for what, suffix in (("CPU (client + server, the forwarding included)", " cpu"), ("wall", "")):
        for mode, unit in (("rr", "per round trip (established packets)"), ("crr", "per connection (new)")):
            if mode not in args.modes.split(","):
                continue
            cols = [f"{mode} {f}{suffix}" for f in flows]
            print(f"\n{what} microseconds {unit}, (x plain forwarding, x conntrack floor):\n")
            print("| variant | elements | nft -f s | " + " | ".join(flows) + " |")
            print("|---|---:|---:|" + "---:|" * len(cols))
            for name, _t, el in variants:
                cells = []
                for c in cols:
                    v = med[name][c]
                    cells.append(f"{v:.2f} ({v / med['plain'][c]:.2f}, {v / med['conntrack'][c]:.2f})")
                print(f"| {name} | {el} | {report['load_seconds'][name]:.2f} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
