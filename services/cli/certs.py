"""`make certs` / `muster certs`: a development CA and certificates for TLS and mutual TLS.

    muster certs [--out var/certs] [--hosts localhost,127.0.0.1,...]

Writes ca.pem / ca-key.pem, and for each service (inventory, routing,
gateway) <name>.pem / <name>-key.pem, valid as a server (the hosts given) and
as a client (for mutual TLS between services), plus client.pem for tools.
Made with `cryptography` (ECDSA P-256, 1 year); for development only: a
corps' own CA issues production certificates (deploy/README.md).
"""

from __future__ import annotations

import argparse
import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from rich.console import Console

SERVICES = ("inventory", "routing", "gateway", "client")
DEFAULT_HOSTS = "localhost,127.0.0.1,inventory,routing,gateway"
VALID = timedelta(days=365)


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Muster development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _write(path: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
    path.with_name(f"{path.stem}-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.with_name(f"{path.stem}-key.pem").chmod(0o600)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _san(hosts: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def make(out: Path, hosts: list[str]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Muster development CA"))
        .issuer_name(_name("Muster development CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + VALID)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write(out / "ca.pem", ca_key, ca)
    written = [out / "ca.pem"]
    for service in SERVICES:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(service))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + VALID)
            .add_extension(_san(hosts), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        _write(out / f"{service}.pem", key, cert)
        written.append(out / f"{service}.pem")
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("var/certs"))
    parser.add_argument("--hosts", default=DEFAULT_HOSTS, help="names the servers answer to")


def command(args: argparse.Namespace, console: Console) -> int:
    for path in make(args.out, [h.strip() for h in args.hosts.split(",") if h.strip()]):
        console.print(f"wrote {path}")
    console.print(
        "servers: MUSTER_TLS_CERT / MUSTER_TLS_KEY (and MUSTER_TLS_CLIENT_CA for mutual TLS); "
        "clients: MUSTER_TLS_CA, with MUSTER_TLS_CERT / _KEY as their own certificate"
    )
    return 0
