"""Test support of the change review: a throwaway git repository and typical inventory changes.

:func:`build_repo` copies ``inventories/example`` into a new git repository (fixed author, dates
and configuration, so commit ids are the same on every machine), commits it on ``main``, then
commits each scenario of :data:`SCENARIOS` on its own branch ``change/<name>`` after running
``vendorwall plan`` (the lock file is committed with the change, as docs/inventory.md asks).

Each scenario is a small text edit of the inventory, written the way a person would in a merge
request. Edits are composable (the property test applies random subsets together) and each one
checks that its anchor text exists, so a change of the example inventory fails loudly here
rather than silently testing nothing.

Used by tests/review/test_review_*.py and by scripts/regen_review.py (the golden files).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "inventories" / "example"
INVENTORY = "inventories/example"  # inside the throwaway repository
NOW = dt.date(2026, 11, 28)
GOLDEN = Path(__file__).resolve().parent / "golden"
FAIL_ON = "high"  # the gate the golden outputs are rendered with

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Review Test", "GIT_AUTHOR_EMAIL": "review@test.example",
    "GIT_COMMITTER_NAME": "Review Test", "GIT_COMMITTER_EMAIL": "review@test.example",
    "GIT_AUTHOR_DATE": "2026-11-28T09:00:00+00:00", "GIT_COMMITTER_DATE": "2026-11-28T09:00:00+00:00",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
}


def git(repo: Path, *args: str) -> str:
    res = subprocess.run(["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, capture_output=True, text=True,
                         check=False)
    if res.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {res.stderr.strip()}")
    return res.stdout


# --------------------------------------------------------------------------- edits


def _vendor_file(inv: Path, vendor: str) -> Path:
    return inv / "vendorwall" / "vendors" / f"{vendor}.yml"


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    if text.count(old) != 1:
        raise AssertionError(f"scenario anchor not found exactly once in {path.name}: {old!r} "
                             "(inventories/example changed? update tests/review/review_support.py)")
    path.write_text(text.replace(old, new), encoding="utf-8")


def replace_in_system(path: Path, system: str, old: str, new: str) -> None:
    """Replace ``old`` inside the block of one system (from its ``- name:`` to the next one)."""
    text = path.read_text(encoding="utf-8")
    m = re.search(rf"^(\s+)- name: {re.escape(system)}\n(?:.*\n)*?(?=^\1- name: |\Z)", text, re.M)
    if m is None or m.group(0).count(old) != 1:
        raise AssertionError(f"scenario anchor not found in system {system} of {path.name}: {old!r}")
    block = m.group(0).replace(old, new)
    path.write_text(text[:m.start()] + block + text[m.end():], encoding="utf-8")


def remove_system(path: Path, system: str) -> None:
    text = path.read_text(encoding="utf-8")
    m = re.search(rf"^(\s+)- name: {re.escape(system)}\n(?:.*\n)*?(?=^\1- name: |\Z)", text, re.M)
    if m is None:
        raise AssertionError(f"system {system} not found in {path.name}")
    path.write_text((text[:m.start()] + text[m.end():]).rstrip("\n") + "\n", encoding="utf-8")


def append_systems(path: Path, block: str) -> None:
    """Append systems to the vendor file's ``systems:`` list (the last key of every example file)."""
    text = path.read_text(encoding="utf-8")
    last = text.rstrip("\n").rsplit("\n", 1)[-1]
    if not re.search(r"^    systems:\n", text, re.M) or not last.startswith(" " * 8):
        raise AssertionError(f"{path.name}: systems is not the last list of the file")
    path.write_text(text.rstrip("\n") + "\n\n" + block.strip("\n") + "\n", encoding="utf-8")


def new_vendor(inv: Path) -> None:
    """A new vendor (ophthalmology imaging): bastion access, two accounts (one without an internal
    owner), an on-demand OCT and a scheduled review station that pushes reports to the wards."""
    _vendor_file(inv, "ophtalis").write_text("""\
# yaml-language-server: $schema=../../../../vendorwall/schema/inventory.schema.json
# Ophtalis (fictional): optical coherence tomography (OCT) and its review station.
vendors:
  ophtalis:
    title: Ophtalis (ophthalmology imaging)
    hotline: "+33 1 00 00 00 20"
    security_contact: security@ophtalis.example
    contract:
      reference: CHUEX-2026-OPH-001
      ends: 2029-06-30
    approvers:
      - ophthalmology.lead@chu-exemple.example
    entry_paths:
      - {name: ophtalis-bastion, kind: bastion, bastion: bst-2, source: 10.249.0.120/32}
    accounts:
      - id: ophtalis.mleroy
        person: Marie Leroy
        email: marie.leroy@ophtalis.example
        created: 2026-11-20
        expires: 2027-11-19
        owner: ophthalmology.lead@chu-exemple.example
      - id: ophtalis.support
        person: Ophtalis support desk
        email: support@ophtalis.example
        expires: 2027-05-31
    systems:
      - name: oct-nord-1
        site: nord
        function: OCT retinal imaging device
        criticality: medium
        owner: biomed.head@chu-exemple.example
        switch_ports:
          - {switch: sw-nord-2, interface: GigabitEthernet1/0/30}
        access:
          mode: on_demand
          services: [ssh, https]
          max_hours: 4
        flows:
          - {to: pacs-archive-centre, services: [dicom], keep: true}

      - name: oct-review-nord
        site: nord
        function: OCT review and reporting station
        criticality: low
        owner: ophthalmology.lead@chu-exemple.example
        access:
          mode: scheduled
          services: [rdp]
          window: {days: [mon], start: "07:00", end: "09:00"}
        flows:
          - {from: oct-nord-1, services: [dicom]}
          - {to: nursing-nord, services: [https]}
""", encoding="utf-8")


def new_system(inv: Path) -> None:
    """A new CT scanner at site sud for an existing vendor, images to the PACS."""
    append_systems(_vendor_file(inv, "tomora"), """\
      - name: ct-sud-2
        site: sud
        function: CT scanner, outpatient imaging
        criticality: high
        owner: biomed.sud@chu-exemple.example
        switch_ports:
          - {switch: sw-sud-1, interface: GigabitEthernet1/0/40}
        access:
          mode: on_demand
          services: [ssh, https]
          max_hours: 4
        flows:
          - {to: pacs-archive-centre, services: [dicom], keep: true}
""")


def ports_widened(inv: Path) -> None:
    """The https service gains a second port, and Acme's viewer range grows by ten ports."""
    policy = inv / "vendorwall" / "policy.yml"
    replace_once(policy, "https: {protocol: tcp, ports: [443]}", "https: {protocol: tcp, ports: [443, 8443]}")
    replace_once(policy, 'acme-viewer: {protocol: tcp, ports: ["8000-8010"]', 'acme-viewer: {protocol: tcp, '
                 'ports: ["8000-8020"]')


def permanent_added(inv: Path) -> None:
    """The emergency CT, on demand until now, gets a permanent access (for a remote monitoring pilot)."""
    replace_in_system(_vendor_file(inv, "tomora"), "ct-nord-2", """\
          mode: on_demand
          services: [ssh, https]
          max_hours: 2
""", """\
          mode: permanent
          services: [ssh, https]
          justification: remote tube monitoring pilot, six months, ticket CHG-2211
          until: 2027-05-31
""")


def tunnel_added(inv: Path) -> None:
    """Magnetika gets a LAN-to-LAN tunnel, used for its MRI at site sud."""
    path = _vendor_file(inv, "magnetika")
    replace_once(path, "      - {name: magnetika-vpn, kind: vpn, pool: 10.200.3.0/27}\n", """\
      - {name: magnetika-vpn, kind: vpn, pool: 10.200.3.0/27}
      - name: magnetika-l2l
        kind: lan_to_lan
        peer: 192.0.2.10
        remote_subnets: [192.0.2.64/28]
        justification: >-
          Helium level telemetry of the MRI magnets is only available through the vendor's
          site-to-site monitoring service.
        retire_by: 2027-09-30
""")
    replace_in_system(path, "mri-sud-1", "          services: [ssh, https]\n",
                      "          services: [ssh, https]\n          via: [magnetika-l2l, magnetika-bastion]\n")


def system_removed(inv: Path) -> None:
    """The PACS test environment is decommissioned."""
    remove_system(_vendor_file(inv, "acme-imaging"), "pacs-test-centre")


def vendor_removed(inv: Path) -> None:
    """The dialysis vendor leaves: its file goes."""
    path = _vendor_file(inv, "dialyva")
    if not path.exists():
        raise AssertionError("dialyva.yml not in the example inventory")
    path.unlink()


SCENARIOS: dict[str, Callable[[Path], None]] = {
    "new_vendor": new_vendor,
    "new_system": new_system,
    "ports_widened": ports_widened,
    "permanent_added": permanent_added,
    "tunnel_added": tunnel_added,
    "system_removed": system_removed,
    "vendor_removed": vendor_removed,
}


# --------------------------------------------------------------------------- repository


def update_lock(inv: Path) -> None:
    """``vendorwall plan`` on the inventory (writes its lock file; configurations go to a temp dir)."""
    from vendorwall import plan

    with tempfile.TemporaryDirectory() as out:
        plan.plan(str(inv), NOW, out, shown_root=INVENTORY)


def init_repo(root: Path) -> Path:
    """A git repository holding a copy of the example inventory, committed on ``main``."""
    repo = root / "repo"
    inv = repo / INVENTORY
    shutil.copytree(EXAMPLE, inv)
    update_lock(inv)  # the example's lock is up to date; this keeps the base valid if it is not
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base: example inventory")
    return repo


def build_repo(root: Path, scenarios: dict[str, Callable[[Path], None]] | None = None) -> Path:
    """:func:`init_repo`, plus one branch ``change/<name>`` per scenario (lock file updated)."""
    repo = init_repo(root)
    inv = repo / INVENTORY
    for name, edit in (scenarios if scenarios is not None else SCENARIOS).items():
        git(repo, "checkout", "-q", "-b", f"change/{name}", "main")
        edit(inv)
        update_lock(inv)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"change: {name}")
        git(repo, "checkout", "-q", "main")
    return repo


def generate(root: Path) -> dict[str, str]:
    """The golden outputs: ``<scenario>.md`` and ``<scenario>.json`` for every scenario."""
    from vendorwall.review import as_json, as_markdown
    from vendorwall.review.review import review

    repo = build_repo(root)
    out = {}
    for name in SCENARIOS:
        rv = review(str(repo / INVENTORY), "main", f"change/{name}", NOW)
        out[f"{name}.md"] = as_markdown.render(rv, FAIL_ON)
        out[f"{name}.json"] = as_json.render(rv, FAIL_ON)
    return out
