#!/usr/bin/env python3
"""Regenerate the golden files of ``tests/test_golden.py`` from the current code.

Two levels, both for the example inventory compiled for 2026-11-28:

1. inventory -> model: ``vendorwall export inventories/example --format json --now 2026-11-28``
   (run from the repo root, so origins read ``inventories/example/...``), stored as
   ``tests/golden/example/export.json``;
2. model -> config per platform: every file ``vendorwall plan`` renders for the example,
   stored under ``tests/golden/example/configs/``. Plan runs on a *copy* of the inventory in a
   temporary directory, so the repository's lock file is never touched.

Platform variants of the example (``VARIANTS``: the same inventory with other device platforms,
e.g. ``inventories/example-switches``) are planned the same way; only the files of the platforms
a variant is about are kept, under ``tests/golden/<variant>/configs/``.

Every firewall of the example is also rendered on every firewall platform (``render_as``), under
``tests/golden/platforms/<platform>/<device>.<ext>`` (docs/platforms.md).

Never edit the golden files by hand: change the code or the inventory, rerun this script and
review the diff of ``tests/golden/`` like any other output. ``tests/test_golden.py`` imports
:func:`generate` from here, so the test and the script cannot drift apart.

Usage (from anywhere)::

    python scripts/regen_golden.py            # rewrite tests/golden/example/
    python scripts/regen_golden.py --check    # exit 1 if a golden file would change
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INVENTORY = Path("inventories/example")  # relative to REPO: the path shown in origins
GOLDEN = REPO / "tests" / "golden" / "example"
NOW = "2026-11-28"
EXPORT = "export.json"
CONFIGS = "configs"
LOCK = Path("vendorwall/allocations.lock.yml")
# variant inventory (under inventories/) -> extensions of the rendered files kept as golden files
VARIANTS: dict[str, tuple[str, ...]] = {"example-switches": (".nxos", ".aoscx", ".junos"),
                                        "example-multivendor": (".fortios", ".sns", ".panos", ".asa"),
                                        "example-syslog": (".fortios", ".sns", ".panos", ".asa")}
# Every firewall of the example rendered on every firewall platform: tests/golden/platforms/<platform>/<device>.<ext>
PLATFORMS_DIR = REPO / "tests" / "golden" / "platforms"


@dataclass(frozen=True)
class Generated:
    files: dict[str, bytes]  # path relative to GOLDEN -> content
    plan_summary: dict  # vendorwall plan --json of the copy
    lock_before: bytes
    lock_after: bytes
    inventory_copy: Path | None = None  # kept only when generate(keep=...) asked for it


def vendorwall(*args: str, cwd: Path = REPO, hashseed: str | None = "0") -> bytes:
    """``python -m vendorwall ARGS`` in a child process; its stdout (RuntimeError with stderr on failure)."""
    env = dict(os.environ)
    if hashseed is not None:  # fixed by default; tests vary it to prove the output does not depend on it
        env["PYTHONHASHSEED"] = hashseed
    proc = subprocess.run([sys.executable, "-m", "vendorwall", *args], cwd=cwd, env=env, capture_output=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"vendorwall {' '.join(args)} exited {proc.returncode}:\n"
                         f"{proc.stderr.decode(errors='replace')}")
    return proc.stdout


def export_json(hashseed: str | None = "0") -> bytes:
    return vendorwall("export", str(INVENTORY), "--format", "json", "--now", NOW, hashseed=hashseed)


def plan_copy(workdir: Path, hashseed: str | None = "0", inventory: Path = INVENTORY,
              ) -> tuple[dict[str, bytes], dict, bytes, bytes]:
    """Plan a copy of ``inventory`` inside ``workdir``: (rendered files, summary, lock before, after)."""
    inv = workdir / "inventory"
    out = workdir / "out"
    shutil.copytree(REPO / inventory, inv)
    before = (inv / LOCK).read_bytes()
    state = workdir / "state"
    summary = json.loads(vendorwall("--state-dir", str(state), "plan", str(inv), "--out", str(out), "--now", NOW,
                                    "--json", hashseed=hashseed))
    files = {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}
    files["manifest.json"] = (state / "manifest" / "manifest.json").read_bytes()  # the state directory's
    return files, summary, before, (inv / LOCK).read_bytes()


def generate(hashseed: str | None = "0", keep: Path | None = None) -> Generated:
    """Every golden file's content as the current code produces it (nothing written in the repo).

    With ``keep``, the inventory copy and its plan output stay in that directory (tests reuse them).
    """
    files = {EXPORT: export_json(hashseed)}
    with tempfile.TemporaryDirectory(prefix="vw-golden-") as tmp:
        work = keep if keep is not None else Path(tmp)
        configs, summary, before, after = plan_copy(work, hashseed)
    for name, data in configs.items():
        files[f"{CONFIGS}/{name}"] = data
    return Generated(files, summary, before, after, work / "inventory" if keep is not None else None)


def generate_variant(name: str, hashseed: str | None = "0") -> dict[str, bytes]:
    """The golden files of variant ``name`` (path relative to its golden directory -> content)."""
    with tempfile.TemporaryDirectory(prefix="vw-golden-") as tmp:
        configs, _, before, after = plan_copy(Path(tmp), hashseed, Path("inventories") / name)
    if after != before:
        raise RuntimeError(f"plan changes the lock file of inventories/{name}: run 'vendorwall plan "
                           f"inventories/{name}' and commit its lock file")
    return {f"{CONFIGS}/{k}": v for k, v in configs.items() if k.endswith(VARIANTS[name])}


_RENDER_PLATFORMS = r"""
import datetime as dt, json, sys
from vendorwall import pipeline, render
from vendorwall.platforms import registry
res = pipeline.run(sys.argv[1], dt.date.fromisoformat(sys.argv[2]))
out = {}
for plat in registry.platforms_for_role("firewall"):
    if not registry.get(plat).renderer:
        continue
    for dev in sorted(d for d, i in res.model.devices.items() if i.role == "firewall"):
        r, diags = render.render_as(res.model, dev, plat)
        key = f"{plat}/{dev}.{registry.get(plat).config_extension}"
        out[key] = r.text if r is not None and not diags else "ERRORS\n" + "\n".join(d.render() for d in diags)
json.dump(out, sys.stdout)
"""


def generate_platforms(hashseed: str | None = "0") -> dict[str, bytes]:
    """Every firewall of the example on every firewall platform, relative to ``PLATFORMS_DIR``."""
    env = dict(os.environ)
    if hashseed is not None:
        env["PYTHONHASHSEED"] = hashseed
    proc = subprocess.run([sys.executable, "-c", _RENDER_PLATFORMS, str(INVENTORY), NOW], cwd=REPO, env=env,
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"rendering on every platform failed:\n{proc.stderr.decode(errors='replace')}")
    return {k: v.encode() for k, v in json.loads(proc.stdout).items()}


def variant_dir(name: str) -> Path:
    return REPO / "tests" / "golden" / name


def golden_files(root: Path = GOLDEN) -> dict[str, Path]:
    """The reference files currently stored under ``root`` (``.actual`` leftovers excluded)."""
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.endswith(".actual") and p.name != ".gitignore"}


def _update(root: Path, files: dict[str, bytes], check: bool) -> tuple[int, int, int]:
    """Compare ``files`` with the references under ``root``; write them unless ``check``."""
    old = golden_files(root)
    shown = root.relative_to(REPO).as_posix()
    changed = sorted(k for k in files if k in old and old[k].read_bytes() != files[k])
    added = sorted(k for k in files if k not in old)
    removed = sorted(k for k in old if k not in files)
    for word, keys in (("changed", changed), ("added", added), ("removed", removed)):
        for k in keys:
            print(f"{word}: {shown}/{k}")
    if not check:
        for rel, data in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_bytes() != data:
                path.write_bytes(data)
        for rel in removed:
            old[rel].unlink()
        for leftover in root.rglob("*.actual"):
            leftover.unlink()
    return len(changed), len(added), len(removed)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only report what would change; exit 1 if anything")
    args = ap.parse_args(argv)
    try:
        gen = generate()
        variants = {name: generate_variant(name) for name in VARIANTS}
        platforms = generate_platforms()
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if gen.lock_after != gen.lock_before:
        print("warning: plan changes the example's lock file: run 'vendorwall plan inventories/example' and "
              "commit inventories/example/vendorwall/allocations.lock.yml", file=sys.stderr)
    counts = [(GOLDEN, len(gen.files), _update(GOLDEN, gen.files, args.check))]
    for name, files in variants.items():
        counts.append((variant_dir(name), len(files), _update(variant_dir(name), files, args.check)))
    counts.append((PLATFORMS_DIR, len(platforms), _update(PLATFORMS_DIR, platforms, args.check)))
    if args.check:
        return 1 if any(sum(c) for _, _, c in counts) else 0
    for root, n, (changed, added, removed) in counts:
        print(f"{n} golden files in {root.relative_to(REPO).as_posix()} "
              f"({changed} changed, {added} added, {removed} removed)")
    print("review 'git diff tests/golden'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
