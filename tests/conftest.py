"""Shared test helpers: paths of the example inventory, and synthetic inventories written as YAML.

A synthetic inventory is first a *logical* inventory (plain dicts, the same data a user writes)
which :func:`write_inventory` turns into an inventory directory (``hosts.yml`` + ``vendorwall/``)
either in the canonical layout or, with ``shuffle=random.Random(...)``, with every mapping in
another order, order-free lists shuffled and the entries spread over other files. The tests load
it through the real loader, so every synthetic inventory also passes schema and validation.

Test modules import these helpers as ``vendorwall_testlib`` (this module registers itself under
that name when pytest loads it): ``from conftest import`` would be ambiguous, since other test
directories (tests/lab/) have a conftest.py of their own. The fixtures below share the expensive
results per session.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import random
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

# Importable by test modules under a unique name (see the module docstring).
sys.modules["vendorwall_testlib"] = sys.modules[__name__]

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "inventories" / "example"
NOW = dt.date(2026, 11, 28)
NOW_TEXT = NOW.isoformat()

# Lists whose order carries no meaning: shuffled by write_inventory(shuffle=...).
_ORDER_FREE_LISTS = {"systems", "flows", "services", "via", "accounts", "approvers"}


# --------------------------------------------------------------------------- logical inventories


def base_inventory(sites: int = 2, pools: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Policy, services, sites, client groups and three vendors (entry paths, no systems yet).

    Site ``s<i>``: firewall ``fw-s<i>``, switch ``sw-s<i>-1``, VLANs ``3000+100*i ..``; site s0
    has a small first pool (a /26) so allocation spills into a second pool. Client groups nest
    (``g-wide`` contains ``g-narrow``), the case the nftables renderer must collapse.
    """
    site_names = [f"s{i}" for i in range(sites)]
    hosts: dict[str, Any] = {
        "firewalls": {"hosts": {f"fw-{s}": {"ansible_host": f"10.250.{i + 1}.1", "vw_platform": "nftables"}
                                for i, s in enumerate(site_names)}},
        "switches": {"hosts": {f"sw-{s}-1": {"ansible_host": f"10.250.{i + 1}.11", "vw_platform": "ios"}
                               for i, s in enumerate(site_names)}},
        "bastions": {"hosts": {"bst-1": {"ansible_host": "10.250.0.21", "vw_platform": "linux"}}},
    }
    for s in site_names:
        hosts[f"site_{s}"] = {"hosts": {f"fw-{s}": None, f"sw-{s}-1": None}}
    sites_d = {}
    for i, s in enumerate(site_names):
        pool = (pools or {}).get(s) or ([f"10.{64 + i}.0.0/26", f"10.{64 + i}.8.0/23"] if i == 0
                                        else [f"10.{64 + i}.0.0/22"])
        sites_d[s] = {
            "title": f"Site {s}", "kind": "hospital", "firewall": f"fw-{s}",
            "switches": [{"name": f"sw-{s}-1", "uplink": "GigabitEthernet1/0/48"}],
            "segment_pool": pool,
            "vlan_range": [3000 + 100 * i, 3000 + 100 * i + 99],
            "segment_prefix": {"dedicated": 29, "shared": 27 if i % 2 == 0 else 28},
            "management": ["10.250.0.0/24", f"10.250.{i + 1}.0/24"],
        }
    return {
        "hosts": {"all": {"children": hosts}},
        "policy": {"forbidden_services": ["telnet", "any"], "on_demand_max_hours": 8},
        "services": {
            "ssh": {"protocol": "tcp", "ports": [22]},
            "https": {"protocol": "tcp", "ports": [443]},
            "rdp": {"protocol": "tcp", "ports": [3389]},
            "viewer": {"protocol": "tcp", "ports": ["8000-8003"]},
            "snmp": {"protocol": "udp", "ports": [161]},
            "dicom": {"protocol": "tcp", "ports": [104]},
            "hl7": {"protocol": "tcp", "ports": [2575]},
            "bacnet": {"protocol": "udp", "ports": [47808]},
            "telnet": {"protocol": "tcp", "ports": [23]},
            "any": {"protocol": "any"},
        },
        "sites": sites_d,
        "client_groups": {
            "g-wide": {"title": "All wards", "prefixes": ["10.10.0.0/16"]},
            "g-narrow": {"title": "ICU", "site": "s0", "prefixes": ["10.10.5.0/24"]},
            "g-servers": {"title": "Servers", "prefixes": ["10.5.10.0/28", "10.5.20.0/28"]},
        },
        "vendors": {
            "va": _vendor("va", [
                {"name": "va-bastion", "kind": "bastion", "bastion": "bst-1", "source": "10.249.0.1/32"},
                {"name": "va-vpn", "kind": "vpn", "pool": "10.200.0.0/27"}]),
            "vb": _vendor("vb", [
                {"name": "vb-bastion", "kind": "bastion", "bastion": "bst-1", "source": "10.249.0.2/32"},
                {"name": "vb-l2l", "kind": "lan_to_lan", "peer": "198.51.100.10",
                 "remote_subnets": ["198.51.100.64/27", "198.51.100.128/28"],
                 "justification": "vendor platform reaches the devices only through its concentrator",
                 "retire_by": "2027-06-30"}]),
            "vc": _vendor("vc", [{"name": "vc-vpn", "kind": "vpn", "pool": "10.200.1.0/27"}]),
        },
    }


VENDOR_PATHS = {"va": ["va-bastion", "va-vpn"], "vb": ["vb-bastion", "vb-l2l"], "vc": ["vc-vpn"]}


def _vendor(name: str, paths: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "title": f"Vendor {name}", "hotline": "+33 1 00 00 00 00", "security_contact": f"sec@{name}.example",
        "contract": {"reference": f"C-{name}", "ends": "2028-12-31"},
        "approvers": [f"owner@{name}.example"],
        "entry_paths": paths,
        "accounts": [{"id": f"{name}.tech", "person": "A Technician", "email": f"tech@{name}.example",
                      "created": "2026-06-01", "expires": "2027-05-31"}],
        "systems": [],
    }


def access(mode: str, services: list[str], via: list[str] | None = None, variant: int = 0) -> dict[str, Any]:
    """A valid access block of ``mode``; ``variant`` picks among a few windows/dates."""
    a: dict[str, Any] = {"mode": mode, "services": list(services)}
    if via:
        a["via"] = list(via)
    if mode == "on_demand" and variant % 2:
        a["max_hours"] = 1 + variant % 8
    if mode == "scheduled":
        a["window"] = [{"days": ["tue", "thu"], "start": "08:00", "end": "12:00"},
                       {"days": ["sat"], "start": "07:00", "end": "13:00"}][variant % 2]
        if variant % 3 == 2:
            a["until"] = "2027-06-30"
    if mode == "permanent":
        a["justification"] = "24/7 contractual monitoring"
        a["until"] = ["2027-03-31", "2027-09-30"][variant % 2]
    forbidden = [s for s in services if s in ("telnet", "any")]
    if forbidden:
        a["exception"] = {"services": forbidden, "justification": "vendor tool needs it, reviewed"}
    return a


def system(name: str, vendor: str, site: str, mode: str = "on_demand", services: tuple[str, ...] = ("ssh",),
           *, shared: bool = False, via: list[str] | None = None, flows: list[dict[str, Any]] | None = None,
           variant: int = 0, port: str | None = None, **extra: Any) -> tuple[str, dict[str, Any]]:
    """-> (vendor, system entry) for ``add_systems``."""
    d: dict[str, Any] = {"name": name, "site": site, "function": f"system {name}", "criticality": "high",
                         "owner": f"owner@{vendor}.example"}
    if shared:
        d["segment"] = "shared"
    if port:
        d["switch_ports"] = [{"switch": f"sw-{site}-1", "interface": port}]
    d["access"] = access(mode, list(services), via, variant)
    if flows:
        d["flows"] = flows
    d.update(extra)
    return vendor, d


def add_systems(inv: dict[str, Any], systems: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    out = copy.deepcopy(inv)
    for vendor, d in systems:
        out["vendors"][vendor]["systems"].append(copy.deepcopy(d))
    return out


def big_inventory(n_sites: int = 3, per_vendor_site: int = 14, seed: int = 7) -> dict[str, Any]:
    """A deterministic, larger inventory (3 sites, ~130 systems) using every access mode,
    shared and dedicated segments, nested client groups, cross-site flows and port ranges."""
    rng = random.Random(seed)
    inv = base_inventory(n_sites, pools={f"s{i}": [f"10.{64 + i}.0.0/21"] for i in range(n_sites)})
    systems = []
    names: list[tuple[str, str]] = []  # (name, site)
    modes = ["on_demand", "scheduled", "permanent"]
    k = 0
    for si in range(n_sites):
        site = f"s{si}"
        for vendor in ("va", "vb", "vc"):
            for j in range(per_vendor_site):
                name = f"{vendor}-{site}-{j:02d}"
                mode = modes[(k + j) % 3]
                svcs = rng.sample(["ssh", "https", "rdp", "viewer", "snmp"], rng.randint(1, 3))
                if k % 17 == 5:
                    svcs.append("any")
                flows = []
                if rng.random() < 0.7:
                    flows.append({"from": rng.choice(["g-wide", "g-narrow", "g-servers"]),
                                  "services": rng.sample(["https", "dicom", "viewer"], rng.randint(1, 2))})
                if names and rng.random() < 0.5:
                    peer = rng.choice(names)[0]
                    flows.append({"to": peer, "services": rng.sample(["dicom", "hl7", "bacnet"], 1), "keep": True})
                via = None
                if len(VENDOR_PATHS[vendor]) > 1 and rng.random() < 0.4:
                    via = [rng.choice(VENDOR_PATHS[vendor])]
                systems.append(system(name, vendor, site, mode, tuple(svcs), shared=(j % 4 == 3), via=via,
                                      flows=flows, variant=k, port=f"GigabitEthernet1/0/{k % 40 + 1}"
                                      if vendor == "va" else None))
                names.append((name, site))
                k += 1
    return add_systems(inv, systems)


# --------------------------------------------------------------------------- writing


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True, width=200)


def _shuffled(data: Any, rng: random.Random, key: str | None = None) -> Any:
    if isinstance(data, dict):
        items = list(data.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng, k) for k, v in items}
    if isinstance(data, list):
        items = [_shuffled(v, rng) for v in data]
        if key in _ORDER_FREE_LISTS:
            rng.shuffle(items)
        return items
    return data


def write_inventory(inv: dict[str, Any], root: str | os.PathLike[str], shuffle: random.Random | None = None,
                    lock_text: str | None = None) -> Path:
    """Write a logical inventory to ``root`` (created or emptied); return the root."""
    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    (root / "vendorwall").mkdir(parents=True)
    if shuffle is None:
        files: dict[str, dict[str, Any]] = {
            "policy.yml": {"policy": inv["policy"], "services": inv["services"]},
            "sites.yml": {"sites": inv["sites"]},
            "client_groups.yml": {"client_groups": inv["client_groups"]},
        }
        for name, v in inv["vendors"].items():
            files[f"vendors/{name}.yml"] = {"vendors": {name: v}}
        hosts = inv["hosts"]
    else:
        rng = shuffle
        entries = [(section, name, value) for section in ("services", "sites", "client_groups", "vendors")
                   for name, value in inv[section].items()]
        rng.shuffle(entries)
        n_files = rng.randint(1, 4)
        names = rng.sample(["a.yml", "zz.yml", "m/n.yml", "b/a.yaml", "0.yml", "q.yaml"], n_files)
        files = {n: {} for n in names}
        files[rng.choice(names)]["policy"] = inv["policy"]
        for section, name, value in entries:
            files[rng.choice(names)].setdefault(section, {})[name] = value
        files = {n: _shuffled(d, rng) for n, d in files.items() if d}
        hosts = _shuffled(inv["hosts"], rng)
    (root / "hosts.yml").write_text(_dump(hosts), encoding="utf-8")
    for rel, data in files.items():
        path = root / "vendorwall" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_dump(data), encoding="utf-8")
    if lock_text is not None:
        (root / "vendorwall" / "allocations.lock.yml").write_text(lock_text, encoding="utf-8")
    return root


def run_cli(*args: str, cwd: str | os.PathLike[str] = REPO, hashseed: str | None = None) -> str:
    """Run ``python -m vendorwall ARGS`` in a child process; return stdout (fail on exit != 0)."""
    import subprocess

    env = dict(os.environ)
    if hashseed is not None:
        env["PYTHONHASHSEED"] = hashseed
    proc = subprocess.run([sys.executable, "-m", "vendorwall", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"vendorwall {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc.stdout


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session", autouse=True)
def _private_state_base(tmp_path_factory: pytest.TempPathFactory):
    """vendorwall's state (manifest, journals, locks...) never goes to the machine's /var/lib/vendorwall or
    ~/.local/state during tests: VENDORWALL_STATE_DIR points to a temporary base for the whole session
    (session fixtures see it), and :func:`_private_state_dir` gives each test a base of its own."""
    base = tmp_path_factory.mktemp("state")
    old = os.environ.get("VENDORWALL_STATE_DIR")
    os.environ["VENDORWALL_STATE_DIR"] = str(base)
    yield base
    if old is None:
        os.environ.pop("VENDORWALL_STATE_DIR", None)
    else:
        os.environ["VENDORWALL_STATE_DIR"] = old


@pytest.fixture(autouse=True)
def _private_state_dir(_private_state_base, tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch):
    """One state base per test (inherited by the CLI and Ansible processes it starts): no test sees
    another's manifest or journal by inventory name."""
    base = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("VENDORWALL_STATE_DIR", str(base))
    return base


@pytest.fixture(scope="session")
def example_result():
    """The example inventory through the whole pipeline (in process, nothing written)."""
    from vendorwall import pipeline

    return pipeline.run(str(EXAMPLE), NOW, shown_root="inventories/example")


@pytest.fixture(scope="session")
def big_inventory_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_inventory(big_inventory(), tmp_path_factory.mktemp("big") / "inv")


@pytest.fixture(scope="session")
def big_result(big_inventory_dir: Path):
    from vendorwall import pipeline

    return pipeline.run(str(big_inventory_dir), NOW, check_lock=False)


# --------------------------------------------------------------------------- reading rendered configs


@dataclass(frozen=True)
class NftSetText:
    table: str
    name: str
    key: str
    flags: str
    elements: tuple[tuple[str, ...], ...]  # each element split on " . ", comments dropped
    comments: tuple[str, ...]


_TABLE = re.compile(r"^table inet (\S+) \{$", re.M)
_SET = re.compile(r"^\tset (\S+) \{\n(.*?)^\t\}$", re.M | re.S)
_ELEMENTS = re.compile(r"^\t\telements = \{\n(.*?)^\t\t\}$", re.M | re.S)
_ELEMENT = re.compile(r'^\s*(.*?)(?: comment "(.*)")?,?$')


def nft_blocks(text: str) -> list[tuple[str, str]]:
    """``table inet NAME { ... }`` blocks in file order: (table name, block text)."""
    out = []
    for m in _TABLE.finditer(text):
        end = text.index("\n}\n", m.end())
        out.append((m.group(1), text[m.end():end + 1]))
    return out


def nft_sets(text: str) -> dict[tuple[str, str], NftSetText]:
    """Every set declared in a rendered nftables file, by (table, set name)."""
    out: dict[tuple[str, str], NftSetText] = {}
    for table, block in nft_blocks(text):
        for m in _SET.finditer(block):
            body = m.group(2)
            key = re.search(r"^\t\ttype (.+)$", body, re.M)
            flags = re.search(r"^\t\tflags (.+)$", body, re.M)
            elems: list[tuple[str, ...]] = []
            comments: list[str] = []
            em = _ELEMENTS.search(body)
            if em:
                for line in em.group(1).splitlines():
                    if not line.strip():
                        continue
                    e = _ELEMENT.match(line)
                    assert e, line
                    elems.append(tuple(e.group(1).split(" . ")))
                    comments.append(e.group(2) or "")
            out[(table, m.group(1))] = NftSetText(table, m.group(1), key.group(1) if key else "",
                                                  flags.group(1) if flags else "", tuple(elems), tuple(comments))
    return out


def nft_chain(text: str, table: str, chain: str) -> list[str]:
    """The statements of the last declaration of ``chain`` in ``table`` (what a load leaves)."""
    found: list[str] = []
    for t, block in nft_blocks(text):
        if t != table:
            continue
        m = re.search(rf"^\tchain {re.escape(chain)} \{{\n(.*?)^\t\}}$", block, re.M | re.S)
        if m:
            found = [line.strip() for line in m.group(1).splitlines() if line.strip()]
    return found


def ios_config(text: str) -> dict[str, Any]:
    """VLANs (id -> name), access ports (interface -> vlan) and the trunk of a rendered IOS file."""
    vlans = {int(m.group(1)): m.group(2) for m in re.finditer(r"^vlan (\d+)\n name (\S+)$", text, re.M)}
    ports = {m.group(1): int(m.group(2)) for m in re.finditer(
        r"^interface (\S+)\n description .*\n switchport mode access\n switchport access vlan (\d+)$", text, re.M)}
    trunk = re.findall(r"^interface (\S+)\n description .*\n switchport mode trunk\n"
                       r" switchport trunk allowed vlan (\S+)$", text, re.M)
    return {"vlans": vlans, "ports": ports, "trunk": trunk}
