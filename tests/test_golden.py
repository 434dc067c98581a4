"""Golden tests of the example inventory at two levels, plus determinism.

- inventory -> model: ``vendorwall export`` output == ``tests/golden/example/export.json``;
- model -> config: every file ``vendorwall plan`` renders == ``tests/golden/example/configs/*``.

References are written by ``scripts/regen_golden.py`` only (the test imports its ``generate``).
On a mismatch the test writes ``<file>.actual`` beside the reference and fails with a short diff.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import sys
from types import ModuleType

import pytest
from vendorwall_testlib import EXAMPLE, NOW, REPO

HINT = "run scripts/regen_golden.py if the change is intended (then review 'git diff tests/golden')"
DIFF_LINES = 40


def _regen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("regen_golden", REPO / "scripts" / "regen_golden.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the class is built
    spec.loader.exec_module(mod)
    return mod


regen = _regen()
REFERENCES = regen.golden_files()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory):
    """What the current code produces (the plan's inventory copy is kept for the idempotency test)."""
    return regen.generate(keep=tmp_path_factory.mktemp("golden"))


def _compare(rel: str, actual: bytes) -> None:
    ref = regen.GOLDEN / rel
    out = ref.with_name(ref.name + ".actual")
    expected = ref.read_bytes() if ref.exists() else None
    if expected == actual:
        out.unlink(missing_ok=True)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(actual)
    if expected is None:
        pytest.fail(f"no reference tests/golden/example/{rel} (output written to {out.relative_to(REPO)})\n{HINT}")
    diff = list(difflib.unified_diff(expected.decode(errors="replace").splitlines(),
                                     actual.decode(errors="replace").splitlines(),
                                     f"tests/golden/example/{rel}", f"{out.relative_to(REPO)}", lineterm="", n=1))
    shown = "\n".join(diff[:DIFF_LINES]) + (f"\n... {len(diff) - DIFF_LINES} more diff lines" if len(diff) >
                                              DIFF_LINES else "")
    pytest.fail(f"golden mismatch: tests/golden/example/{rel}\n{shown}\n{HINT}", pytrace=False)


def test_references_exist() -> None:
    assert regen.EXPORT in REFERENCES, f"tests/golden/example/{regen.EXPORT} missing: {HINT}"
    assert any(k.startswith(f"{regen.CONFIGS}/") for k in REFERENCES), f"no golden configs: {HINT}"


def test_export_golden(generated) -> None:
    """Level 1, inventory -> model."""
    json.loads(generated.files[regen.EXPORT])  # valid JSON before anything else
    _compare(regen.EXPORT, generated.files[regen.EXPORT])


@pytest.mark.parametrize("rel", sorted(k for k in REFERENCES if k.startswith(f"{regen.CONFIGS}/")))
def test_config_golden(generated, rel: str) -> None:
    """Level 2, model -> config, one test per rendered device file."""
    if rel not in generated.files:
        pytest.fail(f"plan no longer renders {rel.split('/', 1)[1]}\n{HINT}", pytrace=False)
    _compare(rel, generated.files[rel])


def test_no_unreferenced_output(generated) -> None:
    """A device plan renders that has no reference yet (its output is written as .actual)."""
    new = sorted(k for k in generated.files if k not in REFERENCES)
    for rel in new:
        _compare(rel, generated.files[rel])
    assert not new


# --------------------------------------------------------------------------- determinism


def test_output_independent_of_hash_seed(generated) -> None:
    """Another process with another string-hash seed renders the very same bytes (no set order leaks)."""
    other = regen.generate(hashseed="4242")
    assert sorted(other.files) == sorted(generated.files)
    differ = [k for k in generated.files if other.files[k] != generated.files[k]]
    assert not differ, f"output depends on PYTHONHASHSEED: {differ}"


def test_render_twice_identical(example_result) -> None:
    from vendorwall import export, pipeline, render

    again, diags = render.render_all(example_result.model)
    assert not diags
    assert {k: v.text for k, v in again.items()} == {k: v.text for k, v in example_result.configs.items()}
    rerun = pipeline.run(str(EXAMPLE), NOW, shown_root="inventories/example")
    assert {k: v.text for k, v in rerun.configs.items()} == {k: v.text for k, v in example_result.configs.items()}
    assert export.to_json(rerun.model) == export.to_json(example_result.model)


def test_plan_on_unchanged_inventory_writes_nothing(generated) -> None:
    """The committed lock is what plan computes; a second plan rewrites no file and no lock."""
    assert generated.lock_after == generated.lock_before, "plan changed the example's lock file: it is stale"
    assert generated.plan_summary["lock_written"] is False
    assert generated.plan_summary["lock"] == {"added": [], "freed": [], "changed": []}
    inv = generated.inventory_copy
    out = inv.parent / "out"
    watched = [*sorted(out.iterdir()), inv / regen.LOCK]
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in watched}
    summary = json.loads(regen.vendorwall("plan", str(inv), "--out", str(out), "--now", regen.NOW, "--json"))
    assert summary["lock_written"] is False
    assert summary["files_removed"] == []
    after = {p: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in watched}
    rewritten = [p.name for p in watched if after[p] != before[p]]
    assert not rewritten, f"plan rewrote unchanged files: {rewritten}"
    assert sorted(out.iterdir()) == watched[:-1]
    assert not list(out.glob("*.tmp"))
