"""On-demand grants: elements with a timeout in the firewall's persistent state table.

A grant of vendor X to system Y is one element per (entry-path prefix, system address, port) of
Y's access services, in ``inet vendorwall_state grants_tcp|grants_udp|grants_any`` of the
firewall(s) of Y's site, added in ONE nft transaction (``create element``: all or nothing, and it
fails if a live grant already holds one of the tuples) with ``timeout`` = the granted duration.
The policy table tags every packet of an on-demand tuple, and the state chain drops tagged
packets without a live grant element: when the element expires (the kernel removes it, no
controller involved), new connections AND established sessions stop at their next packet.

The grant id is derived from (vendor, system, ticket, opened-at) and written in every element's
comment (``vwgrant=<id> vendor/system ticket``), so ``list`` and ``close`` find a grant on the
device itself, whatever the controller remembers.

Every open, close, refusal and expiry is appended to the access journal (the isolation's
hash-chained JSON-lines format, :mod:`vendorwall.isolate.journal`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import Any

from .. import journal
from ..compile import expand
from ..devices import clock
from ..model import Model
from . import devices, policy

JOURNAL_NAME = "access-journal.jsonl"
GRANT_SETS = ("grants_tcp", "grants_udp", "grants_any")
_GID = re.compile(r"vwgrant=(g[0-9a-f]{12})")
COMMENT_MAX = 128


def stamp(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_stamp(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def grant_id(vendor: str, system: str, ticket: str, opened_at: str) -> str:
    return "g" + hashlib.sha256(f"{vendor}\n{system}\n{ticket}\n{opened_at}".encode()).hexdigest()[:12]


def _net(n: IPv4Network) -> str:
    return str(n.network_address) if n.prefixlen == 32 else str(n)


@dataclass(frozen=True, order=True)
class Element:
    firewall: str
    proto: str  # tcp | udp | any
    src: str
    dst: str
    port: int | None

    @property
    def set_name(self) -> str:
        return f"grants_{self.proto}"

    @property
    def key(self) -> str:
        return f"{self.src} . {self.dst}" + (f" . {self.port}" if self.port is not None else "")

    def text(self) -> str:
        return f"{self.set_name} {self.key}"


def element_of(x: LiveElement) -> Element:
    """The :class:`Element` of a live element (its set and key, as nft printed them)."""
    parts = x.key.split(" . ")
    port = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else None
    return Element(x.firewall, x.set_name.removeprefix("grants_"), parts[0], parts[1] if len(parts) > 1 else "", port)


def elements_for(model: Model, system: str) -> list[Element]:
    """Every grant element of ``system``: entry-path prefixes x its addresses x its access ports."""
    out: set[Element] = set()
    for r in model.rules:
        if r.kind != "vendor_access" or r.system != system:
            continue
        for src, dst, proto, port in expand(r):
            for fw in r.firewalls:
                out.add(Element(fw, proto, _net(src), _net(dst), port))
    return sorted(out)


_UNSAFE = re.compile(r"[^A-Za-z0-9 ._/:=@+-]")


def comment(gid: str, vendor: str, system: str, ticket: str, emergency: bool) -> str:
    """The grant's element comment: safe characters only (the agent refuses others), under 128 bytes."""
    text = _UNSAFE.sub("_", f"vwgrant={gid} {vendor}/{system} {'BREAK-GLASS ' if emergency else ''}{ticket}")
    return text[:COMMENT_MAX - 1]


# --------------------------------------------------------------------------- the firewall's agent (data, not scripts)

AGENT = "nft_state"


def element_data(e: Element) -> dict[str, Any]:
    return {"set": e.set_name, "src": e.src, "dst": e.dst, "port": e.port}


def open_request(elems: list[Element], seconds: int, text: str, only_missing: bool = False) -> dict[str, Any]:
    """``create element`` of every tuple in one transaction, all or nothing (it fails if a live grant holds
    one of them); ``only_missing``: create only the tuples no live element holds, and say which (test grants)."""
    return {"op": "grants_open", "elements": [element_data(e) for e in sorted(elems)], "timeout": seconds,
            "comment": text, "only_missing": only_missing}


def close_request(elems: list[Element]) -> dict[str, Any]:
    """Remove elements even if they expire meanwhile: refresh (or re-create) with 1 s then delete, in one
    transaction (a plain delete of an element that just expired would fail the whole transaction)."""
    return {"op": "grants_close", "elements": [element_data(e) for e in sorted(elems)]}


LIST_REQUEST: dict[str, Any] = {"op": "grants_list"}


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class LiveElement:
    firewall: str
    set_name: str
    key: str
    timeout: float | None
    expires: float | None  # seconds left
    comment: str

    @property
    def grant(self) -> str:
        m = _GID.search(self.comment)
        return m.group(1) if m else ""


def _val(v: Any) -> str:
    if isinstance(v, dict):
        if "prefix" in v:
            return f"{v['prefix']['addr']}/{v['prefix']['len']}"
        if "range" in v:
            return f"{v['range'][0]}-{v['range'][1]}"
    return str(v)


def live_elements(fw: str, name: str, elems: list[Any]) -> list[LiveElement]:
    """A grant set's elements as nft's JSON prints them -> :class:`LiveElement` (damaged items skipped)."""
    out: list[LiveElement] = []
    for el in elems if isinstance(elems, list) else []:
        info: dict[str, Any] = el["elem"] if isinstance(el, dict) and isinstance(el.get("elem"), dict) else {"val": el}
        val = info.get("val")
        parts = val["concat"] if isinstance(val, dict) and "concat" in val else [val]
        out.append(LiveElement(fw, name, " . ".join(_val(p) for p in parts), info.get("timeout"),
                               info.get("expires"), str(info.get("comment", ""))))
    return out


def parse_set(fw: str, name: str, text: str) -> tuple[list[LiveElement] | None, str]:
    """``nft -j list set`` output -> elements, or (None, error)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None, text.strip().splitlines()[0] if text.strip() else "no output"
    for item in data.get("nftables", []):
        s = item.get("set")
        if s:
            return live_elements(fw, name, s.get("elem", [])), ""
    return [], ""


@dataclass
class Observed:
    before: list[LiveElement] | None = None
    after: list[LiveElement] | None = None
    errors: list[str] = field(default_factory=list)
    rc: int | None = None
    nft_output: str = ""
    t0: float | None = None
    t1: float | None = None
    created: list[dict[str, Any]] = field(default_factory=list)  # only_missing: the test grants it created


def _listing(fw: str, sets: Any) -> list[LiveElement] | None:
    if not isinstance(sets, dict):
        return None
    return [x for name in GRANT_SETS if name in sets for x in live_elements(fw, name, sets[name])]


def observed(fw: str, answer: dict[str, Any]) -> Observed:
    """The agent's answer -> :class:`Observed` (never raises on a damaged answer)."""
    errors: dict[str, Any] = answer["errors"] if isinstance(answer.get("errors"), dict) else {}

    def num(v: Any) -> float | None:
        return float(v) if isinstance(v, int | float) else None

    return Observed(_listing(fw, answer.get("before")), _listing(fw, answer.get("after") or answer.get("sets")),
                    [f"{k}: {v}" for k, v in sorted(errors.items())],
                    answer.get("rc") if isinstance(answer.get("rc"), int) else None, str(answer.get("output") or ""),
                    num(answer.get("t0")), num(answer.get("t1")),
                    [c for c in answer.get("created") or [] if isinstance(c, dict)])


@dataclass
class Reply:
    device: str
    ok: bool
    answer: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    error_kind: str = ""
    seconds: float = 0.0
    wall: tuple[float, float] = (0.0, 0.0)  # controller time.time() before and after the round trip


def run_all(tgts: list[Any], request: Callable[[Any], dict[str, Any]], o: devices.ConnOptions) -> dict[str, Reply]:
    """The agent on every target at once, one SSH round trip each; one :class:`Reply` per device (never raises)."""
    from ..deploy.errors import DeployError
    from ..devices.agents import run_agent

    def one(t: Any) -> Reply:
        t0, w0 = time.monotonic(), time.time()
        try:
            ans = run_agent(t, AGENT, request(t))
            if not ans.get("ok"):
                return Reply(t.device, False, ans, str(ans.get("error") or "the agent refused the request"), "agent",
                             time.monotonic() - t0, (w0, time.time()))
            return Reply(t.device, True, ans, seconds=time.monotonic() - t0, wall=(w0, time.time()))
        except DeployError as exc:
            return Reply(t.device, False, error=str(exc), error_kind=exc.kind, seconds=time.monotonic() - t0,
                         wall=(w0, time.time()))

    if not tgts:
        return {}
    with ThreadPoolExecutor(max(1, min(o.workers, len(tgts)))) as pool:
        return {r.device: r for r in pool.map(one, tgts)}


# --------------------------------------------------------------------------- journal view


def journal_path(inventory: str, override: str | None = None) -> str:

    return override or devices.state_dir(inventory).journal("access")


def journal_grants(path: str) -> dict[str, dict[str, Any]]:
    """gid -> {"opened": entry, "ended": closing/expiry entry or None}."""
    import os

    out: dict[str, dict[str, Any]] = {}
    if not os.path.exists(path):
        return out
    for e in journal.read(path):
        gid = e.get("grant")
        if not gid:
            continue
        if e.get("event") == "opened":
            out[gid] = {"opened": e, "ended": None}
        elif e.get("event") in ("closed", "expired") and gid in out and out[gid]["ended"] is None:
            out[gid]["ended"] = e
    return out


# --------------------------------------------------------------------------- operations


@dataclass
class Outcome:
    exit: int
    lines: list[str]
    data: dict[str, Any]


def _refuse(jpath: str, req: policy.Request, refusals: list[policy.Refusal]) -> Outcome:
    lines = [r.render() for r in refusals]
    data: dict[str, Any] = {"result": "refused", "refusals": [r.to_data() for r in refusals]}
    try:
        entry = journal.append(jpath, {"event": "refused", "when": journal.utcnow(), "who": journal.who(),
                                       "vendor": req.vendor, "system": req.system, "ticket": req.ticket,
                                       "requester": req.requester, "approver": req.approver,
                                       "duration": req.duration, "emergency": req.emergency,
                                       "refusals": [r.to_data() for r in refusals]})
    except journal.JournalError as exc:
        lines.append(f"nothing was changed; {exc.render()}")
        data["journal"] = {"path": jpath, "error": exc.message}
        return Outcome(2, lines, data)
    lines.append(f"nothing was changed; journal: {jpath} entry {entry['seq']}")
    data["journal"] = {"path": jpath, "seq": entry["seq"], "hash": entry["hash"]}
    return Outcome(2, lines, data)


def _journal_after(jpath: str, entry: dict[str, Any], lines: list[str]) -> dict[str, Any] | None:
    """Journal what was done on the firewalls; a journal that cannot be written is reported after it
    (the caller exits 1), never raised."""
    try:
        return journal.append(jpath, entry)
    except journal.JournalError as exc:
        lines.append(exc.render())
        return None


def open_grant(model: Model, req: policy.Request, o: devices.ConnOptions, jpath: str, *,
               today: dt.date | None = None, extra: list[Element] | None = None) -> Outcome:
    """Check the request, then add the grant's elements on the system's firewall(s), journal it.

    ``extra``: additional elements of the same grant (tests: a port the lab's live-session probe uses).
    """
    from ..isolate import isolated

    inv = model.inventory
    today = today or dt.datetime.now(dt.UTC).date()
    try:
        iso = isolated.read_for(inv.root)
    except isolated.IsolationStateError as exc:  # fail closed: who is isolated is unknown
        return _refuse(jpath, req, [policy.Refusal("isolated", "cannot tell whether the vendor is isolated",
                                                   "a readable isolation record", exc.message, exc.hint)])
    refusals = policy.check(inv, req, today, iso)
    elems = elements_for(model, req.system) if not refusals else []
    if not refusals and not elems:
        refusals.append(policy.Refusal("elements", f"{req.system} has no address or entry path to grant",
                                       "at least one entry-path prefix and one system address", "none",
                                       "check the system's access.via and its segment allocation (vendorwall plan)"))
    if refusals:
        return _refuse(jpath, req, refusals)
    elems = sorted(set(elems + (extra or [])))
    seconds = policy.parse_duration(req.duration) or 0
    opened = time.time()
    opened_at = stamp(opened)
    gid = grant_id(req.vendor, req.system, req.ticket, opened_at)
    text = comment(gid, req.vendor, req.system, req.ticket, req.emergency)
    fws = sorted({e.firewall for e in elems})
    tgts = devices.targets(inv, fws, o)
    try:  # journaled before any firewall is touched: a grant the journal cannot record is not opened
        journal.append(jpath, {"event": "opening", "when": opened_at, "who": journal.who(), "grant": gid,
                               "vendor": req.vendor, "system": req.system, "ticket": req.ticket,
                               "requester": req.requester, "approver": req.approver, "emergency": req.emergency,
                               "duration_s": seconds, "firewalls": fws})
    except journal.JournalError as exc:
        return Outcome(1, [f"grant NOT opened: nothing was changed on the firewalls; {exc.render()}"],
                       {"result": "not opened", "grant": gid, "journal": {"path": jpath, "error": exc.message}})

    from . import appliance  # FortiOS, Stormshield, PAN-OS, ASA: the system's on-demand window, through their drivers

    app = set(appliance.firewalls(model, fws))
    answers = run_all([t for t in tgts if t.device not in app],
                      lambda t: open_request([e for e in elems if e.firewall == t.device], seconds, text), o)
    windows = appliance.open_windows(model, req.system, [t for t in tgts if t.device in app], seconds, o.workers)
    per_fw: dict[str, dict[str, Any]] = {}
    holders: set[str] = set()
    failed: list[str] = []
    change_at: list[float] = []  # each firewall's change, in controller time (its clock's skew removed)
    warnings: list[str] = []
    for fw in fws:
        if fw in windows:
            per_fw[fw] = windows[fw]
            if windows[fw]["result"] != "opened":
                failed.append(fw)
            continue
        a = answers[fw]
        if not a.ok:
            per_fw[fw] = {"result": "failed", "error": a.error, "error_kind": a.error_kind}
            failed.append(fw)
            continue
        ob = observed(fw, a.answer)
        mine = {x.key for x in ob.after or [] if x.grant == gid}
        want = {e.key for e in elems if e.firewall == fw}
        skew = clock.skew(ob.t1, *a.wall)
        if clock.warning(fw, skew):
            warnings.append(clock.warning(fw, skew))
        if ob.rc == 0 and want <= mine:
            per_fw[fw] = {"result": "opened", "elements": len(want), "device_change_at": stamp(ob.t1 or 0),
                          "clock_skew_s": skew, "seconds": round(a.seconds, 3)}
            if ob.t1:
                change_at.append(ob.t1 - (skew or 0.0))
            continue
        live_keys = {x.key: x.grant for x in ob.before or []}
        holders |= {live_keys[k] for k in want if k in live_keys}
        per_fw[fw] = {"result": "failed", "error_kind": "nft" if not ob.errors else "no grant set",
                      "error": (ob.nft_output.strip()[:500] or "; ".join(ob.errors) or "elements missing after the "
                                "change")}
        failed.append(fw)
    if holders and len(failed) == len(fws):
        busy = sorted(holders)
        return _refuse(jpath, req, [policy.Refusal(
            "already_open", f"a live grant already covers {req.system}", "no live grant on these tuples",
            ", ".join(g or "(an element without a vendorwall grant id)" for g in busy),
            "list it (vendorwall access list), close it first (vendorwall access close --grant ID) or wait for its "
            "expiry")])
    # the elements' timeouts run from the firewall's change (its nft returned): journaled in the controller's
    # time, the firewall's clock skew removed (a firewall 3 h ahead must not shift the journaled expiry)
    expires_at = stamp(max(change_at, default=opened) + seconds)
    entry: dict[str, Any] = {
        "event": "opened" if not failed else "open_failed", "when": opened_at, "who": journal.who(), "grant": gid,
        "vendor": req.vendor, "system": req.system, "ticket": req.ticket, "requester": req.requester,
        "approver": "" if req.emergency and not req.approver else req.approver, "emergency": req.emergency,
        "duration_s": seconds, "opened_at": opened_at, "expires_at": expires_at,
        "firewalls": per_fw, "elements": [e.text() + f" @{e.firewall}" for e in elems]}
    if req.emergency:
        entry["review_by"] = stamp(opened + policy.EMERGENCY_REVIEW_HOURS * 3600)
        entry["flag"] = "break-glass: review within 24 h"
    if failed and len(failed) < len(fws):
        entry["event"] = "opened"
        entry["partial"] = failed
    lines = [f"{opened_at}  {'BREAK-GLASS ' if req.emergency else ''}grant {gid}: {req.vendor} -> {req.system} "
             f"for {policy.human(seconds)} (until {expires_at}), ticket {req.ticket}, requested by {req.requester}"
             + (f", approved by {req.approver}" if req.approver else ", no approver (break-glass)")]
    for fw, r in sorted(per_fw.items()):
        if r["result"] == "opened" and r.get("window"):
            lines.append(f"  {fw} ({r['platform']}): on-demand window of {req.system} open ({r['window']}), closed by "
                         f"the firewall itself at {expires_at} ({r['seconds']:.2f} s)")
        elif r["result"] == "opened":
            lines.append(f"  {fw}: {r['elements']} elements added, expire on the firewall itself at {expires_at} "
                         f"({r['seconds']:.2f} s)")
        else:
            lines.append(f"  {fw}: FAILED ({r['error_kind']}): {r['error']}")
    lines += [f"    {e.text()}" for e in elems]
    if req.emergency:
        lines.append(f"  flagged for review by {entry['review_by']} (break-glass)")
    lines += [f"  {w}" for w in warnings]
    je = _journal_after(jpath, entry, lines)
    if je is not None:
        lines.append(f"  journal: {jpath} entry {je['seq']} (sha256 {je['hash'][:12]})")
        _anchor([t for t in tgts if per_fw.get(t.device, {}).get("result") == "opened"], jpath, je, lines)
    return Outcome(1 if failed or je is None else 0, lines,
                   {"result": entry["event"], "grant": gid, "expires_at": expires_at, "firewalls": per_fw,
                    "journal": {"path": jpath, "seq": je["seq"]} if je else {"path": jpath, "error": lines[-1]}})


def _anchor(tgts: list[Any], jpath: str, entry: dict[str, Any], lines: list[str]) -> None:
    """The journal entry's hash kept on the firewalls just changed (best effort, one line in the report)."""
    from ..devices import anchors

    tgts = [t for t in tgts if t.platform in ("nftables", "linux")]  # appliances run no agent
    if tgts:
        lines.append(f"  {anchors.summary(anchors.write(tgts, jpath, entry))}")


@dataclass
class LiveGrant:
    grant: str
    comment: str
    elements: list[LiveElement]

    @property
    def seconds_left(self) -> float:
        return max((e.expires or 0) for e in self.elements) if self.elements else 0.0

    @property
    def firewalls(self) -> list[str]:
        return sorted({e.firewall for e in self.elements})


WINDOW = "window "  # the set_name of an appliance's on-demand window in a LiveGrant (not an nft element)
NO_ID = "(no vendorwall grant id)"


def read_live(model: Model, o: devices.ConnOptions, jpath: str | None = None) -> tuple[dict[str, LiveGrant],
                                                                                      dict[str, str]]:
    """Live grants read from every firewall: (gid -> grant, firewall -> error).

    nftables firewalls: the grant elements (their comment names the grant). Appliances: the on-demand windows
    open now, attributed to the open grants of ``jpath``'s journal (:func:`vendorwall.access.appliance.claim`;
    a window no open grant explains is listed under :data:`NO_ID`); one element ``window <name>`` each."""
    from . import appliance

    inv = model.inventory
    fws = sorted(n for n, d in inv.devices.items() if d.role == "firewall" and d.platform == "nftables")
    app_fws = appliance.firewalls(model, sorted(n for n, d in inv.devices.items() if d.role == "firewall"))
    with ThreadPoolExecutor(1) as side:  # the appliances' state reads run beside the nft agents
        wins_f = side.submit(appliance.read_windows, devices.targets(inv, app_fws, o), o.workers) if app_fws else None
        answers = run_all(devices.targets(inv, fws, o), lambda t: LIST_REQUEST, o)
        wins = wins_f.result() if wins_f is not None else {}
    grants: dict[str, LiveGrant] = {}
    errors: dict[str, str] = {}
    for fw, a in sorted(answers.items()):
        if not a.ok:
            errors[fw] = a.error
            continue
        ob = observed(fw, a.answer)
        if ob.errors:
            errors[fw] = "; ".join(ob.errors)
        for el in ob.after or []:
            gid = el.grant or NO_ID
            grants.setdefault(gid, LiveGrant(gid, el.comment, [])).elements.append(el)
    now = time.time()
    for fw, w in sorted(wins.items()):
        if w.open is None:
            errors[fw] = f"{w.error} (its on-demand windows could not be read)"
    open_grants = {gid: g["opened"] for gid, g in journal_grants(jpath).items() if g["ended"] is None} if jpath else {}
    claimed = appliance.claim(wins, open_grants, now)
    for gid, held in sorted(claimed.grants.items()):
        op = open_grants[gid]
        text = comment(gid, str(op.get("vendor", "")), str(op.get("system", "")), str(op.get("ticket", "")),
                       bool(op.get("emergency")))
        left = parse_stamp(str(op["expires_at"])) - now
        for fw, win in held:
            grants.setdefault(gid, LiveGrant(gid, text, [])).elements.append(LiveElement(
                fw, WINDOW + win.name, win.text, None, win.end.timestamp() - now if win.end else left, text))
    for fw, win in claimed.unclaimed:
        grants.setdefault(NO_ID, LiveGrant(NO_ID, "on-demand windows open on an appliance, no open grant of the "
                                                  "journal explains them", [])).elements.append(LiveElement(
            fw, WINDOW + win.name, win.text, None, win.end.timestamp() - now if win.end else None, ""))
    return grants, errors


def reconcile(jpath: str, live: dict[str, LiveGrant], errors: dict[str, str], *, detected_by: str) -> list[str]:
    """Journal an ``expired`` entry for every opened grant no firewall holds any more; returns their ids.

    Only when every firewall answered (an unreachable one may still hold the grant)."""
    if errors:
        return []
    out = []
    now = time.time()
    for gid, g in sorted(journal_grants(jpath).items()):
        if g["ended"] is not None or gid in live:
            continue
        op = g["opened"]
        exp = parse_stamp(op["expires_at"])
        _journal_after(jpath, {"event": "expired", "when": journal.utcnow(), "who": journal.who(), "grant": gid,
                               "vendor": op["vendor"], "system": op["system"], "ticket": op["ticket"],
                               "emergency": op.get("emergency", False), "expires_at": op["expires_at"],
                               "detected_by": detected_by, "on_time": now >= exp - 2,
                               "note": "" if now >= exp - 2 else "gone from the firewalls before its expiry "
                               "(removed outside vendorwall, or the firewall restarted)"}, [])
        out.append(gid)
    return out


def list_grants(model: Model, o: devices.ConnOptions, jpath: str) -> Outcome:
    live, errors = read_live(model, o, jpath)
    expired = reconcile(jpath, live, errors, detected_by="list")
    info = journal_grants(jpath)
    lines = []
    rows = []
    for gid, g in sorted(live.items(), key=lambda kv: -kv[1].seconds_left):
        op = (info.get(gid) or {}).get("opened") or {}
        nft = [e for e in g.elements if not e.set_name.startswith(WINDOW)]
        wins = [{"firewall": e.firewall, "window": e.set_name.removeprefix(WINDOW), "device": e.key}
                for e in g.elements if e.set_name.startswith(WINDOW)]
        row = {"grant": gid, "vendor": op.get("vendor", ""), "system": op.get("system", ""),
               "ticket": op.get("ticket", ""), "requester": op.get("requester", ""),
               "approver": op.get("approver", ""), "emergency": op.get("emergency", False),
               "firewalls": g.firewalls, "elements": len(nft), "windows": wins,
               "seconds_left": round(g.seconds_left, 1), "expires_at": op.get("expires_at", ""), "comment": g.comment}
        rows.append(row)
        who = f"{row['vendor']}/{row['system']}" if op else g.comment
        held = ([f"{len(nft)} elements"] if nft else []) + [f"window {w['window']} open on {w['firewall']}: "
                                                            f"{w['device']}" for w in wins]
        lines.append(f"{gid}  {who}  {policy.human(g.seconds_left)} left  on {', '.join(g.firewalls)} "
                     f"({'; '.join(held)})  ticket {row['ticket'] or '?'}  "
                     + ("BREAK-GLASS" if row["emergency"] else f"approved by {row['approver'] or '?'}")
                     + ("" if op else "  (not in the journal)"))
    if not rows:
        lines.append("no live grant on any firewall")
    for fw, err in sorted(errors.items()):
        lines.append(f"UNREACHABLE {fw}: {err} (its grants are not listed; they still expire on time)")
    for gid in expired:
        lines.append(f"expired since the last look: {gid} (journaled)")
    return Outcome(1 if errors else 0, lines, {"grants": rows, "unreachable": errors, "expired": expired})


def close_grant(model: Model, gid: str, o: devices.ConnOptions, jpath: str, *, reason: str = "") -> Outcome:
    from ..errors import UsageError
    from . import appliance

    live, errors = read_live(model, o, jpath)
    g = live.get(gid)
    info = journal_grants(jpath).get(gid)
    opened = (info or {}).get("opened") or {}
    # appliances hold the system's window, not the grant: their part is closed from the journal's record
    app_fws = sorted(fw for fw, r in (opened.get("firewalls") or {}).items()
                     if r.get("window") and r.get("result") == "opened") if info and info["ended"] is None else []
    if g is None and app_fws:
        g = LiveGrant(gid, f"{opened.get('vendor', '')}/{opened.get('system', '')}", [])
    if g is None:
        expired = reconcile(jpath, live, errors, detected_by="close")
        if info and (info["ended"] is not None or gid in expired):
            what = (info["ended"] or {}).get("event", "expired")
            return Outcome(0, [f"grant {gid} is no longer live ({what}); nothing to close"],
                           {"result": "not live", "grant": gid})
        hint = "list live grants: vendorwall access list INVENTORY"
        if errors:
            hint = f"unreachable firewalls: {', '.join(sorted(errors))}; rerun when they answer"
        raise UsageError(f"no live grant {gid} on the firewalls", hint)
    keys_by_fw: dict[str, list[Element]] = defaultdict(list)
    for e in g.elements:
        if not e.set_name.startswith(WINDOW):  # an appliance's window: closed below, from the journal's record
            keys_by_fw[e.firewall].append(element_of(e))
    tgts = devices.targets(model.inventory, sorted(keys_by_fw), o)
    answers = run_all(tgts, lambda t: close_request(keys_by_fw[t.device]), o)
    per_fw: dict[str, dict[str, Any]] = {}
    failed = []
    if app_fws:
        closed = appliance.close_windows(model, str(opened.get("system", "")),
                                         devices.targets(model.inventory, app_fws, o), o.workers)
        per_fw.update(closed)
        failed += [fw for fw, r in closed.items() if r["result"] != "closed"]
    for fw, a in sorted(answers.items()):
        ob = observed(fw, a.answer) if a.ok else Observed()
        left = [x for x in ob.after or [] if x.grant == gid]
        if a.ok and ob.rc == 0 and not left and ob.after is not None:
            per_fw[fw] = {"result": "closed", "elements": len(keys_by_fw[fw]), "device_change_at": stamp(ob.t1 or 0)}
        else:
            failed.append(fw)
            per_fw[fw] = {"result": "failed", "error": a.error or ob.nft_output.strip()[:500] or
                          f"{len(left)} elements still there"}
    op = (info or {}).get("opened") or {}
    remaining = g.seconds_left if g.elements or not op.get("expires_at") else max(
        0.0, parse_stamp(str(op["expires_at"])) - time.time())
    when = journal.utcnow()
    lines = [f"{when}  grant {gid} ({g.comment}) closed early, {policy.human(remaining)} before its "
             "expiry" if not failed else f"grant {gid}: close FAILED on {', '.join(failed)}"]
    for fw, r in sorted(per_fw.items()):
        done = (f" (on-demand window closed: {r['window']})" if r.get("window") else
                f" ({r['elements']} elements removed)")
        lines.append(f"  {fw}: {r['result']}" + (done if r["result"] == "closed" else f": {r['error']}"))
    je = _journal_after(jpath, {"event": "closed" if not failed else "close_failed", "when": when,
                                "who": journal.who(), "grant": gid, "vendor": op.get("vendor", ""),
                                "system": op.get("system", ""), "ticket": op.get("ticket", ""),
                                "reason": reason, "firewalls": per_fw, "seconds_left": round(remaining, 1)},
                        lines)
    if je is not None:
        lines.append(f"  journal: {jpath} entry {je['seq']} (sha256 {je['hash'][:12]})")
        _anchor([t for t in tgts if per_fw.get(t.device, {}).get("result") == "closed"], jpath, je, lines)
    return Outcome(1 if failed or je is None else 0, lines, {"result": "closed" if not failed else "failed",
                                                             "grant": gid, "firewalls": per_fw})


def record_review(jpath: str, gid: str, reviewer: str, note: str = "") -> Outcome:
    """Journal the review of a break-glass opening (ANSSI PA-022: an emergency access is reviewed within
    24 h); the alert for a missed review stops and the evidence pack counts it, on time or late."""
    g = journal_grants(jpath).get(gid)
    if g is None or not g["opened"].get("emergency"):
        what = "no such grant" if g is None else "not a break-glass opening"
        return Outcome(2, [f"error: {gid}: {what} in {jpath}\n  hint:     vendorwall access list INVENTORY; the "
                           "journal's break-glass openings are in the account review report"], {"error": what})
    if not reviewer.strip():
        return Outcome(2, ["error: --reviewer: empty\n  hint:     the name of the person who reviewed it"],
                       {"error": "reviewer"})
    op = g["opened"]
    now = journal.utcnow()
    on_time = bool(op.get("review_by")) and now <= str(op["review_by"])
    e = journal.append(jpath, {"event": "reviewed", "when": now, "who": journal.who(), "grant": gid,
                               "vendor": op.get("vendor", ""), "system": op.get("system", ""), "reviewer": reviewer,
                               "note": note, "review_by": op.get("review_by", ""), "on_time": on_time})
    return Outcome(0, [f"{gid}: break-glass review recorded ({'on time' if on_time else 'LATE'}, due "
                       f"{op.get('review_by', '?')}); journal entry {e['seq']}"],
                   {"entry": e["seq"], "on_time": on_time})

