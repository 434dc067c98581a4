"""Moved to :mod:`vendorwall.journal` (every journey's journals); kept so existing imports and
``python3 -m vendorwall.isolate.journal verify JOURNAL`` keep working."""

from __future__ import annotations

import sys

from ..journal import (
    JOURNAL_NAME,
    Anchor,
    JournalError,
    Key,
    Verified,
    append,
    canonical,
    check,
    entry_hash,
    identity,
    journal_id,
    load_key,
    main,
    parse_anchors,
    read,
    utcnow,
    verify,
    who,
)

__all__ = ["JOURNAL_NAME", "Anchor", "JournalError", "Key", "Verified", "append", "canonical", "check",
           "entry_hash", "identity", "journal_id", "load_key", "main", "parse_anchors", "read", "utcnow", "verify",
           "who"]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
