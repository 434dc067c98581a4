"""The connection-log pipeline of an nftables firewall: its configuration files, rendered from the model.

Deploy uploads them as data to the fixed agent ``vendorwall/devices/agents/connlog.py``, which writes them
into the firewall's vendorwall directory (``<remote dir>/connlog``), sets ``nf_conntrack_acct`` and
``nf_conntrack_timestamp``, and (re)starts vendorwall's own ulogd2 instance (and its own rsyslog instance
when ``policy.connection_logs.syslog`` names a server) under systemd, or as plain processes in the lab.
Nothing of the system's own ``/etc/ulogd.conf`` or rsyslog configuration is touched.

- ulogd2 reads NFLOG group ``policy.connection_log_group`` (every new vendor connection: the policy logs
  it with prefix ``vw-vendor-new``) into ``new.json``, NFLOG group ``policy.log_group`` (drops, prefix =
  the reason) into ``drop.json``, and conntrack DESTROY events of flows whose source is a vendor entry
  path (``accept_src_filter``) into ``flow.json``: bytes and packets both ways, start and end time.
- logrotate (``copytruncate``, daily, ``policy.connection_logs.local_keep_days`` kept, compressed).
- rsyslog (optional): every line of the three files, RFC 5424 (``RSYSLOG_SyslogProtocol23Format``) over
  TCP with octet-counted framing (RFC 6587), TLS (``gtls``, x509/name) when ``tls: true``; a disk-assisted
  queue keeps records while the server is down.

The files are pure functions of the model: same inventory, same bytes (golden-testable, plan-able).
"""

from __future__ import annotations

import os
from ipaddress import IPv4Network
from typing import Any

from ..model import Model, SyslogTarget

LOG_FILES = ("new.json", "drop.json", "flow.json")
SUBDIR = "connlog"
DESTROY = 0x00000004  # NFCT event mask: DESTROY only (bytes and duration at close)


def device_dir(remote_dir: str) -> str:
    return os.path.join(remote_dir.rstrip("/") or "/", SUBDIR)


def vendor_prefixes(model: Model) -> list[IPv4Network]:
    """Every vendor entry-path prefix (the sources whose flows are recorded), collapsed, sorted."""
    from ipaddress import collapse_addresses

    nets = {n for v in model.inventory.vendors.values() for p in v.entry_paths for n in p.prefixes}
    return sorted(collapse_addresses(nets))


def ulogd_conf(model: Model, d: str) -> str:
    pol = model.inventory.policy
    chunks = filter_chunks([str(n) for n in vendor_prefixes(model)] or ["255.255.255.255/32"])
    plugins = ["inppkt_NFLOG", "inpflow_NFCT", "filter_IP2STR", "raw2packet_BASE", "output_JSON"]
    lines = ["# vendorwall connection-log pipeline: ulogd2 (vendorwall's own instance)", "[global]",
             f'logfile="{d}/ulogd.log"', "loglevel=5"]
    lines += [f'plugin="@PLUGINDIR@/ulogd_{p}.so"' for p in plugins]
    lines += ["stack=new1:NFLOG,base1:BASE,ip2str1:IP2STR,jnew:JSON",
              "stack=drop1:NFLOG,base2:BASE,ip2str2:IP2STR,jdrop:JSON"]
    lines += [f"stack=ct{i}:NFCT,ctstr{i}:IP2STR,jflow{i}:JSON" for i in range(1, len(chunks) + 1)]
    # new connections: one netlink message each, at once (the kernel's default batches for up to 1 s);
    # drops: batched (32 packets or 1 s), a flood of drops must not cost one message per packet
    lines += ["", "[new1]", f"group={pol.connection_log_group}", "netlink_qthreshold=1", "netlink_qtimeout=1",
              "", "[drop1]", f"group={pol.log_group}", "netlink_qthreshold=32", "netlink_qtimeout=100"]
    for i, chunk in enumerate(chunks, 1):
        lines += ["", f"[ct{i}]", f"event_mask=0x{DESTROY:08x}", "hash_enable=0", f"accept_src_filter={chunk}"]
    outs = [("jnew", "new.json"), ("jdrop", "drop.json")] + [(f"jflow{i}", "flow.json")
                                                            for i in range(1, len(chunks) + 1)]
    for name, file in outs:
        lines += ["", f"[{name}]", f'file="{d}/{file}"', "sync=1"]
    return "\n".join(lines) + "\n"


ULOGD_VALUE_MAX = 200  # ulogd2 refuses configuration values of 225 characters and more (CONFIG_VAL_STRING_LEN)


def filter_chunks(prefixes: list[str], limit: int = ULOGD_VALUE_MAX) -> list[str]:
    """The prefixes as comma-separated values of at most ``limit`` characters: one NFCT input each (all
    writing the same file: one ``write`` per line, appended)."""
    out: list[str] = []
    cur = ""
    for p in prefixes:
        if cur and len(cur) + 1 + len(p) > limit:
            out.append(cur)
            cur = ""
        cur = f"{cur},{p}" if cur else p
    return [*out, cur] if cur else out


def logrotate_conf(model: Model, d: str) -> str:
    keep = model.inventory.policy.connection_logs.local_keep_days
    files = " ".join(f"{d}/{f}" for f in LOG_FILES)
    return (f"# vendorwall connection-log pipeline: local rotation ({keep} days kept on the firewall)\n"
            f"{files} {{\n    daily\n    rotate {keep}\n    missingok\n    notifempty\n    copytruncate\n"
            "    compress\n    delaycompress\n    create 0600 root root\n}\n")


def rsyslog_conf(target: SyslogTarget, d: str) -> str:
    tls = target.tls
    g = [f'workDirectory="{d}/rsyslog"']
    if tls:
        g += [f'defaultNetstreamDriverCAFile="{target.ca_file}"']
    lines = ["# vendorwall connection-log pipeline: rsyslog (vendorwall's own instance), RFC 5424 over TCP"
             + (" with TLS" if tls else ""), f"global({' '.join(g)})", 'module(load="imfile")']
    for f in LOG_FILES:
        tag = "vendorwall-" + f.split(".")[0]
        lines.append(f'input(type="imfile" file="{d}/{f}" tag="{tag}" ruleset="vwship" '
                     'reopenOnTruncate="on" freshStartTail="off")')
    action = [f'type="omfwd" target="{target.host}" port="{target.port}" protocol="tcp"',
              'tcp_framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"']
    if tls:
        action += ['streamDriver="gtls" streamDriverMode="1" streamDriverAuthMode="x509/name"',
                   f'streamDriverPermittedPeers="{target.permitted_peer or target.host}"']
    action += ['queue.type="LinkedList" queue.filename="vwship" queue.maxDiskSpace="512m"',
               'queue.saveOnShutdown="on" action.resumeRetryCount="-1" action.resumeInterval="10"']
    lines.append('ruleset(name="vwship") {\n    action(' + "\n           ".join(action) + ")\n}")
    return "\n".join(lines) + "\n"


def files(model: Model, remote_dir: str) -> dict[str, str]:
    d = device_dir(remote_dir)
    out = {"ulogd.conf": ulogd_conf(model, d), "logrotate.conf": logrotate_conf(model, d)}
    target = model.inventory.policy.connection_logs.syslog
    if target is not None:
        out["rsyslog.conf"] = rsyslog_conf(target, d)
    return out


def install_request(model: Model, remote_dir: str, *, supervisor: str = "systemd",
                    check: bool = False) -> dict[str, Any]:
    """The agent request that installs (or, with ``check``, plans) the pipeline on one firewall."""
    return {"op": "install", "dir": device_dir(remote_dir), "files": files(model, remote_dir),
            "supervisor": supervisor, "check": check,
            "install_packages": model.inventory.policy.connection_logs.install_packages,
            "sysctl": {"net.netfilter.nf_conntrack_acct": "1", "net.netfilter.nf_conntrack_timestamp": "1"}}


def problems(model: Model) -> list[str]:
    """What makes the pipeline impossible to render (checked before any device is contacted)."""
    t = model.inventory.policy.connection_logs.syslog
    if t is not None and t.tls and not t.ca_file:
        return ["policy.connection_logs.syslog: tls is true but ca_file is missing "
                "(the CA certificate on the firewall that signed the server's certificate)"]
    return []
