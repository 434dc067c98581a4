"""NetBox, through its REST API with pynetbox: read vendors and systems, write back allocations.

Read (docs/import.md has the table):

- tenants are vendors (``slug`` -> vendor name, ``name`` -> title; custom fields ``hotline``,
  ``security_contact``, ``contract_reference``, ``contract_end`` when the hospital defined them);
  ``--tenant-group`` keeps the tenants of one tenant group (e.g. "telemaintenance");
- devices and virtual machines of those tenants are systems: ``name``, ``site.slug`` -> site
  (a site of sites.yml by name, or by title), ``description`` (else the role) -> function,
  ``tags`` -> tags (groups), custom fields ``criticality`` and ``owner``;
- IP addresses assigned to their interfaces -> ``addresses`` (kept: pinned);
- the tenant's prefix holding those addresses -> the segment: its VLAN's ``vid`` is pinned, and a
  prefix holding several of the vendor's systems makes them one ``shared`` segment.

Write back (``--write-back``): every segment of the lock file becomes a VLAN (site, vid, name
``vw-<vendor>-<n>``, tenant, tag ``vendorwall``) and a prefix (scope the site, VLAN, tenant,
description = the segment key) in NetBox, created when missing, updated when they differ, never
deleted; ``--check`` reports what it would do. NetBox stays the source of truth for addressing.

The token comes from the environment and is never printed; requests time out.
"""

from __future__ import annotations

import os
from ipaddress import IPv4Address, IPv4Network, ip_interface
from typing import Any

from ..errors import Diagnostic, UsageError
from ..inventory import load as load_inventory
from . import Batch, slug

MANAGED_TAG = "vendorwall"


def _api(url: str, token: str, timeout: float) -> Any:
    import pynetbox
    import requests

    class _Session(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> Any:  # every call gets the timeout
            kwargs.setdefault("timeout", timeout)
            return super().request(*args, **kwargs)

    nb = pynetbox.api(url, token=token)
    nb.http_session = _Session()
    return nb


def _fetch(fn: Any, what: str, url: str) -> list[Any]:
    import pynetbox
    import requests

    try:
        return list(fn())
    except pynetbox.RequestError as exc:
        status = getattr(exc.req, "status_code", "?")
        hint = ("check the token's permissions" if status in (401, 403)
                else "check the NetBox URL and version (3.x, 4.x)")
        raise UsageError(f"NetBox refused the {what} request (HTTP {status}) at {url}", hint) from None
    except requests.RequestException as exc:
        raise UsageError(f"cannot reach NetBox at {url}: {type(exc).__name__}",
                         "check the URL, the network path and TLS (REQUESTS_CA_BUNDLE for a private CA)") from None


def _get(rec: Any, *path: str) -> Any:
    for p in path:
        if rec is None:
            return None
        rec = rec.get(p) if isinstance(rec, dict) else getattr(rec, p, None)
    return rec


def _dict(rec: Any) -> dict[str, Any]:
    return dict(rec) if not isinstance(rec, dict) else rec


def read(url: str, token: str, root: str, *, tenant_group: str | None = None, timeout: float = 10.0) -> Batch:
    nb = _api(url, token, timeout)
    batch = Batch(url)
    inv, _, _ = load_inventory(root)
    site_of = {n: n for n in inv.sites} | {s.title.lower(): n for n, s in inv.sites.items()}
    tenants = [_dict(t) for t in _fetch(lambda: nb.tenancy.tenants.filter(group=tenant_group) if tenant_group
                                        else nb.tenancy.tenants.all(), "tenants", url)]
    vendors = {t["id"]: t for t in tenants}
    items: list[tuple[str, dict[str, Any]]] = []
    items += [("device", _dict(d)) for d in _fetch(nb.dcim.devices.all, "devices", url)]
    items += [("virtual_machine", _dict(v)) for v in _fetch(nb.virtualization.virtual_machines.all, "virtual machines",
                                                            url)]
    ips: dict[tuple[str, int], list[IPv4Address]] = {}
    for ip in (_dict(i) for i in _fetch(nb.ipam.ip_addresses.all, "IP addresses", url)):
        obj = ip.get("assigned_object") or {}
        for kind in ("device", "virtual_machine"):
            owner = obj.get(kind)
            if owner and ip.get("family", {}).get("value", 4) == 4:
                addr = ip_interface(ip["address"]).ip
                if isinstance(addr, IPv4Address):
                    ips.setdefault((kind, owner["id"]), []).append(addr)
    prefixes = []
    for p in (_dict(x) for x in _fetch(nb.ipam.prefixes.all, "prefixes", url)):
        net = IPv4Network(p["prefix"]) if ":" not in p["prefix"] else None
        if net is not None and _get(p, "tenant", "id") in vendors:
            prefixes.append((net, p))
    prefixes.sort(key=lambda x: -x[0].prefixlen)  # most specific first
    for t in tenants:
        vname = t["slug"]
        v = batch.vendor(vname)
        v["title"] = t["name"]
        cf = t.get("custom_fields") or {}
        for key in ("hotline", "security_contact"):
            if cf.get(key):
                v[key] = cf[key]
        if cf.get("contract_reference") or cf.get("contract_end"):
            v["contract"] = {k: str(cf[f"contract_{k2}"]) for k, k2 in (("reference", "reference"), ("ends", "end"))
                             if cf.get(f"contract_{k2}")}
        if vname not in inv.vendors:
            batch.missing[vname] = [k for k in ("hotline", "security_contact", "contract", "approvers",
                                                "entry_paths") if k not in v]
    members: dict[int, list[str]] = {}
    sys_prefix: dict[str, tuple[IPv4Network, dict[str, Any]]] = {}
    for kind, rec in sorted(items, key=lambda x: str(x[1].get("name"))):
        tid = _get(rec, "tenant", "id")
        if tid not in vendors or not rec.get("name"):
            continue
        vname = vendors[tid]["slug"]
        name = slug(str(rec["name"]))
        s = batch.system(vname, name)
        where = f"{url} {kind} {rec['name']!r} (id {rec['id']})"
        site_slug = _get(rec, "site", "slug") or _get(rec, "cluster", "site", "slug")
        site_name = _get(rec, "site", "name") or ""
        site = site_of.get(site_slug or "") or site_of.get(site_name.lower())
        if site is None:
            batch.diags.append(Diagnostic(where, 0, "site", "NetBox site of no inventory site",
                                          "a site slug or name of sites.yml", repr(site_slug),
                                          "sites: " + ", ".join(sorted(inv.sites)), "import"))
        else:
            s["site"] = site
        function = rec.get("description") or _get(rec, "role", "name") or _get(rec, "device_role", "name")
        if function:
            s["function"] = function
        cf = rec.get("custom_fields") or {}
        for key in ("criticality", "owner"):
            if cf.get(key):
                s[key] = cf[key]
        tags = sorted(t["slug"] for t in rec.get("tags") or [] if t.get("slug") != MANAGED_TAG)
        if tags:
            s["tags"] = tags
        addrs = sorted(ips.get((kind, rec["id"]), []))
        if addrs:
            s["addresses"] = [str(a) for a in addrs]
            hit = next(((n, p) for n, p in prefixes if addrs[0] in n and _get(p, "tenant", "id") == tid), None)
            if hit is not None:
                sys_prefix[name] = hit
                members.setdefault(hit[1]["id"], []).append(name)
                vid = _get(hit[1], "vlan", "vid")
                st = inv.sites.get(site or "")
                adopted = next((n for n in st.networks.values() if n.subnet == hit[0]), None) if st else None
                if adopted is not None:  # brownfield: the segment adopts the site's existing network
                    s["network"] = adopted.name
                elif st is not None and not any(hit[0].subnet_of(p) for p in st.segment_pool):
                    gw = _get(hit[1], "custom_fields", "gateway") or "GATEWAY"
                    batch.missing[f"sites.{st.name}.existing_networks"] = [
                        *batch.missing.get(f"sites.{st.name}.existing_networks", []),
                        f"{hit[0]} (VLAN {vid or '?'}, gateway {gw}) holds {name}: declare it, then "
                        f"'network: NAME' adopts it"]
                elif vid:
                    s["vlan"] = vid
        if name not in {x.name for x in inv.systems.values()}:
            need = [k for k in ("site", "function", "criticality", "owner", "access") if k not in s]
            if need:
                batch.missing[f"{vname}/{name}"] = need
    for names in members.values():
        if len(names) > 1:
            for v in batch.vendors.values():
                for s in v.get("systems", []):
                    if s["name"] in names:
                        s["segment"] = "shared"
    return batch


def write_back(url: str, root: str, *, check: bool, timeout: float = 10.0) -> dict[str, Any]:
    """Write the lock file's VLANs and prefixes into NetBox; -> {"lines": [...], "created": n, "updated": n}."""
    from .. import allocate

    token = os.environ.get("NETBOX_TOKEN", "")
    nb = _api(url, token, timeout)
    lock, diags = allocate.read_lock(root, root)
    if diags or not lock.exists:
        raise UsageError("no readable lock file to write back", f"run 'vendorwall plan {root}' first")
    tenants = {t["slug"]: t for t in (_dict(x) for x in _fetch(nb.tenancy.tenants.all, "tenants", url))}
    sites = {s["slug"]: s for s in (_dict(x) for x in _fetch(nb.dcim.sites.all, "sites", url))}
    vlans = {(_get(v, "site", "slug"), v["vid"]): v
             for v in (_dict(x) for x in _fetch(nb.ipam.vlans.all, "VLANs", url))}
    prefixes = {p["prefix"]: p for p in (_dict(x) for x in _fetch(nb.ipam.prefixes.all, "prefixes", url))}
    tag = next((t for t in (_dict(x) for x in _fetch(nb.extras.tags.all, "tags", url)) if t["slug"] == MANAGED_TAG),
               None)
    lines: list[str] = []
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    verb = "would " if check else ""
    if tag is None:
        lines.append(f"  netbox: {verb}create tag {MANAGED_TAG}")
        tag = {"id": 0} if check else _dict(nb.extras.tags.create({"name": MANAGED_TAG, "slug": MANAGED_TAG}))
    for key, a in sorted(lock.segments.items()):
        site_name, vendor = key.split("/")[:2]
        site = sites.get(site_name)
        tenant = tenants.get(vendor)
        if site is None:
            lines.append(f"  netbox: skipped {key}: no NetBox site with slug {site_name!r}")
            continue
        want_vlan = {"site": site["id"], "vid": a.vlan, "name": f"vw-{key.replace('/', '-')}"[:64],
                     "tenant": tenant["id"] if tenant else None, "tags": [tag["id"]],
                     "description": f"vendorwall segment {key}"}
        have = vlans.get((site_name, a.vlan))
        vlan_id = _sync(nb.ipam.vlans, have, want_vlan, f"VLAN {a.vlan} at {site_name}", check, lines, counts)
        want_prefix = {"prefix": str(a.subnet), "vlan": vlan_id, "tenant": want_vlan["tenant"], "tags": [tag["id"]],
                       "description": f"vendorwall segment {key}", "scope_type": "dcim.site", "scope_id": site["id"]}
        _sync(nb.ipam.prefixes, prefixes.get(str(a.subnet)), want_prefix, f"prefix {a.subnet}", check, lines, counts)
    lines.append(f"  netbox write-back: {counts['created']} {verb}created, {counts['updated']} {verb}updated, "
                 f"{counts['unchanged']} unchanged")
    return {"lines": lines, **counts}


def _differs(have: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in want.items():
        cur = have.get(k)
        if isinstance(cur, dict):
            cur = cur.get("id", cur.get("value"))
        if k == "tags":
            cur = sorted(t.get("id") for t in have.get("tags") or [])
            v = sorted(v)
        if k == "scope_id" and "scope_id" not in have:
            cur = _get(have, "scope", "id") or _get(have, "site", "id")
        if cur != v:
            out[k] = v
    return out


def _sync(endpoint: Any, have: dict[str, Any] | None, want: dict[str, Any], label: str, check: bool,
          lines: list[str], counts: dict[str, int]) -> int | None:
    verb = "would " if check else ""
    if have is None:
        lines.append(f"  netbox: {verb}create {label}")
        counts["created"] += 1
        if check:
            return None
        return int(_dict(endpoint.create(want))["id"])
    changes = _differs(have, want)
    if not changes:
        counts["unchanged"] += 1
        return int(have["id"])
    lines.append(f"  netbox: {verb}update {label}: {', '.join(sorted(changes))}")
    counts["updated"] += 1
    if not check:
        rec = endpoint.get(have["id"])
        rec.update(changes)
    return int(have["id"])
