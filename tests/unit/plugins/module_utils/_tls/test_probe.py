# SPDX-License-Identifier: GPL-3.0-or-later
"""Probes against in-process TLS servers: results, retries, concurrency, the typed entry point and
the fail decision (plugins/module_utils/_tls/probe.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pathlib
import time
import typing as t

import pytest
from certgen import Issued, TestCA, now
from cryptography.hazmat.primitives.asymmetric import ec
from ct_lab import cert_with_sct, log_list
from probe_lab import ProbeLab
from services import TLSServer, free_port

from ansible_collections.ghostguard.certs.plugins.module_utils import _policy, _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import InputError, ProbeError
from ansible_collections.ghostguard.certs.plugins.module_utils._tls import ct as _ct
from ansible_collections.ghostguard.certs.plugins.module_utils._tls import handshake as _handshake
from ansible_collections.ghostguard.certs.plugins.module_utils._tls import probe as _probe


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> ProbeLab:
    return ProbeLab(tmp_path_factory.mktemp("probe"))


@pytest.fixture(scope="module")
def good(lab: ProbeLab) -> t.Iterator[tuple[TLSServer, Issued]]:
    issued = lab.ca.issue(["svc.test", "127.0.0.1"])
    with TLSServer(*lab.write(issued, "good"), alpn=["h2", "http/1.1"]) as srv:
        yield srv, issued


def ep(port: int, lab: ProbeLab, **kw: t.Any) -> _handshake.Endpoint:
    kw.setdefault("server_name", "svc.test")
    kw.setdefault("timeout", 3)
    return _handshake.Endpoint("127.0.0.1", port, ca_bundle=lab.root_file, **kw)


def test_verified_handshake_reports_everything(lab: ProbeLab, good: tuple[TLSServer, Issued]) -> None:
    srv, issued = good
    res = _probe.probe(ep(srv.port, lab, alpn=["h2"]))
    assert res["ok"] and res["error"] is None and res["verified"] is True
    assert res["certificate"]["fingerprint_sha256"] == _x509.fingerprint(issued.cert)
    assert res["certificate"]["path"] is None and res["certificate"]["status"] == "ok"
    assert [c["subject"] for c in res["chain"]] == ["CN=probe unit root intermediate"]
    assert res["tls_version"] == "TLSv1.3" and res["cipher"]
    assert res["alpn_protocol"] == "h2"
    assert 0 < res["handshake_ms"] < 2000 and res["connect_ms"] >= 0
    assert res["scts"] == [] and res["attempts"] == 1


def test_ip_address_host_without_server_name(lab: ProbeLab, good: tuple[TLSServer, Issued]) -> None:
    srv, _issued = good
    res = _probe.probe(ep(srv.port, lab, server_name=None))
    assert res["ok"], res["error_message"]
    assert res["server_name"] == "127.0.0.1"


@pytest.mark.parametrize("written", ["upper-no-colons", "colons"])
def test_expected_fingerprint_any_case(lab: ProbeLab, good: tuple[TLSServer, Issued], written: str) -> None:
    srv, issued = good
    fp = _x509.fingerprint(issued.cert)
    given = fp.replace(":", "").upper() if written == "upper-no-colons" else fp
    res = _probe.probe(ep(srv.port, lab, expected_fingerprint=given))
    assert res["matches_expected"] is True and res["expected_fingerprint"] == fp


def test_mismatch_retries_then_reports(lab: ProbeLab, good: tuple[TLSServer, Issued]) -> None:
    srv, _issued = good
    sleeps: list[float] = []
    res = _probe.probe(ep(srv.port, lab, expected_fingerprint="ab" * 32, retries=3, retry_delay=0.25),
                       sleep=sleeps.append)
    assert res["matches_expected"] is False and res["ok"] is False
    assert res["attempts"] == 4 and sleeps == [0.25] * 3
    assert "still serves another certificate" in res["error_message"]


def test_backoff_waits_grow_to_the_cap_and_stop_after_retries(lab: ProbeLab, good: tuple[TLSServer, Issued]) -> None:
    srv, _issued = good
    sleeps: list[float] = []
    res = _probe.probe(ep(srv.port, lab, expected_fingerprint="ab" * 32, retries=6, retry_delay=0.5,
                          retry_backoff=2, retry_max_delay=3), sleep=sleeps.append)
    assert sleeps == [0.5, 1, 2, 3, 3, 3]
    assert res["attempts"] == 7 and res["waited"] == 12.5 and srv.handshakes >= 7
    assert res["matches_expected"] is False and "still serves another certificate" in res["error_message"]


def test_no_wait_when_served_at_once(lab: ProbeLab, good: tuple[TLSServer, Issued]) -> None:
    srv, issued = good
    sleeps: list[float] = []
    res = _probe.probe(ep(srv.port, lab, expected_fingerprint=_x509.fingerprint(issued.cert), retries=5,
                          retry_backoff=2), sleep=sleeps.append)
    assert res["ok"] and res["attempts"] == 1 and res["waited"] == 0 and sleeps == []


@pytest.mark.parametrize(("kw", "reload_at", "waits"), [
    ({"retries": 5}, 2, [1.0, 1.0]),  # constant waits (retry_delay 1.0)
    ({"retries": 10, "retry_delay": 0.1, "retry_backoff": 3}, 3, [0.1, 0.3, 0.9]),  # growing waits
], ids=["constant", "backoff"])
def test_retry_waits_for_reload(lab: ProbeLab, kw: dict[str, t.Any], reload_at: int, waits: list[float]) -> None:
    old, new = lab.ca.issue(["svc.test"]), lab.ca.issue(["svc.test"])
    cert, key = lab.write(old, "reload")
    with TLSServer(cert, key) as srv:
        lab.write(new, "reload")
        calls: list[float] = []

        def sleep(delay: float) -> None:
            calls.append(delay)
            if len(calls) == reload_at:  # the service reloads during this wait
                srv.reload()

        res = _probe.probe(ep(srv.port, lab, expected_fingerprint=_x509.fingerprint(new.cert), **kw), sleep=sleep)
    assert res["matches_expected"] is True and res["ok"]
    assert res["attempts"] == reload_at + 1 and calls == pytest.approx(waits)
    assert res["waited"] == pytest.approx(sum(waits))


def test_hostname_mismatch(lab: ProbeLab, good: tuple[TLSServer, Issued]) -> None:
    srv, issued = good
    res = _probe.probe(ep(srv.port, lab, server_name="other.test"))
    assert res["error"] == "hostname_mismatch" and res["verified"] is False and not res["ok"]
    assert res["certificate"]["fingerprint_sha256"] == _x509.fingerprint(issued.cert)
    assert "other.test" in res["error_message"]


def test_unknown_ca(lab: ProbeLab, good: tuple[TLSServer, Issued], tmp_path: pathlib.Path) -> None:
    srv, _issued = good
    other = tmp_path / "other.pem"
    other.write_bytes(TestCA("someone else").root_pem)
    res = _probe.probe(_handshake.Endpoint("127.0.0.1", srv.port, server_name="svc.test", ca_bundle=str(other)))
    assert res["error"] == "unknown_ca" and res["certificate"] is not None


def test_validation_off(lab: ProbeLab, good: tuple[TLSServer, Issued]) -> None:
    srv, _issued = good
    res = _probe.probe(_handshake.Endpoint("127.0.0.1", srv.port, server_name="nope.test", validate_certs=False))
    assert res["ok"] and res["verified"] is None and res["error"] is None


def test_expired(lab: ProbeLab) -> None:
    old = lab.ca.issue(["svc.test"], days=1, not_before=now() - dt.timedelta(days=2))
    with TLSServer(*lab.write(old, "expired")) as srv:
        res = _probe.probe(ep(srv.port, lab))
    assert res["error"] == "expired"
    assert res["certificate"]["status"] == "expired"


def test_refused() -> None:
    res = _probe.probe(_handshake.Endpoint("127.0.0.1", free_port(), timeout=2, retries=1, retry_delay=0))
    assert res["error"] == "refused" and res["attempts"] == 2 and res["certificate"] is None
    assert res["verified"] is None  # no handshake happened: nothing was verified, nor refused


def test_probe_many_runs_concurrently(lab: ProbeLab) -> None:
    servers = []
    issued = lab.ca.issue(["svc.test"])
    files = lab.write(issued, "many")
    try:
        for _unused in range(10):
            servers.append(TLSServer(*files, handshake_delay=0.3).start())
        endpoints = [ep(s.port, lab, name="s%d" % i) for i, s in enumerate(servers)]
        start = time.monotonic()
        results = _probe.probe_many(endpoints, workers=10)
        elapsed = time.monotonic() - start
    finally:
        for srv in servers:
            srv.stop()
    assert [r["name"] for r in results] == ["s%d" % i for i in range(10)]
    assert all(r["ok"] for r in results)
    assert elapsed < 1.5  # 10 x 0.3 s one after the other would take 3 s
    assert _probe.summarize(results) == {"total": 10, "ok": 10, "mismatched": 0, "errors": {}}


def test_sct_from_a_served_certificate(tmp_path: pathlib.Path) -> None:
    ca = TestCA("ct served root")
    log_key = ec.generate_private_key(ec.SECP256R1())
    leaf, key = cert_with_sct(ca, log_key, with_key=True)
    (tmp_path / "root.pem").write_bytes(ca.root_pem)
    cert_file, _key_file = Issued(leaf, key, list(ca.chain)).write(str(tmp_path), "ct"), str(tmp_path / "ct.key")
    logs = _ct.load_log_list(log_list(tmp_path / "logs.json", log_key))
    with TLSServer(cert_file, _key_file) as srv:
        res = _probe.probe(_handshake.Endpoint("127.0.0.1", srv.port, server_name="ct.test",
                                               ca_bundle=str(tmp_path / "root.pem")), logs=logs)
    assert res["ok"], res["error_message"]
    assert len(res["scts"]) == 1 and res["scts"][0]["signature_valid"] is True


# ---------------------------------------------------------------- typed entry point and fail decision


def test_request_from_options_single_host() -> None:
    req = _probe.ProbeRequest.from_options({
        "host": "svc.test", "port": 8443, "alpn": ["h2"], "retries": None, "timeout": 2.0,
        "renew_before": "30d", "concurrency": 4, "ocsp": True, "fail_on_error": True,
    })
    assert req.single is True and req.ocsp is True and req.concurrency == 4
    assert (req.fail_on_mismatch, req.fail_on_error) == (True, True)
    (e,) = req.endpoints
    assert (e.host, e.port, list(e.alpn), e.retries, e.timeout) == ("svc.test", 8443, ["h2"], 0, 2.0)
    assert req.policy.renew_before == 30 * 86400


def test_request_from_options_endpoints_take_top_level_defaults() -> None:
    req = _probe.ProbeRequest.from_options({
        "endpoints": [{"host": "a", "name": "first"}, {"host": "b", "port": 9443, "timeout": None}],
        "port": 8443, "timeout": 3.0, "server_name": "svc.test",
    })
    assert req.single is False
    assert [(e.label, e.port, e.timeout, e.sni) for e in req.endpoints] == [
        ("first", 8443, 3.0, "svc.test"), ("b:9443", 9443, 3.0, "svc.test")]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "give host .one endpoint. or endpoints"),
        ({"host": "a", "endpoints": [{"host": "b"}]}, "not both"),
        ({"endpoints": [{"port": 1}]}, "every endpoint needs a host"),
        ({"endpoints": [{"host": "a"}, {"port": 1}]}, r"^endpoints\[1\] has no host"),
        ({"endpoints": [{"host": "a"}, {"host": "b", "expected_fingerprint": "ab:cd"}]},
         r"^endpoints\[1\] \(b:443\): expected_fingerprint 'ab:cd' is not a SHA-256 fingerprint"),
        ({"endpoints": [{"host": "a", "timeout": "inf"}]}, r"^endpoints\[0\]\.timeout: 'inf' is not a finite duration"),
        ({"host": "a", "retry_delay": float("nan")}, r"^retry_delay: nan is not a finite duration"),
        ({"host": "a", "retry_backoff": 20}, r"^retry_backoff: 20 is outside the accepted range; give a number from 1 "),
        ({"endpoints": [{"host": "a", "retry_max_delay": "0"}]}, r"^endpoints\[0\]\.retry_max_delay: '0' is outside"),
        ({"host": "a", "renew_fraction": 2}, "renew_fraction"),
    ],
)
def test_request_from_options_rejects(options: dict[str, t.Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        _probe.ProbeRequest.from_options(options)


def test_probe_endpoints_single_and_facts(lab: ProbeLab, good: tuple[TLSServer, Issued]) -> None:
    srv, issued = good
    fp = _x509.fingerprint(issued.cert)
    req = _probe.ProbeRequest.from_options({
        "host": "127.0.0.1", "port": srv.port, "server_name": "svc.test", "ca_bundle": lab.root_file,
        "expected_fingerprint": fp, "timeout": 3.0,
    })
    result = _probe.probe_endpoints(req)
    assert isinstance(result, _probe.ProbeResult)
    assert result.summary == {"total": 1, "ok": 1, "mismatched": 0, "errors": {}}
    facts = result.facts()
    assert facts["endpoints"] == result.endpoints and facts["matches_expected"] is True
    assert facts["certificate"]["fingerprint_sha256"] == fp and "name" not in facts
    _probe.require_ok(req, result)  # nothing failed: no exception


def test_probe_endpoints_list_has_no_top_level_keys(lab: ProbeLab, good: tuple[TLSServer, Issued]) -> None:
    srv, _issued = good
    req = _probe.ProbeRequest(endpoints=[_handshake.Endpoint("127.0.0.1", srv.port, server_name="svc.test",
                                                             ca_bundle=lab.root_file, name="web")],
                              policy=_policy.Policy())
    facts = _probe.probe_endpoints(req).facts()
    assert set(facts) == {"endpoints", "summary"} and facts["endpoints"][0]["name"] == "web"


def _result(*endpoints: dict[str, t.Any]) -> _probe.ProbeResult:
    return _probe.ProbeResult(endpoints=list(endpoints), summary=_probe.summarize(endpoints))


def _row(name: str, expected: str | None = None, matches: bool | None = None, error: str | None = None) -> dict[str, t.Any]:
    return {"name": name, "expected_fingerprint": expected, "matches_expected": matches, "error": error,
            "ok": error is None and matches is not False, "error_message": "%s: %s" % (name, error or "mismatch")}


@pytest.mark.parametrize(
    ("fail_on_mismatch", "fail_on_error", "failed"),
    [(True, False, ["mismatch", "unproven"]), (False, False, []), (False, True, ["unproven", "down"]),
     (True, True, ["mismatch", "unproven", "down"])],
)
def test_require_ok(fail_on_mismatch: bool, fail_on_error: bool, failed: list[str]) -> None:
    result = _result(_row("fine", "aa", True), _row("mismatch", "aa", False), _row("unproven", "aa", None, "timeout"),
                     _row("down", None, None, "refused"))
    req = _probe.ProbeRequest(endpoints=[], fail_on_mismatch=fail_on_mismatch, fail_on_error=fail_on_error)
    assert [r["name"] for r in _probe.failed_endpoints(req, result)] == failed
    if not failed:
        _probe.require_ok(req, result)
        return
    with pytest.raises(ProbeError) as err:
        _probe.require_ok(req, result)
    assert str(err.value).startswith("%d of 4 endpoint(s) failed: " % len(failed))
    assert all(name + ":" in str(err.value) for name in failed)
    assert err.value.details["endpoints"] == result.endpoints and err.value.details["summary"]["total"] == 4


def test_bad_ca_bundle_is_reported_on_its_entry_and_the_batch_goes_on(
        lab: ProbeLab, good: tuple[TLSServer, Issued], tmp_path: pathlib.Path) -> None:
    """A missing ca_bundle, a key file as ca_bundle, a directory: that entry's error, naming index, host and file."""
    srv, issued = good
    key_file = pathlib.Path(lab.write(issued, "keyfile")[1])  # a private key, no certificate
    missing = str(tmp_path / "missing-ca.pem")
    request = _probe.ProbeRequest.from_options({
        "server_name": "svc.test", "ca_bundle": lab.root_file, "timeout": 3, "retries": 2, "retry_delay": 5,
        "endpoints": [
            {"host": "127.0.0.1", "port": srv.port, "ca_bundle": missing},
            {"host": "127.0.0.1", "port": srv.port, "ca_bundle": str(key_file)},
            {"host": "127.0.0.1", "port": srv.port, "ca_bundle": str(tmp_path)},
            {"host": "127.0.0.1", "port": srv.port, "expected_fingerprint": _x509.fingerprint(issued.cert)},
        ],
    })
    started = time.monotonic()
    result = _probe.probe_endpoints(request)
    assert time.monotonic() - started < 5  # an input error is not retried
    bad = result.endpoints[:3]
    assert [r["error"] for r in bad] == ["invalid_input"] * 3
    assert bad[0]["error_message"] == (
        "endpoints[0] (127.0.0.1:%d): ca_bundle %s does not exist; give a readable PEM file" % (srv.port, missing))
    assert bad[1]["error_message"].startswith("endpoints[1] (127.0.0.1:%d): ca_bundle %s holds PEM data but no "
                                              "CERTIFICATE block" % (srv.port, key_file))
    assert "give a PEM file of CA certificates" in bad[1]["error_message"]
    assert "endpoints[2]" in bad[2]["error_message"] and "is not a regular file" in bad[2]["error_message"]
    assert all(r["verified"] is None and r["certificate"] is None and not r["ok"] for r in bad)
    assert result.endpoints[3]["ok"] and result.endpoints[3]["matches_expected"] is True
    assert result.summary["errors"] == {"invalid_input": 3}
    with pytest.raises(ProbeError, match=r"endpoints\[0\] \(127.0.0.1:\d+\): ca_bundle"):
        _probe.require_ok(dataclasses.replace(request, fail_on_error=True), result)
