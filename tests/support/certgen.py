# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make CAs, keys and certificates in code for tests, the demo and benchmarks.

    ca = TestCA("Lab Root")
    leaf = ca.issue(["shop.example.test"], days=90, not_before=now - 10 days)
    leaf.write(dirpath, "shop")   # shop.pem (leaf + chain), shop.key
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import os
import typing as t

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

UTC = dt.timezone.utc


def now() -> dt.datetime:
    return dt.datetime.now(UTC).replace(microsecond=0)


def new_key(kind: str = "ec") -> t.Any:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: t.Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclasses.dataclass
class Issued:
    cert: x509.Certificate
    key: t.Any
    chain: list[x509.Certificate]

    @property
    def cert_pem(self) -> bytes:
        return cert_pem(self.cert)

    @property
    def key_pem(self) -> bytes:
        return key_pem(self.key)

    @property
    def chain_pem(self) -> bytes:
        return b"".join(cert_pem(c) for c in self.chain)

    @property
    def fullchain_pem(self) -> bytes:
        return self.cert_pem + self.chain_pem

    def write(self, directory: str, stem: str, bundle: bool = True, key: bool = True) -> str:
        """Write ``stem.pem`` (leaf, plus chain when *bundle*) and ``stem.key`` (0600); return the cert path."""
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, stem + ".pem")
        with open(path, "wb") as handle:
            handle.write(self.fullchain_pem if bundle else self.cert_pem)
        if key:
            key_path = os.path.join(directory, stem + ".key")
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(self.key_pem)
        return path


class TestCA:
    """A root CA, optionally with an intermediate that signs leaves."""

    __test__ = False  # not a pytest class

    def __init__(self, name: str = "ghostguard test root", intermediate: bool = True, days: int = 3650) -> None:
        start = now() - dt.timedelta(days=1)
        self.root_key = new_key()
        self.root = self._ca_cert(name, self.root_key, None, None, start, days)
        if intermediate:
            self.signer_key = new_key()
            self.signer = self._ca_cert(name + " intermediate", self.signer_key, self.root, self.root_key, start, days)
            self.chain = [self.signer]
        else:
            self.signer_key, self.signer, self.chain = self.root_key, self.root, []

    @property
    def root_pem(self) -> bytes:
        return cert_pem(self.root)

    @staticmethod
    def _ca_cert(name: str, key: t.Any, issuer: x509.Certificate | None, issuer_key: t.Any,
                 start: dt.datetime, days: int) -> x509.Certificate:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.subject if issuer else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if issuer is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
            )
        return builder.sign(issuer_key or key, hashes.SHA256())

    def issue(
        self,
        names: t.Sequence[str],
        days: float = 90,
        not_before: dt.datetime | None = None,
        key: t.Any = None,
        key_type: str = "ec",
        usage: t.Sequence[x509.ObjectIdentifier] = (ExtendedKeyUsageOID.SERVER_AUTH,),
        extensions: t.Sequence[x509.ExtensionType] = (),
    ) -> Issued:
        """A leaf for *names* (the first is the CN), with extended key *usage* and any extra *extensions*."""
        key = key or new_key(key_type)
        start = not_before or (now() - dt.timedelta(minutes=1))
        sans: list[x509.GeneralName] = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.signer.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(list(usage)), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.signer_key.public_key()), critical=False
            )
        )
        for extension in extensions:
            builder = builder.add_extension(extension, critical=False)
        return Issued(builder.sign(self.signer_key, hashes.SHA256()), key, list(self.chain))
