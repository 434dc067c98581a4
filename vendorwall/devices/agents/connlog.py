# vendorwall agent "connlog": the connection-log pipeline of an nftables firewall.
#
# ulogd2 (its own instance, never the system's /etc/ulogd.conf) reads the NFLOG groups the policy logs to
# (new vendor connections, drops) and conntrack DESTROY events of vendor-sourced flows (bytes and duration,
# with nf_conntrack_acct/nf_conntrack_timestamp), and writes one JSON line per event into DIR/new.json,
# DIR/drop.json, DIR/flow.json. An rsyslog instance of its own (when the inventory names a syslog server)
# forwards those lines as RFC 5424 over TCP (TLS when configured). logrotate rotates them locally.
#
# Requests (JSON on stdin), answers (JSON on stdout):
#   {"op": "install", "dir": ABS, "files": {"ulogd.conf": TEXT, "logrotate.conf": TEXT, ["rsyslog.conf": TEXT]},
#    "supervisor": "process"|"systemd", "sysctl": {KEY: VALUE}, "install_packages": bool, "check": bool}
#     -> {"ok", "changed": [files], "started": [services], "restarted": [...], "running": {service: pid},
#         "missing": [programs], "installed": [packages]}
#   {"op": "read", "dir": ABS, "cursors": {FILE: {"ino", "off", "head"}}, "max_bytes": N}
#     -> {"ok", "files": {FILE: {"data": BASE64, "cursor": {...}, "rotated": bool, "truncated": bool}}, "time"}
#   {"op": "rotate", "dir": ABS} -> {"ok", "rc", "output"}    (logrotate -f with the pipeline's own config)
#   {"op": "status", "dir": ABS} -> {"ok", "running": {...}, "sizes": {...}}
#
# The program text is a constant of the package; every value it gets is data, checked here: the directory
# by pattern, file names from a fixed list, sysctl keys from a fixed list. Programs are called with
# argument vectors, never through a shell. Standard library only, Python >= 3.7.
import base64
import contextlib
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

FILES = ("ulogd.conf", "rsyslog.conf", "logrotate.conf")
LOGS = ("new.json", "drop.json", "flow.json")
SYSCTL = ("net.netfilter.nf_conntrack_acct", "net.netfilter.nf_conntrack_timestamp")
PACKAGES = {"ulogd": "ulogd2", "rsyslogd": "rsyslog", "logrotate": "logrotate"}
JSON_PLUGIN = "ulogd_output_JSON.so"
DIR_RE = re.compile(r"^/[A-Za-z0-9._/-]{1,200}$")
UNITS = {"ulogd": "vendorwall-ulogd.service", "rsyslog": "vendorwall-rsyslog.service"}
SYSTEMD_DIR = "/etc/systemd/system"
LOGROTATE_D = "/etc/logrotate.d/vendorwall-connlog"
SYSCTL_D = "/etc/sysctl.d/60-vendorwall-connlog.conf"
HEAD = 256


class Bad(Exception):
    pass


def _dir(req):
    d = req.get("dir")
    if not isinstance(d, str) or not DIR_RE.match(d) or ".." in d.split("/"):
        raise Bad("dir: an absolute path of letters, digits, . _ - / expected, got %r" % (d,))
    return d.rstrip("/") or "/"


def _read(path):
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (IOError, OSError):
        return None


def _write(path, data, mode=0o600):
    tmp = path + ".vwtmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, mode)
    os.rename(tmp, path)


def _cmdline(pid):
    raw = _read("/proc/%d/cmdline" % pid)
    return raw.replace(b"\0", b" ").decode("utf-8", "replace") if raw else ""


def _pid(d, service):
    """The pid of our own instance of ``service`` (its pid file, and its command line names our config)."""
    raw = _read(os.path.join(d, service + ".pid"))
    try:
        pid = int((raw or b"").strip() or 0)
    except ValueError:
        return 0
    conf = os.path.join(d, service + ".conf")
    return pid if pid > 0 and conf in _cmdline(pid) else 0


def _argv(d, service, foreground):
    if service == "ulogd":
        argv = [shutil.which("ulogd") or "/usr/sbin/ulogd", "-c", os.path.join(d, "ulogd.conf"),
                "-p", os.path.join(d, "ulogd.pid")]
        return argv if foreground else [*argv, "-d"]
    argv = [shutil.which("rsyslogd") or "/usr/sbin/rsyslogd", "-f", os.path.join(d, "rsyslog.conf"),
            "-i", os.path.join(d, "rsyslog.pid")]
    return [*argv, "-n"] if foreground else argv


def _stop(d, service):
    pid = _pid(d, service)
    if not pid:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return False
    for _ in range(100):
        if not _cmdline(pid):
            break
        time.sleep(0.02)
    else:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return True


def _start_process(d, service):
    """Start our instance detached from the SSH session (own session, no inherited descriptors)."""
    pidfile = os.path.join(d, service + ".pid")
    if os.path.exists(pidfile):
        os.unlink(pidfile)
    with open(os.devnull, "r+b") as null:
        p = subprocess.Popen(_argv(d, service, False), stdin=null, stdout=null, stderr=null, close_fds=True,
                             start_new_session=True, cwd=d)
        p.wait(20)
    for _ in range(250):
        if _pid(d, service):
            return _pid(d, service)
        time.sleep(0.02)
    raise Bad("%s did not start (exit %s); see %s" % (service, p.returncode, os.path.join(d, service + ".log")))


def _unit(d, service):
    return ("[Unit]\nDescription=vendorwall connection log (%s)\nAfter=network.target\n\n"
            "[Service]\nType=simple\nExecStart=%s\nRestart=always\nRestartSec=5\n\n"
            "[Install]\nWantedBy=multi-user.target\n" % (service, " ".join(_argv(d, service, True)))).encode()


def _systemctl(*args):
    p = subprocess.run(["systemctl", *list(args)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        raise Bad("systemctl %s: %s" % (" ".join(args), p.stdout.decode("utf-8", "replace").strip()[-400:]))


def _plugin_dir():
    for base in ("/usr/lib/*/ulogd/", "/usr/lib/ulogd/", "/usr/lib64/ulogd/"):
        pattern = base + JSON_PLUGIN
        hits = sorted(glob.glob(pattern))
        if hits:
            return os.path.dirname(hits[0])
    return ""


def _missing(need_rsyslog):
    progs = ["ulogd", "logrotate"] + (["rsyslogd"] if need_rsyslog else [])
    out = [p for p in progs if not shutil.which(p) and not os.path.exists("/usr/sbin/" + p)]
    if (shutil.which("ulogd") or os.path.exists("/usr/sbin/ulogd")) and not _plugin_dir():
        out.append("ulogd JSON output plugin")
    return out


def _install_packages(missing, want_tls):
    pkgs = sorted({PACKAGES[m] for m in missing if m in PACKAGES}
                  | ({"ulogd2-json"} if "ulogd JSON output plugin" in missing or "ulogd" in missing else set())
                  | ({"rsyslog-gnutls"} if want_tls and "rsyslogd" in missing else set()))
    if not pkgs or not shutil.which("apt-get"):
        return []
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    p = subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *pkgs], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        raise Bad("apt-get install %s: %s" % (" ".join(pkgs), p.stdout.decode("utf-8", "replace").strip()[-400:]))
    return pkgs


def _sysctl(values, persist):
    done = {}
    for key, value in sorted((values or {}).items()):
        if key not in SYSCTL or str(value) not in ("0", "1"):
            raise Bad("sysctl: %r=%r is not one the pipeline sets (%s, 0 or 1)" % (key, value, ", ".join(SYSCTL)))
        path = "/proc/sys/" + key.replace(".", "/")
        cur = (_read(path) or b"").strip().decode()
        if cur != str(value):
            with open(path, "w") as fh:
                fh.write(str(value))
        done[key] = str(value)
    if persist and done:
        text = "".join("%s = %s\n" % kv for kv in sorted(done.items())).encode()
        if _read(SYSCTL_D) != text:
            _write(SYSCTL_D, text, 0o644)
    return done


def op_install(req):
    d = _dir(req)
    files = req.get("files")
    if not isinstance(files, dict) or "ulogd.conf" not in files or "logrotate.conf" not in files:
        raise Bad("files: ulogd.conf and logrotate.conf expected")
    for name, text in files.items():
        if name not in FILES or not isinstance(text, str):
            raise Bad("files: unknown file %r (known: %s)" % (name, ", ".join(FILES)))
    sup = req.get("supervisor", "systemd")
    if sup not in ("process", "systemd"):
        raise Bad("supervisor: process or systemd expected, got %r" % (sup,))
    check = bool(req.get("check"))
    ship = "rsyslog.conf" in files
    out = {"ok": True, "changed": [], "started": [], "restarted": [], "stopped": [], "running": {}, "missing": [],
           "installed": [], "check": check}  # type: dict
    missing = _missing(ship)
    if missing and req.get("install_packages") and not check:
        out["installed"] = _install_packages(missing, "StreamDriver" in files.get("rsyslog.conf", ""))
        missing = _missing(ship)
    if missing:
        out["ok"] = False
        out["missing"] = missing
        out["error"] = ("missing on the firewall: %s (Debian: apt-get install ulogd2 ulogd2-json logrotate%s)"
                        % (", ".join(missing), " rsyslog" if ship else ""))
        return out
    plugins = _plugin_dir()
    want = {n: t.replace("@PLUGINDIR@", plugins).encode() for n, t in files.items()}
    for name in FILES:
        have = _read(os.path.join(d, name))
        if name in want and have != want[name]:
            out["changed"].append(name)
        elif name not in want and have is not None:
            out["changed"].append(name + " (removed)")
    services = ["ulogd"] + (["rsyslog"] if ship else [])
    if check:
        out["running"] = {s: _pid(d, s) for s in ("ulogd", "rsyslog") if _pid(d, s)}
        out["would_start"] = [s for s in services if not _pid(d, s)]
        return out
    os.makedirs(os.path.join(d, "rsyslog"), mode=0o700, exist_ok=True)
    os.chmod(d, 0o700)
    for name in FILES:
        path = os.path.join(d, name)
        if name in want:
            if _read(path) != want[name]:
                _write(path, want[name])
        elif os.path.exists(path):
            os.unlink(path)
    out["sysctl"] = _sysctl(req.get("sysctl"), sup == "systemd")
    if sup == "systemd":
        for s in ("ulogd", "rsyslog"):
            unit = os.path.join(SYSTEMD_DIR, UNITS[s])
            if s in services and _read(unit) != _unit(d, s):
                _write(unit, _unit(d, s), 0o644)
                out["changed"].append(unit)
        rot = want["logrotate.conf"]
        if os.path.isdir(os.path.dirname(LOGROTATE_D)) and _read(LOGROTATE_D) != rot:
            _write(LOGROTATE_D, rot, 0o644)
        _systemctl("daemon-reload")
        for s in services:
            conf_changed = (s + ".conf") in out["changed"] or os.path.join(SYSTEMD_DIR, UNITS[s]) in out["changed"]
            _systemctl("enable", UNITS[s])
            _systemctl("restart" if conf_changed else "start", UNITS[s])
            (out["restarted"] if conf_changed else out["started"]).append(s)
        if not ship and os.path.exists(os.path.join(SYSTEMD_DIR, UNITS["rsyslog"])):
            _systemctl("disable", "--now", UNITS["rsyslog"])
            os.unlink(os.path.join(SYSTEMD_DIR, UNITS["rsyslog"]))
            out["stopped"].append("rsyslog")
    else:
        for s in ("ulogd", "rsyslog"):
            changed = (s + ".conf") in out["changed"] or (s + ".conf (removed)") in out["changed"]
            if s not in services:
                if _stop(d, s):
                    out["stopped"].append(s)
                continue
            if _pid(d, s) and not changed:
                continue
            was = _stop(d, s)
            _start_process(d, s)
            (out["restarted"] if was else out["started"]).append(s)
    time.sleep(0.2)
    out["running"] = {s: _pid(d, s) for s in services if _pid(d, s)} if sup == "process" else \
        {s: "systemd" for s in services}
    if sup == "process" and set(out["running"]) != set(services):
        out["ok"] = False
        out["error"] = "not running after start: %s" % ", ".join(sorted(set(services) - set(out["running"])))
    return out


def _head(path):
    raw = _read_part(path, 0, HEAD)
    return hashlib.sha256(raw).hexdigest()[:16] if raw else ""


def _read_part(path, off, limit):
    try:
        with open(path, "rb") as fh:
            fh.seek(off)
            return fh.read(limit)
    except (IOError, OSError):
        return b""


def _complete(data):
    """The complete lines of ``data`` (a line still being written stays for the next read)."""
    cut = data.rfind(b"\n")
    return data[:cut + 1] if cut >= 0 else b""


def op_read(req):
    d = _dir(req)
    cursors = req.get("cursors") or {}
    limit = int(req.get("max_bytes") or 64 * 1024 * 1024)
    out = {"ok": True, "files": {}, "time": time.time()}  # type: dict
    for name in LOGS:
        path = os.path.join(d, name)
        cur = cursors.get(name) or {}
        try:
            st = os.stat(path)
        except OSError:
            out["files"][name] = {"data": "", "cursor": cur, "absent": True}
            continue
        ino, off, head = cur.get("ino"), int(cur.get("off") or 0), cur.get("head") or ""
        chunks = []
        rotated = False
        same = ino == st.st_ino and st.st_size >= off and (not head or off < HEAD or _head(path) == head)
        if not same and ino is not None:
            # rotated since the last read (renamed, or copied and truncated): the rest of the rotated copy first
            rotated = True
            old = path + ".1"
            if os.path.exists(old) and os.path.getsize(old) >= off:
                chunks.append(_complete(_read_part(old, off, limit)))
            off = 0
        data = _complete(_read_part(path, off, max(0, limit - sum(map(len, chunks)))))
        chunks.append(data)
        new = {"ino": st.st_ino, "off": off + len(data), "head": _head(path) if off + len(data) >= HEAD else ""}
        out["files"][name] = {"data": base64.b64encode(b"".join(chunks)).decode(), "cursor": new,
                              "rotated": rotated, "size": st.st_size}
    return out


def op_rotate(req):
    d = _dir(req)
    conf = os.path.join(d, "logrotate.conf")
    if not os.path.exists(conf):
        raise Bad("%s: not installed (deploy first)" % conf)
    p = subprocess.run(["logrotate", "-f", "-s", os.path.join(d, "logrotate.status"), conf],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return {"ok": p.returncode == 0, "rc": p.returncode, "output": p.stdout.decode("utf-8", "replace")[-2000:]}


def op_status(req):
    d = _dir(req)
    sizes = {}
    for name in LOGS:
        with contextlib.suppress(OSError):
            sizes[name] = os.path.getsize(os.path.join(d, name))
    return {"ok": True, "running": {s: _pid(d, s) for s in ("ulogd", "rsyslog") if _pid(d, s)}, "sizes": sizes}


OPS = {"install": op_install, "read": op_read, "rotate": op_rotate, "status": op_status}


def main():
    try:
        req = json.loads(sys.stdin.read() or "{}")
    except ValueError as exc:
        print(json.dumps({"ok": False, "error": "request is not JSON: %s" % exc}))
        return 2
    if not isinstance(req, dict) or req.get("op") not in OPS:
        print(json.dumps({"ok": False, "error": "unknown op; known: %s" % ", ".join(sorted(OPS))}))
        return 2
    try:
        answer = OPS[req["op"]](req)
    except Bad as exc:
        print(json.dumps({"ok": False, "error": str(exc)}))
        return 2
    except (OSError, subprocess.SubprocessError) as exc:
        print(json.dumps({"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}))
        return 1
    print(json.dumps(answer, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
