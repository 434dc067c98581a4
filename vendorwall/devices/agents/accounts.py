# vendorwall agent "accounts": vendor accounts on a Linux bastion, fed JSON on stdin, answering JSON.
#
# Ownership: vendorwall owns an account only if this bastion's registry says it created it. The registry
# (REGISTRY, root only: directory 0700, file 0600) records, for every account the agent created, its
# uid, gid, home and creation time; nothing a user can write (the GECOS field, a file in a home) decides
# ownership. An account of the same name that is not in the registry, or whose uid/gid/home no longer
# match it, is "foreign": never modified, locked or removed, and reported as such.
#
# Ops (request {"op": NAME, ...}; every answer carries "time", the bastion's clock):
#   read     state of the registry's accounts (expiry, lock, last login, key digest, processes) and
#            which of "ids" exist without being vendorwall's (foreign)
#   enforce  create the missing accounts, update the owned ones (GECOS, expiry, authorized_keys),
#            remove the owned ones not requested, install the per-vendor source rules (nftables)
#   lock     lock (and with "isolate": expire and record) owned accounts, end their processes
#   unlock   undo an isolation recorded by "lock" (expiry back, unlocked unless it was locked before)
#   adopt    the operator declares existing accounts vendorwall's (never a system account or reserved name)
#
# Last logins come only from what the vendor cannot write: journald entries whose trusted fields say
# sshd running as root wrote them, sshd's own log file (sshd -E, root-owned), and wtmp. The agent keeps
# the latest login it saw per account in the registry (logs rotate). Standard library only, Python >= 3.7;
# programs are called with argument vectors, never through a shell.
import calendar
import contextlib
import fcntl
import hashlib
import ipaddress
import json
import os
import pwd
import re
import struct
import subprocess
import sys
import time

REGISTRY_DIR = "/var/lib/vendorwall"
REGISTRY = REGISTRY_DIR + "/accounts.json"
LOCKFILE = REGISTRY_DIR + "/accounts.lock"
TAG = "vendorwall/"
NFT_TABLE = "vendorwall_bastion"
LEGACY_SSHRC_MARK = "# installed by vendorwall accounts"
LEGACY_STAMP_DIR = "/var/log/vendorwall/lastlogin"
WTMP = "/var/log/wtmp"
KILL_ROUNDS = 40  # x 0.05 s

# Account names: the inventory schema's pattern (lower-case letter first; letters, digits, '.', '_', '-').
NAME = re.compile(r"^[a-z][a-z0-9._-]{0,31}\Z")
VENDOR = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\Z")
# System users of Debian (base-passwd and common packages) and names an administrator expects to own:
# never a vendor account id (the inventory validation refuses them too).
RESERVED = frozenset((
    "_apt", "_chrony", "_rpc", "adm", "admin", "administrator", "avahi", "backup", "bin", "bind", "chrony", "colord",
    "daemon", "dhcpcd", "dnsmasq", "ftp", "games", "gnats", "halt", "irc", "landscape", "list", "lp", "lxd", "mail",
    "man", "messagebus", "mysql", "named", "news", "nobody", "nogroup", "nslcd", "ntp", "operator", "polkitd",
    "pollinate", "postfix", "postgres", "proxy", "pulse", "redis", "root", "rpc", "rtkit", "shutdown", "sshd",
    "sssd", "staff", "statd", "sudo", "sync", "sys", "syslog", "tcpdump", "tss", "usbmux", "users", "uucp", "uuidd",
    "vendorwall", "wheel", "www-data",
))
RESERVED_PATTERN = re.compile(r"^(systemd-|debian-|_)", re.IGNORECASE)
KEY = re.compile(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|"
                 r"sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [\x20-\x7e]{0,200})?\Z")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")
ACCEPTED = re.compile(r"Accepted [\w/@.-]+ for ([a-z][a-z0-9._-]{0,31}) from ")


class BadRequest(Exception):
    pass


def reserved(name):
    """Why ``name`` cannot be a vendor account ("" when it can)."""
    if not NAME.match(name or ""):
        return "not an account name (lower-case letter first, then letters, digits, '.', '_', '-'; 32 max)"
    if name in RESERVED or RESERVED_PATTERN.match(name):
        return "a system account name"
    return ""


# --------------------------------------------------------------------------- the registry


def _load_registry():
    try:
        with open(REGISTRY, encoding="utf-8") as fh:
            reg = json.load(fh)
    except FileNotFoundError:
        reg = {}
    if not isinstance(reg, dict):
        raise BadRequest("the registry %s is damaged (not a JSON object): fix it by hand" % REGISTRY)
    reg.setdefault("version", 1)
    reg.setdefault("accounts", {})
    reg.setdefault("logins", {})
    return reg


def _save_registry(reg):
    os.makedirs(REGISTRY_DIR, mode=0o700, exist_ok=True)
    os.chmod(REGISTRY_DIR, 0o700)
    tmp = REGISTRY + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(reg, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, REGISTRY)


class Locked:
    """An exclusive lock on the registry for the whole request (isolation and review can run at once)."""

    def __enter__(self):
        os.makedirs(REGISTRY_DIR, mode=0o700, exist_ok=True)
        self.fd = os.open(LOCKFILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


# --------------------------------------------------------------------------- accounts as they are


def _getpw(name):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def _shadow():
    out = {}
    with open("/etc/shadow", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            f = line.rstrip("\n").split(":")
            if len(f) >= 8:
                out[f[0]] = f
    return out


def _uid_min():
    try:
        with open("/etc/login.defs", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                f = line.split()
                if len(f) >= 2 and f[0] == "UID_MIN" and f[1].isdigit():
                    return int(f[1])
    except OSError:
        pass
    return 1000


def _home_ino(path):
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_ino


def ownership(reg, name):
    """("owned", pw) | ("foreign", pw, why) | ("absent", None) | ("stale", None): registry entry, no account."""
    pw = _getpw(name)
    rec = reg["accounts"].get(name)
    if pw is None:
        return ("stale", None, "") if rec else ("absent", None, "")
    if not rec:
        why = "system account (uid %d)" % pw.pw_uid if pw.pw_uid < _uid_min() else "not created by vendorwall"
        return "foreign", pw, why
    if rec.get("uid") != pw.pw_uid or rec.get("gid") != pw.pw_gid or rec.get("home") != pw.pw_dir:
        return "foreign", pw, "uid, gid or home differ from the account vendorwall created (re-created by someone)"
    ino = rec.get("home_ino")
    if ino is not None and _home_ino(pw.pw_dir) not in (ino, None):
        return "foreign", pw, "its home directory is not the one vendorwall created"
    return "owned", pw, ""


def processes(uid):
    """Live (non-zombie) processes whose real or effective uid is ``uid``."""
    n = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/status" % d, encoding="utf-8", errors="replace") as fh:
                status = fh.read()
        except OSError:
            continue
        state = re.search(r"^State:\s+(\S)", status, re.M)
        uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)", status, re.M)
        if uids and uid in (int(uids.group(1)), int(uids.group(2))) and not (state and state.group(1) in "ZX"):
            n += 1
    return n


def _run(argv, data=None):
    try:
        p = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return p.returncode, (p.stderr or p.stdout).decode("utf-8", "replace").strip()[-500:]


def end_processes(uid):
    i = 0
    while processes(uid) and i < KILL_ROUNDS:
        _run(["pkill", "-KILL", "-U", str(uid)])
        _run(["pkill", "-KILL", "-u", str(uid)])
        if i:
            time.sleep(0.05)
        i += 1
    return processes(uid)


def _key_digest(pw):
    data = _read_keys(pw)
    return hashlib.sha256(data).hexdigest()[:16] if data is not None else ""


def _read_keys(pw):
    try:
        hfd = os.open(pw.pw_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        sfd = os.open(".ssh", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=hfd)
        try:
            fd = os.open("authorized_keys", os.O_RDONLY | os.O_NOFOLLOW, dir_fd=sfd)
            with os.fdopen(fd, "rb") as fh:
                return fh.read(1 << 20)
        finally:
            os.close(sfd)
    except OSError:
        return None
    finally:
        os.close(hfd)


def write_keys(pw, text):
    """Write ~/.ssh/authorized_keys of an owned account without following a link the user planted."""
    hfd = os.open(pw.pw_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        if os.fstat(hfd).st_uid != pw.pw_uid:
            raise OSError("home %s is not owned by the account" % pw.pw_dir)
        with contextlib.suppress(FileExistsError):
            os.mkdir(".ssh", 0o700, dir_fd=hfd)
        sfd = os.open(".ssh", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=hfd)
        try:
            os.fchown(sfd, pw.pw_uid, pw.pw_gid)
            os.fchmod(sfd, 0o700)
            tmp = ".authorized_keys.vendorwall"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=sfd)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=sfd)
            with os.fdopen(fd, "wb") as fh:
                fh.write(text.encode())
                fh.flush()
                os.fsync(fh.fileno())
                os.fchown(fh.fileno(), pw.pw_uid, pw.pw_gid)
            os.rename(tmp, "authorized_keys", src_dir_fd=sfd, dst_dir_fd=sfd)
        finally:
            os.close(sfd)
    finally:
        os.close(hfd)


def _day(iso):
    y, m, d = (int(x) for x in iso.split("-"))
    return calendar.timegm((y, m, d, 0, 0, 0)) // 86400


def state_of(name, rec, pw, sh):
    f = sh.get(name) or [""] * 9
    exp = f[7].strip()
    return {"id": name, "vendor": rec.get("vendor", ""), "uid": pw.pw_uid if pw else None,
            "gecos": pw.pw_gecos if pw else "", "locked": f[1].startswith("!"),
            "expire_day": int(exp) if exp.isdigit() else None, "processes": processes(pw.pw_uid) if pw else 0,
            "key_hash": _key_digest(pw) if pw else "", "created_at": rec.get("created_at"),
            "isolation": rec.get("isolation"), "last_login": rec.get("last_login")}


# --------------------------------------------------------------------------- last logins (root-written only)


def _root_only(path):
    """A file only root can have written: owned by root, not writable by group or others (wtmp: the
    utmp group may write it, which no vendor account belongs to)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return st.st_uid == 0 and not st.st_mode & 0o002 and (path == WTMP or not st.st_mode & 0o020)


_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"), 1)}


def _line_time(line, fallback):
    m = re.match(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2}):(\d{2})", line)
    if m:
        y, mo, d = (int(x) for x in m.group(1).split("-"))
        return calendar.timegm((y, mo, d, int(m.group(2)), int(m.group(3)), int(m.group(4))))
    m = re.match(r"^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) ", line)
    if m and m.group(1) in _MONTHS:
        y = time.gmtime(fallback).tm_year
        t = calendar.timegm((y, _MONTHS[m.group(1)], int(m.group(2)), int(m.group(3)), int(m.group(4)),
                             int(m.group(5)))) - time.timezone
        return t if t <= fallback + 86400 else t - 365 * 86400
    return fallback  # sshd -E writes no time: the file's modification time bounds the login from above


def _from_log_files(reg, paths, seen):
    pos = reg["logins"].setdefault("files", {})
    for path in paths:
        if not isinstance(path, str) or not path.startswith("/") or not _root_only(path):
            continue
        st = os.stat(path)
        p = pos.get(path) or {}
        start = p.get("offset", 0) if p.get("ino") == st.st_ino and p.get("offset", 0) <= st.st_size else 0
        with open(path, "rb") as fh:
            fh.seek(start)
            data = fh.read()
        end = start + data.rfind(b"\n") + 1
        for raw in data[:end - start].split(b"\n"):
            line = raw.decode("utf-8", "replace")
            m = ACCEPTED.search(line)
            if m:
                t = _line_time(line, st.st_mtime)
                seen[m.group(1)] = max(seen.get(m.group(1), 0), t)
        pos[path] = {"ino": st.st_ino, "offset": end}


def _from_journal(reg, seen):
    cursor = reg["logins"].get("journal_cursor")
    argv = ["journalctl", "-q", "--no-pager", "-o", "json", "_UID=0", "_COMM=sshd", "_COMM=sshd-session"]
    argv += ["--after-cursor", cursor] if cursor else ["--since", "400 days ago"]
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        # the trusted fields (underscore) are journald's own, from the sender's credentials
        if not isinstance(e, dict) or e.get("_UID") != "0":
            continue
        msg = e.get("MESSAGE")
        m = ACCEPTED.search(msg) if isinstance(msg, str) else None
        if m and str(e.get("__REALTIME_TIMESTAMP", "")).isdigit():
            t = int(e["__REALTIME_TIMESTAMP"]) / 1e6
            seen[m.group(1)] = max(seen.get(m.group(1), 0), t)
        if e.get("__CURSOR"):
            reg["logins"]["journal_cursor"] = e["__CURSOR"]


_UTMP = struct.Struct("<h2xi32s4s32s256s2hi2i4i20s")


def _from_wtmp(seen):
    if not _root_only(WTMP):
        return
    with open(WTMP, "rb") as fh:
        data = fh.read()
    for off in range(0, len(data) - _UTMP.size + 1, _UTMP.size):
        f = _UTMP.unpack_from(data, off)
        if f[0] != 7:  # USER_PROCESS
            continue
        user = f[4].split(b"\0", 1)[0].decode("utf-8", "replace")
        seen[user] = max(seen.get(user, 0), f[9])


def update_logins(reg, sshd_logs):
    seen = {}  # type: dict[str, float]
    _from_log_files(reg, sshd_logs, seen)
    _from_journal(reg, seen)
    _from_wtmp(seen)
    for name, rec in reg["accounts"].items():
        t = seen.get(name)
        # a login before the account was created belongs to an earlier account of that name
        if t and t >= rec.get("created_at", 0) - 1 and t > (rec.get("last_login") or 0):
            rec["last_login"] = t


def _legacy_cleanup(notes):
    """Versions before the registry installed a user-writable login stamp: remove it (forgeable)."""
    try:
        with open("/etc/ssh/sshrc", encoding="utf-8", errors="replace") as fh:
            head = fh.read(4096)
        if LEGACY_SSHRC_MARK in head:
            os.unlink("/etc/ssh/sshrc")
            notes.append("removed the old vendorwall /etc/ssh/sshrc login stamp (user-writable, not trusted)")
    except OSError:
        pass
    if os.path.isdir(LEGACY_STAMP_DIR) and not os.path.islink(LEGACY_STAMP_DIR):
        for f in os.listdir(LEGACY_STAMP_DIR):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(LEGACY_STAMP_DIR, f))
        try:
            os.rmdir(LEGACY_STAMP_DIR)
            notes.append("removed the old world-writable login stamp directory " + LEGACY_STAMP_DIR)
        except OSError:
            pass


# --------------------------------------------------------------------------- validation of requests


def _names(values, what):
    if not isinstance(values, list):
        raise BadRequest("%s: a list expected" % what)
    for v in values:
        if not isinstance(v, str) or not NAME.match(v):
            raise BadRequest("%s: not an account name: %r" % (what, v))
    return values


def _vendors(values):
    if not isinstance(values, list) or not all(isinstance(v, str) and VENDOR.match(v) for v in values):
        raise BadRequest("vendors: a list of vendor names expected")
    return values


def _wanted(req):
    out = []
    for a in req.get("accounts", []):
        if not isinstance(a, dict):
            raise BadRequest("accounts: objects expected")
        name, vendor, expires = a.get("id"), a.get("vendor"), a.get("expires")
        if not isinstance(name, str) or not NAME.match(name):
            raise BadRequest("accounts: not an account name: %r" % (name,))
        if not isinstance(vendor, str) or not VENDOR.match(vendor):
            raise BadRequest("accounts.%s.vendor: not a vendor name: %r" % (name, vendor))
        if not isinstance(expires, str) or not DATE.match(expires):
            raise BadRequest("accounts.%s.expires: YYYY-MM-DD expected" % name)
        key = a.get("key") or ""
        if not isinstance(key, str) or (key and not KEY.match(key)):
            raise BadRequest("accounts.%s.key: one SSH public key (type, base64, comment) without options "
                             "expected" % name)
        person = "".join(c for c in str(a.get("person", "")) if c.isalnum() or c in " .-'")[:64]
        out.append({"id": name, "vendor": vendor, "expires": expires, "key": key, "person": person})
    return out


def _sources(req):
    src = req.get("sources", {})
    if not isinstance(src, dict):
        raise BadRequest("sources: an object expected")
    out = {}
    for vendor, nets in src.items():
        if not VENDOR.match(vendor) or not isinstance(nets, list):
            raise BadRequest("sources: vendor -> list of IPv4 prefixes expected")
        try:
            out[vendor] = list(ipaddress.collapse_addresses(ipaddress.IPv4Network(n) for n in nets))
        except (TypeError, ValueError) as exc:
            raise BadRequest("sources.%s: %s" % (vendor, exc)) from None
    return out


# --------------------------------------------------------------------------- per-vendor source rules


def sources_ruleset(reg, sources):
    """The bastion's table: each owned account may send only from its vendor's source prefixes (another
    vendor's address is rejected; unbound traffic leaves from the vendor's address when it has exactly one,
    and is rejected otherwise: it would leave from the bastion's own address); no IPv6 except loopback."""
    every = list(ipaddress.collapse_addresses(n for nets in sources.values() for n in nets))
    idx = {v: i for i, v in enumerate(sorted(sources))}
    sets, out_rules, nat_rules = [], [], []
    if every:
        sets.append("  set vendor_src { type ipv4_addr; flags interval; elements = { %s } }"
                    % ", ".join(str(n) for n in every))
    for v, i in sorted(idx.items()):
        if sources[v]:
            sets.append('  set src_%d { type ipv4_addr; flags interval; comment "%s"; elements = { %s } }'
                        % (i, v, ", ".join(str(n) for n in sources[v])))
    for name, rec in sorted(reg["accounts"].items()):
        v, uid = rec.get("vendor"), rec.get("uid")
        if not isinstance(uid, int) or v not in idx:
            continue
        i = idx[v]
        single = None
        if sources[v]:
            out_rules.append("    meta skuid %d ip saddr @src_%d accept" % (uid, i))
            single = sources[v][0] if len(sources[v]) == 1 and sources[v][0].prefixlen == 32 else None
            if single is not None:
                nat_rules.append("    meta skuid %d ip saddr != @src_%d snat ip to %s"
                                 % (uid, i, single.network_address))
        if every:
            out_rules.append('    meta skuid %d ip saddr @vendor_src counter reject with icmpx admin-prohibited '
                             'comment "%s: not its vendor\'s source"' % (uid, name))
        if sources[v] and single is None:
            # no one address to rewrite unbound traffic to: anything else than its vendor's sources (the
            # bastion's own or management address, unbound) is refused, loopback aside
            out_rules.append('    meta skuid %d meta nfproto ipv4 ip daddr != 127.0.0.0/8 counter reject with icmpx '
                             'admin-prohibited comment "%s: only from its vendor\'s source"' % (uid, name))
        out_rules.append("    meta skuid %d meta nfproto ipv6 ip6 daddr != ::1 counter reject" % uid)
    lines = ["table inet %s" % NFT_TABLE, "delete table inet %s" % NFT_TABLE, "table inet %s {" % NFT_TABLE]
    lines += sets
    lines += ["  chain output {", "    type filter hook output priority filter; policy accept;"]
    lines += [*out_rules, "  }"]
    lines += ["  chain postrouting {", "    type nat hook postrouting priority srcnat; policy accept;",
              "    ip daddr 127.0.0.0/8 return"]
    lines += [*nat_rules, "  }", "}"]
    return "\n".join(lines) + "\n", len(out_rules) + len(nat_rules)


def apply_sources(reg, sources, check):
    text, n = sources_ruleset(reg, sources)
    if check:
        return {"applied": False, "rules": n, "error": ""}
    rc, err = _run(["nft", "-f", "-"], text.encode())
    return {"applied": rc == 0, "rules": n, "error": "" if rc == 0 else "nft: %s" % err}


# --------------------------------------------------------------------------- operations


def op_read(req, reg, check):
    ids = _names(req.get("ids", []), "ids")
    update_logins(reg, req.get("sshd_logs", []))  # kept only when not a check (main saves the registry)
    sh = _shadow()
    out, foreign, stale = [], [], []
    for name in sorted(set(reg["accounts"]) | set(ids)):
        kind, pw, why = ownership(reg, name)
        if kind == "owned":
            out.append(state_of(name, reg["accounts"][name], pw, sh))
        elif kind == "foreign":
            foreign.append({"id": name, "uid": pw.pw_uid, "why": why})
        elif kind == "stale":
            stale.append(name)
    return {"accounts": out, "foreign": foreign, "stale": stale}


def _create(w, reg, notes):
    gecos = "%s%s/%s" % (TAG, w["vendor"], w["person"])
    reg["accounts"][w["id"]] = {"vendor": w["vendor"], "pending": True, "created_at": time.time()}
    _save_registry(reg)  # before useradd: a crash in between leaves a pending entry, never an orphan
    rc, err = _run(["useradd", "-m", "-s", "/bin/bash", "-c", gecos, "-e", w["expires"], "-p", "*", "--", w["id"]])
    pw = _getpw(w["id"]) if rc == 0 else None
    if pw is None:
        del reg["accounts"][w["id"]]
        _save_registry(reg)
        return "failed", "useradd: %s" % (err or "exit %d" % rc)
    reg["accounts"][w["id"]] = {"vendor": w["vendor"], "uid": pw.pw_uid, "gid": pw.pw_gid, "home": pw.pw_dir,
                                "home_ino": _home_ino(pw.pw_dir), "created_at": time.time(), "last_login": None,
                                "isolation": None}
    _save_registry(reg)
    return "created", ""


def op_enforce(req, reg, check):
    wanted = _wanted(req)
    sources = _sources(req)
    notes = []  # type: list[str]
    if not check:
        _legacy_cleanup(notes)
    # entries left pending by a crash between useradd and the registry update
    for name, rec in list(reg["accounts"].items()):
        if rec.get("pending"):
            pw = _getpw(name)
            if pw and pw.pw_gecos.startswith(TAG + rec.get("vendor", "") + "/") and not check:
                reg["accounts"][name] = {"vendor": rec["vendor"], "uid": pw.pw_uid, "gid": pw.pw_gid,
                                         "home": pw.pw_dir, "home_ino": _home_ino(pw.pw_dir),
                                         "created_at": rec.get("created_at"), "last_login": None, "isolation": None}
            elif not check:
                del reg["accounts"][name]
    sh = _shadow()
    results = []
    for w in wanted:
        name = w["id"]
        why = reserved(name)
        if why:
            results.append({"id": name, "vendor": w["vendor"], "action": "refused", "detail": why})
            continue
        kind, pw, why = ownership(reg, name)
        if kind == "stale":  # vendorwall's account was removed by hand: forget it, create it again
            if not check:
                del reg["accounts"][name]
                _save_registry(reg)
            kind = "absent"
        if kind == "foreign":
            results.append({"id": name, "vendor": w["vendor"], "action": "foreign", "detail": why})
            continue
        if kind == "absent":
            if check:
                results.append({"id": name, "vendor": w["vendor"], "action": "would_create", "detail": ""})
                continue
            action, detail = _create(w, reg, notes)
            pw = _getpw(name)
            if action == "created" and w["key"]:
                try:
                    write_keys(pw, 'expiry-time="%s" %s\n' % (w["expires"].replace("-", ""), w["key"]))
                except OSError as exc:
                    action, detail = "failed", "authorized_keys: %s" % exc
            results.append({"id": name, "vendor": w["vendor"], "action": action, "detail": detail})
            continue
        rec = reg["accounts"][name]
        changes = []
        gecos = "%s%s/%s" % (TAG, w["vendor"], w["person"])
        if rec.get("vendor") != w["vendor"]:
            changes.append("vendor %s -> %s" % (rec.get("vendor"), w["vendor"]))
        if pw.pw_gecos != gecos:
            changes.append("gecos")
        exp = (sh.get(name) or [""] * 9)[7].strip()
        if rec.get("isolation"):
            changes_exp = False  # isolated: the expiry stays at day 1 until restore
        else:
            changes_exp = exp != str(_day(w["expires"]))
            if changes_exp:
                changes.append("expiry")
        key_text = 'expiry-time="%s" %s\n' % (w["expires"].replace("-", ""), w["key"]) if w["key"] else None
        if key_text is not None and _read_keys(pw) != key_text.encode():
            changes.append("key")
        if not changes:
            results.append({"id": name, "vendor": w["vendor"], "action": "unchanged", "detail": ""})
            continue
        if check:
            results.append({"id": name, "vendor": w["vendor"], "action": "would_update", "detail": ", ".join(changes)})
            continue
        argv = ["usermod", "-c", gecos]
        if changes_exp:
            argv += ["-e", w["expires"]]
        rc, err = _run([*argv, "--", name])
        detail = ", ".join(changes)
        action = "updated"
        if rc != 0:
            action, detail = "failed", "usermod: %s" % err
        elif "key" in changes:
            try:
                write_keys(pw, key_text)
            except OSError as exc:
                action, detail = "failed", "authorized_keys: %s" % exc
        if action == "updated" and rec.get("vendor") != w["vendor"]:
            rec["vendor"] = w["vendor"]
            _save_registry(reg)
        results.append({"id": name, "vendor": w["vendor"], "action": action, "detail": detail})
    keep = {w["id"] for w in wanted}
    for name in sorted(set(reg["accounts"]) - keep):
        kind, pw, why = ownership(reg, name)
        vendor = reg["accounts"][name].get("vendor", "")
        if kind == "foreign":
            # the name now belongs to someone else: forget it, never touch it
            results.append({"id": name, "vendor": vendor, "action": "forgotten", "detail": why})
            if not check:
                del reg["accounts"][name]
                _save_registry(reg)
            continue
        if kind == "stale":
            results.append({"id": name, "vendor": vendor, "action": "forgotten", "detail": "already gone"})
            if not check:
                del reg["accounts"][name]
                _save_registry(reg)
            continue
        if check:
            results.append({"id": name, "vendor": vendor, "action": "would_remove", "detail": ""})
            continue
        left = end_processes(pw.pw_uid)
        rc, err = _run(["userdel", "-r", "--", name])
        if rc not in (0, 12):  # 12: home or mail spool could not be removed (already gone)
            results.append({"id": name, "vendor": vendor, "action": "failed",
                            "detail": "userdel: %s (%d processes left)" % (err, left)})
            continue
        del reg["accounts"][name]
        _save_registry(reg)
        results.append({"id": name, "vendor": vendor, "action": "removed", "detail": ""})
    src = apply_sources(reg, sources, check) if "sources" in req else {"applied": False, "rules": 0, "error": ""}
    state = op_read({"ids": sorted(keep), "sshd_logs": req.get("sshd_logs", [])}, reg, check)
    return {"results": results, "sources": src, "notes": notes, **state}


def _disable_state(name, rec, pw, sh):
    f = sh.get(name) or [""] * 9
    return f[1].startswith("!"), f[7].strip(), processes(pw.pw_uid)


def op_lock(req, reg, check):
    ids = _names(req.get("ids", []), "ids")
    vendors = _vendors(req.get("vendors", []))
    isolate = bool(req.get("isolate"))
    foreign = []
    targets = []
    for name in sorted(set(ids) | {n for n, r in reg["accounts"].items() if r.get("vendor") in vendors}):
        kind, pw, why = ownership(reg, name)
        if kind == "owned":
            targets.append((name, pw))
        elif kind == "foreign":
            foreign.append({"id": name, "uid": pw.pw_uid, "why": why})
    t0 = time.time()
    out = []
    sh = _shadow()
    for name, pw in targets:
        rec = reg["accounts"][name]
        l1, e1, p1 = _disable_state(name, rec, pw, sh)
        item = {"id": name, "vendor": rec.get("vendor", ""), "action": "read", "rc": 0, "locked_before": l1,
                "expire_before": e1, "processes_before": p1}
        if not check:
            if isolate and not rec.get("isolation"):
                rec["isolation"] = {"was_locked": l1, "expire": e1, "at": time.time()}
                _save_registry(reg)
            argv = ["usermod", "--lock"] + (["--expiredate", "1"] if isolate else []) + ["--", name]
            rc, err = _run(argv)
            item["action"], item["rc"] = ("disable" if isolate else "lock"), rc
            if rc:
                item["error"] = err
            end_processes(pw.pw_uid)
        out.append(item)
    sh = _shadow()
    for item in out:
        pw = _getpw(item["id"])
        l2, e2, p2 = _disable_state(item["id"], None, pw, sh)
        item.update({"locked_after": l2, "expire_after": e2, "processes_left": p2,
                     "record": reg["accounts"][item["id"]].get("isolation")})
    return {"accounts": out, "foreign": foreign, "t0": t0, "t1": time.time()}


def op_unlock(req, reg, check):
    vendors = _vendors(req.get("vendors", []))
    want = {w["id"]: w["expires"] for w in _wanted({"accounts": [dict(a, person="") for a in
                                                                req.get("accounts", [])]})}
    ids = sorted(set(want) | {n for n, r in reg["accounts"].items() if r.get("vendor") in vendors})
    t0 = time.time()
    out, foreign = [], []
    sh = _shadow()
    for name in ids:
        kind, pw, why = ownership(reg, name)
        if kind == "foreign":
            foreign.append({"id": name, "uid": pw.pw_uid, "why": why})
            continue
        if kind != "owned":
            continue
        rec = reg["accounts"][name]
        l1, e1, p1 = _disable_state(name, rec, pw, sh)
        item = {"id": name, "vendor": rec.get("vendor", ""), "action": "read", "rc": 0, "locked_before": l1,
                "expire_before": e1, "processes_before": p1, "record": rec.get("isolation")}
        iso = rec.get("isolation")
        if not check:
            if not iso:
                item["action"] = "norecord"
            elif name not in want:
                item["action"] = "notinmanifest"
            else:
                rc, err = _run(["usermod", "--expiredate", want[name], "--", name])
                if iso.get("was_locked"):
                    item["action"] = "keptlocked"
                else:
                    item["action"] = "enable"
                    if rc == 0:
                        rc, err = _run(["usermod", "--unlock", "--", name])
                item["rc"] = rc
                if rc == 0:
                    rec["isolation"] = None
                    _save_registry(reg)
                else:
                    item["error"] = err
        out.append(item)
    sh = _shadow()
    for item in out:
        pw = _getpw(item["id"])
        l2, e2, p2 = _disable_state(item["id"], None, pw, sh)
        item.update({"locked_after": l2, "expire_after": e2, "processes_left": p2})
    return {"accounts": out, "foreign": foreign, "t0": t0, "t1": time.time()}


def op_adopt(req, reg, check):
    """The operator declares existing accounts vendorwall's (accounts made by hand, or by a version of
    vendorwall before the registry): recorded with their current uid, gid and home. Never a system account,
    never a reserved name, never an account with processes of uid < UID_MIN."""
    wanted = {w["id"]: w["vendor"] for w in _wanted({"accounts": [dict(a, person="", expires="1970-01-01")
                                                                  for a in req.get("accounts", [])]})}
    out = []
    for name, vendor in sorted(wanted.items()):
        why = reserved(name)
        kind, pw, _why = ownership(reg, name)
        if why:
            out.append({"id": name, "action": "refused", "detail": why})
        elif kind == "owned":
            out.append({"id": name, "action": "unchanged", "detail": "already vendorwall's"})
        elif kind in ("absent", "stale"):
            out.append({"id": name, "action": "refused", "detail": "no such account"})
        elif pw.pw_uid < _uid_min():
            out.append({"id": name, "action": "refused", "detail": "system account (uid %d)" % pw.pw_uid})
        else:
            if not check:
                reg["accounts"][name] = {"vendor": vendor, "uid": pw.pw_uid, "gid": pw.pw_gid, "home": pw.pw_dir,
                                         "home_ino": _home_ino(pw.pw_dir), "created_at": 0, "adopted_at": time.time(),
                                         "last_login": None, "isolation": None}
            out.append({"id": name, "action": "adopted" if not check else "would_adopt", "detail": ""})
    return {"results": out}


OPS = {"read": op_read, "adopt": op_adopt, "enforce": op_enforce, "lock": op_lock, "unlock": op_unlock}


def main():
    try:
        req = json.loads(sys.stdin.read() or "{}")
    except ValueError as exc:
        print(json.dumps({"ok": False, "error": "request is not JSON: %s" % exc, "time": time.time()}))
        return 2
    if not isinstance(req, dict) or req.get("op") not in OPS:
        print(json.dumps({"ok": False, "error": "unknown op", "time": time.time()}))
        return 2
    if os.geteuid() != 0:
        print(json.dumps({"ok": False, "error": "the accounts agent must run as root", "time": time.time()}))
        return 2
    try:
        with Locked():
            reg = _load_registry()
            answer = OPS[req["op"]](req, reg, bool(req.get("check")))
            if not req.get("check"):
                _save_registry(reg)
    except BadRequest as exc:
        print(json.dumps({"ok": False, "error": str(exc), "time": time.time()}))
        return 2
    answer.update({"ok": True, "time": time.time(), "registry": REGISTRY})
    print(json.dumps(answer, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
