"""The Compose stack's secrets, made once inside the `secrets` volume by the image's own
Python (compose.yaml, service `secrets`): the master key, the service and admin tokens, the
console's session key, and a private CA with the core's server certificate and a client
certificate for the edge and the console (mTLS). Existing files are kept, so restarts change
nothing; delete the volume to start over (docs/deploy.md). The CA key is not kept.

    python3 make_secrets.py DIRECTORY
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from core_service.crypto import MasterKey

CORE_NAMES = ("core", "core-1", "core-2", "localhost")
VALID_DAYS = 825


def write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    names: tuple[str, ...] = (),
    usage: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, signing_key = issuer if issuer is not None else (name, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        alternative: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
        alternative.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        builder = builder.add_extension(x509.SubjectAlternativeName(alternative), critical=False)
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def make_tls(directory: Path) -> None:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate("sitoo-bloomreach compose CA", ca_key, None, ca=True)
    issuer = (ca.subject, ca_key)
    core_key = ec.generate_private_key(ec.SECP256R1())
    core = certificate(
        "core", core_key, issuer, names=CORE_NAMES, usage=ExtendedKeyUsageOID.SERVER_AUTH
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = certificate(
        "sitoo-bloomreach client", client_key, issuer, usage=ExtendedKeyUsageOID.CLIENT_AUTH
    )
    pem = serialization.Encoding.PEM
    write(directory / "core.key", key_pem(core_key))
    write(directory / "core.crt", core.public_bytes(pem))
    write(directory / "client.key", key_pem(client_key))
    write(directory / "client.crt", client.public_bytes(pem))
    # Last: its presence says the set is complete.
    write(directory / "ca.crt", ca.public_bytes(pem))


def main(argv: list[str]) -> int:
    directory = Path(argv[0])
    made = []
    for name, make in (
        ("master.key", MasterKey.generate),
        ("service.token", lambda: secrets.token_urlsafe(32)),
        ("admin.token", lambda: secrets.token_urlsafe(32)),
        ("console-session.key", lambda: secrets.token_urlsafe(48)),
    ):
        if not (directory / name).exists():
            write(directory / name, (make() + "\n").encode())
            made.append(name)
    if not (directory / "ca.crt").exists():
        for stale in ("core.key", "core.crt", "client.key", "client.crt"):
            (directory / stale).unlink(missing_ok=True)
        make_tls(directory)
        made.append("TLS (ca.crt, core.*, client.*)")
    print("made: " + (", ".join(made) if made else "nothing (all present)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
