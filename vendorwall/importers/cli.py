"""``vendorwall import``: wired into vendorwall/cli.py.

    vendorwall import sheet FILE.csv|FILE.xlsx --into INVENTORY [--check] [--json]
    vendorwall import glpi EXPORT.csv --into INVENTORY [--check] [--json]
    vendorwall import netbox URL --into INVENTORY [--tenant-group G] [--check] [--write-back] [--json]
    vendorwall import template --out FILE.csv|FILE.xlsx

Bad cells or records: every one reported (file:row:column), nothing written, exit 2.
``--check`` prints what a run would change and writes nothing. The NetBox token is read from the
environment (``NETBOX_TOKEN``), never from the command line, and never printed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from typing import Any

from ..errors import EXIT_OK, UsageError, VendorwallError
from . import Batch, merge


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("import", help="write vendor files from a spreadsheet, a GLPI export or NetBox")
    sub = p.add_subparsers(dest="import_source", metavar="SOURCE", required=True)
    for name, helptext, src in (("sheet", "the télémaintenance spreadsheet template (CSV or XLSX)", "FILE"),
                                ("glpi", "a GLPI export of computers / network equipment (CSV)", "EXPORT"),
                                ("netbox", "NetBox through its REST API (token in NETBOX_TOKEN)", "URL")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("source", metavar=src)
        s.add_argument("--into", required=True, metavar="INVENTORY", help="inventory directory to merge into")
        s.add_argument("--check", action="store_true", help="report what would change; write nothing")
        s.add_argument("--json", action="store_true", help="print the report as JSON")
        if name == "netbox":
            s.add_argument("--tenant-group", help="only tenants of this tenant group (slug) are vendors")
            s.add_argument("--write-back", action="store_true",
                           help="also write the allocated VLANs and prefixes of the lock file into NetBox")
            s.add_argument("--timeout", type=float, default=10.0, help="seconds per API request (default 10)")
    s = sub.add_parser("template", help="write an empty spreadsheet template")
    s.add_argument("--out", required=True, help="FILE.xlsx (one sheet per table) or FILE.csv (plus siblings)")


def handle(args: argparse.Namespace) -> int:
    if args.import_source == "template":
        return _template(args.out)
    root = args.into
    if not os.path.isdir(os.path.join(root, "vendorwall")):
        raise UsageError(f"not an inventory directory: {root}", "--into names a directory holding vendorwall/ "
                         "(copy hosts.yml, sites.yml, policy.yml from inventories/example to start)")
    t0 = time.monotonic()
    batch = _read(args, root)
    t_read = time.monotonic() - t0
    if batch.diags:
        raise VendorwallError(batch.diags, "import")
    plan = merge.merge(root, batch)
    if not args.check:
        merge.write(root, plan)
    extra: dict[str, Any] = {}
    if args.import_source == "netbox" and args.write_back:
        from . import netbox

        extra["write_back"] = netbox.write_back(args.source, root, check=args.check, timeout=args.timeout)
    seconds = time.monotonic() - t0
    systems = sum(len(v.get("systems", [])) for v in batch.vendors.values())
    if args.json:
        print(json.dumps({"source": batch.source, "vendors": len(batch.vendors), "systems": systems,
                          "check": args.check, "seconds_read": round(t_read, 3), "seconds": round(seconds, 3),
                          "files": [{"path": f.path, "created": f.created, "changed": f.before != f.after,
                                     "changes": f.changes, "kept": f.kept} for f in plan.files],
                          "missing": batch.missing, **extra}, indent=1, sort_keys=True))
        return EXIT_OK
    print(f"import from {batch.source}: {len(batch.vendors)} vendors, {systems} systems "
          f"(read {t_read:.2f} s, total {seconds:.2f} s)")
    print(plan.text(args.check))
    if batch.missing:
        print(f"  to write by hand ({len(batch.missing)} entries the source cannot fill):")
        for where, keys in sorted(batch.missing.items())[:20]:
            print(f"    {where}: {', '.join(keys)}")
        if len(batch.missing) > 20:
            print(f"    +{len(batch.missing) - 20} more (--json lists all)")
    for line in extra.get("write_back", {}).get("lines", []):
        print(line)
    if not args.check and plan.changed:
        print(f"next: vendorwall validate {root}")
    return EXIT_OK


def _read(args: argparse.Namespace, root: str) -> Batch:
    if not args.import_source == "netbox" and not os.path.isfile(args.source):
        raise UsageError(f"no such file: {args.source}", "pass the exported file")
    if args.import_source == "sheet":
        from . import sheet

        return sheet.read(args.source)
    if args.import_source == "glpi":
        from . import glpi

        return glpi.read(args.source, root)
    from . import netbox

    token = os.environ.get("NETBOX_TOKEN", "")
    if not token:
        raise UsageError("NETBOX_TOKEN is not set", "export NETBOX_TOKEN=<a read-only API token> (it is never "
                         "passed on the command line, so it stays out of shell history and process lists)")
    return netbox.read(args.source, token, root, tenant_group=args.tenant_group, timeout=args.timeout)


def _template(out: str) -> int:
    from .sheet import template_rows

    rows = template_rows()
    if out.lower().endswith(".xlsx"):
        import openpyxl

        book = openpyxl.Workbook()
        first = True
        for sheet, headers in rows.items():
            ws = book.active if first else book.create_sheet()
            first = False
            ws.title = sheet
            ws.append(headers)
        book.save(out)
        print(f"wrote {out} (sheets: {', '.join(rows)})")
        return EXIT_OK
    if not out.lower().endswith(".csv"):
        raise UsageError(f"--out: {out}: neither .xlsx nor .csv", "e.g. --out telemaintenance.xlsx")
    stem = out[:-4]
    written = []
    for sheet, headers in rows.items():
        path = out if sheet == "systems" else f"{stem}.{sheet}.csv"
        with open(path, "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerow(headers)
        written.append(path)
    print("wrote " + ", ".join(written), file=sys.stdout)
    return EXIT_OK
