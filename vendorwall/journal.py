"""The journals (incident, access, connection-log index, alerts): append-only JSON lines, hash-chained,
authenticated with a key kept outside the journal, anchored where the controller cannot rewrite them.

Each line is one JSON object with ``seq`` (1, 2, ...), ``prev`` (the previous entry's ``hash``; ``""`` for
the first), ``hash`` = sha256 of the entry's canonical JSON without ``hash``/``key_id``/``mac`` (sorted
keys, no spaces, UTF-8) and, when a journal key is configured, ``key_id`` and ``mac`` = HMAC-SHA256 of
the canonical entry including its ``hash``. Editing, removing or reordering a line breaks the chain at
that line; :func:`verify` says where.

The chain alone proves nothing against someone who can rewrite the whole file (a fully re-chained file
is self-consistent) or cut its tail. So, as git signs tags and journald seals its files:

- **a key outside the journal** authenticates each entry: ``VENDORWALL_JOURNAL_KEY`` (the key itself, as
  an AWX/AAP credential injects it), else the file ``VENDORWALL_JOURNAL_KEY_FILE``, else
  ``/etc/vendorwall/journal.key`` (``vendorwall journal keygen`` writes one, 0400). A key file readable
  by group or others is refused, as OpenSSH refuses such a private key. Whoever can write the journal
  but not read the key (another account, a restored backup, a copy edited elsewhere) cannot forge an
  entry that verifies;
- **anchors** outside the controller: every entry's ``(journal id, seq, hash)`` goes to syslog
  (``authpriv.notice``, ident ``vendorwall-journal``: forward it to a remote log store), and the
  journeys write the hash of their last entry to the devices they touched (the ``anchor`` agent,
  :mod:`vendorwall.devices.anchors`). :func:`verify` checks the journal against anchors (an export of
  the remote syslog, or the devices'): an anchored entry that is missing (a cut tail) or different (a
  rewritten file) is reported, whatever the key;
- the **person** is the real uid's account (``SUDO_USER`` only as ``via``; it is whoever ran sudo, an
  environment variable anyone can set), plus the AWX/AAP user and job when the run comes from there.

Writers take an exclusive ``flock`` on the file, so two runs at once still chain correctly; a failed
write (disk full, read-only file system) raises :class:`JournalError`, which the journeys report after
what was done on the devices (never an internal error).

    vendorwall journal verify INVENTORY|JOURNAL [--name access] [--anchors FILE] [--devices]
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import pwd
import re
import socket
import stat
import sys
from dataclasses import dataclass, field
from typing import Any

from .state import ensure_dir

JOURNAL_NAME = "incident-journal.jsonl"
KEY_ENV = "VENDORWALL_JOURNAL_KEY"
KEY_FILE_ENV = "VENDORWALL_JOURNAL_KEY_FILE"
DEFAULT_KEY_FILE = "/etc/vendorwall/journal.key"
KEY_MIN_BYTES = 32
SYSLOG_IDENT = "vendorwall-journal"
ANCHOR_RE = re.compile(r"journal=(\S+) seq=(\d+) hash=([0-9a-f]{64})")
_UNSIGNED = ("hash", "key_id", "mac")


class JournalError(Exception):
    """The journal could not be written or its key used: what, where, and what to do."""

    def __init__(self, path: str, message: str, hint: str = "") -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message
        self.hint = hint

    def render(self) -> str:
        return f"JOURNAL NOT WRITTEN: {self.path}: {self.message}" + (f"\n  hint: {self.hint}" if self.hint else "")


def canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(canonical({k: v for k, v in entry.items() if k not in _UNSIGNED})).hexdigest()


def utcnow() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------- who


AWX_USER_VARS = ("AWX_USER_NAME", "TOWER_USER_NAME")
AWX_JOB_VARS = ("AWX_JOB_ID", "TOWER_JOB_ID", "JOB_ID")


def who() -> dict[str, Any]:
    """The person behind the run: the account of the real uid (not ``SUDO_USER``/``USER``, which anyone
    can set; ``SUDO_USER`` is recorded as ``via``), uid and host; the AWX/AAP user and job id when the run
    comes from there: the environment's AWX_USER_NAME/AWX_JOB_ID (awx_user, awx_job), and the actor the
    Ansible modules were given (:mod:`vendorwall.actor`: the person becomes ``user``, the account that ran
    ``runner``, ``platform`` says ``awx`` or ``tower``)."""
    uid = os.getuid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = f"uid {uid}"
    out: dict[str, Any] = {"user": user, "uid": uid, "host": socket.gethostname()}
    via = os.environ.get("SUDO_USER")
    if via and via != user:
        out["via"] = _clean(via)
    for key, names in (("awx_user", AWX_USER_VARS), ("awx_job", AWX_JOB_VARS)):
        value = next((os.environ[n] for n in names if os.environ.get(n)), "")
        if value:
            out[key] = _clean(value)
    from . import actor  # under AWX/AAP, the person and job the modules were given (vendorwall.actor)

    return actor.apply(out)


def _clean(text: str) -> str:
    return "".join(c for c in text if c.isprintable())[:128]


# --------------------------------------------------------------------------- the key


@dataclass(frozen=True)
class Key:
    secret: bytes = field(repr=False)
    source: str

    @property
    def id(self) -> str:
        return hashlib.sha256(b"vendorwall journal key id\0" + self.secret).hexdigest()[:16]

    def mac(self, entry: dict[str, Any]) -> str:
        return hmac.new(self.secret, canonical({k: v for k, v in entry.items() if k != "mac"}),
                        hashlib.sha256).hexdigest()


def _decode_secret(raw: bytes) -> bytes:
    text = raw.strip()
    if re.fullmatch(rb"[0-9a-fA-F]{64,}", text):
        return bytes.fromhex(text.decode())
    return text


def load_key(path_hint: str = "") -> Key | None:
    """The journal key, or None when none is configured. Raises :class:`JournalError` for a key that
    exists but must not be used (too short, a file readable by group or others, unreadable)."""
    env = os.environ.get(KEY_ENV)
    if env:
        secret = _decode_secret(env.encode())
        if len(secret) < KEY_MIN_BYTES:
            raise JournalError(path_hint or KEY_ENV, f"{KEY_ENV} is shorter than {KEY_MIN_BYTES} bytes",
                               "generate one: vendorwall journal keygen --print")
        return Key(secret, f"${KEY_ENV}")
    path = os.environ.get(KEY_FILE_ENV) or DEFAULT_KEY_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        if os.environ.get(KEY_FILE_ENV):
            raise JournalError(path, "the journal key file does not exist",
                               f"create it (vendorwall journal keygen --out {path}) or unset {KEY_FILE_ENV}") from None
        return None
    except OSError as exc:
        raise JournalError(path, f"cannot read the journal key file: {exc.strerror}",
                           "it must be a regular file readable by the account running vendorwall") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o077:
            raise JournalError(path, f"the journal key file is readable by group or others "
                               f"(mode {stat.S_IMODE(st.st_mode):04o}) or not a regular file",
                               f"chmod 400 {path}: a key others can read authenticates nothing")
        secret = _decode_secret(fh.read(4096))
    if len(secret) < KEY_MIN_BYTES:
        raise JournalError(path, f"the journal key is shorter than {KEY_MIN_BYTES} bytes",
                           f"generate one: vendorwall journal keygen --out {path}")
    return Key(secret, path)


def keygen(path: str | None) -> str:
    """A new random key (hex), written to ``path`` (0400, never overwritten) when given."""
    secret = os.urandom(32).hex()
    if path:
        ensure_dir(os.path.dirname(os.path.abspath(path)))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400)
        with os.fdopen(fd, "w") as fh:
            fh.write(secret + "\n")
    return secret


# --------------------------------------------------------------------------- identity and anchors


def journal_id(path: str) -> str:
    """A journal's name: ``<inventory>/<journal>`` for a state directory's ``<inventory>/journals/<journal>.jsonl``,
    else the file's name. Several journals may share it (two controllers, a state directory started anew):
    :func:`identity` tells them apart."""
    p = os.path.abspath(path)
    stem = _idpart(os.path.basename(p).removesuffix(".jsonl"))
    parent = os.path.dirname(p)
    if os.path.basename(parent) == "journals":
        return f"{_idpart(os.path.basename(os.path.dirname(parent)))}/{stem}"
    return stem


def _idpart(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:100] or "_"


def identity(path: str, first: dict[str, Any] | None = None) -> str:
    """The journal's identity in anchors: its name and the first 12 hex digits of its first entry's hash
    (``example/incident/3fb9ca9adff8``), unique per journal; ``first``: that entry, when at hand."""
    if first is None:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                first = json.loads(fh.readline() or "{}")
        except (OSError, ValueError):
            first = {}
    genesis = str((first or {}).get("hash", ""))[:12] if isinstance(first, dict) else ""
    return f"{journal_id(path)}/{genesis if re.fullmatch(r'[0-9a-f]{12}', genesis) else 'unknown'}"


def anchor_text(jid: str, entry: dict[str, Any]) -> str:
    return f"journal={jid} seq={entry.get('seq')} hash={entry.get('hash')}"


def _syslog_anchor(jid: str, entry: dict[str, Any]) -> None:
    """Best effort: no syslog daemon (a container, a sandbox) is not an error."""
    with contextlib.suppress(Exception):
        import syslog

        syslog.openlog(SYSLOG_IDENT, syslog.LOG_PID, syslog.LOG_AUTHPRIV)
        syslog.syslog(syslog.LOG_NOTICE, anchor_text(jid, entry))
        syslog.closelog()


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str
    where: str  # "syslog export FILE", "device fw-nord", ...


def parse_anchors(text: str, jid: str, where: str) -> list[Anchor]:
    """Anchors of the journal whose :func:`identity` is ``jid`` in any text (a syslog export, a dump)."""
    return [Anchor(int(m.group(2)), m.group(3), where) for m in ANCHOR_RE.finditer(text) if m.group(1) == jid]


def other_journals(text: str, jid: str) -> dict[str, int]:
    """Other journals of the same name in an anchor text: identity -> latest anchored entry."""
    base = jid.rsplit("/", 1)[0]
    out: dict[str, int] = {}
    for m in ANCHOR_RE.finditer(text):
        if m.group(1) != jid and m.group(1).rsplit("/", 1)[0] == base:
            out[m.group(1)] = max(out.get(m.group(1), 0), int(m.group(2)))
    return out


# --------------------------------------------------------------------------- writing


def _last_line(fh: Any) -> str:
    fh.seek(0, os.SEEK_END)
    end = fh.tell()
    if end == 0:
        return ""
    block, pos, data = 65536, end, b""
    while pos > 0:
        step = min(block, pos)
        pos -= step
        fh.seek(pos)
        data = fh.read(step) + data
        lines = data.rstrip(b"\n").split(b"\n")
        if len(lines) > 1 or pos == 0:
            return lines[-1].decode(errors="replace")
    return ""


def append(path: str, entry: dict[str, Any], *, key: Key | bool | None = True) -> dict[str, Any]:
    """Append ``entry`` chained to the last one; returns it with ``seq``, ``prev``, ``hash`` (and ``key_id``,
    ``mac`` with a key). ``key``: True (default) loads the configured key, None/False writes without one.
    Raises :class:`JournalError` when the entry could not be written whole (nothing half-written stays)."""
    k = load_key(path) if key is True else (key or None)
    try:
        ensure_dir(os.path.dirname(os.path.abspath(path)))
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        raise JournalError(path, f"cannot open the journal: {exc.strerror}", _space_hint(exc)) from None
    with os.fdopen(fd, "rb+", buffering=0) as fh:  # unbuffered: a failed write never resurfaces at close
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            with contextlib.suppress(OSError):
                os.fchmod(fh.fileno(), 0o600)
            last = _last_line(fh)
            prev, seq = "", 0
            if last.strip():
                try:
                    data = json.loads(last)
                    prev, seq = str(data.get("hash", "")), int(data.get("seq", 0))
                except (json.JSONDecodeError, ValueError, TypeError, AttributeError):
                    # a damaged last line: chain to its raw digest, verify() reports the damage
                    prev, seq = hashlib.sha256(last.encode()).hexdigest(), -1
            out = {"seq": seq + 1 if seq >= 0 else 0, "prev": prev, **{x: y for x, y in entry.items()
                                                                      if x not in ("seq", "prev", *_UNSIGNED)}}
            out["hash"] = entry_hash(out)
            if k is not None:
                out["key_id"] = k.id
                out["mac"] = k.mac(out)
            line = canonical(out) + b"\n"
            size = fh.seek(0, os.SEEK_END)
            if size and not _ends_with_newline(fh, size):
                line = b"\n" + line  # a cut last line stays alone on its line (verify reports it)
            try:
                view = memoryview(line)
                while view:
                    view = view[os.write(fh.fileno(), view):]
                os.fsync(fh.fileno())
            except OSError as exc:
                with contextlib.suppress(OSError):
                    fh.truncate(size)  # no half-written entry left behind
                raise JournalError(path, f"cannot write the journal: {exc.strerror}", _space_hint(exc)) from None
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    _syslog_anchor(identity(path, out if out["seq"] == 1 else None), out)
    return out


def _ends_with_newline(fh: Any, size: int) -> bool:
    fh.seek(size - 1)
    return bool(fh.read(1) == b"\n")


def _space_hint(exc: OSError) -> str:
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk holding the state directory is full: free space, then rerun to journal"
    if exc.errno == errno.EROFS:
        return "the state directory is on a read-only file system"
    return "check the state directory's owner and permissions (vendorwall --state-dir DIR)"


def read(path: str) -> list[dict[str, Any]]:
    """The journal's entries (lines that are not JSON objects are skipped: :func:`verify` reports them)."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                e = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(e, dict):
                out.append(e)
    return out


# --------------------------------------------------------------------------- verifying


@dataclass
class Verified:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    entries: int = 0
    last_seq: int = 0


def verify(path: str, *, anchors: list[Anchor] | None = None, key: Key | bool | None = True) -> list[str]:
    """Every problem of the journal, as ``line N: what``; empty when it is intact (see :func:`check`)."""
    return check(path, anchors=anchors, key=key).problems


def check(path: str, *, anchors: list[Anchor] | None = None, key: Key | bool | None = True,
          others: dict[str, int] | None = None) -> Verified:
    """The chain (prev, hash, seq), the MACs (with the configured key), a cut last line, and the anchors:
    each must name an entry that is in the journal with the same hash. ``others``: anchored journals of the
    same name but another identity (identity -> latest entry): when this journal has no anchor at all and
    others do, the file may have replaced one of them (its first entry rewritten)."""
    v = Verified()
    if not os.path.exists(path):
        v.problems.append(f"{path}: no such journal")
        return v
    try:
        k = load_key(path) if key is True else (key or None)
    except JournalError as exc:
        v.problems.append(f"journal key: {exc.message}")
        k = None
    prev, seq = "", 0
    by_seq: dict[int, str] = {}
    with open(path, "rb") as fh:
        raw = fh.read()
    lines = raw.split(b"\n")
    if raw and not raw.endswith(b"\n"):
        v.problems.append(f"line {len(lines)}: truncated (the file ends in the middle of an entry)")
    unsigned = []
    for n, bline in enumerate(lines, 1):
        line = bline.decode("utf-8", "replace")
        if not line.strip():
            continue
        try:
            e = json.loads(line)
            if not isinstance(e, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            if not (n == len(lines) and raw and not raw.endswith(b"\n")):
                v.problems.append(f"line {n}: not a JSON entry ({exc})")
            prev, seq = hashlib.sha256(line.encode()).hexdigest(), seq + 1
            continue
        v.entries += 1
        if e.get("prev") != prev:
            v.problems.append(f"line {n}: prev does not match the previous entry's hash (a line was removed, "
                              "changed or reordered before it)")
        if e.get("hash") != entry_hash(e):
            v.problems.append(f"line {n}: hash does not match the entry's content (the line was edited)")
        if e.get("seq") != seq + 1:
            v.problems.append(f"line {n}: seq {e.get('seq')} after {seq}")
        if k is not None:
            if "mac" not in e:
                unsigned.append(n)
            elif e.get("key_id") != k.id:
                v.problems.append(f"line {n}: authenticated with another key ({e.get('key_id')}, this one is "
                                  f"{k.id})")
            elif not hmac.compare_digest(str(e.get("mac")), k.mac(e)):
                v.problems.append(f"line {n}: MAC does not match (the entry was forged or re-chained without "
                                  "the journal key)")
        prev = str(e.get("hash", ""))
        seq = e["seq"] if isinstance(e.get("seq"), int) else seq + 1
        by_seq[seq] = prev
    v.last_seq = seq
    if unsigned:
        v.problems.append(f"lines {_ranges(unsigned)}: no MAC although a journal key is configured (written "
                          "without the key, or forged)")
    if k is None:
        v.notes.append("entries not authenticated: no journal key configured (vendorwall journal keygen)")
    else:
        v.notes.append(f"MACs checked with key {k.id} ({k.source})")
    for a in sorted(anchors or [], key=lambda a: (a.seq, a.where)):
        have = by_seq.get(a.seq)
        if have is None and a.seq > v.last_seq:
            v.problems.append(f"truncated: {a.where} anchors entry {a.seq} (sha256 {a.hash[:12]}), the journal "
                              f"ends at entry {v.last_seq}")
        elif have is None:
            v.problems.append(f"entry {a.seq} anchored by {a.where} is missing from the journal")
        elif have != a.hash:
            v.problems.append(f"entry {a.seq} differs from its anchor on {a.where} (sha256 {have[:12]} here, "
                              f"{a.hash[:12]} anchored): the journal was rewritten")
    if anchors:
        v.notes.append(f"{len(anchors)} anchors checked (latest: entry {max(a.seq for a in anchors)})")
    elif anchors is not None and others:
        v.problems.append("no anchor of this journal anywhere, but anchors of other journals of the same name: "
                          + ", ".join(f"{i} (up to entry {n})" for i, n in sorted(others.items()))
                          + ": this file may have replaced one of them (its first entry rewritten)")
    elif anchors is not None:
        v.notes.append("no anchor found: a cut tail or a re-chained file cannot be told from the file alone")
    if others and anchors:
        v.notes.append("other journals of the same name are anchored too (another controller, or a journal "
                       "started anew): " + ", ".join(f"{i} (up to entry {n})" for i, n in sorted(others.items())))
    return v


def _ranges(ns: list[int]) -> str:
    """[1, 2, 3, 7] -> "1-3, 7"."""
    out: list[str] = []
    start = last = ns[0] if ns else 0
    for n in [*ns[1:], None]:
        if n is not None and n == last + 1:
            last = n
            continue
        out.append(str(start) if start == last else f"{start}-{last}")
        if n is not None:
            start = last = n
    return ", ".join(out)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 4) or argv[0] != "verify" or (len(argv) == 4 and argv[2] != "--anchors"):
        print("usage: python3 -m vendorwall.journal verify JOURNAL [--anchors FILE]", file=sys.stderr)
        return 2
    anchors, others = None, None
    if len(argv) == 4:
        with open(argv[3], encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        jid = identity(argv[1])
        anchors, others = parse_anchors(text, jid, f"anchors file {argv[3]}"), other_journals(text, jid)
    v = check(argv[1], anchors=anchors, others=others)
    for p in v.problems:
        print(f"{argv[1]}: {p}")
    for note in v.notes:
        print(f"{argv[1]}: note: {note}")
    if not v.problems:
        print(f"{argv[1]}: intact ({v.entries} entries)")
    return 1 if v.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
