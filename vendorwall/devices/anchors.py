"""Journal anchors on the devices: after a journey journals what it did, the hash of that entry is kept
on the devices it touched (the ``anchor`` agent: a file in the device's vendorwall directory and its
syslog), so :func:`vendorwall.journal.check` can tell a cut or rewritten controller journal.

Best effort by design: an anchor that cannot be written is reported, never a reason to undo or fail what
was done on the device (an isolation stays an isolation).
"""

from __future__ import annotations

from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from .. import journal
from . import agents
from .target import Target


def write_request(t: Target, jid: str, entry: dict[str, Any]) -> dict[str, Any]:
    """The ``anchor`` agent's request that keeps ``entry`` of the journal ``jid`` (:func:`journal.identity`)."""
    return {"op": "write", "dir": t.remote_dir, "journal": jid, "seq": entry["seq"], "hash": entry["hash"]}


def write(targets: list[Target], path: str, entry: dict[str, Any], *, workers: int = 64) -> dict[str, str]:
    """Anchor ``entry`` of the journal at ``path`` on every target; device -> error ("" when written)."""
    jid = journal.identity(path)
    res = agents.run_many(targets, "anchor", lambda t: write_request(t, jid, entry), workers=workers)
    return {d: ("" if r.ok else r.error) for d, r in sorted(res.items())}


def write_in(sessions: list[agents.Session], path: str, entry: dict[str, Any], *, workers: int = 64,
             pool: Executor | None = None) -> dict[str, str]:
    """Anchor ``entry`` over sessions already open on the devices (:class:`agents.Session` serving the
    ``anchor`` agent: no new connection, no new program); device -> error ("" when written). ``pool``: the
    caller's thread pool (else one of ``workers`` threads)."""

    from .errors import DeployError

    jid = journal.identity(path)

    def one(s: agents.Session) -> tuple[str, str]:
        try:
            s.ask("anchor", write_request(s.t, jid, entry))
            return s.t.device, ""
        except DeployError as exc:
            return s.t.device, str(exc)

    if not sessions:
        return {}
    if pool is not None:
        return dict(sorted(pool.map(one, sessions)))
    with ThreadPoolExecutor(max(1, min(workers, len(sessions)))) as own:
        return dict(sorted(own.map(one, sessions)))


def read(targets: list[Target], path: str, *,
         workers: int = 64) -> tuple[list[journal.Anchor], dict[str, int], dict[str, str]]:
    """The anchors of the journal at ``path`` kept on the targets; the other journals of the same name
    anchored there (identity -> latest entry); device -> error for those unread."""
    jid = journal.identity(path)
    base = journal.journal_id(path)
    res = agents.run_many(targets, "anchor", lambda t: {"op": "read", "dir": t.remote_dir, "journal": base},
                          workers=workers)
    out: list[journal.Anchor] = []
    others: dict[str, int] = {}
    errors: dict[str, str] = {}
    for d, r in sorted(res.items()):
        if not r.ok or r.answer is None:
            errors[d] = r.error
            continue
        for a in r.answer.get("anchors", []):
            if a.get("journal") == jid:
                out.append(journal.Anchor(int(a["seq"]), str(a["hash"]), f"device {d}"))
            else:
                others[str(a.get("journal"))] = max(others.get(str(a.get("journal")), 0), int(a["seq"]))
    return out, others, errors


def summary(errors: dict[str, str]) -> str:
    """One report line: on how many devices the journal entry is anchored."""
    ok = sorted(d for d, e in errors.items() if not e)
    bad = sorted(d for d, e in errors.items() if e)
    text = f"journal anchored on {len(ok)} of {len(errors)} devices"
    return text + (f" (not on {', '.join(bad)})" if bad else "")
