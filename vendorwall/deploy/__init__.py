"""Push rendered configurations to devices: pure planning (plan.py) apart from device I/O.

- ``plan``: normalise what runs and what is intended, decide changed/unchanged, the unified diff
  and the command list (no I/O, unit-testable);
- ``session``: one netmiko session with exit-code checks, per-platform error patterns, explicit
  timeouts, payloads masked in errors and logs;
- ``nftables``: the safe apply for Linux/nftables firewalls (backup, commit-confirm timer, one
  ``nft -f`` transaction, verification, automatic rollback);
- ``fanout``: a thread pool across devices with a per-device lock.
"""

from .errors import CommandError, ConnectError, DeployError, LockError, VerifyError  # noqa: F401
