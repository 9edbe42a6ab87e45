# SPDX-License-Identifier: GPL-3.0-or-later
"""OCSP against a small responder of the test's own (plugins/module_utils/_tls/ocsp.py)."""

from __future__ import annotations

import datetime as dt
import typing as t

from certgen import TestCA, now
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from services import free_port

from ansible_collections.ghostguard.certs.plugins.module_utils._tls import ocsp as _ocsp


class OCSPResponder:
    """A tiny OCSP responder over HTTP, signing with the CA's issuing key."""

    def __init__(self, ca: TestCA, revoked: set[int]) -> None:
        import http.server
        import threading

        from cryptography.x509 import ocsp

        responder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                req = ocsp.load_der_ocsp_request(body)
                leaf = responder.issued[req.serial_number]
                status = ocsp.OCSPCertStatus.REVOKED if req.serial_number in revoked else ocsp.OCSPCertStatus.GOOD
                builder = ocsp.OCSPResponseBuilder().add_response(
                    cert=leaf, issuer=ca.signer, algorithm=hashes.SHA1(), cert_status=status,
                    this_update=now() - dt.timedelta(hours=1), next_update=now() + dt.timedelta(days=1),
                    revocation_time=now() - dt.timedelta(minutes=5) if status == ocsp.OCSPCertStatus.REVOKED else None,
                    revocation_reason=None,
                ).responder_id(ocsp.OCSPResponderEncoding.HASH, ca.signer)
                der = builder.sign(ca.signer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
                self.send_response(200)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(der)))
                self.end_headers()
                self.wfile.write(der)

            def log_message(self, *args: t.Any) -> None:
                pass

        self.issued: dict[int, x509.Certificate] = {}
        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def leaf(self, ca: TestCA) -> x509.Certificate:
        aia = x509.AuthorityInformationAccess([x509.AccessDescription(
            x509.oid.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(self.url))])
        cert = ca.issue(["ocsp.test"], days=1, extensions=[aia]).cert
        self.issued[cert.serial_number] = cert
        return cert


def test_ocsp_good_revoked_and_absent() -> None:
    ca = TestCA("ocsp root")
    revoked: set[int] = set()
    responder = OCSPResponder(ca, revoked)
    try:
        good, bad = responder.leaf(ca), responder.leaf(ca)
        revoked.add(bad.serial_number)
        status = _ocsp.ocsp_status(good, ca.signer)
        assert status is not None
        assert status["status"] == "good" and status["signature_valid"] is True and status["error"] is None
        assert status["url"] == responder.url and status["next_update"]
        gone = _ocsp.ocsp_status(bad, ca.signer)
        assert gone is not None and gone["status"] == "revoked" and gone["revocation_time"]
        forged = _ocsp.ocsp_status(good, TestCA("ocsp impostor").signer)
        assert forged is not None and forged["signature_valid"] is not True
    finally:
        responder.server.shutdown()
    assert _ocsp.ocsp_status(ca.issue(["no-ocsp.test"]).cert, ca.signer) is None


def test_no_issuer_served_no_request() -> None:
    ca = TestCA("ocsp lonely root")
    responder = OCSPResponder(ca, set())
    try:
        status = _ocsp.ocsp_status(responder.leaf(ca), None)
    finally:
        responder.server.shutdown()
    assert status is not None and status["status"] is None and "issuer certificate was not served" in status["error"]


def test_responder_down_or_wrong_url_is_reported_not_raised() -> None:
    ca = TestCA("ocsp down root")
    responder = OCSPResponder(ca, set())
    responder.server.shutdown()
    responder.server.server_close()
    responder.url = "http://127.0.0.1:%d/" % free_port()
    down = _ocsp.ocsp_status(responder.leaf(ca), ca.signer, timeout=2)
    assert down is not None and down["status"] is None
    assert down["error"].startswith("OCSP responder %s did not answer usefully" % responder.url)
    responder.url = "ldap://127.0.0.1/"
    odd = _ocsp.ocsp_status(responder.leaf(ca), ca.signer)
    assert odd is not None and "unsupported OCSP URL" in odd["error"]


def test_ocsp_urls() -> None:
    ca = TestCA("ocsp url root")
    responder = OCSPResponder(ca, set())
    responder.server.shutdown()
    assert _ocsp.ocsp_urls(responder.leaf(ca)) == [responder.url]
    assert _ocsp.ocsp_urls(ca.issue(["none.test"]).cert) == []
