"""Lab bastions: one network namespace per bastion host, its own sshd, PRIVATE account files.

Each bastion's sshd runs under ``unshare --mount --propagation private`` with, bind-mounted over
the real paths inside that mount namespace only:

- ``/etc``: a private copy (``cp -a /etc``) — passwd, shadow, group, gshadow, subuid, subgid and their
  lock and backup files are all written there by ``useradd``/``usermod``/``userdel`` (which rename
  temporary files inside ``/etc``: a bind mount of single files would not survive that);
- ``/home``: a private, empty directory (the vendor accounts' homes and authorized_keys);
- ``/var/log``: a private directory (``lastlog``, ``wtmp``, the sshd log);
- ``/var/lib/vendorwall``: a private directory (the accounts agent's registry of the accounts it created;
  the mount point is created on this machine if missing, empty, 0700).

Commands run over SSH on the bastion (``vendorwall accounts``) are children of that sshd, so they see
the private files; this machine's real account files are never touched. :func:`up` records the
sha256 of the real files and :func:`host_files_unchanged` checks them (the tests do, after every run).

The sshd listens on 127.0.0.1:22 and on the vendor entry-path addresses of the bastion (on the
namespace's loopback): nothing is reachable from outside the namespace, traffic stays on its
loopback. Root logs in with the lab key (``<lab dir>/bastions/id_ed25519``), vendor accounts with
their own keys (``expiry-time=`` in their authorized_keys, account expiry and lock from shadow:
``UsePAM no``, so sshd checks both itself).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from . import netns

SSHD = "/usr/sbin/sshd"
REGISTRY_MOUNT = "/var/lib/vendorwall"
# sh -c MOUNT_SCRIPT BASTION_DIR SSHD: the bastion's private files over the real paths, then its sshd
MOUNT_SCRIPT = ('mount --bind "$0/etc" /etc && mount --bind "$0/home" /home && mount --bind "$0/varlog" /var/log '
                f'&& mount --bind "$0/varlib-vendorwall" {REGISTRY_MOUNT} '
                '&& exec "$1" -f "$0/sshd_config" -E /var/log/sshd.log')
HOST_FILES = ("/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/subuid", "/etc/subgid")


@dataclass
class BastionState:
    lab_dir: str
    prefix: str
    bastions: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> netns, dir, pid, listen
    ssh_key: str = ""
    host_digests: dict[str, str] = field(default_factory=dict)
    known_hosts: str = ""  # the bastions' host keys, each under its device name (HostKeyAlias)

    @staticmethod
    def path_of(lab_dir: str) -> str:
        return os.path.join(lab_dir, "bastions", "state.json")

    def save(self) -> None:
        os.makedirs(os.path.dirname(self.path_of(self.lab_dir)), exist_ok=True)
        with open(self.path_of(self.lab_dir), "w") as fh:
            json.dump(asdict(self), fh, indent=1, sort_keys=True)

    @classmethod
    def load(cls, lab_dir: str) -> BastionState | None:
        try:
            with open(cls.path_of(lab_dir)) as fh:
                return cls(**json.load(fh))
        except FileNotFoundError:
            return None


def digests() -> dict[str, str]:
    out = {}
    for p in HOST_FILES:
        try:
            with open(p, "rb") as fh:
                out[p] = hashlib.sha256(fh.read()).hexdigest()
        except FileNotFoundError:
            out[p] = ""
    return out


def host_files_unchanged(state: BastionState) -> list[str]:
    """The real account files that changed since :func:`up` (empty: none)."""
    now = digests()
    return [p for p, d in state.host_digests.items() if now.get(p) != d]


def _config(d: str, listen: list[str]) -> str:
    return "\n".join([*(f"ListenAddress {a}:22" for a in listen),
                      f"HostKey {d}/ssh_host_ed25519_key", f"PidFile {d}/sshd.pid",
                      "AuthorizedKeysFile .ssh/authorized_keys", "PermitRootLogin prohibit-password",
                      "PubkeyAuthentication yes", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
                      "UsePAM no", "StrictModes no", "KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org",
                      "PrintMotd no", "PrintLastLog no", "LogLevel VERBOSE", "MaxStartups 100:30:200",
                      "Match User root", f"  AuthorizedKeysFile {d}/root_authorized_keys", ""])


def up(lab_dir: str, bastions: dict[str, list[str]], prefix: str) -> BastionState:
    """Start one bastion namespace per name; ``bastions``: name -> extra listen addresses (entry paths)."""
    lab_dir = os.path.abspath(lab_dir)
    down(lab_dir, prefix)
    base = os.path.join(lab_dir, "bastions")
    os.makedirs(base, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(base, "known_hosts"))
    key = os.path.join(base, "id_ed25519")
    if not os.path.exists(key):
        netns.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vendorwall-lab-bastion", "-f", key])
    state = BastionState(lab_dir, prefix, ssh_key=key, host_digests=digests())
    state.save()
    os.makedirs("/run/sshd", exist_ok=True)
    for i, (name, extra) in enumerate(sorted(bastions.items())):
        ns = f"{prefix}{i}"
        d = os.path.join(base, name)
        if os.path.exists(d):
            shutil.rmtree(d)
        os.makedirs(os.path.join(d, "home"))
        os.makedirs(os.path.join(d, "varlog"))
        os.makedirs(os.path.join(d, "varlib-vendorwall"), mode=0o700)
        os.makedirs(REGISTRY_MOUNT, mode=0o700, exist_ok=True)
        for f in ("lastlog", "wtmp", "btmp"):
            open(os.path.join(d, "varlog", f), "w").close()
        netns.run(["cp", "-a", "/etc", os.path.join(d, "etc")])
        netns.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(d, "ssh_host_ed25519_key")])
        state.known_hosts = os.path.join(base, "known_hosts")
        with open(os.open(state.known_hosts, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a") as fh:
            fh.write(netns.known_hosts_line(name, os.path.join(d, "ssh_host_ed25519_key.pub")))
        shutil.copyfile(key + ".pub", os.path.join(d, "root_authorized_keys"))
        listen = ["127.0.0.1", *sorted(set(extra))]
        with open(os.path.join(d, "sshd_config"), "w") as fh:
            fh.write(_config(d, listen))
        state.bastions[name] = {"netns": ns, "dir": d, "listen": listen, "pid": 0}
        state.save()  # recorded before it exists: down() can always remove it
        netns.run(["ip", "netns", "add", ns])
        netns.ip_batch(["link set lo up", *(f"addr add {a}/32 dev lo" for a in listen if a != "127.0.0.1")], ns)
        netns.run(["ip", "netns", "exec", ns, "unshare", "--mount", "--propagation", "private", "sh", "-c",
                   MOUNT_SCRIPT, d, SSHD])
        pidfile = os.path.join(d, "sshd.pid")  # in the lab directory (not bind-mounted)
        for _ in range(200):
            if os.path.exists(pidfile) and os.path.getsize(pidfile) > 0:
                break
            time.sleep(0.02)
        with open(pidfile) as fh:
            state.bastions[name]["pid"] = int(fh.read().strip())
        state.save()
        deadline = time.monotonic() + 10
        while True:
            try:
                netns.connect_in(ns, "127.0.0.1", 22, 1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise netns.NetnsError(f"bastion {name}: sshd not listening") from None
                time.sleep(0.05)
    return state


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def down(lab_dir: str, prefix: str | None = None) -> int:
    """Stop the recorded sshd processes (only if their command line names our config), kill what still
    runs in our namespaces, delete them. Returns the number of namespaces removed."""
    state = BastionState.load(os.path.abspath(lab_dir))
    names: set[str] = set()
    if state:
        for b in state.bastions.values():
            pid = int(b.get("pid") or 0)
            if pid and b["dir"] in _cmdline(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            names.add(b["netns"])
        prefix = prefix or state.prefix
    if prefix:
        names |= {n for n in netns.list_netns() if n.startswith(prefix)}
    removed = 0
    for n in sorted(names & set(netns.list_netns())):
        for _ in range(3):
            pids = netns.netns_pids(n)
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        netns.run(["ip", "netns", "del", n], check=False)
        removed += 1
    if state:
        os.unlink(BastionState.path_of(state.lab_dir))
    return removed


def login(state: BastionState, bastion: str, user: str, key_file: str, timeout: float = 5.0) -> tuple[bool, str]:
    """A real SSH login of ``user`` with ``key_file`` from inside the bastion's namespace (loopback):
    (logged in and ran a command, detail)."""
    rc, out = run_as(state, bastion, user, key_file, "id -un", timeout)
    return rc == 0 and out.strip() == user, out.strip()


def run_as(state: BastionState, bastion: str, user: str, key_file: str, command: str,
           timeout: float = 5.0) -> tuple[int, str]:
    """Log in as ``user`` with ``key_file`` over SSH (inside the bastion's namespace) and run ``command``:
    (exit status, its output; -1 and the reason when the login failed)."""
    import paramiko

    b = state.bastions[bastion]
    sock = netns.connect_in(b["netns"], "127.0.0.1", 22, timeout)
    client = paramiko.SSHClient()
    if state.known_hosts:  # the lab generated the bastion's key: verify it like every connection does
        known = paramiko.HostKeys(state.known_hosts).lookup(bastion) or {}
        for ktype in known:
            client.get_host_keys().add("127.0.0.1", ktype, known[ktype])
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect("127.0.0.1", username=user, pkey=paramiko.PKey.from_path(key_file), sock=sock,
                       timeout=timeout, banner_timeout=timeout, auth_timeout=timeout, allow_agent=False,
                       look_for_keys=False)
        _in, out, err = client.exec_command(command, timeout=timeout)
        text = out.read().decode(errors="replace") + err.read().decode(errors="replace")
        return out.channel.recv_exit_status(), text
    except Exception as exc:
        return -1, f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
        sock.close()
