#!/usr/bin/env python3
"""Fetch the vendors' own argument specs used to validate rendered objects (tests/platforms).

The ``ansible`` package on PyPI bundles the vendors' Ansible collections (fortinet.fortios...),
whose module argument specs describe every object a platform accepts. Installing the whole
package costs ~50 s and ~500 MB; the tests need a few modules of one collection. This script
downloads the wheel once with pip (``pip download --no-deps``, the ordinary client) and extracts
only those files into ``build/vendor-schemas/`` (~2 MB), which the tests add to ``sys.path``.
If the ``ansible`` package is installed, the tests use it directly and this script is not needed.

    python scripts/vendor_schemas.py [--dest build/vendor-schemas]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ANSIBLE = "ansible==12.3.0"  # bundles fortinet.fortios 2.4.2, cisco.nxos, junipernetworks.junos
FORTIOS_MODULES = ("system_interface", "system_zone", "firewall_address", "firewall_addrgrp",
                   "firewall_service_custom", "firewall_schedule_onetime", "firewall_schedule_recurring",
                   "firewall_policy", *(f"log_syslogd{n}_{t}" for n in (2, 3, 4) for t in ("setting", "filter")))
# switches (tests/switches/test_vendor_schema.py): the resource modules' argument specs
NXOS_ARGSPEC = "ansible_collections/cisco/nxos/plugins/module_utils/network/nxos/argspec"
JUNOS_ARGSPEC = "ansible_collections/junipernetworks/junos/plugins/module_utils/network/junos/argspec"
SWITCH_RESOURCES = ("vlans", "l2_interfaces", "interfaces")
WANTED = ("ansible_collections/fortinet/fortios/MANIFEST.json",
          "ansible_collections/fortinet/fortios/plugins/module_utils/",
          *(f"ansible_collections/fortinet/fortios/plugins/modules/fortios_{m}.py" for m in FORTIOS_MODULES),
          "ansible_collections/cisco/nxos/MANIFEST.json", "ansible_collections/junipernetworks/junos/MANIFEST.json",
          *(f"{base}/{r}/" for base in (NXOS_ARGSPEC, JUNOS_ARGSPEC) for r in SWITCH_RESOURCES))


# Cisco ASA (tests/platforms/test_asa_collection.py): cisco.asa left the ansible package after 9.x; 9.13.0
# bundles cisco.asa 4.0.3, whose asa_acls / asa_ogs parsers and argument specs read the rendered ASA text.
ANSIBLE_ASA = "ansible==9.13.0"
ASA_WANTED = ("ansible_collections/cisco/asa/MANIFEST.json", "ansible_collections/cisco/asa/plugins/module_utils/",
              "ansible_collections/ansible/netcommon/MANIFEST.json",
              "ansible_collections/ansible/netcommon/plugins/module_utils/")


def _extract(spec: str, wanted: tuple[str, ...], dest: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="vw-wheel-") as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", spec, "-d", tmp],
                       check=True)
        wheel = next(Path(tmp).glob("ansible-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            names = [n for n in z.namelist() if n.startswith(wanted)]
            z.extractall(dest, names)


def fetch(dest: Path) -> Path:
    _extract(ANSIBLE, WANTED, dest)
    _extract(ANSIBLE_ASA, ASA_WANTED, dest)
    for pkg in ("ansible_collections", "ansible_collections/fortinet", "ansible_collections/cisco",
                "ansible_collections/junipernetworks", "ansible_collections/ansible"):  # namespace packages
        (dest / pkg).mkdir(parents=True, exist_ok=True)
    return dest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dest", default=str(REPO / "build" / "vendor-schemas"))
    args = ap.parse_args()
    dest = fetch(Path(args.dest))
    print(f"vendor argument specs in {dest} ({ANSIBLE}: fortinet.fortios, cisco.nxos, junipernetworks.junos; "
          f"{ANSIBLE_ASA}: cisco.asa)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
