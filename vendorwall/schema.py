"""The inventory schema: declared as data (``schema/inventory.schema.json``), published for
editors, and checked here with every violation turned into a readable diagnostic."""

from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema

from .errors import BAD_CHARS, Diagnostic
from .yamlsrc import Source, dotted

SCHEMA_FILE = "inventory.schema.json"


@cache
def schema() -> dict[str, Any]:
    text = resources.files("vendorwall").joinpath("schema", SCHEMA_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _validator() -> jsonschema.Draft202012Validator:
    """jsonschema (imported here, ~0.15 s: only a file the compiled validator refuses needs it)."""
    import jsonschema

    return jsonschema.Draft202012Validator(schema())


@cache
def _fast_validator() -> Any:
    """The optional compiled validator (jsonschema-rs, ~40x faster), or None when not installed.
    It only lets a valid file skip the slow path; every diagnostic still comes from jsonschema."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return jsonschema_rs.Draft202012Validator(schema())


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_TYPE_WORDS = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
               "boolean": "true or false", "number": "a number", "null": "nothing"}


def _expected_type(t: Any) -> str:
    if isinstance(t, list):
        return " or ".join(_TYPE_WORDS.get(x, str(x)) for x in t)
    return _TYPE_WORDS.get(t, str(t))


def _known_keys(err: jsonschema.ValidationError) -> list[str]:
    """Keys the schema allows here; for an entry path, those of its own kind only."""
    keys: set[str] = set()
    sch = err.schema
    keys.update(sch.get("properties", {}))
    inst = err.instance if isinstance(err.instance, dict) else {}
    for sub in sch.get("allOf", []):
        cond = sub.get("if", {}).get("properties", {})
        if all(inst.get(k) == v.get("const") for k, v in cond.items()):
            keys.update(sub.get("then", {}).get("properties", {}))
    return sorted(keys)


def _describe(err: jsonschema.ValidationError) -> tuple[str, str, str, str, list[str | int]]:
    """-> (message, expected, found, hint, extra path)"""
    v = err.validator
    inst = err.instance
    sch = err.schema
    if v in ("additionalProperties", "unevaluatedProperties"):
        known = _known_keys(err)
        extra = sorted(k for k in inst if k not in known) if isinstance(inst, dict) else []
        if not known and isinstance(sch.get("additionalProperties"), dict):
            return "unexpected entry", "", ", ".join(extra), "", []
        if not extra:
            return "", "", "", "", []  # an echo of an error already reported in this object
        key = extra[0]
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(known)}"
        return f"unknown key {key!r}", f"one of: {', '.join(known)}", repr(key), hint, [key]
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return f"missing required key {missing!r}", f"a {missing!r} entry", "no such key", \
            f"add '{missing}:' here (see docs/inventory.md)", []
    if v == "type":
        hint = ""
        if err.validator_value == "string" and isinstance(inst, int | float) and not isinstance(inst, bool):
            hint = 'quote the value: YAML reads 12:00 or 0800 as a number, "12:00" is text'
        elif err.validator_value == "string" and isinstance(inst, bool):
            hint = 'quote the value: YAML reads yes/no/on/off as true/false'
        elif err.validator_value == "integer" and isinstance(inst, str) and inst.isdigit():
            hint = f"write the number without quotes: {inst}"
        return "wrong type", _expected_type(err.validator_value), _type_name(inst), hint, []
    if v == "enum":
        allowed = ", ".join(str(x) for x in err.validator_value)
        close = difflib.get_close_matches(str(inst), [str(x) for x in err.validator_value], n=1)
        hint = f"did you mean {close[0]!r}?" if close else ""
        return "value not allowed", f"one of: {allowed}", _type_name(inst), hint, []
    if v == "const":
        return "value not allowed", repr(err.validator_value), _type_name(inst), "", []
    if v == "pattern":
        desc = sch.get("description") or f"text matching {err.validator_value}"
        return "malformed value", desc, _type_name(inst), "", []
    if v in ("minimum", "maximum"):
        word = "at least" if v == "minimum" else "at most"
        return "value out of range", f"{word} {err.validator_value}", _type_name(inst), "", []
    if v in ("minItems", "maxItems"):
        word = "at least" if v == "minItems" else "at most"
        return "wrong number of items", f"{word} {err.validator_value} item(s)", _type_name(inst), "", []
    if v == "minLength":
        return "empty value", "a non-empty string", _type_name(inst), "", []
    if v == "uniqueItems":
        return "repeated item in list", "each item once", _type_name(inst), "remove the repeated item", []
    if v == "oneOf" and isinstance(err.validator_value, list) and all(
            isinstance(x, dict) and "description" in x for x in err.validator_value):
        alts = " or ".join(x.get("description", "") for x in err.validator_value)
        return "malformed value", alts, _type_name(inst), "", []
    if v == "oneOf" and isinstance(inst, dict) and "services" in inst:
        both = "from" in inst and "to" in inst
        return "a flow needs exactly one direction", "either 'from: PEER' or 'to: PEER'", \
            "both" if both else "neither", "split it into two flows if traffic goes both ways", []
    if v == "propertyNames":
        return "malformed name", schema()["$defs"]["name"]["description"], _type_name(inst), "", []
    return err.message, "", "", "", []


def text_problems(data: Any, src: Source, text: str | None = None) -> list[Diagnostic]:
    """Control, invisible and bidirectional characters in any key or string value, each at its line.
    ``text``: the file's text; when it holds neither such a character nor a backslash (a YAML escape could
    make one), there is nothing to look for."""
    if text is not None and "\\" not in text and not BAD_CHARS.search(text):
        return []
    out: list[Diagnostic] = []

    def bad(value: str, path: tuple[str | int, ...], what: str) -> None:
        m = BAD_CHARS.search(value)
        if m:
            char = m.group(0)
            out.append(Diagnostic(src.file, src.line(path), dotted(path), f"control or invisible character in {what}",
                                  "printable text (tab and newline allowed in free text)",
                                  f"U+{ord(char):04X} in {value[:60]!r}",
                                  "remove it: it would reach terminals, reports and device configurations as is",
                                  code="schema"))

    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(k, str):
                    bad(k, (*path, k), "a key")
                stack.append((v, (*path, k)))
        elif isinstance(node, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(node))
        elif isinstance(node, str):
            bad(node, path, "a value")
    return sorted(out)


def check(data: Any, src: Source) -> list[Diagnostic]:
    """Validate one domain file; every violation, each located at its own line."""
    if not isinstance(data, dict):
        return [Diagnostic(src.file, src.line(()), "", "a domain file must be a mapping",
                           "top-level keys among: policy, services, sites, client_groups, infrastructure, staff, "
                           "vendors",
                           _type_name(data), "see docs/inventory.md", code="schema")]
    fast = _fast_validator()
    if fast is not None and fast.is_valid(data):
        return []  # valid: nothing to word; an invalid file takes the detailed path below
    out: list[Diagnostic] = []
    for err in _validator().iter_errors(data):
        # For alternatives, report the most relevant branch rather than "not valid under any".
        errs = [err]
        if err.validator in ("anyOf", "oneOf") and err.context and not (
                isinstance(err.instance, dict) and "services" in err.instance) and not all(
                isinstance(x, dict) and "description" in x for x in err.validator_value):
            from jsonschema.exceptions import best_match

            best = best_match(err.context)
            errs = [best] if best is not None else errs
        for e in errs:
            msg, expected, found, hint, extra = _describe(e)
            if not msg:
                continue
            path = (*e.absolute_path, *extra)
            if e.validator == "propertyNames":
                path = (*e.absolute_path, str(e.instance))
            out.append(Diagnostic(src.file, src.line(tuple(path)), dotted(tuple(path)), msg, expected, found,
                                  hint, code="schema"))
    return out
