"""The checks an access request passes before anything changes (pure: inventory + request + clock).

Each rule has a stable name (written to the journal with a refusal, and tested one by one):

- ``ticket``: a ticket reference is present (CNIL: access opened at a request, for a stated purpose);
- ``requester``: who asks is named;
- ``vendor``: the vendor exists; ``system``: the system exists and belongs to that vendor;
- ``on_demand``: the system's access mode is ``on_demand`` (permanent or scheduled access is not granted);
- ``duration``: a positive duration within the system's ``max_hours`` (default the policy's
  ``on_demand_max_hours``), and for break-glass within ``policy.emergency_max_hours``;
- ``approver``: one of the system's approvers (default: the vendor's), and not the requester
  (four eyes); break-glass needs none (flagged for review within 24 h instead);
- ``contract``: the vendor's contract is valid on the day (ISO/IEC 27001 A.5.20);
- ``isolated``: the vendor is not isolated (``vendorwall isolate``; the isolation record of the state
  directory, with its incident reference), break-glass included: restore it first.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from ..isolate.isolated import Isolation
from ..model import Inventory

EMERGENCY_REVIEW_HOURS = 24
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?$", re.ASCII)  # 1-9, not any script's digits


def _mail(address: str) -> str:
    """An e-mail address as a person: case and surrounding blanks do not make another approver (four eyes)."""
    return address.strip().casefold()


@dataclass(frozen=True)
class Request:
    vendor: str
    system: str
    ticket: str
    requester: str
    approver: str
    duration: str
    emergency: bool = False


@dataclass(frozen=True)
class Refusal:
    rule: str
    message: str
    expected: str = ""
    found: str = ""
    hint: str = ""

    def to_data(self) -> dict[str, str]:
        return {"rule": self.rule, "message": self.message, "expected": self.expected, "found": self.found,
                "hint": self.hint}

    def render(self) -> str:
        lines = [f"error: access refused by rule {self.rule}: {self.message}"]
        if self.expected:
            lines.append(f"  expected: {self.expected}")
        if self.found:
            lines.append(f"  found:    {self.found}")
        if self.hint:
            lines.append(f"  hint:     {self.hint}")
        return "\n".join(lines)


def parse_duration(text: str) -> int | None:
    """``4h``, ``90m``, ``1h30m``, ``45s``, ``2d`` -> seconds; None if malformed. A bare number is malformed:
    ``10`` could be minutes or hours, and a grant's length is not guessed."""
    t = text.strip().lower().replace(" ", "")
    m = _DURATION.match(t)
    if not t or not m or not any(m.groups()):
        return None
    d, h, mi, s = (int(x) if x else 0 for x in m.groups())
    return ((d * 24 + h) * 60 + mi) * 60 + s


def human(seconds: float) -> str:
    s = max(0, round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h}h{m:02d}m"
    if m:
        return f"{m}m{sec:02d}s"
    return f"{sec}s"


def max_seconds(inv: Inventory, system: str, emergency: bool) -> int:
    pol = inv.policy
    if emergency:
        return pol.emergency_max_hours * 3600
    s = inv.systems[system]
    hours = s.access.max_hours or pol.on_demand_max_hours
    return min(hours, pol.on_demand_max_hours) * 3600


def check(inv: Inventory, req: Request, today: dt.date, isolation: Isolation | None = None) -> list[Refusal]:
    """Every rule the request breaks (empty: it may be granted). ``isolation``: who is isolated now."""
    out: list[Refusal] = []
    if not req.ticket.strip():
        out.append(Refusal("ticket", "no ticket reference", "the change or incident ticket the access is for",
                           "an empty ticket", "pass --ticket T (-e ticket=T): every opening is traced to a request "
                           "(CNIL: access opened at the vendor's request for a fixed duration)"))
    if not req.requester.strip():
        out.append(Refusal("requester", "no requester", "who asks for the access", "an empty requester",
                           "pass --requester NAME (-e requester=NAME)"))
    vendor = inv.vendors.get(req.vendor)
    if vendor is None:
        out.append(Refusal("vendor", f"unknown vendor {req.vendor!r}", "a vendor of the inventory",
                           req.vendor, "known vendors: " + ", ".join(sorted(inv.vendors))))
        return out
    sys_ = inv.systems.get(req.system)
    if sys_ is None or sys_.vendor != req.vendor:
        found = f"{req.system!r} (vendor {sys_.vendor})" if sys_ else repr(req.system)
        out.append(Refusal("system", f"no system {req.system!r} of vendor {req.vendor}",
                           f"a system of {req.vendor}", found,
                           "its systems: " + ", ".join(sorted(s.name for s in vendor.systems))))
        return out
    if sys_.access.mode != "on_demand":
        out.append(Refusal("on_demand", f"{req.system} does not allow on-demand access",
                           "access mode on_demand", f"mode {sys_.access.mode}",
                           "its access is already governed by the inventory (permanent or scheduled); change the "
                           "inventory (reviewed merge request) to make it on-demand"))
    secs = parse_duration(req.duration)
    limit = max_seconds(inv, req.system, req.emergency)
    what = ("break-glass maximum (policy.emergency_max_hours)" if req.emergency
            else "the system's max_hours (at most policy.on_demand_max_hours)")
    if secs is None or secs <= 0:
        unit = " (a number needs its unit: h, m or s)" if req.duration.strip().isdigit() else ""
        out.append(Refusal("duration", f"not a duration{unit}", "e.g. 4h, 90m, 1h30m, 30s", repr(req.duration),
                           f"at most {limit // 3600} h ({what})"))
    elif secs > limit:
        out.append(Refusal("duration", f"duration {human(secs)} exceeds {what}", f"at most {limit // 3600} h",
                           human(secs), "ask for a shorter window; renew it later if needed"))
    approvers = sys_.approvers or vendor.approvers
    if not req.emergency:
        if not req.approver.strip():
            out.append(Refusal("approver", "no approver", "one of: " + ", ".join(approvers), "none",
                               "an on-demand access needs the approval of the system's approver; in an emergency "
                               "use --emergency (break-glass, reviewed within 24 h)"))
        elif _mail(req.approver) not in {_mail(a) for a in approvers}:
            out.append(Refusal("approver", f"{req.approver} may not approve access to {req.system}",
                               "one of: " + ", ".join(approvers), req.approver,
                               "the validation circuit is the system's approvers (see the vendor's access sheet)"))
        elif _mail(req.approver) == _mail(req.requester):
            out.append(Refusal("approver", "the approver is the requester", "two different people (four eyes)",
                               req.approver, "ask another approver of the system"))
    entry = isolation.vendors.get(req.vendor) if isolation is not None else None
    if entry is not None:
        ref = ", ".join(x for x in (f"ticket {entry.ticket}" if entry.ticket else "",
                                    f"isolate run {entry.run}" if entry.run else "") if x)
        out.append(Refusal("isolated", f"{req.vendor} is isolated (incident: {entry.reason}"
                           + (f"; {ref}" if ref else "") + ")",
                           "a vendor that is not isolated", f"isolated since {entry.since} by {entry.by or '?'}",
                           "no access, break-glass included, while the vendor is isolated; once the incident is "
                           f"closed: vendorwall restore INVENTORY --vendor {req.vendor} --reason ..."))
    if vendor.contract_ends < today:
        out.append(Refusal("contract", f"the contract of {req.vendor} ended", f"a contract valid on {today}",
                           f"{vendor.contract_reference} ended {vendor.contract_ends.isoformat()}",
                           "renew the contract (ISO/IEC 27001 A.5.20) before opening any access"))
    return out
