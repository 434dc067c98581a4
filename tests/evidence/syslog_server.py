"""A real rsyslog server for the lab tests: its own rsyslogd instance inside a namespace the test created,
listening with TLS (gtls, a CA and server certificate made here with ``cryptography``), writing every
message it receives in RFC 5424 form to a file. Stopped by its own pid."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import signal
import subprocess
import time
from dataclasses import dataclass


def make_pki(d: str, name: str, address: str) -> tuple[str, str, str]:
    """A throwaway CA and a server certificate for ``name`` and ``address``: (ca, cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vendorwall lab CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name),
                                                        x509.IPAddress(ipaddress.ip_address(address))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = tuple(os.path.join(d, f) for f in ("ca.pem", "server.pem", "server.key"))
    with open(paths[0], "wb") as fh:
        fh.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(os.open(paths[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    return paths  # type: ignore[return-value]


@dataclass
class Server:
    netns: str
    pid: int
    out: str
    conf: str

    def lines(self) -> list[str]:
        try:
            with open(self.out, encoding="utf-8", errors="replace") as fh:
                return fh.read().splitlines()
        except FileNotFoundError:
            return []

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            if self.conf in _cmdline(self.pid):
                os.kill(self.pid, signal.SIGTERM)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def start(netns: str, d: str, address: str, port: int, pki: tuple[str, str, str] | None) -> Server:
    os.makedirs(os.path.join(d, "work"), exist_ok=True)
    out = os.path.join(d, "received.log")
    conf = os.path.join(d, "server.conf")
    lines = [f'global(workDirectory="{d}/work"'
             + (f' defaultNetstreamDriver="gtls" defaultNetstreamDriverCAFile="{pki[0]}" '
                f'defaultNetstreamDriverCertFile="{pki[1]}" defaultNetstreamDriverKeyFile="{pki[2]}"' if pki else "")
             + ")"]
    if pki:
        lines.append('module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")')
    else:
        lines.append('module(load="imtcp")')
    lines += [f'input(type="imtcp" address="{address}" port="{port}")',
              f'action(type="omfile" file="{out}" template="RSYSLOG_SyslogProtocol23Format")']
    with open(conf, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    pidfile = os.path.join(d, "server.pid")
    subprocess.run(["ip", "netns", "exec", netns, "rsyslogd", "-f", conf, "-i", pidfile], check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    text = ""
    for _ in range(100):
        with contextlib.suppress(FileNotFoundError), open(pidfile) as fh:
            text = fh.read().strip()
        if text:
            break
        time.sleep(0.05)
    return Server(netns, int(text), out, conf)
