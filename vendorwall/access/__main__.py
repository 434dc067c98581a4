"""``python3 -m vendorwall.access COMMAND ...``: the vendorwall CLI with the access commands registered
(the same as ``vendorwall COMMAND ...`` once vendorwall/cli.py wires them; see .cli)."""

from __future__ import annotations

import sys

from .. import cli
from . import cli as access_cli


def main(argv: list[str] | None = None) -> int:
    if "access" not in cli._COMMANDS:
        cli._EXTENSIONS.append(("access", access_cli.register))
        for name in access_cli.COMMANDS:
            cli._COMMANDS[name] = access_cli.handle
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
