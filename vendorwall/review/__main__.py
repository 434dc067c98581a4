"""``python -m vendorwall.review INVENTORY --base REV ...``: the same as ``vendorwall diff ...``."""

from __future__ import annotations

import sys

from .. import cli
from . import cli as review_cli


def main(argv: list[str] | None = None) -> int:
    if "diff" not in cli._COMMANDS:  # until vendorwall/cli.py registers the command itself
        cli._EXTENSIONS.append(("diff", review_cli.register))
        cli._COMMANDS["diff"] = review_cli.handle
    return cli.main(["diff", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
