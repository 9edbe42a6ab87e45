# SPDX-License-Identifier: GPL-3.0-or-later
"""Renewal policy, parsing and description (plugins/module_utils/_x509.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from certgen import TestCA, cert_pem
from cryptography.hazmat.primitives import serialization

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertificateError, InputError
from ansible_collections.ghostguard.certs.plugins.module_utils._time import parse_duration, parse_time

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 1, 1, tzinfo=UTC)
DAY = 86400.0


def policy(at_days: float, **kw: object) -> _x509.Policy:
    return _x509.Policy(now=T0 + dt.timedelta(days=at_days), **kw)  # type: ignore[arg-type]


def decide(lifetime_days: float, at_days: float, **kw: object) -> _x509.Decision:
    return _x509.evaluate(T0, T0 + dt.timedelta(days=lifetime_days), policy(at_days, **kw))


# lifetime, time since issue, expected status, expected due
POLICY_TABLE = [
    # 6-day (short-lived): renew at half-life = 3 days left; alert (72h) coincides with it
    (6, 1.0, "ok", False),
    (6, 2.9, "ok", False),
    (6, 3.0, "due", True),   # exactly at the threshold: due, and 72h left is not yet "< 72h"
    (6, 3.5, "critical", True),
    (6, 6.0, "expired", True),
    # 90-day: renew with 30 days left
    (90, 10, "ok", False),
    (90, 59.9, "ok", False),
    (90, 60, "due", True),
    (90, 86.9, "due", True),
    (90, 87.5, "critical", True),
    (90, 91, "expired", True),
    # 397-day: renew with 132.33 days left
    (397, 200, "ok", False),
    (397, 264.6, "ok", False),
    (397, 264.7, "due", True),
    (397, 396, "critical", True),
    (397, 400, "expired", True),
    # exactly 10 days counts as short-lived (1/2), just over does not (1/3)
    (10, 4.9, "ok", False),
    (10, 5.0, "due", True),
    (10.01, 5.0, "ok", False),
]


@pytest.mark.parametrize(("lifetime", "at", "status", "due"), POLICY_TABLE)
def test_policy_table(lifetime: float, at: float, status: str, due: bool) -> None:
    decision = decide(lifetime, at)
    assert (decision.status, decision.due) == (status, due)


def test_renew_at_and_seconds() -> None:
    decision = decide(90, 10)
    assert decision.renew_at == T0 + dt.timedelta(days=60)
    assert decision.lifetime_seconds == 90 * 86400
    assert decision.seconds_remaining == 80 * 86400


def test_renew_before_wins_when_larger() -> None:
    assert decide(90, 50, renew_before=45 * DAY).due is True  # 40 days left < 45d
    assert decide(90, 40, renew_before=45 * DAY).due is False
    # fraction wins when larger than renew_before
    assert decide(90, 61, renew_before=1 * DAY).due is True


def test_explicit_fraction_applies_to_short_lived_too() -> None:
    assert decide(6, 3.5, renew_fraction=0.25, alert_before=0).status == "ok"
    assert decide(6, 4.6, renew_fraction=0.25, alert_before=0).status == "due"


@pytest.mark.parametrize(
    ("at", "leeway_h", "status"),
    [
        (59.9, 0, "ok"),
        (59.9, 3, "due"),        # leeway brings the renewal earlier
        (89.99, 0, "critical"),
        (89.99, 1, "expired"),   # a peer whose clock runs an hour fast already rejects it
    ],
)
def test_leeway_towards_expiry(at: float, leeway_h: float, status: str) -> None:
    assert decide(90, at, leeway=leeway_h * 3600).status == status


@pytest.mark.parametrize(
    ("at_hours", "leeway_h", "status"),
    [
        (-2, 0, "not_yet_valid"),
        (-2, 3, "ok"),             # within the skew allowance: valid
        (-2, 1, "not_yet_valid"),
        (0, 0, "ok"),
    ],
)
def test_leeway_towards_not_before(at_hours: float, leeway_h: float, status: str) -> None:
    assert decide(90, at_hours / 24, leeway=leeway_h * 3600).status == status


def test_connection_age() -> None:
    # 90-day certificate with 31 days left: not due by the window, but a 40-day connection outlives it
    d = decide(90, 59, max_connection_age=40 * DAY, connection_margin=3600)
    assert d.due and d.status == "due" and d.reasons == ["connection_age"]
    assert decide(90, 59, max_connection_age=20 * DAY).due is False
    # margin counts
    assert decide(90, 59, max_connection_age=31 * DAY - 7200, connection_margin=3 * 3600).due is True


def test_force() -> None:
    d = decide(90, 1, force=True)
    assert d.due and d.status == "due" and d.reasons == ["forced"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("72h", 259200), ("30d", 2592000), ("1d12h", 129600), ("90m", 5400), ("45s", 45), ("1w", 604800),
     ("3600", 3600), (120, 120), ("1.5h", 5400), (" 2D ", 172800)],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "3x", "h", "-5", "1d-2h", True])
def test_parse_duration_rejects(text: object) -> None:
    with pytest.raises(InputError) as err:
        parse_duration(text, "renew_before")
    assert "renew_before" in str(err.value)


def test_parse_time() -> None:
    assert parse_time("2026-01-01T00:00:00Z") == T0
    assert parse_time("2026-01-01T02:00:00+02:00") == T0
    assert parse_time("2026-01-01T00:00:00") == T0
    with pytest.raises(InputError, match="ISO 8601"):
        parse_time("yesterday")


def test_policy_from_options_validates() -> None:
    p = _x509.Policy.from_options({"renew_before": "30d", "leeway": "5m", "now": "2026-01-01T00:00:00Z"})
    assert (p.renew_before, p.leeway, p.now) == (30 * DAY, 300, T0)
    with pytest.raises(InputError, match="renew_fraction"):
        _x509.Policy.from_options({"renew_fraction": 1.5})


# --------------------------------------------------------------------------- parsing


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


def test_pem_bundle_reports_leaf_first(ca: TestCA) -> None:
    issued = ca.issue(["shop.example.test", "10.0.0.5"], days=90)
    certs, fmt = _x509.load_certificates(issued.fullchain_pem)
    assert fmt == "pem" and len(certs) == 2
    desc = _x509.describe(certs[0], "x.pem", _x509.Policy())
    assert desc["sans"] == ["DNS:shop.example.test", "IP:10.0.0.5"]
    assert desc["subject"] == "CN=shop.example.test"
    assert desc["issuer"] == "CN=ghostguard test root intermediate"
    assert desc["fingerprint_sha256"] == _x509.fingerprint(issued.cert)
    assert len(desc["fingerprint_sha256"]) == 95 and desc["fingerprint_sha256"] == desc["fingerprint_sha256"].lower()
    assert int(desc["serial"].replace(":", ""), 16) == issued.cert.serial_number
    assert set(desc) >= {"path", "subject", "sans", "issuer", "serial", "fingerprint_sha256", "not_before",
                         "not_after", "seconds_remaining", "lifetime_seconds", "renew_at", "due", "status"}


def test_der(ca: TestCA) -> None:
    issued = ca.issue(["der.test"])
    certs, fmt = _x509.load_certificates(issued.cert.public_bytes(serialization.Encoding.DER))
    assert fmt == "der" and certs[0] == issued.cert


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"hello world", "neither a PEM nor a DER"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "no CERTIFICATE block"),
        (b"-----BEGIN CERTIFICATE-----\nMIIBnotbase64!!\n-----END CERTIFICATE-----\n", "corrupt or truncated"),
    ],
)
def test_corrupt_inputs(data: bytes, message: str) -> None:
    with pytest.raises(CertificateError, match=message):
        _x509.load_certificates(data, "f.pem")


def test_truncated_bundle(ca: TestCA) -> None:
    pem = ca.issue(["t.test"]).fullchain_pem
    with pytest.raises(CertificateError, match="truncated"):
        _x509.load_certificates(pem[: len(pem) - 40], "t.pem")


def test_key_match_and_mismatch(ca: TestCA) -> None:
    a, b = ca.issue(["a.test"]), ca.issue(["b.test"], key_type="rsa")
    assert _x509.public_key_matches(a.cert, _x509.load_private_key(a.key_pem))
    assert not _x509.public_key_matches(a.cert, _x509.load_private_key(b.key_pem))
    assert _x509.key_description(b.cert.public_key()) == "rsa-2048"


def test_verify_chain(ca: TestCA) -> None:
    issued = ca.issue(["c.test"])
    assert _x509.verify_chain(issued.cert, issued.chain, [ca.root]) is None
    assert "no certificate" in (_x509.verify_chain(issued.cert, [], [ca.root]) or "")
    other = TestCA("other root")
    assert "no certificate" in (_x509.verify_chain(issued.cert, issued.chain, [other.root]) or "")
    # A forged intermediate with the right name but another key does not verify
    forged = TestCA("ghostguard test root")
    assert _x509.verify_chain(issued.cert, forged.chain, [ca.root]) is not None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("AB" * 32, ":".join(["ab"] * 32)), (":".join(["Cd"] * 32), ":".join(["cd"] * 32)),
     ("sha256:" + "01" * 32, ":".join(["01"] * 32))],
)
def test_normalize_fingerprint(value: str, expected: str) -> None:
    assert _x509.normalize_fingerprint(value) == expected


def test_normalize_fingerprint_rejects() -> None:
    with pytest.raises(InputError, match="64 hex digits"):
        _x509.normalize_fingerprint("abc")


def test_names_cover(ca: TestCA) -> None:
    cert = ca.issue(["*.example.test", "example.test"]).cert
    assert _x509.names_cover(cert, ["example.test", "www.example.test"]) == []
    assert _x509.names_cover(cert, ["a.b.example.test", "other.test"]) == ["a.b.example.test", "other.test"]


def test_cert_pem_roundtrip(ca: TestCA) -> None:
    issued = ca.issue(["r.test"])
    certs, _fmt = _x509.load_certificates(cert_pem(issued.cert) + b"\n# comment\n" + issued.chain_pem)
    assert [c.subject for c in certs] == [issued.cert.subject, ca.signer.subject]
