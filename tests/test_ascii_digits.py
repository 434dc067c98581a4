"""Digits of other scripts (Arabic-Indic ``٢``, Devanagari ``२``, fullwidth ``２``) are digits for Python's
``\\d`` and ``int()``: a port ``tcp/٢٣`` in ``forbidden_services`` meant tcp/23, an uplink ``Gi١/0/48``
was an interface name, a lock line ``vlan: ١٠٠`` was VLAN 100 for the lock file's fast reader, a period
``٢٠٢٦-Q4`` was 2026-Q4. Inputs are parsed on ASCII digits only (the JSON schemas already require
``[0-9]``); the red-team found the same hole in ports and durations."""

from __future__ import annotations

import pytest

from vendorwall import allocate, forbidden, validate
from vendorwall.evidence import collect

OTHER_DIGITS = ["\u0662\u0663", "\u0968\u0969", "\uff12\uff13"]  # "23" in Arabic-Indic, Devanagari, fullwidth


@pytest.mark.parametrize("digits", OTHER_DIGITS)
def test_forbidden_port_specs_take_ascii_digits_only(digits: str) -> None:
    assert forbidden.parse_spec("tcp/23") == ("tcp", 23, 23)
    assert forbidden.parse_spec(f"tcp/{digits}") is None
    assert forbidden.parse_spec(f"udp/1-{digits}") is None


@pytest.mark.parametrize("digits", OTHER_DIGITS)
def test_interface_names_take_ascii_digits_only(digits: str) -> None:
    assert validate._IF_NAME.match("Gi1/0/48")
    assert validate._IF_NAME.match(f"Gi{digits}/0/48") is None


@pytest.mark.parametrize("digits", OTHER_DIGITS)
def test_the_lock_files_fast_reader_takes_ascii_digits_only(digits: str) -> None:
    line = "  acme/x-ray/nord: {vlan: %s, subnet: 10.64.0.0/29, hosts: {x-ray-1: [10.64.0.2]}}"
    assert allocate._LOCK_ENTRY.fullmatch(line % "123")
    assert allocate._LOCK_ENTRY.fullmatch(line % digits) is None


@pytest.mark.parametrize("digits", OTHER_DIGITS)
def test_evidence_periods_take_ascii_digits_only(digits: str) -> None:
    assert collect.parse_period("2026-Q4")
    for text in (f"20{digits}-Q4", f"20{digits}", f"2026-{digits}", f"20{digits}-01-01..2026-12-31"):
        with pytest.raises(collect.PeriodError):
            collect.parse_period(text)
