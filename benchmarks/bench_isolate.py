#!/usr/bin/env python3
"""Emergency isolation speed: N firewall namespaces, a live vendor TCP session streaming on each.

    sudo python3 benchmarks/bench_isolate.py [--firewalls 20,50,100] [--trials 3] [--interval-ms 2]
                                             [--host-bashrc] [--keep] [--json]

Builds a synthetic lab with the lab's primitives (vendorwall.lab.netns, one sshd per firewall
namespace started like ``vendorwall lab up`` does, the lab's state.json so ``--lab-dir`` works
and ``vendorwall.lab.runner.down`` removes it): per firewall ``f<i>`` a management link from the
controller namespace, a vendor namespace ``v<i>`` (10.200.i.10, inside the vendor's VPN pool
10.200.0.0/16) and a system namespace ``s<i>`` (10.64.i.10). Each firewall runs the state table
exactly as the renderer writes it (taken from the example inventory's rendered fw-rive) and a
minimal policy table (established accept first, then the allowed tuple), i.e. the deployed shape.

Per trial: one vendor TCP session per firewall streams 64-byte chunks every --interval-ms; then
``python3 -m vendorwall.isolate isolate MANIFEST --vendor benchvendor ... --lab-dir LAB --json`` runs
as a child process, exactly what an on-call engineer runs (journal, isolation record and anchors
included; the state directory is the lab's own). Measured:

- the whole command: from just before the child is spawned (interpreter start and imports included) to
  its exit (the goal, issue 14: < 1 s at 100 firewalls); and to the last firewall's verified answer;
- per device, the device's change (its clock when ``nft`` returned, i.e. after the commit) -> the last
  vendor byte the system received, stamped by the kernel on arrival (SO_TIMESTAMPNS: a loaded machine
  delays the reading thread, not the stamp); goal <= 50 ms, i.e. no byte delivered after the change.
  Also against the commit as ``nft monitor`` in the firewall's namespace saw it (read by a thread: late
  under load);
- where the CPU went: the command's own (controller: imports, SSH, JSON) and the lab devices' (every
  sshd and what it ran: the agent, nft), from the processes' accounting; the 1-minute load average
  when the trial started (the machine is shared: read figures with it);
- then a restore (timed the same way) and fresh sessions for the next trial.

vendorwall's bytecode is compiled first (``compileall``, beside the sources), as an installed package
has it: a checkout run with PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module on every run.

Several sizes (``--firewalls 20,50,100``): one lab after the other, --trials each, medians printed.

--host-bashrc keeps this host's /root/.bashrc in the device shells. By default each sshd runs in its
own mount namespace where an empty file hides it: the "devices" share this machine's filesystem, and
a developer's ``pyenv init`` in /root/.bashrc (sourced by bash for every SSH command) would add
~0.3 s per device that no real firewall has. Always cleans up (namespaces, sshd), also on Ctrl-C,
unless --keep.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import selectors
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from vendorwall.isolate import manifest as vwmanifest  # noqa: E402
from vendorwall.lab import netns, runner  # noqa: E402

PORT = 7001
VENDOR = "benchvendor"
POOL = "10.200.0.0/16"


def _state_table() -> str:
    """The state table block of a real rendered firewall (what every deploy installs)."""
    from vendorwall import pipeline

    res = pipeline.run(os.path.join(ROOT, "inventories", "example"), dt.datetime.now(dt.UTC).date(),
                       check_lock=False)
    text = res.configs["fw-rive"].text
    start = text.index("table inet vendorwall_state {")
    end = text.index("\n# --- intent")
    return text[start:end] + "\n"


def _policy(i: int) -> str:
    return f"""table inet vendorwall {{
	set mgmt {{ type ipv4_addr; flags interval; elements = {{ 10.250.{i}.0/24 }} }}
	set allow_tcp {{ type ipv4_addr . ipv4_addr . inet_service; flags interval;
		elements = {{ 10.200.{i}.10 . 10.64.{i}.10 . {PORT} }} }}
	chain input {{ type filter hook input priority filter; policy drop;
		iif "lo" accept
		ip saddr @mgmt accept
		ct state established,related accept
	}}
	chain forward {{ type filter hook forward priority filter; policy drop;
		ct state invalid drop
		ct state established,related accept
		ip saddr . ip daddr . tcp dport @allow_tcp accept
	}}
}}
"""


def _sshd_config(lab_dir: str, dev: str, addr: str) -> str:
    d = os.path.join(lab_dir, "fw", dev)
    return "\n".join([f"ListenAddress {addr}:22", f"HostKey {d}/ssh_host_ed25519_key", f"PidFile {d}/sshd.pid",
                      f"AuthorizedKeysFile {lab_dir}/ssh/authorized_keys", "PermitRootLogin prohibit-password",
                      "PubkeyAuthentication yes", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
                      "UsePAM no", "StrictModes no", "KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org",
                      "PrintMotd no", "PrintLastLog no", "MaxStartups 100:30:200", ""])


def _keygen(path: str) -> None:
    if not os.path.exists(path):
        netns.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vendorwall-bench", "-f", path])


def build(n: int, lab_dir: str, lab_id: str, host_bashrc: bool) -> runner.LabState:
    prefix = f"vw{lab_id}-"
    ctl = prefix + "ctl"
    names = [ctl] + [prefix + f"{k}{i}" for i in range(n) for k in "fvs"]
    state = runner.LabState(1, lab_id, prefix, "(synthetic: benchmarks/bench_isolate.py)", lab_dir,
                            dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), dt.date.today().isoformat(),
                            names, ctl, {})
    state.save()  # recorded first: runner.down removes whatever was created
    netns.ip_batch([f"netns add {x}" for x in names])
    ctl_links, ctl_cfg = [], ["link set lo up"]
    state_table = _state_table()
    for i in range(n):
        fw, v, s = (prefix + f"{k}{i}" for k in "fvs")
        mgmt, caddr = f"10.250.{i}.1", f"10.250.{i}.254"
        ctl_links.append(f"link add m{i} type veth peer name mgmt0 netns {fw}")
        ctl_cfg += [f"addr add {caddr}/32 dev m{i}", f"link set m{i} up", f"route add {mgmt}/32 dev m{i} src {caddr}"]
        netns.ip_batch([f"link add vx0 type veth peer name eth0 netns {v}",
                        f"link add sx0 type veth peer name eth0 netns {s}"], fw)
        for ns_, addr, gw in ((v, f"10.200.{i}.10/24", f"10.200.{i}.1"), (s, f"10.64.{i}.10/24", f"10.64.{i}.1")):
            netns.ip_batch(["link set lo up", f"addr add {addr} dev eth0", "link set eth0 up",
                            f"route add default via {gw}"], ns_)
        state.firewalls[f"fw{i:02d}"] = {"netns": fw, "mgmt": mgmt, "controller": caddr, "site": f"site{i:02d}",
                                         "remote_dir": os.path.join(lab_dir, "fw", f"fw{i:02d}", "state"),
                                         "segments": 1}
    netns.ip_batch(ctl_links, ctl)
    netns.ip_batch(ctl_cfg, ctl)
    for i in range(n):
        fw = prefix + f"f{i}"
        netns.ip_batch(["link set lo up", f"addr add 10.250.{i}.1/32 dev mgmt0", "link set mgmt0 up",
                        f"route add 10.250.{i}.254/32 dev mgmt0 src 10.250.{i}.1",
                        f"addr add 10.200.{i}.1/24 dev vx0", "link set vx0 up",
                        f"addr add 10.64.{i}.1/24 dev sx0", "link set sx0 up"], fw)
        with netns.in_netns(fw):
            for key, val in (("ipv4/ip_forward", "1"), ("ipv4/conf/all/rp_filter", "0")):
                with open(f"/proc/sys/net/{key}", "w") as fh:
                    fh.write(val)
        netns.run(["ip", "netns", "exec", fw, "nft", "-f", "-"], input=state_table + _policy(i))
    # one sshd per firewall namespace, as vendorwall lab up starts them
    key = os.path.join(lab_dir, "ssh", "id_ed25519")
    os.makedirs(os.path.dirname(key), exist_ok=True)
    _keygen(key)
    shutil.copyfile(key + ".pub", os.path.join(lab_dir, "ssh", "authorized_keys"))
    state.ssh_key = key
    os.makedirs("/run/sshd", exist_ok=True)
    empty = os.path.join(lab_dir, "empty-bashrc")
    open(empty, "w").close()
    hide = ("" if host_bashrc or not os.path.exists("/root/.bashrc")
            else f'mount --bind {empty} /root/.bashrc && ')
    procs = []
    known = []  # the devices' host keys, as vendorwall lab up records them: isolate verifies them
    for dev, fw in sorted(state.firewalls.items()):
        d = os.path.join(lab_dir, "fw", dev)
        os.makedirs(os.path.join(d, "state"), exist_ok=True)
        _keygen(os.path.join(d, "ssh_host_ed25519_key"))
        known.append(netns.known_hosts_line(fw["mgmt"], os.path.join(d, "ssh_host_ed25519_key.pub")))
        cfg = os.path.join(d, "sshd_config")
        with open(cfg, "w") as fh:
            fh.write(_sshd_config(lab_dir, dev, fw["mgmt"]))
        procs.append((dev, os.path.join(d, "sshd.pid"), subprocess.Popen(
            ["ip", "netns", "exec", fw["netns"], "unshare", "--uts", "--mount", "sh", "-c",
             f'{hide}hostname "$0" && exec {runner.SSHD} -f "$1"', dev, cfg],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    state.known_hosts = os.path.join(lab_dir, "known_hosts")
    with open(os.open(state.known_hosts, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
        fh.writelines(known)
    for dev, pidfile, p in procs:
        out, _ = p.communicate(timeout=30)
        if p.returncode != 0:
            raise RuntimeError(f"sshd for {dev} failed: {out.strip()}")
        state.pids[f"sshd:{dev}"] = _pid(pidfile)
    state.save()
    for fw in state.firewalls.values():
        deadline = time.monotonic() + 10
        while True:
            try:
                netns.connect_in(ctl, fw["mgmt"], 22, timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
    return state


def _pid(pidfile: str) -> int:
    for _ in range(200):
        if os.path.exists(pidfile):
            with open(pidfile) as fh:
                text = fh.read().strip()
            if text:
                return int(text)
        time.sleep(0.01)
    raise RuntimeError(f"no pid in {pidfile}")


class Monitors:
    """``nft monitor new elements`` in every firewall namespace: when the kernel committed the change."""

    def __init__(self, state: runner.LabState):
        self.first: dict[str, float] = {}
        self.procs = []
        for dev, fw in sorted(state.firewalls.items()):
            p = subprocess.Popen(["ip", "netns", "exec", fw["netns"], "nft", "monitor", "new", "elements"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
            self.procs.append(p)
            threading.Thread(target=self._read, args=(dev, p), daemon=True).start()
        time.sleep(0.2)

    def _read(self, dev: str, p: subprocess.Popen[str]) -> None:
        for line in p.stdout or []:
            if "quarantine" in line and dev not in self.first:
                self.first[dev] = time.time()

    def close(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(2)
            except subprocess.TimeoutExpired:
                p.kill()


def manifest(state: runner.LabState) -> dict[str, Any]:
    fws = {dev: {"platform": "nftables", "mgmt_address": fw["mgmt"], "site": fw["site"],
                 "management": [f"{fw['mgmt'].rsplit('.', 1)[0]}.0/24"]} for dev, fw in state.firewalls.items()}
    vendor = {"title": "Bench vendor", "hotline": "", "security_contact": "", "systems": [], "segments": {},
              "accounts": [], "tunnels": [], "flows": [],
              "entry_paths": [{"name": "bench-vpn", "kind": "vpn", "prefixes": [POOL], "bastion": None, "peer": None},
                              {"name": "bench-bastion", "kind": "bastion", "prefixes": ["10.249.0.201/32"],
                               "bastion": "bst-1", "peer": None}]}
    return {"manifest": vwmanifest.MANIFEST_KIND, "version": vwmanifest.MANIFEST_VERSION, "now": state.now,
            "inventory": "bench", "management": sorted(
        {m for f in fws.values() for m in f["management"]}), "firewalls": fws, "bastions": {},
        "vendors": {VENDOR: vendor}}


_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TS_SPACE = socket.CMSG_SPACE(16)


def _kernel_time(ancillary: list[tuple[int, int, bytes]]) -> float | None:
    """The arrival time the kernel stamped on the last segment read (SO_TIMESTAMPNS): a loaded machine
    delays the reading thread, not this."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return sec + nsec / 1e9
    return None


class Streams:
    """One vendor -> system TCP session per firewall; one sender and one receiver thread for all."""

    def __init__(self, state: runner.LabState, interval: float):
        self.interval = interval
        self.stop = threading.Event()
        self.last: dict[str, float] = {}
        self.count: dict[str, int] = {}
        self.arrivals: dict[str, list[float]] = {}
        self.clients: list[tuple[str, socket.socket]] = []
        self.servers: list[tuple[str, socket.socket, socket.socket]] = []
        for dev, fw in sorted(state.firewalls.items()):
            i = int(dev[2:])
            v, s = fw["netns"][:-len(f"f{i}")] + f"v{i}", fw["netns"][:-len(f"f{i}")] + f"s{i}"
            srv = netns.socket_in(s)
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            srv.bind((f"10.64.{i}.10", PORT))
            srv.listen(1)
            cli = netns.socket_in(v)
            cli.bind((f"10.200.{i}.10", 0))
            cli.settimeout(3)
            cli.connect((f"10.64.{i}.10", PORT))
            conn, _ = srv.accept()
            conn.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)  # the kernel's arrival time, not the reader's
            cli.setblocking(False)
            conn.setblocking(False)
            self.clients.append((dev, cli))
            self.servers.append((dev, srv, conn))
            self.arrivals[dev] = []
        self.threads = [threading.Thread(target=self._send, daemon=True),
                        threading.Thread(target=self._recv, daemon=True)]
        for t in self.threads:
            t.start()

    def _send(self) -> None:
        chunk = b"v" * 64
        while not self.stop.is_set():
            for _dev, c in self.clients:
                try:
                    c.send(chunk)
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    pass
            time.sleep(self.interval)

    def _recv(self) -> None:
        sel = selectors.DefaultSelector()
        for dev, _srv, conn in self.servers:
            sel.register(conn, selectors.EVENT_READ, dev)
        while not self.stop.is_set():
            for key, _ in sel.select(0.05):
                try:
                    data, anc, _flags, _addr = key.fileobj.recvmsg(65536, _TS_SPACE)  # type: ignore[union-attr]
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    sel.unregister(key.fileobj)
                    continue
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                now = _kernel_time(anc) or time.time()
                self.last[key.data] = now
                self.count[key.data] = self.count.get(key.data, 0) + len(data)
                self.arrivals[key.data].append(now)

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(2)
        for _dev, c in self.clients:
            c.close()
        for _dev, s, c in self.servers:
            c.close()
            s.close()


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _sshd_cpu(state: runner.LabState) -> float:
    """CPU seconds of the lab's sshd listeners and every process they ran (connections, shells, agents,
    nft): user + system, their own and their waited-for children's."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for key, pid in state.pids.items():
        if not key.startswith("sshd:"):
            continue
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])
    return total / tick


def _sessions_ended(state: runner.LabState, timeout: float = 10.0) -> None:
    """Wait until no sshd listener of the lab has a child left (the command's sessions ended and were
    reaped): their CPU is then in the listeners' accounting."""
    deadline = time.monotonic() + timeout
    pids = [pid for key, pid in state.pids.items() if key.startswith("sshd:")]
    while time.monotonic() < deadline:
        busy = False
        for pid in pids:
            try:
                with open(f"/proc/{pid}/task/{pid}/children") as fh:
                    busy = busy or bool(fh.read().strip())
            except OSError:
                continue
        if not busy:
            return
        time.sleep(0.05)


def command(state: runner.LabState, args: list[str]) -> dict[str, Any]:
    """Run the isolate/restore command line; its timings, JSON and CPU (its own; the lab devices')."""
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "VENDORWALL_STATE_DIR": os.path.join(state.lab_dir, "state")}
    _sessions_ended(state)
    ru0, dev0 = resource.getrusage(resource.RUSAGE_CHILDREN), _sshd_cpu(state)
    t0 = time.time()
    p = subprocess.run([sys.executable, "-m", "vendorwall.isolate", *args, "--json"], capture_output=True,
                       text=True, env=env, cwd=ROOT, timeout=300)
    t1 = time.time()
    _sessions_ended(state)
    ru1, dev1 = resource.getrusage(resource.RUSAGE_CHILDREN), _sshd_cpu(state)
    try:
        data = json.loads(p.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"isolate failed (exit {p.returncode}): {p.stderr[-2000:]}") from None
    return {"t0": t0, "t1": t1, "data": data, "stderr": p.stderr, "exit": p.returncode,
            "cpu_s": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime), "device_cpu_s": dev1 - dev0}


def trial(state: runner.LabState, mpath: str, jpath: str, interval: float) -> dict[str, Any]:
    streams = Streams(state, interval)
    monitors = Monitors(state)
    try:
        time.sleep(0.3)
        silent = [d for d in state.firewalls if not streams.arrivals[d]]
        assert not silent, f"sessions not streaming: {silent}"
        common = [mpath, "--vendor", VENDOR, "--lab-dir", state.lab_dir, "--journal", jpath]
        load = os.getloadavg()[0]
        c = command(state, ["isolate", *common, "--reason", "benchmark", "--ticket", "BENCH"])
        t0, data = c["t0"], c["data"]
        time.sleep(0.5)
        if data.get("failed_devices") or not monitors.first or c["exit"] != 0:
            errors = sorted({str(d.get("error")) for d in data.get("devices", {}).values() if d.get("error")})
            raise SystemExit(f"bench_isolate: isolate did not commit on the devices {data.get('failed_devices')} "
                             f"(exit {c['exit']}): {'; '.join(errors)[:2000]}\n{c['stderr'][-2000:]}")
        devs = data["devices"]
        done = [_epoch(d["done_at"]) or 0.0 for d in devs.values()]
        per = {}
        for dev, d in devs.items():
            c0, c1 = _epoch(d["device_change_started_at"]), _epoch(d["device_change_at"])
            commit = monitors.first.get(dev)
            last = streams.last.get(dev, 0.0)
            after = [a for a in streams.arrivals[dev] if commit and a > commit]
            per[dev] = {"result": d["result"], "last_minus_commit_ms": 1000 * (last - commit) if commit else None,
                        "last_minus_start_ms": 1000 * (last - c0) if c0 else None,
                        "last_minus_end_ms": 1000 * (last - c1) if c1 else None,
                        "chunks_after_commit": len(after), "commit_at_s": (commit - t0) if commit else None,
                        "transaction_ms": 1000 * (c1 - c0) if c0 and c1 else None}
        out = {"load_1min": load, "isolate_all_done_s": max(done) - t0, "isolate_exit_s": c["t1"] - t0,
               "isolate_reported_s": data["all_devices_done_seconds"], "failed": data["failed_devices"],
               "command_cpu_s": c["cpu_s"], "devices_cpu_s": c["device_cpu_s"],
               "anchored": sum(1 for e in data["journal"]["anchored"].values() if not e),
               "per_device": per}
    finally:
        streams.close()
        monitors.close()
    c = command(state, ["restore", mpath, "--vendor", VENDOR, "--lab-dir", state.lab_dir,
                        "--journal", jpath, "--reason", "benchmark"])
    out["restore_all_done_s"] = max(_epoch(d["done_at"]) or 0.0 for d in c["data"]["devices"].values()) - c["t0"]
    out["restore_exit_s"] = c["t1"] - c["t0"]
    out["restore_failed"] = c["data"]["failed_devices"]
    return out


def run_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Build a lab of ``n`` firewalls, run the trials, remove the lab; the summary and the trials."""
    lab_id = "b" + format((os.getpid() + n) % 4096, "03x")
    lab_dir = tempfile.mkdtemp(prefix="vw-bench-isolate-")
    mpath = os.path.join(lab_dir, "manifest.json")
    jpath = os.path.join(lab_dir, "incident-journal.jsonl")
    results: list[dict[str, Any]] = []
    try:
        t = time.monotonic()
        state = build(n, lab_dir, lab_id, args.host_bashrc)
        setup = time.monotonic() - t
        with open(mpath, "w") as fh:
            fh.write(vwmanifest.dumps(manifest(state)))
        for _ in range(args.trials):
            results.append(trial(state, mpath, jpath, args.interval_ms / 1000))
    finally:
        if not args.keep:
            runner.down(lab_dir, f"vw{lab_id}-")
            shutil.rmtree(lab_dir, ignore_errors=True)
        else:
            print(f"bench_isolate: lab kept in {lab_dir} (remove: vendorwall lab down --lab-dir {lab_dir})",
                  file=sys.stderr)

    def col(r: dict[str, Any], key: str) -> list[float]:
        return [d[key] for d in r["per_device"].values() if d[key] is not None]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in results)

    summary = {
        "firewalls": n, "trials": args.trials, "setup_s": round(setup, 2),
        "bashrc": "host" if args.host_bashrc else "hidden",
        "load_1min": [round(r["load_1min"], 2) for r in results],
        "command_exit_s": [round(r["isolate_exit_s"], 3) for r in results],
        "isolated_on_all_s": [round(r["isolate_all_done_s"], 3) for r in results],
        "restore_exit_s": [round(r["restore_exit_s"], 3) for r in results],
        "command_cpu_s": [round(r["command_cpu_s"], 3) for r in results],
        "devices_cpu_s": [round(r["devices_cpu_s"], 3) for r in results],
        "last_byte_after_change_max_ms": [round(max(col(r, "last_minus_end_ms")), 1) for r in results],
        "last_byte_after_commit_max_ms": [round(max(col(r, "last_minus_commit_ms")), 1) for r in results],
        "chunks_after_commit": [sum(d["chunks_after_commit"] for d in r["per_device"].values()) for r in results],
        "commits_seen": [len(col(r, "last_minus_commit_ms")) for r in results],
        "anchored": [r["anchored"] for r in results],
        "failed": [r["failed"] for r in results],
        "median": {"command_exit_s": round(med("isolate_exit_s"), 3),
                   "isolated_on_all_s": round(med("isolate_all_done_s"), 3),
                   "restore_exit_s": round(med("restore_exit_s"), 3),
                   "command_cpu_s": round(med("command_cpu_s"), 3), "devices_cpu_s": round(med("devices_cpu_s"), 3),
                   "load_1min": round(med("load_1min"), 2)},
    }
    summary["goal_met"] = (summary["median"]["command_exit_s"] < 1.0
                           and all(x <= 50 for x in summary["last_byte_after_change_max_ms"])
                           and all(k == n for k in summary["commits_seen"]) and not any(summary["failed"]))
    if not args.json:
        print(f"bench_isolate: {n} firewall namespaces, one live vendor TCP session each (64 B every "
              f"{args.interval_ms:g} ms), device shells with {summary['bashrc']} /root/.bashrc; lab built in "
              f"{setup:.1f} s; {os.cpu_count()} CPUs")
        for k, r in enumerate(results, 1):
            late = col(r, "last_minus_end_ms")
            seen = col(r, "last_minus_commit_ms")
            commits = col(r, "commit_at_s")
            print(f"  trial {k} (load {r['load_1min']:.2f}): command exit {r['isolate_exit_s']:.3f} s; isolated on all "
                  f"{n} at {r['isolate_all_done_s']:.3f} s (commits at {min(commits):.3f}-{max(commits):.3f} s); "
                  f"restore exit {r['restore_exit_s']:.3f} s; CPU: command {r['command_cpu_s']:.2f} s, lab devices "
                  f"{r['devices_cpu_s']:.2f} s ({1000 * r['devices_cpu_s'] / n:.0f} ms each)")
            print(f"           last vendor byte after the device's change: max {max(late):+.1f} ms, median "
                  f"{statistics.median(late):+.1f} ms ({len(late)} devices; after the commit nft monitor saw: max "
                  f"{max(seen):+.1f} ms); chunks delivered after a commit: "
                  f"{sum(d['chunks_after_commit'] for d in r['per_device'].values())}; nft transaction median "
                  f"{statistics.median(col(r, 'transaction_ms')):.1f} ms; journal anchored on {r['anchored']}; "
                  f"failed: {r['failed'] or 'none'}")
        md = summary["median"]
        print(f"  median of {len(results)}: command exit {md['command_exit_s']:.3f} s, isolated on all "
              f"{md['isolated_on_all_s']:.3f} s, restore exit {md['restore_exit_s']:.3f} s, CPU command "
              f"{md['command_cpu_s']:.2f} s + lab devices {md['devices_cpu_s']:.2f} s, load {md['load_1min']:.2f}")
        print(f"  goal (whole command < 1 s, no byte > 50 ms after a device's change): "
              f"{'met' if summary['goal_met'] else 'NOT met'}")
    return {"summary": summary, "trials": results}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--firewalls", default="20", help="lab sizes, comma-separated (default 20)")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--interval-ms", type=float, default=2.0, help="vendor chunk every N ms per session")
    ap.add_argument("--host-bashrc", action="store_true", help="keep /root/.bashrc in the device shells")
    ap.add_argument("--keep", action="store_true", help="leave the lab up (then: vendorwall lab down --lab-dir ...)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench_isolate: needs root (network namespaces, nftables, sshd)", file=sys.stderr)
        return 2
    try:
        sizes = [int(x) for x in args.firewalls.split(",") if x.strip()]
    except ValueError:
        print(f"bench_isolate: --firewalls: sizes separated by commas expected, got {args.firewalls!r}",
              file=sys.stderr)
        return 2
    if not sizes or any(not 1 <= n <= 250 for n in sizes):
        print("bench_isolate: --firewalls: each size 1..250 (one /24 per firewall)", file=sys.stderr)
        return 2
    # an installed vendorwall has its bytecode compiled (pip does it at install time); a checkout run with
    # PYTHONDONTWRITEBYTECODE=1 would compile every module at every command: compile it once, beside the
    # sources (__pycache__, ignored by git), as an installation would
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(ROOT, "vendorwall")], check=True)
    if not args.json:
        print(f"bench_isolate: vendorwall bytecode compiled; load average at start {os.getloadavg()[0]:.2f}")
    out = [run_size(n, args) for n in sizes]
    if args.json:
        print(json.dumps(out, indent=1))
    return 0 if all(x["summary"]["goal_met"] for x in out) else 1


if __name__ == "__main__":
    sys.exit(main())
