"""Bring a lab up and down: namespaces, veths, routes, one sshd per firewall, the listener.

Everything created is recorded in ``<lab dir>/state.json`` before it is started, so ``down``
(and an ``up`` that finds a leftover lab with the same id) removes exactly that: the recorded
processes (checked against their command line before being signalled), any process still inside
one of the lab's namespaces, then the namespaces named ``vw<id>-...``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from . import netns
from .topology import Topology, build, lab_id_for

STATE_VERSION = 1
SSHD = "/usr/sbin/sshd"
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def default_lab_dir(inventory: str) -> str:
    return os.path.join("build", "lab", os.path.basename(os.path.realpath(inventory)))


@dataclass
class LabState:
    version: int
    lab_id: str
    prefix: str
    inventory: str
    lab_dir: str
    created: str
    now: str
    namespaces: list[str]
    controller: str
    firewalls: dict[str, dict[str, Any]]  # device -> netns, mgmt, controller, remote_dir, sshd_pid
    pids: dict[str, int] = field(default_factory=dict)  # label -> pid (listener, sshd:<device>)
    ssh_key: str = ""
    known_hosts: str = ""  # the lab devices' host keys: every lab connection verifies them
    places: dict[str, list[str]] = field(default_factory=dict)  # prefix -> [netns, address]
    system_ns: dict[str, str] = field(default_factory=dict)
    outside: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    switches: dict[str, dict[str, Any]] = field(default_factory=dict)  # device -> port, site, vlan_range
    switch_login: dict[str, str] = field(default_factory=dict)  # username, password, secret (lab only)
    notes: list[str] = field(default_factory=list)  # what the lab left out and why (no fake-switches...)

    @property
    def path(self) -> str:
        return os.path.join(self.lab_dir, "state.json")

    def save(self) -> None:
        os.makedirs(self.lab_dir, exist_ok=True)
        tmp = self.path + ".tmp"
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:  # lab secrets
            json.dump(asdict(self), fh, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    @classmethod
    def load(cls, lab_dir: str) -> LabState | None:
        try:
            with open(os.path.join(lab_dir, "state.json")) as fh:
                data = json.load(fh)
        except FileNotFoundError:
            return None
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _read(path: str) -> str:
    try:
        with open(path) as fh:
            return fh.read()
    except FileNotFoundError:
        return ""


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _kill(pid: int, marker: str) -> bool:
    """SIGTERM (then SIGKILL) ``pid`` only if its command line still contains ``marker``."""
    if not marker or marker not in _cmdline(pid):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    for _ in range(50):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child (the listener)
        if not os.path.exists(f"/proc/{pid}") or _cmdline(pid) == "":
            return True
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return True


def _reap_netns(name: str) -> None:
    """Kill what still runs inside one of our namespaces (ours by construction), then delete it."""
    for _ in range(3):
        pids = netns.netns_pids(name)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    netns.run(["ip", "netns", "del", name], check=False)


def find_lab_dir(prefix: str) -> str | None:
    """The directory of the running lab whose namespaces are ``prefix...``: found from its own processes
    (the listener, the switches and the sshd carry paths inside their lab directory on their command line)."""
    seen: set[str] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        words = _cmdline(int(entry)).split()
        for i, w in enumerate(words):
            cand = ""
            if w in ("vendorwall.lab.listener", "vendorwall.lab.switches") and i + 1 < len(words):
                cand = os.path.dirname(words[i + 1])
            elif w == "-f" and i + 1 < len(words) and "/fw/" in words[i + 1]:
                cand = words[i + 1].rsplit("/fw/", 1)[0]
            if cand and cand not in seen:
                seen.add(cand)
                state = LabState.load(cand)
                if state is not None and state.prefix == prefix:
                    return cand
    return None


def down(lab_dir: str, prefix: str | None = None, progress: Progress = _quiet, *, only: bool = False) -> dict[str, int]:
    """Remove the lab recorded in ``lab_dir`` (and any namespace named ``prefix...``).

    ``only`` (``lab down --id X``): remove lab X and nothing else. The lab recorded in ``lab_dir`` is then
    taken down only if it is X; otherwise X's own directory is found from its processes, so its listener
    and servers stop too, and another lab's namespaces and processes are never touched."""
    state = LabState.load(lab_dir)
    if only and prefix and (state is None or state.prefix != prefix):
        other = find_lab_dir(prefix)
        state = LabState.load(other) if other else None
    killed = 0
    names: set[str] = set()
    if state:
        for label, pid in state.pids.items():
            marker = state.lab_dir if label in ("listener", "switches") else os.path.join(state.lab_dir, "fw")
            killed += _kill(pid, marker)
        names.update(state.namespaces)
        prefix = prefix or state.prefix
    if prefix:
        names.update(n for n in netns.list_netns() if n.startswith(prefix))
    existing = set(netns.list_netns())
    todo = sorted(names & existing)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(_reap_netns, todo))
    if state:
        os.unlink(state.path)
    progress(f"lab down: {killed} processes stopped, {len(todo)} namespaces removed")
    return {"processes": killed, "namespaces": len(todo)}


def _sshd_config(lab_dir: str, device: str, addr: str) -> str:
    d = os.path.join(lab_dir, "fw", device)
    return "\n".join([
        f"ListenAddress {addr}:22",
        f"HostKey {d}/ssh_host_ed25519_key",
        f"PidFile {d}/sshd.pid",
        f"AuthorizedKeysFile {lab_dir}/ssh/authorized_keys",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org",
        "PrintMotd no",
        "PrintLastLog no",
        "MaxStartups 100:30:200",
        "MaxSessions 50",
        "",
    ])


def sshd_command(ns: str, device: str, config: str, empty: str) -> list[str]:
    """sshd of one lab device: in its network namespace, with its own UTS namespace (the prompt shows
    the device's hostname) and its own mount namespace where root's dotfiles are hidden behind the
    empty file ``empty``, so the device's shells never run the host's (a host's ``pyenv init`` in
    ~/.bashrc made every session wait on pyenv's rehash lock, which a killed session leaves behind)."""
    os.makedirs(os.path.dirname(empty), exist_ok=True)
    with open(empty, "w"):
        pass
    hide = "; ".join(f'if [ -f /root/{f} ]; then mount --bind "$2" /root/{f} || exit 1; fi'
                     for f in (".bashrc", ".profile", ".bash_profile", ".bash_login"))
    return ["ip", "netns", "exec", ns, "unshare", "--uts", "--mount", "--propagation", "private", "sh", "-c",
            f'hostname "$0" && {{ {hide}; }} && exec {SSHD} -f "$1"', device, config, empty]


def _keygen(path: str) -> None:
    if not os.path.exists(path):
        netns.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vendorwall-lab", "-f", path])


def up(inventory: str, *, lab_dir: str | None = None, lab_id: str | None = None, now: dt.date | None = None,
       progress: Progress = _quiet) -> LabState:
    from .. import pipeline

    t0 = time.monotonic()
    lab_dir = os.path.abspath(lab_dir or default_lab_dir(inventory))
    lab_id = lab_id or lab_id_for(inventory)
    now = now or dt.datetime.now(dt.UTC).date()
    res = pipeline.run(inventory, now, check_lock=False, do_render=False)
    topo = build(res.model, lab_id)
    timings: dict[str, float] = {"compile": time.monotonic() - t0}
    # a leftover lab with this id (or this directory) goes first
    down(lab_dir, topo.prefix, progress)
    os.makedirs(os.path.join(lab_dir, "ssh"), exist_ok=True)
    state = LabState(STATE_VERSION, lab_id, topo.prefix, os.path.abspath(inventory), lab_dir,
                     dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), now.isoformat(),
                     sorted(topo.namespaces), topo.controller, {},
                     places={str(k): [v[0], str(v[1])] for k, v in topo.places.items()},
                     system_ns=topo.system_ns, outside=[topo.outside[0], str(topo.outside[1])])
    unsimulated = sorted(n for n, d in res.model.devices.items() if d.role == "switch" and n not in topo.switches)
    if unsimulated:
        state.notes.append(f"switches not in the lab: {', '.join(unsimulated)} (no simulator for their platform: "
                           "docs/switches.md)")
    state.save()  # recorded before anything is created: a failed up can always be taken down
    try:
        _create(topo, progress, timings)
        sw = _start_switches(topo, state, progress)
        _start_sshd(topo, state, progress, timings)
        _start_listener(topo, state, progress, timings)
        _wait_ssh(topo, timings)
        _wait_switches(sw, topo, state, progress, timings)
        write_ansible_vars(state)
    except BaseException:
        state.save()
        raise
    timings["total"] = time.monotonic() - t0
    state.timings = {k: round(v, 3) for k, v in timings.items()}
    state.save()
    progress(f"lab up: {len(topo.namespaces)} namespaces, {len(topo.firewalls)} firewalls, "
             f"{len(state.switches)} switches, "
             f"{sum(len(v) for v in topo.listeners.values())} listening sockets in {timings['total']:.1f} s")
    return state


def _create(topo: Topology, progress: Progress, timings: dict[str, float]) -> None:
    t = time.monotonic()
    netns.ip_batch([f"netns add {n}" for n in topo.namespaces])
    owners = [n for n in topo.namespaces.values() if n.links]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: netns.ip_batch(n.links, n.name), owners))
        list(pool.map(lambda n: netns.ip_batch(n.config, n.name), topo.namespaces.values()))
    for n in topo.namespaces.values():
        if n.forward:
            with netns.in_netns(n.name):
                for key in ("ipv4/ip_forward", "ipv4/conf/all/rp_filter", "ipv4/conf/default/rp_filter"):
                    with open(f"/proc/sys/net/{key}", "w") as fh:
                        fh.write("1" if key.endswith("forward") else "0")
    timings["namespaces"] = time.monotonic() - t
    progress(f"  {len(topo.namespaces)} namespaces wired in {timings['namespaces']:.1f} s")


def _start_sshd(topo: Topology, state: LabState, progress: Progress, timings: dict[str, float]) -> None:
    t = time.monotonic()
    lab_dir = state.lab_dir
    key = os.path.join(lab_dir, "ssh", "id_ed25519")
    _keygen(key)
    shutil.copyfile(key + ".pub", os.path.join(lab_dir, "ssh", "authorized_keys"))
    state.ssh_key = key
    os.makedirs("/run/sshd", exist_ok=True)
    procs = []
    known: list[str] = []
    for dev, fw in sorted(topo.firewalls.items()):
        d = os.path.join(lab_dir, "fw", dev)
        os.makedirs(os.path.join(d, "state"), exist_ok=True)
        _keygen(os.path.join(d, "ssh_host_ed25519_key"))
        cfg = os.path.join(d, "sshd_config")
        with open(cfg, "w") as fh:
            fh.write(_sshd_config(lab_dir, dev, fw.mgmt))
        pidfile = os.path.join(d, "sshd.pid")
        if os.path.exists(pidfile):
            os.unlink(pidfile)
        state.firewalls[dev] = {"netns": fw.netns, "mgmt": fw.mgmt, "controller": fw.controller, "site": fw.site,
                                "remote_dir": os.path.join(d, "state"), "segments": fw.segments}
        known.append(netns.known_hosts_line(fw.mgmt, os.path.join(d, "ssh_host_ed25519_key.pub")))
        procs.append((dev, pidfile, subprocess.Popen(
            sshd_command(fw.netns, dev, cfg, os.path.join(d, "empty-dotfile")),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    state.known_hosts = os.path.join(lab_dir, "ssh", "known_hosts")
    with open(os.open(state.known_hosts, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
        fh.writelines(known)
    for dev, pidfile, p in procs:
        out, _ = p.communicate(timeout=30)
        if p.returncode != 0:
            raise netns.NetnsError(f"sshd for {dev} failed to start: {out.strip()}")
        for _ in range(100):
            if _read(pidfile).strip():
                break
            time.sleep(0.02)
        state.pids[f"sshd:{dev}"] = int(_read(pidfile).strip())
    state.save()
    timings["sshd"] = time.monotonic() - t
    progress(f"  {len(procs)} sshd started in {timings['sshd']:.1f} s")


def _start_listener(topo: Topology, state: LabState, progress: Progress, timings: dict[str, float]) -> None:
    t = time.monotonic()
    spec = os.path.join(state.lab_dir, "listeners.json")
    with open(spec, "w") as fh:
        json.dump({k: [list(x) for x in v] for k, v in topo.listeners.items()}, fh, indent=0)
    with open(os.path.join(state.lab_dir, "listener.log"), "w") as log:  # the child keeps its own copy
        p = subprocess.Popen([sys.executable, "-m", "vendorwall.lab.listener", spec], stdout=subprocess.PIPE,
                             stderr=log, text=True, start_new_session=True)
    state.pids["listener"] = p.pid
    state.save()
    line = p.stdout.readline() if p.stdout else ""
    if not line.startswith("ready"):
        p.wait(5)
        raise netns.NetnsError(f"listener failed: see {log.name}")
    timings["listener"] = time.monotonic() - t
    progress(f"  listener ready ({line.split()[1]} sockets) in {timings['listener']:.1f} s")


def _wait_ssh(topo: Topology, timings: dict[str, float]) -> None:
    t = time.monotonic()
    for fw in topo.firewalls.values():
        deadline = time.monotonic() + 10
        while True:
            try:
                s = netns.connect_in(topo.controller, fw.mgmt, 22, timeout=1)
                s.close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise netns.NetnsError(f"{fw.device}: sshd on {fw.mgmt}:22 not reachable "
                                           "from the controller") from None
                time.sleep(0.05)
    timings["ssh_ready"] = time.monotonic() - t


def _start_switches(topo: Topology, state: LabState, progress: Progress) -> subprocess.Popen[str] | None:
    """One fake-switches process for every IOS switch, on 127.0.0.1 of the controller namespace.
    Started early (Twisted takes ~1 s to import); ``_wait_switches`` waits for it."""
    from . import switches

    if not topo.switches:
        return None
    why = switches.available()
    if why:
        state.notes.append(f"switches not in the lab: {why} (pip install --no-deps fake-switches==1.5.0 "
                           "'twisted[conch]' tftpy netaddr lxml)")
        progress(f"  {state.notes[-1]}")
        return None
    login = {"username": "vwlab", "password": secrets.token_urlsafe(12), "secret": secrets.token_urlsafe(12)}
    state.switch_login = login
    spec = os.path.join(state.lab_dir, "switches.json")
    with open(os.open(spec, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
        json.dump({**login, "switches": [{"device": sw.device, "port": sw.port, "ports": sw.ports, "model": sw.model}
                                         for sw in topo.switches.values()]}, fh, indent=0)
    with open(os.path.join(state.lab_dir, "switches.log"), "w") as log:  # the child keeps its own copy
        p = subprocess.Popen(["ip", "netns", "exec", topo.controller, sys.executable, "-m",
                              "vendorwall.lab.switches", spec], stdout=subprocess.PIPE, stderr=log, text=True,
                             start_new_session=True)
    state.pids["switches"] = p.pid
    state.save()
    return p


def _wait_switches(p: subprocess.Popen[str] | None, topo: Topology, state: LabState, progress: Progress,
                   timings: dict[str, float]) -> None:
    if p is None:
        return
    t = time.monotonic()
    line = p.stdout.readline() if p.stdout else ""
    if not line.startswith("ready"):
        p.wait(5)
        raise netns.NetnsError(f"fake-switches failed to start: see {os.path.join(state.lab_dir, 'switches.log')}")
    for sw in topo.switches.values():
        deadline = time.monotonic() + 10
        while True:
            try:
                netns.connect_in(topo.controller, "127.0.0.1", sw.port, timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise netns.NetnsError(f"{sw.device}: fake switch on 127.0.0.1:{sw.port} not listening") from None
                time.sleep(0.05)
        state.switches[sw.device] = {"port": sw.port, "site": sw.site, "vlan_range": list(sw.vlan_range)}
    from .switches import host_public_key

    with open(os.open(state.known_hosts, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a") as fh:
        fh.writelines(f"[127.0.0.1]:{sw.port} {host_public_key()}\n" for sw in topo.switches.values())
    timings["switches"] = time.monotonic() - t
    progress(f"  {len(topo.switches)} switches (fake-switches) ready, {timings['switches']:.1f} s after the rest")


def connections(state: LabState) -> dict[str, dict[str, Any]]:
    """How the lab's devices are reached: from the controller namespace (``netns``); the firewalls on
    their hosts.yml management address with the lab key, the switches on 127.0.0.1:<port>."""
    out: dict[str, dict[str, Any]] = {}
    for dev, fw in sorted(state.firewalls.items()):
        out[dev] = {"host": fw["mgmt"], "port": 22, "netns": state.controller, "username": "root",
                    "key_file": state.ssh_key, "remote_dir": fw["remote_dir"], "known_hosts": state.known_hosts,
                    "supervisor": "process"}  # no systemd inside a lab namespace: the pipeline runs as processes
    for dev, sw in sorted(state.switches.items()):
        out[dev] = {"host": "127.0.0.1", "port": sw["port"], "netns": state.controller,
                    "username": state.switch_login.get("username", "vwlab"), "known_hosts": state.known_hosts}
    return out


def paths(state: LabState) -> Any:
    from ..deploy.job import Paths

    return Paths(lock_dir=os.path.join(state.lab_dir, "locks"), backup_dir=os.path.join(state.lab_dir, "backups"),
                 log_dir=os.path.join(state.lab_dir, "logs"))


def ansible_vars_path(state: LabState) -> str:
    return os.path.join(state.lab_dir, "ansible-vars.yml")


def write_ansible_vars(state: LabState) -> str:
    """``<lab dir>/ansible-vars.yml``: the one variable every playbook takes to act on this lab instead of the
    real devices (deploy, access, isolate, restore, accounts, logs): ``vendorwall_lab_dir``. Every role
    passes it to its module, which then reaches only the lab's devices, with the lab's keys, passwords and
    known_hosts (read from ``state.json``, 0600; nothing secret in this file), from the lab's controller
    namespace: no production address can be tried. Use: ``-e @<lab dir>/ansible-vars.yml``; the command
    line takes the same directory as ``--lab-dir``."""
    import yaml

    data: dict[str, Any] = {"vendorwall_lab_dir": state.lab_dir, "vendorwall_now": state.now}
    head = (f"# Written by `vendorwall lab up` for lab {state.lab_id} ({state.inventory}).\n"
            "# Every playbook acts on this lab's devices with it (and never on the real ones):\n"
            f"#   ansible-playbook -i INVENTORY playbooks/deploy.yml -e @{ansible_vars_path(state)} --check --diff\n"
            f"# The command line: --lab-dir {state.lab_dir}\n")
    path = ansible_vars_path(state)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
        fh.write(head + yaml.safe_dump(data, sort_keys=True, default_flow_style=False))
    return path


def _pipeline(state: LabState, render: bool = True) -> Any:
    from .. import pipeline

    return pipeline.run(state.inventory, dt.date.fromisoformat(state.now), check_lock=False, do_render=render)


def targets(state: LabState, *, switches: bool = False, res: Any = None) -> list[Any]:
    """Deploy targets for the lab's firewalls (and, with ``switches``, its IOS switches): SSH from the
    controller namespace, the lab key for the firewalls, the lab password for the switches."""
    from ..deploy import job

    res = res or _pipeline(state, render=False)
    names = sorted(state.firewalls) + (sorted(state.switches) if switches else [])
    creds = job.Credentials(password=state.switch_login.get("password"), secret=state.switch_login.get("secret"))
    return job.targets(res, names, creds, connections(state), paths(state))


def render(state: LabState, *, switches: bool = False) -> dict[str, str]:
    """Rendered configurations of the lab's firewalls (and, with ``switches``, of its switches)."""
    res = _pipeline(state)
    devs = list(state.firewalls) + (list(state.switches) if switches else [])
    return {dev: res.configs[dev].text for dev in devs if dev in res.configs}


def render_as_platform(state: LabState, platform: str) -> dict[str, str]:
    """nftables rulesets for the lab's firewalls that allow exactly what ``platform``'s rendered policy means
    (``lab deploy --as-platform``): each firewall is rendered on ``platform``, its text read back into flow
    tuples (``vendorwall.render.meaning``), and the nftables renderer prints those tuples. ``lab test`` then
    probes, with real packets, what the platform's policy means. The management input chain, the quarantine
    and the grant sets are nftables' own (the lab's isolation and grant tests use them)."""
    from dataclasses import replace

    from .. import render as rnd
    from ..errors import UsageError
    from ..platforms import registry
    from ..render import meaning

    plat = registry.platforms().get(platform)
    if plat is None or plat.role != "firewall" or not plat.renderer:
        raise UsageError(f"--as-platform: not a firewall platform: {platform!r}",
                         "firewall platforms: " + ", ".join(registry.platforms_for_role("firewall")))
    res = _pipeline(state, render=False)
    out: dict[str, str] = {}
    for dev in sorted(state.firewalls):
        r, diags = rnd.render_as(res.model, dev, platform)
        if r is None or diags:
            raise UsageError(f"--as-platform {platform}: {dev} does not render",
                             "; ".join(d.render() for d in diags)[:500])
        if platform == "nftables":
            out[dev] = r.text
            continue
        tuples = meaning.meaning_of(platform, r.text)
        intent = res.model.devices[dev]
        mgmt = tuple(x for x in intent.rules if x.kind == "management")
        as_nft = replace(intent, platform="nftables", rules=mgmt + meaning.as_rules(tuples, platform))
        nft, _ = rnd.render_device(res.model, as_nft)
        assert nft is not None
        out[dev] = nft.text.replace("# vendorwall intent for", f"# vendorwall intent ({platform} meaning) for", 1)
    return out


def deploy(state: LabState, *, check: bool = False, confirm_s: int = 60, progress: Progress = _quiet,
           configs: dict[str, str] | None = None, on_failure: str = "continue", **kw: Any) -> list[Any]:
    """Deploy to the lab: every firewall and switch (rendered from the inventory), or, with ``configs``,
    exactly the devices it names."""
    from ..deploy import fanout
    from ..deploy.common import Options

    res = _pipeline(state)
    if configs is None:
        configs = {dev: res.configs[dev].text for dev in [*state.firewalls, *state.switches] if dev in res.configs}
    tgs = [t for t in targets(state, switches=True, res=res) if t.device in configs]
    opts = Options(check=check, confirm_s=confirm_s, **kw)
    return fanout.deploy(tgs, configs, opts, lock_dir=paths(state).lock_dir, lock_wait_s=30, on_failure=on_failure,
                         progress=progress)
