"""The nftables renderer's integer-keyed set elements equal the reference on networks.

``nftables._Keys`` / ``_collapse_keys`` replace ``collapse`` on ``IPv4Network`` tuples for speed;
this property checks they keep the same elements, in the same order, with the same text.
"""

from __future__ import annotations

from ipaddress import IPv4Network

from hypothesis import given, settings
from hypothesis import strategies as st

from vendorwall.render import nftables

# nested and disjoint prefixes in 10.0.0.0/16, as a system address (/32) meets client groups
_NET = st.builds(lambda a, plen: IPv4Network((0x0A000000 | (a & ~((1 << (32 - plen)) - 1) & 0xFFFF), plen)),
                 st.integers(0, 0xFFFF), st.sampled_from([16, 20, 22, 24, 27, 28, 30, 32]))
_HOST = st.builds(lambda a: IPv4Network((0x0A640000 | a, 32)), st.integers(0, 255))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), _NET, _HOST, st.sampled_from([None, 22, 443]), st.sampled_from("abc")),
                max_size=40))
def test_integer_keys_equal_the_network_reference(items):  # type: ignore[no-untyped-def]
    ref: dict[tuple[IPv4Network, IPv4Network, int | None], str] = {}
    for system_is_dst, net, host, port, rid in items:
        src, dst = (net, host) if system_is_dst else (host, net)
        ref.setdefault((src, dst, port), f"rule-{rid}")
    want = []
    for (src, dst, port), rid in sorted(nftables.collapse(ref).items(), key=lambda kv: (
            int(kv[0][0].network_address), kv[0][0].prefixlen, int(kv[0][1].network_address), kv[0][1].prefixlen,
            kv[0][2] or 0)):
        body = f"{nftables._net(src)} . {nftables._net(dst)}" + (f" . {port}" if port is not None else "")
        want.append(f'{body} comment "{rid}"')
    keys = nftables._Keys(128)
    bucket: dict = {}  # type: ignore[type-arg]
    for (src, dst, port), rid in ref.items():
        bucket.setdefault((*keys.nets((src,))[0], *keys.nets((dst,))[0], port), rid)
    assert list(keys.elements(bucket)) == want
