"""The channels an alert goes out on: e-mail (SMTP), a JSON webhook, syslog (RFC 5424).

Secrets (the SMTP password, a webhook URL carrying a token, a bearer token) come from environment variables
named in the inventory (set by AWX credentials, ansible-vault or the shell), never from the inventory itself,
and never appear in a message this module raises: errors name the channel and what failed, not the URL.
"""

from __future__ import annotations

import json
import os
import smtplib
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from ..model import Alerts, EmailChannel, SyslogTarget, WebhookChannel
from .events import Alert

SOURCE = "vendorwall"
SYSLOG_SEVERITY = {"critical": 2, "warning": 4, "notice": 5, "info": 6}
FACILITY_LOCAL0 = 16
PEN = 32473  # the example private enterprise number (RFC 5612) for the structured-data id


class ChannelError(Exception):
    """A channel failed: its name and a message without secrets."""

    def __init__(self, channel: str, message: str, permanent: bool = False):
        super().__init__(f"{channel}: {message}")
        self.channel = channel
        self.message = message
        self.permanent = permanent  # retrying will not help (configuration)


def _env(name: str, channel: str, what: str) -> str:
    value = os.environ.get(name, "") if name else ""
    if name and not value:
        raise ChannelError(channel, f"{what}: environment variable {name} is not set", permanent=True)
    return value


def body(a: Alert, inventory: str) -> str:
    lines = [a.text, "", f"Event: {a.kind} ({a.severity})", f"When: {a.when}", f"Inventory: {inventory}",
             f"Alert key: {a.key}"]
    lines += [f"{k}: {v}" for k, v in sorted(a.data.items()) if v not in ("", [], None)]
    return "\n".join(lines) + "\n"


def send_email(a: Alert, c: EmailChannel, inventory: str, timeout: float) -> None:
    msg = EmailMessage()
    msg["Subject"] = f"[vendorwall {inventory}] {a.title}"
    msg["From"] = c.sender
    msg["To"] = ", ".join(c.to)
    msg["X-Vendorwall-Event"] = a.kind
    msg["X-Vendorwall-Key"] = a.key
    msg.set_content(body(a, inventory))
    password = _env(c.password_env, "email", "password")
    try:
        if c.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(c.server, c.port, timeout=timeout,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(c.server, c.port, timeout=timeout)
        with smtp:
            if c.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if c.username:
                smtp.login(c.username, password)
            refused = smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError as exc:
        raise ChannelError("email", f"{c.server}:{c.port}: authentication refused ({exc.smtp_code})",
                           permanent=True) from None
    except smtplib.SMTPNotSupportedError:
        raise ChannelError("email", f"{c.server}:{c.port}: the server does not offer STARTTLS "
                           "(set security: none only on a trusted relay)", permanent=True) from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise ChannelError("email", f"{c.server}:{c.port}: {type(exc).__name__}: {str(exc)[:200]}") from None
    if refused:
        raise ChannelError("email", f"recipients refused: {', '.join(sorted(refused))}", permanent=True)


def webhook_payload(a: Alert, fmt: str, inventory: str) -> dict[str, Any]:
    if fmt == "mattermost":
        return {"username": SOURCE, "text": f"**{a.title}**\n{a.text}\n`{a.kind}` · {a.when} · {inventory}"}
    if fmt == "teams":
        return {"@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": a.title,
                "title": a.title, "text": f"{a.text}\n\n{a.kind} · {a.when} · {inventory}"}
    return {"source": SOURCE, "inventory": inventory, **a.to_data()}


def send_webhook(a: Alert, c: WebhookChannel, inventory: str, timeout: float) -> None:
    url = c.url or _env(c.url_env, "webhook", "url")
    if not url:
        raise ChannelError("webhook", "no url nor url_env", permanent=True)
    data = json.dumps(webhook_payload(a, c.format, inventory), sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": SOURCE}
    token = _env(c.token_env, "webhook", "token")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status = resp.status
    except urllib.error.HTTPError as exc:
        raise ChannelError("webhook", f"HTTP {exc.code}", permanent=400 <= exc.code < 500 and exc.code != 429) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ChannelError("webhook", f"{type(reason).__name__}: {str(reason)[:120]}") from None
    if not 200 <= status < 300:
        raise ChannelError("webhook", f"HTTP {status}")


def syslog_line(a: Alert, inventory: str, hostname: str | None = None) -> str:
    pri = FACILITY_LOCAL0 * 8 + SYSLOG_SEVERITY.get(a.severity, 5)
    host = (hostname or socket.gethostname() or "-").split(".")[0][:255] or "-"

    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")

    sd = f'[vendorwall@{PEN} kind="{esc(a.kind)}" key="{esc(a.key)}" inventory="{esc(inventory)}"]'
    msg = f"{a.title}: {a.text}".replace("\n", " ")
    return f"<{pri}>1 {a.when or '-'} {host} {SOURCE} - {a.kind[:32]} {sd} {msg}"


def send_syslog(a: Alert, c: SyslogTarget, inventory: str, timeout: float) -> None:
    line = syslog_line(a, inventory).encode()
    try:
        if c.protocol == "udp":
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(timeout)
                s.sendto(line, (c.host, c.port))
            return
        with socket.create_connection((c.host, c.port), timeout=timeout) as s:
            s.sendall(b"%d " % len(line) + line)  # octet-counted framing (RFC 6587)
    except OSError as exc:
        where = f"{c.host}:{c.port}/{c.protocol}"
        raise ChannelError("syslog", f"{where}: {type(exc).__name__}: {str(exc)[:120]}") from None


def configured(cfg: Alerts) -> dict[str, Any]:
    """The channels the policy configures, by name."""
    out: dict[str, Any] = {}
    if cfg.email:
        out["email"] = cfg.email
    if cfg.webhook:
        out["webhook"] = cfg.webhook
    if cfg.syslog:
        out["syslog"] = cfg.syslog
    return out


SENDERS: dict[str, Callable[[Alert, Any, str, float], None]] = {"email": send_email, "webhook": send_webhook,
                                                                 "syslog": send_syslog}
