"""Send alerts once per channel, retried, within a deadline; never raise.

The alert journal (``<state dir>/journals/alerts.jsonl``, hash-chained like every journal) records each
attempt's outcome per channel: ``sent`` or ``failed`` (with the error, without secrets). An alert whose
key has a ``sent`` entry for a channel is not sent there again, except a time-based one (a missed
break-glass review, a contract ending, a tunnel past its retirement) once ``repeat_days`` have passed. A
failed channel is retried at the next dispatch. Two dispatches at once take turns (a lock file); one that
cannot get the lock before its deadline defers everything to the next.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..isolate import journal
from ..model import Alerts
from ..state import private_open
from . import channels
from .events import TIME_BASED, Alert


@dataclass
class Report:
    sent: list[tuple[str, str]] = field(default_factory=list)  # (key, channel)
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (key, channel, error)
    already: int = 0
    deferred: int = 0  # not attempted: the deadline passed first
    note: str = ""

    def line(self) -> str:
        if self.note:
            return f"alerts: {self.note}"
        by: dict[str, int] = {}
        for _k, ch in self.sent:
            by[ch] = by.get(ch, 0) + 1
        text = f"alerts: {len(self.sent)} sent" + (f" ({', '.join(f'{c} {n}' for c, n in sorted(by.items()))})"
                                                    if by else "")
        if self.failed:
            errs = sorted({f"{ch}: {err}" for _k, ch, err in self.failed})
            text += f", {len(self.failed)} FAILED ({'; '.join(errs)[:400]}; retried at the next dispatch)"
        if self.already:
            text += f", {self.already} already sent"
        if self.deferred:
            text += f", {self.deferred} deferred (deadline; sent by the next 'vendorwall alerts check')"
        return text

    def to_data(self) -> dict[str, Any]:
        return {"sent": [list(x) for x in self.sent], "failed": [list(x) for x in self.failed],
                "already": self.already, "deferred": self.deferred, "note": self.note}


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def history(store: str) -> dict[tuple[str, str], dt.datetime]:
    """(key, channel) -> when it was last sent."""
    out: dict[tuple[str, str], dt.datetime] = {}
    if not os.path.exists(store):
        return out
    for e in journal.read(store):
        if e.get("event") == "sent":
            try:
                at = dt.datetime.fromisoformat(str(e.get("at", "")).replace("Z", "+00:00"))
            except ValueError:
                continue
            out[(e.get("key", ""), e.get("channel", ""))] = at
    return out


@contextlib.contextmanager
def _locked(path: str, deadline: float) -> Iterator[bool]:
    with private_open(path + ".lock", "a") as fh:
        got = False
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                got = True
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.05)
        try:
            yield got
        finally:
            if got:
                fcntl.flock(fh, fcntl.LOCK_UN)


Sender = Callable[[Alert, Any, str, float], None]


def dispatch(alerts: list[Alert], cfg: Alerts, store: str, inventory: str, now: dt.datetime, *,
             deadline_s: float = 30.0, senders: dict[str, Sender] | None = None,
             sleep: Callable[[float], None] = time.sleep) -> Report:
    """Send ``alerts`` on every configured channel not yet done; at most ``deadline_s`` seconds."""
    rep = Report()
    try:
        chans = channels.configured(cfg)
        if not chans:
            rep.note = "no channel configured (policy.alerts: email, webhook, syslog)"
            return rep
        send_by: dict[str, Sender] = senders or dict(channels.SENDERS)
        deadline = time.monotonic() + deadline_s
        with _locked(store, deadline) as got:
            if not got:
                rep.deferred = len(alerts) * len(chans)
                return rep
            sent = history(store)
            repeat = dt.timedelta(days=cfg.repeat_days)
            for a in alerts:
                for name, conf in sorted(chans.items()):
                    last = sent.get((a.key, name))
                    if last is not None and (a.kind not in TIME_BASED or now - last < repeat):
                        rep.already += 1
                        continue
                    if time.monotonic() >= deadline:
                        rep.deferred += 1
                        continue
                    err = _attempt(send_by[name], a, conf, inventory, cfg, deadline, sleep)
                    entry = {"event": "sent" if err is None else "failed", "at": _iso(now), "when": journal.utcnow(),
                             "key": a.key, "kind": a.kind, "channel": name, "title": a.title}
                    if err is None:
                        rep.sent.append((a.key, name))
                        sent[(a.key, name)] = now
                    else:
                        entry["error"] = err
                        rep.failed.append((a.key, name, err))
                    journal.append(store, entry)
    except Exception as exc:  # an alert problem must never fail the run that raised it
        rep.note = f"not sent: {type(exc).__name__}: {str(exc)[:200]}"
    return rep


def _attempt(send: Sender, a: Alert, conf: Any, inventory: str, cfg: Alerts, deadline: float,
             sleep: Callable[[float], None]) -> str | None:
    err = "not attempted"
    for i in range(cfg.retries + 1):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            send(a, conf, inventory, min(cfg.timeout_seconds, left))
            return None
        except channels.ChannelError as exc:
            err = exc.message
            if exc.permanent:
                break
        pause = min(0.5 * 2 ** i, deadline - time.monotonic())
        if i < cfg.retries and pause > 0:
            sleep(pause)
    return err
