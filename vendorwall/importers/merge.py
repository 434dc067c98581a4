"""Write an imported :class:`~vendorwall.importers.Batch` into an inventory: one file per vendor,
merged into what exists, comments and manual edits kept.

Merge rules (docs/import.md):

- a vendor already defined in a domain file is updated in that file; a new vendor gets
  ``vendorwall/vendors/<vendor>.yml``;
- a field the source gives replaces the inventory's value (the source is the register of
  record for it); a field the source does not give is left as it is, so what a person wrote by
  hand (access, flows, justifications...) survives every re-run;
- lists of named things are merged by identity: systems and entry paths by ``name``, accounts by
  ``id``, flows by direction and peer; entries the source does not list are kept, never deleted
  (the report names them, so a reviewer can remove them on purpose);
- the files are read and written with ruamel.yaml's round-trip mode, which keeps comments, key
  order, quoting and flow/block style of everything it does not change.

``merge`` computes the new texts and a report without writing; ``write`` applies them.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from ..inventory import DOMAIN_DIR, domain_files
from ..yamlsrc import load_file
from . import Batch

VENDOR_ORDER = ("title", "hotline", "security_contact", "contract", "approvers", "entry_paths", "accounts", "systems")
SYSTEM_ORDER = ("name", "site", "function", "criticality", "owner", "segment", "tags", "network", "addresses", "vlan",
                "current", "switch_ports", "approvers", "infrastructure", "access", "flows")
ACCESS_ORDER = ("mode", "services", "via", "max_hours", "window", "justification", "until", "exception")
PATH_ORDER = ("name", "kind", "bastion", "source", "shared_egress", "pool", "peer", "remote_subnets", "justification",
              "retire_by", "purpose", "systems", "services", "replacement", "checklist")
ORDERS = {"vendor": VENDOR_ORDER, "system": SYSTEM_ORDER, "access": ACCESS_ORDER, "entry_path": PATH_ORDER}
FLOW_ITEMS = {"entry_paths", "switch_ports", "flows"}  # their items are written {flow: style}
BLOCK_LISTS = {"approvers", "systems", "accounts", "entry_paths", "switch_ports", "flows", "checklist"}

HEADER = ("# yaml-language-server: $schema=../../../../vendorwall/schema/inventory.schema.json\n"
          "# Written by 'vendorwall import' from {source}; edit freely: a re-run merges, it does not overwrite.\n")


def _yaml() -> YAML:
    y = YAML()
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y


@dataclass
class FileChange:
    path: str  # relative to the inventory
    created: bool
    before: str
    after: str
    changes: list[str] = field(default_factory=list)  # "vendors.x.systems[y].site: 'a' -> 'b'"
    kept: list[str] = field(default_factory=list)  # entries the source does not list (left as they are)


@dataclass
class Plan:
    files: list[FileChange]

    @property
    def changed(self) -> list[FileChange]:
        return [f for f in self.files if f.before != f.after]

    def text(self, check: bool) -> str:
        verb = "would write" if check else "wrote"
        lines = []
        for f in self.files:
            if f.before == f.after:
                lines.append(f"  {f.path}: unchanged")
                continue
            lines.append(f"  {f.path}: {verb} ({'new file' if f.created else f'{len(f.changes)} change(s)'})")
            lines += [f"    {c}" for c in f.changes] if not f.created else []
        kept = [k for f in self.files for k in f.kept]
        if kept:
            lines.append(f"  kept, not in the source ({len(kept)}): " + ", ".join(kept[:10]) +
                         (f", +{len(kept) - 10} more" if len(kept) > 10 else ""))
        return "\n".join(lines)


def vendor_files(root: str) -> dict[str, str]:
    """vendor name -> the domain file (absolute) that defines it."""
    out: dict[str, str] = {}
    for path in domain_files(root):
        data, _, diags = load_file(path)
        if diags or not isinstance(data, dict) or not isinstance(data.get("vendors"), dict):
            continue
        for name in data["vendors"]:
            out.setdefault(str(name), path)
    return out


def _norm(v: Any) -> Any:
    """Compare values whatever their YAML type: dates as text, mappings and lists recursively."""
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, dict):
        return {str(k): _norm(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_norm(x) for x in v]
    return v


def _show(v: Any) -> str:
    n = _norm(v)
    text = repr(n) if not isinstance(n, list | dict) else str(n)
    return text if len(text) <= 80 else text[:77] + "..."


def _styled(key: str, value: Any, in_flow_item: bool = False) -> Any:
    """Python data -> ruamel nodes in the style of the hand-written example files."""
    if isinstance(value, dict):
        m = CommentedMap()
        for k, v in value.items():
            m[k] = _styled(k, v, in_flow_item)
        if in_flow_item or key == "window":
            m.fa.set_flow_style()
        return m
    if isinstance(value, list):
        seq = CommentedSeq()
        for item in value:
            long_text = isinstance(item, dict) and any(isinstance(x, str) and len(x) > 60 for x in item.values())
            seq.append(_styled(key, item, key in FLOW_ITEMS and not long_text))
        if key not in BLOCK_LISTS or in_flow_item:
            seq.fa.set_flow_style()
        return seq
    if isinstance(value, str) and len(value) == 10 and value[4:5] == "-" and value[7:8] == "-":
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    if isinstance(value, str) and _needs_quotes(value):
        return DoubleQuotedScalarString(value)
    return value


_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers  # YAML 1.1: first character -> [(tag, regexp)]
_STR = "tag:yaml.org,2002:str"


def _needs_quotes(text: str) -> bool:
    """Would the inventory loader (YAML 1.1) read this plain text as something else (12:00, yes, 0800)?
    ruamel.yaml writes YAML 1.2 and quotes only what 1.2 would misread. (The resolvers' regexps, not a
    parse per value: the import of a large register spends its time in serialisation, not here.)"""
    if not text or text.startswith("+") or re.match(r"^\d{1,2}:\d\d$", text, re.ASCII):
        return True
    return any(tag != _STR and regexp.match(text) for tag, regexp in [*_IMPLICIT.get(text[0], []),
                                                                       *_IMPLICIT.get(None, [])])


_CHILD_KIND = {"systems": "system", "entry_paths": "entry_path", "access": "access"}


def _ordered(kind: str, value: Any) -> Any:
    """Keys in the order a hand-written file has them (recursively), whatever the source's order."""
    if isinstance(value, list):
        return [_ordered(kind, v) for v in value]
    if not isinstance(value, dict):
        return value
    order = ORDERS.get(kind, ())
    keys = sorted(value, key=lambda k: order.index(k) if k in order else len(order))
    return {k: _ordered(_CHILD_KIND.get(k, k), value[k]) for k in keys}


def _insert(m: CommentedMap, key: str, value: Any, order: tuple[str, ...]) -> None:
    if key not in order:
        m[key] = value
        return
    rank = order.index(key)
    pos = len(m)
    for i, k in enumerate(m):
        if k in order and order.index(k) > rank:
            pos = i
            break
    m.insert(pos, key, value)


def _identity(kind: str, item: Any) -> Any:
    if not isinstance(item, dict):
        return None
    if kind == "accounts":
        return item.get("id")
    if kind == "flows":
        d = "from" if "from" in item else "to"
        return (d, item.get(d))
    return item.get("name")


_NAMED_LISTS = {("vendor", "systems"), ("vendor", "entry_paths"), ("vendor", "accounts"), ("system", "flows")}


def _merge_map(m: Any, new: dict[str, Any], where: str, kind: str, fc: FileChange) -> None:
    order = ORDERS.get(kind, ())
    for key, value in new.items():
        here = f"{where}.{key}"
        if (kind, key) in _NAMED_LISTS and isinstance(value, list):
            cur = m.get(key)
            if not isinstance(cur, list):
                _insert(m, key, _styled(key, _ordered(_CHILD_KIND.get(key, key), value)), order)
                fc.changes.append(f"{here}: added {len(value)}")
                continue
            _merge_list(cur, value, here, key, fc)
            continue
        if key not in m:
            _insert(m, key, _styled(key, _ordered(_CHILD_KIND.get(key, key), value)), order)
            fc.changes.append(f"{here}: set to {_show(value)}")
            continue
        cur = m[key]
        if isinstance(value, dict) and isinstance(cur, dict):
            _merge_map(cur, value, here, key, fc)
        elif _norm(cur) != _norm(value):
            fc.changes.append(f"{here}: {_show(cur)} -> {_show(value)}")
            m[key] = _styled(key, value)


def _merge_list(cur: Any, new: list[Any], where: str, kind: str, fc: FileChange) -> None:
    index = {_identity(kind, item): i for i, item in enumerate(cur)}
    seen = set()
    item_kind = {"systems": "system", "entry_paths": "entry_path", "accounts": "account", "flows": "flow"}[kind]
    for item in new:
        ident = _identity(kind, item)
        seen.add(ident)
        label = ident if not isinstance(ident, tuple) else " ".join(map(str, ident))
        if ident in index:
            _merge_map(cur[index[ident]], item, f"{where}[{label}]", item_kind, fc)
        else:
            long_text = any(isinstance(x, str) and len(x) > 60 for x in item.values())
            cur.append(_styled(kind, _ordered(item_kind, item), kind in FLOW_ITEMS and not long_text))
            fc.changes.append(f"{where}: added {label}")
            index[ident] = len(cur) - 1
    if kind in ("systems", "entry_paths", "accounts"):
        for ident in index:
            if ident not in seen and ident is not None:
                fc.kept.append(f"{where}[{ident}]")


def merge(root: str, batch: Batch) -> Plan:
    existing = vendor_files(root)
    y = _yaml()
    by_file: dict[str, list[str]] = {}
    for vendor in sorted(batch.vendors):
        path = existing.get(vendor) or os.path.join(root, DOMAIN_DIR, "vendors", f"{vendor}.yml")
        by_file.setdefault(path, []).append(vendor)
    files = []
    for path, vendors in sorted(by_file.items()):
        rel = os.path.relpath(path, root)
        created = not os.path.exists(path)
        if created:
            before = ""
            doc = CommentedMap()
        else:
            with open(path, encoding="utf-8") as fh:
                before = fh.read()
            doc = y.load(before) or CommentedMap()
        fc = FileChange(rel, created, before, before)
        top = doc.get("vendors")
        if not isinstance(top, dict):
            top = CommentedMap()
            doc["vendors"] = top
        for vendor in vendors:
            data = batch.vendors[vendor]
            if vendor not in top or not isinstance(top[vendor], dict):
                top[vendor] = CommentedMap()
                fc.changes.append(f"vendors.{vendor}: new vendor")
            _merge_map(top[vendor], data, f"vendors.{vendor}", "vendor", fc)
        if not fc.changes and not created:  # nothing merged in: the file stays byte for byte (and no dump)
            files.append(fc)
            continue
        out = io.StringIO()
        y.dump(doc, out)
        text = out.getvalue()
        if created:
            text = HEADER.format(source=os.path.basename(batch.source)) + text
        fc.after = text
        files.append(fc)
    return Plan(files)


def write(root: str, plan: Plan) -> None:
    for f in plan.changed:
        path = os.path.join(root, f.path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(f.after)
        os.replace(tmp, path)
