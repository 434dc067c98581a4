#!/usr/bin/env python3
"""Write the import samples of the example hospital from ``inventories/example``.

- ``examples/import/chu-exemple.csv`` and its ``.entry_paths.csv``, ``.flows.csv``,
  ``.accounts.csv`` siblings: the spreadsheet template filled in for CHU Exemple;
- ``examples/import/glpi-computers.csv``: what GLPI's search list exports for the same systems
  (semicolon-separated, French date format, location paths, several IPs per cell);
- ``tests/importers/netbox/``: NetBox REST API responses for the same systems, in the JSON
  shape NetBox documents for its ``/api/`` endpoints (tenants, devices, virtual machines, IP
  addresses, prefixes, VLANs, sites), replayed by the tests.

The example inventory is the single source: rerun after changing it and review the diff. The
round-trip tests (tests/importers/) import these samples and compare ``vendorwall export``.

Usage: python scripts/gen_import_samples.py
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from vendorwall.importers.sheet import ACCOUNT_COLS, FLOW_COLS, PATH_COLS, SYSTEM_COLS  # noqa: E402
from vendorwall.inventory import domain_files  # noqa: E402
from vendorwall.yamlsrc import load_file  # noqa: E402

EXAMPLE = REPO / "inventories" / "example"
OUT = REPO / "examples" / "import"
NETBOX = REPO / "tests" / "importers" / "netbox"


def example(root: Path = EXAMPLE) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    vendors: dict[str, Any] = {}
    sites: dict[str, Any] = {}
    for path in domain_files(str(root)):
        data, _, diags = load_file(path)
        assert not diags, diags
        vendors.update(data.get("vendors") or {})
        sites.update(data.get("sites") or {})
    lock, _, _ = load_file(str(root / "vendorwall" / "allocations.lock.yml"))
    return vendors, sites, lock["segments"]


def hosts_of(lock: dict[str, Any]) -> dict[str, tuple[str, list[str], int]]:
    """system -> (segment key, addresses, vlan) from the lock file."""
    out = {}
    for key, seg in lock.items():
        for system, addrs in seg["hosts"].items():
            out[system] = (key, list(addrs), seg["vlan"])
    return out


def _j(items: list[str]) -> str:
    return ", ".join(items)


def sheet_rows(vendors: dict[str, Any]) -> dict[str, list[list[str]]]:
    systems = [[c.header for c in SYSTEM_COLS]]
    paths = [[c.header for c in PATH_COLS]]
    flows = [[c.header for c in FLOW_COLS]]
    accounts = [[c.header for c in ACCOUNT_COLS]]
    for vname, v in sorted(vendors.items()):
        first = True
        for s in v.get("systems", []):
            a = s["access"]
            exc = a.get("exception") or {}
            w = a.get("window")
            row = {
                "vendor": vname, "system": s["name"], "site": s["site"], "function": s["function"],
                "criticality": s["criticality"], "owner": s["owner"], "address": _j(s.get("addresses", [])),
                "vlan": str(s.get("vlan", "")), "segment": s.get("segment", ""),
                "switch ports": "; ".join(f"{p['switch']} {p['interface']}" for p in s.get("switch_ports", [])),
                "tags": _j(s.get("tags", [])), "network": s.get("network", ""),
                "current address": (s.get("current") or {}).get("address", ""),
                "current vlan": str((s.get("current") or {}).get("vlan", "")),
                "infrastructure skip": _j((s.get("infrastructure") or {}).get("skip", [])),
                "infrastructure add": _j((s.get("infrastructure") or {}).get("add", [])),
                "access mode": a["mode"], "services": _j(a["services"]),
                "via": _j(a.get("via", [])), "max hours": str(a.get("max_hours", "")),
                "window": f"{','.join(w['days'])} {w['start']}-{w['end']}" if w else "",
                "justification": (a.get("justification") or "").strip(), "until": a.get("until", ""),
                "exception services": _j(exc.get("services", [])),
                "exception justification": (exc.get("justification") or "").strip(),
                "exception approved by": exc.get("approved_by", ""), "approvers": "; ".join(s.get("approvers", [])),
                "vendor title": v["title"] if first else "", "hotline": v["hotline"] if first else "",
                "security contact": v["security_contact"] if first else "",
                "contract reference": v["contract"]["reference"] if first else "",
                "contract end": v["contract"]["ends"] if first else "",
                "vendor approvers": "; ".join(v["approvers"]) if first else "",
            }
            systems.append([str(row[c.header]) for c in SYSTEM_COLS])
            first = False
            for f in s.get("flows", []):
                d = "from" if "from" in f else "to"
                flows.append([s["name"], d, f[d], _j(f["services"]), "yes" if f.get("keep") else "", ""])
        for p in v["entry_paths"]:
            paths.append([vname, p["name"], p["kind"], p.get("bastion", ""), p.get("source", ""),
                          "yes" if p.get("shared_egress") else "", p.get("pool", ""),
                          p.get("peer", ""), _j(p.get("remote_subnets", [])),
                          (p.get("justification") or "").strip(), p.get("retire_by", ""), p.get("purpose", ""),
                          _j(p.get("systems", [])), _j(p.get("services", [])), p.get("replacement", ""),
                          "; ".join(p.get("checklist", []))])
        for acc in v.get("accounts", []):
            accounts.append([vname, acc["id"], acc["person"], acc["email"], acc["expires"], acc.get("created", ""),
                             acc.get("owner", ""), acc.get("ssh_key", "")])
    return {"": systems, ".entry_paths": paths, ".flows": flows, ".accounts": accounts}


def company(vendor: str) -> str:
    """The supplier's company name as GLPI holds it: 'exemplar-lab' -> 'Exemplar Lab'."""
    return " ".join(w.capitalize() for w in vendor.split("-"))


def glpi_rows(vendors: dict[str, Any], sites: dict[str, Any], lock: dict[str, Any]) -> list[list[str]]:
    hosts = hosts_of(lock)
    rows = [["Nom", "Entité", "Statut", "Fabricant", "Type", "Modèle", "Lieu", "Adresses IP",
             "Technicien responsable du matériel", "Fournisseur", "Contrat - Numéro", "Contrat - Date de fin",
             "Criticité", "Commentaires"]]
    for vname, v in sorted(vendors.items()):
        supplier = company(vname)
        for s in v.get("systems", []):
            _, addrs, _ = hosts[s["name"]]
            ends = v["contract"]["ends"]
            y, m, d = ends.split("-")
            rows.append([s["name"].upper(), "CHU Exemple", "En production", supplier,
                         "Équipement biomédical", "", f"CHU Exemple > {sites[s['site']]['title']} > Biomédical",
                         "<br>".join(addrs), s["owner"], supplier, v["contract"]["reference"], f"{d}/{m}/{y}",
                         {"vital": "Critique", "high": "Haute", "medium": "Moyenne", "low": "Basse"}[s["criticality"]],
                         s["function"]])
    return rows


def _ref(obj_id: int, **kw: Any) -> dict[str, Any]:
    return {"id": obj_id, **kw}


def _page(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"count": len(results), "next": None, "previous": None, "results": results}


def write_netbox(out: Path, vendors: dict[str, Any], sites: dict[str, Any], lock: dict[str, Any]) -> None:
    """NetBox 4.x list responses (GET /api/<app>/<endpoint>/) for the example hospital."""
    base = "http://netbox.invalid/api"
    hosts = hosts_of(lock)
    site_ids = {name: i for i, name in enumerate(sorted(sites), 1)}
    nb_sites = [{"id": i, "url": f"{base}/dcim/sites/{i}/", "display": sites[n]["title"], "name": sites[n]["title"],
                 "slug": n, "status": {"value": "active", "label": "Active"}, "tenant": None, "tags": [],
                 "custom_fields": {}} for n, i in site_ids.items()]
    tenant_ids = {name: i for i, name in enumerate(sorted(vendors), 1)}
    tenants = [{"id": i, "url": f"{base}/tenancy/tenants/{i}/", "display": company(n), "name": company(n), "slug": n,
                "group": {"id": 1, "name": "Telemaintenance", "slug": "telemaintenance"}, "description": "",
                "tags": [], "custom_fields": {"contract_reference": vendors[n]["contract"]["reference"],
                                              "contract_end": vendors[n]["contract"]["ends"]}}
               for n, i in tenant_ids.items()]
    tenants.append({"id": 99, "url": f"{base}/tenancy/tenants/99/", "display": "CHU Exemple IT",
                    "name": "CHU Exemple IT", "slug": "chu-it",
                    "group": {"id": 2, "name": "Internal", "slug": "internal"}, "description": "",
                    "tags": [], "custom_fields": {}})
    devices, vms, ips, prefixes, vlans = [], [], [], [], []
    seg_ids = {key: i for i, key in enumerate(sorted(lock), 1)}
    for key, seg in sorted(lock.items()):
        site, vendor = key.split("/")[:2]
        i = seg_ids[key]
        vlans.append({"id": i, "url": f"{base}/ipam/vlans/{i}/", "display": f"vendor-{i}", "vid": seg["vlan"],
                      "name": f"vendor-{i}", "site": _ref(site_ids[site], slug=site, name=sites[site]["title"]),
                      "group": None, "tenant": _ref(tenant_ids[vendor], slug=vendor, name=company(vendor)),
                      "status": {"value": "active", "label": "Active"}, "tags": [], "custom_fields": {}})
        prefixes.append({"id": i, "url": f"{base}/ipam/prefixes/{i}/", "display": seg["subnet"],
                         "family": {"value": 4, "label": "IPv4"}, "prefix": seg["subnet"], "scope_type": "dcim.site",
                         "scope_id": site_ids[site], "scope": _ref(site_ids[site], slug=site,
                                                                   name=sites[site]["title"]),
                         "vlan": _ref(i, vid=seg["vlan"], name=f"vendor-{i}"),
                         "tenant": _ref(tenant_ids[vendor], slug=vendor, name=company(vendor)),
                         "status": {"value": "active", "label": "Active"}, "tags": [], "custom_fields": {}})
    # an internal prefix of another tenant: not a vendor's, never imported
    prefixes.append({"id": 500, "url": f"{base}/ipam/prefixes/500/", "display": "10.5.10.0/28",
                     "family": {"value": 4, "label": "IPv4"}, "prefix": "10.5.10.0/28", "scope_type": "dcim.site",
                     "scope_id": site_ids["centre"], "scope": _ref(site_ids["centre"], slug="centre"), "vlan": None,
                     "tenant": _ref(99, slug="chu-it", name="CHU Exemple IT"), "status": {"value": "active"},
                     "tags": [], "custom_fields": {}})
    n_dev = n_vm = n_ip = 0
    for vname, v in sorted(vendors.items()):
        for s in v.get("systems", []):
            site = s["site"]
            common = {"name": s["name"], "description": s["function"],
                      "tenant": _ref(tenant_ids[vname], slug=vname, name=company(vname)),
                      "site": _ref(site_ids[site], slug=site, name=sites[site]["title"]),
                      "status": {"value": "active", "label": "Active"},
                      "tags": [{"id": 1000 + j, "name": t, "slug": t} for j, t in enumerate(s.get("tags", []))],
                      "custom_fields": {"criticality": s["criticality"], "owner": s["owner"]}}
            if s.get("switch_ports"):
                n_dev += 1
                oid, kind = n_dev, "device"
                devices.append({"id": oid, "url": f"{base}/dcim/devices/{oid}/", "display": s["name"],
                                "role": _ref(1, name="Medical device", slug="medical-device"),
                                "device_type": _ref(1, model="Generic", slug="generic"), **common})
            else:
                n_vm += 1
                oid, kind = n_vm, "virtual_machine"
                vms.append({"id": oid, "url": f"{base}/virtualization/virtual-machines/{oid}/", "display": s["name"],
                            "role": _ref(2, name="Server", slug="server"), "cluster": _ref(1, name="DC Centre"),
                            **common})
            key, addrs, _ = hosts[s["name"]]
            plen = lock[key]["subnet"].split("/")[1]
            for a in addrs:
                n_ip += 1
                iface = {"id": n_ip, "name": "eth0" if kind == "device" else "vnic0", kind: _ref(oid, name=s["name"])}
                ips.append({"id": n_ip, "url": f"{base}/ipam/ip-addresses/{n_ip}/", "display": f"{a}/{plen}",
                            "family": {"value": 4, "label": "IPv4"}, "address": f"{a}/{plen}",
                            "assigned_object_type": "dcim.interface" if kind == "device" else
                            "virtualization.vminterface", "assigned_object_id": n_ip, "assigned_object": iface,
                            "tenant": _ref(tenant_ids[vname], slug=vname), "status": {"value": "active"},
                            "tags": [], "custom_fields": {}})
    out.mkdir(parents=True, exist_ok=True)
    for name, results in (("dcim.sites", nb_sites), ("tenancy.tenants", tenants), ("dcim.devices", devices),
                          ("virtualization.virtual-machines", vms), ("ipam.ip-addresses", ips),
                          ("ipam.prefixes", prefixes), ("ipam.vlans", vlans), ("extras.tags", [])):
        (out / f"{name}.json").write_text(json.dumps(_page(results), indent=1, sort_keys=True) + "\n",
                                          encoding="utf-8")


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, delimiter=delimiter, lineterminator="\n").writerows(rows)


def main() -> int:
    vendors, sites, lock = example()
    for suffix, rows in sheet_rows(vendors).items():
        write_csv(OUT / f"chu-exemple{suffix}.csv", rows)
    write_csv(OUT / "glpi-computers.csv", glpi_rows(vendors, sites, lock), ";")
    write_netbox(NETBOX, vendors, sites, lock)
    print(f"wrote {OUT} and {NETBOX}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
