"""Run an isolation, a restore or a check on every firewall at once, verify, report, journal.

Failure policy: every firewall is handled on its own thread and independently. One that cannot be
reached (or whose set is missing, or whose verification fails) is named in the report and makes
the run exit 1; the others are isolated all the same. A rerun of the same command is idempotent
(elements already there stay, the report says "already") and finishes the job.

Isolation takes no deploy lock: it only adds and removes quarantine elements, which neither a
deploy nor a deploy's rollback ever touches, so it never waits for a deploy, at 3 a.m. or ever.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from ..deploy.errors import DeployError
from ..deploy.session import Target
from ..devices import agents, clock
from ..devices.agents import run_agent
from ..devices.target import ConnSettings, HostKeys, from_vars
from . import actions, bastions, isolated, journal
from .actions import Conn, Observed, Plan
from .bastions import BastionResult
from .manifest import Manifest

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def stamp(t: float | None = None) -> str:
    """UTC, milliseconds, ``Z``: the report's and the journal's time format."""
    when = dt.datetime.fromtimestamp(time.time() if t is None else t, dt.UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class DeviceResult:
    device: str
    platform: str
    host: str
    status: str = "failed"  # isolated | partial | restored | checked | failed
    changed: bool = False
    added: list[str] = field(default_factory=list)  # isolate: now quarantined, were not before
    already: list[str] = field(default_factory=list)  # isolate: were already quarantined (or covered)
    removed: list[str] = field(default_factory=list)  # restore
    revoked: list[str] = field(default_factory=list)  # restore: the vendors' grants revoked (element comments)
    would_add: list[str] = field(default_factory=list)  # check of an isolation
    would_remove: list[str] = field(default_factory=list)  # check of a restore
    missing: list[str] = field(default_factory=list)  # planned but not in the live set afterwards
    error: str = ""
    error_kind: str = ""
    notes: list[str] = field(default_factory=list)
    isolated_vendors: list[str] = field(default_factory=list)  # per the live set's comments, afterwards
    conns: list[Conn] | None = None
    device_t0: float | None = None  # device clock, just before the transaction
    device_t1: float | None = None  # device clock, just after it
    done_at: float = 0.0  # controller clock (time.time()) when the device's result arrived
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "partial")

    @property
    def clock_skew(self) -> float | None:
        """The device's clock minus the controller's (its change time against the answer's arrival)."""
        return round(self.device_t1 - self.done_at, 3) if self.device_t1 and self.done_at else None

    def to_data(self) -> dict[str, Any]:
        return {"device": self.device, "platform": self.platform, "host": self.host, "result": self.status,
                "changed": self.changed, "failed": self.failed, "added": self.added, "already": self.already,
                "removed": self.removed, "revoked": self.revoked, "would_add": self.would_add,
                "would_remove": self.would_remove,
                "missing": self.missing,
                "error": self.error, "error_kind": self.error_kind, "notes": self.notes,
                "isolated_vendors": self.isolated_vendors,
                "sessions": [c.text() for c in self.conns] if self.conns is not None else None,
                "device_change_at": stamp(self.device_t1) if self.device_t1 else None,
                "device_change_started_at": stamp(self.device_t0) if self.device_t0 else None,
                "clock_skew_s": self.clock_skew,
                "done_at": stamp(self.done_at) if self.done_at else None, "seconds": round(self.seconds, 3)}


@dataclass
class Run:
    plan: Plan
    manifest: Manifest
    reason: str
    ticket: str
    started: float  # time.time() at the command's start
    started_mono: float
    results: list[DeviceResult] = field(default_factory=list)
    finished: float = 0.0
    journal_path: str = ""
    journal_entries: list[dict[str, Any]] = field(default_factory=list)
    run_id: str = ""
    lab: dict[str, Any] | None = None  # lab probe summary
    bastions: list[BastionResult] = field(default_factory=list)  # the vendors' accounts, per bastion
    isolation_path: str = ""  # the isolation record this run updates ("" none)
    record_note: str = ""  # what was done to it
    record_error: str = ""  # why it could not be updated (exit 1)
    journal_error: str = ""  # why the journal could not be written (exit 1; the devices' change stands)
    anchored: dict[str, str] = field(default_factory=dict)  # device -> "" anchored / why not

    @property
    def failed_firewalls(self) -> list[DeviceResult]:
        return [r for r in self.results if r.failed]

    @property
    def failed_bastions(self) -> list[BastionResult]:
        return [b for b in self.bastions if b.failed]

    @property
    def failed(self) -> list[DeviceResult | BastionResult]:
        """Firewalls, then bastions, not done (each has ``device``, ``error_kind``, ``error``)."""
        return [*self.failed_firewalls, *self.failed_bastions]

    @property
    def refused_mgmt(self) -> bool:
        return any("management" in x.reason for x in self.plan.refused)

    def open_flows(self) -> list[tuple[str, str, str]]:
        """The vendors' access flows this isolation did NOT cut: (vendor, flow id, why). A flow is cut when
        every firewall it crosses quarantined every source prefix of its entry path (or, for a bastion's
        shared egress, when the vendor's accounts were disabled on that bastion). Restore: always empty."""
        p, m = self.plan, self.manifest
        if p.action != "isolate":
            return []
        covered = p.elements
        by_fw = {r.device: r for r in self.results}
        by_bastion = {b.device: b for b in self.bastions}
        out: list[tuple[str, str, str]] = []
        for v in p.vendors:
            info = m.vendors[v]
            paths = {e.name: e for e in info.entry_paths}
            for f in info.flows:
                if f.kind != "vendor_access" or not f.id.startswith(f"vendor/{v}/"):
                    continue
                ep = paths.get(f.peer)
                if ep is not None and ep.shared:
                    b = by_bastion.get(ep.bastion or "")
                    ok = b is not None and b.status == ("checked" if p.check else "disabled")
                    if not ok:
                        why = (f"{ep.bastion}: accounts {'NOT ' if b else 'not '}disabled ("
                               f"{b.error_kind or b.status if b else 'no account of the vendor on it'}); the shared "
                               "egress is never quarantined")
                        out.append((v, f.id, why))
                    continue
                why = ""
                for src in f.src:
                    cov = next((e for e in covered if src.subnet_of(e.prefix)), None)
                    if cov is None:
                        ref = next((x for x in p.refused if src.subnet_of(x.element.prefix)
                                    or x.element.prefix.subnet_of(src)), None)
                        why = f"{src} not quarantined" + (f" ({ref.reason})" if ref else "")
                        break
                    for fw in f.firewalls:
                        res = by_fw.get(fw)
                        if res is None:
                            why = f"{fw} not handled"
                        elif res.status == "failed" or cov.value in res.missing:
                            why = f"{fw} {res.error_kind or 'failed'}"
                        if why:
                            break
                    if why:
                        break
                if why:
                    out.append((v, f.id, why))
        return out

    def vendor_flows(self) -> int:
        return sum(1 for v in self.plan.vendors for f in self.manifest.vendors[v].flows
                   if f.kind == "vendor_access" and f.id.startswith(f"vendor/{v}/"))

    @property
    def exit_code(self) -> int:
        lab_bad = bool(self.lab and self.lab.get("mismatches"))
        return 1 if (self.failed or self.refused_mgmt or lab_bad or self.open_flows() or self.record_error
                     or self.journal_error) else 0

    @property
    def all_done_seconds(self) -> float:
        """Command start -> the last firewall's result."""
        return max((r.done_at for r in self.results), default=self.started) - self.started

    @property
    def everything_done_seconds(self) -> float:
        """Command start -> the last firewall's or bastion's result."""
        ends = [r.done_at for r in self.results] + [b.done_at for b in self.bastions]
        return max(ends, default=self.started) - self.started

    def to_data(self) -> dict[str, Any]:
        p = self.plan
        return {
            "run": self.run_id, "action": p.action, "check": p.check, "vendors": p.vendors,
            "scope": p.scope, "reason": self.reason, "ticket": self.ticket, "started": stamp(self.started),
            "finished": stamp(self.finished) if self.finished else None,
            "all_devices_done_seconds": round(self.all_done_seconds, 3),
            "everything_done_seconds": round(self.everything_done_seconds, 3),
            "manifest": {"path": self.manifest.path, "sha256": self.manifest.digest, "now": self.manifest.now},
            "elements": [e.to_data() for e in p.elements],
            "refused": [{**r.element.to_data(), "reason": r.reason} for r in p.refused],
            "devices": {r.device: r.to_data() for r in self.results},
            "failed_devices": [r.device for r in self.failed_firewalls],
            "bastions": {b.device: b.to_data() for b in self.bastions},
            "failed_bastions": [b.device for b in self.failed_bastions],
            "cut_flows": [f.id for f in p.cut], "keep_flows": [f.id for f in p.keep],
            "open_flows": [{"vendor": v, "flow": f, "why": why} for v, f, why in self.open_flows()],
            "accounts": _accounts(self.manifest, p, self.bastions), "tunnels": _tunnels(self.manifest, p),
            "lab": self.lab, "exit": self.exit_code,
            "isolation_record": {"path": self.isolation_path, "note": self.record_note, "error": self.record_error},
            "journal": {"path": self.journal_path,
                        "hash": self.journal_entries[-1]["hash"] if self.journal_entries else None,
                        "error": self.journal_error, "anchored": self.anchored},
        }

    def report(self) -> str:
        return report(self)


# --------------------------------------------------------------------------- targets


def targets(m: Manifest, settings: ConnSettings | None = None) -> list[Target]:
    """The firewalls' targets: the manifest's connection settings (the inventory's ansible_* variables and
    known_hosts at plan time), overridden by the run's explicit ``settings``."""
    return [from_vars(fw.name, fw.platform, fw.ssh, settings=settings, default_host=fw.mgmt_address)
            for fw in sorted(m.firewalls.values(), key=lambda f: f.name)]


def lab_targets(m: Manifest, lab_dir: str, *, connect_timeout: float = 5.0,
                command_timeout: float = 30.0) -> list[Target]:
    """Targets for a lab (``vendorwall lab up``): its key, connections opened from its controller namespace.

    Built from the lab's ``state.json`` (controller namespace, key, firewall addresses) only.
    """
    from ..errors import UsageError
    from ..lab import netns, runner

    state = runner.LabState.load(lab_dir)
    if state is None:
        raise UsageError(f"--lab-dir: no lab in {lab_dir}", "start one: vendorwall lab up INVENTORY")
    ctl = state.controller

    def factory(host: str, port: int, timeout: float) -> Any:
        return netns.connect_in(ctl, host, port, timeout)

    out = []
    for fw in sorted(m.firewalls.values(), key=lambda f: f.name):
        info = state.firewalls.get(fw.name) or {}  # not in the lab: reported unreachable, like a missing device
        out.append(Target(fw.name, fw.platform, info.get("mgmt", fw.mgmt_address), key_file=state.ssh_key,
                          sock_factory=factory, connect_timeout=connect_timeout, command_timeout=command_timeout,
                          host_keys=HostKeys((state.known_hosts,), user_files=False),
                          remote_dir=info.get("remote_dir", "/var/lib/vendorwall")))
    return out


def bastion_targets(m: Manifest, names: list[str], settings: ConnSettings | None = None) -> list[Target]:
    """SSH targets for the bastions ``names`` (their management address and settings in the manifest)."""
    return [from_vars(n, m.bastions[n].platform, m.bastions[n].ssh, settings=settings,
                      default_host=m.bastions[n].mgmt_address)
            for n in sorted(names) if n in m.bastions]


def lab_bastion_targets(m: Manifest, lab_dir: str, names: list[str], *, connect_timeout: float = 5.0,
                        command_timeout: float = 30.0) -> list[Target] | None:
    """Targets for the lab's bastion namespaces (:mod:`vendorwall.lab.bastion`), None when the lab has none.

    A bastion of the manifest missing from a lab that has bastions gets a target that cannot connect
    (reported unreachable, like a device that is down).
    """
    from ..lab import bastion, netns

    state = bastion.BastionState.load(lab_dir)
    if state is None:
        return None
    out = []
    for n in sorted(names):
        ns = (state.bastions.get(n) or {}).get("netns", "")

        def factory(host: str, port: int, timeout: float, ns: str = ns, n: str = n) -> Any:
            if not ns:
                raise ConnectionRefusedError(f"bastion {n} is not running in the lab {lab_dir}")
            return netns.connect_in(ns, host, port, timeout)

        platform = m.bastions[n].platform if n in m.bastions else "linux"
        out.append(Target(n, platform, "127.0.0.1", key_file=state.ssh_key, sock_factory=factory,
                          connect_timeout=connect_timeout, command_timeout=command_timeout,
                          host_keys=HostKeys((state.known_hosts,), user_files=False, alias=n)))
    return out


def _default_bastion_targets(m: Manifest, names: list[str], tgts: list[Target],
                             lab_dir: str | None, settings: ConnSettings | None = None) -> list[Target] | None:
    """The bastions' targets when the caller gave none: the lab's, else the firewalls' SSH credentials;
    None (bastions skipped) for a lab without bastion namespaces, or firewall targets with a custom socket."""
    t = tgts[0] if tgts else Target("", "", "")
    if not lab_dir and any(x.sock_factory for x in tgts):
        return None  # the firewalls are reached through a custom path (a lab's namespace): bastions are not
    if lab_dir:
        return lab_bastion_targets(m, lab_dir, names, connect_timeout=t.connect_timeout,
                                   command_timeout=t.command_timeout)
    return bastion_targets(m, names, settings)


# --------------------------------------------------------------------------- per device


def evaluate(p: Plan, o: Observed, res: DeviceResult) -> DeviceResult:
    """Decide a device's result from the agent's answer (pure).

    A prefix counts as cut when an element of the state table's ``quarantine`` or of the policy's
    ``isolated`` set (the render-time quarantine) covers it: both are dropped before any accept."""
    res.device_t0, res.device_t1 = o.t0, o.t1
    live = o.before if p.check else o.after
    if live is None:
        res.status, res.error_kind = "failed", "no quarantine set"
        res.error = (f"no set {actions.STATE_TABLE} {actions.QUARANTINE} on the device ({o.set_error}); "
                     "deploy vendorwall to it first")
        return res
    live_all = live + (o.isolated_before if p.check else o.isolated_after)
    res.isolated_vendors = actions.isolated_vendors(live_all)
    active, keep_ok = actions.quarantine_active(o.chain)
    before = o.before or []
    before_all = before + o.isolated_before
    if p.check:
        res.status = "checked"
        for e in p.elements:
            if p.action == "isolate":
                (res.already if actions.covering(e.prefix, before_all) else res.would_add).append(e.value)
            elif any(x.prefix == e.prefix or x.vendor in p.vendors for x in before_all):
                res.would_remove.append(e.value)
        if p.action == "restore":
            mine = {e.prefix for e in p.elements}
            res.would_remove += sorted({_value(x.prefix) for x in before_all
                                        if x.vendor in p.vendors and x.prefix not in mine})
            res.would_remove = [e.value for e in p.elements if any(x.prefix == e.prefix for x in before_all)] + [
                v for v in res.would_remove if v not in {e.value for e in p.elements}]
        if not active:
            res.status, res.error_kind = "failed", "quarantine not enforced"
            res.error = f"the state chain has no quarantine drop rules ({o.chain_error or 'not found'})"
        elif p.action == "isolate" and p.needs_keep and not keep_ok:
            res.status, res.error_kind = "partial", "keep flows not supported"
            res.error = ("this firewall's state chain does not honour the keep mark: scope segment would quarantine "
                         "the entry paths only (redeploy with keep-flow tagging first)")
        res.conns = _relevant(o.conns, p) if o.conns is not None else None
        if o.conntrack_missing:
            res.notes.append("conntrack not available on the device: live sessions not listed")
        return res
    if o.persist_error:
        res.notes.append(f"boot snapshot not written: {o.persist_error}")
    if p.action == "restore":
        lifted = {e.prefix for e in p.elements}

        def ours(x: actions.LiveElement) -> bool:
            return x.prefix in lifted or x.vendor in p.vendors

        gone_before = {x.prefix for x in before_all if ours(x)}
        still = {x.prefix for x in live_all if ours(x)}
        res.removed = [_value(n) for n in sorted(gone_before - still, key=_order)]
        res.missing = [_value(n) for n in sorted(still, key=_order)]
        for e in p.elements:
            cov = actions.covering(e.prefix, live_all)
            if cov is not None and cov.prefix != e.prefix and not ours(cov):
                res.notes.append(f"{e.value} is still quarantined by {cov.prefix} ({cov.comment or 'no comment'}): "
                                 "not this vendor's element, left alone")
        res.revoked = list(o.revoked)
        res.changed = bool(res.removed or res.revoked)
        if o.revoke_failed:
            res.status, res.error_kind = "failed", "grants not revoked"
            res.error = (f"grants opened before the isolation still on the firewall: {'; '.join(o.revoke_failed)} "
                         "(close them: vendorwall access close --grant ID)")
        elif res.missing:
            res.status, res.error_kind = "failed", "verify"
            res.error = f"still quarantined after the restore: {', '.join(res.missing)}"
        else:
            res.status = "restored"
        return res
    # isolate
    planned = p.elements
    if o.no_keep:
        planned = [e for e in p.elements if e.kind == "entry"]
    for e in planned:
        cov_after = actions.covering(e.prefix, live)
        if cov_after is None:
            res.missing.append(e.value)
            continue
        if actions.covering(e.prefix, before_all) is not None:
            res.already.append(e.value)
        else:
            res.added.append(e.value)
        if cov_after.prefix != e.prefix:
            res.notes.append(f"{e.value} is covered by an element already there: {cov_after.prefix} "
                             f"({cov_after.comment or 'no comment'})")
    res.changed = bool(res.added)
    if o.failed_elements and res.missing:
        res.notes.append("nft refused: " + ", ".join(o.failed_elements) + (f" ({o.txn_output.splitlines()[0]})"
                                                                           if o.txn_output else ""))
    if res.missing:
        res.status, res.error_kind = "failed", "verify"
        res.error = (f"not in the quarantine set after the change: {', '.join(res.missing)}"
                     + (f"; nft said: {o.txn_output[:300]}" if o.txn_output else ""))
    elif not active:
        res.status, res.error_kind = "failed", "quarantine not enforced"
        res.error = (f"elements are in the set but the state chain has no quarantine drop rules "
                     f"({o.chain_error or 'not found'}): NOT isolated; redeploy vendorwall to this firewall")
    elif o.no_keep:
        res.status, res.error_kind = "partial", "keep flows not supported"
        res.error = ("entry paths quarantined, segments NOT quarantined: this firewall's state chain does not "
                     "honour the keep mark, so quarantining the segments would cut must-keep clinical flows "
                     "(redeploy with keep-flow tagging, then rerun)")
    else:
        res.status = "isolated"
    return res


def _value(n: IPv4Network) -> str:
    return str(n.network_address) if n.prefixlen == 32 else str(n)


def _order(n: IPv4Network) -> tuple[int, int]:
    return int(n.network_address), n.prefixlen


def _relevant(conns: list[Conn] | None, p: Plan) -> list[Conn]:
    nets = p.prefixes
    out = []
    for c in conns or []:
        try:
            s, d = IPv4Address(c.src), IPv4Address(c.dst)
        except ValueError:
            continue
        if any(s in n or d in n for n in nets):
            out.append(c)
    return out


def keep_match(c: Conn, p: Plan) -> str:
    """The id of the must-keep flow a live session belongs to (either direction), or ""."""
    try:
        s, d = IPv4Address(c.src), IPv4Address(c.dst)
    except ValueError:
        return ""
    for f in p.keep:
        for src, dst, port in f.tuples():
            if f.protocol not in (c.proto, "any"):
                continue
            if s in src and d in dst and (port is None or port == c.dport):
                return f.id
            if d in src and s in dst and (port is None or port == c.sport):
                return f.id
    return ""


SESSION_AGENTS = (actions.AGENT, "anchor")  # the change, then the anchor of the journal entry that records it


def run_device(t: Target, p: Plan, *, conntrack: bool = True,
               sessions: dict[str, agents.Session] | None = None) -> DeviceResult:
    """One firewall: one SSH connection, one program run (the ``nft_state`` agent). With ``sessions``, the
    program is a session that stays open afterwards (kept in ``sessions`` under the device's name): the run
    anchors its journal's last entry over it, with no second connection or program start."""
    t0 = time.monotonic()
    res = DeviceResult(t.device, t.platform, t.host)
    try:
        if t.platform != "nftables":
            from ..devices import appliances

            if appliances.supported(t.platform):  # FortiOS, Stormshield, PAN-OS, ASA: their drivers
                from . import appliance

                return appliance.run_device(t, p, res)
            res.error_kind = "unsupported"
            res.error = (f"platform {t.platform}: vendorwall cannot isolate on it yet; cut the vendor by hand on "
                         "this device")
            return res
        request = actions.request(p, conntrack, t.remote_dir)
        if sessions is None:
            answer = run_agent(t, actions.AGENT, request)
        else:
            s = agents.Session(t, SESSION_AGENTS)
            try:
                answer = s.ask(actions.AGENT, request)
            except BaseException:
                s.close()
                raise
            sessions[t.device] = s
        return evaluate(p, actions.observed(answer), res)
    except DeployError as exc:
        res.status, res.error_kind, res.error = "failed", exc.kind, str(exc)
        return res
    finally:
        res.done_at = time.time()
        res.seconds = time.monotonic() - t0


# --------------------------------------------------------------------------- the run


def _journal_base(r: Run) -> dict[str, Any]:
    p = r.plan
    return {"run": r.run_id, "action": p.action, "check": p.check, "vendors": p.vendors,
            "scope": p.scope, "reason": r.reason, "ticket": r.ticket, "who": journal.who(),
            "manifest": {"path": r.manifest.path, "sha256": r.manifest.digest, "now": r.manifest.now},
            "devices_planned": p.firewalls}


def execute(m: Manifest, p: Plan, tgts: list[Target], *, reason: str, ticket: str = "", journal_path: str = "",
            started: float | None = None, started_mono: float | None = None, workers: int = 256,
            conntrack: bool = True, lab_dir: str | None = None, settings: ConnSettings | None = None,
            progress: Progress = _quiet, bastion_targets: list[Target] | None = None,
            accounts: bool = True, isolation_path: str = "", access_journal: str = "") -> Run:
    """Firewalls and bastions at once, on one thread pool, one SSH round trip each.

    ``bastion_targets``: default the lab's bastion namespaces with ``lab_dir`` (a lab without any:
    bastions reported "skipped", not failed), else the manifest's bastion addresses with the
    firewalls' SSH user, key, port and timeouts. ``accounts=False``: firewalls only.

    ``access_journal``: where a restore closes the grants it revoked (the state directory's
    ``journals/access.jsonl``); empty: the revocation is in the report and the incident journal only.

    ``isolation_path``: the isolation record (:mod:`.isolated`). An isolation records its vendors there
    while the devices are being changed, with the journal's ``started`` entry, under the record's lock
    (every later render then carries their quarantine); a restore removes them once every firewall has
    lifted them. A record that cannot be updated never stops the devices' change: it is reported, exit 1.
    """
    r = Run(p, m, reason, ticket, started or time.time(), started_mono or time.monotonic(),
            journal_path=journal_path, run_id=uuid.uuid4().hex[:16], isolation_path=isolation_path)
    bplans = bastions.plan(m, p.vendors) if accounts else []
    skip = ""
    if bplans and bastion_targets is None:
        bastion_targets = _default_bastion_targets(m, [b.bastion for b in bplans], tgts, lab_dir, settings)
        if bastion_targets is None:
            skip = (f"not part of this lab (no bastion namespace in {lab_dir}): accounts NOT disabled here; "
                    "by hand on the real bastion") if lab_dir else (
                "the firewalls are reached through a custom connection (a lab) and no bastion target was "
                "given: accounts NOT disabled here")
    btg = {t.device: t for t in bastion_targets or []}
    # the isolation record and the journal's "started" entry are written BEFORE any device is touched (a run
    # that dies half-way is on record); the devices' change is anchored at the end, over the same sessions
    record = p.action == "isolate" and not p.check and bool(isolation_path)
    with _record_lock(isolation_path if record else ""):
        if record:
            _record(r, lambda iso: isolated.with_isolated(iso, [
                isolated.Entry(v, stamp(r.started), reason, ticket, p.scope, journal.who()["user"], r.run_id)
                for v in p.vendors]))
        if journal_path:
            _journal(r, journal_path, {
                **_journal_base(r), "event": "started", "when": stamp(r.started),
                "elements": [e.to_data() for e in p.elements],
                "refused": [{**x.element.to_data(), "reason": x.reason} for x in p.refused],
                "bastions_planned": {b.bastion: [a.id for a in b.accounts] for b in bplans},
                **({"isolation_record": r.record_note} if record else {})})
    # one connection and one program per firewall; kept open to anchor the journal's last entry afterwards
    sessions: dict[str, agents.Session] | None = {} if journal_path and not p.check else None
    try:
        with ThreadPoolExecutor(max(1, min(workers, len(tgts) + len(bplans)))) as pool:
            futs: list[Future[Any]] = [
                pool.submit(run_device, t, p, conntrack=conntrack, **({} if sessions is None else
                                                                       {"sessions": sessions})) for t in tgts]
            futs += [pool.submit(bastions.run_bastion, btg.get(b.bastion), b, p.action, p.check,
                                 skip_reason=skip) for b in bplans]
            for fut in as_completed(futs):
                res = fut.result()
                if isinstance(res, BastionResult):
                    r.bastions.append(res)
                    progress(bastion_line(res, p.action, p.check))
                else:
                    r.results.append(res)
                    progress(device_line(res, p.action, p.check))
            r.results.sort(key=lambda x: x.device)
            r.bastions.sort(key=lambda x: x.device)
            if lab_dir and not p.check:
                from . import labcheck

                r.lab = labcheck.probe(lab_dir, m, p)
            r.finished = time.time()
            lift = p.action == "restore" and not p.check and bool(isolation_path)
            if lift and r.failed_firewalls:
                r.record_note = (f"{', '.join(p.vendors)} still recorded as isolated in {isolation_path} (not every "
                                 "firewall lifted the quarantine): deploys keep them quarantined; rerun the restore")
            with _record_lock(isolation_path if lift and not r.failed_firewalls else ""):
                if lift and not r.failed_firewalls:
                    _record(r, lambda iso: isolated.without(iso, p.vendors))
                _finish_journal(r, journal_path)
            if p.action == "restore" and not p.check:
                _journal_revoked(r, access_journal)
            if r.journal_entries and not p.check:
                _anchor(r, [*tgts, *btg.values()], sessions or {}, pool)
    finally:  # every program told to end at once, then waited for (5 s in all: a device gone silent since its
        # answer costs the run 5 s at most, not 5 s each)
        for s in (sessions or {}).values():
            s.end_input()
        deadline = time.monotonic() + 5.0
        for s in (sessions or {}).values():
            s.close(wait=max(0.0, deadline - time.monotonic()))
    return r


def _journal(r: Run, path: str, entry: dict[str, Any]) -> None:
    """Journal an entry; a journal that cannot be written (disk full...) never stops or undoes the devices'
    change: it is reported after what was done on them, exit 1."""
    try:
        r.journal_entries.append(journal.append(path, entry))
    except journal.JournalError as exc:
        r.journal_error = r.journal_error or (f"{exc.message} ({exc.path}){'; ' + exc.hint if exc.hint else ''}: "
                                              "what this run did on the devices is only in this report")


def _anchor(r: Run, tgts: list[Target], sessions: dict[str, agents.Session] | None = None,
            pool: Any = None) -> None:
    """The last journal entry's hash kept on the devices this run reached (best effort, reported): over the
    firewalls' open sessions, else (bastions, a firewall whose session ended) one agent call each."""
    from ..devices import anchors

    sessions = sessions or {}
    reached = {x.device for x in r.results if x.error_kind not in ("connect", "host key")}
    reached |= {b.device for b in r.bastions if b.error_kind not in ("connect", "host key", "not in the lab",
                                                                    "unknown bastion", "unsupported")}
    live = [s for d, s in sorted(sessions.items()) if d in reached and not s.closed]
    targets = [t for t in tgts if t.device in reached and t.platform in ("nftables", "linux", "")
               and t.device not in {s.t.device for s in live}]
    entry = r.journal_entries[-1]
    if live:
        r.anchored.update(anchors.write_in(live, r.journal_path, entry, pool=pool))
    if targets:
        r.anchored.update(anchors.write(targets, r.journal_path, entry))
    r.anchored = dict(sorted(r.anchored.items()))


def _record_lock(path: str) -> contextlib.ExitStack:
    """The isolation record's lock ("" or a lock that cannot be taken: none; :func:`_record` reports)."""
    stack = contextlib.ExitStack()
    if path:
        with contextlib.suppress(OSError):
            stack.enter_context(isolated.locked(path))
    return stack


def _record(r: Run, change: Callable[[isolated.Isolation], isolated.Isolation]) -> None:
    """Update the isolation record (the caller holds its lock); any failure is reported, never raised."""
    path = r.isolation_path
    try:
        isolated.write(path, change(isolated.read(path)))
        r.record_note = (f"{', '.join(r.plan.vendors)} recorded as isolated in {path} (every deploy keeps them "
                         "quarantined)" if r.plan.action == "isolate" else
                         f"{', '.join(r.plan.vendors)} removed from the isolation record {path}")
    except (OSError, isolated.IsolationStateError) as exc:
        why = exc.message if isinstance(exc, isolated.IsolationStateError) else f"{path}: {exc.strerror or exc}"
        r.record_error = (f"the isolation record was NOT updated ({why}): a deploy would not know "
                          f"{', '.join(r.plan.vendors)} {'is' if r.plan.action == 'isolate' else 'is no longer'} "
                          "isolated; fix it and rerun the same command")


def _journal_revoked(r: Run, path: str) -> None:
    """The grants a restore revoked, closed in the access journal ``path``: ``access list`` and the evidence
    pack show them closed by the restore, not as gone before their expiry."""
    by_grant: dict[str, dict[str, Any]] = {}
    for res in r.results:
        for comment in res.revoked:
            parts = comment.split()
            gid = parts[0].split("=", 1)[1]
            vendor, _, system = parts[1].partition("/")
            g = by_grant.setdefault(gid, {"vendor": vendor, "system": system, "firewalls": {}})
            fw = g["firewalls"].setdefault(res.device, {"result": "closed", "elements": 0,
                                                       "device_change_at": stamp(res.device_t1 or r.finished)})
            fw["elements"] += 1
    if not by_grant or not path:
        return
    for gid, g in sorted(by_grant.items()):
        try:
            journal.append(path, {"event": "closed", "when": stamp(r.finished), "who": journal.who(), "grant": gid,
                                  "vendor": g["vendor"], "system": g["system"], "ticket": r.ticket,
                                  "reason": f"revoked by the restore of run {r.run_id}: a grant opened before an "
                                            "isolation needs a new approval", "firewalls": g["firewalls"]})
        except journal.JournalError as exc:
            r.journal_error = r.journal_error or exc.message
            return


def _finish_journal(r: Run, journal_path: str) -> None:
    p = r.plan
    if journal_path:
        _journal(r, journal_path, {
            **_journal_base(r), "event": "finished", "when": stamp(r.finished),
            "started": stamp(r.started), "all_devices_done_seconds": round(r.all_done_seconds, 3),
            "devices": {x.device: {k: v for k, v in x.to_data().items() if k != "sessions"} for x in r.results},
            "failed_devices": [x.device for x in r.failed_firewalls],
            "bastions": {b.device: b.to_data() for b in r.bastions},
            "failed_bastions": [b.device for b in r.failed_bastions],
            "everything_done_seconds": round(r.everything_done_seconds, 3), "lab": r.lab, "exit": r.exit_code,
            **({"isolation_record": r.record_error or r.record_note} if r.isolation_path and not p.check else {})})


# --------------------------------------------------------------------------- the report


def _flow_text(f: Any) -> str:
    ports = ",".join(map(str, f.ports)) if f.ports else "any"
    src = ",".join(map(str, f.src))
    dst = ",".join(map(str, f.dst))
    return f"{f.id}: {src} -> {dst} {f.protocol}/{ports}"


def _accounts(m: Manifest, p: Plan, done: list[BastionResult] | None = None) -> list[dict[str, Any]]:
    """The vendors' accounts of the manifest; ``automated``: every bastion it lives on was handled by this run."""
    handled = {b.device for b in done or [] if b.status in ("disabled", "restored", "checked")}
    out = []
    for v in p.vendors:
        for a in m.vendors[v].accounts:
            out.append({"vendor": v, "id": a.id, "person": a.person, "bastions": list(a.bastions),
                        "expires": a.expires, "automated": bool(a.bastions) and set(a.bastions) <= handled})
    return out


def _flow_src(m: Manifest, x: tuple[str, str, str]) -> list[IPv4Network]:
    f = next((f for f in m.vendors[x[0]].flows if f.id == x[1]), None)
    return list(f.src) if f else []


def _tunnels(m: Manifest, p: Plan) -> list[dict[str, Any]]:
    return [{"vendor": v, "name": t.name, "peer": t.peer, "remote_subnets": [str(n) for n in t.remote_subnets],
             "automated": False} for v in p.vendors for t in m.vendors[v].tunnels]


def bastion_line(b: BastionResult, action: str, check: bool = False) -> str:
    when = stamp(b.done_at or None)
    name = f"{b.device:<14}"
    if b.status == "skipped":
        return f"{when}  {name} SKIPPED: {b.error}"
    if b.status == "failed":
        return f"{when}  {name} FAILED ({b.error_kind}): {b.error}"
    ids = ", ".join(a.id for a in b.accounts) or "none"
    if check:
        if action == "isolate":
            todo = [a for a in b.accounts if not (a.locked_before and a.expire_before == "1")]
            live = sum(a.processes_before for a in b.accounts)
            what = (f"checked       {len(todo)} accounts would be disabled ({', '.join(a.id for a in todo) or 'none'}; "
                    f"{len(b.accounts)} tagged here), {live} live processes would be killed")
        else:
            back = [a.id for a in b.accounts if a.record and "was_locked=1" not in a.record]
            what = f"checked       {len(back)} accounts would be re-enabled ({', '.join(back) or 'none'})"
        return f"{when}  {name} {what}  {b.seconds:.2f} s"
    change = f"  device change {stamp(b.device_t1)}" if b.device_t1 else ""
    if action == "isolate":
        what = (f"accounts disabled ({ids}), {b.sessions_ended} processes killed"
                + ("" if b.changed else " (already disabled)"))
    else:
        back = [a.id for a in b.accounts if a.action == "enable"]
        kept = [a.id for a in b.accounts if a.action == "keptlocked"]
        what = (f"{len(back)} accounts re-enabled ({', '.join(back)})" if back else "no account re-enabled") + (
            f", {len(kept)} kept locked ({', '.join(kept)}: locked before the isolation)" if kept else "")
    return f"{when}  {name} {what}{change}  {b.seconds:.2f} s"


def bastion_summary(r: Run) -> str:
    bs = r.bastions
    done = stamp(max((b.done_at for b in bs), default=r.started))
    word = "checked" if r.plan.check else {"isolate": "accounts disabled", "restore": "accounts restored"}[
        r.plan.action]
    if r.plan.action == "restore" and not r.plan.check:
        back = sum(a.action == "enable" for b in bs for a in b.accounts)
        kept = sum(a.action == "keptlocked" for b in bs for a in b.accounts)
        untouched = sum(a.action == "norecord" for b in bs for a in b.accounts)
        word = (f"accounts restored ({back} re-enabled, {kept} kept locked: locked before the isolation, "
                f"{untouched} not disabled by vendorwall: left as they are)")
    failed = r.failed_bastions
    skipped = [b for b in bs if b.status == "skipped"]
    if failed:
        names = ", ".join(f"{b.device} ({b.error_kind})" for b in failed)
        return (f"{done}  ACCOUNTS NOT DONE on {len(failed)} of {len(bs)} bastions: {names}; the firewalls' result "
                "is above (the bastions' entry paths are quarantined there). Rerun the same command to finish.")
    if skipped and len(skipped) == len(bs):
        return f"{done}  bastions: none handled ({len(bs)} skipped)"
    return f"{done}  {word} on all {len(bs) - len(skipped)} bastions (+{r.everything_done_seconds:.2f} s)" + (
        f"; {len(skipped)} skipped" if skipped else "")


def device_line(res: DeviceResult, action: str, check: bool = False) -> str:
    when = stamp(res.done_at or None)
    if res.status == "failed":
        return f"{when}  {res.device:<14} FAILED ({res.error_kind}): {res.error}"
    if res.status == "partial":
        what = f"PARTIAL: {len(res.added)} added, {len(res.already)} already"
        return f"{when}  {res.device:<14} {what}; {res.error}"
    change = f"  device change {stamp(res.device_t1)}" if res.device_t1 else ""
    if check:
        what = (f"checked       {len(res.would_add)} would be added, {len(res.already)} already there"
                if action == "isolate" else f"checked       {len(res.would_remove)} would be removed")
        change = ""
    elif action == "isolate":
        what = f"isolated      {len(res.added)} added, {len(res.already)} already there"
    else:
        what = f"restored      {len(res.removed)} removed" + ("" if res.changed else " (nothing to remove)")
        if res.revoked:
            what += f", {len(res.revoked)} grant element(s) revoked"
    still = f"; isolated here now: {', '.join(res.isolated_vendors)}" if res.isolated_vendors else ""
    skew = clock.warning(res.device, res.clock_skew)
    return f"{when}  {res.device:<14} {what}{change}  {res.seconds:.2f} s{still}" + (f"\n    {skew}" if skew else "")


def summary_line(r: Run) -> str:
    """The headline: what was really cut, counted on the vendors' flows (a partial cut is NOT isolated)."""
    n = len(r.results)
    done = stamp(max((x.done_at for x in r.results), default=r.started))
    word = "checked" if r.plan.check else {"isolate": "isolated", "restore": "restored"}[r.plan.action]
    failed = r.failed_firewalls
    open_ = r.open_flows()
    total = r.vendor_flows()
    if not failed and not open_:
        flows = f"; {total} vendor flows {'would be cut' if r.plan.check else 'cut'}" if r.plan.action == "isolate" \
            else ""
        return f"{done}  {word} on all {n} devices (+{r.all_done_seconds:.2f} s from the command's start){flows}"
    head = f"{done}  NOT {word.upper()}"
    if r.plan.check:
        head = f"{done}  check: would NOT be isolated"
    parts = []
    if failed:
        names = ", ".join(f"{x.device} ({x.error_kind})" for x in failed)
        parts.append(f"{len(failed)} of {n} devices failed: {names}; {n - len(failed)} done "
                     f"(+{r.all_done_seconds:.2f} s)")
    if open_:
        vendors = sorted({v for v, _, _ in open_})
        parts.append(f"{len(open_)} of {total} vendor flows {'would stay' if r.plan.check else 'still'} open "
                     f"({', '.join(vendors)}; listed below)")
    return f"{head}: {'; '.join(parts)}." + ("" if r.plan.check else " Fix the cause and rerun the same command.")


def report(r: Run) -> str:
    p, m = r.plan, r.manifest
    check = p.check
    head = {"isolate": "ISOLATE", "restore": "RESTORE"}[p.action] + (" --check (dry run: nothing changed)"
                                                                     if check else "")
    lines = [f"{stamp(r.started)}  {head} vendor {', '.join(p.vendors) if len(p.vendors) < 4 else 'all'}"
             f"{'' if p.action == 'restore' else f' (scope {p.scope})'}"
             f"  reason: {r.reason}" + (f"  ticket: {r.ticket}" if r.ticket else ""),
             f"  manifest {m.path} (sha256 {m.digest[:12]}, compiled for {m.now}); {len(r.results)} firewalls"]
    if p.action == "restore":
        lines.append(f"  the vendor's prefixes, {'that would be ' if check else ''}lifted where present "
                     f"({len(p.elements)}):")
    else:
        lines.append(f"  prefixes {'that would be ' if check else ''}quarantined ({len(p.elements)}):")
    lines += [f"    {e.prefix}  {e.vendor} {e.kind} {e.name}" for e in p.elements]
    for ref in p.refused:
        loud = "REFUSED" if "management" in ref.reason else "skipped"
        e = ref.element
        lines.append(f"  {loud} {e.prefix} ({e.vendor} {e.kind} {e.name}): {ref.reason}")
    lines += [device_line(x, p.action, check) for x in r.results]
    for x in r.results:
        lines += [f"    {x.device}: {n}" for n in x.notes]
        if check and p.action == "isolate" and x.conns is not None:
            if not x.conns:
                lines.append(f"    {x.device}: no live session of these prefixes")
            for c in x.conns:
                k = keep_match(c, p) if p.scope == "segment" else ""
                lines.append(f"    {x.device}: live session {c.text()}: " + (f"stays up (must-keep {k})" if k
                                                                            else "would be cut"))
    lines.append(summary_line(r))
    for v, fid, why in r.open_flows():
        lines.append(f"    NOT CUT {v}: {fid}: {why}")
    for v, path, bastion in p.shared:
        lines.append(f"  {v}: entry path {path} is {bastion}'s egress, shared with other vendors: never quarantined; "
                     f"the vendor is cut on {bastion} (its accounts {'would be ' if check else ''}disabled, "
                     "sessions ended)")
    lines += [bastion_line(b, p.action, check) for b in r.bastions]
    for b in r.bastions:
        lines += [f"    {b.device}: {n}" for n in b.notes]
        if check and p.action == "isolate":
            lines += [f"    {b.device}: {x.id} ({x.vendor}): {'locked' if x.locked_before else 'active'}, expires "
                      f"{bastions._date(x.expire_before)}, {x.processes_before} live processes: would be disabled"
                      + (" and its sessions ended" if x.processes_before else "") for x in b.accounts]
    if r.bastions:
        lines.append(bastion_summary(r))
    accounts = _accounts(m, p, r.bastions)
    manual = [x for x in accounts if not x["automated"]]
    tunnels = _tunnels(m, p)
    if p.action != "restore":
        cut_word = "would be cut" if check else "cut"
        not_cut = {fid for _, fid, _ in r.open_flows()}  # listed as NOT CUT above: never counted as cut here
        cut = [f for f in p.cut if f.id not in not_cut]
        lines.append(f"  flows {cut_word} ({len(cut)}):" if check else f"  flows cut: {len(cut)} "
                     f"({sum(f.kind == 'vendor_access' for f in cut)} vendor access, "
                     f"{sum(f.kind == 'clinical' for f in cut)} clinical without keep)")
        if check:
            lines += [f"    {_flow_text(f)}" for f in cut]
        lines.append(f"  must-keep clinical flows that stay up ({len(p.keep)})" + (":" if check else
                                                                                 " (--check lists them)"))
        if check:
            lines += [f"    {_flow_text(f)}" for f in p.keep]
        if p.stay:
            lines.append(f"  other clinical flows stay up too (scope access: the vendor's segments are not "
                         f"quarantined): {len(p.stay)}")
        if manual:
            meanwhile = ("and some of their flows would NOT be cut (see NOT CUT above)" if check and not_cut else
                         "their entry paths would be quarantined above, so they would reach no system meanwhile"
                         if check else "their entry paths are quarantined above, so they reach no system meanwhile"
                         if not not_cut else "and some of their flows are NOT cut (see NOT CUT above)")
            lines.append(f"  accounts NOT disabled by this run ({len(manual)}): do it by hand (NOT AUTOMATED YET where "
                         "no bastion was reached: VPN concentrators, a failed or skipped bastion); "
                         f"{meanwhile}:")
            for acc in manual:
                where = ", ".join(acc["bastions"]) or "the VPN concentrator (no bastion entry path)"
                lines.append(f"    {acc['vendor']}: {acc['id']} ({acc['person']}) on {where}: "
                             f"{bastions.manual_command(acc['id'])}")
        if tunnels:
            tunnel_nets = {IPv4Network(x) for t in tunnels for x in t["remote_subnets"]}
            tunnel_open = [x for x in r.open_flows() if any(n in tunnel_nets for n in _flow_src(m, x))]
            if check:
                state = ("would be quarantined on every firewall (prefixes above)" if not tunnel_open else
                         "would NOT all be quarantined (see NOT CUT above)")
            else:
                state = ("are quarantined on every firewall (prefixes above): no packet of the tunnel reaches a "
                         "system now" if not tunnel_open else "are NOT quarantined everywhere (see NOT CUT above)")
            lines.append("  LAN-to-LAN tunnels: MANUAL STEP (vendorwall drives no IPsec concentrator). Their remote "
                         f"subnets {state}. To finish, on the concentrator that terminates each tunnel:")
            for t in tunnels:
                subnets = ", ".join(t["remote_subnets"])
                lines.append(f"    {t['vendor']}: {t['name']}, peer {t['peer']}, remote subnets {subnets}: "
                             f"(1) tear down its IKE/IPsec SAs with {t['peer']} (strongSwan: swanctl --terminate "
                             f"--ike {t['name']}); (2) stop it coming back: disable the connection (start_action=none "
                             "/ auto=ignore, reload) or shut the peer's crypto-map entry; (3) check no SA is left with "
                             f"{t['peer']} (swanctl --list-sas); (4) note it in the incident ticket (restore does not "
                             "bring it back up)")
    else:
        if manual:
            lines.append(f"  accounts NOT re-enabled by this run ({len(manual)}): by hand, if they were disabled "
                         "by hand: usermod --unlock --expiredate <expires> ID:")
            lines += [f"    {a['vendor']}: {a['id']} on {', '.join(a['bastions']) or 'the VPN concentrator'}: "
                      f"usermod --unlock --expiredate {a['expires']} {a['id']}" for a in manual]
        if tunnels:
            lines.append("  LAN-to-LAN tunnels brought down by hand during the isolation: their subnets are lifted "
                         "from the quarantine above; re-enable the connection on the concentrator by hand:")
            lines += [f"    {t['vendor']}: {t['name']}, peer {t['peer']}" for t in tunnels]
    if r.lab is not None:
        lines.append(f"  lab probes: {r.lab['summary']}")
        lines += [f"    MISMATCH {x}" for x in r.lab.get("mismatches", [])]
    if r.record_error:
        lines.append(f"  ISOLATION RECORD: {r.record_error}")
    elif r.record_note:
        lines.append(f"  isolation record: {r.record_note}")
    if r.journal_entries:
        last = r.journal_entries[-1]
        lines.append(f"  journal: {r.journal_path} entry {last['seq']} (sha256 {last['hash'][:12]})")
    if r.anchored:
        from ..devices.anchors import summary

        lines.append(f"  {summary(r.anchored)}")
    if r.journal_error:
        lines.append(f"  JOURNAL NOT WRITTEN: {r.journal_error}")
    return "\n".join(lines)
