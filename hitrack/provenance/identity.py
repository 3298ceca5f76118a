"""The embedded default signing identity: an ES256 CA and a leaf certificate.

Generated on first use into ``<data folder>/c2pa/`` (``ca.pem``,
``signer.pem`` with the leaf then the CA, ``signer.key``, mode 0600) and
reused afterwards. The CA is the trust anchor hitrack's own reader uses, so
files signed here validate as ``Trusted`` here; anyone else sees them as
``Valid`` (signed, untampered) from an issuer they have not chosen to trust —
which is what a development identity should look like. In production the
operator's certificate chain and key replace it (``HITRACK_C2PA_CERT_FILE``,
``HITRACK_C2PA_KEY_FILE``), or a signing callback (a KMS) signs instead.

The leaf follows the C2PA certificate profile: digital-signature key usage,
the e-mail protection extended key usage, not a CA, issued by a separate CA
(C2PA refuses self-signed signing certificates).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["SigningIdentity", "local_identity", "generate_identity"]

_ORGANIZATION = "hitrack"


@dataclass(frozen=True)
class SigningIdentity:
    """PEM bytes: the leaf-then-CA chain, the leaf's private key, and the trust anchor."""

    certificate_chain: bytes
    private_key: bytes
    trust_anchor: bytes


def local_identity(folder: Path) -> SigningIdentity:
    """The identity kept in ``folder``, generated there on first use."""
    ca, chain, key = folder / "ca.pem", folder / "signer.pem", folder / "signer.key"
    if not (ca.exists() and chain.exists() and key.exists()):
        identity = generate_identity()
        folder.mkdir(parents=True, exist_ok=True)
        for path, data in ((ca, identity.trust_anchor), (chain, identity.certificate_chain)):
            path.write_bytes(data)
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(identity.private_key)
        return identity
    return SigningIdentity(chain.read_bytes(), key.read_bytes(), ca.read_bytes())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANIZATION),
        ]
    )


def _usage(*, signing: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signing,
        crl_sign=not signing,
        encipher_only=False,
        decipher_only=False,
    )


def generate_identity(*, now: dt.datetime | None = None) -> SigningIdentity:
    """A fresh CA (10 years) and leaf (2 years), both P-256, SHA-256 signatures."""
    now = now or dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("hitrack local provenance CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(signing=False), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("hitrack provenance signer"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=730))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(signing=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return SigningIdentity(
        certificate_chain=leaf.public_bytes(pem) + ca.public_bytes(pem),
        private_key=key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        trust_anchor=ca.public_bytes(pem),
    )
