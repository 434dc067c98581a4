"""The deploy's isolation check, on listings as nft prints them: a push never lifts the render-time
quarantine of a vendor the running policy keeps isolated (a lost or edited record, a vendor renamed while
isolated), while a vendor removed from the inventory may leave its quarantine behind. The lab proves it
with packets (tests/isolate/test_sticky_lab.py::test_07, test_08)."""

from __future__ import annotations

from vendorwall.deploy.plan import SEPARATOR, lifted_isolations, set_elements


def listing(isolated: str, vendor_src: str) -> str:
    iso = f"\n\t\telements = {{ {isolated} }}" if isolated else ""
    return (f"table inet vendorwall {{\n\tset vendor_src {{\n\t\ttype ipv4_addr\n\t\tflags interval\n"
            f"\t\telements = {{ {vendor_src} }}\n\t}}\n\n\tset isolated {{\n\t\ttype ipv4_addr\n\t\tflags interval\n"
            f'\t\tcomment "quarantine of the vendors isolated at render time (vendorwall isolate)"{iso}\n\t}}\n}}\n'
            f"{SEPARATOR}\ntable inet vendorwall_state {{\n}}\n")


LIVE = listing('10.59.8.0/29 comment "vw-isolate climatec entry pam",\n\t\t\t     '
               '10.80.5.0/24 comment "vw-isolate climatec segment valbrume/climatec/gtb-vb"',
               "10.59.8.0/29, 10.59.8.8/29,\n\t\t\t     172.20.10.0/28")


def test_elements_as_nft_prints_them():
    assert [([str(n) for n in nets], c) for nets, c in set_elements(LIVE, "isolated")] == [
        (["10.59.8.0/29"], "vw-isolate climatec entry pam"),
        (["10.80.5.0/24"], "vw-isolate climatec segment valbrume/climatec/gtb-vb")]
    ranged = listing('10.1.1.1-10.1.1.6 comment "vw-isolate x entry e"', "10.1.1.0/24")
    assert [str(n) for n in set_elements(ranged, "isolated")[0][0]] == ["10.1.1.1/32", "10.1.1.2/31",
                                                                          "10.1.1.4/31", "10.1.1.6/32"]


def test_a_vendor_still_in_the_inventory_is_never_lifted():
    want = listing("", "10.59.8.0/29, 10.59.8.8/29, 172.20.10.0/28")  # the record lost: nobody isolated
    assert lifted_isolations(LIVE, want, {"climatec", "labsys"}) == {"climatec": ["10.59.8.0/29", "10.80.5.0/24"]}
    assert lifted_isolations(LIVE, want, None) == {"climatec": ["10.59.8.0/29", "10.80.5.0/24"]}
    assert lifted_isolations(LIVE, LIVE, {"climatec"}) == {}  # still isolated in the policy to push


def test_a_renamed_vendor_is_held_a_removed_one_is_not():
    renamed = listing("", "10.59.8.0/29, 10.59.8.8/29, 172.20.10.0/28")  # climatec-sa took its source
    assert lifted_isolations(LIVE, renamed, {"climatec-sa", "labsys"}) == {"climatec": ["10.59.8.0/29"]}
    removed = listing("", "10.59.8.8/29, 172.20.10.0/28")
    assert lifted_isolations(LIVE, removed, {"labsys"}) == {}
