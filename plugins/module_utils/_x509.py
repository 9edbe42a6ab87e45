# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Certificates: parse, describe, match keys, check signatures, verify chains.

Plain Python on ``cryptography``; nothing here imports Ansible, so the host agent can use it.
Every certificate the collection returns is described by :func:`describe` with the keys fixed in
DESIGN.md (the renewal decision in it comes from ``_policy``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import re
import typing as t

from . import _policy
from ._deps import require
from ._errors import CertificateError, InputError
from ._time import iso, utc_field, utcnow

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
except ImportError:  # pragma: no cover - reported by _deps.require("cryptography")
    pass

if t.TYPE_CHECKING:  # pragma: no cover
    from cryptography.x509 import Certificate

PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----\s*(.*?)\s*-----END CERTIFICATE-----", re.S)
PEM_ANY_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
PEM_KEY_LABELS = (b"PRIVATE KEY", b"RSA PRIVATE KEY", b"EC PRIVATE KEY", b"ENCRYPTED PRIVATE KEY")


# --------------------------------------------------------------------------- parsing


def load_certificates(data: bytes, source: str = "input") -> tuple[list[Certificate], str]:
    """Parse every certificate in PEM *data* (a bundle is fine) or one DER certificate.

    Returns the certificates in file order and the format (``pem`` or ``der``).  Raises
    :class:`CertificateError` naming *source* when nothing parses.
    """
    require("cryptography")
    if b"-----BEGIN" in data:
        check_pem_complete(data, source)
        blocks = PEM_CERT.findall(data)
        if not blocks:
            labels = sorted({m.decode("ascii", "replace") for m in PEM_ANY_BEGIN.findall(data)})
            if "PKCS7" in labels:
                raise CertificateError(_container_message(source, "pkcs7", "PEM"), path=source)
            raise CertificateError(
                "%s holds PEM data but no CERTIFICATE block (found: %s)" % (source, ", ".join(labels) or "none"),
                path=source,
            )
        certs = []
        for index, block in enumerate(blocks):
            try:
                der = base64.b64decode(b"".join(block.split()), validate=True)
                certs.append(x509.load_der_x509_certificate(der))
            except (ValueError, binascii.Error) as exc:
                raise CertificateError(
                    "%s: certificate #%d of the PEM data is corrupt or truncated (%s); replace the file "
                    "with a complete copy" % (source, index + 1, _first_line(exc)),
                    path=source,
                ) from None
        return certs, "pem"
    if not data.strip():
        raise CertificateError("%s is empty; expected a PEM or DER certificate" % source, path=source)
    container = der_container(data)
    if container:
        raise CertificateError(_container_message(source, container, "DER"), path=source)
    try:
        return [x509.load_der_x509_certificate(data)], "der"
    except ValueError as exc:
        raise CertificateError(
            "%s is neither a PEM nor a DER certificate (%s)" % (source, _first_line(exc)), path=source
        ) from None


# DER of the OIDs PKCS#7 signedData (a .p7b/.p7c certificate bundle) and PKCS#7 data (inside a PKCS#12 PFX).
_OID_PKCS7_SIGNED = bytes.fromhex("06092a864886f70d010702")
_OID_PKCS7_DATA = bytes.fromhex("06092a864886f70d010701")


def der_container(data: bytes) -> str | None:
    """``pkcs7`` or ``pkcs12`` when DER *data* is such a container rather than one certificate."""
    head = data[:40]
    if not head.startswith(b"\x30"):
        return None
    if _OID_PKCS7_SIGNED in head:
        return "pkcs7"
    if b"\x02\x01\x03" in head[:8] and _OID_PKCS7_DATA in head:  # PFX: version 3, then authSafe data
        return "pkcs12"
    return None


def _container_message(source: str, container: str, encoding: str) -> str:
    if container == "pkcs7":
        return ("%s is a PKCS#7 certificate bundle (%s, .p7b), not a PEM or DER certificate; convert it with "
                "'openssl pkcs7 %s-print_certs -in FILE.p7b -out FILE.pem'" % (
                    source, encoding, "-inform DER " if encoding == "DER" else ""))
    return ("%s is a PKCS#12 archive (.p12/.pfx: certificate and private key), not a PEM or DER certificate; "
            "extract the certificates with 'openssl pkcs12 -in FILE.p12 -nokeys -out FILE.pem'" % source)


def check_pem_complete(data: bytes, source: str = "input") -> None:
    """Raise :class:`CertificateError` when a PEM CERTIFICATE block of *data* has no END line (a truncated copy)."""
    if data.count(b"-----BEGIN CERTIFICATE-----") != data.count(b"-----END CERTIFICATE-----"):
        raise CertificateError(
            "%s: a PEM CERTIFICATE block has no END line (truncated file); replace it with a complete copy" % source,
            path=source,
        )


def looks_like_private_key_only(data: bytes) -> bool:
    """True for PEM data that holds keys but no certificate (so a directory scan skips it)."""
    labels = PEM_ANY_BEGIN.findall(data)
    return bool(labels) and b"CERTIFICATE" not in labels and all(label in PEM_KEY_LABELS for label in labels)


def load_private_key(data: bytes, source: str = "key", password: bytes | None = None) -> t.Any:
    require("cryptography")
    try:
        try:
            return serialization.load_pem_private_key(data, password=password, unsafe_skip_rsa_key_validation=True)
        except TypeError:  # cryptography < 39 has no unsafe_skip_rsa_key_validation
            return serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as exc:
        msg = _first_line(exc)
        if "encrypted" in msg.lower() or "password" in msg.lower():
            raise CertificateError("%s is an encrypted private key; give a key without a passphrase" % source) from None
        raise CertificateError("%s is not a readable PEM private key (%s)" % (source, msg)) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return text.splitlines()[0][:200]


# --------------------------------------------------------------------------- description


def fingerprint(cert: Certificate) -> str:
    digest = cert.fingerprint(hashes.SHA256())
    return ":".join("%02x" % b for b in digest)


def normalize_fingerprint(value: str) -> str:
    """Accept any case, with or without colons (or spaces); return lowercase colon pairs."""
    text = re.sub(r"[\s:]", "", str(value)).lower()
    if text.startswith("sha256"):
        text = text[6:].lstrip("=")
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise InputError(
            "fingerprint %r is not a SHA-256 fingerprint: expected 64 hex digits, with or without colons" % value
        )
    return ":".join(text[i:i + 2] for i in range(0, 64, 2))


def not_before(cert: Certificate) -> _dt.datetime:
    """Start of validity, aware UTC."""
    return t.cast("_dt.datetime", utc_field(cert, "not_valid_before"))


def not_after(cert: Certificate) -> _dt.datetime:
    """End of validity, aware UTC."""
    return t.cast("_dt.datetime", utc_field(cert, "not_valid_after"))


def serial_hex(cert: Certificate) -> str:
    """The serial as OpenSSL prints it: lowercase hex pairs joined by colons, a negative serial (which
    RFC 5280 forbids, but old CAs issued) with a leading minus, like ``openssl x509 -serial``."""
    number = cert.serial_number
    raw = "%x" % abs(number)
    if len(raw) % 2:
        raw = "0" + raw
    return ("-" if number < 0 else "") + ":".join(raw[i:i + 2] for i in range(0, len(raw), 2))


def subject_alt_names(cert: Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names: list[str] = []
    for name in ext:
        if isinstance(name, x509.DNSName):
            names.append("DNS:" + name.value)
        elif isinstance(name, x509.IPAddress):
            names.append("IP:" + str(name.value))
        elif isinstance(name, x509.RFC822Name):
            names.append("email:" + name.value)
        elif isinstance(name, x509.UniformResourceIdentifier):
            names.append("URI:" + name.value)
        else:
            names.append(str(name.value))
    return names


def dns_names(cert: Certificate) -> list[str]:
    """Names a TLS client would match: DNS and IP SANs, or the CN when there are no SANs."""
    sans = subject_alt_names(cert)
    out = [s.split(":", 1)[1] for s in sans if s.startswith(("DNS:", "IP:"))]
    if not sans:
        out = [str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    return out


def key_description(public_key: t.Any) -> str:
    if isinstance(public_key, rsa.RSAPublicKey):
        return "rsa-%d" % public_key.key_size
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "ec-p256", "secp384r1": "ec-p384", "secp521r1": "ec-p521"}.get(
            public_key.curve.name, "ec-" + public_key.curve.name
        )
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(public_key, ed448.Ed448PublicKey):
        return "ed448"
    return public_key.__class__.__name__


def is_ca(cert: Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def names_cover(cert: Certificate, wanted: t.Iterable[str]) -> list[str]:
    """Return the names in *wanted* that the certificate does NOT cover (wildcards as in RFC 6125; a Unicode
    name as its A-label, the form certificates hold)."""
    from ._domains import ascii_form

    have = [n.lower().rstrip(".") for n in dns_names(cert)]
    missing = []
    for name in wanted:
        want = ascii_form(name)
        if want in have:
            continue
        labels = want.split(".", 1)
        if len(labels) == 2 and "*." + labels[1] in have and not want.startswith("*."):
            continue
        missing.append(str(name))
    return missing


# --------------------------------------------------------------------------- description with the policy


def describe(cert: Certificate, path: str | None, policy: _policy.Policy) -> dict[str, t.Any]:
    """The DESIGN.md description of one certificate, with the renewal decision."""
    start, end = not_before(cert), not_after(cert)
    decision = _policy.evaluate(start, end, policy)
    return {
        "path": path,
        "subject": cert.subject.rfc4514_string(),
        "sans": subject_alt_names(cert),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": serial_hex(cert),
        "fingerprint_sha256": fingerprint(cert),
        "not_before": iso(start),
        "not_after": iso(end),
        "seconds_remaining": decision.seconds_remaining,
        "lifetime_seconds": decision.lifetime_seconds,
        "renew_at": iso(decision.renew_at),
        "due": decision.due,
        "status": decision.status,
        "reasons": decision.reasons,
        "key_type": key_description(cert.public_key()),
        "is_ca": is_ca(cert),
    }


# --------------------------------------------------------------------------- keys and chains


def public_key_matches(cert: Certificate, private_key: t.Any) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return bool(
        cert.public_key().public_bytes(enc, fmt) == private_key.public_key().public_bytes(enc, fmt)
    )


def signature_valid(key: t.Any, signature: bytes, data: bytes, hash_algorithm: t.Any,
                    rsa_padding: t.Any = None) -> bool:
    """True when *signature* over *data* verifies with the public *key*.

    The one signature check of the engine: certificates (see :func:`issued_by`), CT log SCTs and
    OCSP responses.  RSA uses *rsa_padding* (PKCS#1 v1.5 unless given), EC uses ECDSA with
    *hash_algorithm*, Ed25519/Ed448 sign the data directly; any other key type does not verify.
    """
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if not isinstance(rsa_padding, (padding.PKCS1v15, padding.PSS)):
                rsa_padding = padding.PKCS1v15()
            key.verify(signature, data, rsa_padding, hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hash_algorithm))
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(signature, data)
        else:
            return False
        return True
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False


def issued_by(cert: Certificate, issuer: Certificate) -> bool:
    """True when *issuer*'s subject is *cert*'s issuer and *issuer*'s key signed *cert*."""
    if cert.issuer != issuer.subject:
        return False
    try:
        hash_algorithm = cert.signature_hash_algorithm
        rsa_padding = getattr(cert, "signature_algorithm_parameters", None)  # RSA-PSS; cryptography >= 41
    except (UnsupportedAlgorithm, ValueError):
        return False
    return signature_valid(issuer.public_key(), cert.signature, cert.tbs_certificate_bytes, hash_algorithm, rsa_padding)


def verify_chain(
    leaf: Certificate,
    intermediates: t.Sequence[Certificate],
    roots: t.Sequence[Certificate],
    now: _dt.datetime | None = None,
    max_depth: int = 8,
) -> str | None:
    """Check that *leaf* chains through *intermediates* to one of *roots* at *now*.

    Signatures, issuer names and validity windows are checked.  Returns None when the chain is
    good, else a sentence saying what is wrong.
    """
    moment = now or utcnow()
    root_fps = {fingerprint(r) for r in roots}
    current = leaf
    pool = list(intermediates) + list(roots)
    for _depth in range(max_depth):
        if fingerprint(current) in root_fps:
            return None
        issuer = next((c for c in pool if c is not current and issued_by(current, c)), None)
        if issuer is None:
            return "no certificate in the chain or CA bundle issued %s (issuer %s)" % (
                current.subject.rfc4514_string() or "<empty subject>",
                current.issuer.rfc4514_string(),
            )
        if not not_before(issuer) <= moment <= not_after(issuer):
            return "chain certificate %s is outside its validity window (%s to %s)" % (
                issuer.subject.rfc4514_string(), iso(not_before(issuer)), iso(not_after(issuer))
            )
        if fingerprint(issuer) in root_fps:
            return None
        current = issuer
    return "chain is longer than %d certificates or loops" % max_depth


def load_ca_file(path: str) -> list[Certificate]:
    """The CA certificates of the PEM file *path* (a ``ca_bundle`` option)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise InputError("ca_bundle %s cannot be read (%s); give a readable PEM file of CA certificates" % (path, exc.strerror)) from None
    certs, _fmt = load_certificates(data, "ca_bundle " + path)
    return certs
