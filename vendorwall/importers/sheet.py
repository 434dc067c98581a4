"""The spreadsheet template: the télémaintenance register a CISO keeps, as CSV or XLSX.

One row per maintained system (sheet ``systems``, or the CSV file itself), the vendor's own
columns repeated or left blank after the first row of that vendor. Optional sheets for what a
row cannot hold: ``entry_paths``, ``flows``, ``accounts`` (as CSV: ``NAME.entry_paths.csv``,
``NAME.flows.csv``, ``NAME.accounts.csv`` beside ``NAME.csv``). Columns are listed in
:data:`SHEETS` and docs/import.md; only ``vendor`` and ``system`` are required, so a sheet
with a few columns updates just those fields of an existing inventory.

Every cell that cannot be read is reported as file:row:column with the column's header.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from ..errors import Diagnostic
from . import Batch
from .table import Cell, Table, norm_header, read_csv, read_xlsx

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SPLIT = re.compile(r"[,;\s]+")


class Bad(ValueError):
    """A cell value that does not fit: message, expected, hint."""

    def __init__(self, message: str, expected: str, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.expected, self.hint = message, expected, hint


# --------------------------------------------------------------------------- cell parsers


def p_text(v: str) -> str:
    return v


def p_name(v: str) -> str:
    if not NAME.match(v):
        raise Bad("malformed name", "lower-case letters, digits and '-', at most 40 characters",
                  f"for example {slug_hint(v)!r}")
    return v


def slug_hint(v: str) -> str:
    from . import slug

    return slug(v) or "name"


def p_names(v: str) -> list[str]:
    out = [x for x in SPLIT.split(v) if x]
    for x in out:
        p_name(x)
    return list(dict.fromkeys(out))


def p_list(v: str) -> list[str]:
    return list(dict.fromkeys(x.strip() for x in v.split(";" if ";" in v else ",") if x.strip()))


def p_int(v: str) -> int:
    if not v.isdigit():
        raise Bad("not a whole number", "a number such as 4")
    return int(v)


def p_vlan(v: str) -> int:
    n = p_int(v)
    if not 2 <= n <= 4094:
        raise Bad("VLAN id out of range", "2 to 4094")
    return n


def p_date(v: str) -> dt.date:
    text = v.strip()
    m = re.match(r"^(\d{1,2})/(\d{1,2})/(\d{4})$", text)  # 31/03/2029 as French spreadsheets write it
    if m:
        text = f"{m[3]}-{int(m[2]):02d}-{int(m[1]):02d}"
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise Bad("invalid date", "a date YYYY-MM-DD (or DD/MM/YYYY)") from None


def p_addresses(v: str) -> list[str]:
    out = []
    for x in SPLIT.split(v):
        if not x:
            continue
        try:
            IPv4Address(x)
        except ValueError:
            raise Bad("malformed address", "IPv4 addresses such as 10.64.0.18, separated by ',' or ';'") from None
        out.append(x)
    return out


def p_prefix(v: str) -> str:
    try:
        return str(IPv4Network(v))
    except ValueError:
        raise Bad("malformed prefix", "an IPv4 prefix such as 10.200.1.0/27 (network address, no host bits)") \
            from None


def p_prefixes(v: str) -> list[str]:
    return [p_prefix(x) for x in SPLIT.split(v) if x]


def p_enum(*allowed: str, aliases: dict[str, str] | None = None) -> Callable[[str], str]:
    table = {norm_header(a): a for a in allowed}
    table.update({norm_header(k): a for k, a in (aliases or {}).items()})

    def parse(v: str) -> str:
        hit = table.get(norm_header(v))
        if hit is None:
            raise Bad("value not allowed", "one of: " + ", ".join(allowed))
        return hit

    return parse


def p_bool(v: str) -> bool:
    return p_enum("yes", "no", aliases={"true": "yes", "false": "no", "oui": "yes", "non": "no", "x": "yes",
                                        "1": "yes", "0": "no"})(v) == "yes"


def p_window(v: str) -> dict[str, Any]:
    m = re.match(r"^\s*([A-Za-z,\s]+?)\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$", v, re.ASCII)
    expected = 'days and hours such as "tue,thu 08:00-12:00"'
    if not m:
        raise Bad("malformed window", expected)
    days = [d.strip().lower()[:3] for d in m[1].split(",") if d.strip()]
    start, end = (t.zfill(5) for t in (m[2], m[3]))
    if any(d not in DAYS for d in days) or not TIME.match(start) or not TIME.match(end):
        raise Bad("malformed window", expected, "days are mon..sun, times HH:MM (24 h)")
    return {"days": days, "start": start, "end": end}


def p_ports(v: str) -> list[dict[str, str]]:
    out = []
    for part in v.split(";"):
        bits = part.split()
        if not bits:
            continue
        if len(bits) != 2:
            raise Bad("malformed switch port", '"SWITCH INTERFACE", several separated by ";" '
                      '(e.g. "sw-nord-1 GigabitEthernet1/0/2")')
        out.append({"switch": p_name(bits[0]), "interface": bits[1]})
    return out


# --------------------------------------------------------------------------- sheets


@dataclass(frozen=True)
class Col:
    header: str  # as the template writes it
    parse: Callable[[str], Any]
    doc: str
    aliases: tuple[str, ...] = ()
    required: bool = False


MODE = p_enum("on_demand", "scheduled", "permanent", aliases={"on demand": "on_demand", "a la demande": "on_demand",
                                                               "demand": "on_demand", "planned": "scheduled",
                                                               "planifie": "scheduled", "permanent": "permanent"})
CRIT = p_enum("vital", "high", "medium", "low", aliases={"critical": "vital", "critique": "vital", "haute": "high",
                                                         "moyenne": "medium", "basse": "low"})

SYSTEM_COLS = (
    Col("vendor", p_name, "vendor name (one file per vendor)", ("vendor name", "fournisseur"), True),
    Col("system", p_name, "system name, unique across vendors", ("system name", "name", "systeme"), True),
    Col("site", p_name, "a site of sites.yml"),
    Col("function", p_text, "what it is, in its users' words", ("fonction", "description")),
    Col("criticality", CRIT, "vital, high, medium or low", ("criticite",)),
    Col("owner", p_text, "internal owner (e-mail)", ("responsable",)),
    Col("address", p_addresses, "current address(es), kept (pinned)", ("addresses", "ip", "ip address", "adresse ip")),
    Col("vlan", p_vlan, "VLAN id to keep (pinned)"),
    Col("segment", p_enum("dedicated", "shared"), "dedicated (default) or shared"),
    Col("switch ports", p_ports, '"SWITCH INTERFACE; ..."', ("switch port",)),
    Col("tags", p_names, "groups the system belongs to (modality, lab-analyser...)", ("groups",)),
    Col("network", p_name, "an existing network of its site that its segment adopts (brownfield)"),
    Col("current address", lambda v: p_addresses(v)[0] if len(p_addresses(v)) == 1 else _bad_one(),
        "where the device is today when it moves to a new segment"),
    Col("current vlan", p_vlan, "its VLAN today"),
    Col("infrastructure skip", p_names, "infrastructure services it does not use"),
    Col("infrastructure add", p_names, "opt-in infrastructure services it uses"),
    Col("access mode", MODE, "on_demand, scheduled or permanent", ("mode", "mode d'acces")),
    Col("services", p_names, "services the vendor reaches (catalogue names)"),
    Col("via", p_names, "entry paths allowed (default: all of the vendor's)"),
    Col("max hours", p_int, "on_demand: longest opening in hours"),
    Col("window", p_window, 'scheduled: "tue,thu 08:00-12:00"'),
    Col("justification", p_text, "permanent: why"),
    Col("until", p_date, "permanent: end date"),
    Col("exception services", p_names, "forbidden services allowed by exception"),
    Col("exception justification", p_text, "why the exception"),
    Col("exception approved by", p_text, "who approved it"),
    Col("approvers", p_list, "who approves access to this system (default: the vendor's)"),
    Col("vendor title", p_text, "vendor display name", ("vendor display name",)),
    Col("hotline", p_text, "vendor support number", ("contact", "vendor contact", "support")),
    Col("security contact", p_text, "vendor security contact"),
    Col("contract reference", p_text, "contract reference", ("contract", "contrat")),
    Col("contract end", p_date, "contract end date", ("contract ends", "fin de contrat")),
    Col("vendor approvers", p_list, "who approves the vendor's access requests"),
)
PATH_COLS = (
    Col("vendor", p_name, "vendor name", (), True),
    Col("name", p_name, "entry path name", ("entry path",), True),
    Col("kind", p_enum("bastion", "vpn", "lan_to_lan", aliases={"lan to lan": "lan_to_lan", "l2l": "lan_to_lan"}),
        "bastion, vpn or lan_to_lan", (), True),
    Col("bastion", p_name, "bastion: a host of the bastions group"),
    Col("source", p_prefix, "bastion: prefix it uses for this vendor"),
    Col("shared egress", p_bool, "bastion: yes when it reaches targets from one egress shared by all its vendors"),
    Col("pool", p_prefix, "vpn: the vendor's pool"),
    Col("peer", lambda v: str(IPv4Address(v)) if _is_addr(v) else _bad_addr(), "lan_to_lan: tunnel peer address"),
    Col("remote subnets", p_prefixes, "lan_to_lan: the vendor's subnets"),
    Col("justification", p_text, "lan_to_lan: why it cannot be avoided yet"),
    Col("retire by", p_date, "lan_to_lan: retirement date"),
    Col("purpose", p_enum("maintenance", "interface"), "lan_to_lan: maintenance (default) or interface"),
    Col("systems", p_names, "lan_to_lan: the only systems it may reach"),
    Col("services", p_names, "lan_to_lan: the only services it may carry"),
    Col("replacement", p_name, "lan_to_lan: the bastion or VPN entry path replacing it"),
    Col("checklist", p_list, "lan_to_lan: retirement checklist, items separated by ';'"),
)
FLOW_COLS = (
    Col("system", p_name, "the system the flow belongs to", (), True),
    Col("direction", p_enum("from", "to"), "from (peer connects to the system) or to", (), True),
    Col("peer", p_name, "a client group, a system or a group of systems", (), True),
    Col("services", p_names, "services of the flow", (), True),
    Col("keep", p_bool, "yes: keep it when the vendor is isolated"),
    Col("vendor", p_name, "the system's vendor (default: from the systems sheet)"),
)
ACCOUNT_COLS = (
    Col("vendor", p_name, "vendor name", (), True),
    Col("id", lambda v: _account_id(v), "login", ("login", "account"), True),
    Col("person", p_text, "one named person", (), True),
    Col("email", p_text, "e-mail", (), True),
    Col("expires", p_date, "expiry date", (), True),
    Col("created", p_date, "creation date"),
    Col("owner", p_text, "internal person responsible"),
    Col("ssh key", p_text, "public key"),
)
SHEETS = {"systems": SYSTEM_COLS, "entry_paths": PATH_COLS, "flows": FLOW_COLS, "accounts": ACCOUNT_COLS}


def _bad_one() -> str:
    raise Bad("one address expected", "the device's single address today, e.g. 10.10.50.31")


def _is_addr(v: str) -> bool:
    try:
        IPv4Address(v)
    except ValueError:
        return False
    return True


def _bad_addr() -> str:
    raise Bad("malformed address", "an IPv4 address such as 198.51.100.10")


def _account_id(v: str) -> str:
    if not re.match(r"^[a-z][a-z0-9._-]{1,31}$", v):
        raise Bad("malformed account id", "a login: lower-case letter first, then letters, digits, '.', '_' or '-'")
    return v


# --------------------------------------------------------------------------- reading


class _Reader:
    def __init__(self, table: Table, cols: tuple[Col, ...], diags: list[Diagnostic]) -> None:
        self.table = table
        self.diags = diags
        self.col_key: dict[str, str] = {}  # column header -> normalised header present in the table
        for c in cols:
            for h in (c.header, *c.aliases):
                if norm_header(h) in table.headers:
                    self.col_key[c.header] = norm_header(h)
                    break
        known = set(self.col_key.values())
        for key, (j, h) in sorted(table.headers.items(), key=lambda kv: kv[1][0]):
            if key not in known:
                diags.append(Diagnostic(table.file, 1, f"{h} (column {j})", "unknown column",
                                        "a column of the template", repr(h),
                                        "known columns: " + ", ".join(c.header for c in cols), "import", j))
        for c in cols:
            if c.required and c.header not in self.col_key:
                diags.append(Diagnostic(table.file, 1, "", f"missing column {c.header!r}",
                                        "a header row naming at least: " +
                                        ", ".join(x.header for x in cols if x.required), "no such column",
                                        "see docs/import.md for the template", "import"))
        self.cols = {c.header: c for c in cols}

    @property
    def usable(self) -> bool:
        return all(c.header in self.col_key for c in self.cols.values() if c.required)

    def rows(self) -> list[tuple[int, dict[str, tuple[Any, Cell]]]]:
        out = []
        for rownum, cells in self.table.rows:
            vals: dict[str, tuple[Any, Cell]] = {}
            ok = True
            for header, key in self.col_key.items():
                cell = cells.get(key)
                if cell is None:
                    continue
                try:
                    vals[header] = (self.cols[header].parse(cell.value), cell)
                except Bad as exc:
                    self.diags.append(cell.diag(exc.message, exc.expected, hint=exc.hint))
                    if self.cols[header].required:
                        ok = False
            for c in self.cols.values():
                if c.required and c.header not in vals and ok:
                    j = self.table.headers[self.col_key[c.header]][0] if c.header in self.col_key else 0
                    self.diags.append(Diagnostic(self.table.file, rownum, f"{c.header} (column {_letter(j)})",
                                                 f"empty {c.header}", c.doc, "an empty cell", "", "import", j))
                    ok = False
            if ok:
                out.append((rownum, vals))
        return out


def _letter(j: int) -> str:
    from .table import column_letter

    return column_letter(j) if j else "?"


def load_tables(path: str, shown: str | None = None) -> tuple[dict[str, Table], list[Diagnostic]]:
    """The template's sheets from an .xlsx workbook, or from NAME.csv and its NAME.<sheet>.csv siblings."""
    shown = shown or path
    if path.lower().endswith((".xlsx", ".xlsm")):
        books, diags = read_xlsx(path, shown=shown)
        tables = {k: t for k, t in books.items() if k in {norm_header(s) for s in SHEETS}}
        named = {norm_header(s): s for s in SHEETS}
        return {named[k]: t for k, t in tables.items()}, diags
    out: dict[str, Table] = {}
    table, diags = read_csv(path, shown)
    if table is not None:
        out["systems"] = table
    stem = path[:-4] if path.lower().endswith(".csv") else path
    shown_stem = shown[:-4] if shown.lower().endswith(".csv") else shown
    for sheet in ("entry_paths", "flows", "accounts"):
        sib = f"{stem}.{sheet}.csv"
        if os.path.isfile(sib):
            t, d = read_csv(sib, f"{shown_stem}.{sheet}.csv")
            diags += d
            if t is not None:
                out[sheet] = t
    return out, diags


_VENDOR_FIELDS = {"vendor title": ("title",), "hotline": ("hotline",), "security contact": ("security_contact",),
                  "contract reference": ("contract", "reference"), "contract end": ("contract", "ends"),
                  "vendor approvers": ("approvers",)}


def read(path: str, shown: str | None = None) -> Batch:
    tables, diags = load_tables(path, shown)
    batch = Batch(shown or path, diags=diags)
    if "systems" not in tables:
        if not diags:
            batch.diags.append(Diagnostic(shown or path, 0, "", "no systems sheet",
                                          "a sheet named 'systems' (XLSX) or a CSV file", "none", "", "import"))
        return batch
    vendor_seen: dict[tuple[str, tuple[str, ...]], tuple[Any, Cell]] = {}
    vendor_of: dict[str, str] = {}
    r = _Reader(tables["systems"], SYSTEM_COLS, batch.diags)
    if r.usable:
        for _row, vals in r.rows():
            vendor = vals["vendor"][0]
            name, ncell = vals["system"]
            if name in vendor_of:
                batch.diags.append(ncell.diag("system listed twice", "one row per system", hint=(
                    f"its first row belongs to vendor {vendor_of[name]}")))
                continue
            vendor_of[name] = vendor
            v = batch.vendor(vendor)
            for header, path_ in _VENDOR_FIELDS.items():
                if header not in vals:
                    continue
                value, cell = vals[header]
                prev = vendor_seen.get((vendor, path_))
                if prev is not None and prev[0] != value:
                    batch.diags.append(cell.diag(f"conflicting {header} for vendor {vendor}", repr(prev[0]) +
                                                 f" as in row {prev[1].row}", hint="leave the cell empty after the "
                                                 "vendor's first row, or write the same value"))
                    continue
                vendor_seen[(vendor, path_)] = (value, cell)
                _put(v, path_, value)
            s = batch.system(vendor, name)
            _system_fields(s, vals)
    if "entry_paths" in tables:
        r = _Reader(tables["entry_paths"], PATH_COLS, batch.diags)
        if r.usable:
            for _row, vals in r.rows():
                _entry_path(batch, vals)
    if "flows" in tables:
        r = _Reader(tables["flows"], FLOW_COLS, batch.diags)
        if r.usable:
            for _row, vals in r.rows():
                name, cell = vals["system"]
                vendor = vals["vendor"][0] if "vendor" in vals else vendor_of.get(name)
                if vendor is None:
                    batch.diags.append(cell.diag("flow of a system the systems sheet does not list",
                                                 "a system of the systems sheet", hint="add a 'vendor' column to "
                                                 "the flows sheet to add flows to a system already in the inventory"))
                    continue
                flow: dict[str, Any] = {vals["direction"][0]: vals["peer"][0], "services": vals["services"][0]}
                if "keep" in vals and vals["keep"][0]:
                    flow["keep"] = True
                batch.system(vendor, name).setdefault("flows", []).append(flow)
    if "accounts" in tables:
        r = _Reader(tables["accounts"], ACCOUNT_COLS, batch.diags)
        if r.usable:
            for _row, vals in r.rows():
                acc = {"id": vals["id"][0], "person": vals["person"][0], "email": vals["email"][0]}
                for header, key in (("created", "created"), ("expires", "expires"), ("owner", "owner"),
                                    ("ssh key", "ssh_key")):
                    if header in vals:
                        acc[key] = vals[header][0]
                batch.vendor(vals["vendor"][0]).setdefault("accounts", []).append(acc)
    return batch


def _put(d: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for k in path[:-1]:
        d = d.setdefault(k, {})
    d[path[-1]] = value


def _system_fields(s: dict[str, Any], vals: dict[str, tuple[Any, Cell]]) -> None:
    simple = {"site": "site", "function": "function", "criticality": "criticality", "owner": "owner",
              "segment": "segment", "address": "addresses", "vlan": "vlan", "switch ports": "switch_ports",
              "tags": "tags", "approvers": "approvers", "network": "network"}
    for header, key in simple.items():
        if header in vals:
            s[key] = vals[header][0]
    current = {k: vals[h][0] for h, k in (("current address", "address"), ("current vlan", "vlan")) if h in vals}
    if current:
        s["current"] = current
    infra = {k: vals[h][0] for h, k in (("infrastructure skip", "skip"), ("infrastructure add", "add")) if h in vals}
    if infra:
        s["infrastructure"] = infra
    access: dict[str, Any] = {}
    for header, key in (("access mode", "mode"), ("services", "services"), ("via", "via"), ("max hours", "max_hours"),
                        ("window", "window"), ("justification", "justification"), ("until", "until")):
        if header in vals:
            access[key] = vals[header][0]
    exc = {}
    for header, key in (("exception services", "services"), ("exception justification", "justification"),
                        ("exception approved by", "approved_by")):
        if header in vals:
            exc[key] = vals[header][0]
    if exc:
        access["exception"] = exc
    if access:
        s["access"] = access


def _entry_path(batch: Batch, vals: dict[str, tuple[Any, Cell]]) -> None:
    kind, kcell = vals["kind"]
    path: dict[str, Any] = {"name": vals["name"][0], "kind": kind}
    shared = kind == "bastion" and "shared egress" in vals and vals["shared egress"][0]
    need = {"bastion": ("bastion",) if shared else ("bastion", "source"), "vpn": ("pool",),
            "lan_to_lan": ("peer", "remote subnets")}[kind]
    for header in need:
        if header not in vals:
            batch.diags.append(kcell.diag(f"{kind} entry path without {header}", f"a {header!r} cell on this row",
                                          found="an empty cell"))
            return
    for header, key in (("bastion", "bastion"), ("source", "source"), ("pool", "pool"), ("peer", "peer"),
                        ("remote subnets", "remote_subnets"), ("justification", "justification"),
                        ("retire by", "retire_by"), ("purpose", "purpose"), ("systems", "systems"),
                        ("services", "services"), ("replacement", "replacement"), ("checklist", "checklist")):
        if header in vals and (header in need or (kind == "lan_to_lan" and header in _TUNNEL_COLUMNS)):
            path[key] = vals[header][0]
    if shared:
        path["shared_egress"] = True
    batch.vendor(vals["vendor"][0]).setdefault("entry_paths", []).append(path)


_TUNNEL_COLUMNS = ("justification", "retire by", "purpose", "systems", "services", "replacement", "checklist")


def template_rows() -> dict[str, list[str]]:
    """The header row of each sheet (``vendorwall import template``)."""
    return {sheet: [c.header for c in cols] for sheet, cols in SHEETS.items()}
