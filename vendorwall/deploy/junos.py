"""Push a rendered Junos EX (ELS) switch configuration over NETCONF, want vs. have, in one commit.

    lock the candidate -> get-config running (vlans, interfaces) -> backup on the controller ->
    plan (``junos_plan``: only what vendorwall owns) -> [check mode: unlock, stop here] ->
    edit-config (deletes, then sets) -> commit confirmed (``confirm_s``) -> get-config running:
    the owned part equals the target -> confirming commit -> unlock

All or nothing on the switch: a rejected edit is discarded from the candidate (the running
configuration never saw it); a failed commit leaves the running configuration as it was; a
verification failure after the confirmed commit is undone by the reverse change (the backup's
state of what the push touched) committed at once, so concurrent changes elsewhere on the switch
are kept. If the session is lost between the confirmed commit and the confirming one, the switch
itself rolls back when ``confirm_s`` runs out (Junos ``commit confirmed``): management access
cannot be cut by a half-finished push. Junos saves committed configuration: nothing else to save.
"""

from __future__ import annotations

import contextlib
import time

from . import junos_plan, switch_plan
from .common import Options, Result
from .errors import CommandError, ConnectionLost, DeployError, VerifyError
from .ios import _backup
from .junos_netconf import Netconf
from .session import Target

D = junos_plan.DIALECT


def _vlan_range(target: Target) -> tuple[int, int]:
    vr = target.extra.get("vlan_range")
    if not vr:
        raise DeployError(target.device, target.platform, "plan",
                          "no vlan_range for this switch: vendorwall cannot tell which VLANs it owns")
    return int(vr[0]), int(vr[1])


def _running(nc: Netconf) -> tuple[str, switch_plan.SwitchConfig]:
    xml = nc.get_config("running", junos_plan.GET_FILTER)
    try:
        return xml, junos_plan.parse_xml(xml)
    except ValueError as exc:
        raise CommandError(nc.t.device, nc.t.platform, "get-config running", str(exc)) from None


def _apply(nc: Netconf, ops: list[junos_plan.Op], label: str) -> None:
    deletes = [o for o in ops if o.verb == "delete"]
    sets = [o for o in ops if o.verb == "set"]
    if deletes:
        nc.edit(junos_plan.edit_config(deletes), f"{label}: edit-config ({len(deletes)} deletes)")
    if sets:
        nc.edit(junos_plan.edit_config(sets), f"{label}: edit-config ({len(sets)} sets)")


def push(target: Target, text: str, opts: Options | None = None) -> Result:
    opts = opts or Options()
    t0 = time.monotonic()
    res = Result(target.device, target.platform)
    nc = Netconf(target)
    locked = committed = False
    try:
        vr = _vlan_range(target)
        try:
            want = junos_plan.parse_set(text)
        except ValueError as exc:
            raise DeployError(target.device, target.platform, "plan", f"rendered configuration: {exc}") from None
        nc.open()
        nc.lock()
        locked = True
        backup_xml, have = _running(nc)
        try:
            p = switch_plan.plan(D, target.device, have, want, vr)
        except ValueError as exc:
            raise DeployError(target.device, target.platform, "plan", str(exc)) from None
        res.changed, res.diff, res.commands, res.before, res.after = p.changed, p.diff, p.commands, p.before, p.after
        if not p.changed or opts.check:
            return res
        res.backup = _backup(target, backup_xml, opts.backups)
        ops = junos_plan.ops_for(switch_plan.owned(switch_plan.complete(D, have, p.target.ports), p.target.ports, vr),
                                 p.target, vr)
        try:
            _apply(nc, ops, "apply")
            nc.commit(confirm_s=opts.confirm_s)
        except CommandError as exc:
            nc.discard()  # nothing reached the running configuration
            exc.rolled_back = True
            res.rolled_back = True
            raise
        committed = True
        try:
            if opts.after_apply is not None:
                opts.after_apply(nc)
            _, now = _running(nc)
            if not switch_plan.satisfied(D, now, p.target, vr):
                raise VerifyError(target.device, target.platform, "get-config running",
                                  "the running configuration differs from the target after the commit:\n"
                                  + switch_plan.unified(p.after, switch_plan.owned_text(D, now, p.target.ports, vr),
                                                        target.device)[:3000])
        except (CommandError, VerifyError) as exc:
            exc.rolled_back = _rollback(nc, have, p, vr)
            res.rolled_back = bool(exc.rolled_back)
            raise
        nc.commit()  # confirms the confirmed commit
        res.after = switch_plan.owned_text(D, now, p.target.ports, vr)
        return res
    except ConnectionLost as exc:
        if committed:
            exc.message += (f" (committed with 'commit confirmed {opts.confirm_s} s' and not confirmed: "
                            "the switch rolls back by itself when the timer runs out)")
        res.error = exc
        return res
    except DeployError as exc:
        res.error = exc
        return res
    finally:
        if locked and nc.chan is not None:
            with contextlib.suppress(DeployError):
                nc.unlock()
        res.log = nc.log
        nc.close()
        res.seconds = time.monotonic() - t0


def _rollback(nc: Netconf, backup: switch_plan.SwitchConfig, p: switch_plan.SwitchPlan, vr: tuple[int, int]) -> bool:
    """Commit the backup's state of what the push touched; True when the switch is back to it."""
    try:
        nc.discard()
        _, now = _running(nc)
        ports = list(p.target.ports)
        old = switch_plan.owned(switch_plan.complete(D, backup, ports), ports, vr)
        ops = junos_plan.ops_for(switch_plan.owned(switch_plan.complete(D, now, ports), ports, vr), old, vr)
        if ops:
            _apply(nc, ops, "rollback")
            nc.commit()
        _, after = _running(nc)
        return switch_plan.satisfied(D, after, old, vr)
    except DeployError:
        return False
