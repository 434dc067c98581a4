"""Until the renderer carries keep-flow tagging (tests/isolate/keep_flows.patch, proposed in
docs/isolation.md), the lab tests of ``--scope segment`` deploy rendered configurations with the
same change applied as text. Once the patch is in, :func:`with_keep` returns the text unchanged.

The output equals what the patched renderer prints (checked when the patch was written).
"""

from __future__ import annotations

from collections import defaultdict

from vendorwall.compile import expand
from vendorwall.isolate.actions import MARK_KEEP
from vendorwall.model import Model
from vendorwall.render import nftables as r

_STATE_DROP = '\t\tip {d}addr @quarantine log group'


def _order(kv):  # type: ignore[no-untyped-def]
    (src, dst, port), _ = kv
    return int(src.network_address), src.prefixlen, int(dst.network_address), dst.prefixlen, port or 0


def with_keep(model: Model, device: str, text: str, limit: int = 128) -> str:
    if f"{MARK_KEEP:#010x}" in text:
        return text  # the renderer does it already
    intent = model.devices[device]
    keep: dict[str, dict] = defaultdict(dict)
    for rule in intent.rules:
        if rule.kind == "clinical" and rule.keep:
            for src, dst, _p, port in expand(rule):
                keep[rule.protocol].setdefault((src, dst, port), rule.id)
    sets, tags = [], []
    for proto in ("tcp", "udp", "any"):
        if not keep[proto]:
            continue
        name = f"keep_{proto}"
        elems = [r._element(t, rid, limit) for t, rid in sorted(r.collapse(keep[proto]).items(), key=_order)]
        body = ",\n".join(f"\t\t\t{e}" for e in elems)
        comment = "must-keep clinical flows: never quarantined"
        sets.append(f"\n\tset {name} {{\n\t\ttype {r._KEY[proto]}\n\t\tflags interval\n"
                    f'\t\tcomment "{comment}"\n\t\telements = {{\n{body}\n\t\t}}\n\t}}\n')
        tags += [f"\t\t{r._MATCH[proto]} @{name} meta mark set meta mark | {MARK_KEEP:#010x}\n",
                 f"\t\t{r._REPLY_MATCH[proto]} @{name} meta mark set meta mark | {MARK_KEEP:#010x}\n"]
    for d in "sd":
        old = _STATE_DROP.format(d=d)
        assert old in text, "the state chain changed: update keepsim"
        text = text.replace(old, f"\t\tmeta mark & {MARK_KEEP:#010x} == 0 ip {d}addr @quarantine log group")
    if sets:
        anchor = '\t\tcomment "vendor entry paths (bastion, VPN pool, LAN-to-LAN subnets)"\n'
        i = text.index(anchor)
        end = text.index("\n\t}\n", i) + len("\n\t}\n")
        text = text[:end] + "".join(sets) + text[end:]
        fwd = "\t\ttype filter hook forward priority filter; policy drop;\n"
        text = text.replace(fwd, fwd + "".join(tags), 1)
    return text


def without_keep(text: str) -> str:
    """A firewall from before keep-flow tagging: its quarantine drops ignore the keep mark."""
    return text.replace(f"meta mark & {MARK_KEEP:#010x} == 0 ip ", "ip ")


def configs_with_keep(state, model: Model) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from vendorwall.lab import runner

    return {dev: with_keep(model, dev, text) for dev, text in runner.render(state).items()}
