"""The bastion accounts agent's pure parts, without a bastion: names it refuses, keys it accepts, the
per-vendor source rules it writes (the lab tests run it for real: tests/access/*_lab.py)."""

from __future__ import annotations

import ipaddress

import pytest

from vendorwall.devices.agents import accounts as agent
from vendorwall.validate import reserved_account

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly0000000000000000000000 jane@acme.example"


@pytest.mark.parametrize("name", ["root", "daemon", "www-data", "sshd", "systemd-network", "_apt", "nobody",
                                  "Root", "root\n", "a" * 33, "", "-rf", "acme/../x"])
def test_reserved_or_malformed_names_refused(name):
    assert agent.reserved(name)
    assert reserved_account(name) == agent.reserved(name)  # validation uses the agent's own rule


@pytest.mark.parametrize("name", ["acme.jmartin", "climatec.fleroy", "j_doe-2"])
def test_personal_names_accepted(name):
    assert agent.reserved(name) == ""


@pytest.mark.parametrize("key", ['command="sh" ' + KEY, KEY + "\nssh-ed25519 AAAA attacker", "from=\"*\" " + KEY,
                                 KEY.replace(" jane", "\tjane"), KEY + "\x1b[2J", "ssh-dss AAAAB3Nza x"])
def test_keys_with_options_lines_or_controls_refused(key):
    with pytest.raises(agent.BadRequest, match="one SSH public key"):
        agent._wanted({"accounts": [{"id": "acme.jmartin", "vendor": "acme-imaging", "expires": "2027-01-01",
                                     "key": key}]})


def test_one_plain_key_accepted_and_person_stripped():
    w = agent._wanted({"accounts": [{"id": "acme.jmartin", "vendor": "acme-imaging", "expires": "2027-01-01",
                                     "key": KEY, "person": "Jeanne:Martin\n,x"}]})
    assert w[0]["key"] == KEY and ":" not in w[0]["person"] and "\n" not in w[0]["person"]


def test_source_rules_per_account_uid():
    reg = {"accounts": {"acme.jmartin": {"vendor": "acme-imaging", "uid": 1001},
                        "climatec.fleroy": {"vendor": "climatec", "uid": 1002},
                        "gone.vendor": {"vendor": "gone", "uid": 1003}}}
    src = agent._sources({"sources": {"acme-imaging": ["10.249.0.101/32"],
                                      "climatec": ["10.249.0.107/32", "10.249.0.106/32"]}})
    assert src["climatec"] == [ipaddress.IPv4Network("10.249.0.106/31")]  # collapsed
    text, _n = agent.sources_ruleset(reg, src)
    assert "meta skuid 1001 ip saddr @src_0 accept" in text
    assert "meta skuid 1001 ip saddr != @src_0 snat ip to 10.249.0.101" in text
    assert "meta skuid 1002 ip saddr @src_1 accept" in text
    assert "meta skuid 1002 ip saddr != @src_1 snat" not in text  # two addresses: none to rewrite to
    assert "meta skuid 1001 ip saddr @vendor_src counter reject" in text
    assert "1003" not in text  # an account whose vendor has no source on this bastion gets no rule
    assert text.startswith("table inet vendorwall_bastion\ndelete table inet vendorwall_bastion\n")
    with pytest.raises(agent.BadRequest):
        agent._sources({"sources": {"acme-imaging": ["10.249.0.101/32; flush ruleset"]}})
    with pytest.raises(agent.BadRequest):
        agent._sources({"sources": {'x" ; flush ruleset': ["10.0.0.1/32"]}})
