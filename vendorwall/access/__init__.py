"""Vendor access lifecycle: on-demand grants the firewall itself expires, break-glass, access sheets,
vendor accounts on the bastions (lifetime, idle lock, review), connection logs and audit sampling.

- :mod:`.policy`: the checks a request passes before anything changes (pure);
- :mod:`.grants`: grant elements, ids, device scripts, open / close / list / reconcile;
- :mod:`.devices`: SSH targets (real firewalls or a lab), reusing :mod:`vendorwall.isolate.transport`;
- :mod:`.sheets`: one access sheet per vendor (Markdown, HTML);
- :mod:`.accounts`: vendor accounts on the bastions, enforcement and review;
- :mod:`.logs`, :mod:`.audit`: connection-log archive (hash-chained, compressed, retention) and sampling.

The access journal is the isolation journal's format (:mod:`vendorwall.isolate.journal`): JSON lines
hash-chained to each other, default ``build/<inventory name>/access-journal.jsonl``. See docs/access.md.
"""
