# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A CA of our own that publishes a CRL on a loopback HTTP server (tests of revocation checking).

    with CrlLab() as lab:
        good = lab.issue("good.example.test")          # leaf whose CRL DP is lab.url("/ca.crl")
        bad = lab.issue("bad.example.test"); lab.revoke(bad)
        lab.publish()                                  # sign and serve the CRL (next_update in 1 day)
        lab.hits["/ca.crl"]                            # how often it was downloaded
"""

from __future__ import annotations

import datetime as dt
import http.server
import threading
import typing as t

from certgen import Issued, TestCA, new_key, now
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization


class _Handler(http.server.BaseHTTPRequestHandler):
    lab: CrlLab

    def do_GET(self) -> None:
        lab = self.server.lab  # type: ignore[attr-defined]
        lab.hits[self.path] = lab.hits.get(self.path, 0) + 1
        body = lab.files.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/pkix-crl")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: t.Any) -> None:
        pass


class CrlLab:
    """A two-level test CA, a loopback HTTP server for its CRLs, and the revoked serials."""

    def __init__(self) -> None:
        self.ca = TestCA("crl lab root")
        self.files: dict[str, bytes] = {}
        self.hits: dict[str, int] = {}
        self.revoked: list[tuple[int, dt.datetime]] = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.lab = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CrlLab:
        self.thread.start()
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str = "/ca.crl") -> str:
        return "http://127.0.0.1:%d%s" % (self.server.server_address[1], path)

    def issue(self, name: str, crl_url: str | None = None, days: float = 90) -> Issued:
        point = x509.DistributionPoint(full_name=[x509.UniformResourceIdentifier(crl_url or self.url())],
                                       relative_name=None, reasons=None, crl_issuer=None)
        return self.ca.issue([name], days=days, extensions=[x509.CRLDistributionPoints([point])])

    def revoke(self, issued: Issued) -> None:
        self.revoked.append((issued.cert.serial_number, now() - dt.timedelta(hours=1)))

    def crl(self, next_update: dt.timedelta = dt.timedelta(days=1), key: t.Any = None) -> bytes:
        """The DER CRL of the signing CA; signed by *key* instead of the CA's key to make a bad signature."""
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.ca.signer.subject)
                   .last_update(now() - dt.timedelta(minutes=5)).next_update(now() + next_update))
        for serial, when in self.revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
        return builder.sign(key or self.ca.signer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def publish(self, path: str = "/ca.crl", next_update: dt.timedelta = dt.timedelta(days=1),
                bad_signature: bool = False) -> bytes:
        self.files[path] = self.crl(next_update, new_key() if bad_signature else None)
        return self.files[path]
