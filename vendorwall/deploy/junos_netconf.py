"""A small NETCONF 1.0 client over SSH (RFC 6241 operations, RFC 6242 end-of-message framing).

Junos speaks NETCONF over SSH (``set system services netconf ssh``, port 830 or 22); it is the
transport of Juniper's own automation (PyEZ, the junipernetworks.junos collection) and gives what
a CLI session cannot: a candidate datastore, a lock, one commit for the whole change and a
confirmed commit the switch reverts by itself. This client needs only paramiko (netmiko's own
dependency): it announces ``base:1.0`` alone, so the session uses the ``]]>]]>`` delimiter.

Every failure becomes a typed deploy error naming device, platform and operation: ConnectError
(TCP, SSH, authentication, no ``netconf`` subsystem), ConnectionLost (the session ended or a reply
did not come within the command timeout), CommandError (an ``<rpc-error>`` of severity error, with
its message and bad element). Warnings (severity warning) do not fail an operation.
"""

from __future__ import annotations

import contextlib
import time
import xml.etree.ElementTree as ET
from typing import Any

from .errors import CommandError, ConnectError, ConnectionLost
from .session import Target

BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"
EOM = "]]>]]>"
HELLO = (f'<?xml version="1.0" encoding="UTF-8"?><hello xmlns="{BASE}"><capabilities>'
         f"<capability>{BASE}</capability></capabilities></hello>")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def rpc_errors(reply: ET.Element) -> list[str]:
    """The messages of the ``<rpc-error>`` elements of severity error in a reply."""
    out = []
    for err in (e for e in reply.iter() if _local(e.tag) == "rpc-error"):
        fields = {_local(c.tag): (c.text or "").strip() for c in err}
        info = next((c for c in err if _local(c.tag) == "error-info"), None)
        bad = next(((b.text or "").strip() for b in (info if info is not None else []) if _local(b.tag) ==
                    "bad-element"), "")
        if fields.get("error-severity", "error") != "error":
            continue
        msg = fields.get("error-message") or fields.get("error-tag") or "rpc-error"
        out.append(msg + (f" (bad element: {bad})" if bad else ""))
    return out


class Netconf:
    def __init__(self, target: Target):
        self.t = target
        self.client: Any = None
        self.transport: Any = None
        self.chan: Any = None
        self.buf = ""
        self.msg_id = 0
        self.log: list[str] = []
        self.server_capabilities: list[str] = []

    # --- connection --------------------------------------------------------------------------
    def open(self) -> Netconf:
        from ..devices import ssh

        t = self.t
        where = f"netconf {t.username}@{t.host}:{t.port}"
        try:
            # the shared device layer: host key verified (known_hosts, policy) before any credential is sent
            self.client = ssh.connect(t)
            self.transport = self.client.get_transport()
            self.chan = self.transport.open_session(timeout=t.connect_timeout)
            self.chan.settimeout(t.command_timeout)
            self.chan.invoke_subsystem("netconf")
            hello = self._read(t.connect_timeout)
            self.chan.sendall((HELLO + EOM).encode())
        except ConnectError:
            self.close()
            raise  # host key refused, unreachable, authentication failed: already typed
        except ConnectionLost as exc:
            self.close()
            raise ConnectError(t.device, t.platform, where, exc.message) from None
        except Exception as exc:  # subsystem refused, session closed during the hello
            self.close()
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ConnectError(t.device, t.platform, where, f"{type(exc).__name__}: {first}") from None
        try:
            root = ET.fromstring(hello)
            self.server_capabilities = [(c.text or "").strip() for c in root.iter() if _local(c.tag) == "capability"]
        except ET.ParseError:
            self.close()
            raise ConnectError(t.device, t.platform, where, "the server's <hello> is not XML") from None
        self.log.append(f"netconf session open ({len(self.server_capabilities)} capabilities)")
        return self

    def _read(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while EOM not in self.buf:
            if time.monotonic() > deadline:
                raise ConnectionLost(self.t.device, self.t.platform, "netconf read",
                                     f"no complete reply within {timeout:.0f} s")
            try:
                data = self.chan.recv(65536)
            except TimeoutError:
                continue
            except OSError as exc:
                raise ConnectionLost(self.t.device, self.t.platform, "netconf read",
                                     f"{type(exc).__name__}: {exc}") from None
            if not data:
                raise ConnectionLost(self.t.device, self.t.platform, "netconf read", "the session was closed")
            self.buf += data.decode("utf-8", errors="replace")
        msg, _, self.buf = self.buf.partition(EOM)
        return msg.strip()

    # --- operations ----------------------------------------------------------------------------
    def rpc(self, body: str, *, label: str, timeout: float | None = None, check: bool = True) -> ET.Element:
        """Send one ``<rpc>``; the ``<rpc-reply>``. CommandError on an error of severity error."""
        self.msg_id += 1
        started = time.monotonic()
        msg = f'<rpc message-id="{self.msg_id}" xmlns="{BASE}">{body}</rpc>{EOM}'
        try:
            self.chan.sendall(msg.encode())
        except Exception as exc:
            raise ConnectionLost(self.t.device, self.t.platform, label, f"{type(exc).__name__}: {exc}") from None
        text = self._read(timeout or self.t.command_timeout)
        try:
            reply = ET.fromstring(text)
        except ET.ParseError as exc:
            raise CommandError(self.t.device, self.t.platform, label, f"reply is not XML: {exc}") from None
        errors = rpc_errors(reply)
        self.log.append(f"{label} -> {'error' if errors else 'ok'} ({time.monotonic() - started:.2f} s)")
        if errors and check:
            raise CommandError(self.t.device, self.t.platform, label, "; ".join(errors)[:1500])
        return reply

    def get_config(self, source: str, subtree: str) -> str:
        reply = self.rpc(f'<get-config><source><{source}/></source><filter type="subtree">{subtree}</filter>'
                         "</get-config>", label=f"get-config {source}")
        return ET.tostring(reply, encoding="unicode")

    def lock(self) -> None:
        self.rpc("<lock><target><candidate/></target></lock>", label="lock candidate")

    def unlock(self) -> None:
        self.rpc("<unlock><target><candidate/></target></unlock>", label="unlock candidate", check=False)

    def edit(self, config: str, label: str) -> None:
        self.rpc(f"<edit-config><target><candidate/></target><config>{config}</config></edit-config>", label=label)

    def discard(self) -> None:
        self.rpc("<discard-changes/>", label="discard-changes", check=False)

    def commit(self, confirm_s: int | None = None) -> None:
        if confirm_s:
            self.rpc(f"<commit><confirmed/><confirm-timeout>{int(confirm_s)}</confirm-timeout></commit>",
                     label=f"commit confirmed {int(confirm_s)} s", timeout=max(self.t.command_timeout, 120))
        else:
            self.rpc("<commit/>", label="commit", timeout=max(self.t.command_timeout, 120))

    def close(self) -> None:
        if self.chan is not None:
            with contextlib.suppress(Exception):
                self.chan.sendall(f'<rpc message-id="close" xmlns="{BASE}"><close-session/></rpc>{EOM}'.encode())
            with contextlib.suppress(Exception):
                self.chan.close()
            self.chan = None
        if self.client is not None:
            from ..devices import ssh

            ssh.close(self.client)
            self.client = None
        self.transport = None
