# SPDX-License-Identifier: GPL-3.0-or-later
"""One TLS handshake and its error classes; endpoint options (plugins/module_utils/_handshake.py)."""

from __future__ import annotations

import socket
import threading
import time
import typing as t

import pytest
from cryptography.hazmat.primitives import serialization
from probe_lab import ProbeLab, client_issued
from services import TLSServer, free_port

from ansible_collections.ghostguard.certs.plugins.module_utils import _handshake, _tls_probe
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import InputError


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> ProbeLab:
    return ProbeLab(tmp_path_factory.mktemp("handshake"))


def ep(port: int, lab: ProbeLab, **kw: t.Any) -> _handshake.Endpoint:
    kw.setdefault("server_name", "svc.test")
    kw.setdefault("timeout", 3)
    return _handshake.Endpoint("127.0.0.1", port, ca_bundle=lab.root_file, **kw)


def failure(ep: _handshake.Endpoint, verify: bool = True) -> _handshake.HandshakeFailure:
    with pytest.raises(_handshake.HandshakeFailure) as err:
        _handshake.handshake(ep, verify)
    assert err.value.error in _handshake.ERROR_CLASSES
    return err.value


def test_handshake_reports_chain_and_parameters(lab: ProbeLab) -> None:
    issued = lab.ca.issue(["svc.test"])
    with TLSServer(*lab.write(issued, "hs"), alpn=["h2"]) as srv:
        shake = _handshake.handshake(ep(srv.port, lab, alpn=["h2", "http/1.1"]), True)
    assert isinstance(shake, _handshake.Handshake)
    assert shake.chain_der[0] == issued.cert.public_bytes(serialization.Encoding.DER)
    assert len(shake.chain_der) == 2  # leaf + intermediate, as served
    assert shake.tls_version == "TLSv1.3" and shake.cipher and shake.alpn_protocol == "h2"
    assert shake.connect_ms >= 0 and shake.handshake_ms > 0


def test_verification_classes(lab: ProbeLab, tmp_path: t.Any) -> None:
    issued = lab.ca.issue(["svc.test"])
    with TLSServer(*lab.write(issued, "classes")) as srv:
        assert failure(ep(srv.port, lab, server_name="other.test")).error == "hostname_mismatch"
        other = tmp_path / "other.pem"
        other.write_bytes(ProbeLab(tmp_path).ca.root_pem)
        unknown = failure(_handshake.Endpoint("127.0.0.1", srv.port, server_name="svc.test", ca_bundle=str(other)))
        assert unknown.error == "unknown_ca" and "certificate verification failed" in unknown.message
        # without verification the same server hands over its chain
        assert _handshake.handshake(ep(srv.port, lab, server_name="other.test"), False).chain_der


def test_refused_names_the_endpoint() -> None:
    port = free_port()
    err = failure(_handshake.Endpoint("127.0.0.1", port, timeout=2, name="api"))
    assert err.error == "refused" and err.message.startswith("api refused the connection")


def test_timeout_when_handshake_never_answers() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)  # accepts TCP in the backlog, never speaks TLS
        start = time.monotonic()
        err = failure(_handshake.Endpoint("127.0.0.1", listener.getsockname()[1], timeout=0.5))
    assert err.error == "timeout" and "did not finish the TLS handshake" in err.message
    assert time.monotonic() - start < 3


def test_handshake_failure_on_plain_text() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)

        def answer() -> None:
            conn, _a = listener.accept()
            conn.recv(1024)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            conn.close()

        threading.Thread(target=answer, daemon=True).start()
        err = failure(_handshake.Endpoint("127.0.0.1", listener.getsockname()[1], timeout=3))
    assert err.error == "handshake_failure" and "TLS handshake failed" in err.message


def test_client_certificate(lab: ProbeLab, tmp_path: t.Any) -> None:
    server = lab.ca.issue(["svc.test"])
    client_cert, client_key = lab.write(client_issued(lab.ca), "client")
    wrong_cert, wrong_key = lab.write(lab.ca.issue(["server-only.test"]), "server-only")  # no clientAuth EKU
    with TLSServer(*lab.write(server, "mtls"), client_ca=lab.root_file) as srv:
        assert _handshake.handshake(ep(srv.port, lab, client_cert=client_cert, client_key=client_key), True).chain_der
        assert srv.handshakes >= 1
        refused = failure(ep(srv.port, lab, client_cert=wrong_cert, client_key=wrong_key))
        assert refused.error == "handshake_failure", refused
        assert "client certificate" in refused.message
        # the probe reports the same refusal as an error class, not an exception
        res = _tls_probe.probe(ep(srv.port, lab, client_cert=wrong_cert, client_key=wrong_key))
        assert res["error"] == "handshake_failure" and "client certificate" in res["error_message"]
    with pytest.raises(InputError, match="client_cert"):
        _tls_probe.probe(ep(1, lab, client_cert=str(tmp_path / "missing.pem")))


def test_endpoint_options_merge_and_check() -> None:
    e = _handshake.Endpoint.from_options({"host": "a", "port": None}, {"port": 8443, "timeout": 2, "alpn": ["h2"]})
    assert (e.host, e.port, e.timeout, list(e.alpn), e.retry_delay) == ("a", 8443, 2.0, ["h2"], 1.0)
    with pytest.raises(InputError, match="unknown endpoint option"):
        _handshake.Endpoint.from_options({"host": "a", "bogus": 1})
    with pytest.raises(InputError, match="not a SHA-256"):
        _tls_probe.probe_many([_handshake.Endpoint("a", expected_fingerprint="xyz")])
    with pytest.raises(InputError, match="TCP port"):
        _handshake.Endpoint("a", port=0).check()


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"host": ""}, "no host"),
        ({"host": "a", "retries": -1}, "must not be negative"),
        ({"host": "a", "timeout": 0}, "timeout must be positive"),
        ({"host": "a", "client_key": "/k.pem"}, "client_key needs client_cert"),
    ],
)
def test_endpoint_check_rejects(kw: dict[str, t.Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        _handshake.Endpoint(**kw).check()


def test_endpoint_from_options_bad_values() -> None:
    with pytest.raises(InputError, match="endpoint a: "):
        _handshake.Endpoint.from_options({"host": "a", "port": "https"})
    with pytest.raises(InputError, match="every endpoint needs a host"):
        _handshake.Endpoint.from_options({"port": 443})
    e = _handshake.Endpoint.from_options({"host": "a", "expected_fingerprint": "AB" * 32})
    e.check()
    assert e.expected_fingerprint == ":".join(["ab"] * 32)
