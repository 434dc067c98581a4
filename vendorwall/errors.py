"""One error format for everything a user can get wrong.

Every problem is a :class:`Diagnostic`: where (file:line and a dotted path such as
``vendors.acme-imaging.systems[2].site``), what was expected, what was found, and a hint.
Stages collect diagnostics in a :class:`Report` and stop at the stage barrier, so a user
fixes everything in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

EXIT_OK = 0
EXIT_FAIL = 1  # a run that could not do its job (device unreachable, lab mismatch...)
EXIT_INVALID = 2  # bad input: the inventory, the lock file or the command line


@dataclass(frozen=True, order=True)
class Diagnostic:
    file: str
    line: int
    path: str
    message: str
    expected: str = ""
    found: str = ""
    hint: str = ""
    code: str = "invalid"
    column: int = 0  # 1-based column of a spreadsheet cell (importers); 0 for YAML

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        if self.line and self.column:
            where += f":{self.column}"
        path, message = _printable(self.path), _printable(self.message)
        head = f"{where}: {path}: {message}" if path else f"{where}: {message}"
        lines = [f"error: {head}"]
        if self.expected:
            lines.append(f"  expected: {_printable(self.expected)}")
        if self.found:
            lines.append(f"  found:    {_printable(self.found)}")
        if self.hint:
            lines.append(f"  hint:     {_printable(self.hint)}")
        return "\n".join(lines)


def _printable(text: str) -> str:
    """One line per field, whatever the input held (control characters escaped)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@dataclass
class Report:
    """Collects diagnostics of one stage; the pipeline stops at the barrier if any."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, diag: Diagnostic) -> None:
        self.items.append(diag)

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        self.items.extend(diags)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.sorted())

    def sorted(self) -> list[Diagnostic]:
        # Stable, reviewable order: by file, line, path, then text; duplicates removed.
        return sorted(set(self.items))

    def render(self) -> str:
        diags = self.sorted()
        body = "\n".join(d.render() for d in diags)
        n = len(diags)
        return f"{body}\n{n} error{'s' if n != 1 else ''} found"


class VendorwallError(Exception):
    """Raised at a stage barrier; carries every diagnostic collected so far."""

    def __init__(self, diagnostics: Iterable[Diagnostic], stage: str = "") -> None:
        self.diagnostics = sorted(set(diagnostics))
        self.stage = stage
        super().__init__(f"{len(self.diagnostics)} error(s) in stage {stage or '?'}")

    def render(self) -> str:
        rep = Report(list(self.diagnostics))
        return rep.render()


# Characters refused in every text vendorwall takes (inventory strings, --reason, --ticket...): they would
# reach a terminal (ESC sequences), a report, a journal or a device's configuration as is: C0 controls but
# tab and newline, DEL, C1 controls, zero-width and bidirectional marks ("Trojan Source"), BOM.
BAD_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def plain_text(option: str, value: str) -> str:
    """``value`` of a command-line text option, refused (UsageError) if it holds a control, invisible or
    bidirectional character, or a newline."""
    m = BAD_CHARS.search(value) or re.search("[\n\r]", value)
    if m:
        raise UsageError(f"{option}: control or invisible character U+{ord(m.group(0)):04X} in {value[:60]!r}",
                         "type the text plainly: it goes to the journal, the report and the devices as is")
    return value


class UsageError(Exception):
    """A bad command line or environment (not the inventory): message plus a hint."""

    def __init__(self, message: str, hint: str = "", exit_code: int = EXIT_INVALID) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def render(self) -> str:
        text = f"error: {self.message}"
        if self.hint:
            text += f"\n  hint:     {self.hint}"
        return text
