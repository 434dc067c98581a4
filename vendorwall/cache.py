"""A content-addressed cache of what the pipeline computes, so unchanged work is not redone.

Every entry is keyed by a digest of *everything* it depends on, plus the digest of vendorwall's
own code (:func:`code_digest`: any change to the package, templates or schemas misses every entry):

- ``parsed``: one inventory file, parsed (YAML, line map) and schema-checked; key = its bytes and
  the name it is shown under;
- ``render``: one device's configuration; key = the device's render inputs (its compiled intent,
  rules with their origins, its quarantine, its inventory record and sites, policy, date, platform,
  the vendors isolated at render time): a one-vendor change re-renders only the devices whose
  intent it changes;
- ``vendor``: one vendor's isolation-manifest record; key = the vendor's facts;
- ``run``: a whole ``plan``; key = every input file's bytes, the lock file, the isolation record
  (state directory), the date and the output directory; it records the digest of every file the
  run wrote, so a rerun with nothing changed (inputs and outputs as they were) is answered without
  running the pipeline;
- ``valid``: a whole ``validate`` that found the inventory valid; same inputs as ``run`` but the output
  directory; a rerun with nothing changed prints the same answer without running the pipeline.

``run`` and ``valid`` are not kept when the devices are read through Ansible (other inventory sources,
group_vars, templating: :func:`vendorwall.pipeline.inputs_key`).

Values are plain data (dict, list, tuple, str, int...) stored with :mod:`pickle` (its memo of
repeated strings makes the line maps of parsed files load ~5x faster than :mod:`marshal`), one file
per entry, written atomically (0600, directories 0700). Since unpickling can run code, an entry is
read only if it and its directory belong to this user and nobody else can write them; anything
else, or a damaged entry, reads as a miss. Entries a run did not use are removed at its end, so
the cache holds one generation.

The directory is ``--cache-dir`` (or ``VENDORWALL_CACHE_DIR``), else ``cache/`` in the
inventory's state directory (:mod:`vendorwall.state`); ``--no-cache`` turns it off. The active cache is set for
the duration of a command with :func:`use`; code deeper down asks :func:`active` (None: no cache).
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import pickle
import tempfile
import weakref
from collections.abc import Iterator
from contextvars import ContextVar
from functools import cache
from typing import Any

ENV = "VENDORWALL_CACHE_DIR"
FORMAT = b"vendorwall-cache-1"
KINDS = ("parsed", "render", "vendor", "run", "valid")

_ACTIVE: ContextVar[Cache | None] = ContextVar("vendorwall_cache", default=None)


@cache
def code_digest() -> bytes:
    """Digest of the package's own files (code, templates, schemas, platform files)."""
    root = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.blake2b(FORMAT, digest_size=20)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for f in sorted(filenames):
            if f.endswith((".py", ".json", ".yml", ".j2")):
                path = os.path.join(dirpath, f)
                h.update(os.path.relpath(path, root).encode() + b"\0")
                with open(path, "rb") as fh:
                    h.update(fh.read())
    return h.digest()


def digest(*parts: bytes | str) -> str:
    """A key: the code digest and ``parts`` (each length-prefixed, so parts never run together)."""
    h = hashlib.blake2b(code_digest(), digest_size=20)
    for p in parts:
        b = p.encode() if isinstance(p, str) else p
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


class Cache:
    def __init__(self, directory: str) -> None:
        self.dir = directory
        self.used: dict[str, set[str]] = {k: set() for k in KINDS}
        self.hits: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.misses: dict[str, int] = dict.fromkeys(KINDS, 0)
        self._trust: dict[str, bool] = {}

    def _path(self, kind: str, key: str) -> str:
        return os.path.join(self.dir, kind, key)

    def _trusted(self, kind: str) -> bool:
        """The cache directory and its ``kind`` directory are this user's and only this user's to write."""
        if not self._trust.get(kind):  # only a positive answer is kept: the directory may appear later
            self._trust[kind] = all(_private(os.path.join(self.dir, *sub)) for sub in ((), (kind,)))
        return self._trust[kind]

    def get(self, kind: str, key: str) -> Any:
        """The value stored under ``key``, or None (missing, unreadable or not trusted: a miss)."""
        self.used[kind].add(key)
        try:
            if not self._trusted(kind):
                raise OSError("cache directory writable by others")
            with open(self._path(kind, key), "rb") as fh:
                if not _private_fd(fh.fileno()):
                    raise OSError("cache entry writable by others")
                value = pickle.load(fh)
        except Exception:  # a damaged or foreign entry is a miss, never an error
            self.misses[kind] += 1
            return None
        self.hits[kind] += 1
        return value

    def put(self, kind: str, key: str, value: Any) -> None:
        """Store ``value`` (plain data: dict, list, tuple, str, bytes, int, float, bool, None)."""
        self.used[kind].add(key)
        d = os.path.join(self.dir, kind)
        try:
            for x in (self.dir, d):
                if not os.path.isdir(x):
                    os.makedirs(x, mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, self._path(kind, key))
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError:
            pass  # a cache that cannot be written is only slower

    def prune(self, kinds: tuple[str, ...]) -> None:
        """Remove the entries of ``kinds`` this run did not use (the cache keeps one generation)."""
        for kind in kinds:
            d = os.path.join(self.dir, kind)
            try:
                names = os.listdir(d)
            except OSError:
                continue
            for n in names:
                if n not in self.used[kind]:
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(d, n))


def _private_fd(fd: int) -> bool:
    st = os.fstat(fd)
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _private(path: str) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def default_dir(inventory: str) -> str:
    """``cache/`` of the inventory's state directory (:mod:`vendorwall.state`)."""
    from .state import StateDir

    return StateDir.for_inventory(inventory).cache_dir


def open_cache(inventory: str, directory: str | None = None, enabled: bool = True) -> Cache | None:
    """The cache for ``inventory``: ``directory``, else ``$VENDORWALL_CACHE_DIR``, else the default."""
    if not enabled:
        return None
    return Cache(directory or os.environ.get(ENV) or default_dir(inventory))


@contextlib.contextmanager
def use(c: Cache | None) -> Iterator[Cache | None]:
    token = _ACTIVE.set(c)
    try:
        yield c
    finally:
        _ACTIVE.reset(token)


def active() -> Cache | None:
    return _ACTIVE.get()


# --------------------------------------------------------------------------- fingerprints


def _dump(value: Any) -> bytes:
    """Deterministic bytes of plain data (marshal format 2 has no object references, whose use would
    depend on reference counts)."""
    return marshal.dumps(value, 2)


class Fingerprints:
    """Stable digests of a model's parts (the keys of ``render`` and ``vendor`` entries).

    A rule's fingerprint covers every field, its origin included (a diagnostic names file:line);
    a device's covers its compiled intent, the inventory records a renderer reads about it (its
    device entry, its sites, the services, the client group names, the systems with a port on it),
    its quarantine and the vendors isolated at render time, the policy, the date and the platform.
    A renderer that reads anything else must add it here (tests/scale/test_incremental.py checks
    incremental == clean over random edits). Prefix tuples are shared between rules, so their plain
    data is computed once per tuple; the fingerprints of one model are computed once
    for render and the isolation manifest (the instances of one model share what they computed).
    """

    _nets: dict[int, tuple[Any, tuple[tuple[int, int], ...]]]
    _rules: dict[int, tuple[Any, tuple[Any, ...]]]
    _segs: dict[int, tuple[Any, bytes]]
    _common: bytes
    _ports: dict[str, list[str]]

    def __init__(self, model: Any) -> None:
        self.model = model
        last = _SHARED[0] if _SHARED else None
        if last is not None and last[0]() is model:
            self._nets, self._rules, self._segs, self._common, self._ports = last[1]
            return
        self._nets, self._rules, self._segs = {}, {}, {}
        inv = model.inventory
        self._common = _dump((model.now.isoformat(), repr(inv.policy), repr(sorted(inv.services.items())),
                              tuple(sorted(inv.client_groups)), tuple(sorted(getattr(model, "isolated", {}).items()))))
        self._ports = {}
        for s in sorted(inv.systems.values(), key=lambda s: s.name):
            for p in s.switch_ports:
                self._ports.setdefault(p.switch, []).append(repr((s.name, s.origin, s.switch_ports)))
        try:  # the next instance for this model shares these tables; dropped with the model
            ref = weakref.ref(model, _forget)
        except TypeError:  # not weakly referenceable: nothing shared
            return
        _SHARED[:] = [(ref, (self._nets, self._rules, self._segs, self._common, self._ports))]

    def nets(self, nets: tuple[Any, ...]) -> tuple[tuple[int, int], ...]:
        hit = self._nets.get(id(nets))
        if hit is not None and hit[0] is nets:
            return hit[1]
        out = tuple((int(n.network_address), n.prefixlen) for n in nets)
        self._nets[id(nets)] = (nets, out)  # keeps ``nets`` alive: its id is not reused
        return out

    def _rule(self, r: Any) -> tuple[Any, ...]:
        """A rule as plain data: every field."""
        hit = self._rules.get(id(r))
        if hit is not None and hit[0] is r:
            return hit[1]
        nets, v, o = self.nets, r.validity, r.origin
        w = (v.window.days, v.window.start, v.window.end) if v.window else None
        out = (r.id, r.kind, r.vendor, r.system, nets(r.src), nets(r.dst), r.service, r.protocol, r.ports, v.kind,
               v.until.isoformat() if v.until else None, w, v.max_hours, r.action, r.log, r.keep, r.via, r.peer,
               r.firewalls, (o.file, o.line, o.path))
        self._rules[id(r)] = (r, out)
        return out

    def rule(self, r: Any) -> bytes:
        return _dump(self._rule(r))

    def segment(self, s: Any) -> bytes:
        hit = self._segs.get(id(s))
        if hit is not None and hit[0] is s:
            return hit[1]
        out = self._segment(s)
        self._segs[id(s)] = (s, out)
        return out

    def _segment(self, s: Any) -> bytes:
        return _dump((s.key, s.site, s.vendor, s.mode, s.systems, s.vlan, int(s.subnet.network_address),
                              s.subnet.prefixlen, int(s.gateway), tuple((k, tuple(int(a) for a in v))
                                                                        for k, v in s.hosts.items()),
                              s.interface, s.zone, s.firewall))

    def device(self, intent: Any, platform: Any) -> str:
        inv = self.model.inventory
        h = hashlib.blake2b(self._common, digest_size=20)
        sites = tuple(sorted(repr(s) for s in inv.sites.values() if s.firewall == intent.device or s.name == intent.site
                       or any(sw.name == intent.device for sw in s.switches)))
        h.update(_dump((intent.device, intent.role, intent.platform, intent.site, self.nets(intent.mgmt),
                                self.nets(intent.vendor_sources), intent.uplink, intent.access_ports,
                                repr(inv.devices.get(intent.device)), sites, platform.name,
                                tuple(self._ports.get(intent.device, ())))))
        for s in intent.segments:
            h.update(self.segment(s))
        # the isolation record: the vendors isolated at render time and their quarantine on this device
        h.update(_dump((tuple(sorted(self.model.isolated.items())),
                        tuple((int(e.prefix.network_address), e.prefix.prefixlen, e.vendor, e.kind, e.name)
                              for e in intent.quarantine))))
        h.update(b"\0rules")
        rule = self._rule
        h.update(_dump(tuple(rule(r) for r in intent.rules)))  # one marshal call for every rule of the device
        return digest("render", h.digest())


_SHARED: list[tuple[Any, tuple[Any, ...]]] = []  # (weak reference to a model, its Fingerprints tables)


def _forget(ref: Any) -> None:
    """The model is gone: its tables (which keep its rules alive) go too."""
    if _SHARED and _SHARED[0][0] is ref:
        _SHARED.clear()
