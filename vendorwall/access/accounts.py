"""Vendor accounts on the bastions: enforcement and review.

Which accounts live where: every account of a vendor goes to the bastions of the vendor's bastion entry
paths (a VPN-only vendor's accounts live on the VPN concentrator: listed, not enforced).

Enforcement (``vendorwall accounts enforce``, ``playbooks/accounts.yml``), one SSH round trip per bastion:

- create missing accounts (``useradd``), GECOS tag ``vendorwall/<vendor>/<person>``: vendorwall only ever
  modifies or removes accounts carrying that tag;
- set the account expiry (``usermod --expiredate``) to the inventory's ``expires``; no password (``*``);
- write the SSH key with ``expiry-time="YYYYMMDD"`` in authorized_keys (the key dies with the account);
- remove tagged accounts no longer in the inventory (``userdel -r``);
- install the login stamp (``/etc/ssh/sshrc``: one file per user under /var/log/vendorwall/lastlogin) so the
  review sees SSH logins that ``lastlog`` does not record (no tty).

Review (``vendorwall accounts review``, ``playbooks/review.yml``): reads every tagged account (expiry,
lock, last login: ``lastlog`` and the login stamp), locks (``usermod --lock``) those idle longer than
``policy.idle_lock_days`` (never logged in: counted from ``created``) and those past expiry, and writes a
report per vendor: expiring soon (30 days), idle, locked, without owner (PCI DSS 8.2.6 analogue; ANSSI
PA-022: individual accounts, disabled when not needed).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import shlex
from dataclasses import dataclass
from typing import Any

from ..model import Account, Model
from . import devices
from .grants import Outcome

TAG = "vendorwall/"
SOON_DAYS = 30
STAMP_DIR = "/var/log/vendorwall/lastlogin"
SSHRC = f"""#!/bin/sh
# installed by vendorwall accounts: last SSH login per user, read by the account review
[ -d {STAMP_DIR} ] && date +%s > {STAMP_DIR}/"$USER" 2>/dev/null
if read proto cookie && [ -n "$DISPLAY" ]; then
  echo add "unix:${{DISPLAY#*:}}" "$proto" "$cookie" | xauth -q -
fi
"""


@dataclass(frozen=True)
class Wanted:
    bastion: str
    vendor: str
    account: Account
    key: str


def wanted(model: Model, keys: dict[str, str] | None = None) -> tuple[dict[str, list[Wanted]], list[str]]:
    """bastion -> accounts it must hold; plus notes (VPN-only vendors, accounts without key)."""
    inv = model.inventory
    out: dict[str, list[Wanted]] = {n: [] for n, d in inv.devices.items() if d.role == "bastion"}
    notes = []
    for vname, v in sorted(inv.vendors.items()):
        bastions = sorted({p.bastion for p in v.entry_paths if p.kind == "bastion" and p.bastion})
        if not bastions and v.accounts:
            notes.append(f"{vname}: no bastion entry path: its {len(v.accounts)} accounts live on the VPN "
                         "concentrator (not enforced here)")
        for a in sorted(v.accounts, key=lambda a: a.id):
            key = (keys or {}).get(a.id) or a.ssh_key
            for b in bastions:
                out.setdefault(b, []).append(Wanted(b, vname, a, key))
    return out, notes


def _gecos(w: Wanted) -> str:
    person = "".join(c for c in w.account.person if c.isalnum() or c in " .-'")
    return f"{TAG}{w.vendor}/{person}"


def _read_script() -> str:
    return (f"""export LC_ALL=C
getent passwd | while IFS=: read -r u _x uid _g gecos home _s; do
  case "$gecos" in {TAG}*) ;; *) continue ;; esac
  sh_=$(getent shadow "$u" | cut -d: -f2,8)
  ll=$(lastlog -u "$u" 2>/dev/null | tail -n 1 | tr -s ' ' | cut -d' ' -f4-)
  st=$(cat {STAMP_DIR}/"$u" 2>/dev/null)
  kh=$(sha256sum "$home/.ssh/authorized_keys" 2>/dev/null | cut -c1-16)
  echo "@@ACCOUNT $(printf '%s\\t%s\\t%s\\t%s\\t%s\\t%s' "$u" "$gecos" "$sh_" "$ll" "$st" "$kh" | base64 -w0)"
done
echo "@@TODAY $(date +%s)"
""")


@dataclass
class Live:
    user: str
    gecos: str
    locked: bool
    expire_day: int | None  # days since the epoch
    last_login: float | None
    key_hash: str

    @property
    def vendor(self) -> str:
        return self.gecos[len(TAG):].split("/")[0]


def parse_accounts(text: str) -> list[Live]:
    out = []
    for line in text.splitlines():
        if not line.startswith("@@ACCOUNT "):
            continue
        f = base64.b64decode(line.split(" ", 1)[1]).decode(errors="replace").split("\t")
        user, gecos, shadow, ll, stamp, kh = (f + [""] * 6)[:6]
        pw, _, exp = shadow.partition(":")
        last: float | None = None
        if ll and "Never" not in ll:
            try:
                last = dt.datetime.strptime(ll.strip(), "%a %b %d %H:%M:%S %z %Y").timestamp()
            except ValueError:
                last = None
        if stamp.strip().isdigit():
            last = max(last or 0.0, float(stamp.strip()))
        out.append(Live(user, gecos, pw.startswith("!"), int(exp) if exp.strip().isdigit() else None, last, kh))
    return out


def _day(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


def enforce_script(ws: list[Wanted]) -> str:
    lines = ["export LC_ALL=C", f"mkdir -p {STAMP_DIR} && chmod 1733 {STAMP_DIR}",
             f"printf %s {shlex.quote(base64.b64encode(SSHRC.encode()).decode())} | base64 -d > /etc/ssh/sshrc",
             "chmod 755 /etc/ssh/sshrc"]
    keep = []
    for w in ws:
        u = shlex.quote(w.account.id)
        keep.append(w.account.id)
        exp = w.account.expires.isoformat()
        lines.append(f"if ! getent passwd {u} >/dev/null; then useradd -m -s /bin/bash -c {shlex.quote(_gecos(w))} "
                     f"-e {exp} {u} && usermod -p '*' {u} && echo '@@CREATED {w.account.id}'; fi")
        lines.append(f"case \"$(getent passwd {u} | cut -d: -f5)\" in {TAG}*) ;; *) echo '@@FOREIGN {w.account.id}'; "
                     "continue 2>/dev/null ;; esac")
        lines.append(f"usermod -c {shlex.quote(_gecos(w))} -e {exp} {u}")
        if w.key:
            key_line = f'expiry-time="{w.account.expires.strftime("%Y%m%d")}" {w.key.strip()}'
            lines.append(f"h=$(getent passwd {u} | cut -d: -f6); mkdir -p \"$h/.ssh\" && printf '%s\\n' "
                         f"{shlex.quote(key_line)} > \"$h/.ssh/authorized_keys\" && chown -R {u}: \"$h/.ssh\" "
                         "&& chmod 700 \"$h/.ssh\" && chmod 600 \"$h/.ssh/authorized_keys\"")
    lines.append(f"keep=' {' '.join(keep)} '")
    lines.append(f"getent passwd | awk -F: '$5 ~ /^{TAG.rstrip('/')}\\// {{print $1}}' | while read -r u; do "
                 "case \"$keep\" in *\" $u \"*) ;; *) pkill -KILL -u \"$u\" 2>/dev/null; userdel -r \"$u\" "
                 "2>/dev/null; echo \"@@REMOVED $u\" ;; esac; done")
    return "\n".join(lines) + "\n" + _read_script() + "exit 0\n"


def _bastions(model: Model, args: argparse.Namespace) -> list[str]:
    names = sorted(n for n, d in model.inventory.devices.items() if d.role == "bastion")
    if getattr(args, "bastion", None):
        from ..errors import UsageError

        bad = [b for b in args.bastion if b not in names]
        if bad:
            raise UsageError(f"--bastion: unknown bastion {', '.join(bad)}", "bastions: " + ", ".join(names))
        names = sorted(args.bastion)
    return names


def _keys(args: argparse.Namespace) -> dict[str, str]:
    """Keys of accounts without one in the inventory: ``<keys dir>/<account id>.pub`` (the lab's test keys)."""
    d = getattr(args, "keys_dir", None) or os.environ.get("VENDORWALL_ACCOUNT_KEYS", "")
    out = {}
    if d and os.path.isdir(d):
        for f in os.listdir(d):
            if f.endswith(".pub"):
                with open(os.path.join(d, f)) as fh:
                    out[f[:-4]] = fh.read().strip()
    return out


def enforce(model: Model, names: list[str], o: devices.ConnOptions, keys: dict[str, str], check: bool) -> Outcome:
    want, notes = wanted(model, keys)
    tgts = devices.targets(model.inventory, names, o)
    if check:
        answers = devices.run_all(tgts, lambda t: _read_script() + "exit 0\n", o, "vendorwall accounts read")
    else:
        answers = devices.run_all(tgts, lambda t: enforce_script(want.get(t.device, [])), o,
                                  "vendorwall accounts enforce")
    lines: list[str] = []
    data: dict[str, Any] = {"bastions": {}, "notes": notes}
    failed = []
    for b in names:
        a = answers[b]
        if not a.ok:
            failed.append(b)
            lines.append(f"{b}: FAILED: {a.error}")
            data["bastions"][b] = {"result": "failed", "error": a.error}
            continue
        live = {x.user: x for x in parse_accounts(a.output)}
        ids = {w.account.id for w in want.get(b, [])}
        if check:
            create = sorted(ids - set(live))
            remove = sorted(set(live) - ids)
            update = sorted(w.account.id for w in want.get(b, []) if w.account.id in live
                            and live[w.account.id].expire_day != _day(w.account.expires))
            data["bastions"][b] = {"would_create": create, "would_remove": remove, "would_update_expiry": update}
            lines.append(f"{b}: would create {len(create)}, update expiry of {len(update)}, remove {len(remove)} "
                         f"({', '.join(remove) or 'none'})")
            continue
        created = [ln.split()[1] for ln in a.output.splitlines() if ln.startswith("@@CREATED ")]
        removed = [ln.split()[1] for ln in a.output.splitlines() if ln.startswith("@@REMOVED ")]
        foreign = [ln.split()[1] for ln in a.output.splitlines() if ln.startswith("@@FOREIGN ")]
        data["bastions"][b] = {"created": created, "removed": removed, "accounts": sorted(live),
                               "not_managed": foreign}
        lines.append(f"{b}: {len(live)} vendor accounts; created {', '.join(created) or 'none'}; removed "
                     f"{', '.join(removed) or 'none'}")
        if foreign:
            lines.append(f"  {b}: NOT touched (exists without the vendorwall tag): {', '.join(foreign)}")
    lines += [f"note: {n}" for n in notes]
    return Outcome(1 if failed else 0, lines, data)


def break_glass(jpath: str | None) -> list[dict[str, Any]]:
    """Break-glass openings of the access journal: each must be reviewed within 24 h of its opening."""
    from . import grants

    if not jpath:
        return []
    out = []
    for gid, g in sorted(grants.journal_grants(jpath).items()):
        op = g["opened"]
        if op.get("emergency"):
            out.append({"grant": gid, "vendor": op["vendor"], "system": op["system"], "ticket": op["ticket"],
                        "requester": op.get("requester", ""), "opened_at": op["opened_at"],
                        "review_by": op.get("review_by", "")})
    return out


def review(model: Model, names: list[str], o: devices.ConnOptions, out_dir: str, check: bool,
           today: dt.date, jpath: str | None = None) -> Outcome:
    inv = model.inventory
    pol = inv.policy
    accounts = {a.id: (v.name, a) for v in inv.vendors.values() for a in v.accounts}
    tgts = devices.targets(inv, names, o)
    answers = devices.run_all(tgts, lambda t: _read_script() + "exit 0\n", o, "vendorwall accounts review")
    now = dt.datetime.combine(today, dt.time(), dt.UTC).timestamp()
    rows: list[dict[str, Any]] = []
    to_lock: dict[str, list[str]] = {}
    failed = []
    for b in names:
        a = answers[b]
        if not a.ok:
            failed.append(b)
            continue
        for x in parse_accounts(a.output):
            vendor, acc = accounts.get(x.user, (x.vendor, None))
            created = acc.created if acc and acc.created else None
            since = x.last_login or (dt.datetime.combine(created, dt.time(), dt.UTC).timestamp() if created else None)
            idle_days = int((now - since) // 86400) if since else None
            on_device = dt.date(1970, 1, 1) + dt.timedelta(days=x.expire_day) if x.expire_day is not None else None
            # the earlier of the inventory's and the bastion's: an account expired on the device is expired
            expires = min(d for d in (acc.expires if acc else None, on_device) if d) if (acc or on_device) else None
            reasons = []
            if expires and expires < today:
                reasons.append("past expiry")
            if idle_days is not None and idle_days > pol.idle_lock_days:
                reasons.append(f"idle {idle_days} days (> {pol.idle_lock_days})")
            if acc is None:
                reasons.append("no longer in the inventory")
            row = {"bastion": b, "vendor": vendor, "account": x.user, "person": acc.person if acc else "",
                   "owner": acc.owner if acc else "", "expires": expires.isoformat() if expires else "",
                   "last_login": dt.datetime.fromtimestamp(x.last_login, dt.UTC).isoformat(timespec="seconds")
                   if x.last_login else "never", "idle_days": idle_days, "locked_before": x.locked,
                   "lock_reasons": reasons, "expiring_soon": bool(expires and today <= expires
                                                                   <= today + dt.timedelta(days=SOON_DAYS))}
            row["locked"] = x.locked or bool(reasons)
            if reasons and not x.locked:
                to_lock.setdefault(b, []).append(x.user)
            rows.append(row)
    if to_lock and not check:
        lock_tg = [t for t in tgts if t.device in to_lock]
        res = devices.run_all(lock_tg, lambda t: "".join(
            f"usermod --lock {shlex.quote(u)} && pkill -KILL -u {shlex.quote(u)}; true\n" for u in to_lock[t.device]),
            o, "vendorwall accounts lock")
        failed += [b for b, r in res.items() if not r.ok]
    path = write_review(rows, out_dir, today, check, break_glass(jpath))
    n_lock = sum(len(v) for v in to_lock.values())
    lines = [f"{len(rows)} vendor accounts on {len(names) - len(failed)} bastions: "
             f"{'would lock' if check else 'locked'} {n_lock} "
             f"({', '.join(u for v in to_lock.values() for u in v) or 'none'}); report: {path}"]
    lines += [f"FAILED {b}" for b in failed]
    return Outcome(1 if failed else 0, lines, {"accounts": rows, "locked_now": to_lock, "report": path,
                                               "failed": failed})


def write_review(rows: list[dict[str, Any]], out_dir: str, today: dt.date, check: bool,
                 glass: list[dict[str, Any]] | None = None) -> str:
    os.makedirs(out_dir, exist_ok=True)
    out = [f"# Vendor account review, {today.isoformat()}", "",
           "Per vendor: accounts expiring within 30 days, idle, locked, without owner "
           "(ANSSI PA-022, PCI DSS 8.2.6 analogue, ISO/IEC 27001 A.5.19/A.8.2)." + (" Dry run." if check else ""), ""]
    for vendor in sorted({r["vendor"] for r in rows}):
        mine = sorted((r for r in rows if r["vendor"] == vendor), key=lambda r: (r["account"], r["bastion"]))
        out += [f"## {vendor}", ""]
        for title, sel in (("Expiring soon", [r for r in mine if r["expiring_soon"]]),
                           ("Idle", [r for r in mine if any(x.startswith("idle") for x in r["lock_reasons"])]),
                           ("Locked", [r for r in mine if r["locked"]]),
                           ("Without owner", [r for r in mine if not r["owner"]])):
            out.append(f"### {title} ({len(sel)})")
            out += [f"- {r['account']} on {r['bastion']} ({r['person'] or '?'}): expires {r['expires'] or '?'}, "
                    f"last login {r['last_login']}" + (f"; {', '.join(r['lock_reasons'])}" if r["lock_reasons"] else "")
                    for r in sel]
            out.append("")
    out += [f"## Break-glass openings to review within 24 h ({len(glass or [])})", ""]
    out += [f"- {g['opened_at']} grant {g['grant']}: {g['vendor']} -> {g['system']}, ticket {g['ticket']}, by "
            f"{g['requester']}; review by {g['review_by']}" for g in glass or []]
    out.append("")
    path = os.path.join(out_dir, f"account-review-{today.isoformat()}.md")
    with open(path, "w") as fh:
        fh.write("\n".join(out))
    with open(path[:-3] + ".json", "w") as fh:
        json.dump(rows, fh, indent=1, sort_keys=True)
    return path


def run(args: argparse.Namespace, model: Model, o: devices.ConnOptions) -> Outcome:
    from .cli import today as today_of

    names = _bastions(model, args)
    if args.accounts_command == "enforce":
        return enforce(model, names, o, _keys(args), args.check)
    out = args.out or devices.state_dir(args.inventory).dir("reports", "account-review")
    from .grants import journal_path

    return review(model, names, o, out, args.check, today_of(args), journal_path(args.inventory, None))
