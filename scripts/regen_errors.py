#!/usr/bin/env python3
"""Build the golden error cases of ``tests/errors/`` and record their expected output.

Each case is a copy of ``tests/errors/_base`` (a minimal valid inventory) with one declared
edit, so the case shows exactly one kind of mistake (a few for the "collect all" cases).
For every case this script:

1. recreates ``tests/errors/<case>/`` from ``_base`` plus the edit;
2. runs ``vendorwall validate tests/errors/<case> --now 2026-11-28`` from the repo root;
3. writes its stderr to ``tests/errors/<case>/expected.txt`` (exit code must be 2).

``tests/test_errors.py`` replays step 2 and compares. Never edit ``expected.txt`` by hand:
change the code or the case, rerun this script, and review the diff of the expected files
like any other output (is the line right, the dotted path, the expected/found/hint?).

A case whose output is known to be wrong has ``problem=...``: its directory is written with a
``PROBLEM`` file (the reason) instead of ``expected.txt`` (bad output must not become the
golden). tests/test_errors.py marks it xfail(strict=True) and asserts what the output should
do (its ``SHOULD`` table); once the code is fixed the test XPASSes, which fails: drop the
``problem=``, drop the ``SHOULD`` entry, rerun this script and review the new expected.txt.

The base lock file is regenerated with ``vendorwall plan`` (it only changes when ``_base``
does), and ``_base`` must validate with exit 0.

Usage (from anywhere)::

    python scripts/regen_errors.py            # every case
    python scripts/regen_errors.py CASE ...   # only these
    python scripts/regen_errors.py --list
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ERRORS = Path("tests/errors")  # relative to REPO: the path shown in diagnostics
BASE = ERRORS / "_base"
NOW = "2026-11-28"

HOSTS = "hosts.yml"
POLICY = "vendorwall/policy.yml"
SITES = "vendorwall/sites.yml"
GROUPS = "vendorwall/client_groups.yml"
ACME = "vendorwall/vendors/acme-imaging.yml"
TOMORA = "vendorwall/vendors/tomora.yml"
LOCK = "vendorwall/allocations.lock.yml"

# An edit of one file:
#   [(old, new), ...]  replace each ``old`` (which must occur exactly once) by ``new``
#   str / bytes        the whole new content (a new file, or replaced)
#   None               delete the file
Edit = list[tuple[str, str]] | str | bytes | None


@dataclass(frozen=True)
class Case:
    doc: str
    edits: dict[str, Edit]
    problem: str = ""  # known wrong output: no expected.txt until the code is fixed
    exit_code: int = 2


def _insert_after(anchor: str, text: str) -> list[tuple[str, str]]:
    return [(anchor, anchor + text)]


NEW_SYSTEM = """
      - name: pacs-viewer-nord
        site: nord
        function: PACS web viewer for the wards
        criticality: medium
        owner: pacs.admin@chu-exemple.example
        access:
          mode: on_demand
          services: [https]
"""

SECOND_TOMORA_FILE = """\
# A second file for the same vendor, e.g. written when its MRI contract was signed.
vendors:
  tomora:
    title: Tomora Medical (MRI)
    hotline: "+33 1 00 00 00 02"
    security_contact: security@tomora.example
    contract:
      reference: CHUEX-2026-MRI-011
      ends: 2031-01-31
    approvers:
      - biomed.head@chu-exemple.example
    entry_paths:
      - name: tomora-mri-vpn
        kind: vpn
        pool: 10.200.3.0/27
    systems:
      - name: mri-nord-1
        site: nord
        function: MRI scanner
        criticality: high
        owner: biomed.head@chu-exemple.example
        access:
          mode: on_demand
          services: [ssh]
"""

GROUPS_AS_LIST = """\
# client groups written as a list, without the client_groups: key
- radiology-ws-nord:
    title: Radiology reading workstations - Nord
    site: nord
    prefixes:
      - 10.10.20.0/24
"""

SECOND_POLICY_FILE = """\
policy:
  on_demand_max_hours: 4
"""


def _tomora_latin1() -> bytes:
    text = (REPO / BASE / TOMORA).read_text(encoding="utf-8")
    old = "function: CT scanner, radiology department"
    assert text.count(old) == 1
    return text.replace(old, "function: Scanner, service de radiologie (hôpital Nord)").encode("latin-1")


REMOVED_SYSTEM = """
      - name: ct-nord-2
        site: nord
        function: CT scanner, radiology department
        criticality: high
        owner: biomed.head@chu-exemple.example
        access:
          mode: on_demand
          services: [ssh]
          via: [tomora-l2l]
          max_hours: 2
        flows:
          - {to: pacs-nord, services: [dicom], keep: true}
"""

ACME_OWNER = "        owner: pacs.admin@chu-exemple.example\n"
EXISTING = ("    existing_networks:\n"
            "      imaging-150: {subnet: 10.10.50.0/24, vlan: 150, gateway: 10.10.50.1, routed_by: core-nord}\n")
CT1_FLOW = '          window: {days: [tue, thu], start: "08:00", end: "12:00"}\n        flows:\n          - {to: pacs-'
BST1 = "        bst-1: {ansible_host: 10.250.0.21, vw_platform: linux}\n"
L2L_WHY = ("        justification: Remote tube diagnostics only work through the vendor's IPsec concentrator.\n"
           "        retire_by: 2027-06-30\n")

CASES: dict[str, Case] = {
    # ------------------------------------------------------------------ YAML and files
    "yaml-syntax-unclosed-bracket": Case(
        "a flow sequence left open",
        {ACME: [("services: [ssh, https]\n", "services: [ssh, https\n")]}),
    "yaml-syntax-bad-indent": Case(
        "a key indented one space too few",
        {ACME: [("        criticality: vital\n", "       criticality: vital\n")]}),
    "yaml-tab-indent": Case(
        "a tab used for indentation",
        {TOMORA: [("        criticality: high\n", "\tcriticality: high\n")]}),
    "yaml-duplicate-key": Case(
        "the same key twice in one mapping",
        {ACME: _insert_after(ACME_OWNER, "        criticality: high\n")}),
    "yaml-merge-key": Case(
        "a YAML merge key (<<)",
        {TOMORA: [("      - name: ct-nord-2\n        site: nord\n",
                   "      - name: ct-nord-2\n        <<: {site: nord}\n")]}),
    "empty-domain-file": Case(
        "a domain file with nothing in it",
        {GROUPS: ""}),
    "comments-only-domain-file": Case(
        "a domain file with only comments",
        {GROUPS: "# client groups: to be filled in by the network team\n"}),
    "top-level-list": Case(
        "a domain file whose top level is a list",
        {GROUPS: GROUPS_AS_LIST}),
    "non-utf8-latin1": Case(
        "a vendor file saved as Latin-1 by a Windows editor",
        {TOMORA: _tomora_latin1()}),
    "binary-file": Case(
        "a binary file (a PNG) saved with a .yml name",
        {"vendorwall/vendors/logo.yml": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"}),
    "nul-bytes": Case(
        "NUL bytes in an otherwise ASCII file",
        {TOMORA: [("    title: Tomora Medical (CT)\n", "    title: Tomora\x00\x00 Medical (CT)\n")]}),
    "nbsp-in-key": Case(
        "a key pasted from a word processor with a non-breaking space",
        {TOMORA: [('    hotline: "+33', '    hotline\u00a0: "+33')]}),
    "control-char-in-key": Case(
        "a quoted key containing a newline",
        {TOMORA: _insert_after("    title: Tomora Medical (CT)\n", '    "title\\n": Tomora Medical (CT)\n')}),
    "missing-hosts": Case(
        "no hosts.yml",
        {HOSTS: None}),
    # ------------------------------------------------------------------ schema
    "unknown-key": Case(
        "a misspelt key",
        {ACME: [("          max_hours: 4\n", "          max_hour: 4\n")]}),
    "unknown-top-level-key": Case(
        "a singular top-level key",
        {TOMORA: [("vendors:\n", "vendor:\n")]}),
    "wrong-type": Case(
        "a string where a list is expected",
        {SITES: [("    vlan_range: [3000, 3099]\n", "    vlan_range: 3000-3099\n")]}),
    "vlan-as-string": Case(
        "a pinned VLAN written as a string",
        {ACME: _insert_after(ACME_OWNER, '        vlan: "3050"\n')}),
    "port-as-string": Case(
        "a port written as a quoted string",
        {POLICY: [("ssh: {protocol: tcp, ports: [22]}", 'ssh: {protocol: tcp, ports: ["22"]}')]}),
    "null-vendor": Case(
        "a vendor key with nothing under it",
        {"vendorwall/vendors/newco.yml": "vendors:\n  newco:\n"}),
    "missing-required-key": Case(
        "a vendor without its hotline key",
        {TOMORA: [('    hotline: "+33 1 00 00 00 02"\n', "")]}),
    "enum-typo": Case(
        "a criticality that is not one of the allowed values",
        {ACME: [("        criticality: vital\n", "        criticality: critical\n")]}),
    "malformed-name": Case(
        "an upper-case system name",
        {TOMORA: [("      - name: ct-nord-2\n", "      - name: CT-Nord-2\n")]}),
    "flow-both-directions": Case(
        "a flow with both from and to",
        {ACME: [("{to: pacs-nord, services: [hl7], keep: true}",
                 "{from: pacs-nord, to: pacs-nord, services: [hl7], keep: true}")]}),
    "invalid-date": Case(
        "a date that does not exist",
        {TOMORA: [("      ends: 2028-12-31\n", "      ends: 2028-02-30\n")]}),
    "bad-time": Case(
        "a window start written 8h00",
        {TOMORA: [('start: "08:00"', "start: 8h00")]}),
    "unquoted-time": Case(
        "a window end written 12:00 without quotes (YAML reads it as 720)",
        {TOMORA: [('end: "12:00"', "end: 12:00")]}),
    "bad-email": Case(
        "an account email without @",
        {ACME: [("email: jeanne.martin@acme-imaging.example", "email: jeanne.martin")]}),
    "entry-path-missing-source": Case(
        "a bastion entry path without its source prefix",
        {ACME: [("        source: 10.249.0.101/32\n", "")]}),
    "entry-path-field-of-other-kind": Case(
        "a vpn entry path written with the bastion's field name",
        {ACME: [("        pool: 10.200.1.0/27\n", "        source: 10.200.1.0/27\n")]}),
    "exception-without-justification": Case(
        "a telnet exception without its justification",
        {TOMORA: [("          services: [ssh]\n",
                   "          services: [ssh, telnet]\n          exception: {services: [telnet]}\n")]}),
    # ------------------------------------------------------------------ hosts.yml
    "unknown-platform": Case(
        "a device with an unknown vw_platform",
        {HOSTS: [("vw_platform: ios}", "vw_platform: cisco_ios}")]}),
    "hosts-platform-wrong-role": Case(
        "a bastion declared with a firewall platform",
        {HOSTS: [("bst-1: {ansible_host: 10.250.0.21, vw_platform: linux}",
                  "bst-1: {ansible_host: 10.250.0.21, vw_platform: nftables}")]}),
    "hosts-syslog-slot-invalid": Case(
        "a FortiGate opting in to log forwarding with a syslog slot that does not exist",
        {HOSTS: [("fw-nord: {ansible_host: 10.250.1.1, vw_platform: nftables}",
                  "fw-nord: {ansible_host: 10.250.1.1, vw_platform: fortios, vw_vlan_parent: port2,\n"
                  "                  vw_syslog_slot: syslogd9}")]}),
    "hosts-syslog-slot-wrong-platform": Case(
        "a log-forwarding opt-in on a platform that does not read it",
        {HOSTS: [("fw-nord: {ansible_host: 10.250.1.1, vw_platform: nftables}",
                  "fw-nord: {ansible_host: 10.250.1.1, vw_platform: nftables, vw_syslog_interface: inside}")]}),
    "hosts-missing-ansible-host": Case(
        "a device without ansible_host",
        {HOSTS: [("bst-1: {ansible_host: 10.250.0.21, vw_platform: linux}", "bst-1: {vw_platform: linux}")]}),
    "hosts-device-in-two-roles": Case(
        "a device in two role groups",
        {HOSTS: _insert_after(BST1, "        fw-nord: {ansible_host: 10.250.1.1, vw_platform: linux}\n")}),
    "site-group-unknown-device": Case(
        "a site group listing a device of no role group",
        {HOSTS: _insert_after("        sw-nord-1:\n", "        sw-nord-2:\n")}),
    "firewall-not-in-site-group": Case(
        "the site's firewall missing from its site group",
        {HOSTS: [("      hosts:\n        fw-nord:\n        sw-nord-1:\n", "      hosts:\n        sw-nord-1:\n")]}),
    "hosts-empty": Case(
        "an empty hosts.yml",
        {HOSTS: ""}),
    "hosts-all-empty": Case(
        "a hosts.yml with an empty 'all:' (found by fuzzing)",
        {HOSTS: "all:\n"}),
    "hosts-syntax-error": Case(
        "a hosts.yml with a YAML error",
        {HOSTS: [("        fw-nord:\n        sw-nord-1:\n", "        fw-nord:\n       sw-nord-1:\n")]}),
    # ------------------------------------------------------------------ references
    "unknown-site": Case(
        "a system on a site that does not exist",
        {ACME: [("      - name: ris-nord\n        site: nord\n", "      - name: ris-nord\n        site: nrod\n")]}),
    "unknown-service": Case(
        "an access to a service not in the catalogue",
        {ACME: [("services: [ssh, https]\n", "services: [ssh, htps]\n")]}),
    "forbidden-services-unknown": Case(
        "policy forbids a service the catalogue does not define",
        {POLICY: [("forbidden_services: [telnet, smb, any]", "forbidden_services: [telnet, smb, any, ftp]")]}),
    "unknown-flow-peer-client-group": Case(
        "a flow from a client group that does not exist",
        {ACME: [("{from: radiology-ws-nord,", "{from: radiology-nord,")]}),
    "unknown-flow-peer-system": Case(
        "a flow to a system that does not exist",
        {TOMORA: [(CT1_FLOW + "nord,", CT1_FLOW + "nrod,")]}),
    "unknown-entry-path-via": Case(
        "an access via an entry path the vendor does not have",
        {ACME: [("via: [acme-bastion]\n", "via: [acme-bastoin]\n")]}),
    "via-other-vendor-path": Case(
        "an access via another vendor's entry path",
        {TOMORA: [("          via: [tomora-vpn]\n", "          via: [acme-vpn]\n")]}),
    "unknown-bastion": Case(
        "an entry path through a bastion not in hosts.yml",
        {ACME: [("bastion: bst-1\n", "bastion: bst-2\n")]}),
    "unknown-firewall": Case(
        "a site routed by a firewall not in hosts.yml",
        {SITES: [("firewall: fw-nord\n", "firewall: fw-north\n")]}),
    "unknown-switch-port": Case(
        "a switch port on a switch that does not serve the site",
        {TOMORA: [("          - switch: sw-nord-1\n", "          - switch: sw-nord-2\n")]}),
    "access-port-is-uplink": Case(
        "a system's access port is the switch uplink",
        {TOMORA: [("interface: GigabitEthernet1/0/2\n", "interface: GigabitEthernet1/0/48\n")]}),
    "name-trailing-newline": Case(
        "a system name ending with a newline (before: valid, and plan wrote a broken nft file)",
        {TOMORA: [("      - name: ct-nord-2\n", '      - name: "ct-nord-2\\n"\n')]}),
    "port-range-non-ascii-digits": Case(
        "a port range written in Arabic-Indic digits (before: valid, read as tcp/2575-2576; Python's \\d matches any "
        "script's digits)",
        {POLICY: [("  hl7: {protocol: tcp, ports: [2575]}\n",
                   '  hl7: {protocol: tcp, ports: ["\u0662\u0665\u0667\u0665-\u0662\u0665\u0667\u0666"]}\n')]}),
    "control-char-in-text": Case(
        "free text with a terminal escape sequence and a right-to-left override",
        {TOMORA: [("    title: Tomora Medical (CT)\n", '    title: "Tomora \\e[2J\\e[31mMedical"\n'),
                  ("        function: CT scanner, radiology department\n",
                   "        function: CT scanner, \u202eradiology department\n")]}),
    "access-port-is-uplink-abbreviated": Case(
        "a system's access port is the switch uplink written the short way (Gi1/0/48)",
        {TOMORA: [("interface: GigabitEthernet1/0/2\n", "interface: Gi1/0/48\n")]}),
    "switch-interface-wrong-platform": Case(
        "an NX-OS switch whose uplink and access port keep IOS interface names (both reported)",
        {HOSTS: [("sw-nord-1: {ansible_host: 10.250.1.11, vw_platform: ios}",
                  "sw-nord-1: {ansible_host: 10.250.1.11, vw_platform: nxos}")]}),
    # ------------------------------------------------------------------ prefixes
    "prefix-host-bits": Case(
        "a VPN pool with host bits set",
        {ACME: [("pool: 10.200.1.0/27\n", "pool: 10.200.1.5/27\n")]}),
    "overlap-entry-paths": Case(
        "two vendors' entry paths overlap",
        {TOMORA: [("pool: 10.200.2.0/27\n", "pool: 10.200.1.16/28\n")]}),
    "account-created-in-future": Case(
        "an account 'created' next year: its lifetime runs from today, so it may not live two years",
        {ACME: [("        created: 2026-09-01\n        expires: 2027-08-31\n",
                 "        created: 2027-11-01\n        expires: 2028-10-31\n")]}),
    "vendor-source-is-device-mgmt": Case(
        "a vendor's bastion source equal to a bastion's management address: isolation could never cut it",
        {HOSTS: [("bst-1: {ansible_host: 10.250.0.21,", "bst-1: {ansible_host: 10.249.0.101,")]}),
    "overlap-pool-management": Case(
        "a segment pool overlapping a management network",
        {SITES: _insert_after("      - 10.64.0.0/24\n", "      - 10.250.1.128/25\n")}),
    "address-outside-site": Case(
        "a pinned address outside the site's segment pool",
        {ACME: _insert_after(ACME_OWNER, "        addresses: [10.65.0.10]\n")}),
    "address-is-gateway": Case(
        "a pinned address that is its segment's gateway",
        {ACME: _insert_after(ACME_OWNER, "        addresses: [10.64.0.1]\n")}),
    # ------------------------------------------------------------------ names
    "duplicate-system-across-vendors": Case(
        "two vendors' files define the same system name",
        {TOMORA: [("      - name: ct-nord-2\n", "      - name: ris-nord\n")]}),
    "system-named-like-client-group": Case(
        "a system with the name of a client group",
        {TOMORA: [("      - name: ct-nord-2\n", "      - name: radiology-ws-nord\n")]}),
    "duplicate-vendor-two-files": Case(
        "one vendor defined in two files",
        {"vendorwall/vendors/tomora-mri.yml": SECOND_TOMORA_FILE}),
    "duplicate-policy": Case(
        "policy defined in two files",
        {"vendorwall/policy-override.yml": SECOND_POLICY_FILE}),
    "duplicate-account-id": Case(
        "the same account id in two vendors",
        {TOMORA: _insert_after("      - biomed.head@chu-exemple.example\n",
                               "    accounts:\n      - id: acme.jmartin\n        person: Jean Martin\n"
                               "        email: jean.martin@tomora.example\n        expires: 2027-05-31\n")}),
    "switch-port-used-twice": Case(
        "two systems on the same switch port",
        {TOMORA: [("            interface: GigabitEthernet1/0/2\n", "            interface: GigabitEthernet1/0/1\n")]}),
    # ------------------------------------------------------------------ VLANs and pools
    "vlan-outside-range": Case(
        "a pinned VLAN outside the site's range",
        {ACME: _insert_after(ACME_OWNER, "        vlan: 4000\n")}),
    "vlan-reused": Case(
        "two systems pin the same VLAN",
        {ACME: _insert_after(ACME_OWNER, "        vlan: 3050\n"),
         TOMORA: _insert_after("        criticality: vital\n", "        vlan: 3050\n")}),
    "shared-firewall-vlan-overlap": Case(
        "a second site served by the same firewall with an overlapping VLAN range",
        {SITES: _insert_after("      - 10.250.1.0/24\n", """  est:
    title: Clinique Est
    kind: clinic
    firewall: fw-nord
    segment_pool:
      - 10.65.0.0/24
    vlan_range: [3050, 3149]
    management:
      - 10.250.2.0/24
"""), HOSTS: _insert_after("        sw-nord-1:\n", "    site_est:\n      hosts:\n        fw-nord:\n")}),
    "address-is-network": Case(
        "a pinned address that is its segment's network address",
        {ACME: _insert_after(ACME_OWNER, "        addresses: [10.64.0.8]\n")}),
    "duplicate-flow": Case(
        "the same flow declared twice on one system (once must-keep, once not)",
        {ACME: [("          - {from: radiology-ws-nord, services: [dicom, https], keep: true}\n",
                 "          - {from: radiology-ws-nord, services: [dicom, https], keep: true}\n"
                 "          - {from: radiology-ws-nord, services: [https]}\n")]}),
    "pool-exhausted": Case(
        "a /29 segment pool for four dedicated /29 systems (first plan, no lock yet)",
        {SITES: [("      - 10.64.0.0/24\n", "      - 10.64.0.0/29\n")], LOCK: None}),
    "port-range-too-wide": Case(
        "a port range wider than the maximum",
        {POLICY: [("https: {protocol: tcp, ports: [443]}", 'https: {protocol: tcp, ports: [443, "8000-9999"]}')]}),
    # ------------------------------------------------------------------ policy
    "account-lifetime": Case(
        "an account living longer than the policy allows",
        {ACME: [("        expires: 2027-08-31\n", "        expires: 2027-12-31\n")]}),
    "account-expired": Case(
        "an account past its expiry date",
        {ACME: [("        created: 2026-09-01\n        expires: 2027-08-31\n",
                 "        created: 2025-09-01\n        expires: 2026-08-31\n")]}),
    "account-id-reserved": Case(
        "a vendor account id that names a system account (root)",
        {ACME: [("      - id: acme.jmartin\n", "      - id: root\n")]}),
    "account-id-system-pattern": Case(
        "a vendor account id shaped like a system account (systemd-...)",
        {ACME: [("      - id: acme.jmartin\n", "      - id: systemd-acme\n")]}),
    "account-ssh-key-two-lines": Case(
        "an ssh_key holding a newline and a second key with options (an extra authorized key)",
        {ACME: _insert_after("        expires: 2027-08-31\n",
                             '        ssh_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBeNdZ jm@acme\\ncommand=\\"sh\\" '
                             'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAtTaCk x"\n')}),
    "shared-account": Case(
        "a shared account",
        {ACME: _insert_after("        expires: 2027-08-31\n", "        shared: true\n")}),
    "permanent-without-justification": Case(
        "a permanent access with neither justification nor until",
        {ACME: [("          justification: Contractual 24/7 monitoring of the RIS interfaces.\n"
                 "          until: 2027-06-30\n", "")]}),
    "permanent-over-max-validity": Case(
        "a permanent access valid for more than a year",
        {ACME: [("          until: 2027-06-30\n", "          until: 2028-06-30\n")]}),
    "contract-ended": Case(
        "a vendor whose contract has ended",
        {TOMORA: [("      ends: 2028-12-31\n", "      ends: 2026-10-31\n")]}),
    "vendor-without-hotline": Case(
        "a vendor with an empty hotline",
        {TOMORA: [('    hotline: "+33 1 00 00 00 02"\n', '    hotline: ""\n')]}),
    "forbidden-service-telnet": Case(
        "telnet without an exception",
        {TOMORA: [("          services: [ssh]\n", "          services: [ssh, telnet]\n")]}),
    "forbidden-port-renamed-service": Case(
        "a new catalogue name for SMB's port (robot-logs: tcp/445), used by a vendor without an exception: "
        "forbidden by its port, not its name",
        {POLICY: [("  any: {protocol: any}\n",
                   "  any: {protocol: any}\n  robot-logs: {protocol: tcp, ports: [445]}\n")],
         TOMORA: [("          services: [ssh]\n", "          services: [ssh, robot-logs]\n")]}),
    "forbidden-port-widened-service": Case(
        "port 23 added to a service vendors use (https: 443 and 23): forbidden by its port",
        {POLICY: [("  https: {protocol: tcp, ports: [443]}", "  https: {protocol: tcp, ports: [23, 443]}")]}),
    "forbidden-port-range": Case(
        "the policy forbids a port range (tcp/2000-3000): hl7 (tcp/2575) for a vendor needs an exception",
        {POLICY: [("forbidden_services: [telnet, smb, any]", "forbidden_services: [telnet, smb, any, tcp/2000-3000]")],
         TOMORA: [("          services: [ssh]\n", "          services: [ssh, hl7]\n")]}),
    "forbidden-port-range-malformed": Case(
        "a malformed port range in forbidden_services",
        {POLICY: [("forbidden_services: [telnet, smb, any]", "forbidden_services: [telnet, smb, any, tcp/70000]")]}),
    "exception-unused": Case(
        "an exception for a service the access does not use",
        {TOMORA: [("          services: [ssh]\n",
                   "          services: [ssh]\n"
                   "          exception: {services: [telnet], justification: legacy console}\n")]}),
    "lan-to-lan-without-justification": Case(
        "a LAN-to-LAN tunnel with neither justification nor retire_by",
        {TOMORA: [(L2L_WHY, "")]}),
    "on-demand-max-hours": Case(
        "an on-demand grant longer than the policy allows",
        {ACME: [("          max_hours: 4\n", "          max_hours: 24\n")]}),
    "scheduled-without-window": Case(
        "a scheduled access without its window",
        {TOMORA: [('          window: {days: [tue, thu], start: "08:00", end: "12:00"}\n', "")]}),
    "overnight-window": Case(
        "a window that ends before it starts",
        {TOMORA: [('start: "08:00", end: "12:00"', 'start: "22:00", end: "06:00"')]}),
    # ------------------------------------------------------------------ lock file
    "stale-lock": Case(
        "a system added without re-planning",
        {ACME: _insert_after("          - {to: pacs-nord, services: [hl7], keep: true}\n", NEW_SYSTEM)}),
    "lock-entry-of-removed-system": Case(
        "a system removed without re-planning (its lock entry left behind)",
        {TOMORA: [(REMOVED_SYSTEM, "")]}),
    "lock-vlan-reused": Case(
        "the lock file hand-edited so two segments share a VLAN",
        {LOCK: [("{vlan: 3001,", "{vlan: 3000,")]}),
    "lock-malformed-entry": Case(
        "a lock entry with a broken subnet",
        {LOCK: [("subnet: 10.64.0.8/29", "subnet: 10.64.0.8/33")]}),
    "lock-syntax-error": Case(
        "a lock file with a merge-conflict marker",
        {LOCK: _insert_after("segments:\n", "<<<<<<< HEAD\n")}),
    "lock-version": Case(
        "a lock file of another version",
        {LOCK: [("version: 1\n", "version: 2\n")]}),
    # ------------------------------------------------------------------ many at once
    "collect-all-semantic": Case(
        "semantic errors in four files, all reported in one run",
        {SITES: [("firewall: fw-nord\n", "firewall: fw-north\n")],
         GROUPS: [("    site: nord\n", "    site: sud\n")],
         ACME: [("services: [ssh, https]\n", "services: [ssh, htps]\n"),
                ("          max_hours: 4\n", "          max_hours: 24\n"),
                ("        expires: 2027-08-31\n", "        expires: 2027-08-31\n        shared: true\n")],
         TOMORA: [('    hotline: "+33 1 00 00 00 02"\n', '    hotline: ""\n'),
                  ("          services: [ssh]\n", "          services: [ssh, telnet]\n"),
                  ("      ends: 2028-12-31\n", "      ends: 2026-10-31\n")]}),
    # ------------------------------------------------------------------ brownfield: existing networks
    "network-two-vendors": Case(
        "devices of two vendors in one existing network",
        {SITES: _insert_after("    vlan_range: [3000, 3099]\n", EXISTING),
         TOMORA: [("        criticality: vital\n", "        criticality: vital\n        network: imaging-150\n"
                   "        addresses: [10.10.50.21]\n")],
         ACME: [("        criticality: vital\n", "        criticality: vital\n        network: imaging-150\n"
                 "        addresses: [10.10.50.30]\n")]}),
    "network-address-outside": Case(
        "a system adopting an existing network with an address outside it",
        {SITES: _insert_after("    vlan_range: [3000, 3099]\n", EXISTING),
         TOMORA: [("        criticality: vital\n", "        criticality: vital\n        network: imaging-150\n"
                   "        addresses: [10.10.51.21]\n")]}),
    "network-two-segments": Case(
        "two dedicated systems of one vendor adopting the same existing network",
        {SITES: _insert_after("    vlan_range: [3000, 3099]\n", EXISTING),
         TOMORA: [("        criticality: vital\n", "        criticality: vital\n        network: imaging-150\n"
                   "        addresses: [10.10.50.21]\n"),
                  ("        criticality: high\n", "        criticality: high\n        network: imaging-150\n"
                   "        addresses: [10.10.50.22]\n")]}),
    "network-address-in-existing": Case(
        "a pinned address in an existing network the system does not adopt",
        {SITES: _insert_after("    vlan_range: [3000, 3099]\n", EXISTING),
         TOMORA: [("        criticality: vital\n", "        criticality: vital\n        addresses: [10.10.50.21]\n")]}),
    "network-unknown-and-no-address": Case(
        "a system adopting a network its site does not declare, another adopting one without its address",
        {SITES: _insert_after("    vlan_range: [3000, 3099]\n", EXISTING),
         TOMORA: [("        criticality: vital\n", "        criticality: vital\n        network: imaging-105\n"
                   "        addresses: [10.10.50.21]\n"),
                  ("        criticality: high\n", "        criticality: high\n        network: imaging-150\n")]}),
    # ------------------------------------------------------------------ LAN-to-LAN tunnels
    "tunnel-retirement-past": Case(
        "a LAN-to-LAN tunnel whose retirement date has passed",
        {TOMORA: [("        retire_by: 2027-06-30\n", "        retire_by: 2026-10-31\n")]}),
    "tunnel-confined-via": Case(
        "a system reached through a tunnel confined to another system, which has no such replacement",
        {TOMORA: [(L2L_WHY, L2L_WHY + "        systems: [ct-nord-1]\n        replacement: tomora-l2l\n")]}),
    "tunnel-interface-flow": Case(
        "an interface tunnel used for maintenance, and an interface flow without its justification",
        {TOMORA: [(L2L_WHY, L2L_WHY + "        purpose: interface\n"),
                  ("          - {to: pacs-nord, services: [dicom], keep: true}\n\n",
                   "          - {to: pacs-nord, services: [dicom], keep: true}\n"
                   "          - {to: tomora-l2l, services: [https]}\n\n")]}),
    "collect-all-twelve": Case(
        "twelve mistakes of both kinds (six structural, six semantic) in six files, all reported in one run: "
        "the semantic checks run on every entry that loaded",
        {HOSTS: [("vw_platform: ios}", "vw_platform: cisco_ios}")],
         POLICY: [("https: {protocol: tcp, ports: [443]}", 'https: {protocol: tcp, ports: ["443"]}')],
         SITES: [("    vlan_range: [3000, 3099]\n", "    vlan_range: 3000-3099\n")],
         GROUPS: [("    site: nord\n", "    site: sud\n")],
         ACME: [("        criticality: vital\n", "        criticality: critical\n"),
                ("email: jeanne.martin@acme-imaging.example", "email: jeanne.martin"),
                ("          until: 2027-06-30\n", "          until: 2028-06-30\n"),
                ("{to: pacs-nord, services: [hl7], keep: true}", "{to: pacs-nord, services: [hl77], keep: true}")],
         TOMORA: [('    hotline: "+33 1 00 00 00 02"\n', '    hotline: ""\n'),
                  ("          services: [ssh, https]\n", "          services: [ssh, telnet]\n"),
                  ("          max_hours: 2\n", "          max_hour: 2\n"),
                  ("      ends: 2028-12-31\n", "      ends: 2026-10-31\n")]}),
    "collect-all-structural": Case(
        "structural errors (YAML, schema, hosts) in five files, all reported in one run",
        {HOSTS: [("vw_platform: ios}", "vw_platform: cisco_ios}")],
         SITES: [("    vlan_range: [3000, 3099]\n", "    vlan_range: 3000-3099\n")],
         GROUPS: "",
         ACME: [("          max_hours: 4\n", "          max_hour: 4\n"),
                ("        criticality: vital\n", "        criticality: critical\n")],
         TOMORA: [('    hotline: "+33 1 00 00 00 02"\n', "")]}),
}


# Cases whose current output is wrong or unclear (found while reviewing the outputs): no
# expected.txt is written for them, see the module docstring. Keep in sync with SHOULD in
# tests/test_errors.py.
PROBLEMS: dict[str, str] = {
    # case name -> why its output is wrong (no expected.txt is written until the code is fixed)
}

CASES = {name: replace(case, problem=PROBLEMS.get(name, "")) for name, case in CASES.items()}
assert set(PROBLEMS) <= set(CASES), set(PROBLEMS) - set(CASES)

# ---------------------------------------------------------------------------------------


def _apply(case_dir: Path, rel: str, edit: Edit) -> None:
    path = case_dir / rel
    if edit is None:
        path.unlink()
        return
    if isinstance(edit, bytes):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(edit)
        return
    if isinstance(edit, str):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(edit, encoding="utf-8")
        return
    text = path.read_text(encoding="utf-8")
    for old, new in edit:
        n = text.count(old)
        if n != 1:
            raise SystemExit(f"{case_dir.name}: {rel}: {old!r} occurs {n} times (must be exactly once)")
        text = text.replace(old, new)
    path.write_bytes(text.encode("utf-8"))


def _vendorwall(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "VENDORWALL_DEBUG"}
    return subprocess.run([sys.executable, "-m", "vendorwall", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, check=False)


def regen_base() -> None:
    with tempfile.TemporaryDirectory() as out:
        res = _vendorwall("plan", str(BASE), "--out", out, "--now", NOW)
    if res.returncode != 0:
        raise SystemExit(f"_base: vendorwall plan failed (exit {res.returncode}):\n{res.stderr}")
    res = _vendorwall("validate", str(BASE), "--now", NOW)
    if res.returncode != 0:
        raise SystemExit(f"_base: not valid (exit {res.returncode}):\n{res.stderr}")


def build(name: str, case: Case) -> str:
    """Recreate the case directory; returns a one-line status."""
    case_dir = REPO / ERRORS / name
    if case_dir.exists():
        shutil.rmtree(case_dir)
    shutil.copytree(REPO / BASE, case_dir)
    for rel, edit in case.edits.items():
        _apply(case_dir, rel, edit)
    res = _vendorwall("validate", str(ERRORS / name), "--now", NOW)
    expected = case_dir / "expected.txt"
    bad = []
    if res.returncode != case.exit_code:
        bad.append(f"exit {res.returncode}, expected {case.exit_code}")
    if "Traceback" in res.stderr or "internal error" in res.stderr:
        bad.append("traceback / internal error")
    if res.stdout:
        bad.append("output on stdout")
    if case.problem:
        (case_dir / "PROBLEM").write_text(case.problem.strip() + "\n", encoding="utf-8")
        return f"{name}: known problem, no expected.txt ({case.problem})"
    if bad:
        raise SystemExit(f"{name}: {'; '.join(bad)}; mark the case problem=... or fix the code:\n{res.stderr}")
    expected.write_text(res.stderr, encoding="utf-8")
    return f"{name}: ok"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases", nargs="*", help="cases to rebuild (default: all)")
    ap.add_argument("--list", action="store_true", help="list the cases")
    args = ap.parse_args(argv)
    if args.list:
        for name, case in CASES.items():
            print(f"{name}\t{case.doc}" + (f"\t[problem: {case.problem}]" if case.problem else ""))
        return 0
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        ap.error(f"unknown case(s): {', '.join(unknown)}")
    regen_base()
    for name in args.cases or CASES:
        print(build(name, CASES[name]))
    if not args.cases:  # drop directories of cases that no longer exist
        for d in sorted((REPO / ERRORS).iterdir()):
            if d.is_dir() and not d.name.startswith("_") and d.name not in CASES:
                shutil.rmtree(d)
                print(f"{d.name}: removed (no longer declared)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
