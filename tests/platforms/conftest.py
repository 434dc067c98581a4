"""tests/platforms: the oracle helpers (oracle.py) are imported by the test modules as ``oracle``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
