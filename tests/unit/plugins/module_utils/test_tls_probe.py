# SPDX-License-Identifier: GPL-3.0-or-later
"""Handshakes against in-process TLS servers: results, error classes, retries, concurrency, SCTs."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import socket
import time
import typing as t

import pytest
from certgen import Issued, TestCA, now
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ct_lab import cert_with_sct, log_list
from services import TLSServer, free_port

from ansible_collections.ghostguard.certs.plugins.module_utils import _tls_probe, _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import InputError


class Lab:
    def __init__(self, root: pathlib.Path) -> None:
        self.dir = root
        self.ca = TestCA("probe unit root")
        self.root_file = str(root / "root.pem")
        (root / "root.pem").write_bytes(self.ca.root_pem)

    def write(self, issued: Issued, stem: str) -> tuple[str, str]:
        cert = issued.write(str(self.dir), stem)
        return cert, str(self.dir / (stem + ".key"))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return Lab(tmp_path_factory.mktemp("probe"))


@pytest.fixture(scope="module")
def good(lab: Lab) -> t.Iterator[tuple[TLSServer, Issued]]:
    issued = lab.ca.issue(["svc.test", "127.0.0.1"])
    with TLSServer(*lab.write(issued, "good"), alpn=["h2", "http/1.1"]) as srv:
        yield srv, issued


def ep(port: int, lab: Lab, **kw: t.Any) -> _tls_probe.Endpoint:
    kw.setdefault("server_name", "svc.test")
    kw.setdefault("timeout", 3)
    return _tls_probe.Endpoint("127.0.0.1", port, ca_bundle=lab.root_file, **kw)


def test_verified_handshake_reports_everything(lab: Lab, good: tuple[TLSServer, Issued]) -> None:
    srv, issued = good
    res = _tls_probe.probe(ep(srv.port, lab, alpn=["h2"]))
    assert res["ok"] and res["error"] is None and res["verified"] is True
    assert res["certificate"]["fingerprint_sha256"] == _x509.fingerprint(issued.cert)
    assert res["certificate"]["path"] is None and res["certificate"]["status"] == "ok"
    assert [c["subject"] for c in res["chain"]] == ["CN=probe unit root intermediate"]
    assert res["tls_version"] == "TLSv1.3" and res["cipher"]
    assert res["alpn_protocol"] == "h2"
    assert 0 < res["handshake_ms"] < 2000 and res["connect_ms"] >= 0
    assert res["scts"] == [] and res["attempts"] == 1


def test_ip_address_host_without_server_name(lab: Lab, good: tuple[TLSServer, Issued]) -> None:
    srv, _issued = good
    res = _tls_probe.probe(ep(srv.port, lab, server_name=None))
    assert res["ok"], res["error_message"]
    assert res["server_name"] == "127.0.0.1"


@pytest.mark.parametrize("written", ["upper-no-colons", "colons"])
def test_expected_fingerprint_any_case(lab: Lab, good: tuple[TLSServer, Issued], written: str) -> None:
    srv, issued = good
    fp = _x509.fingerprint(issued.cert)
    given = fp.replace(":", "").upper() if written == "upper-no-colons" else fp
    res = _tls_probe.probe(ep(srv.port, lab, expected_fingerprint=given))
    assert res["matches_expected"] is True and res["expected_fingerprint"] == fp


def test_mismatch_retries_then_reports(lab: Lab, good: tuple[TLSServer, Issued]) -> None:
    srv, _issued = good
    sleeps: list[float] = []
    res = _tls_probe.probe(ep(srv.port, lab, expected_fingerprint="ab" * 32, retries=3, retry_delay=0.25),
                           sleep=sleeps.append)
    assert res["matches_expected"] is False and res["ok"] is False
    assert res["attempts"] == 4 and sleeps == [0.25] * 3
    assert "still serves another certificate" in res["error_message"]


def test_retry_waits_for_reload(lab: Lab) -> None:
    old, new = lab.ca.issue(["svc.test"]), lab.ca.issue(["svc.test"])
    cert, key = lab.write(old, "reload")
    with TLSServer(cert, key) as srv:
        lab.write(new, "reload")
        calls: list[float] = []

        def sleep(delay: float) -> None:
            calls.append(delay)
            if len(calls) == 2:
                srv.reload()

        res = _tls_probe.probe(ep(srv.port, lab, expected_fingerprint=_x509.fingerprint(new.cert), retries=5),
                               sleep=sleep)
    assert res["matches_expected"] is True and res["attempts"] == 3


def test_hostname_mismatch(lab: Lab, good: tuple[TLSServer, Issued]) -> None:
    srv, issued = good
    res = _tls_probe.probe(ep(srv.port, lab, server_name="other.test"))
    assert res["error"] == "hostname_mismatch" and res["verified"] is False and not res["ok"]
    assert res["certificate"]["fingerprint_sha256"] == _x509.fingerprint(issued.cert)
    assert "other.test" in res["error_message"]


def test_unknown_ca(lab: Lab, good: tuple[TLSServer, Issued], tmp_path: pathlib.Path) -> None:
    srv, _issued = good
    other = tmp_path / "other.pem"
    other.write_bytes(TestCA("someone else").root_pem)
    res = _tls_probe.probe(_tls_probe.Endpoint("127.0.0.1", srv.port, server_name="svc.test", ca_bundle=str(other)))
    assert res["error"] == "unknown_ca" and res["certificate"] is not None


def test_validation_off(lab: Lab, good: tuple[TLSServer, Issued]) -> None:
    srv, _issued = good
    res = _tls_probe.probe(_tls_probe.Endpoint("127.0.0.1", srv.port, server_name="nope.test", validate_certs=False))
    assert res["ok"] and res["verified"] is None and res["error"] is None


def test_expired(lab: Lab) -> None:
    old = lab.ca.issue(["svc.test"], days=1, not_before=now() - dt.timedelta(days=2))
    with TLSServer(*lab.write(old, "expired")) as srv:
        res = _tls_probe.probe(ep(srv.port, lab))
    assert res["error"] == "expired"
    assert res["certificate"]["status"] == "expired"


def test_refused() -> None:
    res = _tls_probe.probe(_tls_probe.Endpoint("127.0.0.1", free_port(), timeout=2, retries=1, retry_delay=0))
    assert res["error"] == "refused" and res["attempts"] == 2 and res["certificate"] is None


def test_timeout_when_handshake_never_answers() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)  # accepts TCP in the backlog, never speaks TLS
        start = time.monotonic()
        res = _tls_probe.probe(_tls_probe.Endpoint("127.0.0.1", listener.getsockname()[1], timeout=0.5))
    assert res["error"] == "timeout" and time.monotonic() - start < 3


def test_handshake_failure_on_plain_text() -> None:
    import threading

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)

        def answer() -> None:
            conn, _a = listener.accept()
            conn.recv(1024)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            conn.close()

        threading.Thread(target=answer, daemon=True).start()
        res = _tls_probe.probe(_tls_probe.Endpoint("127.0.0.1", listener.getsockname()[1], timeout=3))
    assert res["error"] == "handshake_failure"


def client_issued(ca: TestCA) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "probe client")]))
        .issuer_name(ca.signer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now() - dt.timedelta(minutes=1))
        .not_valid_after(now() + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.signer_key, hashes.SHA256())
    )
    return Issued(cert, key, list(ca.chain))


def test_client_certificate(lab: Lab, tmp_path: pathlib.Path) -> None:
    server = lab.ca.issue(["svc.test"])
    client_cert, client_key = lab.write(client_issued(lab.ca), "client")
    wrong_cert, wrong_key = lab.write(lab.ca.issue(["server-only.test"]), "server-only")  # no clientAuth EKU
    with TLSServer(*lab.write(server, "mtls"), client_ca=lab.root_file) as srv:
        res = _tls_probe.probe(ep(srv.port, lab, client_cert=client_cert, client_key=client_key))
        assert res["ok"], res["error_message"]
        assert srv.handshakes >= 1
        refused = _tls_probe.probe(ep(srv.port, lab, client_cert=wrong_cert, client_key=wrong_key))
        assert refused["error"] == "handshake_failure", refused
        assert "client certificate" in refused["error_message"]
    with pytest.raises(InputError, match="client_cert"):
        _tls_probe.probe(ep(1, lab, client_cert=str(tmp_path / "missing.pem")))


def test_probe_many_runs_concurrently(lab: Lab) -> None:
    servers = []
    issued = lab.ca.issue(["svc.test"])
    files = lab.write(issued, "many")
    try:
        for _unused in range(10):
            servers.append(TLSServer(*files, handshake_delay=0.3).start())
        endpoints = [ep(s.port, lab, name="s%d" % i) for i, s in enumerate(servers)]
        start = time.monotonic()
        results = _tls_probe.probe_many(endpoints, workers=10)
        elapsed = time.monotonic() - start
    finally:
        for srv in servers:
            srv.stop()
    assert [r["name"] for r in results] == ["s%d" % i for i in range(10)]
    assert all(r["ok"] for r in results)
    assert elapsed < 1.5  # 10 x 0.3 s one after the other would take 3 s
    assert _tls_probe.summarize(results) == {"total": 10, "ok": 10, "mismatched": 0, "errors": {}}


def test_endpoint_options_merge_and_check() -> None:
    e = _tls_probe.endpoint_from_options({"host": "a", "port": None}, {"port": 8443, "timeout": 2, "alpn": ["h2"]})
    assert (e.host, e.port, e.timeout, list(e.alpn), e.retry_delay) == ("a", 8443, 2.0, ["h2"], 1.0)
    with pytest.raises(InputError, match="unknown endpoint option"):
        _tls_probe.endpoint_from_options({"host": "a", "bogus": 1})
    with pytest.raises(InputError, match="not a SHA-256"):
        _tls_probe.probe_many([_tls_probe.Endpoint("a", expected_fingerprint="xyz")])
    with pytest.raises(InputError, match="TCP port"):
        _tls_probe.Endpoint("a", port=0).check()


# ---------------------------------------------------------------- SCTs

def test_sct_parsed_and_verified(tmp_path: pathlib.Path) -> None:
    ca = TestCA("ct root")
    log_key = ec.generate_private_key(ec.SECP256R1())
    leaf = cert_with_sct(ca, log_key)
    plain = _tls_probe.describe_scts(leaf, ca.signer)
    assert len(plain) == 1
    assert plain[0]["entry_type"] == "pre_certificate" and plain[0]["signature_valid"] is None
    assert plain[0]["hash_algorithm"] == "sha256"
    logs = _tls_probe.load_log_list(log_list(tmp_path / "logs.json", log_key))
    checked = _tls_probe.describe_scts(leaf, ca.signer, logs)
    assert checked[0]["signature_valid"] is True
    assert checked[0]["log_description"] == "ghostguard test log"
    wrong_issuer = TestCA("not the issuer").signer
    assert _tls_probe.describe_scts(leaf, wrong_issuer, logs)[0]["signature_valid"] is False


def test_sct_from_a_served_certificate(tmp_path: pathlib.Path) -> None:
    ca = TestCA("ct served root")
    log_key = ec.generate_private_key(ec.SECP256R1())
    leaf, key = cert_with_sct(ca, log_key, with_key=True)
    (tmp_path / "root.pem").write_bytes(ca.root_pem)
    cert_file, _key_file = Issued(leaf, key, list(ca.chain)).write(str(tmp_path), "ct"), str(tmp_path / "ct.key")
    logs = _tls_probe.load_log_list(log_list(tmp_path / "logs.json", log_key))
    with TLSServer(cert_file, _key_file) as srv:
        res = _tls_probe.probe(_tls_probe.Endpoint("127.0.0.1", srv.port, server_name="ct.test",
                                                   ca_bundle=str(tmp_path / "root.pem")), logs=logs)
    assert res["ok"], res["error_message"]
    assert len(res["scts"]) == 1 and res["scts"][0]["signature_valid"] is True


def test_log_list_errors(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(InputError, match="cannot be read as JSON"):
        _tls_probe.load_log_list(str(bad))
    bad.write_text(json.dumps({"logs": [{"key": "!!"}]}))
    with pytest.raises(InputError, match="no usable log"):
        _tls_probe.load_log_list(str(bad))


# ---------------------------------------------------------------- OCSP


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
        key = ec.generate_private_key(ec.SECP256R1())
        aia = x509.AuthorityInformationAccess([x509.AccessDescription(
            x509.oid.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(self.url))])
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ocsp.test")]))
            .issuer_name(ca.signer.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now() - dt.timedelta(minutes=1))
            .not_valid_after(now() + dt.timedelta(days=1))
            .add_extension(aia, critical=False)
            .sign(ca.signer_key, hashes.SHA256())
        )
        self.issued[cert.serial_number] = cert
        return cert


def test_ocsp_good_revoked_and_absent() -> None:
    ca = TestCA("ocsp root")
    revoked: set[int] = set()
    responder = OCSPResponder(ca, revoked)
    try:
        good, bad = responder.leaf(ca), responder.leaf(ca)
        revoked.add(bad.serial_number)
        status = _tls_probe.ocsp_status(good, ca.signer)
        assert status is not None
        assert status["status"] == "good" and status["signature_valid"] is True and status["error"] is None
        assert status["url"] == responder.url and status["next_update"]
        gone = _tls_probe.ocsp_status(bad, ca.signer)
        assert gone is not None and gone["status"] == "revoked" and gone["revocation_time"]
        forged = _tls_probe.ocsp_status(good, TestCA("ocsp impostor").signer)
        assert forged is not None and forged["signature_valid"] is not True
    finally:
        responder.server.shutdown()
    assert _tls_probe.ocsp_status(ca.issue(["no-ocsp.test"]).cert, ca.signer) is None
