"""One SSH round trip per device for the isolation: :func:`vendorwall.devices.ssh.exec_command`.

Kept as the isolation's entry point while its device script moves to a fixed agent fed JSON
(:mod:`vendorwall.devices.agents`); the connection, the host-key verification and the typed errors are
the shared device layer's.
"""

from __future__ import annotations

from ..devices.ssh import Output, exec_command
from ..devices.target import Target

__all__ = ["Output", "run_script"]


def run_script(t: Target, script: str, *, label: str = "sh -s") -> Output:
    """Run ``script`` with ``sh -s`` (the script on standard input); exit status and output.
    Raises typed errors (ConnectError, HostKeyError, ConnectionLost, CommandError)."""
    return exec_command(t, "sh -s", script.encode(), label=label)
