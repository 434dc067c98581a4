"""Alerts that reach people: grants, break-glass, isolations, locks, contracts and tunnels.

The journals are the source of truth: an alert is derived from a journal entry (a grant opened, closed or
expired, a break-glass opening, an isolation or a restore) or from the inventory and the state at a given
time (a break-glass opening not reviewed within 24 h, an account locked for inactivity, a contract ending
within 30 days, a LAN-to-LAN tunnel past its retirement date). Each alert has a key; what was sent, on
which channel, is journaled under ``<state dir>/journals/alerts.jsonl``, so an alert goes once (time-based
ones again every ``policy.alerts.repeat_days`` while they hold), a failed channel is retried at the next
dispatch, and an alert a crashed run never sent is caught up by ``vendorwall alerts check``.

- :mod:`.events`: the alerts of a moment (pure: journals, inventory, ``now`` in; alerts out);
- :mod:`.channels`: e-mail (SMTP), a JSON webhook (generic, Mattermost, Teams), syslog (RFC 5424);
- :mod:`.dispatch`: deduplication, bounded retries, a deadline; never raises, reports per channel;
- :mod:`.cli`: ``vendorwall alerts check|test|list`` and the hook the other commands call.
"""
