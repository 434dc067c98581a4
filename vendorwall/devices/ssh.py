"""SSH for every journey: verified host keys, ~/.ssh/config, jump hosts; an exec round trip or a netmiko session.

- :func:`connect` opens a paramiko client whose server key was checked against the target's known_hosts
  files *before* any credential is sent (SSH authenticates the server first): an unknown key is refused
  (``verify``) or, with the explicit ``accept-new`` opt-in, recorded and logged; a changed key is always
  refused, naming the known_hosts file and line, as OpenSSH does.
- :func:`exec_command` runs one command over an SSH ``exec`` channel: standard input is data (a JSON
  document, a file), never part of the command; returns the exit status and output (no prompt, no
  terminal). Linux-based devices (nftables firewalls, bastions) are driven this way.
- :func:`netmiko_session` opens a netmiko connection (network OS CLIs) over the same verified client.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import logging
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from .errors import CommandError, ConnectError, ConnectionLost, HostKeyError
from .target import Target

# paramiko's transport thread logs connection failures with their tracebacks; the failure is already
# raised to the caller as a typed error, and a user never sees a traceback.
_PARAMIKO_LOG = logging.getLogger("paramiko")
_PARAMIKO_LOG.addHandler(logging.NullHandler())
_PARAMIKO_LOG.propagate = False

LOG = logging.getLogger("vendorwall.ssh")
_KEYS: dict[str, Any] = {}
_RECORD_LOCK = threading.Lock()


@dataclass
class Output:
    rc: int
    stdout: str  # standard error merged in unless asked apart
    seconds: float
    stderr: str = ""


def fingerprint(key: Any) -> str:
    """OpenSSH's SHA256 fingerprint of a paramiko key."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


def _pkey(path: str) -> Any:
    import paramiko

    if path not in _KEYS:
        _KEYS[path] = paramiko.PKey.from_path(path)
    return _KEYS[path]


def known_name(host: str, port: int) -> str:
    """The name a known_hosts line uses for host:port (OpenSSH: bare for 22, ``[host]:port`` otherwise)."""
    return host if port == 22 else f"[{host}]:{port}"


_HOSTKEYS: dict[str, tuple[tuple[int, int, int], Any]] = {}
_HOSTKEYS_LOCK = threading.Lock()


def _known_hosts(path: str) -> Any:
    """``paramiko.HostKeys`` of ``path``, parsed once per version of the file (inode, size, mtime): a fan-out
    to N devices that share one known_hosts file parses it once, not N times (paramiko's parse is itself
    quadratic in the number of lines). A file that changes (a key recorded on first use, an edit) is read
    again. Lookups only read the parsed object, so threads share it."""
    import paramiko

    st = os.stat(path)
    version = (st.st_ino, st.st_size, st.st_mtime_ns)
    with _HOSTKEYS_LOCK:
        hit = _HOSTKEYS.get(path)
        if hit is not None and hit[0] == version:
            return hit[1]
        hk = paramiko.HostKeys(path)
        _HOSTKEYS[path] = (version, hk)
        return hk


def _lookup(t: Target, name: str) -> tuple[dict[str, Any], str]:
    """The keys known for ``name`` (or the target's alias), by key type, and where they came from."""
    import paramiko

    wanted = t.host_keys.alias or name
    for path in t.host_keys.all_files():
        if not os.path.isfile(path):
            continue
        try:
            hk = _known_hosts(path)
        except (OSError, UnicodeDecodeError, paramiko.SSHException) as exc:
            raise HostKeyError(t.device, t.platform, t.where, f"cannot read known_hosts file {path}: {exc}") from None
        entry = hk.lookup(wanted)
        if entry:
            return {k: entry[k] for k in entry}, path
    return {}, ""


class _Policy:
    """paramiko's missing-host-key hook: refuse (verify) or record and log (accept-new)."""

    def __init__(self, t: Target):
        self.t = t
        self.recorded = ""

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        t = self.t
        name = t.host_keys.alias or hostname
        fp = fingerprint(key)
        files = ", ".join(f for f in t.host_keys.all_files()) or "(none)"
        if t.host_keys.policy != "accept-new":
            raise HostKeyError(
                t.device, t.platform, t.where,
                f"host key of {name} is unknown ({key.get_name()} {fp}); looked in {files}. Nothing was sent. "
                "Check the fingerprint with the device's owner, then add it to the inventory's known_hosts "
                "file (vendorwall_known_hosts), or opt in to trust on first use for this run "
                "(--host-key-policy accept-new; logged)")
        path = t.host_keys.record_file()
        line = f"{name} {key.get_name()} {key.get_base64()}\n"
        with _RECORD_LOCK:
            os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as fh:
                fh.write(line)
        self.recorded = f"{name} {key.get_name()} {fp} -> {path}"
        msg = (f"warning: {t.device}: trusting the unknown host key of {name} on first use "
               f"({key.get_name()} {fp}), recorded in {path} (host key policy accept-new)")
        LOG.warning(msg)
        print(msg, file=sys.stderr, flush=True)


def _ssh_config(t: Target) -> Target:
    """Fill what the run and the inventory left unset from ~/.ssh/config (HostName, Port, User,
    IdentityFile, ProxyJump, UserKnownHostsFile, StrictHostKeyChecking accept-new)."""
    import paramiko

    path = os.path.expanduser("~/.ssh/config")
    if not t.ssh_config or t.sock_factory is not None or not os.path.isfile(path):
        return t
    try:
        cfg = paramiko.SSHConfig.from_path(path).lookup(t.host)
    except Exception as exc:  # a malformed config is the user's: say so, do not guess
        raise ConnectError(t.device, t.platform, t.where, f"cannot read {path}: {exc}") from None
    changes: dict[str, Any] = {}
    if "hostname" in cfg and cfg["hostname"] != t.host:
        changes["host"] = cfg["hostname"]
    if "port" in cfg and "port" not in t.explicit:
        changes["port"] = int(cfg["port"])
    if "user" in cfg and "username" not in t.explicit:
        changes["username"] = cfg["user"]
    if cfg.get("identityfile") and "key_file" not in t.explicit and not t.key_file:
        changes["key_file"] = os.path.expanduser(cfg["identityfile"][0])
    hk = t.host_keys
    if cfg.get("userknownhostsfile"):
        files = tuple(os.path.expanduser(f) for f in str(cfg["userknownhostsfile"]).split())
        hk = dataclasses.replace(hk, files=tuple(dict.fromkeys(hk.files + files)))
    if str(cfg.get("stricthostkeychecking", "")).lower() in ("accept-new", "no", "off"):
        hk = dataclasses.replace(hk, policy="accept-new")  # a changed key is refused all the same
    if hk is not t.host_keys:
        changes["host_keys"] = hk
    if cfg.get("proxyjump") and t.jump is None and str(cfg["proxyjump"]).lower() != "none":
        changes["jump"] = _jump_target(t, str(cfg["proxyjump"]).split(",")[0])
    return dataclasses.replace(t, **changes) if changes else t


def _jump_target(t: Target, spec: str) -> Target:
    """``[user@]host[:port]`` of a ProxyJump, as a Target with the device's host-key trust."""
    user, _, hostport = spec.rpartition("@")
    host, port = hostport, 22
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else 22
    elif hostport.count(":") == 1:
        host, p = hostport.split(":")
        port = int(p)
    return Target(f"{t.device} (jump {host})", "linux", host, port, username=user or t.username,
                  key_file=t.key_file, connect_timeout=t.connect_timeout, command_timeout=t.command_timeout,
                  host_keys=dataclasses.replace(t.host_keys, alias=None),
                  explicit=frozenset({"username"} if user else set()))


def _socket(t: Target) -> tuple[Any, Any]:
    """The byte stream to the device: the target's factory, a channel through the jump host, or None
    (paramiko opens the TCP connection). Returns (sock, jump client to close afterwards)."""
    if t.sock_factory is not None:
        return t.sock_factory(t.host, t.port, t.connect_timeout), None
    if t.jump is not None:
        jc = connect(t.jump)
        try:
            chan = jc.get_transport().open_channel("direct-tcpip", (t.host, t.port), ("127.0.0.1", 0),
                                                   timeout=t.connect_timeout)
        except Exception as exc:
            jc.close()
            raise ConnectError(t.device, t.platform, t.where,
                               f"jump host {t.jump.host}:{t.jump.port} could not open {t.host}:{t.port}: "
                               f"{type(exc).__name__}: {exc}") from None
        return chan, jc
    return None, None


def prepared_client(t: Target) -> Any:
    """A paramiko SSHClient holding only the keys known for this target, with the target's policy."""
    import paramiko

    client = paramiko.SSHClient()
    keys, _src = _lookup(t, known_name(t.host, t.port))
    hk = client.get_host_keys()
    for ktype, key in keys.items():
        hk.add(known_name(t.host, t.port), ktype, key)
    client.set_missing_host_key_policy(_Policy(t))
    return client


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _refused_changed(t: Target, exc: Any) -> HostKeyError:
    _keys, src = _lookup(t, known_name(t.host, t.port))
    return HostKeyError(
        t.device, t.platform, t.where,
        f"HOST KEY MISMATCH: {t.host_keys.alias or known_name(t.host, t.port)} presented "
        f"{exc.key.get_name()} {fingerprint(exc.key)}, but {src or 'known_hosts'} records "
        f"{fingerprint(exc.expected_key)}. Possible man-in-the-middle: nothing was sent (no password, no "
        "command). If the device was really re-keyed, replace its line after checking the new fingerprint")


def connect(t: Target) -> Any:
    """A connected, authenticated paramiko client (host key verified first). Raises typed errors."""
    import paramiko

    t = _ssh_config(t)
    client = prepared_client(t)
    jump = None
    try:
        sock, jump = _socket(t)
        kw: dict[str, Any] = dict(hostname=t.host, port=t.port, username=t.username, timeout=t.connect_timeout,
                                  banner_timeout=t.connect_timeout, auth_timeout=t.connect_timeout,
                                  allow_agent=t.key_file is None and t.password is None,
                                  look_for_keys=t.key_file is None and t.password is None)
        if t.key_file:
            kw["pkey"] = _pkey(t.key_file)
        if t.password:
            kw["password"] = t.password
        if sock is not None:
            kw["sock"] = sock
        client.connect(**kw)
    except HostKeyError:
        client.close()
        if jump:
            jump.close()
        raise
    except paramiko.BadHostKeyException as exc:
        client.close()
        if jump:
            jump.close()
        raise _refused_changed(t, exc) from None
    except ConnectError:
        client.close()
        if jump:
            jump.close()
        raise
    except Exception as exc:  # socket, SSH and authentication errors all mean "could not connect"
        client.close()
        if jump:
            jump.close()
        text = _first_line(exc)
        if isinstance(exc, socket.timeout | TimeoutError) and not text:
            text = f"no answer within {t.connect_timeout:g} s"
        raise ConnectError(t.device, t.platform, t.where, f"{type(exc).__name__}: {text}".rstrip(": ")) from None
    client._vw_jump = jump  # closed with the client (close())
    return client


def close(client: Any) -> None:
    with contextlib.suppress(Exception):
        client.close()
    jump = getattr(client, "_vw_jump", None)
    if jump is not None:
        with contextlib.suppress(Exception):
            jump.close()


def exec_command(t: Target, command: str, stdin: bytes = b"", *, label: str = "", check: bool = True,
                 timeout: float | None = None, split_stderr: bool = False, client: Any = None) -> Output:
    """Run ``command`` on the device over one SSH exec channel; ``stdin`` is sent as data, then closed.

    ``command`` must be a constant of the caller (a fixed program), never built from inventory strings.
    Raises ConnectError/HostKeyError (could not connect), ConnectionLost (the session died), CommandError
    (exit status not 0, when ``check``).
    """
    started = time.monotonic()
    own = client is None
    client = client or connect(t)
    label = label or command[:60]
    try:
        chan = client.get_transport().open_session(timeout=t.connect_timeout)
        chan.settimeout(timeout or t.command_timeout)
        chan.set_combine_stderr(not split_stderr)
        chan.exec_command(command)
        if stdin:
            chan.sendall(stdin)
        chan.shutdown_write()
        out = bytearray()
        err = bytearray()
        while True:
            data = chan.recv(65536)  # blocks up to the command timeout
            if not data:
                break
            out += data
        if split_stderr:
            while True:
                data = chan.recv_stderr(65536)
                if not data:
                    break
                err += data
        rc = chan.recv_exit_status()
    except Exception as exc:
        raise ConnectionLost(t.device, t.platform, label, f"{type(exc).__name__}: {exc}") from None
    finally:
        if own:
            close(client)
    res = Output(rc, out.decode(errors="replace"), time.monotonic() - started, err.decode(errors="replace"))
    if check and rc != 0:
        detail = (res.stderr or res.stdout).strip()[:1500]
        raise CommandError(t.device, t.platform, label, f"exit {rc}: {detail}")
    return res


def netmiko_session(t: Target, device_type: str, **kw: Any) -> Any:
    """A netmiko connection of ``device_type`` whose SSH client verified the host key (our policy, our
    known_hosts lookup, our jump host), not netmiko's AutoAddPolicy. ``kw``: netmiko's own arguments."""
    from netmiko.ssh_dispatcher import CLASS_MAPPER

    t = _ssh_config(t)
    base = CLASS_MAPPER[device_type]
    client = prepared_client(t)
    sock, jump = _socket(t)
    cls = type(f"Verified{base.__name__}", (base,), {"_build_ssh_client": lambda self: client})
    args = dict(device_type=device_type, host=t.host, port=t.port, username=t.username, allow_agent=False,
                ssh_config_file=None, conn_timeout=t.connect_timeout, auth_timeout=t.connect_timeout,
                banner_timeout=t.connect_timeout, **kw)
    if t.key_file:
        args.update(use_keys=True, key_file=t.key_file)
    if t.password:
        args["password"] = t.password
    if sock is not None:
        args["sock"] = sock
    try:
        conn = cls(**args)
    except Exception as exc:
        if jump:
            jump.close()
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, HostKeyError):
            cause = cause.__cause__ or cause.__context__  # netmiko wraps what paramiko raised
        if isinstance(cause, HostKeyError):
            raise cause from None
        import paramiko

        bad = exc if isinstance(exc, paramiko.BadHostKeyException) else None
        ctx: BaseException | None = exc
        while bad is None and ctx is not None:
            ctx = ctx.__cause__ or ctx.__context__
            if isinstance(ctx, paramiko.BadHostKeyException):
                bad = ctx
        if bad is not None:
            raise _refused_changed(t, bad) from None
        raise
    conn._vw_jump = jump
    return conn
