"""TLS certificates and SuperNode keys for a federation, made with the `cryptography` package.

- ``init_certs(out, hosts)``: a CA (``ca.crt``, ``ca.key``) and the coordinator's
  server certificate (``server.crt``, ``server.key``) valid for ``hosts``
  (names or IP addresses). Hand ``ca.crt`` to every hospital; ``ca.key`` and
  ``server.key`` stay with the coordinator's operator.
- ``node_keys(out, name)``: a hospital's SuperNode authentication key pair
  (EC P-384; private key in OpenSSH PEM, public key in OpenSSH one-line form,
  what ``flwr supernode register`` and ``flower-supernode
  --auth-supernode-private-key`` take). The private key never leaves the
  hospital; the coordinator registers the public one.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fedcost.errors import UsageError
from fedcost.files import write_bytes

VALID_DAYS = 365


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fedcost"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _alt_name(host: str):
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def init_certs(out: str | Path, hosts: list[str], force: bool = False) -> dict[str, Path]:
    """A CA and a server certificate for ``hosts``; returns the file paths."""
    out = Path(out)
    files = {k: out / f for k, f in (("ca", "ca.crt"), ("ca_key", "ca.key"), ("cert", "server.crt"),
                                     ("key", "server.key"))}
    if not hosts:
        raise UsageError("name at least one --host the hospitals will connect to (a DNS name or an IP address)")
    if not force and any(p.exists() for p in files.values()):
        raise UsageError(f"{out} already holds certificates; pass --force to replace them")
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca = (x509.CertificateBuilder().subject_name(_name("fedcost federation CA")).issuer_name(_name("fedcost federation CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=VALID_DAYS))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA384()))
    key = ec.generate_private_key(ec.SECP384R1())
    cert = (x509.CertificateBuilder().subject_name(_name(hosts[0])).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName([_alt_name(h) for h in hosts]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA384()))
    write_bytes(files["ca_key"], _key_pem(ca_key), 0o600)
    write_bytes(files["key"], _key_pem(key), 0o600)
    write_bytes(files["ca"], ca.public_bytes(serialization.Encoding.PEM))
    write_bytes(files["cert"], cert.public_bytes(serialization.Encoding.PEM))
    return files


def node_keys(out: str | Path, name: str) -> tuple[Path, Path]:
    """A SuperNode's authentication key pair: (private key file, public key file)."""
    key = ec.generate_private_key(ec.SECP384R1())
    private = write_bytes(Path(out) / f"{name}.key", key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()), 0o600)
    public = write_bytes(Path(out) / f"{name}.pub", key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH) + b"\n")
    return private, public
