"""The pack's files: HTML for the screen, print-ready HTML (A4), optionally PDF, and the raw CSV/JSON.

Python computes every string (in the chosen language); the template ``templates/evidence/pack.html.j2``
only prints them (autoescaped, StrictUndefined). The same data and language give the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import tempfile
from typing import Any

import jinja2

from . import texts
from .texts import ANSSI, BY_HAND, CNIL, ISO, MAPPING, NIS2, t

RAW = ("evidence.json", "measures.csv", "gaps.csv", "grants.csv", "accounts.csv", "isolations.csv", "traffic.csv",
       "journals.csv")
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _v(value: Any, lang: str) -> str:
    if isinstance(value, bool):
        return t("yes" if value else "no", lang)
    if value in ("", None):
        return "–"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}".replace(",", "\u202f" if lang == "fr" else ",")
    return str(value)


def gap_text(g: dict[str, Any], lang: str) -> str:
    fields = {k: (v if v not in ("", None) else "–") for k, v in g.items()}
    return t(f"g.{g['what']}", lang, **fields)


def refs(measure: str, lang: str) -> dict[str, list[str]]:
    i = 1 if lang == "fr" else 0
    iso, nis2, anssi, cnil = MAPPING[measure]
    return {"ISO/IEC 27001:2022": [f"A.{c} {ISO[c][i]}" for c in iso],
            "NIS2 art. 21(2)": [f"({x}) {NIS2[x][i]}" for x in nis2],
            "ANSSI PA-022": [ANSSI[x][i] for x in anssi],
            "CNIL": [CNIL[x][i] for x in cnil]}


def view(pack: dict[str, Any], lang: str) -> dict[str, Any]:
    measures = []
    for m in pack["measures"]:
        figures = [(t(f"f.{k}", lang), _v(v, lang)) for k, v in m["figures"].items()]
        measures.append({"id": m["id"], "name": t(f"m.{m['id']}", lang), "description": t(f"d.{m['id']}", lang),
                         "status": m["status"], "status_label": t(m["status"], lang), "figures": figures,
                         "gaps": [gap_text(g, lang) for g in m["gaps"]],
                         "refs": [(k, v) for k, v in refs(m["id"], lang).items() if v]})
    grants = [[r["grant"], r["vendor"], r["system"], t("emergency" if r["emergency"] else "normal", lang),
               r["ticket"], r["approver"] or "–", r["opened_at"], _v(r["granted_hours"], lang), r["ended"] or "–"]
              for r in pack["tables"]["grants"]]
    iso_rows = [[r["when"], r["action"] + (" --check" if r["check"] else ""), r["vendors"], _v(r["firewalls"], lang),
                 _v(r["failed"], lang), _v(r["seconds"], lang)] for r in pack["tables"]["isolations"]]
    traffic = [[r["vendor"], _v(r["systems"], lang), _v(r["connections"], lang), _v(r["closed"], lang),
                _v(r["bytes"], lang), _v(r["drops"], lang)] for r in pack["tables"]["traffic"]]
    c = lambda *keys: [t(f"c.{k}", lang) for k in keys]  # noqa: E731
    return {
        "lang": lang, "title": t("title", lang),
        "subtitle": t("subtitle", lang, period=pack["period"], start=pack["start"], end=pack["end"],
                      inventory=pack["inventory"], now=pack["now"]),
        "disclaimer": t("disclaimer", lang), "measures": measures,
        "labels": {k: t(k, lang) for k in ("summary", "measure", "status", "gaps", "no_gap", "evidence",
                                           "references", "journals", "journal", "entries", "in_period", "head",
                                           "intact", "authenticated", "by_hand", "raw")},
        "journals": [[j["path"], _v(j["entries"], lang), _v(j["in_period"], lang), j["head"] or "–",
                      t("intact_yes" if j["intact"] else "intact_no", lang), j["intact"],
                      _v(bool(j.get("authenticated")), lang)] for j in pack["journals"]],
        "alerts": t("alerts", lang, sent=pack["alerts"]["sent"], failed=pack["alerts"]["failed"]),
        "tables": [
            {"id": "grants", "title": t("t.grants", lang),
             "head": c("grant", "vendor", "system", "kind", "ticket", "approver", "opened", "hours", "ended"),
             "rows": grants},
            {"id": "isolations", "title": t("t.isolations", lang),
             "head": c("when", "action", "vendor", "firewalls", "failed", "seconds"), "rows": iso_rows},
            {"id": "traffic", "title": t("t.traffic", lang),
             "head": c("vendor", "systems", "connections", "closed", "bytes", "drops"), "rows": traffic}],
        "by_hand": [x[1] if lang == "fr" else x[0] for x in BY_HAND], "raw": list(RAW),
    }


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("vendorwall", "templates"), undefined=jinja2.StrictUndefined,
                              autoescape=True, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def html(pack: dict[str, Any], lang: str, *, printable: bool = False) -> str:
    if lang not in texts.LANGS:
        raise ValueError(f"language {lang!r}: one of {', '.join(texts.LANGS)}")
    return _env().get_template("evidence/pack.html.j2").render(v=view(pack, lang), printable=printable)


def _csv(rows: list[dict[str, Any]], fields: list[str] | None = None) -> str:
    buf = io.StringIO()
    fields = fields or (sorted({k for r in rows for k in r}) if rows else ["empty"])
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def raw_files(pack: dict[str, Any]) -> dict[str, str]:
    measures = [{"measure": m["id"], "status": m["status"], "figure": k, "value": v}
                for m in pack["measures"] for k, v in m["figures"].items()]
    gaps = [{"measure": m["id"], **{k: str(v) for k, v in g.items()}} for m in pack["measures"] for g in m["gaps"]]
    return {
        "evidence.json": json.dumps(pack, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
        "measures.csv": _csv(measures, ["measure", "status", "figure", "value"]),
        "gaps.csv": _csv(gaps),
        "grants.csv": _csv(pack["tables"]["grants"]),
        "accounts.csv": _csv(pack["tables"]["accounts"]),
        "isolations.csv": _csv(pack["tables"]["isolations"]),
        "traffic.csv": _csv(pack["tables"]["traffic"]),
        "journals.csv": _csv([{k: (v if k != "problems" else "; ".join(v)) for k, v in j.items()}
                              for j in pack["journals"]]),
    }


def browser() -> str | None:
    return next((p for b in BROWSERS if (p := shutil.which(b))), None)


def pdf(print_html: str, out: str, timeout: float = 120) -> str:
    """``print_html`` printed to ``out`` by headless Chromium; '' when it worked, else why not."""
    exe = browser()
    if exe is None:
        return "no headless Chromium (apt-get install chromium): the print-ready HTML is the printable pack"
    with tempfile.TemporaryDirectory(prefix="vw-pdf-") as profile:
        cmd = [exe, "--headless", "--disable-gpu", "--no-first-run", "--no-pdf-header-footer",
               f"--user-data-dir={profile}", f"--print-to-pdf={out}", "file://" + os.path.abspath(print_html)]
        if os.geteuid() == 0:
            cmd.insert(1, "--no-sandbox")
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return f"Chromium did not finish within {timeout:.0f} s"
    if p.returncode != 0 or not os.path.exists(out):
        return f"Chromium failed (exit {p.returncode}): {p.stderr.strip()[-300:]}"
    return ""
