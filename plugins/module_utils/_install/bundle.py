# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A certificate bundle: leaf + private key + chain as one validated unit, in memory.

:func:`build_bundle` parses the inputs, :func:`validate_bundle` refuses a bundle no service should
load.  Both the ``deploy`` module (before installing) and ACME issuance (after the CA answered) use
them: a bundle is checked the same way wherever it comes from.

A bundle issued for a certificate signing request has no private key (the key stays where the CSR
was made): ``key`` and ``key_pem`` are then ``None`` and :meth:`Bundle.files` has no ``key`` and no
``combined`` part.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import typing as t

from .. import _x509
from .._errors import CertificateError, InputError
from .._time import utcnow

if t.TYPE_CHECKING:  # pragma: no cover
    from cryptography.x509 import Certificate

ROLES = ("cert", "key", "chain", "fullchain", "combined")
SECRET_ROLES = ("key", "combined")
MAX_INPUT_BYTES = 1 << 20


@dataclasses.dataclass
class Bundle:
    cert: Certificate
    key: t.Any
    chain: list[Certificate]
    cert_pem: bytes
    key_pem: bytes | None
    chain_pem: bytes

    @property
    def fullchain_pem(self) -> bytes:
        return self.cert_pem + self.chain_pem

    @property
    def has_key(self) -> bool:
        return self.key_pem is not None

    def files(self) -> dict[str, bytes]:
        """The bundle's parts by role (``cert``, ``key``, ``chain``, ``fullchain``, ``combined``)."""
        out = {"cert": self.cert_pem, "chain": self.chain_pem, "fullchain": self.fullchain_pem}
        if self.key_pem is not None:
            out["key"] = self.key_pem
            out["combined"] = self.fullchain_pem + self.key_pem
        return {role: out[role] for role in ROLES if role in out}


def _pem(cert: Certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(cert.public_bytes(serialization.Encoding.PEM))


def build_bundle(cert_data: bytes, key_data: bytes | None, chain_data: bytes | None,
                 sources: t.Mapping[str, str] | None = None) -> Bundle:
    """Parse the inputs into a :class:`Bundle` (certificate PEM re-encoded, key bytes kept as given).

    A certificate input holding several certificates is taken as leaf + chain when no chain is given.
    *key_data* ``None`` makes a bundle without key (issued for a CSR).
    """
    names = {"cert": "cert_content", "key": "key_content", "chain": "chain_content"}
    names.update(sources or {})
    for role, data in (("cert", cert_data), ("key", key_data or b""), ("chain", chain_data or b"")):
        if len(data) > MAX_INPUT_BYTES:
            raise InputError("%s is larger than 1 MiB; give a PEM certificate, key or chain" % names[role])
    for role, data in (("cert", cert_data), ("chain", chain_data or b"")):
        _x509.check_pem_complete(data, names[role])
    certs, _fmt = _x509.load_certificates(cert_data, names["cert"])
    leaf, extra = certs[0], certs[1:]
    if chain_data is not None and chain_data.strip():
        chain, _fmt = _x509.load_certificates(chain_data, names["chain"])
        if extra:
            raise InputError(
                "%s holds %d certificates and %s is given too; give the leaf alone in %s, or leave %s out"
                % (names["cert"], len(certs), names["chain"], names["cert"], names["chain"])
            )
    else:
        chain = extra
    key = key_pem = None
    if key_data is not None:
        if b"-----BEGIN" not in key_data:
            raise CertificateError("%s is not a PEM private key (no BEGIN line)" % names["key"])
        key = _x509.load_private_key(key_data, names["key"])
        key_pem = key_data.strip() + b"\n"
    return Bundle(
        cert=leaf,
        key=key,
        chain=chain,
        cert_pem=_pem(leaf),
        key_pem=key_pem,
        chain_pem=b"".join(_pem(c) for c in chain),
    )


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return "%g%s" % (round(seconds / size, 2), unit)
    return "%gs" % seconds


def _check_key(bundle: Bundle, subject: str) -> None:
    """Refuse a bundle whose private key does not belong to its certificate."""
    leaf = bundle.cert
    if bundle.key is not None and not _x509.public_key_matches(leaf, bundle.key):
        raise CertificateError(
            "the private key does not belong to the certificate %s (fingerprint %s); give the key the "
            "certificate was issued for" % (subject, _x509.fingerprint(leaf))
        )


def _check_validity(leaf: Certificate, subject: str, moment: _dt.datetime, leeway: float) -> None:
    """Refuse a certificate expired, expiring within *leeway*, or not yet valid at *moment*."""
    end, start = _x509.not_after(leaf), _x509.not_before(leaf)
    if end <= moment:
        raise CertificateError(
            "the certificate %s expired at %s; renew it before deploying" % (subject, _x509.iso(end))
        )
    if end <= moment + _dt.timedelta(seconds=leeway):
        left = _span((end - moment).total_seconds())
        raise CertificateError(
            "the certificate %s expires at %s, %s from now, within the leeway of %s allowed for clock skew; "
            "renew it before deploying, or lower leeway" % (subject, _x509.iso(end), left, _span(leeway))
        )
    if start > moment + _dt.timedelta(seconds=leeway):
        raise CertificateError(
            "the certificate %s is not valid before %s (host clock %s); check the clock or wait"
            % (subject, _x509.iso(start), _x509.iso(moment))
        )


def _check_links(leaf: Certificate, chain: t.Sequence[Certificate]) -> None:
    """Refuse a chain in which a certificate was not issued by the next one."""
    for child, parent in zip([leaf, *chain], chain):
        if not _x509.issued_by(child, parent):
            raise CertificateError(
                "the chain does not link: %s was not issued by %s; give the chain the CA issued with "
                "this certificate" % (child.subject.rfc4514_string(), parent.subject.rfc4514_string())
            )


def _check_anchor(leaf: Certificate, chain: t.Sequence[Certificate], ca_bundle: t.Sequence[Certificate],
                  moment: _dt.datetime, subject: str, ca_label: str) -> None:
    """Refuse a chain that does not verify against the trusted roots *ca_bundle*."""
    problem = _x509.verify_chain(leaf, chain, ca_bundle, moment)
    top = ([leaf, *chain])[-1]
    anchored = any(_x509.fingerprint(r) == _x509.fingerprint(top) or _x509.issued_by(top, r) for r in ca_bundle)
    if problem and not anchored:
        raise CertificateError(
            "the chain of %s is whole, but it leads to %s, which %s does not hold (it holds %s); give the "
            "ca_bundle of the CA that issued this certificate" % (
                subject, top.issuer.rfc4514_string(), ca_label,
                "; ".join(r.subject.rfc4514_string() for r in ca_bundle[:5]) + (" ..." if len(ca_bundle) > 5 else ""))
        )
    if problem:
        raise CertificateError(
            "the chain of %s does not verify against %s: %s; give the chain the CA issued "
            "with this certificate" % (subject, ca_label, problem)
        )


def _check_names(leaf: Certificate, subject: str, expected_names: t.Sequence[str]) -> None:
    """Refuse a certificate that does not cover every name of *expected_names*."""
    missing = _x509.names_cover(leaf, expected_names)
    if missing:
        raise CertificateError(
            "the certificate %s does not cover %s (it covers %s); issue one for every expected name"
            % (subject, ", ".join(missing), ", ".join(_x509.dns_names(leaf)) or "no names")
        )


def validate_bundle(
    bundle: Bundle,
    ca_bundle: t.Sequence[Certificate] | None = None,
    expected_names: t.Sequence[str] = (),
    now: _dt.datetime | None = None,
    leeway: float = 0.0,
    ca_label: str = "ca_bundle",
) -> None:
    """Refuse a bundle no service should load: key mismatch, broken chain, missing names, expired.

    *ca_label* names the trusted roots in messages (``ca_bundle /etc/ssl/roots.pem``).
    """
    moment = now or utcnow()
    leaf = bundle.cert
    subject = leaf.subject.rfc4514_string() or "<empty subject>"
    _check_key(bundle, subject)
    _check_validity(leaf, subject, moment, leeway)
    _check_links(leaf, bundle.chain)
    if ca_bundle:
        _check_anchor(leaf, bundle.chain, ca_bundle, moment, subject, ca_label)
    _check_names(leaf, subject, expected_names)


def diff_view(cert: Certificate | None) -> dict[str, t.Any]:
    """What diff mode shows of a certificate (never key material)."""
    if cert is None:
        return {}
    return {
        "subject": cert.subject.rfc4514_string(),
        "sans": _x509.subject_alt_names(cert),
        "serial": _x509.serial_hex(cert),
        "not_after": _x509.iso(_x509.not_after(cert)),
        "fingerprint_sha256": _x509.fingerprint(cert),
    }


def read_input(path: str, option: str) -> bytes:
    """Read a PEM input file (at most 1 MiB) named by *option*."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise InputError("%s %s cannot be read (%s); check the path and permissions" % (option, path, exc.strerror)) from None
    if len(data) > MAX_INPUT_BYTES:
        raise InputError("%s %s is larger than 1 MiB; give a PEM file" % (option, path))
    return data
