# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""CRL: is a certificate on the revocation list its CRL distribution point publishes?

Where a certificate names no OCSP responder (Let's Encrypt since 2025), revocation is published only
in CRLs.  :class:`CrlFetcher` downloads a CRL over HTTP with a timeout, checks its signature against
the issuer, and keeps it until its ``nextUpdate``: in memory for one scan, and in a cache directory
when one is given (files ``crl-<sha256 of the URL>.der``, mode 0644: CRLs are public; written to a
temporary name and renamed, so concurrent scans read the old list or the new one, never half of one).

A CRL that cannot be fetched, parsed or verified is an ``error``, never a revocation.

Plain Python on ``cryptography`` and ``http.client``, no Ansible import.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import http.client
import os
import typing as t
import urllib.parse

from .. import _durable
from .._errors import CertsError
from .._time import iso, utc_field, utcnow

try:
    from cryptography import x509
except ImportError:  # pragma: no cover - reported by _deps.require("cryptography")
    pass

if t.TYPE_CHECKING:  # pragma: no cover
    from cryptography.x509 import Certificate, CertificateRevocationList

MAX_CRL_BYTES = 32 << 20  # a CRL shard of a large CA is a few MiB
MAX_REDIRECTS = 3


def crl_urls(leaf: Certificate) -> list[str]:
    """The HTTP(S) URLs of the certificate's CRL distribution points (LDAP and others are left out)."""
    try:
        points = leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    urls = []
    for point in points:
        for name in point.full_name or []:
            if isinstance(name, x509.UniformResourceIdentifier) and name.value.lower().startswith(("http://", "https://")):
                urls.append(name.value)
    return urls


def http_get(url: str, timeout: float) -> bytes:
    """GET *url* (plain http.client, following a few redirects); ValueError names an unusable answer."""
    for _attempt in range(MAX_REDIRECTS + 1):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("unsupported CRL URL %s" % url)
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(parts.hostname, parts.port, timeout=timeout)
        try:
            conn.request("GET", (parts.path or "/") + ("?" + parts.query if parts.query else ""),
                         headers={"Accept": "application/pkix-crl"})
            answer = conn.getresponse()
            if answer.status in (301, 302, 303, 307, 308) and answer.getheader("Location"):
                url = urllib.parse.urljoin(url, answer.getheader("Location") or "")
                continue
            if answer.status != 200:
                raise ValueError("HTTP %d" % answer.status)
            data = answer.read(MAX_CRL_BYTES + 1)
            if len(data) > MAX_CRL_BYTES:
                raise ValueError("larger than %d MiB" % (MAX_CRL_BYTES >> 20))
            return data
        finally:
            conn.close()
    raise ValueError("more than %d redirects" % MAX_REDIRECTS)


def parse_crl(data: bytes) -> CertificateRevocationList:
    """A CRL from DER (the RFC 5280 format of distribution points) or PEM; ValueError when it is neither."""
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


def crl_problem(crl: CertificateRevocationList, issuer: Certificate, now: _dt.datetime) -> str | None:
    """Why *crl* cannot be trusted for certificates of *issuer* now, or None."""
    if crl.issuer != issuer.subject:
        return "it is issued by %s, not by the certificate's issuer %s" % (crl.issuer.rfc4514_string(),
                                                                           issuer.subject.rfc4514_string())
    try:
        valid = crl.is_signature_valid(t.cast(t.Any, issuer.public_key()))
    except (TypeError, ValueError):
        valid = False
    if not valid:
        return "its signature does not verify with the issuer's key (%s)" % issuer.subject.rfc4514_string()
    this_update = utc_field(crl, "last_update")
    if this_update is not None and this_update > now + _dt.timedelta(minutes=5):
        return "its thisUpdate %s is in the future (check the host's clock)" % iso(this_update)
    return None


def cache_path(cache_dir: str, url: str) -> str:
    return os.path.join(cache_dir, "crl-%s.der" % hashlib.sha256(url.encode()).hexdigest()[:32])


class CrlFetcher:
    """Fetch, verify and cache CRLs for one scan (and, with *cache_dir*, across scans until nextUpdate)."""

    def __init__(self, cache_dir: str | None = None, timeout: float = 5.0,
                 clock: t.Callable[[], _dt.datetime] = utcnow,
                 get: t.Callable[[str, float], bytes] = http_get) -> None:
        self.cache_dir = cache_dir
        self.timeout = timeout
        self.clock = clock
        self.get = get
        self.fetches = 0  # downloads made (tests and the agent's log show the cache at work)
        self._memory: dict[str, tuple[t.Any, str | None, bool]] = {}

    def _cached(self, url: str, issuer: Certificate, now: _dt.datetime) -> t.Any:
        if not self.cache_dir:
            return None
        try:
            data = _durable.read_file(cache_path(self.cache_dir, url), MAX_CRL_BYTES)
        except CertsError:
            return None  # an unreadable cache: fetch again
        if not data:
            return None
        try:
            crl = parse_crl(data)
        except ValueError:
            return None
        next_update = utc_field(crl, "next_update")
        if next_update is None or next_update <= now or crl_problem(crl, issuer, now):
            return None
        return crl

    def _store(self, url: str, data: bytes) -> None:
        if not self.cache_dir:
            return
        try:
            os.makedirs(self.cache_dir, mode=0o755, exist_ok=True)
            _durable.write_atomic(cache_path(self.cache_dir, url), data, 0o644, durable=False)
        except (OSError, CertsError):
            pass  # a cache that cannot be written only makes the next scan fetch again

    def crl(self, url: str, issuer: Certificate) -> tuple[t.Any, str | None, bool]:
        """(CRL or None, error or None, whether it came from the cache directory) for *url*, checked against *issuer*."""
        key = url + "\0" + issuer.subject.rfc4514_string()
        if key in self._memory:
            return self._memory[key]
        now = self.clock()
        crl = self._cached(url, issuer, now)
        if crl is not None:
            self._memory[key] = (crl, None, True)
            return self._memory[key]
        self.fetches += 1
        result: tuple[t.Any, str | None, bool]
        try:
            data = self.get(url, self.timeout)
            crl = parse_crl(data)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            result = (None, "CRL %s could not be fetched (%s); revocation is unknown, not assumed"
                      % (url, exc or type(exc).__name__), False)
        else:
            problem = crl_problem(crl, issuer, now)
            if problem:
                result = (None, "CRL %s is not trusted: %s" % (url, problem), False)
            else:
                next_update = utc_field(crl, "next_update")
                if next_update is not None and next_update > now:
                    self._store(url, data)
                result = (crl, None, False)
        self._memory[key] = result
        return result

    def status(self, leaf: Certificate, issuer: Certificate | None) -> dict[str, t.Any] | None:
        """The revocation status of *leaf* by its CRL; None when it names no HTTP distribution point."""
        urls = crl_urls(leaf)
        if not urls:
            return None
        out: dict[str, t.Any] = {"method": "crl", "url": urls[0], "status": None, "revocation_time": None,
                                 "this_update": None, "next_update": None, "cached": False, "error": None}
        if issuer is None:
            out["error"] = ("the issuer certificate is not in the file, a chain file beside it, nor ca_bundle, so the "
                            "CRL signature cannot be checked; keep the chain beside the certificate or set ca_bundle")
            return out
        errors = []
        for url in urls:
            crl, error, cached = self.crl(url, issuer)
            if crl is None:
                errors.append(error)
                continue
            out.update(url=url, cached=cached, error=None)
            for key, field in (("this_update", "last_update"), ("next_update", "next_update")):
                moment = utc_field(crl, field)
                out[key] = iso(moment) if moment is not None else None
            entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
            if entry is None:
                out["status"] = "good"
            else:
                out["status"] = "revoked"
                out["revocation_time"] = iso(utc_field(entry, "revocation_date") or self.clock())
            return out
        out["error"] = "; ".join(str(e) for e in errors)
        return out
