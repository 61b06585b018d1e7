"""TLS for a pilot: a development CA, a server certificate, device certificates,
and the SSL contexts `fedsim serve` and `fedsim client` use.

    fedsim certs DIR --host fl.example.org --host 10.0.0.5 --topology topo.yaml

writes DIR/ca.pem (give it to every device: clients pin it with `--ca`),
DIR/ca-key.pem (keep it offline), DIR/server.pem + server-key.pem (`fedsim serve
--cert --key`) and DIR/devices/NAME.pem + NAME-key.pem (optional client
certificates: `serve --client-ca DIR/ca.pem` then requires them). EC P-256 keys,
SHA-256 signatures. This is a development CA: a production fleet uses its own PKI.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Sequence
from pathlib import Path

from fedsim.errors import FedsimError

__all__ = ["client_context", "make_dev_pki", "server_context"]

VALID_DAYS = 365


def _name(common: str) -> object:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fedsim pilot"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _write_key(path: Path, key: object) -> None:
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    path.chmod(0o600)


def _write_cert(path: Path, cert: object) -> None:
    from cryptography.hazmat.primitives import serialization

    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))  # type: ignore[attr-defined]


def _issue(
    common: str,
    issuer_key: object,
    issuer_name: object,
    *,
    ca: bool = False,
    hosts: Sequence[str] = (),
    client: bool = False,
) -> tuple[object, object]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common))  # type: ignore[arg-type]
        .issuer_name(issuer_name if issuer_name is not None else _name(common))  # type: ignore[arg-type]
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
    else:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if hosts:
        alt: list[x509.GeneralName] = []
        for h in hosts:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                alt.append(x509.DNSName(h))
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    signer = issuer_key if issuer_key is not None else key
    # Key identifiers: RFC 5280 wants them, and Python 3.13's default contexts verify
    # strictly (VERIFY_X509_STRICT), refusing a chain without them.
    builder = builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
    ).add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),  # type: ignore[attr-defined]
        critical=False,
    )
    cert = builder.sign(signer, hashes.SHA256())  # type: ignore[arg-type]
    return key, cert


def make_dev_pki(out: str | Path, hosts: Sequence[str], devices: Sequence[str]) -> Path:
    """Write a development CA, a server certificate for `hosts`, one per device."""
    try:
        import cryptography  # noqa: F401
    except ImportError:
        raise FedsimError(
            "fedsim certs needs the cryptography package (pip install cryptography)"
        ) from None
    root = Path(out)
    (root / "devices").mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _issue("fedsim development CA", None, None, ca=True)
    ca_name = ca_cert.subject  # type: ignore[attr-defined]
    _write_key(root / "ca-key.pem", ca_key)
    _write_cert(root / "ca.pem", ca_cert)
    key, cert = _issue(hosts[0], ca_key, ca_name, hosts=hosts)
    _write_key(root / "server-key.pem", key)
    _write_cert(root / "server.pem", cert)
    for device in devices:
        key, cert = _issue(device, ca_key, ca_name, client=True)
        _write_key(root / "devices" / f"{device}-key.pem", key)
        _write_cert(root / "devices" / f"{device}.pem", cert)
    return root


def server_context(
    cert: str | Path, key: str | Path, client_ca: str | Path | None = None
) -> ssl.SSLContext:
    """TLS 1.2+ server context; with `client_ca`, devices must present a certificate."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(str(cert), str(key))
        if client_ca is not None:
            ctx.load_verify_locations(str(client_ca))
            ctx.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise FedsimError(f"cannot load the server certificate {cert} / {key}: {exc}") from None
    return ctx


def client_context(
    ca: str | Path, cert: str | Path | None = None, key: str | Path | None = None
) -> ssl.SSLContext:
    """A device's context: trusts only `ca` (pinning), optionally presents its own cert."""
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if cert is not None:
            ctx.load_cert_chain(str(cert), str(key) if key is not None else None)
    except (OSError, ssl.SSLError) as exc:
        raise FedsimError(f"cannot load TLS material {ca}: {exc}") from None
    return ctx
