"""The typed device errors live in :mod:`vendorwall.devices.errors` (shared by every journey)."""

from ..devices.errors import (
    CommandError,
    ConfirmError,
    ConnectError,
    ConnectionLost,
    DeployError,
    HostKeyError,
    LockError,
    VerifyError,
)

__all__ = ["CommandError", "ConfirmError", "ConnectError", "ConnectionLost", "DeployError", "HostKeyError",
           "LockError", "VerifyError"]
