"""``vendorwall import``: inventory files from what a hospital already has.

Every importer turns its source into the same thing: a :class:`Batch` of vendors in the shape of
the inventory's domain files (plain dicts, the keys a hand-written vendor file would have), plus
the diagnostics of the cells or records it could not read. :mod:`.merge` then writes one file
per vendor, merging into the files that exist (comments and manual edits kept).

Sources: the spreadsheet template (:mod:`.sheet`, CSV or XLSX), a GLPI export (:mod:`.glpi`),
NetBox through its REST API (:mod:`.netbox`). The mapping of each is in docs/import.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import Diagnostic


@dataclass
class Batch:
    """What one source says, vendor by vendor, in the inventory's own shape."""

    source: str
    vendors: dict[str, dict[str, Any]] = field(default_factory=dict)
    diags: list[Diagnostic] = field(default_factory=list)
    # what the source cannot say and a person must write (shown in the report)
    missing: dict[str, list[str]] = field(default_factory=dict)  # "vendor" or "vendor/system" -> keys

    def vendor(self, name: str) -> dict[str, Any]:
        return self.vendors.setdefault(name, {})

    def system(self, vendor: str, name: str) -> dict[str, Any]:
        systems: list[dict[str, Any]] = self.vendor(vendor).setdefault("systems", [])
        for s in systems:
            if s.get("name") == name:
                return s
        s = {"name": name}
        systems.append(s)
        return s


def slug(text: str) -> str:
    """A vendorwall name from free text: ``"Acme Imaging SAS"`` -> ``acme-imaging-sas``.

    >>> slug("Hôpital Nord / Radiologie")
    'hopital-nord-radiologie'
    """
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out = ""
    for ch in ascii_text.lower():
        out += ch if ch.isalnum() else "-"
    while "--" in out:
        out = out.replace("--", "-")
    return out.strip("-")[:40].strip("-")
