"""The access path during an isolation: disable the vendor's accounts on its bastions, end their sessions.

Per bastion the manifest names for the vendor's accounts, **one SSH round trip** (on the firewalls' thread
pool, at the same time as the firewalls): the ``accounts`` agent (:mod:`vendorwall.devices.agents.accounts`)
fed JSON, acting only on accounts the bastion's registry says vendorwall created (an account of the same
name that vendorwall did not create is never touched, and is named in the result):

- isolate (op ``lock`` with ``isolate``): record the account's state before in the registry (written
  once: a rerun keeps the first record), ``usermod --lock --expiredate 1`` (sshd refuses a locked or
  expired account), then ``pkill -KILL`` until no process of the account is left (its SSH sessions
  end), and read the shadow entry back;
- restore (op ``unlock``): for accounts that carry an isolation record, set the expiry date the manifest
  carries (the inventory's ``expires``) and unlock, unless the account was already locked before the
  isolation (by the account review, say): then it stays locked; accounts without a record are left
  alone (not disabled by vendorwall) and reported;
- check: only read (accounts, lock, expiry, live processes, isolation record).

Pure apart from :func:`run_bastion` (unit-testable with recorded answers).
"""

from __future__ import annotations

import datetime as dt
import shlex
import time
from dataclasses import dataclass, field
from typing import Any

from ..deploy.errors import DeployError
from ..deploy.session import Target
from ..devices import agents
from .manifest import Manifest


@dataclass(frozen=True)
class AccountRef:
    vendor: str
    id: str
    person: str
    expires: str  # ISO date, the inventory's


@dataclass
class BastionPlan:
    bastion: str
    platform: str
    mgmt_address: str
    vendors: list[str]
    accounts: list[AccountRef]  # the manifest's accounts of these vendors on this bastion


def plan(m: Manifest, vendors: list[str]) -> list[BastionPlan]:
    """One entry per bastion the manifest names for the vendors' accounts (sorted; deterministic)."""
    out: dict[str, BastionPlan] = {}
    for v in vendors:
        for a in m.vendors[v].accounts:
            for b in a.bastions:
                info = m.bastions.get(b)
                bp = out.setdefault(b, BastionPlan(b, info.platform if info else "", info.mgmt_address if info else "",
                                                   [], []))
                if v not in bp.vendors:
                    bp.vendors.append(v)
                bp.accounts.append(AccountRef(v, a.id, a.person, a.expires))
    for bp in out.values():
        bp.vendors.sort()
        bp.accounts.sort(key=lambda a: (a.vendor, a.id))
    return [out[k] for k in sorted(out)]


def manual_command(account: str) -> str:
    q = shlex.quote(account)
    return f"usermod --lock --expiredate 1 {q} && pkill -KILL -u {q}"


# --------------------------------------------------------------------------- the agent's request


def request(bp: BastionPlan, action: str, check: bool) -> dict[str, Any]:
    """The ``accounts`` agent request of one bastion (data only: ids, vendor names, dates)."""
    if action == "isolate":
        return {"op": "lock", "isolate": True, "check": check, "vendors": bp.vendors,
                "ids": sorted({a.id for a in bp.accounts})}
    return {"op": "unlock", "check": check, "vendors": bp.vendors,
            "accounts": [{"id": a.id, "vendor": a.vendor, "expires": a.expires} for a in bp.accounts]}


# --------------------------------------------------------------------------- reading it back


def _day(iso: str) -> int | None:
    try:
        return (dt.date.fromisoformat(iso) - dt.date(1970, 1, 1)).days
    except ValueError:
        return None


def _date(day: str) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=int(day))).isoformat() if day.strip().isdigit() else "never"


@dataclass
class AccountState:
    id: str
    vendor: str
    action: str  # disable | enable | keptlocked | norecord | notinmanifest | read
    rc: int
    locked_before: bool
    expire_before: str  # shadow field 8 (days since the epoch), "" none
    processes_before: int
    locked_after: bool
    expire_after: str
    processes_left: int
    record: str  # the isolation record on the bastion ("" none)

    def to_data(self) -> dict[str, Any]:
        return {"id": self.id, "vendor": self.vendor, "action": self.action, "rc": self.rc,
                "locked_before": self.locked_before, "expires_before": _date(self.expire_before),
                "processes_before": self.processes_before, "locked_after": self.locked_after,
                "expires_after": _date(self.expire_after), "processes_left": self.processes_left,
                "isolation_record": self.record}


@dataclass
class Parsed:
    accounts: list[AccountState] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    t0: float | None = None
    t1: float | None = None
    complete: bool = False


def _record(rec: Any) -> str:
    if not isinstance(rec, dict):
        return ""
    return f"was_locked={int(bool(rec.get('was_locked')))} expire={rec.get('expire', '')} at={int(rec.get('at') or 0)}"


def parse(answer: dict[str, Any] | None) -> Parsed:
    """The agent's answer as :class:`Parsed` (an answer without ``ok`` is incomplete)."""
    p = Parsed()
    if not isinstance(answer, dict) or not answer.get("ok"):
        return p
    for x in answer.get("accounts", []):
        p.accounts.append(AccountState(str(x.get("id", "")), str(x.get("vendor", "")), str(x.get("action", "")),
                                       int(x.get("rc", -1)), bool(x.get("locked_before")),
                                       str(x.get("expire_before", "")), int(x.get("processes_before", 0)),
                                       bool(x.get("locked_after")), str(x.get("expire_after", "")),
                                       int(x.get("processes_left", 0)), _record(x.get("record"))))
    p.foreign = sorted(str(f.get("id", "")) for f in answer.get("foreign", []))
    p.t0 = _float(str(answer.get("t0", "")))
    p.t1 = _float(str(answer.get("t1", "")))
    p.complete = True
    p.accounts.sort(key=lambda a: (a.vendor, a.id))
    return p


def _int(text: str) -> int:
    return int(text.strip()) if text.strip().isdigit() else 0


def _float(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None


@dataclass
class BastionResult:
    device: str
    platform: str
    host: str
    vendors: list[str]
    status: str = "failed"  # disabled | restored | checked | skipped | failed
    changed: bool = False
    accounts: list[AccountState] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # manifest accounts not on the bastion
    not_managed: list[str] = field(default_factory=list)  # exist without this vendor's tag: not touched
    bad: list[str] = field(default_factory=list)  # accounts not in the wanted state afterwards
    planned: list[str] = field(default_factory=list)  # the manifest's account ids here
    error: str = ""
    error_kind: str = ""
    notes: list[str] = field(default_factory=list)
    device_t1: float | None = None
    done_at: float = 0.0
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @property
    def sessions_ended(self) -> int:
        return sum(max(0, a.processes_before - a.processes_left) for a in self.accounts if a.action == "disable")

    def to_data(self) -> dict[str, Any]:
        return {"device": self.device, "kind": "bastion", "platform": self.platform, "host": self.host,
                "vendors": self.vendors, "result": self.status, "changed": self.changed, "failed": self.failed,
                "accounts": [a.to_data() for a in self.accounts], "planned": self.planned,
                "missing": self.missing, "not_managed": self.not_managed, "not_done": self.bad,
                "processes_killed": self.sessions_ended, "error": self.error, "error_kind": self.error_kind,
                "notes": self.notes,
                "device_change_at": _stamp(self.device_t1) if self.device_t1 else None,
                "done_at": _stamp(self.done_at) if self.done_at else None, "seconds": round(self.seconds, 3)}


def _stamp(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def evaluate(bp: BastionPlan, action: str, check: bool, answer: dict[str, Any] | None,
             res: BastionResult) -> BastionResult:
    """Decide a bastion's result from the agent's answer (pure)."""
    p = parse(answer)
    res.device_t1 = p.t1
    if not p.complete:
        res.status, res.error_kind = "failed", "command"
        what = (answer or {}).get("error") if isinstance(answer, dict) else None
        res.error = f"the bastion's accounts agent did not finish: {what or 'no answer'}"
        return res
    res.accounts = p.accounts
    found = {a.id for a in p.accounts}
    res.not_managed = sorted(p.foreign)
    res.missing = sorted({a.id for a in bp.accounts} - found - set(p.foreign))
    extra = sorted(found - {a.id for a in bp.accounts})
    if extra:
        res.notes.append(f"vendorwall accounts of the vendor not in the manifest: {', '.join(extra)} "
                         f"({'disabled too' if action == 'isolate' else 'left as they are'})")
    if res.not_managed:
        res.notes.append(f"exist but vendorwall did not create them, NOT touched (check them by hand): "
                         f"{', '.join(res.not_managed)}")
    if res.missing:
        res.notes.append(f"not on this bastion: {', '.join(res.missing)}")
    if check:
        res.status = "checked"
        return res
    want_exp = {a.id: _day(a.expires) for a in bp.accounts}
    for a in p.accounts:
        if action == "isolate":
            ok = a.rc == 0 and a.locked_after and a.expire_after == "1" and a.processes_left == 0
            if not ok:
                res.bad.append(a.id)
            if not a.locked_before or a.expire_before != "1" or a.processes_before:
                res.changed = True
        elif a.action in ("enable", "keptlocked"):
            ok = a.rc == 0 and a.expire_after == str(want_exp.get(a.id)) and (a.action == "keptlocked"
                                                                                or not a.locked_after)
            if not ok:
                res.bad.append(a.id)
            res.changed = True
            if a.action == "keptlocked":
                res.notes.append(f"{a.id}: was already locked before the isolation: expiry restored, left locked")
        elif a.action == "norecord" and (a.locked_after or a.expire_after == "1"):
            res.notes.append(f"{a.id}: locked or expired, but not by a vendorwall isolation: left as it is "
                             f"(by hand if it must come back: usermod --unlock --expiredate DATE {a.id})")
        elif a.action == "notinmanifest":
            res.notes.append(f"{a.id}: no longer in the manifest: left disabled")
    if res.bad:
        res.status, res.error_kind = "failed", "verify"
        what = "not locked, not expired or still running processes" if action == "isolate" else "not re-enabled"
        res.error = f"accounts {what} afterwards: {', '.join(res.bad)}"
        if action == "isolate":
            res.error += "; by hand: " + "; ".join(manual_command(x) for x in res.bad)
    else:
        res.status = "disabled" if action == "isolate" else "restored"
    return res


def run_bastion(t: Target | None, bp: BastionPlan, action: str, check: bool, *,
                skip_reason: str = "") -> BastionResult:
    t0 = time.monotonic()
    res = BastionResult(bp.bastion, bp.platform, t.host if t else bp.mgmt_address, list(bp.vendors),
                        planned=[a.id for a in bp.accounts])
    try:
        if skip_reason:
            res.status, res.error_kind, res.error = "skipped", "not in the lab", skip_reason
            return res
        if t is None:
            res.error_kind = "unknown bastion"
            res.error = (f"bastion {bp.bastion} is not in the manifest's bastions (no address): disable the "
                         "accounts by hand")
            return res
        if bp.platform not in ("linux", ""):
            res.error_kind = "unsupported"
            res.error = f"platform {bp.platform}: vendorwall cannot manage accounts on it; disable them by hand"
            return res
        return evaluate(bp, action, check, agents.run_agent(t, "accounts", request(bp, action, check)), res)
    except DeployError as exc:
        res.status, res.error_kind, res.error = "failed", exc.kind, str(exc)
        return res
    finally:
        res.done_at = time.time()
        res.seconds = time.monotonic() - t0
