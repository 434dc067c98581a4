"""The differential oracle's parts, independent of vendorwall's own renderers and parsers.

- :func:`aerleon_policy` feeds Aerleon (PyPI ``aerleon``, a peer firewall generator) the same
  intent, read from ``vendorwall export`` (the JSON flows of one firewall): one term per rule,
  networks and services as Aerleon definitions, end dates as term expirations, a logged default
  deny at the end;
- :func:`fortigate_tuples` reads FortiOS CLI (Aerleon's output or vendorwall's) into the set of
  accepted (source, destination, protocol, port) tuples, first match in policy order: an earlier
  deny on schedule "always" shadows. Schedules other than "always" are not read: Aerleon has no
  way to express them (its FortiGate schedule is always "always"), so the oracle compares what is
  allowed, and the test lists the conditions vendorwall adds as explained differences.

This parser is written apart from ``vendorwall.render.fortios_cli`` on purpose, so that a bug in
one is caught by the other. Used by tests/platforms/test_oracle.py and benchmarks/bench_platforms.py.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections import defaultdict
from ipaddress import IPv4Network, ip_network
from typing import Any

Tuple = tuple[str, str, str, int | None]  # (src, dst, protocol, port); port None for any


def _h(text: str, n: int = 10) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def firewall_flows(export: dict[str, Any], firewall: str) -> list[dict[str, Any]]:
    return [f for f in export["flows"] if firewall in f["firewalls"]]


def aerleon_policy(flows: list[dict[str, Any]], name: str, target: str = "fortigate",
                   header_options: str = "from-zone any to-zone any") -> tuple[dict[str, Any], dict[str, Any]]:
    """(Aerleon policy dict, definitions dict) allowing exactly ``flows``, then a logged deny."""
    by_rule: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in flows:
        by_rule[f["id"]].append(f)
    networks: dict[str, Any] = {}
    services: dict[str, Any] = {}
    terms: list[dict[str, Any]] = []

    def net_token(prefixes: set[str]) -> str:
        token = "N" + _h("|".join(sorted(prefixes))).upper()
        networks[token] = {"values": [{"address": p} for p in sorted(prefixes)]}
        return token

    for rid, fs in sorted(by_rule.items()):
        proto = fs[0]["protocol"]
        term: dict[str, Any] = {"name": "t" + _h(rid, 12), "comment": rid,
                                "source-address": net_token({f["src"] for f in fs}),
                                "destination-address": net_token({f["dst"] for f in fs}),
                                "action": "accept"}
        if proto != "any":
            ports = sorted({f["port"] for f in fs})
            token = f"S{proto.upper()}" + _h(",".join(map(str, ports))).upper()
            services[token] = [{"port": str(p), "protocol": proto} for p in ports]
            term.update({"protocol": proto, "destination-port": token})
        if fs[0].get("until"):
            term["expiration"] = fs[0]["until"]
        terms.append(term)
    deny: dict[str, Any] = {"name": "default-deny", "action": "deny", "logging": "true", "comment": "default deny"}
    if target == "fortigate":
        deny["option"] = "log_traffic_mode_all"
    terms.append(deny)
    policy = {"filename": name, "filters": [{"header": {"targets": {target: header_options}}, "terms": terms}]}
    return policy, {"networks": networks, "services": services}


HEADERS = {"fortigate": "from-zone any to-zone any", "nftables": "inet forward"}


def aerleon_generate(flows: list[dict[str, Any]], name: str, target: str = "fortigate") -> str:
    from aerleon import api
    from aerleon.lib import naming

    policy, defs = aerleon_policy(flows, name, target, HEADERS[target])
    definitions = naming.Naming()
    definitions.ParseDefinitionsObject(defs, "")
    out = api.Generate([policy], definitions)
    assert out is not None and len(out) == 1, out
    return next(iter(out.values()))


# --------------------------------------------------------------------------- FortiOS CLI reader


def _blocks(text: str) -> dict[str, list[tuple[str, dict[str, list[str]]]]]:
    """config TABLE -> [(edit key, {attr: values})], nested config blocks skipped."""
    tables: dict[str, list[tuple[str, dict[str, list[str]]]]] = defaultdict(list)
    table: str | None = None
    depth = 0
    cur: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("config "):
            depth += 1
            if depth == 1:
                table = line[len("config "):]
            continue
        if line == "end":
            depth -= 1
            if depth == 0:
                table = None
            continue
        if depth != 1 or table is None:
            continue
        if line.startswith("edit "):
            cur = {}
            tables[table].append((shlex.split(line[5:])[0], cur))
        elif line.startswith("set ") and cur is not None:
            toks = shlex.split(line[4:])
            cur[toks[0]] = toks[1:]
        elif line == "next":
            cur = None
    return tables


_PR = re.compile(r"^(\d+)(?:-(\d+))?")


def fortigate_tuples(text: str) -> set[Tuple]:
    t = _blocks(text)
    addr: dict[str, list[IPv4Network]] = {"all": [ip_network("0.0.0.0/0")], "none": []}  # type: ignore[list-item]
    for name, s in t["firewall address"]:
        if "subnet" in s:
            addr[name] = [ip_network(f"{s['subnet'][0]}/{s['subnet'][1]}")]  # type: ignore[list-item]
    groups = dict(t["firewall addrgrp"])

    def nets(name: str) -> list[IPv4Network]:
        if name in addr:
            return addr[name]
        return [n for m in groups.get(name, {}).get("member", []) for n in nets(m)]

    svc: dict[str, list[tuple[str, int | None]]] = {"ALL": [("any", None)]}
    for name, s in t["firewall service custom"]:
        pairs: list[tuple[str, int | None]] = []
        for proto in ("tcp", "udp"):
            for r in s.get(f"{proto}-portrange", []):
                m = _PR.match(r)
                assert m, r
                pairs += [(proto, p) for p in range(int(m.group(1)), int(m.group(2) or m.group(1)) + 1)]
        svc[name] = pairs
    allowed: set[Tuple] = set()
    denies: list[tuple[list[IPv4Network], list[IPv4Network], list[tuple[str, int | None]]]] = []
    for _pid, s in t["firewall policy"]:
        src = [n for a in s.get("srcaddr", []) for n in nets(a)]
        dst = [n for a in s.get("dstaddr", []) for n in nets(a)]
        pairs = [p for name in s.get("service", []) for p in svc.get(name, [])]
        if s.get("action", ["deny"])[0] != "accept":
            if s.get("schedule", ["always"])[0] == "always":
                denies.append((src, dst, pairs))
            continue
        for sn in src:
            for dn in dst:
                for proto, port in pairs:
                    shadow = any(any(sn.subnet_of(x) for x in ds) and any(dn.subnet_of(x) for x in dd)
                                 and (("any", None) in dp or (proto, port) in dp) for ds, dd, dp in denies)
                    if not shadow:
                        allowed.add((str(sn), str(dn), proto, port))
    return allowed


def export_tuples(flows: list[dict[str, Any]]) -> set[Tuple]:
    return {(f["src"], f["dst"], f["protocol"], f["port"]) for f in flows}


# --------------------------------------------------------------------------- PAN-OS XML reader

HEADERS["paloalto"] = "from-zone any to-zone any"


def _pan_containers(text: str) -> dict[str, list[Any]]:
    """Container tag (address, address-group, service, rules...) -> its entries, in order, from either a
    full configuration (Aerleon's) or vendorwall's <set xpath> calls (the xpath's last step names the
    container)."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(text.encode())
    out: dict[str, list[Any]] = defaultdict(list)
    sets = root.findall("set")
    if sets:
        for s in sets:
            out[s.get("xpath", "").rsplit("/", 1)[-1]].extend(s)
        return out
    for tag in ("address", "address-group", "service", "rules"):
        for c in root.iter(tag):
            out[tag].extend(e for e in c if e.tag == "entry")
    return out


def paloalto_tuples(text: str) -> set[Tuple]:
    """Allowed (src, dst, proto, port) of a PAN-OS rule base, first match; schedules and zones are not
    read (Aerleon writes neither); a dynamic group is empty, except vendorwall's on-demand groups, read as
    the addresses their description says grants register (what a grant opens)."""
    c = _pan_containers(text)
    addr: dict[str, list[IPv4Network]] = {"any": [ip_network("0.0.0.0/0")]}  # type: ignore[list-item]
    for e in c["address"]:
        if e.findtext("ip-netmask"):
            addr[e.get("name")] = [ip_network(e.findtext("ip-netmask"), strict=False)]  # type: ignore[list-item]
    groups = {e.get("name"): e for e in c["address-group"]}

    def nets(name: str) -> list[IPv4Network]:
        if name in addr:
            return addr[name]
        g = groups.get(name)
        if g is None:
            return []
        if g.find("dynamic") is not None:
            desc = g.findtext("description") or ""
            return [ip_network(x) for x in desc.split("grants register", 1)[1].split()] \
                if "grants register" in desc else []  # type: ignore[misc]
        return [n for m in g.findall("static/member") for n in nets(m.text or "")]

    svc: dict[str, list[tuple[str, int | None]]] = {"any": [("any", None)]}
    for e in c["service"]:
        pairs: list[tuple[str, int | None]] = []
        for proto in ("tcp", "udp"):
            for part in (e.findtext(f"protocol/{proto}/port") or "").split(","):
                if part:
                    lo, _, hi = part.partition("-")
                    pairs += [(proto, p) for p in range(int(lo), int(hi or lo) + 1)]
        svc[e.get("name")] = pairs
    allowed: set[Tuple] = set()
    denies: list[tuple[list[IPv4Network], list[IPv4Network], list[tuple[str, int | None]]]] = []
    for r in c["rules"]:
        src = [n for m in r.findall("source/member") for n in nets(m.text or "")]
        dst = [n for m in r.findall("destination/member") for n in nets(m.text or "")]
        pairs = [p for m in r.findall("service/member") for p in svc.get(m.text or "", [])]
        if (r.findtext("action") or "deny") != "allow":
            if not r.findtext("schedule"):
                denies.append((src, dst, pairs))
            continue
        for sn in src:
            for dn in dst:
                for proto, port in pairs:
                    shadow = any(any(sn.subnet_of(x) for x in ds) and any(dn.subnet_of(x) for x in dd)
                                 and (("any", None) in dp or (proto, port) in dp) for ds, dd, dp in denies)
                    if not shadow:
                        allowed.add((str(sn), str(dn), proto, port))
    return allowed


# --------------------------------------------------------------------------- Cisco ASA reader

HEADERS["ciscoasa"] = "vw-global"
# Cisco's port names as ASA prints them (the ones a generator may write for the catalogue's services)
ASA_PORTS = {"ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "www": 80, "http": 80, "https": 443, "ntp": 123,
             "snmp": 161, "snmptrap": 162, "ldap": 389, "ldaps": 636, "syslog": 514, "sip": 5060, "rdp": 3389}


def _asa_net(tok: list[str]) -> tuple[list[Any], int]:
    if tok[0] in ("any", "any4"):
        return [ip_network("0.0.0.0/0")], 1
    if tok[0] == "host":
        return [ip_network(tok[1])], 2
    if "/" in tok[0]:
        return [ip_network(tok[0], strict=False)], 1
    return [ip_network(f"{tok[0]}/{tok[1]}", strict=False)], 2


def _asa_in(n: Any, x: Any) -> bool:
    """ASA's any (read as 0.0.0.0/0) covers both families; otherwise IPv4 and IPv6 never mix."""
    return x.prefixlen == 0 or (n.version == x.version and n.subnet_of(x))


def asa_tuples(text: str) -> set[Tuple]:
    """Allowed (src, dst, proto, port) of an ASA access list, first match; time-ranges are not read (Aerleon
    writes none: it drops expired terms); ACEs are read from every access list of the text."""
    groups: dict[str, list[Any]] = {}
    svcs: dict[str, tuple[str, list[int]]] = {}
    aces: list[list[str]] = []
    cur: tuple[str, str] | None = None
    for raw in text.splitlines():
        w = raw.split()
        if not w or w[0].startswith("!"):
            continue
        if raw.startswith(" ") and cur is not None:
            kind, name = cur
            if kind == "network" and w[0] == "network-object" and w[1:3] != ["host", "0.0.0.0"]:
                groups[name] += _asa_net(w[1:])[0]
            elif kind == "service" and w[0] == "port-object":
                p = [ASA_PORTS.get(x) or int(x) for x in w[2:]]
                svcs[name][1].extend([p[0]] if w[1] == "eq" else range(p[0], p[1] + 1))
            continue
        cur = None
        if w[0] == "object-group" and w[1] == "network":
            cur, groups[w[2]] = ("network", w[2]), []
        elif w[0] == "object-group" and w[1] == "service":
            cur, svcs[w[2]] = ("service", w[2]), (w[3], [])
        elif w[0] == "access-list" and w[2] == "extended":
            aces.append(w[3:])
    allowed: set[Tuple] = set()
    denies: list[tuple[list[Any], list[Any], list[tuple[str, int | None]]]] = []
    for w in aces:
        action, proto, i = w[0], w[1], 2
        if w[i] == "object-group":
            src, i = groups.get(w[i + 1], []), i + 2
        else:
            src, n = _asa_net(w[i:])
            i += n
        if w[i] == "object-group":
            dst, i = groups.get(w[i + 1], []), i + 2
        else:
            dst, n = _asa_net(w[i:])
            i += n
        if proto == "ip":
            pairs: list[tuple[str, int | None]] = [("any", None)]
        elif i < len(w) and w[i] == "eq":
            pairs = [(proto, ASA_PORTS.get(w[i + 1]) or int(w[i + 1]))]
        elif i < len(w) and w[i] == "range":
            lo, hi = (ASA_PORTS.get(x) or int(x) for x in w[i + 1:i + 3])
            pairs = [(proto, p) for p in range(lo, hi + 1)]
        elif i < len(w) and w[i] == "object-group":
            pairs = [(proto, p) for p in svcs[w[i + 1]][1]]
        else:
            pairs = []
        if action != "permit":
            if "time-range" not in w:
                denies.append((src, dst, pairs))
            continue
        for sn in src:
            for dn in dst:
                for pr, port in pairs:
                    shadow = any(any(_asa_in(sn, x) for x in ds) and any(_asa_in(dn, x) for x in dd)
                                 and (("any", None) in dp or (pr, port) in dp) for ds, dd, dp in denies)
                    if not shadow:
                        allowed.add((str(sn), str(dn), pr, port))
    return allowed
