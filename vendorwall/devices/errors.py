"""Typed device errors: every one names the device, its platform and the command involved.

Shared by every journey that talks to devices (deploy, isolate, access, accounts, logs).
"""

from __future__ import annotations


class DeployError(Exception):
    kind = "deploy"

    def __init__(self, device: str, platform: str, command: str, message: str, *, rolled_back: bool | None = None):
        self.device = device
        self.platform = platform
        self.command = command
        self.message = message
        self.rolled_back = rolled_back
        super().__init__(str(self))

    def __str__(self) -> str:
        rb = "" if self.rolled_back is None else (" (rolled back)" if self.rolled_back else " (NOT rolled back)")
        cmd = f" [{self.command}]" if self.command else ""
        return f"{self.device} ({self.platform}): {self.kind} failed{cmd}: {self.message}{rb}"

    def to_data(self) -> dict[str, object]:
        return {"kind": self.kind, "device": self.device, "platform": self.platform, "command": self.command,
                "message": self.message, "rolled_back": self.rolled_back}


class ConnectError(DeployError):
    kind = "connect"


class HostKeyError(ConnectError):
    """The device's SSH host key is unknown or does not match the known_hosts entry: nothing was sent
    (no password, no command), as OpenSSH refuses with StrictHostKeyChecking."""

    kind = "host key"


class CommandError(DeployError):
    kind = "command"


class VerifyError(DeployError):
    kind = "verify"


class LockError(DeployError):
    kind = "lock"


class ConnectionLost(DeployError):
    kind = "connection lost"


class ConfirmError(DeployError):
    kind = "confirm"
