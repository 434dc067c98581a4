"""The PAN-OS XML API for every journey: one typed call per request, secrets never logged.

Built on ``pan.xapi.PanXapi`` (PyPI ``pan-python``, Palo Alto Networks' own XML API client, which
``pan-os-python`` also uses): HTTPS to the firewall's management address, the certificate verified
against the system's CAs or the inventory's ``vendorwall_ca_file`` (``Target.extra['ca_file']``),
an API key (``vendorwall_api_key``) or the target's user and password. Every call is logged by action
and xpath only (never the key, the password or a payload); an error answer raises
:class:`CommandError` naming the call, an unreachable firewall :class:`ConnectError`.

Calls: :meth:`get` (candidate), :meth:`show` (running), :meth:`set` / :meth:`edit` / :meth:`delete` /
:meth:`move` (candidate configuration), :meth:`op` (operational command as XML), :meth:`commit`
(synchronous, bounded by ``commit_timeout``) and :meth:`user_id` (a ``uid-message``: tag
registrations, no commit). Never run against a real PAN-OS: the tests drive a simulator
(tests/platforms/fakepanos.py) through the same methods.
"""

from __future__ import annotations

import ssl
import xml.etree.ElementTree as ET
from typing import Any

from .errors import CommandError, ConnectError
from .target import Target


def _root(text: str) -> ET.Element:
    try:
        return ET.fromstring(text)
    except ET.ParseError:
        return ET.Element("response", status="error")


class PanApi:
    """The calls vendorwall makes, on ``pan.xapi.PanXapi``; each returns the answer's ``<result>`` element."""

    def __init__(self, t: Target, commit_timeout: float = 600.0):
        self.t = t
        self.commit_timeout = commit_timeout
        self.log: list[str] = []
        self._x: Any = None

    def open(self) -> PanApi:
        import pan.xapi

        ctx = ssl.create_default_context(cafile=self.t.extra.get("ca_file") or None)
        try:
            self._x = pan.xapi.PanXapi(hostname=self.t.host, port=int(self.t.extra.get("api_port", 443)),
                                       api_username=self.t.username, api_password=self.t.password,
                                       api_key=self.t.extra.get("api_key"), ssl_context=ctx,
                                       timeout=self.t.command_timeout)
        except pan.xapi.PanXapiError as exc:
            raise ConnectError(self.t.device, self.t.platform, f"https {self.t.host}", str(exc)) from None
        return self

    def close(self) -> None:
        self._x = None

    def _call(self, label: str, fn: str, **kw: Any) -> ET.Element:
        import pan.xapi

        self.log.append(label)
        if self._x is None:
            raise ConnectError(self.t.device, self.t.platform, label, "API session not open")
        try:
            getattr(self._x, fn)(**kw)
        except pan.xapi.PanXapiError as exc:
            text = str(exc)
            if "URLError" in text or "timed out" in text or "Connection" in text:
                raise ConnectError(self.t.device, self.t.platform, label, text[:300]) from None
            raise CommandError(self.t.device, self.t.platform, label, text[:1500]) from None
        root = _root(self._x.xml_document or "<response/>")
        if root.get("status") == "error":
            msg = " ".join(x.strip() for x in root.itertext() if x.strip())[:1500]
            raise CommandError(self.t.device, self.t.platform, label, msg or "error answer")
        return root.find("result") if root.find("result") is not None else root  # type: ignore[return-value]

    def get(self, xpath: str) -> ET.Element:
        return self._call(f"get {xpath}", "get", xpath=xpath)

    def show(self, xpath: str) -> ET.Element:
        return self._call(f"show {xpath}", "show", xpath=xpath)

    def set(self, xpath: str, element: str) -> ET.Element:
        return self._call(f"set {xpath}", "set", xpath=xpath, element=element)

    def edit(self, xpath: str, element: str) -> ET.Element:
        return self._call(f"edit {xpath}", "edit", xpath=xpath, element=element)

    def delete(self, xpath: str) -> ET.Element:
        return self._call(f"delete {xpath}", "delete", xpath=xpath)

    def move(self, xpath: str, where: str, dst: str | None = None) -> ET.Element:
        return self._call(f"move {xpath} {where} {dst or ''}".rstrip(), "move", xpath=xpath, where=where, dst=dst)

    def op(self, cmd: str) -> ET.Element:
        return self._call(f"op {ET.fromstring(cmd).tag}", "op", cmd=cmd)

    def commit(self, cmd: str = "<commit></commit>") -> ET.Element:
        return self._call("commit", "commit", cmd=cmd, sync=True, interval=2, timeout=self.commit_timeout)

    def user_id(self, message: str) -> ET.Element:
        return self._call("user-id", "user_id", cmd=message)
