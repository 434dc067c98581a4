"""Emergency isolation: cut one vendor (or all) on every firewall in seconds, and restore.

``vendorwall isolate|restore`` (and ``playbooks/isolate.yml``, ``restore.yml``) read only the
isolation manifest written at plan time (:mod:`.manifest`) and the devices: a broken inventory
never stops an isolation. The vendor's entry paths (and, with scope ``segment``, its segments)
go into the quarantine set of the persistent state table ``inet vendorwall_state``, whose chain
drops them before any established-connection accept: live sessions stop at their next packet.
One SSH round trip per firewall, all firewalls at once (:mod:`.run`, :mod:`.transport`), pure
planning apart (:mod:`.actions`), an append-only hash-chained journal (:mod:`.journal`).
See docs/isolation.md.
"""
