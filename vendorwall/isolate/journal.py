"""The incident journal: append-only JSON lines, each entry hash-chained to the one before.

Every isolate/restore/check run appends a ``started`` entry (who, when, why, ticket, what is
planned) while the devices are being changed, and a ``finished`` entry (per device: result, error,
elements, the device's change time, seconds). Each line is one JSON object with ``seq`` (1, 2,
...), ``prev`` (the previous entry's ``hash``; ``""`` for the first) and ``hash`` = sha256 of the
entry's canonical JSON without ``hash`` (sorted keys, no spaces, UTF-8). Editing, removing or
reordering a line breaks the chain at that line: :func:`verify` says where.

    python3 -m vendorwall.isolate.journal verify build/example/incident-journal.jsonl

Writers take an exclusive ``flock`` on the file, so two runs at once still chain correctly.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import getpass
import hashlib
import json
import os
import socket
import sys
from typing import Any

from .. import actor

JOURNAL_NAME = "incident-journal.jsonl"


def canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def utcnow() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def who() -> dict[str, Any]:
    """The person behind the run: the sudo caller if any, else the login user; plus uid and host; under
    AWX/AAP the person and the job the modules were given (:mod:`vendorwall.actor`)."""
    user = os.environ.get("SUDO_USER") or os.environ.get("USER") or os.environ.get("LOGNAME")
    if not user:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = f"uid {os.getuid()}"
    return actor.apply({"user": user, "uid": os.getuid(), "host": socket.gethostname()})


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


def append(path: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Append ``entry`` chained to the last one; returns it with ``seq``, ``prev`` and ``hash``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "ab+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            last = _last_line(fh)
            prev, seq = "", 0
            if last.strip():
                try:
                    data = json.loads(last)
                    prev, seq = str(data.get("hash", "")), int(data.get("seq", 0))
                except (json.JSONDecodeError, ValueError, TypeError, AttributeError):
                    # a damaged last line: chain to its raw digest, verify() reports the damage
                    prev, seq = hashlib.sha256(last.encode()).hexdigest(), -1
            out = {"seq": seq + 1 if seq >= 0 else 0, "prev": prev, **entry}
            out["hash"] = entry_hash(out)
            fh.seek(0, os.SEEK_END)
            fh.write(canonical(out) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return out


def read(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def verify(path: str) -> list[str]:
    """Every break of the chain, as ``line N: what``; empty when the journal is intact."""
    problems: list[str] = []
    prev, seq = "", 0
    if not os.path.exists(path):
        return [f"{path}: no such journal"]
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                e = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"line {n}: not JSON ({exc.msg})")
                prev, seq = hashlib.sha256(line.rstrip("\n").encode()).hexdigest(), seq + 1
                continue
            if e.get("prev") != prev:
                problems.append(f"line {n}: prev does not match the previous entry's hash (a line was removed, "
                                "changed or reordered before it)")
            if e.get("hash") != entry_hash(e):
                problems.append(f"line {n}: hash does not match the entry's content (the line was edited)")
            if e.get("seq") != seq + 1:
                problems.append(f"line {n}: seq {e.get('seq')} after {seq}")
            prev, seq = str(e.get("hash", "")), int(e.get("seq", seq + 1)) if isinstance(e.get("seq"), int) else seq + 1
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "verify":
        print("usage: python3 -m vendorwall.isolate.journal verify JOURNAL", file=sys.stderr)
        return 2
    problems = verify(argv[1])
    for p in problems:
        print(f"{argv[1]}: {p}")
    if not problems:
        print(f"{argv[1]}: intact ({len(read(argv[1]))} entries)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
