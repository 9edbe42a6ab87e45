# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OCSP: ask the responder a certificate names whether it is revoked.

Optional by nature: Let's Encrypt certificates name no responder since 2025, and then
``ocsp_status`` returns None.  The response signature is checked against the issuer, or a
delegated responder certificate the issuer signed (RFC 6960 section 4.2.2.2).

Plain Python on ``cryptography`` and ``http.client``, no Ansible import.
"""

from __future__ import annotations

import http.client
import typing as t
import urllib.parse

from .. import _x509
from .._time import iso, utc_field

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
except ImportError:  # pragma: no cover - reported by _deps.require("cryptography")
    pass

if t.TYPE_CHECKING:  # pragma: no cover
    from cryptography.x509 import Certificate


def ocsp_urls(leaf: Certificate) -> list[str]:
    try:
        aia = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [str(d.access_location.value) for d in aia
            if d.access_method == x509.oid.AuthorityInformationAccessOID.OCSP]


def _responder_key(response: t.Any, issuer: Certificate) -> t.Any:
    """The key that may sign this response: the issuer's, or a delegated responder the issuer signed."""
    for candidate in getattr(response, "certificates", []) or []:
        if not _x509.issued_by(candidate, issuer):
            continue
        try:
            eku = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING in eku:
            return candidate.public_key()
    return issuer.public_key()


def _http_post(url: str, body: bytes, timeout: float) -> bytes:
    """POST an OCSP request (plain http.client: the engine imports nothing from Ansible)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("unsupported OCSP URL %s" % url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("POST", parts.path or "/", body=body, headers={"Content-Type": "application/ocsp-request"})
        answer = conn.getresponse()
        data = answer.read(1 << 20)
        if answer.status != 200:
            raise ValueError("HTTP %d" % answer.status)
        return data
    finally:
        conn.close()


def ocsp_status(leaf: Certificate, issuer: Certificate | None, timeout: float = 10.0) -> dict[str, t.Any] | None:
    """Ask the OCSP responder the certificate names; None when it names none (normal for Let's Encrypt)."""
    urls = ocsp_urls(leaf)
    if not urls:
        return None
    result: dict[str, t.Any] = {"url": urls[0], "status": None, "this_update": None, "next_update": None,
                                "revocation_time": None, "signature_valid": None, "error": None}
    if issuer is None:
        result["error"] = "the issuer certificate was not served, so no OCSP request can be built"
        return result
    from cryptography.x509 import ocsp

    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()  # SHA-1: the RFC 6960 CertID default
    try:
        data = _http_post(urls[0], request.public_bytes(serialization.Encoding.DER), timeout)
        response = ocsp.load_der_ocsp_response(data)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        result["error"] = "OCSP responder %s did not answer usefully (%s)" % (urls[0], exc)
        return result
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        result["error"] = "OCSP responder %s answered %s" % (urls[0], response.response_status.name.lower())
        return result
    result["status"] = response.certificate_status.name.lower()
    for key in ("this_update", "next_update", "revocation_time"):
        moment = utc_field(response, key)
        if moment is not None:
            result[key] = iso(moment)
    result["signature_valid"] = _x509.signature_valid(
        _responder_key(response, issuer), response.signature, response.tbs_response_bytes,
        response.signature_hash_algorithm)
    if response.serial_number != leaf.serial_number:
        result["error"] = "OCSP response is about another certificate"
    return result
