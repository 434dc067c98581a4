"""nftables: the rendered files checked by the real ``nft``, and structural invariants.

Lab tests (``-m lab``) create a throwaway network namespace each (``vwt-<pid>-<n>``, always
deleted), run ``nft -c -f FILE`` on every rendered firewall file of the example and of a larger
synthetic inventory, then load a file for real, add live state (an on-demand grant with a
timeout, a quarantine element), load it again as a redeploy would, and check that the live state
survived and the policy table holds the intended sets. They skip only without root or without
``nft``/``ip``; CI runs them as root.

The invariant tests need nothing: management networks are accepted by the input chain before
any drop, and quarantine drops live in the state table, which no deploy replaces.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest
from vendorwall_testlib import (
    NOW,
    add_systems,
    base_inventory,
    nft_blocks,
    nft_chain,
    nft_sets,
    system,
    write_inventory,
)

from vendorwall.render.nftables import POLICY_TABLE, STATE_TABLE

_counter = itertools.count()


def _firewall_files(result: Any) -> dict[str, str]:
    return {name: r.text for name, r in sorted(result.configs.items()) if r.platform == "nftables"}


@pytest.fixture(params=["example", "synthetic"])
def rendered(request: pytest.FixtureRequest) -> tuple[Any, dict[str, str]]:
    """(pipeline result, {firewall: nftables text}) of the example and of the larger synthetic inventory."""
    result = request.getfixturevalue("example_result" if request.param == "example" else "big_result")
    files = _firewall_files(result)
    assert files, "no nftables file rendered"
    return result, files


# --------------------------------------------------------------------------- lab: the real nft


def _need_lab() -> None:
    """Skip without root or tools; VENDORWALL_REQUIRE_LAB=1 makes that a failure (a CI that must run them)."""
    reason = ""
    missing = [tool for tool in ("nft", "ip") if shutil.which(tool) is None]
    if os.geteuid() != 0:
        reason = "lab test: needs root (creates network namespaces, loads nftables rules)"
    elif missing:
        reason = f"lab test: {' and '.join(missing)} not installed (apt-get install nftables iproute2)"
    if reason and os.environ.get("VENDORWALL_REQUIRE_LAB") == "1":
        pytest.fail(f"{reason}, and VENDORWALL_REQUIRE_LAB=1")
    if reason:
        pytest.skip(reason)


def _run(cmd: list[str], stdin: str | None = None) -> str:
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False, timeout=60)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr.strip()}")
    return proc.stdout


@pytest.fixture
def netns() -> Iterator[Callable[[], str]]:
    """A factory of fresh network namespaces, every one deleted at teardown whatever happens."""
    _need_lab()
    made: list[str] = []

    def make() -> str:
        name = f"vwt-{os.getpid()}-{next(_counter)}"
        _run(["ip", "netns", "add", name])
        made.append(name)
        return name

    try:
        yield make
    finally:
        for name in made:
            subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)


def nft(ns: str, *args: str) -> str:
    return _run(["ip", "netns", "exec", ns, "nft", *args])


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.nft"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.lab
def test_nft_check_every_rendered_file(netns, rendered, tmp_path: Path) -> None:
    _, files = rendered
    ns = netns()
    failures = []
    for name, text in files.items():
        try:
            nft(ns, "-c", "-f", str(_write(tmp_path, name, text)))
        except AssertionError as exc:
            failures.append(f"{name}: {exc}")
    assert not failures, "\n".join(failures)
    assert nft(ns, "list", "ruleset").strip() == "", "nft -c must not load anything"


def _json_sets(ns: str, table: str) -> dict[str, dict[str, Any]]:
    data = json.loads(nft(ns, "-j", "list", "table", "inet", table))
    return {x["set"]["name"]: x["set"] for x in data["nftables"] if "set" in x}


def _json_rules(ns: str, table: str, chain: str) -> list[dict[str, Any]]:
    data = json.loads(nft(ns, "-j", "list", "chain", "inet", table, chain))
    return [x["rule"] for x in data["nftables"] if "rule" in x]


def _elem_values(s: dict[str, Any]) -> list[Any]:
    return [e["elem"]["val"] if isinstance(e, dict) and "elem" in e else e for e in s.get("elem", [])]


def _grant_for(text: str) -> tuple[str, str, int]:
    """A grant like 'vendorwall access open' writes: one on-demand tuple of the file (or a made-up one)."""
    s = nft_sets(text).get((POLICY_TABLE, "ondemand_tcp"))
    if s is None or not s.elements:
        return "10.249.0.250", "10.64.0.2", 22
    src, dst, port = s.elements[0]
    net = IPv4Network(src)
    return str(net.network_address + (1 if net.prefixlen < 32 else 0)), dst, int(port)


@pytest.mark.lab
def test_redeploy_keeps_live_state_and_declares_intended_sets(netns, rendered, tmp_path: Path) -> None:
    result, files = rendered
    for name, text in files.items():
        ns = netns()
        path = str(_write(tmp_path, name, text))
        nft(ns, "-f", path)  # first deploy
        src, dst, port = _grant_for(text)
        nft(ns, "add", "element", "inet", STATE_TABLE, "grants_tcp", f"{{ {src} . {dst} . {port} timeout 2h }}")
        nft(ns, "add", "element", "inet", STATE_TABLE, "quarantine", "{ 10.200.99.0/27, 10.249.0.250 }")
        state_rules = len(_json_rules(ns, STATE_TABLE, "forward"))
        nft(ns, "-f", path)  # redeploy of the same intent
        nft(ns, "-f", path)  # and once more: still idempotent

        # live state survived
        grants = _json_sets(ns, STATE_TABLE)["grants_tcp"]
        elems = grants.get("elem", [])
        assert len(elems) == 1, f"{name}: grants after redeploy: {elems}"
        e = elems[0]["elem"]
        assert e["val"]["concat"] == [src, dst, port], f"{name}: {e}"
        assert e["timeout"] == 7200 and 0 < e["expires"] <= 7200, f"{name}: grant lost its timeout: {e}"
        quarantine = _elem_values(_json_sets(ns, STATE_TABLE)["quarantine"])
        assert {"prefix": {"addr": "10.200.99.0", "len": 27}} in quarantine and "10.249.0.250" in quarantine, \
            f"{name}: quarantine after redeploy: {quarantine}"
        assert len(_json_rules(ns, STATE_TABLE, "forward")) == state_rules, f"{name}: state chain rules duplicated"

        # the policy table holds what was rendered
        rendered_sets = {n: s for (t, n), s in nft_sets(text).items() if t == POLICY_TABLE}
        live = _json_sets(ns, POLICY_TABLE)
        assert set(live) == set(rendered_sets), f"{name}: sets differ"
        for set_name, s in rendered_sets.items():
            assert len(live[set_name].get("elem", [])) == len(s.elements), f"{name}: {set_name} element count"
        site = result.inventory.sites[result.model.devices[name].site]
        live_mgmt = {IPv4Network(f"{v['prefix']['addr']}/{v['prefix']['len']}") if isinstance(v, dict)
                     else IPv4Network(v) for v in _elem_values(live["mgmt"])}
        assert live_mgmt == set(site.management), f"{name}: management set {live_mgmt}"
        listing = nft(ns, "list", "table", "inet", POLICY_TABLE)
        assert re.search(r"chain input \{\n\s+type filter hook input priority filter; policy drop;\n"
                         r"\s+iif \"lo\" accept\n\s+ip saddr @mgmt accept", listing), listing[:2000]


@pytest.mark.lab
def test_bad_file_is_refused_whole(netns, example_result, tmp_path: Path) -> None:
    """One transaction: a broken redeploy leaves the previous policy and the live state as they were."""
    name, text = next(iter(_firewall_files(example_result).items()))
    ns = netns()
    nft(ns, "-f", str(_write(tmp_path, name, text)))
    nft(ns, "add", "element", "inet", STATE_TABLE, "quarantine", "{ 10.249.0.250 }")
    before = nft(ns, "list", "ruleset")
    broken = text.replace("ip saddr @mgmt accept", "ip saddr @no_such_set accept")
    with pytest.raises(AssertionError):
        nft(ns, "-f", str(_write(tmp_path, "broken", broken)))
    assert nft(ns, "list", "ruleset") == before


# --------------------------------------------------------------------------- invariants (no root needed)


def _priority(block: str, chain: str) -> int:
    m = re.search(rf"^\tchain {chain} \{{\n\t\ttype filter hook (\w+) priority filter(?: ([+-]) (\d+))?;", block,
                  re.M)
    assert m, f"chain {chain} is not a base chain"
    return 0 if not m.group(2) else int(m.group(3)) * (1 if m.group(2) == "+" else -1)


def check_invariants(name: str, text: str, management: tuple[IPv4Network, ...]) -> None:
    # management is never cut: @mgmt accepted in the input chain before any drop, policy drop otherwise
    rules = nft_chain(text, POLICY_TABLE, "input")
    assert rules[0] == "type filter hook input priority filter; policy drop;", rules
    body = rules[1:]
    i = body.index("ip saddr @mgmt accept")
    assert not any(re.search(r"\b(drop|reject)\b", r) for r in body[:i]), f"{name}: a drop before @mgmt: {body}"
    assert all("@quarantine" not in r for r in body), f"{name}: quarantine must not touch the input chain"
    sets = nft_sets(text)
    mgmt = {IPv4Network(e[0]) for e in sets[(POLICY_TABLE, "mgmt")].elements}
    assert mgmt == set(management), f"{name}: mgmt set {sorted(map(str, mgmt))}, site has {management}"

    # quarantine and grants live in the state table, which a deploy never deletes or flushes as a whole
    assert set(n for t, n in sets if t == STATE_TABLE) == {"quarantine", "grants_tcp", "grants_udp", "grants_any"}
    for (t, n), s in sets.items():
        if t == STATE_TABLE:
            assert not s.elements, f"{name}: a deploy must not write elements of live set {n}"
    assert f"delete table inet {POLICY_TABLE}\n" in text
    for forbidden in (f"delete table inet {STATE_TABLE}", f"flush table inet {STATE_TABLE}", "flush set",
                      "flush ruleset", "delete set", "delete element"):
        assert forbidden not in text, f"{name}: '{forbidden}' would wipe live state"
    state = nft_chain(text, STATE_TABLE, "forward")
    group = _log_group(text)
    assert state[:2] == [f'meta mark & 0x00400000 == 0 ip {d}addr @quarantine log group {group} prefix '
                         '"vw-quarantine" drop' for d in "sd"], \
        f"{name}: the quarantine drops must come first in the state chain: {state[:3]}"
    policy_text = dict(nft_blocks(text))
    assert all("@quarantine" not in block for t, block in nft_blocks(text) if t == POLICY_TABLE)
    # separate base chains on the forward hook: an accept of the policy table (ct established) does
    # not end the packet's way through the state table; the state chain runs after the marks are set
    state_block = next(block for t, block in nft_blocks(text) if t == STATE_TABLE)
    assert re.search(r"policy accept;", state_block), "the state chain must only drop, never filter the rest"
    assert _priority(state_block, "forward") > _priority(policy_text[POLICY_TABLE], "forward")
    every = nft_chain(text, POLICY_TABLE, "every_set")
    est = every.index("ct state established,related accept")
    tags = [i for i, r in enumerate(every) if "meta mark set" in r]
    assert all(i < est for i in tags), f"{name}: on-demand packets must be tagged before established is accepted"
    check_fast_path(name, text)


def check_fast_path(name: str, text: str) -> None:
    """The connection classes: whatever the map sends a packet to, the checks that cut live sessions run
    before any accept (isolated drops unless must-keep, on-demand tags, the clock of a window or an end
    date), and what the map does not name goes through every_set."""
    forward = nft_chain(text, POLICY_TABLE, "forward")
    assert forward[0] == "type filter hook forward priority filter; policy drop;", forward
    fast = re.fullmatch(r"ct state established ct mark & (0x[0-9a-f]{8}) == (\$vw_generation) "
                        r"ct mark & (0x[0-9a-f]{8}) vmap @classes", forward[1])
    assert fast, f"{name}: established packets must take the map first: {forward[1]}"
    assert int(fast.group(1), 16) ^ int(fast.group(3), 16) == 0xFFFFFFFF, f"{name}: generation and class overlap"
    assert forward[-1] == "goto every_set", f"{name}: packets the map does not name must take every_set"
    block = dict(nft_blocks(text))[POLICY_TABLE]
    m = re.search(r"^\tmap classes \{\n.*?elements = \{\n(.*?)\n\t\t\}", block, re.M | re.S)
    assert m, f"{name}: no map classes"
    targets = dict(re.findall(r"(0x[0-9a-f]{8}) : goto (\S+?),?$", m.group(1), re.M))
    gen = re.search(r"^define vw_generation = (0x[0-9a-f]{8})$", text, re.M)
    assert gen, f"{name}: no generation"
    assert "ct mark set $vw_generation" in nft_chain(text, POLICY_TABLE, "classify"), f"{name}: classify keeps the mark"
    assert int(gen.group(1), 16) & ~int(fast.group(1), 16) == 0, f"{name}: the generation overlaps the class"
    assert f"ct state established ct mark & {fast.group(1)} != $vw_generation jump classify" in forward, \
        f"{name}: established connections of another policy are not classified again"
    for mark, chain in targets.items():
        assert int(mark, 16) & int(fast.group(1), 16) == 0, f"{name}: {mark} is not a class number"
        rules = nft_chain(text, POLICY_TABLE, chain)
        assert chain.startswith("class_") and rules, f"{name}: {chain}"
        body = [r for r in rules if not r.startswith("comment ")]
        first_pass = next(i for i, r in enumerate(body) if "goto open" in r or r.endswith("accept"))
        if chain.endswith("_keep"):
            assert body[0] == "meta mark set meta mark | 0x00400000", f"{name}: {chain} must carry the keep mark"
        else:
            assert [r.split(" log ")[0] for r in body[:2]] == ["ip saddr @isolated", "ip daddr @isolated"], \
                f"{name}: {chain} must drop the isolated set first"
        if chain.startswith("class_ondemand"):
            tags = [i for i, r in enumerate(body) if "meta mark set meta mark | 0x00" in r and "0x00400000" not in r]
            assert len(tags) == 2 and max(tags) < first_pass, f"{name}: {chain} must tag before it accepts"
        if chain.startswith(("class_window_", "class_until_")):
            assert body[-1].endswith('prefix "vw-out-of-time" drop'), f"{name}: {chain} must end out of time"
            assert all(r.startswith("meta time") or r.startswith("meta day") for r in body[first_pass:-1]), body
            assert all("meta " in r for r in body[first_pass:-1]), f"{name}: {chain} opens without its clock"
        if chain.startswith("class_none"):
            assert body[-2:] == ["ct state established accept", "goto refuse"], body


def _log_group(text: str) -> str:
    m = re.search(r'log group (\d+) prefix "vw-drop"', text)
    assert m
    return m.group(1)


def test_invariants(rendered) -> None:
    result, files = rendered
    for name, text in files.items():
        site = result.inventory.sites[result.model.devices[name].site]
        check_invariants(name, text, site.management)


def test_every_management_flow_accepted_by_its_firewall(rendered) -> None:
    """Each exported management flow's source is inside the mgmt set of that firewall."""
    from vendorwall import export

    result, files = rendered
    for f in export.flows(result.model):
        if f["kind"] != "management":
            continue
        for fw in f["firewalls"]:
            mgmt = [IPv4Network(e[0]) for e in nft_sets(files[fw])[(POLICY_TABLE, "mgmt")].elements]
            assert any(IPv4Network(f["src"]).subnet_of(m) for m in mgmt), f"{fw} cuts {f['id']} from {f['src']}"


def test_firewall_serving_two_sites_keeps_both_managements(tmp_path: Path) -> None:
    from vendorwall import export, pipeline

    inv = base_inventory()
    inv["sites"]["s1"]["firewall"] = "fw-s0"
    hosts = inv["hosts"]["all"]["children"]
    hosts["site_s1"]["hosts"] = {"fw-s0": None, "sw-s1-1": None}
    del hosts["firewalls"]["hosts"]["fw-s1"]
    inv = add_systems(inv, [system("x0", "va", "s0"), system("x1", "va", "s1")])
    res = pipeline.run(str(write_inventory(inv, tmp_path / "inv")), NOW, check_lock=False)
    text = res.configs["fw-s0"].text
    mgmt = [IPv4Network(e[0]) for e in nft_sets(text)[(POLICY_TABLE, "mgmt")].elements]
    for f in export.flows(res.model):
        if f["kind"] == "management":
            assert any(IPv4Network(f["src"]).subnet_of(m) for m in mgmt), f"fw-s0 cuts {f['id']} from {f['src']}"
    for seg in res.model.segments:
        assert f"  {seg.key}\n" in text, f"segment {seg.key} missing from fw-s0"


# --------------------------------------------------------------------------- lab: real packets

_SERVER = """
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", PORT)); s.listen(4); print("listening", flush=True)
while True:
    c, _ = s.accept()
    while True:
        data = c.recv(64)
        if not data:
            break
        c.sendall(data)
"""

_CLIENT = """
import socket, sys
def echo(sock, payload, timeout):
    sock.settimeout(timeout)
    try:
        sock.sendall(payload)
        return "through" if sock.recv(64) == payload else "garbled"
    except OSError:
        return "cut"
s = socket.create_connection((DST, PORT), timeout=3)
print(echo(s, b"first", 3), flush=True)
for line in sys.stdin:
    print(echo(s, line.strip().encode(), float(TIMEOUT)), flush=True)
"""


def _topology(make_ns: Callable[[], str], client: str, server: str, firewall_text: str, tmp_path: Path) -> dict:
    """client ns -- firewall ns -- server ns, the firewall routing between two /24s and loading the file."""
    c, f, s = make_ns(), make_ns(), make_ns()
    cl, sv = IPv4Network(f"{client}/24", strict=False), IPv4Network(f"{server}/24", strict=False)
    for ns, peer, addr, gw, net in ((c, "c", client, cl.network_address + 254, cl),
                                    (s, "s", server, sv.network_address + 254, sv)):
        _run(["ip", "-n", f, "link", "add", f"to{peer}", "type", "veth", "peer", "name", "eth0", "netns", ns])
        _run(["ip", "-n", f, "addr", "add", f"{gw}/{net.prefixlen}", "dev", f"to{peer}"])
        _run(["ip", "-n", f, "link", "set", "dev", f"to{peer}", "up"])
        _run(["ip", "-n", ns, "addr", "add", f"{addr}/{net.prefixlen}", "dev", "eth0"])
        _run(["ip", "-n", ns, "link", "set", "dev", "eth0", "up"])
        _run(["ip", "-n", ns, "link", "set", "dev", "lo", "up"])
        _run(["ip", "-n", ns, "route", "add", "default", "via", str(gw)])
    _run(["ip", "netns", "exec", f, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
    nft(f, "-f", str(_write(tmp_path, "fw", firewall_text)))
    return {"client": c, "firewall": f, "server": s}


@pytest.mark.lab
def test_quarantine_cuts_an_established_session(netns, tmp_path: Path) -> None:
    """A permanent clinical flow, established, then its source quarantined: its next packet is dropped
    although the policy table accepts established traffic (the state table is a separate base chain)."""
    import sys

    inv = add_systems(base_inventory(), [system("x1", "va", "s1", flows=[{"from": "g-servers", "services": ["hl7"]}])])
    from vendorwall import pipeline

    res = pipeline.run(str(write_inventory(inv, tmp_path / "inv")), NOW, check_lock=False)
    server = str(res.allocations["s1/va/x1"].hosts["x1"][0])
    client = "10.5.10.5"  # in g-servers (10.5.10.0/28)
    ns = _topology(netns, client, server, res.configs["fw-s1"].text, tmp_path)
    port = 2575
    srv = subprocess.Popen(["ip", "netns", "exec", ns["server"], sys.executable, "-c",
                            _SERVER.replace("PORT", str(port))], stdout=subprocess.PIPE, text=True)
    cli = None
    try:
        assert srv.stdout is not None and srv.stdout.readline().strip() == "listening"
        # a port the inventory does not allow: dropped
        with pytest.raises(AssertionError):
            _run(["ip", "netns", "exec", ns["client"], sys.executable, "-c",
                  f"import socket; socket.create_connection(({server!r}, 2576), timeout=1)"])
        cli = subprocess.Popen(["ip", "netns", "exec", ns["client"], sys.executable, "-c",
                                _CLIENT.replace("DST", repr(server)).replace("PORT", str(port))
                                .replace("TIMEOUT", "1.5")],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert cli.stdin is not None and cli.stdout is not None

        def say(word: str) -> str:
            cli.stdin.write(word + "\n")
            cli.stdin.flush()
            return cli.stdout.readline().strip()

        assert cli.stdout.readline().strip() == "through", "the allowed flow does not pass"
        assert say("second") == "through"
        nft(ns["firewall"], "add", "element", "inet", STATE_TABLE, "quarantine", f"{{ {client} }}")
        assert say("third") == "cut", "quarantine did not cut the established session"
    finally:
        for p in (cli, srv):
            if p is not None:
                p.kill()
                p.wait()


# --------------------------------------------------------------------------- lab: classified connections


def _class_marks(text: str) -> dict[str, int]:
    """{class chain: conntrack mark} from the rendered map ``classes`` and the policy's generation."""
    block = dict(nft_blocks(text))[POLICY_TABLE]
    m = re.search(r"^\tmap classes \{\n.*?elements = \{\n(.*?)\n\t\t\}", block, re.M | re.S)
    assert m
    gen = re.search(r"^define vw_generation = (0x[0-9a-f]{8})$", text, re.M)
    assert gen
    return {chain: int(gen.group(1), 16) | int(mark, 16)
            for mark, chain in re.findall(r"(0x[0-9a-f]{8}) : goto (\S+?),?$", m.group(1), re.M)}


_THREADED_SERVER = """
import socket, threading
def serve(c):
    with c:
        while True:
            try:
                data = c.recv(64)
            except OSError:
                return
            if not data:
                return
            c.sendall(data)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", PORT)); s.listen(16); print("listening", flush=True)
while True:
    threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
"""


class _Session:
    """One TCP session client -> server through the firewall, driven word by word."""

    def __init__(self, ns: dict, server: str, port: int, src: str) -> None:
        import sys

        self.server, self.port, self.src = server, port, src

        code = _CLIENT.replace("DST", repr(server)).replace("PORT", str(port)).replace("TIMEOUT", "1.5")
        code = code.replace(f"s = socket.create_connection(({server!r}, {port}), timeout=3)",
                            f"s = socket.create_connection(({server!r}, {port}), timeout=3, "
                            f"source_address=({src!r}, 0))\nprint(s.getsockname()[1], flush=True)")
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns["client"], sys.executable, "-c", code],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.sport = int(self.proc.stdout.readline().strip() or 0)
        self.first = self.proc.stdout.readline().strip()

    def say(self, word: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _ct_mark(fw: str, session: _Session) -> int | None:
    """The conntrack mark of a live TCP session on the firewall."""
    out = subprocess.run(["ip", "netns", "exec", fw, "conntrack", "-L", "-p", "tcp", "-s", session.src, "-d",
                          session.server, "--sport", str(session.sport), "--dport", str(session.port)],
                         capture_output=True, text=True, check=False, timeout=30).stdout
    marks = [int(m) for m in re.findall(r"\bmark=(\d+)", out)]
    assert len(marks) <= 1, out
    return marks[0] if marks else None


@pytest.mark.lab
def test_classified_sessions_are_still_cut(netns, tmp_path: Path) -> None:
    """The packet path classifies a connection once (its conntrack mark) and then runs only its class's
    checks. A vendor session taking that fast path is still cut by the very next packet when its grant is
    deleted, when its source enters the policy's isolated set or the state table's quarantine, and when a
    redeploy moves its tuple from 'permanent until a date' to 'on demand' without a grant (the mark of the
    old policy is not trusted: the connection is classified again). A must-keep clinical session stays up
    when its system's segment is quarantined. A tuple in two categories takes every_set, which still cuts."""
    import sys

    from vendorwall import pipeline

    def render(mode: str) -> tuple[str, str]:
        # x2 (permanent) puts a category between the two policies' numbers: trusting the old mark would
        # send the session to x2's class (open) after the redeploy instead of on demand
        inv = add_systems(base_inventory(), [system("x1", "va", "s1", mode, ("ssh",),
                                                    flows=[{"from": "g-servers", "services": ["hl7"], "keep": True}]),
                                             system("x2", "va", "s1", "permanent", ("https",))])
        res = pipeline.run(str(write_inventory(inv, tmp_path / f"inv-{mode}")), NOW, check_lock=False)
        return res.configs["fw-s1"].text, str(res.allocations["s1/va/x1"].hosts["x1"][0])

    on_demand, server = render("on_demand")
    permanent, server_p = render("permanent")
    assert server == server_p
    vendor, clinical = "10.200.0.5", "10.5.10.5"  # va's VPN pool; g-servers
    ns = _topology(netns, vendor, server, on_demand, tmp_path)
    _run(["ip", "-n", ns["client"], "addr", "add", f"{clinical}/24", "dev", "eth0"])  # both clients in one ns
    _run(["ip", "-n", ns["firewall"], "addr", "add", "10.5.10.254/24", "dev", "toc"])
    fw = ns["firewall"]
    servers = [subprocess.Popen(["ip", "netns", "exec", ns["server"], sys.executable, "-c",
                                 _THREADED_SERVER.replace("PORT", str(p))], stdout=subprocess.PIPE, text=True)
               for p in (22, 2575)]
    sessions: list[_Session] = []

    def session(src: str, port: int) -> _Session:
        s = _Session(ns, server, port, src)
        sessions.append(s)
        assert s.first == "through", f"{src} -> {server}:{port} does not pass"
        assert s.say("again") == "through"
        return s

    grant = f"{{ {vendor} . {server} . 22 }}"
    try:
        for srv in servers:
            assert srv.stdout is not None and srv.stdout.readline().strip() == "listening"
        marks = _class_marks(on_demand)
        nft(fw, "add", "element", "inet", STATE_TABLE, "grants_tcp", grant)
        # 1. grant deleted: the next packet of the classified session is dropped
        s = session(vendor, 22)
        assert _ct_mark(fw, s) == marks["class_ondemand"], "not on the fast path"
        nft(fw, "delete", "element", "inet", STATE_TABLE, "grants_tcp", grant)
        assert s.say("after-grant") == "cut", "a deleted grant did not cut the classified session"
        nft(fw, "add", "element", "inet", STATE_TABLE, "grants_tcp", grant)
        # 2. the policy's isolated set, filled at run time
        s = session(vendor, 22)
        assert _ct_mark(fw, s) == marks["class_ondemand"]
        nft(fw, "add", "element", "inet", POLICY_TABLE, "isolated", f"{{ {vendor} }}")
        assert s.say("after-isolated") == "cut", "the isolated set did not cut the classified session"
        nft(fw, "delete", "element", "inet", POLICY_TABLE, "isolated", f"{{ {vendor} }}")
        # 3. the state table's quarantine; a must-keep clinical session to the same system stays up
        s = session(vendor, 22)
        keep = session(clinical, 2575)
        assert _ct_mark(fw, keep) == marks["class_allow_keep"], "the keep flow is not classified"
        nft(fw, "add", "element", "inet", STATE_TABLE, "quarantine", f"{{ {vendor}, {server} }}")
        assert s.say("after-quarantine") == "cut", "the quarantine did not cut the classified session"
        assert keep.say("kept") == "through", "the quarantine cut a must-keep clinical session"
        nft(fw, "delete", "element", "inet", STATE_TABLE, "quarantine", f"{{ {vendor}, {server} }}")
        # 4. a redeploy: permanent (until a date) -> on demand, no grant: the old mark is not trusted
        nft(fw, "-f", str(_write(tmp_path, "permanent", permanent)))
        nft(fw, "delete", "element", "inet", STATE_TABLE, "grants_tcp", grant)
        s = session(vendor, 22)
        until = next(m for c, m in _class_marks(permanent).items() if c.startswith("class_until_"))
        assert _ct_mark(fw, s) == until
        nft(fw, "-f", str(_write(tmp_path, "on-demand", on_demand)))
        assert s.say("after-redeploy") == "cut", "a redeploy requiring a grant did not cut the classified session"
        assert _ct_mark(fw, s) == marks["class_ondemand"], "the session was not classified again"
        assert keep.say("kept-again") == "through", "a redeploy cut a must-keep clinical session"
        assert _ct_mark(fw, keep) == marks["class_allow_keep"], "not classified again"
        # 5. a tuple in two categories (here also permanent) is in no class: every_set checks it per packet
        both = re.sub(r"(\tset allow_tcp \{\n(?:\t\t[^\n]*\n)*?\t\telements = \{\n)",
                      rf"\g<1>\t\t\t{vendor} . {server} . 22,\n", on_demand, count=1)
        assert both != on_demand
        nft(fw, "-f", str(_write(tmp_path, "both", both)))
        nft(fw, "add", "element", "inet", STATE_TABLE, "grants_tcp", grant)
        s = session(vendor, 22)
        mark = _ct_mark(fw, s)
        assert mark is not None and mark not in _class_marks(both).values(), "a two-category tuple got a class"
        nft(fw, "delete", "element", "inet", STATE_TABLE, "grants_tcp", grant)
        assert s.say("after-grant-two-categories") == "cut", "every_set did not cut the two-category session"
    finally:
        for p in [*(x.proc for x in sessions), *servers]:
            p.kill()
            p.wait()
