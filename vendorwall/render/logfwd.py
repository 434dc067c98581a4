"""Log forwarding of vendorwall's traffic to the inventory's syslog server, on the appliances.

``policy.connection_logs.syslog`` names the syslog server (host, port, TLS) the nftables firewalls ship
their connection records to. The appliances (FortiOS, PAN-OS, Stormshield, ASA) log vendorwall's
policies themselves; this module decides, per device, what their renderers print to send those logs to
the same server:

- PAN-OS: a syslog server profile ``vw-syslog`` and a log forwarding profile ``vw-logs`` set on every
  vendorwall rule: objects vendorwall names and owns, rendered whenever the inventory names a server;
- FortiOS, Stormshield, ASA: the syslog target is a device-wide slot shared with everything else the
  device logs, so it is rendered only when the device opts in with its platform's host variable
  (capability file ``syslog_optin``: FortiOS ``vw_syslog_slot: syslogd2..4``, Stormshield
  ``vw_syslog_slot: 0..3`` (a syslog profile index), ASA ``vw_syslog_interface: <nameif>``); without it
  nothing device-wide is rendered, and the rendered file's header says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

from ..errors import Diagnostic
from ..model import DeviceIntent, Model
from ..platforms.registry import Platform

PROFILE = "vw-syslog"  # PAN-OS syslog server profile; Stormshield host object of the server
LOG_PROFILE = "vw-logs"  # PAN-OS log forwarding profile
ASA_LIST = "vw-conn"  # ASA logging list of the connection messages
ASA_MESSAGES = ("106100", "302013-302014")  # ACE hit; TCP connection built / torn down (bytes, duration)


@dataclass(frozen=True)
class Forward:
    host: str
    port: int
    tls: bool
    slot: str  # the device-wide slot the device lets vendorwall own ("" on PAN-OS: its own objects)


def _is_ipv4(text: str) -> bool:
    try:
        IPv4Address(text)
    except ValueError:
        return False
    return True


def forward_of(model: Model, intent: DeviceIntent, plat: Platform) -> tuple[Forward | None, str, list[Diagnostic]]:
    """(what to render or None, one line for the rendered file's header, diagnostics)."""
    syslog = model.inventory.policy.connection_logs.syslog
    if syslog is None:
        return None, "log forwarding: none (the inventory names no policy.connection_logs.syslog)", []
    where = f"{syslog.host}:{syslog.port}" + (" over TLS" if syslog.tls else " over TCP")
    optin = plat.syslog_optin
    slot = ""
    if optin:
        dev = model.inventory.devices.get(intent.device)
        # a device rendered as another platform (render_as) has no slot of that platform
        slot = dev.syslog_slot if dev is not None and dev.platform == plat.name else ""
        if not slot:
            return None, (f"log forwarding to {where}: not rendered, the device does not opt in "
                          f"({optin['var']}: the device-wide slot vendorwall may own, docs/platforms.md)"), []
        if plat.name in ("asa", "stormshield") and not _is_ipv4(syslog.host):
            o = model.inventory.policy.origin
            var = optin["var"]
            return None, "", [Diagnostic(
                o.file, o.line, f"{o.path + '.' if o.path else ''}connection_logs.syslog.host",
                f"platform {plat.name} of {intent.device} needs the syslog server's IPv4 address",
                "an IPv4 address (the " + ("ASA's logging host command" if plat.name == "asa" else
                                           "syslog profile's host object") + " takes an address, not a name)",
                repr(syslog.host), f"write the server's address, or remove {var} from {intent.device} in hosts.yml",
                "platform")]
    return Forward(syslog.host, syslog.port, syslog.tls, slot), (
        f"log forwarding: vendorwall's traffic logs to {where}" + (f" (slot {slot})" if slot else "")), []
