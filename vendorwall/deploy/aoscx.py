"""Push a rendered AOS-CX switch configuration (netmiko ``aruba_aoscx``), want vs. have.

AOS-CX applies configuration line by line. Before the change the pusher starts auto checkpoint
mode (``checkpoint auto <minutes>``, from ``confirm_s``): unless ``checkpoint auto confirm`` is
entered in time, the switch restores the configuration it had by itself, so a session lost
mid-change cannot leave it half-changed. A rejected command or a failed verification is undone at
once by the reverse commands of what the push touched; once the switch is verified back to the
backup's state, that state is confirmed (nothing left for the timer to revert). If the reverse
commands fail, nothing is confirmed and the timer restores the switch. A verified change is
confirmed, then saved (``write memory``). See ``switch_cli`` for the steps.
"""

from __future__ import annotations

from . import aoscx_plan, switch_cli
from .common import Options, Result
from .session import Target

FLAVOUR = switch_cli.Flavour(
    dialect=aoscx_plan.DIALECT, parse=aoscx_plan.parse,
    prepare=("checkpoint auto {minutes}",),
    native_rollback=(),
    confirm=("checkpoint auto confirm",),
    save=("write memory",),
    cleanup=(),
    lost_note="auto checkpoint mode was on: the switch restores its previous configuration by itself when "
              "the timer runs out",
)


def push(target: Target, text: str, opts: Options | None = None) -> Result:
    return switch_cli.push(FLAVOUR, target, text, opts)
