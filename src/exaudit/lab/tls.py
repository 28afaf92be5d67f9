"""The lab's self-signed TLS certificate: generated once with ``cryptography``, cached, reused by every endpoint.

An ECDSA P-256 key keeps the handshake cheap for a farm of thousands of endpoints. The certificate names
``exaudit-lab.invalid`` (a reserved name, RFC 2606) and 127.0.0.1; scanners do not verify lab certificates.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CERT_NAME = "exaudit-lab.invalid"
_VALID_DAYS = 365


def cache_dir() -> Path:
    """``$EXAUDIT_LAB_CACHE``, else ``$XDG_CACHE_HOME/exaudit/lab``, else ``~/.cache/exaudit/lab``."""
    configured = os.environ.get("EXAUDIT_LAB_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "exaudit" / "lab"


def _still_valid(cert_path: Path) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return False
    return cert.not_valid_after_utc - dt.timedelta(days=1) > dt.datetime.now(dt.UTC)


def _generate() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CERT_NAME), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "exaudit lab")])
    now = dt.datetime.now(dt.UTC)
    san = x509.SubjectAlternativeName([x509.DNSName(CERT_NAME), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=_VALID_DAYS))
        .add_extension(san, critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _write_atomically(path: Path, data: bytes) -> None:
    """Several processes may start a lab at once: write beside (mode 0600, it holds a key), then rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def certificate_file(directory: Path | None = None) -> Path:
    """One PEM file holding key and certificate (one rename, so no reader sees a mismatched pair).

    Generated on first use, or again when the cached certificate is about to expire.
    """
    directory = directory or cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        directory = Path(tempfile.gettempdir()) / f"exaudit-lab-{os.getuid()}"
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / "lab-tls.pem"
    if not _still_valid(path):
        cert_pem, key_pem = _generate()
        _write_atomically(path, key_pem + cert_pem)
    return path


def server_context(directory: Path | None = None) -> ssl.SSLContext:
    """A TLS server context with the lab certificate (HTTP/1.1 only, as the emulated IIS speaks it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate_file(directory))
    context.set_alpn_protocols(["http/1.1"])
    return context
