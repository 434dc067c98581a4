"""The lab's IOS switches: one fake-switches (Cisco IOS CLI over SSH) instance per site switch.

    python -m vendorwall.lab.switches SPEC.json

run inside the lab's controller namespace (``ip netns exec <ctl> ...``): every switch listens on
127.0.0.1 of that namespace, on its own port, so nothing is reachable from outside the lab. One
Twisted reactor serves them all. SPEC (mode 0600, it holds the lab's switch password)::

    {"username": "vwlab", "password": "...", "secret": "...",
     "switches": [{"device": "sw-nord-1", "port": 20001, "ports": ["GigabitEthernet1/0/1", ...]}]}

A switch with ``"model": "junos"`` is fake-switches' Juniper ELS model (``juniper_qfx_copper``:
``interface-mode``, VLANs by name) served over NETCONF only (SSH subsystem ``netconf``); the
default model is the Cisco IOS CLI.

Prints ``ready <n>`` on stdout once every switch listens. The simulator keeps its configuration in
memory (``write memory`` saves nothing): a switch restarts empty with ``lab up``.

fake-switches 1.5.0 installs on Python 3.11 only without its pinned dependencies:
``pip install --no-deps fake-switches==1.5.0 'twisted[conch]' tftpy netaddr lxml`` (``.ci/run``).
Its launcher passes the enable secret as bytes (only an empty one then works); this one builds
each switch itself, with the secret as text.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any


def available() -> str | None:
    """None when fake-switches can be imported, else why not."""
    try:
        import fake_switches.switch_factory
        import fake_switches.transports.ssh_service  # noqa: F401
    except Exception as exc:  # ImportError, or a dependency broken on this Python
        return f"fake-switches is not usable: {type(exc).__name__}: {exc}"
    return None


def host_public_key() -> str:
    """The host key every fake switch presents (fake-switches ships one fixed key): ``type base64``."""
    from fake_switches.transports.ssh_service import getRSAKeys

    pub = getRSAKeys()[0]
    pub = pub.decode() if isinstance(pub, bytes) else pub
    return " ".join(pub.split()[:2])


def serve(spec: dict[str, Any]) -> None:
    from fake_switches import switch_configuration
    from fake_switches.cisco.cisco_core import CiscoSwitchCore
    from fake_switches.juniper_qfx_copper.juniper_qfx_copper_core import JuniperQfxCopperSwitchCore
    from fake_switches.transports.ssh_service import SwitchSshService
    from twisted.internet import reactor

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    users = {spec["username"]: spec["password"].encode()}
    for sw in spec["switches"]:
        conf = switch_configuration.SwitchConfiguration(
            "127.0.0.1", name=sw["device"], privileged_passwords=[spec["secret"]],
            ports=[switch_configuration.Port(p) for p in sw["ports"]])
        core = JuniperQfxCopperSwitchCore(conf) if sw.get("model") == "junos" else CiscoSwitchCore(conf)
        SwitchSshService(ip="127.0.0.1", port=int(sw["port"]), switch_core=core,
                         users=users).hook_to_reactor(reactor)
    print(f"ready {len(spec['switches'])}", flush=True)
    reactor.run()  # type: ignore[misc]


def main(argv: list[str]) -> int:
    with open(argv[0]) as fh:
        spec = json.load(fh)
    serve(spec)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
