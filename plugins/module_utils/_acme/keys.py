# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private keys and CSRs for issuance (generated where the module runs; never returned)."""

from __future__ import annotations

import typing as t

from .._errors import InputError

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID
except ImportError:  # pragma: no cover - callers run _deps.require("cryptography") first
    pass

KEY_TYPES = ("ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096")


def generate_key(key_type: str = "ec-p256") -> t.Any:
    if key_type == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if key_type.startswith("rsa-") and key_type in KEY_TYPES:
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[4:]))
    raise InputError("key_type %r is not one of %s" % (key_type, ", ".join(KEY_TYPES)))


def key_to_pem(key: t.Any) -> bytes:
    return bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))


def build_csr(key: t.Any, names: t.Sequence[str]) -> bytes:
    """DER CSR with every name as a DNS SAN and the first name that fits as the CN."""
    builder = x509.CertificateSigningRequestBuilder()
    common = next((n for n in names if len(n) <= 64), None)
    if common:
        builder = builder.subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)]))
    builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return bytes(builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))


def load_csr(data: bytes, source: str) -> tuple[bytes, list[str]]:
    """DER bytes and DNS names (SANs, else CN) of a PEM or DER CSR."""
    try:
        csr = x509.load_pem_x509_csr(data) if b"-----BEGIN" in data else x509.load_der_x509_csr(data)
    except ValueError as exc:
        raise InputError("%s is not a readable certificate signing request (%s)" % (source, str(exc)[:120])) from None
    if not csr.is_signature_valid:
        raise InputError("%s has a bad signature; generate the CSR again" % source)
    names: list[str] = []
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = [str(a.value) for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if not names:
        raise InputError("%s names no DNS name (no subjectAltName DNS entries and no CN)" % source)
    return bytes(csr.public_bytes(serialization.Encoding.DER)), names
