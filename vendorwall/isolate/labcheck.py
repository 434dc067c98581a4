"""In the lab, after an isolation or a restore: real packets from the vendor side and of clinical flows.

Built from the manifest and the lab's ``state.json`` only (the inventory may be broken by now):

- every vendor access flow of the isolated vendors (tcp/udp, permanent, dated or on demand) must
  now time out; on-demand flows get a test grant first, so only the quarantine can stop them;
- every must-keep clinical flow of theirs must still connect;
- their other clinical flows must connect with scope ``access``, and time out with ``segment``;
- after a restore, all of them connect again (on-demand ones with a test grant).

Scheduled flows are skipped (their outcome depends on the clock), as in ``vendorwall lab test``.
The probes themselves are the lab's (:mod:`vendorwall.lab.probe`): a forbidden probe passes only on
a timeout, an allowed TCP probe checks the answering namespace's banner.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from ipaddress import IPv4Network
from typing import Any

from .actions import Plan
from .manifest import Flow, Manifest


def _place(places: dict[str, list[str]], net: IPv4Network) -> tuple[str, str] | None:
    hit = places.get(str(net))
    if hit:
        return hit[0], hit[1]
    for prefix, (ns, _addr) in places.items():
        if net.subnet_of(IPv4Network(prefix)):
            return ns, str(net.network_address)
    return None


def build(m: Manifest, p: Plan, state: Any) -> tuple[list[Any], list[tuple[str, str, str, int, str]]]:
    """-> (probes, grants to add: (firewall, src, dst, port, proto))."""
    from ..lab.probe import Probe

    restore = p.action == "restore"
    probes: dict[tuple[str, str, str, int], Probe] = {}
    grants: list[tuple[str, str, str, int, str]] = []
    flows: dict[str, Flow] = {}
    for v in p.vendors:
        for f in m.vendors[v].flows:
            flows.setdefault(f.id, f)
    keep = [(f.protocol, t) for f in flows.values() if f.kind == "clinical" and f.keep for t in f.tuples()]

    def kept(proto: str, src: IPv4Network, dst: IPv4Network, port: int) -> bool:
        return any(kp in (proto, "any") and src.subnet_of(ks) and dst.subnet_of(kd) and kport in (None, port)
                   for kp, (ks, kd, kport) in keep)

    for f in sorted(flows.values(), key=lambda f: (not f.keep, f.id)):
        if f.protocol not in ("tcp", "udp") or f.validity == "scheduled":
            continue
        for src, dst, port in f.tuples():
            if port is None:
                continue
            if f.kind == "vendor_access":
                cat, expect = "vendor_side", restore
            elif f.keep or kept(f.protocol, src, dst, port):
                cat, expect = "clinical_keep", True
            else:
                cat, expect = "clinical", restore or p.scope != "segment"
            s, d = _place(state.places, src), _place(state.places, dst)
            if not s or not d:
                continue
            key = (s[1], d[1], f.protocol, port)
            if key in probes:
                continue
            probes[key] = Probe(cat, s[0], s[1], d[0], d[1], f.protocol, port, expect, f.id, f.firewalls)
            if f.validity == "on_demand":
                grants += [(fw, s[1], d[1], port, f.protocol) for fw in f.firewalls]
    return list(probes.values()), sorted(set(grants))


def probe(lab_dir: str, m: Manifest, p: Plan, *, timeout: float = 1.0) -> dict[str, Any]:
    from ..lab import probe as lab_probe
    from ..lab import runner

    state = runner.LabState.load(lab_dir)
    if state is None:
        return {"summary": f"no lab in {lab_dir}: not probed", "probes": 0, "mismatches": []}
    from ..lab import testgrants

    probes, grants = build(m, p, state)
    fw_ns = {dev: fw["netns"] for dev, fw in state.firewalls.items()}
    # test grants only where no live grant holds the tuple, and only those removed: an operator's stays
    created = testgrants.add(fw_ns, [testgrants.Tuple(fw, proto, src, dst, port)
                                     for fw, src, dst, port, proto in grants])
    try:
        outcomes = asyncio.run(lab_probe._run_all(probes, timeout, 256))
    finally:
        testgrants.remove(fw_ns, created)
    total: Counter[str] = Counter()
    good: Counter[str] = Counter()
    mismatches = []
    for o in outcomes:
        total[o.probe.category] += 1
        if o.mismatch:
            pr = o.probe
            mismatches.append(f"{pr.category}: {pr.src} -> {pr.dst} {pr.proto}/{pr.port} "
                              f"{'should connect' if pr.expect else 'should be cut'} but "
                              f"{'connected' if o.ok else 'failed'} ({o.detail}) [{pr.flow}]")
        else:
            good[o.probe.category] += 1
    words = {"vendor_side": "vendor side " + ("connects" if p.action == "restore" else "cut"),
             "clinical_keep": "must-keep clinical up",
             "clinical": "other clinical " + ("cut" if p.scope == "segment" and p.action != "restore" else "up")}
    summary = "; ".join(f"{words[c]} {good[c]}/{total[c]}" for c in ("vendor_side", "clinical_keep", "clinical")
                        if total[c]) or "no probe applies"
    return {"summary": summary, "probes": len(outcomes), "counts": {c: [good[c], total[c]] for c in total},
            "mismatches": mismatches}
