# vendorwall agent "anchor": keeps, on a device vendorwall acted on, the hash of the controller journal's
# latest entry (a copy the controller's journal file cannot take back: a cut or rewritten journal no longer
# matches it). Requests (JSON on stdin), answers (JSON on stdout):
#   {"op": "write", "dir": ABS, "journal": ID, "seq": N, "hash": HEX64}
#     -> {"ok", "time"}: one JSON line appended to DIR/journal-anchors.jsonl (0600, directory 0700), and
#        the same line to the device's syslog (authpriv.notice, ident vendorwall-journal) when logger exists
#   {"op": "read", "dir": ABS, "journal": NAME} -> {"ok", "time", "anchors": [{"journal", "seq", "hash", "at"}]}
#     (the anchors of every journal whose id is NAME or starts with NAME/)
# Every value is checked here (directory, journal id and hash by pattern, seq an integer); programs are
# called with argument vectors. Standard library only, Python >= 3.7.
import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time

FILE = "journal-anchors.jsonl"
DIR_RE = re.compile(r"^/[A-Za-z0-9._/-]{1,200}$")
ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}(/[A-Za-z0-9._-]{1,100}){0,2}$")
HASH_RE = re.compile(r"^[0-9a-f]{64}$")


class Bad(Exception):
    pass


def _checked(req):
    d, jid = req.get("dir"), req.get("journal")
    if not isinstance(d, str) or not DIR_RE.match(d) or ".." in d.split("/"):
        raise Bad("dir: an absolute path of letters, digits, . _ - / expected")
    if not isinstance(jid, str) or not ID_RE.match(jid):
        raise Bad("journal: an id of letters, digits, . _ - (two / at most) expected")
    return d.rstrip("/") or "/", jid


def op_write(req):
    d, jid = _checked(req)
    seq, digest = req.get("seq"), req.get("hash")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or not isinstance(digest, str) or \
            not HASH_RE.match(digest):
        raise Bad("seq: an integer and hash: 64 hex digits expected")
    os.makedirs(d, mode=0o700, exist_ok=True)
    line = json.dumps({"journal": jid, "seq": seq, "hash": digest, "at": time.time()}, sort_keys=True) + "\n"
    fd = os.open(os.path.join(d, FILE), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    if shutil.which("logger"):
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(["logger", "-p", "authpriv.notice", "-t", "vendorwall-journal", "--",
                            "journal=%s seq=%d hash=%s" % (jid, seq, digest)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=5)
    return {}


def op_read(req):
    d, jid = _checked(req)
    out = []
    try:
        with open(os.path.join(d, FILE), encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    a = json.loads(line)
                except ValueError:
                    continue
                j = a.get("journal") if isinstance(a, dict) else None
                if isinstance(j, str) and (j == jid or j.startswith(jid + "/")) and isinstance(a.get("seq"), int) \
                        and isinstance(a.get("hash"), str) and HASH_RE.match(a["hash"]):
                    out.append({"journal": j, "seq": a["seq"], "hash": a["hash"], "at": a.get("at")})
    except FileNotFoundError:
        pass
    return {"anchors": out}


OPS = {"write": op_write, "read": op_read}


def handle(req):
    """One request -> (exit status, answer)."""
    if not isinstance(req, dict) or req.get("op") not in OPS:
        return 2, {"ok": False, "error": "unknown op"}
    try:
        answer = OPS[req["op"]](req)
    except Bad as exc:
        return 2, {"ok": False, "error": str(exc)}
    except OSError as exc:
        return 1, {"ok": False, "error": "%s: %s" % (exc.filename or "", exc.strerror)}
    answer.update({"ok": True, "time": time.time()})
    return 0, answer


def main():
    try:
        req = json.loads(sys.stdin.read() or "{}")
    except ValueError as exc:
        print(json.dumps({"ok": False, "error": "request is not JSON: %s" % exc}))
        return 2
    status, answer = handle(req)
    print(json.dumps(answer, sort_keys=True))
    return status


if __name__ == "__main__":
    sys.exit(main())
