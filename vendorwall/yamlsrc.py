"""YAML loading that remembers where every value came from.

``load_file`` returns plain Python data (dicts, lists, str, int, float, bool, None) and a
:class:`Source` that maps every dotted path to its line. Dates and timestamps stay strings
(the JSON Schema and the typed model parse them), so the data is JSON-compatible. Duplicate
keys, syntax errors, unreadable and empty files become diagnostics, never tracebacks.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import Diagnostic

try:  # the C parser is ~10x faster on large inventories; fall back when libyaml is absent
    from yaml import CSafeLoader as _Base
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _Base  # type: ignore[assignment]

_RESOLVED: dict[str, str] = {}  # plain scalar text -> its implicit tag (the resolver's answer never changes)


class _Loader(_Base):
    """The safe loader with the implicit-tag resolver memoised per scalar text: composing an
    inventory asks it once per scalar (hundreds of thousands of times, mostly the same words),
    and the resolver tries regular expressions each time. Path resolvers are not used."""

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            tag = _RESOLVED.get(value)
            if tag is None:
                tag = _RESOLVED[value] = super().resolve(kind, value, implicit)
            return tag
        return super().resolve(kind, value, implicit)

Path = tuple[str | int, ...]

_BOOL = {"true": True, "false": False, "yes": True, "no": False, "on": True, "off": False}
_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"
_MERGE = _TAG + "merge"


def dotted(path: Path) -> str:
    """``("vendors", "acme", "systems", 2, "site")`` -> ``vendors.acme.systems[2].site``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def undotted(text: str) -> Path:
    """Inverse of :func:`dotted` (names never contain '.', '[' or ']')."""
    return tuple(int(i) if i else n for n, i in _PART.findall(text))


@dataclass
class Source:
    """Where the values of one file came from: path -> 1-based line."""

    file: str
    lines: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Path) -> int:
        # Walk up to the nearest ancestor we know (a missing key is reported at its parent).
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), 1)


class _Builder:
    def __init__(self, file: str) -> None:
        self.src = Source(file)
        self.diags: list[Diagnostic] = []
        self._ctor = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, path: Path) -> Any:
        lines = self.src.lines
        lines[path] = node.start_mark.line + 1
        cls = type(node)
        if cls is yaml.ScalarNode:
            return self._scalar(node)  # type: ignore[arg-type]
        if cls is yaml.MappingNode:
            out: dict[str, Any] = {}
            first: dict[str, int] = {}
            for knode, vnode in node.value:
                if knode.tag == _MERGE:
                    self._diag(knode, path, "YAML merge keys (<<) are not supported",
                               "plain keys", "<<", "write the keys out; reviewers read them in the diff")
                    continue
                if type(knode) is not yaml.ScalarNode:
                    self._diag(knode, path, "a mapping key must be a plain string",
                               "a string key", knode.tag.replace(_TAG, ""), "")
                    continue
                key = str(knode.value)
                kline = knode.start_mark.line + 1
                kpath = (*path, key)
                if key in first:
                    self._diag(knode, kpath, "duplicate key",
                               "each key once per mapping", f"{key!r} again (first at line {first[key]})",
                               "remove or merge one of the two entries")
                    continue
                first[key] = kline
                if type(vnode) is yaml.ScalarNode and vnode.tag == _STR:  # the common leaf, inline
                    out[key] = vnode.value
                else:
                    out[key] = self.build(vnode, kpath)
                lines[kpath] = kline
            return out
        if cls is yaml.SequenceNode:
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        return self._scalar(node)

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        tag = node.tag
        value = node.value
        if tag == _TAG + "str":
            return value
        if tag == _TAG + "int":
            return self._ctor.construct_yaml_int(node)
        if tag == _TAG + "bool":
            return _BOOL[value.lower()]
        if tag == _TAG + "null":
            return None
        if tag == _TAG + "float":
            return self._ctor.construct_yaml_float(node)
        # timestamps, binary and custom tags stay text: the schema says what is expected
        return str(value)

    def _diag(self, node: yaml.Node, path: Path, message: str, expected: str, found: str,
              hint: str) -> None:
        self.diags.append(Diagnostic(self.src.file, node.start_mark.line + 1, dotted(path), message,
                                     expected, found, hint, code="yaml"))


def _syntax_diag(exc: yaml.YAMLError, text: str, display: str) -> Diagnostic:
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow (NUL, control...)
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return Diagnostic(display, line, "", "character not allowed in YAML", "printable text",
                          f"{char!r} (U+{ord(char):04X})", "remove the character; is this a text file?", code="yaml")
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        found = exc.problem or "syntax error"
        ctx = exc.context_mark
        opened = exc.context or ""
        if ctx is not None and ctx.line + 1 < line and opened.startswith(
                ("while parsing a flow", "while scanning a quoted")):
            # an unclosed bracket or quote: point at where it was opened
            found = f"{opened[6:]} opened here is not closed before line {line} ({exc.problem})"
            line = ctx.line + 1
            hint = "close the bracket or quote on this line"
        elif exc.context and ctx is not None and ctx.line + 1 != line:
            found += f" ({exc.context} at line {ctx.line + 1})"
            hint = f"check the line {ctx.line + 1} construct: brackets, quotes and indentation"
        else:
            if exc.context:
                found += f" ({exc.context})"
            hint = "check indentation and quoting around this line"
        if "tab character" in found:
            hint = "indent with spaces: YAML does not allow tabs for indentation"
        markers = [i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith(("<<<<<<<", "=======", ">>>>>>>"))]
        if markers:
            line = markers[0]
            found = f"a git merge-conflict marker ({exc.problem})"
            hint = "the file holds git merge-conflict markers (<<<<<<< ======= >>>>>>>): resolve the conflict"
        return Diagnostic(display, line, "", "YAML syntax error", "valid YAML", found, hint, code="yaml")
    return Diagnostic(display, 1, "", "YAML syntax error", "valid YAML", str(exc).splitlines()[0], "", code="yaml")


# Bounds on hostile input (an inventory is data people write: far below each).
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_ALIAS_REFS = 10_000  # alias uses in one file
MAX_ALIAS_NODES = 100_000  # values added by expanding aliases


def _deep(display: str) -> Diagnostic:
    return Diagnostic(display, 1, "", "YAML nesting too deep", "a few nested levels", "hundreds of nested levels",
                      "an inventory needs a handful of levels; is this file generated by mistake?", code="yaml")


def _alias_problem(root: yaml.Node, display: str) -> Diagnostic | None:
    """Refuse an alias bomb (a few bytes expanding to billions of values) and an alias inside its own
    anchor before anything is expanded: one pass over the composed node graph, where an alias is the same
    node object reached again. Sizes are counted, never built."""
    size: dict[int, int] = {}
    onpath: set[int] = set()
    unique = refs = 0
    mapping, sequence = yaml.MappingNode, yaml.SequenceNode
    stack: list[tuple[Any, list[Any] | None]] = [(root, None)]

    def diag(n: yaml.Node, message: str, found: str, hint: str) -> Diagnostic:
        return Diagnostic(display, n.start_mark.line + 1, "", message, "plain YAML values", found, hint, code="yaml")

    bomb = "write the values out (an alias bomb, 'billion laughs', is refused)"
    while stack:
        node, kids = stack.pop()
        k = id(node)
        if kids is None:  # first visit
            if k in size:
                refs += 1
                if refs > MAX_ALIAS_REFS:
                    return diag(node, "YAML aliases expand too much", f"more than {MAX_ALIAS_REFS} alias uses", bomb)
                continue
            if k in onpath:
                return diag(node, "YAML alias refers to itself", "an alias inside the value of its own anchor",
                            "remove the alias: such a value would be infinite")
            unique += 1
            cls = node.__class__
            if cls is mapping:
                kids = [x for kv in node.value for x in kv]
            elif cls is sequence:
                kids = node.value
            else:
                size[k] = 1
                continue
            onpath.add(k)
            stack.append((node, kids))
            stack.extend((c, None) for c in kids)
        else:
            total = 1 + sum(size[id(c)] for c in kids)
            size[k] = total
            onpath.discard(k)
            if total - unique > MAX_ALIAS_NODES:
                return diag(node, "YAML aliases expand too much",
                            f"aliases expanding to more than {MAX_ALIAS_NODES} values", bomb)
    return None


def load_text(text: str, display: str) -> tuple[Any, Source, list[Diagnostic]]:
    """Parse ``text`` (shown as ``display`` in messages)."""
    src = Source(display)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        return None, src, [_syntax_diag(exc, text, display)]
    except RecursionError:
        return None, src, [_deep(display)]
    if node is None:
        return None, src, []
    if "&" in text:  # no anchor, no alias
        problem = _alias_problem(node, display)
        if problem:
            return None, src, [problem]
    builder = _Builder(display)
    try:
        data = builder.build(node, ())
    except RecursionError:
        return None, src, [_deep(display)]
    return data, builder.src, builder.diags


def leaves(path: str, root: str) -> bool:
    """True when ``path`` resolves outside ``root`` (a symbolic link, or a file under a linked directory,
    pointing elsewhere): such a file is refused unread, so nothing of it reaches a message."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return not (real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep))


def leaves_diag(shown: str) -> Diagnostic:
    return Diagnostic(shown, 0, "", "file leaves the inventory", "a file inside the inventory directory",
                      "a symbolic link (or a linked directory) pointing outside it: not read",
                      "copy the file into the inventory (reviewers see its content in the diff) or remove the link",
                      code="io")


def read_file(path: str, display: str | None = None) -> tuple[bytes | None, list[Diagnostic]]:
    """A file's bytes, or a diagnostic naming it as ``display`` (unreadable, larger than MAX_FILE_BYTES)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            return None, [Diagnostic(display or path, 0, "", "file too large",
                                     f"at most {MAX_FILE_BYTES // (1024 * 1024)} MiB",
                                     "more than that", "split it (one file per vendor) or remove it from the inventory",
                                     code="io")]
        return raw, []
    except OSError as exc:
        return None, [Diagnostic(display or path, 0, "", "cannot read file", "a readable file",
                                 exc.strerror or str(exc), "", code="io")]


def load_file(path: str, display: str | None = None) -> tuple[Any, Source, list[Diagnostic]]:
    shown = display or path
    raw, diags = read_file(path, shown)
    if raw is None:
        return None, Source(shown), diags
    return load_bytes(raw, shown)


def load_bytes(raw: bytes, shown: str) -> tuple[Any, Source, list[Diagnostic]]:
    """Decode and parse a file's bytes (shown as ``shown`` in messages)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        byte = raw[exc.start]
        binary = b"\0" in raw[:1024] or exc.start < 8
        hint = ("this looks like a binary file, not YAML: remove it from the inventory" if binary
                else "save the file as UTF-8 (it may be Latin-1 / Windows-1252)")
        return None, Source(shown), [Diagnostic(shown, line, "", "file is not UTF-8 text", "UTF-8 YAML",
                                                f"byte 0x{byte:02x} at line {line}", hint, code="io")]
    return load_text(text, shown)


def relpath(path: str, root: str) -> str:
    try:
        return os.path.relpath(path, root)
    except ValueError:  # pragma: no cover - different drives on Windows
        return path
