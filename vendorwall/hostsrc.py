"""The hosts of an inventory, read the way Ansible reads them.

vendorwall needs, per host: its groups (the role groups ``firewalls``, ``switches``, ``bastions`` and the
site groups ``site_<name>``) and its variables as Ansible resolves them (``vw_platform``, ``ansible_host``,
the connection variables). Three readers give the same :class:`HostEntry` list:

- :func:`read_fast`: a plain ``hosts.yml`` (groups under ``all.children``, no ``group_vars/`` or
  ``host_vars/``, no other inventory source, no Jinja, no vault) is read by vendorwall's own YAML loader:
  exact file:line and dotted path for every value, and no Ansible import (~0.7 s saved per command);
  variables merged in Ansible's order (``all`` < groups by priority then name < host);
- :func:`read_ansible`: anything else (``group_vars/``, ``host_vars/``, INI, inventory plugins such as
  NetBox's, several sources) goes through Ansible's own ``InventoryManager`` and ``VariableManager``;
  values keep the file and line Ansible recorded (ansible-core 2.19 origin tags, older ``ansible_pos``);
- :func:`from_snapshot`: inside a playbook, the play's own inventory, as the action plugins send it
  (``hostvars`` and ``group_names`` of every host, templated by Ansible, secrets apart).

Only the variables vendorwall uses are kept (``vw_*``, ``vendorwall_*`` and the connection variables, with
Ansible's aliases folded: ``ansible_ssh_pass`` -> ``ansible_password``...).
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .errors import Diagnostic
from .yamlsrc import Path, Source, dotted, load_file

ROLE_GROUPS = {"firewalls": "firewall", "switches": "switch", "bastions": "bastion"}
SITE_GROUP_PREFIX = "site_"
HOSTS_FILE = "hosts.yml"
SKIP_DIRS = ("vendorwall", "group_vars", "host_vars")  # the domain files; Ansible's vars directories
# Ansible's INVENTORY_IGNORE_EXTS default: files of an inventory directory that are not inventory sources
# (plus .actual: what a failed golden test writes beside its reference)
IGNORE_EXTS = (".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
               ".actual")
CONNECTION_VARS = ("ansible_host", "ansible_port", "ansible_user", "ansible_ssh_private_key_file", "ansible_password",
                   "ansible_become_password", "ansible_network_os", "ansible_connection")
SECRET_VARS = ("ansible_password", "ansible_become_password")
ALIASES = {"ansible_ssh_host": "ansible_host", "ansible_ssh_port": "ansible_port", "ansible_ssh_user": "ansible_user",
           "ansible_ssh_pass": "ansible_password", "ansible_private_key_file": "ansible_ssh_private_key_file",
           "ansible_become_pass": "ansible_become_password"}
# ansible_network_os (collection names and short names) -> vendorwall platform, when vw_platform is not set
NETWORK_OS = {"cisco.ios.ios": "ios", "ios": "ios", "cisco.nxos.nxos": "nxos", "nxos": "nxos",
              "junipernetworks.junos.junos": "junos", "junos": "junos", "arubanetworks.aoscx.aoscx": "aoscx",
              "aoscx": "aoscx", "fortinet.fortios.fortios": "fortios", "fortios": "fortios"}


class Place(Protocol):
    """Where a value is: :class:`vendorwall.inventory.Loc` (YAML, exact) or :class:`Where` (Ansible)."""

    def at(self, *more: str | int) -> Place: ...

    def diag(self, message: str, expected: str = "", found: str = "", hint: str = "",
             code: str = "invalid") -> Diagnostic: ...

    @property
    def origin(self) -> Any: ...


@dataclass(frozen=True)
class Where:
    """A place Ansible told us about: a file, a line (0: unknown), a dotted path."""

    file: str
    line: int = 0
    path: str = ""
    exact: bool = True  # False: the value is not in this file; file:line is the host's definition

    def at(self, *more: str | int) -> Where:
        path = self.path
        for m in more:
            path = f"{path}[{m}]" if isinstance(m, int) else (f"{path}.{m}" if path else str(m))
        return Where(self.file, self.line, path, False)

    @property
    def origin(self) -> Any:
        from .model import Origin

        return Origin(self.file, self.line, self.path)

    def diag(self, message: str, expected: str = "", found: str = "", hint: str = "",
             code: str = "invalid") -> Diagnostic:
        return Diagnostic(self.file, self.line, self.path, message, expected, found, hint, code)


@dataclass
class HostEntry:
    name: str
    groups: tuple[str, ...]  # every group the host is in (parents included), 'all' left out, in listing order
    vars: dict[str, Any]  # resolved, only what vendorwall uses (wanted())
    where: Place  # the host's definition
    origins: dict[str, Place] = field(default_factory=dict)  # variable -> where its value comes from
    group_where: dict[str, Place] = field(default_factory=dict)  # group -> where the host is listed in it


def wanted(key: str) -> bool:
    return key.startswith(("vw_", "vendorwall_")) or key in CONNECTION_VARS


def keep_vars(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The variables vendorwall uses, Ansible's aliases folded into the canonical names (the canonical
    name wins when both are set)."""
    out = {k: v for k, v in raw.items() if wanted(k)}
    for alias, name in ALIASES.items():
        if alias in raw and name not in out:
            out[name] = raw[alias]
    return out


def platform_of(hvars: Mapping[str, Any]) -> Any:
    """``vw_platform``, else the platform ``ansible_network_os`` names (None: neither)."""
    if hvars.get("vw_platform") is not None:
        return hvars["vw_platform"]
    nos = hvars.get("ansible_network_os")
    return NETWORK_OS.get(str(nos)) if nos else None


# --------------------------------------------------------------------------- which reader


def ansible_sources(root: str) -> list[str]:
    """The entries of an inventory directory Ansible reads as inventory sources (as ``-i DIR`` with the
    project's ``ansible.cfg``, which ignores ``vendorwall/``)."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    return [os.path.join(root, n) for n in names
            if n not in SKIP_DIRS and not n.startswith(".") and not n.endswith(IGNORE_EXTS)]


def fast_eligible(root: str, data: Any, text: str) -> bool:
    """Whether a parsed ``hosts.yml`` can be read without Ansible and mean the same thing."""
    if ansible_sources(root) != [os.path.join(root, HOSTS_FILE)]:
        return False
    if any(os.path.isdir(os.path.join(root, d)) for d in ("group_vars", "host_vars")):
        return False
    if "{{" in text or "{%" in text or "!vault" in text or "!unsafe" in text:
        return False
    if data is None:
        return True  # an empty file: the fast reader reports it at its line
    if not isinstance(data, dict) or set(data) - {"all"}:
        return False  # top-level groups other than 'all', or an inventory plugin's configuration
    top = data.get("all")
    if not isinstance(top, dict):
        return True  # empty or not a mapping: the fast reader reports it at its line
    if set(top) - {"children", "vars"}:
        return False  # hosts directly under all
    children = top.get("children")
    if not isinstance(children, dict):
        return True
    return all(not isinstance(g, dict) or not (set(g) - {"hosts", "vars"}) for g in children.values())


# --------------------------------------------------------------------------- Ansible's variable precedence


def _priority(gvars: Mapping[str, Any]) -> int:
    try:
        return int(gvars.get("ansible_group_priority", 1))
    except (TypeError, ValueError):
        return 1


def merge_vars(all_vars: Mapping[str, Any], groups: list[tuple[str, Mapping[str, Any]]],
               host_vars: Mapping[str, Any]) -> dict[str, Any]:
    """Ansible's order for groups directly under ``all``: ``all`` < each group by (priority, name) < host."""
    out = dict(all_vars)
    for _name, gvars in sorted(groups, key=lambda g: (_priority(g[1]), g[0])):
        out.update(gvars)
    out.update(host_vars)
    return out


# --------------------------------------------------------------------------- the fast YAML reader


class Loc(Protocol):  # vendorwall.inventory.Loc, without the import cycle
    src: Source
    path: Path

    def at(self, *more: str | int) -> Any: ...


def read_fast(data: dict[str, Any], top: Any, add: Callable[[Diagnostic], None]) -> list[HostEntry] | None:
    """Host entries of a plain ``hosts.yml`` (:func:`fast_eligible`); ``top`` is the file's root
    :class:`vendorwall.inventory.Loc`. None when the file has no usable groups (reported)."""
    all_group = data.get("all") if isinstance(data, dict) else None
    children = all_group.get("children") if isinstance(all_group, dict) else None
    if not isinstance(children, dict):
        add(top.diag("hosts.yml has no groups", "all: children: {firewalls: ..., switches: ..., ...}",
                     "no all.children mapping", "see docs/inventory.md"))
        return None
    assert isinstance(all_group, dict)
    all_vars = all_group["vars"] if isinstance(all_group.get("vars"), dict) else {}
    group_vars: dict[str, dict[str, Any]] = {}
    listed: dict[str, list[tuple[str, Any, dict[str, Any]]]] = {}  # host -> [(group, loc, vars)] in file order
    for gname, group in children.items():
        gloc = top.at("all", "children", gname)
        if group is None:
            group = {}
        if not isinstance(group, dict):
            add(gloc.diag("a group must be a mapping", "hosts: / children: / vars:", str(type(group).__name__)))
            continue
        if isinstance(group.get("vars"), dict):
            group_vars[gname] = group["vars"]
        members = group.get("hosts") or {}
        if not isinstance(members, dict):
            add(gloc.at("hosts").diag("group hosts must be a mapping", "host names as keys", type(members).__name__))
            continue
        for hname, listing in members.items():
            listed.setdefault(str(hname), []).append((gname, gloc.at("hosts", hname),
                                                      listing if isinstance(listing, dict) else {}))
    out = []
    for hname, places in listed.items():
        groups = [g for g, _, _ in places]
        hvars: dict[str, Any] = {}
        origins: dict[str, Any] = {}
        for _g, loc, v in places:
            hvars.update(v)
            origins.update({k: loc.at(k) for k in v})
        merged = merge_vars(all_vars, [(g, group_vars.get(g, {})) for g in dict.fromkeys(groups)], hvars)
        for g in sorted(dict.fromkeys(groups), key=lambda g: (_priority(group_vars.get(g, {})), g), reverse=True):
            for k in group_vars.get(g, {}):
                if k not in hvars:
                    origins.setdefault(k, top.at("all", "children", g, "vars", k))
        for k in all_vars:
            origins.setdefault(k, top.at("all", "vars", k))
        role_place = next((loc for g, loc, _ in places if g in ROLE_GROUPS), places[0][1])
        out.append(HostEntry(hname, tuple(dict.fromkeys(groups)), keep_vars(merged), role_place,
                             {k: origins[k] for k in keep_vars(origins)},
                             {g: loc for g, loc, _ in places}))
    return out


# --------------------------------------------------------------------------- Ansible's InventoryManager

# Variables VariableManager adds to every host (not the user's)
_MAGIC = frozenset({"ansible_config_file", "ansible_facts", "ansible_playbook_python", "ansible_version", "group_names",
                    "groups", "inventory_dir", "inventory_file", "inventory_hostname", "inventory_hostname_short",
                    "playbook_dir", "omit"})


def _origin_of(value: Any) -> tuple[str, int] | None:
    """The file and line Ansible recorded for a value (ansible-core 2.19 tags; older: ``ansible_pos``)."""
    with contextlib.suppress(Exception):
        from ansible.module_utils._internal._datatag import AnsibleTagHelper

        for tag in AnsibleTagHelper.tags(value):
            path, line = getattr(tag, "path", None), getattr(tag, "line_num", None)
            if path:
                return str(path), int(line or 0)
    pos = getattr(value, "ansible_pos", None)
    if pos:
        return str(pos[0]), int(pos[1] or 0)
    return None


def plain(value: Any) -> Any:
    """A value without Ansible's wrappers (tagged str, AnsibleUnicode...): plain JSON types."""
    return json.loads(json.dumps(value, default=str))


class _Shown:
    """File names as the user gave them (relative to the inventory's shown root) and dotted paths of YAML values."""

    def __init__(self, root: str, shown_root: str):
        self.root = os.path.realpath(root)
        self.shown_root = shown_root
        self._yaml: dict[str, dict[int, list[Path]]] = {}

    def file(self, path: str) -> str:
        real = os.path.realpath(path)
        if real == self.root or real.startswith(self.root + os.sep):
            return os.path.normpath(os.path.join(self.shown_root, os.path.relpath(real, self.root)))
        return path

    def _lines(self, file: str) -> dict[int, list[Path]]:
        if file not in self._yaml:
            by_line: dict[int, list[Path]] = {}
            with contextlib.suppress(Exception):
                _, src, diags = load_file(file, file)
                if not diags:
                    for p, n in src.lines.items():
                        by_line.setdefault(n, []).append(p)
            self._yaml[file] = by_line
        return self._yaml[file]

    def path_at(self, file: str, line: int, key: str, fallback: str) -> str:
        """The dotted path of ``key`` at ``line`` of a YAML file (``fallback`` for other formats)."""
        if not file.endswith((".yml", ".yaml")) and "_vars" not in file:
            return fallback
        for p in self._lines(file).get(line, []):
            if p and p[-1] == key:
                return dotted(p)
        return fallback

    def host(self, sources: list[str], name: str) -> Where | None:
        """Where a source declares host ``name``: its first listing (YAML: ``...hosts.<name>``; INI: its line)."""
        for source in sources:
            if not os.path.isfile(source):
                continue
            if source.endswith((".yml", ".yaml")):
                found = sorted((n, p) for n, ps in self._lines(source).items() for p in ps
                               if len(p) >= 2 and p[-1] == name and p[-2] == "hosts")
                if found:
                    return Where(self.file(source), found[0][0], dotted(found[0][1]))
                continue
            with contextlib.suppress(OSError, UnicodeDecodeError), open(source, encoding="utf-8") as fh:
                for n, text in enumerate(fh, 1):
                    if text.split(None, 1)[:1] == [name]:
                        return Where(self.file(source), n, name)
        return None


@contextlib.contextmanager
def _warnings_collected() -> Iterator[list[str]]:
    """Ansible's warnings during inventory parsing (a source it could not parse), collected instead of printed."""
    from ansible.utils.display import Display

    display = Display()
    got: list[str] = []
    saved = {name: getattr(display, name) for name in ("warning", "error_as_warning") if hasattr(display, name)}

    def warning(msg: Any, *args: Any, **kwargs: Any) -> None:
        got.append(str(msg))

    def error_as_warning(msg: Any, exception: BaseException, *args: Any, **kwargs: Any) -> None:
        got.append(f"{msg or ''} {exception}".strip())

    for name, fn in (("warning", warning), ("error_as_warning", error_as_warning)):
        if name in saved:
            setattr(display, name, fn)
    try:
        yield got
    finally:
        for name, fn in saved.items():
            setattr(display, name, fn)


def _vault_secrets(loader: Any) -> None:
    """The vault password files Ansible's configuration names (ANSIBLE_VAULT_PASSWORD_FILE...), so a
    vaulted variable decrypts as under ansible-playbook."""
    with contextlib.suppress(Exception):
        from ansible import constants as C
        from ansible.cli import CLI

        ids = list(C.DEFAULT_VAULT_IDENTITY_LIST or [])
        files = [C.DEFAULT_VAULT_PASSWORD_FILE] if C.DEFAULT_VAULT_PASSWORD_FILE else []
        if ids or files:
            secrets = CLI.setup_vault_secrets(loader, vault_ids=ids, vault_password_files=files, ask_vault_pass=False)
            loader.set_vault_secrets(secrets)


def read_ansible(root: str, shown_root: str, add: Callable[[Diagnostic], None]) -> list[HostEntry] | None:
    """Host entries through Ansible's InventoryManager (every source Ansible reads); None when none parsed."""
    with warnings.catch_warnings():  # cryptography's deprecation notices, printed on Ansible's imports otherwise
        warnings.simplefilter("ignore")
        return _read_ansible(root, shown_root, add)


def _read_ansible(root: str, shown_root: str, add: Callable[[Diagnostic], None]) -> list[HostEntry] | None:
    shown = _Shown(root, shown_root)
    sources = ansible_sources(root)
    if not sources:
        add(Diagnostic(os.path.join(shown_root, HOSTS_FILE), 0, "", "missing device inventory",
                       "an Ansible inventory: hosts.yml, an INI file, or an inventory plugin's configuration",
                       "no such file", "see docs/inventory.md for its layout", code="io"))
        return None
    try:
        from ansible.errors import AnsibleError
        from ansible.inventory.manager import InventoryManager
        from ansible.parsing.dataloader import DataLoader
        from ansible.template import Templar
        from ansible.vars.manager import VariableManager
    except ImportError as exc:  # pragma: no cover - ansible-core is a dependency
        add(Diagnostic(shown.file(sources[0]), 0, "", "cannot read this inventory without Ansible",
                       "ansible-core installed", str(exc), "pip install ansible-core", code="io"))
        return None
    loader = DataLoader()
    _vault_secrets(loader)
    with _warnings_collected() as said:
        try:
            im = InventoryManager(loader=loader, sources=sources)
        except AnsibleError as exc:  # pragma: no cover - with the default INVENTORY_UNPARSED_FAILED=False
            said.append(str(exc))
            im = None
    failed = [s for s in sources if any(f"Unable to parse {s} " in w + " " for w in said)]
    for source in failed:
        why = " ".join(w.strip() for w in said if source in w and not w.startswith("Unable to parse"))
        add(Diagnostic(shown.file(source), 0, "", "Ansible could not read this inventory source",
                       "an inventory Ansible reads (YAML, INI, a plugin configuration)",
                       (why or "no inventory plugin accepted it")[:600],
                       "check it with: ansible-inventory -i " + shown.file(source) + " --list", code="io"))
    if im is None or len(failed) == len(sources):
        return None
    vm = VariableManager(loader=loader, inventory=im)
    out = []
    for host in sorted(im.get_hosts(), key=lambda h: h.name):
        raw = vm.get_vars(host=host, include_hostvars=False)
        first = next((o for o in map(_origin_of, raw.values()) if o), None)
        host_where = shown.host(sources, plain(host.name)) or Where(shown.file(first[0] if first else sources[0]),
                                                             first[1] if first else 0, host.name, False)
        hvars: dict[str, Any] = {}
        origins: dict[str, Place] = {}
        templar = Templar(loader=loader, variables=raw)
        for key, value in raw.items():
            if key in _MAGIC or not wanted(ALIASES.get(key, key)):
                continue
            o = _origin_of(value)
            if o:
                f = shown.file(o[0])
                origins[key] = Where(f, o[1], shown.path_at(o[0], o[1], key, f"{plain(host.name)}.{key}"))
            try:
                value = templar.template(value)
            except Exception as exc:  # an undefined variable, a vault without its password...
                if ALIASES.get(key, key) in SECRET_VARS:
                    continue  # the run gives it (a credential, a prompt); never printed
                add(origins.get(key, host_where.at(key)).diag(
                    f"cannot resolve {key} of {host.name}", "a value Ansible can template",
                    type(exc).__name__ + ": " + str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__,
                    "check it with: ansible-inventory --host " + host.name))
                continue
            hvars[key] = plain(value)
        groups = tuple(plain(g.name) for g in host.get_groups() if g.name != "all")
        kept = keep_vars(hvars)
        origins = {ALIASES.get(k, k): w for k, w in origins.items()}
        out.append(HostEntry(plain(host.name), groups, kept, host_where, origins, {}))
    return out


# --------------------------------------------------------------------------- the play's inventory


def from_snapshot(snapshot: Mapping[str, Any], secrets: Mapping[str, Any] | None = None) -> list[HostEntry]:
    """Host entries from what the action plugins send: ``{host: {groups, vars, origins}}``, plus the
    secrets (``{host: {ansible_password, ansible_become_password}}``) sent apart (no_log)."""
    out = []
    for name, h in sorted(snapshot.items()):
        h = h if isinstance(h, Mapping) else {}
        hvars = dict(h.get("vars") or {})
        hvars.update({k: v for k, v in ((secrets or {}).get(name) or {}).items() if v not in (None, "")})
        origins: dict[str, Place] = {}
        for key, o in (h.get("origins") or {}).items():
            if isinstance(o, (list, tuple)) and len(o) >= 2:
                origins[key] = Where(str(o[0]), int(o[1] or 0), str(o[2]) if len(o) > 2 else f"{name}.{key}")
        first = next(iter(origins.values()), None)
        where = Where(first.file, first.line, name, False) if isinstance(first, Where) else Where("inventory", 0,
                                                                                                  name, False)
        out.append(HostEntry(str(name), tuple(str(g) for g in h.get("groups") or () if g != "all"),
                             keep_vars(hvars), where, origins, {}))
    return out
