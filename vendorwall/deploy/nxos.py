"""Push a rendered NX-OS switch configuration (netmiko ``cisco_nxos``), want vs. have.

NX-OS applies configuration line by line. Before the change the pusher takes a named checkpoint
(``checkpoint vendorwall_<time>``); a rejected command or a failed verification runs
``rollback running-config checkpoint <name>`` (atomic by default on NX-OS), checks the result, and
falls back to the reverse commands if the switch is not back to the backup's state. A verified
change is saved (``copy running-config startup-config``); the checkpoint is removed either way
(``no checkpoint <name>``: NX-OS keeps at most ten user checkpoints). NX-OS has no commit-confirm
timer: a session lost mid-change leaves the running configuration partly changed and unsaved (a
rerun converges; a reload restores the startup configuration). See ``switch_cli`` for the steps.
"""

from __future__ import annotations

from . import nxos_plan, switch_cli
from .common import Options, Result
from .session import Target

FLAVOUR = switch_cli.Flavour(
    dialect=nxos_plan.DIALECT, parse=nxos_plan.parse,
    prepare=("checkpoint {name}",),
    native_rollback=("rollback running-config checkpoint {name}",),
    confirm=(),
    save=("copy running-config startup-config",),
    cleanup=("no checkpoint {name}",),
    lost_note="the change may be partly applied, and is not saved: rerun to converge, or "
              "'rollback running-config checkpoint' on the switch",
)


def push(target: Target, text: str, opts: Options | None = None) -> Result:
    return switch_cli.push(FLAVOUR, target, text, opts)
