"""The access path during an isolation: disable the vendor's accounts on its bastions, end their sessions.

Per bastion the manifest names for the vendor's accounts, **one SSH round trip** (the firewalls'
transport, on the same thread pool, at the same time as the firewalls), one script that acts only on
accounts tagged ``vendorwall/<vendor>/...`` in their GECOS field (the tag ``vendorwall accounts``
writes; an untagged account, even with a vendor account's name, is never touched):

- isolate: record the account's state before (``/var/log/vendorwall/isolated/<user>``, root only,
  written once: a rerun keeps the first record), ``usermod --lock --expiredate 1`` (sshd refuses a
  locked or expired account), then ``pkill -KILL -u`` until no process of the account is left (its
  SSH sessions end), and read the shadow entry back;
- restore: for accounts that carry an isolation record, set the expiry date the manifest carries
  (the inventory's ``expires``) and unlock, unless the account was already locked before the
  isolation (by the account review, say): then it stays locked; accounts without a record are left
  alone (not disabled by vendorwall) and reported;
- check: only read (accounts, lock, expiry, live processes, isolation record).

The record lives under ``/var/log`` because the lab bastions have private ``/etc``, ``/home`` and
``/var/log`` only (a record under ``/var/lib`` would land on the lab machine itself).

Pure apart from :func:`run_bastion` (unit-testable with recorded output).
"""

from __future__ import annotations

import base64
import datetime as dt
import shlex
import time
from dataclasses import dataclass, field
from typing import Any

from ..deploy.errors import DeployError
from ..deploy.session import Target
from . import transport
from .manifest import Manifest

TAG = "vendorwall/"
RECORD_DIR = "/var/log/vendorwall/isolated"
MARK = "@@VWB"
KILL_ROUNDS = 20  # x 0.05 s: pkill again until the account has no process left


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


# --------------------------------------------------------------------------- the bastion script


def _vendor_case(vendors: list[str]) -> str:
    arms = " ".join(f"{shlex.quote(TAG + v + '/')}*) v={shlex.quote(v)} ;;" for v in vendors)
    return f'case "$gecos" in {arms} *) continue ;; esac'


def _expiry_case(accounts: list[AccountRef]) -> str:
    arms = " ".join(f"{shlex.quote(a.id)}) e={shlex.quote(a.expires)} ;;" for a in accounts)
    return f'e=""; case "$u" in {arms} *) ;; esac'


def _emit(fields: list[str]) -> str:
    fmt = "\\t".join(["%s"] * len(fields))
    return f"echo \"{MARK} $(printf '{fmt}' {' '.join(fields)} | base64 -w0)\""


def script(bp: BastionPlan, action: str, check: bool) -> str:
    """The one script a bastion runs (``sh -s``), all in one ``{ ...; } </dev/null`` group."""
    ids = " ".join(shlex.quote(a.id) for a in bp.accounts)
    lines = ["{", "export LC_ALL=C", "umask 077", f"D={RECORD_DIR}",
             # processes of an account, zombies excepted (a killed session is a zombie until its parent reaps it)
             "alive() { ps -o stat= -u \"$1\" 2>/dev/null | grep -vc '^Z'; }",
             # manifest accounts that exist without this vendor's tag: named, never touched
             f"for u in {ids}; do g=$(getent passwd \"$u\" | cut -d: -f5); [ -n \"$g\" ] || continue; "
             f"case \"$g\" in {TAG}*) ;; *) echo \"{MARK}FOREIGN $u\" ;; esac; done" if ids else "true",
             f'echo "{MARK}T0 $(date +%s.%N)"',
             "getent passwd | while IFS=: read -r u _x _uid _gid gecos _home _sh; do",
             "  " + _vendor_case(bp.vendors),
             '  sh_=$(getent shadow "$u"); pw=$(echo "$sh_" | cut -d: -f2); ex=$(echo "$sh_" | cut -d: -f8)',
             '  np=$(alive "$u"); rec=""; [ -f "$D/$u" ] && rec=$(cat "$D/$u")',
             '  act=read; rc=0']
    if not check and action == "isolate":
        lines += ['  if [ -z "$rec" ]; then mkdir -p "$D" && chmod 700 "$D";'
                  ' case "$pw" in "!"*) wl=1 ;; *) wl=0 ;; esac;'
                  ' rec="was_locked=$wl expire=$ex at=$(date +%s)"; printf "%s\\n" "$rec" > "$D/$u"; fi',
                  '  usermod --lock --expiredate 1 "$u" >/dev/null 2>&1; rc=$?; act=disable',
                  f'  i=0; while [ "$(alive "$u")" != 0 ] && [ $i -lt {KILL_ROUNDS} ]; do '
                  'pkill -KILL -u "$u" 2>/dev/null; [ $i = 0 ] || sleep 0.05; i=$((i+1)); done']
    elif not check:
        lines += ["  " + _expiry_case(bp.accounts),
                  '  if [ -z "$rec" ]; then act=norecord',
                  '  elif [ -z "$e" ]; then act=notinmanifest',
                  '  else',
                  '    usermod --expiredate "$e" "$u" >/dev/null 2>&1; rc=$?',
                  '    case "$rec" in *was_locked=1*) act=keptlocked ;;'
                  ' *) act=enable; usermod --unlock "$u" >/dev/null 2>&1 || rc=$? ;; esac',
                  '    [ "$rc" = 0 ] && rm -f "$D/$u"',
                  "  fi"]
    lines += ['  sh_=$(getent shadow "$u"); pw2=$(echo "$sh_" | cut -d: -f2); ex2=$(echo "$sh_" | cut -d: -f8)',
              '  case "$pw" in "!"*) l1=1 ;; *) l1=0 ;; esac; case "$pw2" in "!"*) l2=1 ;; *) l2=0 ;; esac',
              '  left=$(alive "$u"); [ "$left" = 0 ] || rec="$rec left:'
              ' $(ps -o pid=,stat=,comm= -u "$u" 2>/dev/null | grep -v \' Z \' | tr \'\\n\' \';\')"',
              "  " + _emit(['"$u"', '"$v"', '"$act"', '"$rc"', '"$l1"', '"$ex"', '"$np"', '"$l2"', '"$ex2"',
                            '"$left"', '"$rec"']),
              "done",
              f'echo "{MARK}T1 $(date +%s.%N)"',
              f'echo "{MARK}END"',
              "} </dev/null"]
    return "\n".join(lines) + "\n"


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


def parse(out: str) -> Parsed:
    p = Parsed()
    for line in out.replace("\r", "").splitlines():
        if line.startswith(f"{MARK} "):
            f = (base64.b64decode(line.split(" ", 1)[1]).decode(errors="replace").split("\t") + [""] * 11)[:11]
            p.accounts.append(AccountState(f[0], f[1], f[2], int(f[3]) if f[3].strip().isdigit() else -1,
                                           f[4] == "1", f[5].strip(), _int(f[6]), f[7] == "1", f[8].strip(),
                                           _int(f[9]), f[10].strip()))
        elif line.startswith(f"{MARK}FOREIGN "):
            p.foreign.append(line.split(" ", 1)[1].strip())
        elif line.startswith(f"{MARK}T0 "):
            p.t0 = _float(line.split(" ", 1)[1])
        elif line.startswith(f"{MARK}T1 "):
            p.t1 = _float(line.split(" ", 1)[1])
        elif line.strip() == f"{MARK}END":
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


def evaluate(bp: BastionPlan, action: str, check: bool, out: str, res: BastionResult) -> BastionResult:
    """Decide a bastion's result from what its script printed (pure)."""
    p = parse(out)
    res.device_t1 = p.t1
    if not p.complete:
        res.status, res.error_kind = "failed", "command"
        res.error = f"the bastion's script did not finish: {out.strip()[-300:] or 'no output'}"
        return res
    res.accounts = p.accounts
    found = {a.id for a in p.accounts}
    res.not_managed = sorted(p.foreign)
    res.missing = sorted({a.id for a in bp.accounts} - found - set(p.foreign))
    extra = sorted(found - {a.id for a in bp.accounts})
    if extra:
        res.notes.append(f"tagged as the vendor's but not in the manifest: {', '.join(extra)} "
                         f"({'disabled too' if action == 'isolate' else 'left as they are'})")
    if res.not_managed:
        res.notes.append(f"exist WITHOUT the vendorwall tag, NOT touched (check them by hand): "
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
        label = f"vendorwall {action}{' --check' if check else ''} accounts script"
        out = transport.run_script(t, script(bp, action, check), label=label)
        return evaluate(bp, action, check, out.stdout, res)
    except DeployError as exc:
        res.status, res.error_kind, res.error = "failed", exc.kind, str(exc)
        return res
    finally:
        res.done_at = time.time()
        res.seconds = time.monotonic() - t0
