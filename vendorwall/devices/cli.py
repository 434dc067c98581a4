"""The connection options every device-facing command takes, the same way (CLI side)."""

from __future__ import annotations

import argparse

from .target import HOST_KEY_POLICIES, ConnSettings


def add_connection_options(p: argparse.ArgumentParser, *, connect_timeout: float = 5.0,
                           command_timeout: float = 30.0, lab: bool = True) -> None:
    g = p.add_argument_group("connection (default: the inventory's ansible_* variables, then ~/.ssh/config)")
    g.add_argument("--user", help="SSH user (default: ansible_user of the device, else root)")
    g.add_argument("--key-file", help="SSH private key (default: ansible_ssh_private_key_file, the agent, ~/.ssh)")
    g.add_argument("--port", type=int, help="SSH port (default: ansible_port, else 22)")
    g.add_argument("--connect-timeout", type=float, default=connect_timeout,
                   help=f"seconds per SSH connection (default {connect_timeout:g})")
    g.add_argument("--command-timeout", type=float, default=command_timeout,
                   help=f"seconds for the device's work (default {command_timeout:g})")
    g.add_argument("--known-hosts", action="append", default=[], metavar="FILE",
                   help="a known_hosts file to trust (repeatable), besides the inventory's vendorwall_known_hosts, "
                        "~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts")
    g.add_argument("--host-key-policy", choices=HOST_KEY_POLICIES,
                   help="verify (default): refuse a device whose host key is not known; accept-new: trust a new "
                        "key on first use and record it (logged); a changed key is always refused")
    if lab:
        g.add_argument("--lab-dir", help="act on a lab (vendorwall lab up): its keys and known_hosts, "
                                         "connections from its controller namespace")


def settings(args: argparse.Namespace) -> ConnSettings:
    return ConnSettings(user=args.user, key_file=args.key_file, port=args.port,
                        known_hosts=tuple(args.known_hosts or ()), host_key_policy=args.host_key_policy,
                        connect_timeout=args.connect_timeout, command_timeout=args.command_timeout)
