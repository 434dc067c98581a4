"""Pure planning for a PAN-OS deploy: what the candidate configuration holds vs. what is intended -> API calls.

Both sides have the rendered file's shape (``<set xpath>`` containers, :mod:`vendorwall.render.panos_xml`):
the intended side is the rendered file, the running side is what ``get`` answers for the same xpaths
(:func:`running_text`, also the controller's backup).

What vendorwall owns, and therefore compares, changes and deletes: entries named ``vw-*`` (tags,
addresses, address groups, services, schedules, security rules, the syslog server profile ``vw-syslog`` and
the log forwarding profile ``vw-logs``), the zones named in the intent or
``vendor_*``, the subinterfaces named in the intent or commented ``vendorwall ...`` (and their members
in the virtual router and the vsys import list). Everything else is neither compared nor changed; the
dynamic groups' members are run-time registrations, never configuration.

Calls: new entries of a container in one ``set``, changed entries one ``edit`` each, missing members one
``set`` each, then ``move`` calls putting vendorwall's rules at the top in the intended order, then the
deletions, rules first and subinterfaces last.
"""

from __future__ import annotations

import difflib
import itertools
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

from ..render.panos_xml import PanConfig, parse

RULES = "/rulebase/security/rules"
MANAGED = {"schedule", "log-start", "log-setting", "disabled", "description"}  # rule children vendorwall may drop


@dataclass(frozen=True)
class Call:
    action: str  # set | edit | delete | move
    xpath: str
    element: str = ""
    where: str = ""
    dst: str = ""

    def text(self) -> str:
        if self.action == "move":
            return f"move {self.xpath} where={self.where}" + (f" dst={self.dst}" if self.dst else "")
        return f"{self.action} {self.xpath}" + (f" element={self.element}" if self.element else "")


@dataclass
class PanPlan:
    device: str
    before: str
    after: str
    calls: list[Call] = field(default_factory=list)
    diff: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.calls)

    @property
    def commands(self) -> list[str]:
        return [c.text() for c in self.calls]


def running_text(containers: dict[str, ET.Element | None]) -> str:
    """What ``get`` answered for each xpath, in the rendered file's shape (the backup)."""
    out = ["<vendorwall-panos>"]
    for xpath, el in containers.items():
        out.append(f"  <set xpath={quoteattr(xpath)}>")
        for child in (list(el) if el is not None else []):
            out.append("    " + ET.tostring(child, encoding="unicode").strip())
        out.append("  </set>")
    out.append("</vendorwall-panos>")
    return "\n".join(out) + "\n"


def _canon(el: ET.Element, keep: set[str] | None = None) -> tuple[object, ...]:
    kids = [c for c in el if keep is None or c.tag in keep]
    return (el.tag, el.get("name", ""), (el.text or "").strip(), tuple(sorted(_canon(c) for c in kids)))


def owned(xpath: str, el: ET.Element, want: set[str]) -> bool:
    name = el.get("name") if el.tag == "entry" else (el.text or "")
    if name in want:
        return True
    if xpath.endswith("/zone"):
        return (name or "").startswith("vendor_")
    if xpath.endswith("/layer3/units"):
        return (el.findtext("comment") or "").startswith("vendorwall ")
    if el.tag == "member":
        return False  # members of owned subinterfaces: see _stale_members
    return (name or "").startswith("vw-")


def canonical(cfg: PanConfig, want: PanConfig) -> str:
    lines: list[str] = []
    for xpath, els in cfg.sets.items():
        names = {e.get("name") or e.text or "" for e in want.sets.get(xpath, [])}
        for el in els:
            if owned(xpath, el, names) or (el.tag == "member" and (el.text or "") in names):
                lines.append(f"{xpath.rsplit('/', 1)[-1]} " + ET.tostring(el, encoding="unicode").strip())
    return "\n".join(lines) + ("\n" if lines else "")


def _path(xpath: str, el: ET.Element) -> str:
    if el.tag == "member":
        return f"{xpath}/member[text()='{el.text}']"
    return f"{xpath}/entry[@name='{el.get('name')}']"


def plan_panos(device: str, running: str, intended: str) -> PanPlan:
    have, want = parse(running), parse(intended)
    calls: list[Call] = []
    stale_units = {e.get("name", "") for x, els in have.sets.items() if x.endswith("/layer3/units") for e in els
                   if owned(x, e, set()) and e.get("name") not in {w.get("name") for w in want.sets.get(x, [])}}
    deletes: list[Call] = []
    for xpath, wels in want.sets.items():
        hels = have.sets.get(xpath, [])
        if (wels or hels) and (wels or hels)[0].tag == "member":
            present = {h.text for h in hels}
            calls += [Call("set", xpath, ET.tostring(w, encoding="unicode")) for w in wels if w.text not in present]
            deletes += [Call("delete", _path(xpath, h)) for h in hels if h.text in stale_units]
            continue
        hmap = {h.get("name"): h for h in hels}
        new = [w for w in wels if w.get("name") not in hmap]
        if new:
            calls.append(Call("set", xpath, "".join(ET.tostring(w, encoding="unicode") for w in new)))
        for w in wels:
            h = hmap.get(w.get("name"))
            if h is None:
                continue
            keep = {c.tag for c in w} | (MANAGED if xpath.endswith(RULES) else set())
            if _canon(h, keep) != _canon(w, keep):
                calls.append(Call("edit", _path(xpath, w), ET.tostring(w, encoding="unicode")))
        wanted = {w.get("name", "") for w in wels}
        deletes += [Call("delete", _path(xpath, h)) for h in hels if owned(xpath, h, wanted)
                    and h.get("name") not in wanted]
    # vendorwall's rules first, in the intended order (a new rule is appended by the firewall)
    rules_x = next((x for x in want.sets if x.endswith(RULES)), "")
    worder = [w.get("name", "") for w in want.sets.get(rules_x, [])]
    gone = {c.xpath for c in deletes}
    live = [h.get("name", "") for h in have.sets.get(rules_x, []) if _path(rules_x, h) not in gone]
    live += [n for n in worder if n not in set(live)]
    if worder and live[:len(worder)] != worder:
        calls.append(Call("move", f"{rules_x}/entry[@name='{worder[0]}']", where="top"))
        calls += [Call("move", f"{rules_x}/entry[@name='{cur}']", where="after", dst=prev)
                  for prev, cur in itertools.pairwise(worder)]
    # deletions: rules first, subinterfaces (and their members) last
    order = [x for x in want.sets][::-1]
    deletes.sort(key=lambda c: order.index(next(x for x in order if c.xpath.startswith(x))))
    calls += deletes
    before, after = canonical(have, want), canonical(want, want)
    diff = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                        f"{device}: candidate", f"{device}: intended"))
    return PanPlan(device, before, after, calls, diff if calls else "")


def satisfied(running: str, intended: str) -> list[str]:
    return plan_panos("", running, intended).commands
