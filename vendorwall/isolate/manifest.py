"""The isolation manifest: what an emergency isolation needs, written at plan/deploy time.

An isolation must work when the inventory does not compile (a half-merged branch, a broken file,
no git checkout at all), so it reads only this file, written next to the rendered configurations
(``<state dir>/manifest/manifest.json``, :mod:`vendorwall.state`) every time they are.
Deterministic: sorted, no wall clock
(``now`` is the date the intent was compiled for).

Layout (version 2). The file is one JSON document laid out so that a reader never needs all of
it: isolating one vendor reads the first line and that vendor's line, whatever the inventory size.

- line 1, the **header**: ``{"manifest": ..., "version": 2, "now", "inventory", "management",
  "firewalls", "bastions", "index",`` (no closing brace: the document goes on);
- line 2: ``"vendors":{``;
- one line per vendor, sorted by name: ``"NAME":{record},``;
- the last line: ``}}``.

``index`` maps each vendor to ``[offset, length, sha256]`` of its record (the JSON object alone),
offsets counted in bytes from the start of line 2. The reader checks the header and every record
it reads against ``vendorwall/schema/manifest.schema.json`` and each record against its sha256,
so a manifest edited by hand or damaged is refused with the place and the reason, never trusted.
:attr:`Manifest.digest` is the sha256 of the header line, which holds every record's sha256: it
identifies the whole manifest (the incident journal records it).

Fields (only ever added):

- ``now``, ``inventory`` (the inventory's directory name);
- ``management``: every management network of every site (never quarantined);
- ``firewalls``: name -> ``platform``, ``mgmt_address``, ``site``, ``management`` (that site's networks),
  ``ssh`` (the connection variables of hosts.yml, never a secret);
- ``bastions``: name -> ``platform``, ``mgmt_address``, ``ssh``;
- a vendor record: ``title``, ``hotline``, ``security_contact``,
  ``entry_paths`` (``name``, ``kind`` bastion|vpn|lan_to_lan, ``prefixes``, ``bastion``, ``peer``; ``shared``:
  true for a bastion's egress shared by several vendors, absent otherwise),
  ``segments`` (firewall -> list of ``key``, ``subnet``, ``vlan``, ``interface``, ``systems``),
  ``systems`` (names), ``accounts`` (``id``, ``person``, ``email``, ``expires``, ``bastions``: the
  bastions of the vendor's bastion entry paths), ``tunnels`` (LAN-to-LAN: ``name``, ``peer``,
  ``remote_subnets``), ``flows``: every rule that touches the vendor (its access rules, and the
  clinical rules of its systems or towards them), each with ``id``, ``kind``, ``system``, ``src``,
  ``dst``, ``protocol``, ``ports``, ``service``, ``validity``, ``keep``, ``firewalls``.

The per-vendor facts come from the model's index (:attr:`vendorwall.model.Model.by_vendor`),
built once; each record is encoded once with the C JSON encoder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from ipaddress import IPv4Network
from typing import Any

from .. import cache as vwcache
from ..errors import Diagnostic, UsageError, VendorwallError
from ..model import Model, Rule

MANIFEST_VERSION = 2
MANIFEST_KIND = "vendorwall isolation manifest"
REGENERATE = "regenerate it: vendorwall plan INVENTORY (writes <state dir>/manifest/manifest.json)"
MANIFEST_NAME = "manifest.json"
VENDORS_LINE = '"vendors":{\n'
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode  # the C encoder, ASCII only


class _Text:
    """Prefix texts, computed once per distinct tuple of prefixes (rules share their tuples)."""

    def __init__(self) -> None:
        self.memo: dict[int, tuple[tuple[IPv4Network, ...], list[str]]] = {}

    def nets(self, nets: tuple[IPv4Network, ...]) -> list[str]:
        hit = self.memo.get(id(nets))
        if hit is not None and hit[0] is nets:
            return hit[1]
        out = _nets(nets)
        self.memo[id(nets)] = (nets, out)  # keeps ``nets`` alive, so its id is not reused
        return out


def _nets(nets: tuple[IPv4Network, ...] | list[IPv4Network]) -> list[str]:
    return [str(n) for n in sorted(set(nets), key=lambda n: (int(n.network_address), n.prefixlen))]


def _flow(r: Rule, text: _Text) -> dict[str, Any]:
    return {"id": r.id, "kind": r.kind, "system": r.system, "peer": r.peer, "src": text.nets(r.src),
            "dst": text.nets(r.dst), "protocol": r.protocol, "ports": list(r.ports), "service": r.service,
            "validity": r.validity.kind, "keep": r.keep, "firewalls": sorted(r.firewalls)}


SSH_VARS = ("ansible_port", "ansible_user", "ansible_ssh_private_key_file", "vendorwall_known_hosts",
            "vendorwall_host_key_policy")  # never a password: the run gives those


def ssh_settings(dev: Any, root: str) -> dict[str, Any]:
    """The connection variables of a device that isolation needs without the inventory (no secrets);
    known_hosts paths made absolute (the manifest is read from anywhere)."""
    out: dict[str, Any] = {}
    for k in SSH_VARS:
        v = (dev.vars or {}).get(k)
        if v in (None, ""):
            continue
        if k == "vendorwall_known_hosts":
            files = v if isinstance(v, list) else [v]
            v = [f if os.path.isabs(os.path.expanduser(str(f))) else os.path.join(root, str(f)) for f in files]
        elif k == "ansible_port":
            v = int(v)
        else:
            v = str(v)
        out[k] = v
    return out


def build_manifest(model: Model, only: set[str] | None = None) -> dict[str, Any]:
    """The manifest as data: the header's fields and ``vendors`` (name -> record; ``only``: these)."""
    inv = model.inventory
    firewalls: dict[str, Any] = {}
    for site in sorted(inv.sites.values(), key=lambda s: s.name):
        dev = inv.devices.get(site.firewall)
        if dev is None:
            continue
        firewalls[site.firewall] = {"platform": dev.platform, "mgmt_address": dev.mgmt_address, "site": site.name,
                                    "management": _nets(site.management), "ssh": ssh_settings(dev, inv.root)}
    bastions = {n: {"platform": d.platform, "mgmt_address": d.mgmt_address, "ssh": ssh_settings(d, inv.root)}
                for n, d in sorted(inv.devices.items()) if d.role == "bastion"}
    mgmt = _nets([n for s in inv.sites.values() for n in s.management])
    text = _Text()
    flow_of: dict[str, dict[str, Any]] = {}  # a clinical rule between two vendors is encoded once
    facts = model.by_vendor
    vendors: dict[str, Any] = {}
    for vname, v in sorted(inv.vendors.items()):
        if only is not None and vname not in only:
            continue
        f = facts.get(vname)
        segs: dict[str, list[dict[str, Any]]] = {}
        for seg in f.segments if f else ():
            segs.setdefault(seg.firewall, []).append(
                {"key": seg.key, "subnet": str(seg.subnet), "vlan": seg.vlan, "interface": seg.interface,
                 "systems": list(seg.systems)})
        bastion_names = sorted({p.bastion for p in v.entry_paths if p.kind == "bastion" and p.bastion})
        flows = []
        for r in sorted((*f.access, *f.clinical), key=lambda r: r.id) if f else ():
            d = flow_of.get(r.id)
            if d is None:
                d = flow_of[r.id] = _flow(r, text)
            flows.append(d)
        vendors[vname] = {
            "title": v.title, "hotline": v.hotline, "security_contact": v.security_contact,
            "entry_paths": [{"name": p.name, "kind": p.kind, "prefixes": _nets(p.prefixes), "bastion": p.bastion,
                             "peer": p.peer, **({"shared": True} if p.shared else {})}
                            for p in sorted(v.entry_paths, key=lambda p: p.name)],
            "segments": dict(sorted(segs.items())),
            "systems": sorted(s.name for s in v.systems),
            "accounts": [{"id": a.id, "person": a.person, "email": a.email, "expires": a.expires.isoformat(),
                          "bastions": bastion_names} for a in sorted(v.accounts, key=lambda a: a.id)],
            "tunnels": [{"name": p.name, "peer": p.peer, "remote_subnets": _nets(p.prefixes)}
                        for p in sorted(v.entry_paths, key=lambda p: p.name) if p.kind == "lan_to_lan"],
            "flows": flows,
        }
    return {"manifest": MANIFEST_KIND, "version": MANIFEST_VERSION, "now": model.now.isoformat(),
            "inventory": os.path.basename(os.path.normpath(inv.root)) if inv.root else "",
            "management": mgmt, "firewalls": firewalls, "bastions": bastions, "vendors": vendors}


class _Encoded(str):
    """A vendor record already encoded (from the cache)."""


def text(model: Model) -> str:
    """``dumps(build_manifest(model))``; with an active cache, the record of a vendor whose facts did not
    change is taken from it (``vendor`` entries, keyed by the vendor's inventory entry and the
    fingerprints of its segments and rules)."""
    c = vwcache.active()
    if c is None:
        return dumps(build_manifest(model))
    fp = vwcache.Fingerprints(model)
    facts = model.by_vendor
    keys: dict[str, str] = {}
    for name, v in model.inventory.vendors.items():
        f = facts.get(name)
        parts: list[bytes | str] = ["vendor", name, repr((v.title, v.hotline, v.security_contact, v.entry_paths,
                                                          v.accounts, sorted(s.name for s in v.systems)))]
        if f is not None:
            parts += [fp.segment(seg) for seg in f.segments] + [b"\0"] + [fp.rule(r) for r in (*f.access, *f.clinical)]
        keys[name] = vwcache.digest(*parts)
    records: dict[str, Any] = {}
    for name, key in keys.items():
        hit = c.get("vendor", key)
        if isinstance(hit, str):
            records[name] = _Encoded(hit)
    data = build_manifest(model, only=set(keys) - set(records))
    for name, rec in data["vendors"].items():
        records[name] = _Encoded(_ENCODE(rec))
        c.put("vendor", keys[name], str(records[name]))
    data["vendors"] = records
    return dumps(data)


def dumps(manifest: dict[str, Any]) -> str:
    """The file's text (layout in the module docstring); ASCII, so characters are bytes."""
    records = [(name, rec if isinstance(rec, _Encoded) else _ENCODE(rec))
               for name, rec in sorted(manifest["vendors"].items())]
    index: dict[str, list[Any]] = {}
    body = [VENDORS_LINE]
    offset = len(VENDORS_LINE)
    for i, (name, rec) in enumerate(records):
        head = f"{_ENCODE(name)}:"
        index[name] = [offset + len(head), len(rec), hashlib.sha256(rec.encode()).hexdigest()]
        line = f"{head}{rec}{',' if i < len(records) - 1 else ''}\n"
        body.append(line)
        offset += len(line)
    body.append("}}\n")
    header = {k: v for k, v in manifest.items() if k != "vendors"}
    header["index"] = index
    return _ENCODE(header)[:-1] + ",\n" + "".join(body)


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
    """``<state dir>/manifest/manifest.json``, where ``vendorwall plan`` writes it (:mod:`vendorwall.state`)."""
    from ..state import StateDir

    return os.path.join(StateDir.for_inventory(inventory).root, "manifest", MANIFEST_NAME)


def digest(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


# --------------------------------------------------------------------------- reading it back


@dataclass(frozen=True)
class Firewall:
    name: str
    platform: str
    mgmt_address: str
    site: str
    management: tuple[IPv4Network, ...]
    ssh: dict[str, Any] = field(default_factory=dict, compare=False)  # connection variables (no secrets)


@dataclass(frozen=True)
class Bastion:
    name: str
    platform: str
    mgmt_address: str
    ssh: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class EntryPath:
    name: str
    kind: str
    prefixes: tuple[IPv4Network, ...]
    bastion: str | None = None
    peer: str | None = None
    shared: bool = False  # a bastion's egress shared by several vendors: never quarantined (accounts instead)


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
    digest: str  # sha256 of the header line, which carries the sha256 of every vendor record
    version: int
    now: str
    inventory: str
    management: tuple[IPv4Network, ...]
    firewalls: dict[str, Firewall]
    bastions: dict[str, Bastion]
    vendors: Mapping[str, VendorInfo]  # read on first access, one record per vendor


# --------------------------------------------------------------------------- schema


@cache
def _schema() -> dict[str, Any]:
    text = resources.files("vendorwall").joinpath("schema", "manifest.schema.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _validator(part: str) -> Any:
    """A validator of ``$defs/<part>``: jsonschema-rs when installed (compiled once, ~1 ms), else jsonschema."""
    sch = {"$schema": _schema()["$schema"], "$defs": _schema()["$defs"], "$ref": f"#/$defs/{part}"}
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - depends on the environment
        import jsonschema

        return jsonschema.Draft202012Validator(sch)
    return jsonschema_rs.Draft202012Validator(sch)


def _schema_diags(path: str, part: str, data: Any, where: str) -> list[Diagnostic]:
    """Every schema violation of ``data`` (a header or a vendor record), each at its dotted path."""
    v = _validator(part)
    if v.is_valid(data):
        return []
    out = []
    for err in v.iter_errors(data):
        loc = getattr(err, "instance_path", None)
        if loc is None:  # jsonschema
            loc = list(err.absolute_path)
        dotted = where
        for p in loc:
            dotted += f"[{p}]" if isinstance(p, int) else (f".{p}" if dotted else str(p))
        msg = err.message if len(err.message) <= 300 else err.message[:297] + "..."
        out.append(Diagnostic(path, 0, dotted, "does not match the manifest schema", "what vendorwall plan writes",
                              msg, REGENERATE, "manifest"))
    return sorted(set(out))


# --------------------------------------------------------------------------- reading


def _bad(path: str, where: str, message: str, expected: str, found: object) -> Diagnostic:
    shown = found if isinstance(found, str) else repr(found)
    return Diagnostic(path, 0, where, message, expected, shown[:200], REGENERATE, "manifest")


class _Nets:
    def __init__(self, path: str) -> None:
        self.path = path
        self.diags: list[Diagnostic] = []

    def __call__(self, items: list[str], where: str) -> tuple[IPv4Network, ...]:
        out = []
        for i, x in enumerate(items):
            try:
                out.append(IPv4Network(x))
            except (ValueError, TypeError):
                self.diags.append(_bad(self.path, f"{where}[{i}]", "not an IPv4 prefix",
                                       "a prefix such as 10.200.1.0/27", repr(x)))
        return tuple(out)


class _Vendors(Mapping[str, VendorInfo]):
    """The vendors of a manifest; a record is read, checked and typed the first time it is asked for."""

    def __init__(self, path: str, fd: int, base: int, index: dict[str, list[Any]]) -> None:
        self._path, self._fd, self._base, self._index = path, fd, base, index
        self._done: dict[str, VendorInfo] = {}
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._index))

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __getitem__(self, name: str) -> VendorInfo:
        with self._lock:
            got = self._done.get(name)
            if got is None:
                if name not in self._index:
                    raise KeyError(name)
                got = self._done[name] = self._read(name)
            return got

    def __del__(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)

    def _read(self, name: str) -> VendorInfo:
        offset, length, sha = self._index[name]
        w = f"vendors.{name}"
        raw = os.pread(self._fd, length, self._base + offset)
        if len(raw) != length or hashlib.sha256(raw).hexdigest() != sha:
            raise VendorwallError([_bad(self._path, w, "vendor record does not match its sha256 in the header: "
                                        "the manifest was edited or damaged", f"sha256 {sha}",
                                        f"sha256 {hashlib.sha256(raw).hexdigest()} ({len(raw)} bytes)")],
                                  "manifest")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise VendorwallError([_bad(self._path, w, "vendor record is not valid JSON", "a JSON object",
                                        str(exc))], "manifest") from None
        diags = _schema_diags(self._path, "vendor", data, w)
        if diags:
            raise VendorwallError(diags, "manifest")
        info = _vendor(name, data, _Nets(self._path))
        return info

    def load_all(self, names: list[str]) -> None:
        """Read ``names`` now, every problem of every record reported at once."""
        diags: list[Diagnostic] = []
        for n in names:
            try:
                self[n]
            except VendorwallError as exc:
                diags += exc.diagnostics
        if diags:
            raise VendorwallError(diags, "manifest")


def _vendor(name: str, v: dict[str, Any], nets: _Nets) -> VendorInfo:
    """A schema-valid record -> typed (only prefixes can still be wrong: host bits, /33...)."""
    w = f"vendors.{name}"
    paths = tuple(EntryPath(p["name"], p["kind"], nets(p["prefixes"], f"{w}.entry_paths[{i}].prefixes"),
                            p["bastion"], p["peer"], bool(p.get("shared", False)))
                  for i, p in enumerate(v["entry_paths"]))
    segs = []
    for fw, items in sorted(v["segments"].items()):
        for i, s in enumerate(items):
            subnet = nets([s["subnet"]], f"{w}.segments.{fw}[{i}].subnet")
            if subnet:
                segs.append(SegmentRef(s["key"], fw, subnet[0], s["vlan"], s["interface"], tuple(s["systems"])))
    accounts = tuple(Account(a["id"], a["person"], a["email"], a["expires"], tuple(a["bastions"]))
                     for a in v["accounts"])
    tunnels = tuple(Tunnel(t["name"], t["peer"] or "", nets(t["remote_subnets"], f"{w}.tunnels[{i}].remote_subnets"))
                    for i, t in enumerate(v["tunnels"]))
    flows = tuple(Flow(f["id"], f["kind"], f["system"], f["peer"], nets(f["src"], f"{w}.flows[{i}].src"),
                       nets(f["dst"], f"{w}.flows[{i}].dst"), f["protocol"], tuple(f["ports"]), f["service"],
                       f["validity"], f["keep"], tuple(f["firewalls"])) for i, f in enumerate(v["flows"]))
    if nets.diags:
        raise VendorwallError(nets.diags, "manifest")
    return VendorInfo(name, v["title"], v["hotline"], v["security_contact"], paths, tuple(segs),
                      tuple(v["systems"]), accounts, tunnels, flows)


def load(path: str) -> Manifest:
    """Read and check a manifest's header; vendor records are read when asked for.

    Every problem of the header is reported at once (exit 2), never a traceback. Reading one
    vendor costs the header plus that vendor's line, whatever the inventory's size.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise UsageError(f"no isolation manifest at {path}",
                         "vendorwall plan INVENTORY writes it (in the inventory's state directory); "
                         "or pass the file: --manifest FILE") from None
    except OSError as exc:
        raise UsageError(f"cannot read the isolation manifest {path}: {exc.strerror}",
                         "pass another file: --manifest FILE") from None
    try:
        return _load(path, fd)
    except BaseException:
        os.close(fd)
        raise


def _load(path: str, fd: int) -> Manifest:
    with os.fdopen(os.dup(fd), "rb") as fh:
        first = fh.readline()
        second = fh.readline()
    base = len(first)
    if not first.endswith(b",\n") or second != VENDORS_LINE.encode():
        found = first[:60].decode("utf-8", errors="replace").rstrip()
        older = first.strip() == b"{"
        raise VendorwallError([_bad(path, "", "not a version 2 isolation manifest" + (
            " (written by an older vendorwall)" if older else ""),
            "a header line then one line per vendor, as vendorwall plan writes", found or "an empty file")],
            "manifest")
    try:
        head = json.loads(first[:-2] + b"}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise VendorwallError([_bad(path, "", "the header line is not valid JSON",
                                    "the JSON object vendorwall plan writes", str(exc))], "manifest") from None
    if isinstance(head, dict) and isinstance(head.get("version"), int) and head["version"] > MANIFEST_VERSION:
        raise VendorwallError([_bad(path, "version", "manifest from a newer vendorwall",
                                    f"version <= {MANIFEST_VERSION}", repr(head["version"]))], "manifest")
    diags = _schema_diags(path, "header", head, "")
    if diags:
        raise VendorwallError(diags, "manifest")
    nets = _Nets(path)
    firewalls = {name: Firewall(name, f["platform"], f["mgmt_address"], f["site"],
                                nets(f["management"], f"firewalls.{name}.management"), f.get("ssh") or {})
                 for name, f in sorted(head["firewalls"].items())}
    bastions = {name: Bastion(name, b["platform"], b["mgmt_address"], b.get("ssh") or {})
                for name, b in sorted(head["bastions"].items())}
    management = nets(head["management"], "management")
    if nets.diags:
        raise VendorwallError(nets.diags, "manifest")
    vendors = _Vendors(path, fd, base, head["index"])
    return Manifest(path, digest(first), head["version"], head["now"], head["inventory"], management, firewalls,
                    bastions, vendors)


def resolve(target: str, manifest: str | None = None) -> str:
    """The manifest to read: ``--manifest``, else TARGET itself if it is a file, else the inventory's default."""
    if manifest:
        return manifest
    if os.path.isfile(target):
        return target
    return default_path(target)
