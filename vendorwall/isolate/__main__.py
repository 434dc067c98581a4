"""``python3 -m vendorwall.isolate isolate|restore ...``: the same commands as ``vendorwall isolate|restore``,
usable before (or without) their wiring into vendorwall/cli.py; same errors and exit codes."""

from __future__ import annotations

import sys

from .. import cli as main_cli
from . import cli


def main(argv: list[str] | None = None) -> int:
    if "isolate" not in main_cli._COMMANDS:
        main_cli._EXTENSIONS.append(("isolate", cli.register))
        main_cli._COMMANDS["isolate"] = cli.handle
        main_cli._COMMANDS["restore"] = cli.handle
    return main_cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
