"""The isolation manifest: what an emergency isolation needs, written at plan/deploy time.

An isolation must work when the inventory does not compile (a half-merged branch, a broken file,
no git checkout at all), so it reads only this file, written next to the rendered configurations
(``build/<inventory>/manifest.json``) every time they are. Deterministic: sorted, no wall clock
(``now`` is the date the intent was compiled for), one JSON document.

Schema (version 1; fields are only ever added):

- ``version``, ``now``, ``inventory`` (the inventory's directory name);
- ``management``: every management network of every site (never quarantined);
- ``firewalls``: name -> ``platform``, ``mgmt_address``, ``site``, ``management`` (that site's networks);
- ``bastions``: name -> ``platform``, ``mgmt_address``;
- ``vendors``: name -> ``title``, ``hotline``, ``security_contact``,
  ``entry_paths`` (``name``, ``kind`` bastion|vpn|lan_to_lan, ``prefixes``, ``bastion``, ``peer``),
  ``segments`` (firewall -> list of ``key``, ``subnet``, ``vlan``, ``interface``, ``systems``),
  ``systems`` (names), ``accounts`` (``id``, ``person``, ``email``, ``expires``, ``bastions``: the
  bastions of the vendor's bastion entry paths), ``tunnels`` (LAN-to-LAN: ``name``, ``peer``,
  ``remote_subnets``), ``flows``: every rule that touches the vendor (its access rules, and the
  clinical rules of its systems or towards them), each with ``id``, ``kind``, ``system``, ``src``,
  ``dst``, ``protocol``, ``ports``, ``service``, ``validity``, ``keep``, ``firewalls``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Any

from ..errors import Diagnostic, UsageError, VendorwallError
from ..model import Model, Rule

MANIFEST_VERSION = 1
REGENERATE = "regenerate it: vendorwall plan INVENTORY (writes build/<inventory>/manifest.json)"
MANIFEST_NAME = "manifest.json"


def _nets(nets: tuple[IPv4Network, ...] | list[IPv4Network]) -> list[str]:
    return [str(n) for n in sorted(set(nets), key=lambda n: (int(n.network_address), n.prefixlen))]


def _flow(r: Rule) -> dict[str, Any]:
    return {"id": r.id, "kind": r.kind, "system": r.system, "peer": r.peer, "src": _nets(r.src), "dst": _nets(r.dst),
            "protocol": r.protocol, "ports": list(r.ports), "service": r.service, "validity": r.validity.kind,
            "keep": r.keep, "firewalls": sorted(r.firewalls)}


def build_manifest(model: Model) -> dict[str, Any]:
    inv = model.inventory
    firewalls: dict[str, Any] = {}
    for site in sorted(inv.sites.values(), key=lambda s: s.name):
        dev = inv.devices.get(site.firewall)
        if dev is None:
            continue
        firewalls[site.firewall] = {"platform": dev.platform, "mgmt_address": dev.mgmt_address, "site": site.name,
                                    "management": _nets(site.management)}
    bastions = {n: {"platform": d.platform, "mgmt_address": d.mgmt_address}
                for n, d in sorted(inv.devices.items()) if d.role == "bastion"}
    mgmt = _nets([n for s in inv.sites.values() for n in s.management])
    vendors: dict[str, Any] = {}
    for vname, v in sorted(inv.vendors.items()):
        systems = sorted(s.name for s in v.systems)
        mine = set(systems)
        segs: dict[str, list[dict[str, Any]]] = {}
        for seg in sorted(model.segments, key=lambda s: s.key):
            if seg.vendor == vname:
                segs.setdefault(seg.firewall, []).append(
                    {"key": seg.key, "subnet": str(seg.subnet), "vlan": seg.vlan, "interface": seg.interface,
                     "systems": list(seg.systems)})
        bastion_names = sorted({p.bastion for p in v.entry_paths if p.kind == "bastion" and p.bastion})
        flows = [_flow(r) for r in model.rules
                 if (r.kind == "vendor_access" and r.vendor == vname)
                 or (r.kind == "clinical" and (r.system in mine or r.peer in mine))]
        vendors[vname] = {
            "title": v.title, "hotline": v.hotline, "security_contact": v.security_contact,
            "entry_paths": [{"name": p.name, "kind": p.kind, "prefixes": _nets(p.prefixes), "bastion": p.bastion,
                             "peer": p.peer} for p in sorted(v.entry_paths, key=lambda p: p.name)],
            "segments": dict(sorted(segs.items())),
            "systems": systems,
            "accounts": [{"id": a.id, "person": a.person, "email": a.email, "expires": a.expires.isoformat(),
                          "bastions": bastion_names} for a in sorted(v.accounts, key=lambda a: a.id)],
            "tunnels": [{"name": p.name, "peer": p.peer, "remote_subnets": _nets(p.prefixes)}
                        for p in sorted(v.entry_paths, key=lambda p: p.name) if p.kind == "lan_to_lan"],
            "flows": sorted(flows, key=lambda f: f["id"]),
        }
    return {"version": MANIFEST_VERSION, "now": model.now.isoformat(),
            "inventory": os.path.basename(os.path.normpath(inv.root)) if inv.root else "",
            "management": mgmt, "firewalls": firewalls, "bastions": bastions, "vendors": vendors}


def dumps(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=1, sort_keys=True) + "\n"


def write_manifest(path: str, model: Model) -> bool:
    """Write the manifest of ``model`` to ``path`` (atomically); False when the file already said so."""
    text = dumps(build_manifest(model))
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                return False
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return True


def default_path(inventory: str) -> str:
    """``build/<inventory name>/manifest.json``, where ``vendorwall plan`` writes it by default."""
    return os.path.join("build", os.path.basename(os.path.normpath(inventory)), MANIFEST_NAME)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- reading it back


@dataclass(frozen=True)
class Firewall:
    name: str
    platform: str
    mgmt_address: str
    site: str
    management: tuple[IPv4Network, ...]


@dataclass(frozen=True)
class Bastion:
    name: str
    platform: str
    mgmt_address: str


@dataclass(frozen=True)
class EntryPath:
    name: str
    kind: str
    prefixes: tuple[IPv4Network, ...]
    bastion: str | None = None
    peer: str | None = None


@dataclass(frozen=True)
class SegmentRef:
    key: str
    firewall: str
    subnet: IPv4Network
    vlan: int
    interface: str
    systems: tuple[str, ...]


@dataclass(frozen=True)
class Account:
    id: str
    person: str
    email: str
    expires: str
    bastions: tuple[str, ...]


@dataclass(frozen=True)
class Tunnel:
    name: str
    peer: str
    remote_subnets: tuple[IPv4Network, ...]


@dataclass(frozen=True)
class Flow:
    id: str
    kind: str
    system: str
    peer: str
    src: tuple[IPv4Network, ...]
    dst: tuple[IPv4Network, ...]
    protocol: str
    ports: tuple[int, ...]
    service: str
    validity: str
    keep: bool
    firewalls: tuple[str, ...]

    def tuples(self) -> list[tuple[IPv4Network, IPv4Network, int | None]]:
        ports: tuple[int | None, ...] = self.ports if self.protocol != "any" and self.ports else (None,)
        return [(s, d, p) for s in self.src for d in self.dst for p in ports]


@dataclass(frozen=True)
class VendorInfo:
    name: str
    title: str
    hotline: str
    security_contact: str
    entry_paths: tuple[EntryPath, ...]
    segments: tuple[SegmentRef, ...]
    systems: tuple[str, ...]
    accounts: tuple[Account, ...]
    tunnels: tuple[Tunnel, ...]
    flows: tuple[Flow, ...]

    @property
    def entry_prefixes(self) -> tuple[IPv4Network, ...]:
        return tuple(sorted({p for e in self.entry_paths for p in e.prefixes},
                            key=lambda n: (int(n.network_address), n.prefixlen)))


@dataclass(frozen=True)
class Manifest:
    path: str
    digest: str
    version: int
    now: str
    inventory: str
    management: tuple[IPv4Network, ...]
    firewalls: dict[str, Firewall]
    bastions: dict[str, Bastion]
    vendors: dict[str, VendorInfo]


class _Reader:
    """Typed access to the JSON with one diagnostic per problem (file, dotted path, expected, found)."""

    def __init__(self, path: str):
        self.path = path
        self.diags: list[Diagnostic] = []

    def bad(self, where: str, message: str, expected: str, found: object) -> None:
        self.diags.append(Diagnostic(self.path, 0, where, message, expected, repr(found)[:200], REGENERATE,
                                     "manifest"))

    def get(self, d: Any, key: str, where: str, kind: type | tuple[type, ...], default: Any = None,
            required: bool = True) -> Any:
        if not isinstance(d, dict) or key not in d:
            if required:
                self.bad(f"{where}.{key}" if where else key, "missing field", f"a {_kind_name(kind)}", "nothing")
            return default
        v = d[key]
        if v is None and not required:
            return default
        if not isinstance(v, kind) or (isinstance(v, bool) and kind is int):
            self.bad(f"{where}.{key}" if where else key, "wrong type", f"a {_kind_name(kind)}", v)
            return default
        return v

    def nets(self, items: Any, where: str) -> tuple[IPv4Network, ...]:
        out = []
        for i, x in enumerate(items if isinstance(items, list) else []):
            try:
                out.append(IPv4Network(x))
            except (ValueError, TypeError):
                self.bad(f"{where}[{i}]", "not an IPv4 prefix", "a prefix such as 10.200.1.0/27", x)
        return tuple(out)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "string", int: "integer", bool: "boolean", list: "list", dict: "mapping"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def load(path: str) -> Manifest:
    """Read and check a manifest; every problem is reported at once (exit 2), never a traceback."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise UsageError(f"no isolation manifest at {path}",
                         "vendorwall plan INVENTORY writes it (build/<inventory>/manifest.json); "
                         "or pass the file: --manifest FILE") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the isolation manifest {path}: {exc}", "pass another file: --manifest FILE") \
            from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise VendorwallError([Diagnostic(path, exc.lineno, "", "not valid JSON",
                                          "the JSON document vendorwall plan writes", exc.msg, REGENERATE,
                                          "manifest")], "manifest") from None
    r = _Reader(path)
    if not isinstance(data, dict):
        r.bad("", "not a manifest", "a JSON object", type(data).__name__)
        raise VendorwallError(r.diags, "manifest")
    version = r.get(data, "version", "", int, 0)
    if version and version > MANIFEST_VERSION:
        r.bad("version", "manifest from a newer vendorwall", f"version <= {MANIFEST_VERSION}", version)
    firewalls: dict[str, Firewall] = {}
    for name, f in sorted((r.get(data, "firewalls", "", dict, {}) or {}).items()):
        w = f"firewalls.{name}"
        firewalls[name] = Firewall(name, r.get(f, "platform", w, str, ""), r.get(f, "mgmt_address", w, str, ""),
                                   r.get(f, "site", w, str, ""),
                                   r.nets(r.get(f, "management", w, list, []), f"{w}.management"))
    bastions = {name: Bastion(name, r.get(b, "platform", f"bastions.{name}", str, ""),
                              r.get(b, "mgmt_address", f"bastions.{name}", str, ""))
                for name, b in sorted((r.get(data, "bastions", "", dict, {}, required=False) or {}).items())}
    vendors: dict[str, VendorInfo] = {}
    for name, v in sorted((r.get(data, "vendors", "", dict, {}) or {}).items()):
        w = f"vendors.{name}"
        paths = []
        for i, p in enumerate(r.get(v, "entry_paths", w, list, [])):
            pw = f"{w}.entry_paths[{i}]"
            paths.append(EntryPath(r.get(p, "name", pw, str, ""), r.get(p, "kind", pw, str, ""),
                                   r.nets(r.get(p, "prefixes", pw, list, []), f"{pw}.prefixes"),
                                   r.get(p, "bastion", pw, str, None, required=False),
                                   r.get(p, "peer", pw, str, None, required=False)))
        segs = []
        for fw, items in sorted((r.get(v, "segments", w, dict, {}) or {}).items()):
            for i, s in enumerate(items if isinstance(items, list) else []):
                sw = f"{w}.segments.{fw}[{i}]"
                subnet = r.nets([r.get(s, "subnet", sw, str, "")], f"{sw}.subnet")
                if subnet:
                    segs.append(SegmentRef(r.get(s, "key", sw, str, ""), fw, subnet[0], r.get(s, "vlan", sw, int, 0),
                                           r.get(s, "interface", sw, str, ""),
                                           tuple(r.get(s, "systems", sw, list, []))))
        accounts = tuple(Account(r.get(a, "id", f"{w}.accounts[{i}]", str, ""),
                                 r.get(a, "person", f"{w}.accounts[{i}]", str, ""),
                                 r.get(a, "email", f"{w}.accounts[{i}]", str, ""),
                                 r.get(a, "expires", f"{w}.accounts[{i}]", str, ""),
                                 tuple(r.get(a, "bastions", f"{w}.accounts[{i}]", list, [])))
                         for i, a in enumerate(r.get(v, "accounts", w, list, [])))
        tunnels = tuple(Tunnel(r.get(t, "name", f"{w}.tunnels[{i}]", str, ""),
                               r.get(t, "peer", f"{w}.tunnels[{i}]", str, "", required=False) or "",
                               r.nets(r.get(t, "remote_subnets", f"{w}.tunnels[{i}]", list, []),
                                      f"{w}.tunnels[{i}].remote_subnets"))
                        for i, t in enumerate(r.get(v, "tunnels", w, list, [])))
        flows = []
        for i, f in enumerate(r.get(v, "flows", w, list, [])):
            fw_ = f"{w}.flows[{i}]"
            flows.append(Flow(r.get(f, "id", fw_, str, ""), r.get(f, "kind", fw_, str, ""),
                              r.get(f, "system", fw_, str, ""), r.get(f, "peer", fw_, str, "", required=False) or "",
                              r.nets(r.get(f, "src", fw_, list, []), f"{fw_}.src"),
                              r.nets(r.get(f, "dst", fw_, list, []), f"{fw_}.dst"),
                              r.get(f, "protocol", fw_, str, ""), tuple(r.get(f, "ports", fw_, list, [])),
                              r.get(f, "service", fw_, str, ""), r.get(f, "validity", fw_, str, ""),
                              bool(r.get(f, "keep", fw_, bool, False)), tuple(r.get(f, "firewalls", fw_, list, []))))
        vendors[name] = VendorInfo(name, r.get(v, "title", w, str, ""), r.get(v, "hotline", w, str, "", required=False),
                                   r.get(v, "security_contact", w, str, "", required=False), tuple(paths), tuple(segs),
                                   tuple(r.get(v, "systems", w, list, [])), accounts, tunnels, tuple(flows))
    if r.diags:
        raise VendorwallError(r.diags, "manifest")
    return Manifest(path, digest(text), version, str(data.get("now", "")), str(data.get("inventory", "")),
                    r.nets(data.get("management", []), "management"), firewalls, bastions, vendors)


def resolve(target: str, manifest: str | None = None) -> str:
    """The manifest to read: ``--manifest``, else TARGET itself if it is a file, else the inventory's default."""
    if manifest:
        return manifest
    if os.path.isfile(target):
        return target
    return default_path(target)
