"""What every pusher takes (Options) and returns (Result, one per device)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import DeployError


@dataclass
class Options:
    check: bool = False
    confirm_s: int = 60  # commit-confirm timer on the device (nftables)
    backups: int = 10  # backups kept per device
    verify_mgmt: bool = True  # after applying, a new management session must answer (nftables)
    lock_wait_s: float = 0  # device lock: 0 refuses at once when another push holds it
    # test hook: called with the session after apply, before verification (fault injection)
    after_apply: Any = None


@dataclass
class Result:
    device: str
    platform: str
    changed: bool = False
    diff: str = ""
    commands: list[str] = field(default_factory=list)
    before: str = ""
    after: str = ""
    error: DeployError | None = None
    rolled_back: bool = False
    backup: str = ""
    seconds: float = 0.0
    log: list[str] = field(default_factory=list)
    skipped: bool = False  # not attempted (the run stopped on an earlier failure)

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def state(self) -> str:
        if self.error:
            return "failed"
        if self.skipped:
            return "skipped"
        return "changed" if self.changed else "ok"

    def to_data(self, *, full: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "device": self.device, "platform": self.platform, "changed": self.changed, "diff": self.diff,
            "commands": self.commands, "failed": self.failed, "rolled_back": self.rolled_back,
            "backup": self.backup, "seconds": round(self.seconds, 3), "skipped": self.skipped,
            "error": self.error.to_data() if self.error else None}
        if full:
            data.update(before=self.before, after=self.after)
        return data
