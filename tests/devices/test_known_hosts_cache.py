"""A fan-out to N devices reads their shared known_hosts file once, not once per device.

paramiko parses a known_hosts file in time quadratic in its lines; parsed once per connection, a
100-firewall isolation spent O(N^3) in it on the controller (the file lists every firewall). The parsed
file is kept per version of the file: a key recorded meanwhile (accept-new) or an edit is seen.
"""

from __future__ import annotations

import paramiko
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from vendorwall.devices import ssh
from vendorwall.devices.target import HostKeys, Target


def _keyline(name: str) -> str:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
    return f"{name} {raw.decode()}\n"


def test_parsed_once_for_many_targets_and_again_when_it_changes(tmp_path, monkeypatch):
    path = tmp_path / "known_hosts"
    path.write_text("".join(_keyline(f"10.250.{i}.1") for i in range(30)))
    loads: list[str] = []
    orig = paramiko.HostKeys.load

    def counting(self: paramiko.HostKeys, filename: str) -> None:
        loads.append(filename)
        orig(self, filename)

    monkeypatch.setattr(paramiko.HostKeys, "load", counting)
    hk = HostKeys((str(path),), user_files=False)
    for i in range(30):
        keys, src = ssh._lookup(Target(f"fw{i}", "nftables", f"10.250.{i}.1", host_keys=hk), f"10.250.{i}.1")
        assert list(keys) == ["ssh-ed25519"] and src == str(path)
    assert loads == [str(path)]
    # a key recorded meanwhile (trust on first use appends a line): read again, found
    with open(path, "a") as fh:
        fh.write(_keyline("10.250.99.1"))
    keys, _ = ssh._lookup(Target("fw99", "nftables", "10.250.99.1", host_keys=hk), "10.250.99.1")
    assert list(keys) == ["ssh-ed25519"] and len(loads) == 2
    # a key removed by an edit is gone at once
    path.write_text(_keyline("10.250.0.1"))
    keys, _ = ssh._lookup(Target("fw1", "nftables", "10.250.1.1", host_keys=hk), "10.250.1.1")
    assert keys == {} and len(loads) == 3
