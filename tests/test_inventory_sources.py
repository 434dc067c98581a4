"""The devices of an inventory are read the way Ansible reads them (vendorwall.hostsrc).

group_vars/, host_vars/, INI inventories and nested groups work (before: vendorwall parsed hosts.yml
itself and said "unknown platform" where ansible-inventory showed vw_platform); the fast reader of a
plain hosts.yml gives exactly what Ansible's InventoryManager gives; errors keep file:line.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from vendorwall_testlib import EXAMPLE, REPO

from vendorwall import hostsrc, inventory
from vendorwall.devices.target import for_device
from vendorwall.yamlsrc import load_file


def _cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vendorwall", *args], cwd=cwd, capture_output=True, text=True,
                          check=False)


def _copy(tmp_path: Path, name: str = "chu") -> Path:
    dst = tmp_path / name
    shutil.copytree(EXAMPLE, dst)
    return dst


def _hosts(root: Path) -> dict:
    return yaml.safe_load((root / "hosts.yml").read_text())


def _entries(root: Path, reader: str) -> dict[str, tuple[frozenset[str], dict]]:
    diags: list = []
    if reader == "fast":
        data, src, d = load_file(str(root / "hosts.yml"), "hosts.yml")
        assert not d and hostsrc.fast_eligible(str(root), data, (root / "hosts.yml").read_text())
        entries = hostsrc.read_fast(data, inventory.Loc(src, ()), diags.append)
    else:
        entries = hostsrc.read_ansible(str(root), "inv", diags.append)
    assert not diags and entries is not None
    return {e.name: (frozenset(e.groups), e.vars) for e in entries}


@pytest.mark.parametrize("name", ["example", "example-multivendor", "example-switches"])
def test_fast_reader_equals_ansible(name: str) -> None:
    root = REPO / "inventories" / name
    assert _entries(root, "fast") == _entries(root, "ansible")


def test_fast_reader_merges_vars_in_ansibles_order(tmp_path: Path) -> None:
    """all < groups by (ansible_group_priority, name) < host: the same as InventoryManager, on purpose
    conflicting definitions (a switch in 'switches' and 'site_nord', both setting ansible_user)."""
    root = tmp_path / "inv"
    (root / "vendorwall").mkdir(parents=True)
    (root / "hosts.yml").write_text(yaml.safe_dump({"all": {"vars": {"ansible_user": "a", "ansible_port": 1},
                                                             "children": {
        "switches": {"vars": {"ansible_user": "from-switches", "vw_x": "s"},
                     "hosts": {"sw-1": {"ansible_host": "10.0.0.1", "vw_platform": "ios"}}},
        "site_nord": {"vars": {"ansible_user": "from-site", "ansible_port": 2, "vw_x": "n"},
                      "hosts": {"sw-1": None, "sw-2": {"vendorwall_known_hosts": "kh"}}},
        "firewalls": {"vars": {"ansible_group_priority": 10, "vw_x": "f"},
                      "hosts": {"sw-2": {"ansible_host": "10.0.0.2", "vw_platform": "ios"}}}}}}))
    fast = _entries(root, "fast")
    assert fast == _entries(root, "ansible")
    assert fast["sw-1"][1]["ansible_user"] == "from-switches"  # 'switches' sorts after 'site_nord'
    assert fast["sw-2"][1]["vw_x"] == "f"  # priority 10 beats the names


def test_group_vars_honoured(tmp_path: Path) -> None:
    """vw_platform of the firewalls in group_vars/firewalls.yml, removed from hosts.yml: valid (before:
    'unknown platform for a firewall' at every firewall)."""
    root = _copy(tmp_path)
    hosts = _hosts(root)
    for h in hosts["all"]["children"]["firewalls"]["hosts"].values():
        del h["vw_platform"]
    (root / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (root / "group_vars").mkdir()
    (root / "group_vars" / "firewalls.yml").write_text("---\nvw_platform: nftables\nansible_user: netops\n")
    out = _cli("validate", str(root))
    assert out.returncode == 0, out.stderr
    inv, diags, _ = inventory.load(str(root))
    assert not diags
    assert inv.devices["fw-rive"].platform == "nftables"
    assert for_device(inv.devices["fw-rive"], inv.root).username == "netops"


def test_yaml_inventory_with_host_vars(tmp_path: Path) -> None:
    """ansible_host of fw-nord in host_vars/fw-nord.yml (and its SSH port): used for the device and its
    connection; an error in host_vars points at host_vars/<host>.yml:line."""
    root = _copy(tmp_path)
    hosts = _hosts(root)
    addr = hosts["all"]["children"]["firewalls"]["hosts"]["fw-nord"].pop("ansible_host")
    (root / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (root / "host_vars").mkdir()
    (root / "host_vars" / "fw-nord.yml").write_text(f"---\nansible_host: {addr}\nansible_port: 2222\n")
    inv, diags, _ = inventory.load(str(root), "inv")
    assert not diags
    t = for_device(inv.devices["fw-nord"], inv.root)
    assert (t.host, t.port) == (addr, 2222)
    (root / "host_vars" / "fw-nord.yml").write_text("---\nansible_port: 2222\nvw_platform: cisco-asa\n")
    out = _cli("validate", str(root))
    assert out.returncode == 2
    assert f"{root}/host_vars/fw-nord.yml:3: vw_platform: unknown platform for a firewall" in out.stderr, out.stderr
    assert f"{root}/hosts.yml" in out.stderr and "missing management address" in out.stderr  # no ansible_host left
    assert "Traceback" not in out.stderr


def _ini(hosts: dict) -> str:
    """The example's hosts.yml as an INI inventory."""
    lines = []
    for group, g in hosts["all"]["children"].items():
        lines.append(f"[{group}]")
        for name, hv in (g.get("hosts") or {}).items():
            lines.append(" ".join([name, *(f"{k}={v}" for k, v in (hv or {}).items())]))
        lines.append("")
    return "\n".join(lines)


def test_ini_inventory_renders_the_same(tmp_path: Path) -> None:
    yaml_root = _copy(tmp_path, "yamlinv")
    ini_root = _copy(tmp_path / "x", "yamlinv")  # same inventory name: the same state directory naming
    (ini_root / "hosts.ini").write_text(_ini(_hosts(ini_root)))
    (ini_root / "hosts.yml").unlink()
    a = _cli("plan", str(yaml_root), "--out", str(tmp_path / "out-yaml"), "--now", "2026-11-28")
    b = _cli("plan", str(ini_root), "--out", str(tmp_path / "out-ini"), "--now", "2026-11-28")
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    files = sorted(p.name for p in (tmp_path / "out-yaml").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "out-ini").iterdir()) and len(files) >= 10
    for f in files:
        assert (tmp_path / "out-yaml" / f).read_text() == (tmp_path / "out-ini" / f).read_text(), f
    # an error in the INI file is reported at its line
    text = (ini_root / "hosts.ini").read_text().replace("fw-sud ansible_host=10.250.2.1",
                                                          "fw-sud ansible_host=10.250.2.300")
    (ini_root / "hosts.ini").write_text(text)
    out = _cli("validate", str(ini_root))
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith("fw-sud "))
    assert out.returncode == 2 and f"hosts.ini:{line}: fw-sud.ansible_host: malformed address" in out.stderr, \
        out.stderr


def test_nested_groups_and_templates_go_through_ansible(tmp_path: Path) -> None:
    """Groups of groups (firewalls: children: fw_nord_group) and a Jinja value: Ansible's answer."""
    root = tmp_path / "inv"
    shutil.copytree(EXAMPLE / "vendorwall", root / "vendorwall")
    hosts = _hosts(EXAMPLE)
    fws = hosts["all"]["children"].pop("firewalls")
    hosts["all"]["children"]["firewalls"] = {"children": {"fw_a": {"hosts": dict(list(fws["hosts"].items())[:2])},
                                                          "fw_b": {"hosts": dict(list(fws["hosts"].items())[2:])}}}
    hosts["all"]["vars"] = {"mgmt_user": "netops", "ansible_user": "{{ mgmt_user }}"}
    (root / "hosts.yml").write_text(yaml.safe_dump(hosts))
    inv, diags, _ = inventory.load(str(root))
    assert not diags
    assert sorted(n for n, d in inv.devices.items() if d.role == "firewall") == sorted(fws["hosts"])
    assert for_device(inv.devices["fw-nord"], inv.root).username == "netops"


def test_unparsable_source_is_a_diagnostic(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "extra.ini").write_text("[firewalls\nthis is not an inventory\n")
    out = _cli("validate", str(root))
    assert out.returncode == 2
    assert "extra.ini" in out.stderr and "Ansible could not read this inventory source" in out.stderr
    assert "Traceback" not in out.stderr and "[WARNING]" not in out.stderr


def test_network_os_names_the_platform(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    hosts = _hosts(root)
    sw = hosts["all"]["children"]["switches"]["hosts"]["sw-nord-1"]
    del sw["vw_platform"]
    sw["ansible_network_os"] = "cisco.ios.ios"
    (root / "hosts.yml").write_text(yaml.safe_dump(hosts))
    inv, diags, _ = inventory.load(str(root))
    assert not diags and inv.devices["sw-nord-1"].platform == "ios"


def test_snapshot_from_the_play() -> None:
    """What the action plugins send: groups, vars (aliases folded), secrets apart."""
    entries = hostsrc.from_snapshot(
        {"fw-a": {"groups": ["all", "firewalls", "site_nord"], "vars": {"ansible_host": "10.0.0.1",
                                                                          "ansible_ssh_user": "ops",
                                                                          "vw_platform": "nftables", "other": 1},
                  "origins": {"vw_platform": ["inv/hosts", 3]}}},
        {"fw-a": {"ansible_password": "s3cret"}})
    [e] = entries
    assert e.groups == ("firewalls", "site_nord")
    assert e.vars == {"ansible_host": "10.0.0.1", "ansible_user": "ops", "vw_platform": "nftables",
                      "ansible_password": "s3cret"}
    assert e.origins["vw_platform"].diag("x").line == 3
