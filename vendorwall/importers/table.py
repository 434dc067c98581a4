"""Read a CSV file or an XLSX sheet as rows of cells that know where they are (file:row:column).

CSV: UTF-8 (a byte-order mark is fine) or Windows-1252 as spreadsheets save it, separated by
``,`` or ``;`` (detected from the header line). XLSX: read with openpyxl, values as text.
The first non-empty row is the header; headers are matched without case, accents, spaces,
``_`` or ``-`` (``Access mode``, ``access_mode`` and ``ACCESS-MODE`` are one column).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import unicodedata
from dataclasses import dataclass

from ..errors import Diagnostic


def norm_header(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in ascii_text if ch.isalnum())


def column_letter(index: int) -> str:
    """1 -> A, 27 -> AA."""
    out = ""
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


@dataclass(frozen=True)
class Cell:
    file: str
    row: int  # 1-based, as the spreadsheet shows it
    col: int  # 1-based
    header: str
    value: str

    def diag(self, message: str, expected: str = "", found: str | None = None, hint: str = "",
             code: str = "import") -> Diagnostic:
        shown = repr(self.value) if found is None else found
        return Diagnostic(self.file, self.row, f"{self.header} (column {column_letter(self.col)})", message,
                          expected, shown, hint, code, self.col)


@dataclass
class Table:
    file: str  # as shown in messages (a sheet of a workbook: book.xlsx[flows])
    headers: dict[str, tuple[int, str]]  # normalised header -> (column, header as written)
    rows: list[tuple[int, dict[str, Cell]]]  # (row number, normalised header -> cell); empty cells left out

    def has(self, key: str) -> bool:
        return key in self.headers


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _table(shown: str, raw_rows: list[list[object]]) -> Table:
    headers: dict[str, tuple[int, str]] = {}
    rows: list[tuple[int, dict[str, Cell]]] = []
    header_row = 0
    for i, raw in enumerate(raw_rows, 1):
        values = [_text(v) for v in raw]
        if not header_row:
            if any(values):
                header_row = i
                for j, h in enumerate(values, 1):
                    if h:
                        headers.setdefault(norm_header(h), (j, h))
            continue
        if not any(values):
            continue
        cells: dict[str, Cell] = {}
        for key, (j, h) in headers.items():
            if j <= len(values) and values[j - 1]:
                cells[key] = Cell(shown, i, j, h, values[j - 1])
        rows.append((i, cells))
    return Table(shown, headers, rows)


def read_csv(path: str, shown: str | None = None) -> tuple[Table | None, list[Diagnostic]]:
    shown = shown or path
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        return None, [Diagnostic(shown, 0, "", "cannot read file", "a readable CSV file", exc.strerror or str(exc),
                                 "", "io")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")  # what Excel saves as "CSV" on a French Windows
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    rows: list[list[object]] = [list(r) for r in csv.reader(io.StringIO(text), delimiter=delimiter)]
    return _table(shown, rows), []


def read_xlsx(path: str, sheet: str | None = None,
              shown: str | None = None) -> tuple[dict[str, Table], list[Diagnostic]]:
    """Every sheet of a workbook (or one), keyed by normalised sheet name."""
    import openpyxl

    shown = shown or path
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a file that is not a workbook
        return {}, [Diagnostic(shown, 0, "", "cannot read workbook", "an .xlsx file (Excel, LibreOffice)",
                               f"{type(exc).__name__}: {exc}", "save the spreadsheet as .xlsx, or as CSV", "io")]
    out: dict[str, Table] = {}
    try:
        for ws in book.worksheets:
            if sheet is not None and norm_header(ws.title) != norm_header(sheet):
                continue
            rows = [list(r) for r in ws.iter_rows(values_only=True)]
            out[norm_header(ws.title)] = _table(f"{shown}[{ws.title}]", rows)
    finally:
        book.close()
    return out, []


def exists(path: str) -> bool:
    return os.path.isfile(path)
