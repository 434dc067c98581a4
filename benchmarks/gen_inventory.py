#!/usr/bin/env python3
"""Generate a large, deterministic, valid synthetic vendorwall inventory for benchmarks.

    python benchmarks/gen_inventory.py OUTDIR [--systems 5000] [--vendors 200] [--sites 20]
                                              [--client-groups 40] [--seed 1] [--force]

Writes OUTDIR/hosts.yml and OUTDIR/vendorwall/{policy,sites,client_groups}.yml plus one file per
vendor under OUTDIR/vendorwall/vendors/. No lock file: run ``vendorwall plan OUTDIR`` to write it.
The same arguments always give byte-identical files (one ``random.Random(seed)``, sorted output).

Address plan (disjoint by construction, so ``vendorwall validate`` accepts it):

    10.1.0.0 - 10.63.255.255   client groups, one aligned /22 block each (prefix /22 to /28)
    10.64.0.0/10               segment pools: one /16 per site (10.64.0.0/16, 10.65.0.0/16, ...)
    10.200.0.0/16              vendor VPN pools, one /28 per vendor
    10.249.0.0/16              bastion source per vendor, one /32 each
    10.250.0.0/24              shared admin network (bastions); 10.250.N.0/24 site N management
    192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24
                               LAN-to-LAN remote subnets (/29 slices) of at most 30 vendors;
                               203.0.113.224/27 holds the tunnel peers

Dates are valid for ``--now 2026-11-28``: contracts end on or after 2027-06-30, accounts expire
between 2027-01-01 and 2027-10-31 (at most 365 days after their creation), permanent accesses
run until 2027-06-30, LAN-to-LAN tunnels retire in 2027.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import os
import random
import re
import shutil
import sys
import textwrap
from collections.abc import Iterable
from typing import Any

import yaml

NOW = dt.date(2026, 11, 28)
VLAN_RANGE = (100, 3999)
MAX_SITES = 64  # 10.64.0.0/10 holds 64 /16 pools
MAX_L2L_VENDORS = 30
SHARED_MAX_PER_SEGMENT = 25  # a /27 holds 29 systems after the gateway; keep a margin
PORTS_PER_MEMBER = 47  # GigabitEthernetM/0/1-47; 1/0/48 is the uplink
STACK_MEMBERS = 9
UPLINK = "GigabitEthernet1/0/48"

SITE_NAMES = ["nord", "sud", "est", "ouest", "centre", "rive", "lac", "parc", "mont", "val", "port", "pont",
              "bois", "pre", "roc", "dune", "cap", "ile", "plaine", "colline"]
FIRST = ["anne", "bruno", "claire", "david", "emma", "farid", "gaelle", "hugo", "ines", "jules", "karim", "lea",
         "marc", "nadia", "olivier", "paula", "quentin", "rose", "samir", "theo", "ursula", "victor", "yasmine",
         "zoe"]
LAST = ["martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand", "leroy", "moreau",
        "simon", "laurent", "lefebvre", "michel", "garcia", "david", "bertrand", "roux", "vincent", "fournier",
        "morel", "girard", "andre", "mercier", "dupont", "lambert", "bonnet", "francois", "martinez", "nguyen"]
SYLLABLES = ["ac", "al", "ar", "bio", "cor", "da", "del", "en", "fi", "gen", "hel", "in", "ka", "lu", "med", "mar",
             "no", "or", "pha", "qui", "ra", "sa", "so", "ta", "te", "ul", "va", "vi", "xe", "zo"]
ENDINGS = ["tek", "med", "lab", "ix", "ia", "on", "us", "ys", "ra", "tis", "vance", "core"]

# category -> (system kinds, vendor access service choices, typical flow services)
CATEGORIES: dict[str, tuple[list[str], list[list[str]], list[list[str]]]] = {
    "imaging": (["ct", "mri", "us", "xray", "mammo", "pet", "pacs-gw"],
                [["ssh", "https"], ["rdp"], ["https"], ["ssh", "https", "vnc"]],
                [["dicom"], ["dicom", "https"], ["https"]]),
    "lab": (["analyser", "lab-mw", "bloodgas", "coag"],
            [["https"], ["ssh", "https"], ["rdp"]],
            [["hl7"], ["hl7", "https"], ["https"]]),
    "biomed": (["pump-gw", "monitor-gw", "ecg", "vent-gw", "dialysis"],
               [["https"], ["ssh"], ["https", "snmp"]],
               [["hl7"], ["https"], ["hl7", "https"]]),
    "building": (["bms-ctrl", "ups", "cold-room"],
                 [["https"], ["https", "snmp"]],
                 [["https"]]),
    "it": (["app", "db", "web", "gw"],
           [["rdp", "sql"], ["ssh", "https"], ["rdp"], ["https"]],
           [["https"], ["hl7"], ["hl7", "https"]]),
}
CATEGORY_WEIGHTS = {"imaging": 30, "lab": 20, "biomed": 25, "building": 10, "it": 15}
WINDOWS = [(["tue", "thu"], "08:00", "12:00"), (["mon", "wed", "fri"], "07:00", "09:00"),
           (["sat"], "06:00", "14:00"), (["sun"], "02:00", "06:00"), (["wed"], "13:00", "17:00"),
           (["mon", "tue", "wed", "thu", "fri"], "08:00", "18:00"), (["thu"], "20:00", "23:00"),
           (["tue"], "09:00", "11:30")]
# client group kinds: (name stem, title, prefix length); the first kinds come first on every site
SITE_GROUP_KINDS = [("radiology-ws", "Radiology reading workstations", 24), ("nursing", "Nursing stations", 22),
                    ("or-ws", "Operating theatre workstations", 25), ("lab-ws", "Laboratory bench workstations", 24),
                    ("pharmacy", "Pharmacy workstations", 26), ("cardiology-ws", "Cardiology workstations", 25),
                    ("dialysis-ws", "Dialysis unit workstations", 27), ("icu-ws", "ICU workstations", 25)]
CENTRAL_GROUPS = [("integration-engine", "HL7 integration engine (EAI)", 28),
                  ("lis-servers", "Laboratory information system servers", 28),
                  ("it-monitoring", "IT supervision (SNMP polling)", 28)]


# --------------------------------------------------------------------------- YAML emitter


class Date(str):
    """A date, written unquoted (the loader reads it back as a string)."""


_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@/+-]*$")
_RESOLVER = yaml.resolver.Resolver()


def _reads_as_text(s: str) -> bool:
    return bool(_RESOLVER.resolve(yaml.ScalarNode, s, (True, False)) == "tag:yaml.org,2002:str")


def scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Date):
        return str(v)
    if v is None:
        return "null"
    s = str(v)
    if _PLAIN.match(s) and _reads_as_text(s):
        return s
    return json.dumps(s)  # a JSON string is a valid double-quoted YAML scalar (ASCII only)


def flow(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {flow(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(flow(x) for x in v) + "]"
    return scalar(v)


def _small(v: Any) -> bool:
    """Written in flow style: scalar lists, and mappings of scalars and scalar lists."""
    if isinstance(v, list):
        return all(not isinstance(x, (dict, list)) for x in v)
    if isinstance(v, dict):
        return all(not isinstance(x, dict) and (not isinstance(x, list) or _small(x)) for x in v.values())
    return True


def block(v: Any, indent: int = 0, width: int = 118, spaced: bool = False) -> list[str]:
    """Block style, with flow style for small collections that fit on the line (as people write).
    ``spaced``: a blank line between the items of this list."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, (dict, list)) and x and not (_small(x) and len(pad) + len(k) + len(flow(x)) + 2 <= width):
                lines.append(f"{pad}{k}:")
                lines.extend(block(x, indent + 2, width, spaced=k == "systems"))
            elif isinstance(x, str) and len(pad) + len(k) + len(scalar(x)) + 2 > width:
                lines.append(f"{pad}{k}: >-")  # long text: folded, as people write justifications
                lines.extend(f"{pad}  {part}" for part in textwrap.wrap(x, width - indent - 2))
            else:
                lines.append(f"{pad}{k}: {flow(x) if isinstance(x, (dict, list)) else scalar(x)}")
    elif isinstance(v, list):
        for i, x in enumerate(v):
            if spaced and i:
                lines.append("")
            if isinstance(x, dict) and not (_small(x) and len(pad) + 2 + len(flow(x)) <= width):
                sub = block(x, indent + 2, width)
                lines.append(f"{pad}- {sub[0].lstrip()}")
                lines.extend(sub[1:])
            else:
                lines.append(f"{pad}- {flow(x)}")
    return lines


def dump(header: Iterable[str], data: dict[str, Any]) -> str:
    out = [f"# {h}" if h else "#" for h in header]
    out.extend(block(data))
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- generation


def _net(base: str, index: int, block_len: int, length: int) -> str:
    """The ``length`` prefix at the start of block ``index`` of size /``block_len`` after ``base``."""
    start = int(ipaddress.IPv4Address(base)) + index * (1 << (32 - block_len))
    return str(ipaddress.IPv4Network((start, length)))


def _split(total: int, parts: int, rng: random.Random, sigma: float = 0.8) -> list[int]:
    """``total`` split in ``parts`` positive counts with a log-normal spread (exact sum)."""
    weights = [rng.lognormvariate(0.0, sigma) for _ in range(parts)]
    rest = total - parts
    s = sum(weights)
    raw = [w / s * rest for w in weights]
    counts = [1 + int(r) for r in raw]
    short = total - sum(counts)
    for i in sorted(range(parts), key=lambda i: (-(raw[i] - int(raw[i])), i))[:short]:
        counts[i] += 1
    return counts


def _vendor_names(n: int, rng: random.Random) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        base = ("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 2))) + rng.choice(ENDINGS))[:11]
        name = base
        i = 2
        while name in seen:
            name = f"{base}{i}"
            i += 1
        seen.add(name)
        names.append(name)
    return names


class Generator:
    def __init__(self, systems: int, vendors: int, sites: int, client_groups: int, seed: int) -> None:
        if not 1 <= sites <= MAX_SITES:
            raise SystemExit(f"--sites: 1 to {MAX_SITES}")
        if not 1 <= vendors <= 4000:
            raise SystemExit("--vendors: 1 to 4000")
        if systems < vendors:
            raise SystemExit("--systems must be at least --vendors (every vendor maintains a system)")
        per_site = systems / sites
        if per_site > (VLAN_RANGE[1] - VLAN_RANGE[0] + 1) * 0.8:
            raise SystemExit(f"--systems/--sites = {per_site:.0f} systems per site: too many for the "
                             f"VLAN range {VLAN_RANGE[0]}-{VLAN_RANGE[1]}; add sites")
        self.n_systems, self.n_vendors, self.n_sites = systems, vendors, sites
        self.n_groups = max(client_groups, 0)
        self.seed = seed
        self.rng = random.Random(seed)
        self.sites = SITE_NAMES[:sites] + [f"site{i:02d}" for i in range(len(SITE_NAMES), sites)]
        self.central = self.sites[min(4, sites - 1)]  # the "centre" site when there is one
        self.port_next: dict[str, int] = {}

    # ---- hosts.yml ---------------------------------------------------------------------
    def hosts(self) -> str:
        fw: dict[str, Any] = {}
        sw: dict[str, Any] = {}
        for i, s in enumerate(self.sites):
            fw[f"fw-{s}"] = {"ansible_host": f"10.250.{i + 1}.1", "vw_platform": "nftables"}
            for k in (1, 2):
                sw[f"sw-{s}-{k}"] = {"ansible_host": f"10.250.{i + 1}.{10 + k}", "vw_platform": "ios"}
        children: dict[str, Any] = {
            "firewalls": {"hosts": fw},
            "switches": {"hosts": sw},
            "bastions": {"hosts": {"bst-1": {"ansible_host": "10.250.0.21", "vw_platform": "linux"},
                                   "bst-2": {"ansible_host": "10.250.0.22", "vw_platform": "linux"}}},
        }
        lines = [f"# Synthetic benchmark inventory ({self._args()}).", "all:", "  children:"]
        lines.extend(block(children, 4))
        for s in self.sites:
            lines += [f"    site_{s}:", "      hosts:", f"        fw-{s}:", f"        sw-{s}-1:", f"        sw-{s}-2:"]
        return "\n".join(lines) + "\n"

    def _args(self) -> str:
        return (f"gen_inventory.py --systems {self.n_systems} --vendors {self.n_vendors} --sites {self.n_sites} "
                f"--client-groups {self.n_groups} --seed {self.seed}")

    # ---- policy, sites, client groups ------------------------------------------------
    def policy(self) -> str:
        services = {
            "ssh": {"protocol": "tcp", "ports": [22]}, "rdp": {"protocol": "tcp", "ports": [3389]},
            "https": {"protocol": "tcp", "ports": [443]}, "http": {"protocol": "tcp", "ports": [80]},
            "vnc": {"protocol": "tcp", "ports": [5900]}, "snmp": {"protocol": "udp", "ports": [161]},
            "dicom": {"protocol": "tcp", "ports": [104], "description": "DICOM (images, worklist)"},
            "dicom-tls": {"protocol": "tcp", "ports": [2762], "description": "DICOM over TLS"},
            "hl7": {"protocol": "tcp", "ports": [2575], "description": "HL7 v2 over MLLP"},
            "sql": {"protocol": "tcp", "ports": [1433], "description": "SQL Server"},
            "bacnet": {"protocol": "udp", "ports": [47808], "description": "BACnet/IP"},
            "telnet": {"protocol": "tcp", "ports": [23]}, "smb": {"protocol": "tcp", "ports": [445]},
            "any": {"protocol": "any", "description": "every protocol and port"},
        }
        data = {"policy": {"account_max_lifetime_days": 365, "on_demand_max_hours": 8, "max_validity_days": 365,
                           "forbidden_services": ["telnet", "smb", "any"]},
                "services": services}
        return dump(["Synthetic benchmark inventory: policy and service catalogue."], data)

    def sites_file(self) -> str:
        sites: dict[str, Any] = {}
        for i, s in enumerate(self.sites):
            sites[s] = {
                "title": f"Synthetic hospital {s}" if i % 5 != 4 else f"Synthetic clinic {s}",
                "kind": "hospital" if i % 5 != 4 else "clinic",
                "firewall": f"fw-{s}",
                "switches": [{"name": f"sw-{s}-{k}", "uplink": UPLINK} for k in (1, 2)],
                "segment_pool": [f"10.{64 + i}.0.0/16"],
                "vlan_range": list(VLAN_RANGE),
                "management": ["10.250.0.0/24", f"10.250.{i + 1}.0/24"],
            }
        return dump(["Synthetic benchmark inventory: sites (one /16 segment pool each, in 10.64.0.0/10)."],
                    {"sites": sites})

    def client_groups(self) -> dict[str, dict[str, Any]]:
        groups: dict[str, dict[str, Any]] = {}
        block_no = 0

        def take(length: int) -> str:
            nonlocal block_no
            net = _net("10.1.0.0", block_no, 22, length)
            block_no += 1
            return net

        for name, title, length in CENTRAL_GROUPS[: self.n_groups]:
            groups[name] = {"title": title, "site": self.central, "prefixes": [take(length)]}
        if len(groups) < self.n_groups:
            groups["biomed-ws"] = {"title": "Biomedical engineering workstations (all sites)",
                                   "prefixes": [take(27) for _ in self.sites[:3]]}
        for stem, title, length in SITE_GROUP_KINDS:
            for s in self.sites:
                if len(groups) >= self.n_groups:
                    break
                groups[f"{stem}-{s}"] = {"title": f"{title} - {s}", "site": s, "prefixes": [take(length)]}
        return groups

    # ---- vendors -----------------------------------------------------------------------
    def vendors(self, groups: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        rng = self.rng
        names = _vendor_names(self.n_vendors, rng)
        counts = _split(self.n_systems, self.n_vendors, rng)
        cats = list(CATEGORY_WEIGHTS)
        l2l_every = max(1, self.n_vendors // MAX_L2L_VENDORS + (1 if self.n_vendors % MAX_L2L_VENDORS else 0))
        l2l_every = max(l2l_every, 7)  # about one vendor in seven keeps a legacy tunnel, 30 at most
        slices = [s for s in ipaddress.IPv4Network("192.0.2.0/24").subnets(new_prefix=29)]
        slices += list(ipaddress.IPv4Network("198.51.100.0/24").subnets(new_prefix=29))
        slices += [s for s in ipaddress.IPv4Network("203.0.113.0/24").subnets(new_prefix=29)
                   if not s.subnet_of(ipaddress.IPv4Network("203.0.113.224/27"))]
        slice_no = 0
        l2l_count = 0
        account_ids: set[str] = set()
        site_groups = {s: sorted(g for g, d in groups.items() if d.get("site") == s) for s in self.sites}
        shared_groups = sorted(g for g, d in groups.items() if d.get("site") in (None, self.central)
                               and g in {c[0] for c in CENTRAL_GROUPS} | {"biomed-ws"})
        # plan every vendor's systems first (names, sites), so flows can name systems of any vendor
        plans = []
        all_systems: list[tuple[str, str, str]] = []  # (system, site, vendor)
        for vi, (vname, count) in enumerate(zip(names, counts, strict=True)):
            cat = rng.choices(cats, weights=[CATEGORY_WEIGHTS[c] for c in cats])[0]
            n_sites = min(self.n_sites, max(1, round(count / rng.uniform(3, 10))))
            vsites = sorted(rng.sample(self.sites, n_sites), key=self.sites.index)
            kinds = CATEGORIES[cat][0]
            numbering: dict[tuple[str, str], int] = {}
            shared_on_site: dict[str, int] = {}
            systems = []
            for _ in range(count):
                site = rng.choice(vsites)
                kind = rng.choice(kinds)
                n = numbering[(kind, site)] = numbering.get((kind, site), 0) + 1
                name = f"{vname}-{kind}-{site}-{n}"
                assert len(name) <= 40, name
                shared = rng.random() < 0.2 and shared_on_site.get(site, 0) < SHARED_MAX_PER_SEGMENT
                if shared:
                    shared_on_site[site] = shared_on_site.get(site, 0) + 1
                systems.append((name, site, kind, shared))
                all_systems.append((name, site, vname))
            plans.append((vi, vname, cat, systems))
        hubs = [s for i, s in enumerate(all_systems) if i % 50 == 0]  # PACS, LIS middleware, ... flows target them
        out: dict[str, dict[str, Any]] = {}
        for vi, vname, cat, systems in plans:
            # entry paths: 1 to 3, each vendor its own source prefixes
            paths: list[dict[str, Any]] = []
            kinds_wanted = rng.choice([["bastion"], ["vpn"], ["bastion", "vpn"], ["bastion", "vpn"],
                                       ["bastion", "vpn", "bastion"]])
            if vi % l2l_every == l2l_every - 1 and l2l_count < MAX_L2L_VENDORS:
                kinds_wanted = [*kinds_wanted[:2], "lan_to_lan"]
            b = 0
            for kind in kinds_wanted:
                if kind == "bastion":
                    idx = vi * 2 + b  # up to two bastion sources per vendor
                    b += 1
                    paths.append({"name": f"{vname}-bastion{b}" if b > 1 else f"{vname}-bastion", "kind": "bastion",
                                  "bastion": f"bst-{b}", "source": f"10.249.{idx // 254}.{idx % 254 + 1}/32"})
                elif kind == "vpn":
                    paths.append({"name": f"{vname}-vpn", "kind": "vpn", "pool": _net("10.200.0.0", vi, 28, 28)})
                else:
                    n_sub = 1 if slice_no + 2 > len(slices) or rng.random() < 0.6 else 2
                    subs = [str(slices[slice_no + k]) for k in range(n_sub)]
                    slice_no += n_sub
                    l2l_count += 1
                    paths.append({"name": f"{vname}-l2l", "kind": "lan_to_lan",
                                  "peer": f"203.0.113.{224 + l2l_count}", "remote_subnets": subs,
                                  "justification": "Legacy site-to-site tunnel of the vendor's service platform; "
                                                   "move to the bastion agreed in the contract amendment.",
                                  "retire_by": Date(f"2027-{rng.randint(3, 12):02d}-{rng.choice([15, 28]):02d}")})
            path_names = [p["name"] for p in paths]
            approvers = [f"{rng.choice(['biomed.head', 'radiology.lead', 'lab.it', 'technical.services', 'it.ops'])}"
                         "@chu-synth.example"]
            if rng.random() < 0.5:
                approvers.append("rssi@chu-synth.example")
            accounts = []
            for _ in range(rng.randint(1, 4)):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                base = f"{vname[:12]}.{first[0]}{last}"
                aid, k = base, 2
                while aid in account_ids:
                    aid, k = f"{base}{k}", k + 1
                account_ids.add(aid)
                expires = dt.date(2027, 1, 1) + dt.timedelta(days=rng.randint(0, 303))  # to 2027-10-31
                acc: dict[str, Any] = {"id": aid, "person": f"{first.title()} {last.title()}",
                                       "email": f"{first}.{last}@{vname}.example"}
                if rng.random() < 0.7:
                    created = expires - dt.timedelta(days=rng.randint(max(0, (expires - NOW).days), 360))
                    acc["created"] = Date(created.isoformat())
                acc["expires"] = Date(expires.isoformat())
                acc["owner"] = approvers[0]
                accounts.append(acc)
            sys_out = []
            access_choices = CATEGORIES[cat][1]
            flow_services = CATEGORIES[cat][2]
            for name, site, kind, shared in systems:
                d: dict[str, Any] = {"name": name, "site": site, "function": f"{kind} ({cat}), site {site}",
                                     "criticality": rng.choices(["vital", "high", "medium", "low"], [1, 3, 4, 2])[0],
                                     "owner": approvers[0]}
                if shared:
                    d["segment"] = "shared"
                if rng.random() < 0.6:
                    port = self._port(site)
                    if port:
                        d["switch_ports"] = [port]
                services = list(rng.choice(access_choices))
                access: dict[str, Any] = {}
                r = rng.random()
                mode = "on_demand" if r < 0.75 else "scheduled" if r < 0.92 else "permanent"
                access["mode"] = mode
                access["services"] = services
                if rng.random() < 0.5 and len(path_names) > 1:
                    access["via"] = sorted(rng.sample(path_names, rng.randint(1, len(path_names))),
                                           key=path_names.index)
                if mode == "on_demand" and rng.random() < 0.4:
                    access["max_hours"] = rng.choice([2, 4, 8])
                elif mode == "scheduled":
                    days, start, end = rng.choice(WINDOWS)
                    access["window"] = {"days": days, "start": start, "end": end}
                elif mode == "permanent":
                    access["justification"] = ("Contractual 24/7 remote monitoring with a 4-hour response time; "
                                               "reviewed each quarter.")
                    access["until"] = Date("2027-06-30")
                if rng.random() < 0.005:
                    access["services"] = [*services, "smb"]
                    access["exception"] = {"services": ["smb"], "justification": "Vendor log collection tool "
                                           "only speaks SMB; replaced in the next software release.",
                                           "approved_by": "rssi@chu-synth.example"}
                d["access"] = access
                flows = []
                peers_used: set[tuple[str, str]] = set()
                local = site_groups.get(site, [])
                for _ in range(rng.randint(1, 3)):
                    x = rng.random()
                    if x < 0.55 and local:
                        peer, direction = rng.choice(local), "from"
                    elif x < 0.75 and shared_groups:
                        peer, direction = rng.choice(shared_groups), rng.choice(["from", "to"])
                    else:
                        peer = rng.choice(hubs)[0]
                        direction = "to"
                    if peer == name or (direction, peer) in peers_used:
                        continue
                    peers_used.add((direction, peer))
                    f: dict[str, Any] = {direction: peer, "services": list(rng.choice(flow_services))}
                    if rng.random() < 0.3:
                        f["keep"] = True
                    flows.append(f)
                if flows:
                    d["flows"] = flows
                sys_out.append(d)
            ends = dt.date(2027, 6, 30) + dt.timedelta(days=rng.randint(0, 3 * 365))
            out[vname] = {
                "title": f"{vname.title()} ({cat})",
                "hotline": f"+33 1 00 {vi // 100:02d} {vi % 100:02d} 00",
                "security_contact": f"security@{vname}.example",
                "contract": {"reference": f"SYNTH-{2020 + vi % 7}-{vi:04d}", "ends": Date(ends.isoformat())},
                "approvers": approvers,
                "entry_paths": paths,
                "accounts": accounts,
                "systems": sys_out,
            }
        return out

    def _port(self, site: str) -> dict[str, str] | None:
        """The next free access port of one of the site's two switches (None when both are full)."""
        k = self.rng.choice((1, 2))
        for sw in (f"sw-{site}-{k}", f"sw-{site}-{3 - k}"):
            n = self.port_next.get(sw, 0)
            if n < PORTS_PER_MEMBER * STACK_MEMBERS:
                self.port_next[sw] = n + 1
                member, port = divmod(n, PORTS_PER_MEMBER)
                return {"switch": sw, "interface": f"GigabitEthernet{member + 1}/0/{port + 1}"}
        return None

    # ---- all files ---------------------------------------------------------------------
    def files(self) -> dict[str, str]:
        files = {"hosts.yml": self.hosts(),
                 "vendorwall/policy.yml": self.policy(),
                 "vendorwall/sites.yml": self.sites_file()}
        groups = self.client_groups()
        files["vendorwall/client_groups.yml"] = dump(
            ["Synthetic benchmark inventory: client groups (10.1.0.0 - 10.63.255.255, one /22 block each)."],
            {"client_groups": groups})
        for vname, v in self.vendors(groups).items():
            files[f"vendorwall/vendors/{vname}.yml"] = dump(
                [f"Synthetic vendor {vname} ({self._args()})."], {"vendors": {vname: v}})
        return files


def generate(outdir: str, systems: int = 5000, vendors: int = 200, sites: int = 20, client_groups: int = 40,
             seed: int = 1, force: bool = False) -> dict[str, str]:
    """Write the inventory into ``outdir``; returns {relative path: text}."""
    files = Generator(systems, vendors, sites, client_groups, seed).files()
    domain = os.path.join(outdir, "vendorwall")
    hosts = os.path.join(outdir, "hosts.yml")
    if os.path.exists(domain) or os.path.exists(hosts):
        if not force:
            raise SystemExit(f"{outdir}: already holds an inventory; pass --force to replace it")
        shutil.rmtree(domain, ignore_errors=True)  # only what this script writes (lock file included)
        if os.path.exists(hosts):
            os.remove(hosts)
    for rel, text in files.items():
        path = os.path.join(outdir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("outdir")
    p.add_argument("--systems", type=int, default=5000)
    p.add_argument("--vendors", type=int, default=200)
    p.add_argument("--sites", type=int, default=20)
    p.add_argument("--client-groups", type=int, default=40)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--force", action="store_true", help="replace an inventory already in OUTDIR")
    a = p.parse_args(argv)
    files = generate(a.outdir, a.systems, a.vendors, a.sites, a.client_groups, a.seed, a.force)
    size = sum(len(t.encode()) for t in files.values())
    print(f"{a.outdir}: {len(files)} files, {size / 1e6:.1f} MB "
          f"({a.systems} systems, {a.vendors} vendors, {a.sites} sites); next: vendorwall plan {a.outdir}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
