# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Revocation of a described certificate: OCSP where it names a responder, else its CRL.

:class:`RevocationChecker` is what ``_expiry.scan`` calls for every leaf: it finds the issuer (in the
certificate's own file, a ``chain.pem`` / ``fullchain.pem`` beside it, or the ``ca_bundle``), asks
OCSP (``ocsp``) or the CRL distribution point (``crl``), and writes the answer into the description:
``revocation`` (method, url, status, revocation_time, this_update, next_update, cached, error), and on a
revocation the status ``revoked`` (the most severe: it forces renewal) with the reason ``revoked``.
A check that cannot be made is ``revocation_error``, never a revocation, and never fails the scan.

Plain Python on ``cryptography``, no Ansible import.
"""

from __future__ import annotations

import os
import typing as t

from .. import _durable, _x509
from .._errors import CertsError
from . import crl as _crl
from . import ocsp as _ocsp

if t.TYPE_CHECKING:  # pragma: no cover
    from cryptography.x509 import Certificate

CHAIN_FILES = ("chain.pem", "fullchain.pem")
DEFAULT_TIMEOUT = 5.0


def find_issuer(leaf: Certificate, chain: t.Sequence[Certificate], path: str | None,
                roots: t.Sequence[Certificate] = ()) -> Certificate | None:
    """The certificate that signed *leaf*: from its own file's chain, a chain file beside it, or *roots*."""
    def pick(candidates: t.Iterable[Certificate]) -> Certificate | None:
        return next((c for c in candidates if _x509.issued_by(leaf, c)), None)

    found = pick(chain)
    if found is None and path:
        for name in CHAIN_FILES:
            beside = os.path.join(os.path.dirname(path), name)
            if os.path.abspath(beside) == os.path.abspath(path):
                continue
            try:
                data = _durable.read_file(beside, 1 << 20)
                found = pick(_x509.load_certificates(data, beside)[0]) if data else None
            except (OSError, CertsError):
                found = None
            if found is not None:
                break
    return found or pick(roots)


def _by_ocsp(leaf: Certificate, issuer: Certificate | None, timeout: float) -> dict[str, t.Any] | None:
    answer = _ocsp.ocsp_status(leaf, issuer, timeout)
    if answer is None:
        return None
    out = {"method": "ocsp", "url": answer["url"], "status": answer["status"],
           "revocation_time": answer["revocation_time"], "this_update": answer["this_update"],
           "next_update": answer["next_update"], "cached": False, "error": answer["error"]}
    if not out["error"] and answer["signature_valid"] is False:
        out["error"] = "OCSP response from %s is not signed by the issuer; revocation is unknown" % answer["url"]
    if out["error"]:
        out["status"] = None
    return out


class RevocationChecker:
    """Check the leaves of one scan; CRLs are fetched once per URL and cached until their nextUpdate."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, cache_dir: str | None = None,
                 roots: t.Sequence[Certificate] | None = None, fetcher: _crl.CrlFetcher | None = None) -> None:
        self.timeout = timeout
        self.roots = list(roots or [])
        self.fetcher = fetcher or _crl.CrlFetcher(cache_dir=cache_dir, timeout=timeout)

    def status(self, leaf: Certificate, chain: t.Sequence[Certificate], path: str | None) -> dict[str, t.Any]:
        """``{method, url, status, ...}``: method None when the certificate names neither OCSP nor a CRL."""
        issuer = find_issuer(leaf, chain, path, self.roots)
        answer = _by_ocsp(leaf, issuer, self.timeout)
        if answer is not None and not answer["error"]:
            return answer
        by_crl = self.fetcher.status(leaf, issuer)
        if by_crl is not None and (answer is None or not by_crl["error"]):
            return by_crl
        if answer is not None:
            if by_crl is not None:
                answer["error"] = "%s; %s" % (answer["error"], by_crl["error"])
            return answer
        return {"method": None, "url": None, "status": None, "revocation_time": None, "this_update": None,
                "next_update": None, "cached": False, "error": None}

    def apply(self, desc: dict[str, t.Any], leaf: Certificate, chain: t.Sequence[Certificate], path: str | None) -> None:
        """Write the revocation status into *desc*; ``revoked`` makes it due with the most severe status."""
        if desc.get("is_ca") or desc.get("status") == "expired":
            desc["revocation"] = None  # CA certificates and expired leaves are not asked about
            return
        answer = self.status(leaf, chain, path)
        desc["revocation"] = answer
        if answer["error"]:
            desc["revocation_error"] = answer["error"]
        if answer["status"] == "revoked":
            desc["status"] = "revoked"
            desc["due"] = True
            if "revoked" not in desc["reasons"]:
                desc["reasons"].append("revoked")
