# SPDX-License-Identifier: GPL-3.0-or-later
"""One TLS handshake and its error classes; endpoint options (plugins/module_utils/_tls/handshake.py)."""

from __future__ import annotations

import socket
import threading
import time
import typing as t

import pytest
from cryptography.hazmat.primitives import serialization
from probe_lab import ProbeLab, client_issued
from services import TLSServer, free_port

from ansible_collections.ghostguard.certs.plugins.module_utils._errors import InputError
from ansible_collections.ghostguard.certs.plugins.module_utils._tls import handshake as _handshake
from ansible_collections.ghostguard.certs.plugins.module_utils._tls import probe as _probe


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
        assert "give ca_bundle" in unknown.message and unknown.certificate_refused
        # without verification the same server hands over its chain
        assert _handshake.handshake(ep(srv.port, lab, server_name="other.test"), False).chain_der


def test_an_idn_server_name_is_sent_as_its_idna_2008_a_label(lab: ProbeLab) -> None:
    # faß: IDNA 2008 keeps the ß (xn--fa-hia); Python's ssl would send IDNA 2003's "fass" for a str name
    issued = lab.ca.issue(["xn--fa-hia.example.test"])
    with TLSServer(*lab.write(issued, "idn")) as srv:
        endpoint = ep(srv.port, lab, server_name="Faß.example.test")
        assert endpoint.sni == "xn--fa-hia.example.test"
        assert _handshake.handshake(endpoint, True).chain_der[0] == issued.cert.public_bytes(serialization.Encoding.DER)
        assert failure(ep(srv.port, lab, server_name="fass.example.test")).error == "hostname_mismatch"


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
            for _attempt in range(2):
                conn, _a = listener.accept()
                conn.recv(1024)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                conn.close()

        threading.Thread(target=answer, daemon=True).start()
        err = failure(_handshake.Endpoint("127.0.0.1", listener.getsockname()[1], timeout=3))
        res = _probe.probe(_handshake.Endpoint("127.0.0.1", listener.getsockname()[1], timeout=3))
    assert err.error == "handshake_failure" and "not a TLS endpoint" in err.message
    assert not err.certificate_refused
    # the probe: no certificate was checked, so verified is null (not false)
    assert res["error"] == "handshake_failure" and "not a TLS endpoint" in res["error_message"]
    assert res["verified"] is None and res["certificate"] is None


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
        res = _probe.probe(ep(srv.port, lab, client_cert=wrong_cert, client_key=wrong_key))
        assert res["error"] == "handshake_failure" and "client certificate" in res["error_message"]
    # a missing client certificate is this endpoint's input error, reported on it (no exception, no retry)
    missing = _probe.probe(ep(1, lab, client_cert=str(tmp_path / "missing.pem"), retries=3, retry_delay=30))
    assert missing["error"] == "invalid_input" and missing["attempts"] == 1 and missing["verified"] is None
    assert "client_cert %s does not exist" % (tmp_path / "missing.pem") in missing["error_message"]


def test_endpoint_options_merge_and_check() -> None:
    e = _handshake.Endpoint.from_options({"host": "a", "port": None}, {"port": 8443, "timeout": 2, "alpn": ["h2"]})
    assert (e.host, e.port, e.timeout, list(e.alpn), e.retry_delay) == ("a", 8443, 2.0, ["h2"], 1.0)
    with pytest.raises(InputError, match="unknown endpoint option"):
        _handshake.Endpoint.from_options({"host": "a", "bogus": 1})
    with pytest.raises(InputError, match="not a SHA-256"):
        _probe.probe_many([_handshake.Endpoint("a", expected_fingerprint="xyz")])
    with pytest.raises(InputError, match="TCP port"):
        _handshake.Endpoint("a", port=0).check()


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"host": ""}, "no host"),
        ({"host": "a", "retries": -1}, "must not be negative"),
        ({"host": "a", "timeout": 0}, "timeout: 0 is outside the accepted range"),
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
    with pytest.raises(InputError, match=r"^endpoints\[3\] has no host"):
        _handshake.Endpoint.from_options({"port": 443}, {}, 3)
    with pytest.raises(InputError, match=r"^endpoints\[1\] \(host b\): .*port"):
        _handshake.Endpoint.from_options({"host": "b", "port": "https"}, {}, 1)
    with pytest.raises(InputError, match=r"^endpoints\[2\] \(b:443\): expected_fingerprint 'xyz' is not a SHA-256"):
        _handshake.Endpoint.from_options({"host": "b", "expected_fingerprint": "xyz"}, {}, 2)
    with pytest.raises(InputError, match=r"^endpoints\[0\] \(b:70000\): port 70000 is not a TCP port"):
        _handshake.Endpoint.from_options({"host": "b", "port": 70000}, {}, 0)
    e = _handshake.Endpoint.from_options({"host": "a", "expected_fingerprint": "AB" * 32})
    e.check()
    assert e.expected_fingerprint == ":".join(["ab"] * 32)


@pytest.mark.parametrize(("host", "port", "label"), [
    ("::1", 443, "[::1]:443"), ("2001:db8::5", 8443, "[2001:db8::5]:8443"), ("[::1]", 443, "[::1]:443"),
    ("127.0.0.1", 443, "127.0.0.1:443"), ("shop.test", 8443, "shop.test:8443"),
])
def test_label_brackets_ipv6(host: str, port: int, label: str) -> None:
    assert _handshake.Endpoint(host, port).label == label
    assert _handshake.Endpoint(host, port, index=4).entry == "endpoints[4] (%s)" % label
    checked = _handshake.Endpoint(host, port)
    checked.check()
    assert not checked.host.startswith("[") and checked.label == label  # the address to connect to has no brackets


@pytest.mark.parametrize(("field", "value"), [("timeout", "nan"), ("timeout", float("inf")), ("timeout", "1e300"),
                                              ("retry_delay", "-1"), ("retry_delay", "800000d"), ("timeout", "soon")])
def test_endpoint_durations_are_checked_and_named(field: str, value: t.Any) -> None:
    with pytest.raises(InputError, match=r"^endpoints\[5\]\.%s[: ].*give a duration from" % field):
        _handshake.Endpoint.from_options({"host": "a", field: value}, {}, 5)
    with pytest.raises(InputError, match=r"^%s[: ]" % field):
        _handshake.Endpoint.from_options({"host": "a", field: value})


@pytest.mark.parametrize(("kw", "waits"), [
    ({"retries": 3, "retry_delay": 0.25}, [0.25, 0.25, 0.25]),  # retry_backoff 1.0: constant, as before
    ({"retries": 10, "retry_delay": 0.5, "retry_backoff": 2, "retry_max_delay": 8},
     [0.5, 1, 2, 4, 8, 8, 8, 8, 8, 8]),  # renew.yml's watch defaults: 55.5 s at most
    ({"retries": 4, "retry_delay": 1, "retry_backoff": 3}, [1, 3, 9, 27]),  # uncapped
    ({"retries": 3, "retry_delay": 10, "retry_backoff": 2, "retry_max_delay": 5}, [5, 5, 5]),  # cap below the start
    ({"retries": 6, "retry_delay": 600, "retry_backoff": 10}, [600, 3600, 3600, 3600, 3600, 3600]),  # never above 1h
    ({"retries": 0, "retry_delay": 1, "retry_backoff": 2}, []),
])
def test_waits_grow_by_backoff_up_to_the_cap(kw: dict[str, t.Any], waits: list[float]) -> None:
    e = _handshake.Endpoint.from_options({"host": "a", **kw})
    assert list(e.waits()) == waits


@pytest.mark.parametrize(("field", "value", "message"), [
    ("retry_backoff", 0.5, "retry_backoff: 0.5 is outside the accepted range; give a number from 1 to 10"),
    ("retry_backoff", 11, "retry_backoff: 11 is outside the accepted range; give a number from 1 to 10"),
    ("retry_backoff", "nan", "retry_backoff: 'nan' is outside the accepted range; give a number from 1 to 10"),
    ("retry_backoff", "double", "retry_backoff: 'double' is not a number; give a number from 1 to 10"),
    ("retry_max_delay", 0, "retry_max_delay: 0 is outside the accepted range; give a duration from 0.01s to 1h"),
    ("retry_max_delay", "2h", "retry_max_delay: '2h' is outside the accepted range; give a duration from 0.01s to 1h"),
    ("retry_max_delay", "-1", "retry_max_delay must not be negative"),
])
def test_backoff_options_are_checked_and_named(field: str, value: t.Any, message: str) -> None:
    with pytest.raises(InputError) as info:
        _handshake.Endpoint.from_options({"host": "a", field: value}, {}, 2)
    assert str(info.value).startswith("endpoints[2].%s" % field) and message.split(field, 1)[1] in str(info.value)
    with pytest.raises(InputError, match="^%s" % field):
        _handshake.Endpoint.from_options({"host": "a"}, {field: value})
