"""A GLPI export: the CSV that GLPI's search list exports (Assets > Computers or Network devices,
"Export: CSV"), with the columns below added to the list view first. Mapping (docs/import.md):

=================================================  ==========================================
GLPI column (English UI / French UI)               inventory field
=================================================  ==========================================
Name / Nom                                         system ``name`` (made a vendorwall name)
Location / Lieu                                    ``site``: the location path component equal
                                                   to a site name or title (``A > B > C``)
Supplier / Fournisseur (financial information)     the vendor (its name made a vendorwall name,
                                                   or the existing vendor of that title)
Manufacturer / Fabricant                           the vendor when no supplier is given
Comments / Commentaires, else Type + Model         ``function``
IP / Adresses IP (network ports)                   ``addresses`` (kept: pinned)
Technician in charge of the hardware /             ``owner``
Technicien responsable du matériel
Contract - Number / Contrat - Numéro               vendor ``contract.reference``
Contract - End date / Contrat - Date de fin        vendor ``contract.ends``
Criticality / Criticité (plugin Fields, optional)  ``criticality``
=================================================  ==========================================

What GLPI does not hold (access mode and services, entry paths, flows, hotline, approvers) is
listed as "to write by hand" in the import report; the spreadsheet template can fill it in.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import Diagnostic
from ..inventory import load as load_inventory
from . import Batch, slug
from .sheet import CRIT, Bad, p_date
from .table import Cell, norm_header, read_csv

COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("Name", "Nom"),
    "location": ("Location", "Lieu"),
    "supplier": ("Supplier", "Fournisseur", "Financial and administrative information - Supplier",
                 "Informations financières et administratives - Fournisseur"),
    "manufacturer": ("Manufacturer", "Fabricant"),
    "comment": ("Comments", "Commentaires"),
    "type": ("Type",),
    "model": ("Model", "Modèle"),
    "ip": ("IP", "IP addresses", "Adresses IP", "Network port - IP", "Port réseau - IP"),
    "owner": ("Technician in charge of the hardware", "Technicien responsable du matériel"),
    "contract": ("Contract - Number", "Contrat - Numéro", "Contract - Name", "Contrat - Nom"),
    "contract_end": ("Contract - End date", "Contrat - Date de fin", "Contract - Expiration date"),
    "criticality": ("Criticality", "Criticité"),
}
IP_SPLIT = re.compile(r"(?:<br\s*/?>|\$#\$|\n|,|;|\s)+")


def _site_of(location: str, sites: dict[str, str]) -> str | None:
    """The site whose name or title is one component of a GLPI location path."""
    for part in (p.strip() for p in location.split(">")):
        hit = sites.get(norm_header(part))
        if hit:
            return hit
    return None


def read(path: str, root: str, shown: str | None = None) -> Batch:
    shown = shown or path
    batch = Batch(shown)
    table, diags = read_csv(path, shown)
    batch.diags += diags
    if table is None:
        return batch
    col: dict[str, str] = {}
    for key, labels in COLUMNS.items():
        for label in labels:
            if norm_header(label) in table.headers:
                col[key] = norm_header(label)
                break
    for key in ("name", "location", "ip"):
        if key not in col:
            batch.diags.append(Diagnostic(shown, 1, "", f"missing GLPI column {COLUMNS[key][0]!r}",
                                          "the columns of docs/import.md in the exported list",
                                          "no such column", "add the column to the search list view, then export",
                                          "import"))
    if "supplier" not in col and "manufacturer" not in col:
        batch.diags.append(Diagnostic(shown, 1, "", "missing GLPI column 'Supplier' (or 'Manufacturer')",
                                      "who maintains each item", "neither column", "", "import"))
    if batch.diags:
        return batch
    inv, _, _ = load_inventory(root)
    sites = {norm_header(n): n for n in inv.sites} | {norm_header(s.title): n for n, s in inv.sites.items()}
    vendors = {norm_header(v.title): n for n, v in inv.vendors.items()}
    seen: dict[str, int] = {}
    for rownum, cells in table.rows:
        def cell(key: str, cells: dict[str, Cell] = cells) -> Cell | None:
            return cells.get(col[key]) if key in col else None

        name_cell = cell("name")
        if name_cell is None:
            continue  # GLPI lists unnamed items too: nothing to maintain by name
        name = slug(name_cell.value)
        if not name:
            batch.diags.append(name_cell.diag("name without letters or digits", "an item name"))
            continue
        if name in seen:
            batch.diags.append(name_cell.diag("two items with one name", "names unique across the export",
                                              hint=f"row {seen[name]} has the same name ({name})"))
            continue
        seen[name] = rownum
        who = cell("supplier") or cell("manufacturer")
        if who is None:
            anchor = cells.get(col.get("supplier", col.get("manufacturer", "")))
            batch.diags.append(Diagnostic(shown, rownum, "Supplier", "item without supplier or manufacturer",
                                          "who maintains it", "empty cells", "", "import",
                                          anchor.col if anchor else 0))
            continue
        vendor = vendors.get(norm_header(who.value)) or slug(who.value)
        v = batch.vendor(vendor)
        v.setdefault("title", who.value)
        s: dict[str, Any] = batch.system(vendor, name)
        loc = cell("location")
        if loc is not None:
            site = _site_of(loc.value, sites)
            if site is None:
                batch.diags.append(loc.diag("location of no site", "a location path with a site name or title "
                                            "as one component", hint="sites: " + ", ".join(sorted(inv.sites))))
            else:
                s["site"] = site
        comment, typ, model = cell("comment"), cell("type"), cell("model")
        if comment is not None:
            s["function"] = comment.value.splitlines()[0].strip()
        elif typ is not None or model is not None:
            s["function"] = " ".join(c.value for c in (typ, model) if c is not None)
        ip = cell("ip")
        if ip is not None:
            addrs = [a for a in IP_SPLIT.split(ip.value) if a and ":" not in a]  # IPv6 left aside
            bad = [a for a in addrs if not re.match(r"^\d{1,3}(\.\d{1,3}){3}$", a, re.ASCII)]
            if bad:
                batch.diags.append(ip.diag("malformed address", "IPv4 addresses", repr(bad[0])))
            elif addrs:
                s["addresses"] = addrs
        owner = cell("owner")
        if owner is not None:
            s["owner"] = owner.value
        crit = cell("criticality")
        if crit is not None:
            try:
                s["criticality"] = CRIT(crit.value)
            except Bad as exc:
                batch.diags.append(crit.diag(exc.message, exc.expected))
        ref, end = cell("contract"), cell("contract_end")
        if ref is not None:
            v.setdefault("contract", {})["reference"] = ref.value
        if end is not None:
            try:
                v.setdefault("contract", {})["ends"] = p_date(end.value).isoformat()
            except Bad as exc:
                batch.diags.append(end.diag(exc.message, exc.expected))
    for vname, v in batch.vendors.items():
        known = inv.vendors.get(vname)
        for key in ("hotline", "security_contact", "approvers", "entry_paths"):
            if known is None:
                batch.missing.setdefault(vname, []).append(key)
        for s in v.get("systems", []):
            have = known is not None and s["name"] in {x.name for x in known.systems}
            need = [k for k in ("site", "function", "criticality", "owner", "access") if k not in s]
            if not have and need:
                batch.missing[f"{vname}/{s['name']}"] = need
    return batch
