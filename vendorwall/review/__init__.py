"""Change review of inventory diffs: ``vendorwall diff INVENTORY --base REV [--head REV]``.

What a merge request does to the network, in the reviewer's words: access changes (exhaustive, the
set difference of the compiled allowed flows), network changes, device configuration diffs, risk
flags with the inventory line they come from, and the isolation impact of every touched vendor.
See docs/review.md.

Modules: :mod:`.gitsrc` (revisions from git), :mod:`.sides` (compile each side),
:mod:`.compare` (flows, segments, devices), :mod:`.words` (sentences), :mod:`.risk` (flags),
:mod:`.isolation`, :mod:`.review` (the whole, as data), :mod:`.as_markdown`, :mod:`.as_json`,
:mod:`.as_html` with :mod:`.svg`, and :mod:`.cli`.
"""
