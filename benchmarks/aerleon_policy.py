#!/usr/bin/env python3
"""Turn vendorwall's compiled intent (``vendorwall export``) into an Aerleon policy, for benchmarks.

    python benchmarks/aerleon_policy.py EXPORT.json OUTDIR [--target nftables]   # write the policy
    python benchmarks/aerleon_policy.py --generate OUTDIR                          # run Aerleon's API

Writes ``OUTDIR/def/{networks,services}.yaml`` and one policy per firewall under
``OUTDIR/policies/pol/<firewall>.yaml`` (Aerleon's YAML format), so that

    aclgen --base_directory OUTDIR/policies --definitions_directory OUTDIR/def --output_directory OUT

generates the same intent with Aerleon (PyPI ``aerleon``); and the same data as JSON
(``OUTDIR/api.json``) for ``--generate``, which loads it and calls ``aerleon.api.Generate`` in one
process: Aerleon's generator without its pure-Python YAML parsing (aclgen spends most of its
time there), the comparison most favourable to Aerleon. One term per rule id and firewall
(its sources, destinations, protocol and ports; a rule on two firewalls is a term in each),
a network object per distinct prefix set, a service per (protocol, ports); management flows go
to an ``input`` filter. What Aerleon cannot express is approximated the generous way, so its
generator does at least as much work: a dated access becomes ``expiration`` (Aerleon drops an
expired term at generation time), scheduled windows and on-demand grants become plain terms.
Term names are ``t<n>`` (Aerleon's nftables output breaks on names that are nft keywords or
start with a digit); the rule id goes into the comment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from typing import Any

import yaml

TARGETS = {"nftables": ("nftables", "inet forward", "inet input"), "iptables": ("iptables", "FORWARD", "INPUT"),
           "ciscoasa": ("ciscoasa", "vw-forward", "vw-input"), "paloalto": ("paloalto", "from-zone vendor to-zone lan",
                                                                          "from-zone mgmt to-zone self")}


def terms_of(export: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """firewall -> rule id -> {src, dst, protocol, ports, validity, until, kind}."""
    out: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for f in export["flows"]:
        for fw in f["firewalls"]:
            t = out[fw].get(f["id"])
            if t is None:
                t = out[fw][f["id"]] = {"src": set(), "dst": set(), "protocol": f["protocol"], "ports": set(),
                                        "validity": f["validity"], "until": f["until"], "kind": f["kind"]}
            t["src"].add(f["src"])
            t["dst"].add(f["dst"])
            if f["port"] is not None:
                t["ports"].add(f["port"])
    return out


def write(export: dict[str, Any], outdir: str, target: str = "nftables") -> dict[str, int]:
    """Write the definitions and policies; -> counts (terms, networks, services, policies)."""
    name, fwd_header, input_header = TARGETS[target]
    nets: dict[tuple[str, ...], str] = {}
    svcs: dict[tuple[str, tuple[int, ...]], str] = {}

    def net(prefixes: set[str]) -> str:
        key = tuple(sorted(prefixes))
        if key not in nets:
            nets[key] = f"N{len(nets)}"
        return nets[key]

    def svc(proto: str, ports: set[int]) -> str:
        key = (proto, tuple(sorted(ports)))
        if key not in svcs:
            svcs[key] = f"S{len(svcs)}"
        return svcs[key]

    pol_dir = os.path.join(outdir, "policies", "pol")
    def_dir = os.path.join(outdir, "def")
    os.makedirs(pol_dir, exist_ok=True)
    os.makedirs(def_dir, exist_ok=True)
    n_terms = 0
    policies: list[dict[str, Any]] = []
    for fw, rules in sorted(terms_of(export).items()):
        fwd: list[dict[str, Any]] = []
        inp: list[dict[str, Any]] = []
        for rid, t in sorted(rules.items()):
            n_terms += 1
            term: dict[str, Any] = {"name": f"t{n_terms}", "comment": rid[:100],
                                    "source-address": net(t["src"]), "destination-address": net(t["dst"]),
                                    "action": "accept", "logging": "true"}
            if t["protocol"] != "any":
                term["protocol"] = t["protocol"]
                term["destination-port"] = svc(t["protocol"], t["ports"])
            if t["until"]:
                term["expiration"] = t["until"]
            (inp if t["kind"] == "management" else fwd).append(term)
        deny = {"name": "default-deny", "action": "deny", "logging": "true"}
        filters = [{"header": {"targets": {name: fwd_header}}, "terms": [*fwd, deny]}]
        if inp:
            filters.append({"header": {"targets": {name: input_header}}, "terms": inp})
        policies.append({"filename": fw, "filters": filters})
        with open(os.path.join(pol_dir, f"{fw}.yaml"), "w") as fh:
            yaml.safe_dump({"filters": filters}, fh, sort_keys=False, width=1000)
    definitions = {"networks": {n: {"values": [{"address": p} for p in key]} for key, n in nets.items()},
                   "services": {n: [{"port": p, "protocol": proto} for p in ports]
                                for (proto, ports), n in svcs.items()}}
    with open(os.path.join(outdir, "api.json"), "w") as fh:
        json.dump({"definitions": definitions, "policies": policies}, fh)
    with open(os.path.join(def_dir, "networks.yaml"), "w") as fh:
        yaml.safe_dump({"networks": {n: {"values": [{"address": p} for p in key]} for key, n in nets.items()}}, fh,
                       sort_keys=False, width=1000)
    with open(os.path.join(def_dir, "services.yaml"), "w") as fh:
        yaml.safe_dump({"services": {n: [{"port": p, "protocol": proto} for p in ports]
                                     for (proto, ports), n in svcs.items()}}, fh, sort_keys=False, width=1000)
    return {"terms": n_terms, "networks": len(nets), "services": len(svcs),
            "policies": len(os.listdir(pol_dir))}


def generate(outdir: str) -> int:
    """Aerleon's API on ``OUTDIR/api.json``; the files go to ``OUTDIR/out-api``. -> files written."""
    import pathlib

    from aerleon import api
    from aerleon.lib import naming

    with open(os.path.join(outdir, "api.json")) as fh:
        data = json.load(fh)
    defs = naming.Naming()
    defs.ParseDefinitionsObject(data["definitions"], "")
    out = pathlib.Path(outdir, "out-api")
    out.mkdir(exist_ok=True)
    api.Generate(data["policies"], defs, output_directory=out)
    return len(list(out.iterdir()))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("export", nargs="?", help="the output of: vendorwall export INVENTORY --format json")
    p.add_argument("outdir")
    p.add_argument("--target", choices=sorted(TARGETS), default="nftables")
    p.add_argument("--generate", action="store_true", help="run Aerleon's API on OUTDIR (written before)")
    a = p.parse_args(argv)
    if a.generate:
        print(f"{a.outdir}/out-api: {generate(a.outdir)} files", file=sys.stderr)
        return 0
    if not a.export:
        p.error("EXPORT.json is required unless --generate")
    with open(a.export) as fh:
        data = json.load(fh)
    counts = write(data, a.outdir, a.target)
    print(f"{a.outdir}: {counts['policies']} policies, {counts['terms']} terms, {counts['networks']} networks, "
          f"{counts['services']} services", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
