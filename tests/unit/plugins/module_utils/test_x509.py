# SPDX-License-Identifier: GPL-3.0-or-later
"""Parsing, description, signatures and chains (plugins/module_utils/_x509.py)."""

from __future__ import annotations

import datetime as dt
import pathlib
import subprocess
import types
import typing as t

import pytest
from certgen import TestCA, cert_pem
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from ansible_collections.ghostguard.certs.plugins.module_utils import _policy, _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertificateError, InputError
from ansible_collections.ghostguard.certs.plugins.module_utils._time import parse_duration, parse_time, utc_field

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 1, 1, tzinfo=UTC)
DAY = 86400.0


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


# --------------------------------------------------------------------------- parsing


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


def test_pem_bundle_reports_leaf_first(ca: TestCA) -> None:
    issued = ca.issue(["shop.example.test", "10.0.0.5"], days=90)
    certs, fmt = _x509.load_certificates(issued.fullchain_pem)
    assert fmt == "pem" and len(certs) == 2
    desc = _x509.describe(certs[0], "x.pem", _policy.Policy())
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
    idn = ca.issue(["xn--bcher-kva.example.test", "*.xn--r8jz45g.example.test"]).cert
    assert _x509.names_cover(idn, ["Bücher.example.test", "www.例え.example.test", "xn--bcher-kva.example.test."]) == []
    assert _x509.names_cover(idn, ["faß.example.test"]) == ["faß.example.test"]


def test_cert_pem_roundtrip(ca: TestCA) -> None:
    issued = ca.issue(["r.test"])
    certs, _fmt = _x509.load_certificates(cert_pem(issued.cert) + b"\n# comment\n" + issued.chain_pem)
    assert [c.subject for c in certs] == [issued.cert.subject, ca.signer.subject]


# --------------------------------------------------------------------------- truncated PEM, CA files, dates


@pytest.mark.parametrize(
    ("data", "complete"),
    [
        (b"", True),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", True),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n", False),
        (b"-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nB", False),
    ],
)
def test_check_pem_complete(data: bytes, complete: bool) -> None:
    if complete:
        _x509.check_pem_complete(data, "cert_content")
    else:
        with pytest.raises(CertificateError, match=r"^cert_content: a PEM CERTIFICATE block has no END line \(truncated"):
            _x509.check_pem_complete(data, "cert_content")


def test_load_ca_file(ca: TestCA, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "roots.pem"
    path.write_bytes(ca.root_pem + TestCA("second root").root_pem)
    roots = _x509.load_ca_file(str(path))
    assert [r.subject.rfc4514_string() for r in roots] == ["CN=ghostguard test root", "CN=second root"]
    with pytest.raises(InputError, match=r"ca_bundle .*missing\.pem cannot be read"):
        _x509.load_ca_file(str(tmp_path / "missing.pem"))
    path.write_bytes(ca.root_pem[:-30])
    with pytest.raises(CertificateError, match="truncated"):
        _x509.load_ca_file(str(path))


def test_validity_dates_are_aware_utc(ca: TestCA) -> None:
    cert = ca.issue(["dates.test"], days=10).cert
    start, end = _x509.not_before(cert), _x509.not_after(cert)
    assert start.tzinfo is not None and start.utcoffset() == dt.timedelta(0)
    assert end - start == dt.timedelta(days=10)


class _Naive:
    """An object of an older cryptography: naive UTC datetimes and no ``*_utc`` attributes."""

    this_update = dt.datetime(2026, 1, 1, 12, 0)
    next_update = None


def test_utc_field_fallback_for_older_cryptography(ca: TestCA) -> None:
    assert utc_field(_Naive(), "this_update") == dt.datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert utc_field(_Naive(), "next_update") is None
    cert = ca.issue(["f.test"]).cert
    assert utc_field(cert, "not_valid_after") == cert.not_valid_after_utc


# --------------------------------------------------------------------------- the one signature check

DATA = b"what was signed"


@pytest.mark.parametrize("kind", ["ec", "rsa", "rsa-pss", "ed25519"])
def test_signature_valid(kind: str) -> None:
    rsa_padding = None
    if kind == "ec":
        key: t.Any = ec.generate_private_key(ec.SECP256R1())
        signature = key.sign(DATA, ec.ECDSA(hashes.SHA256()))
    elif kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
        signature = key.sign(DATA)
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        rsa_padding = (padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32) if kind == "rsa-pss"
                       else padding.PKCS1v15())
        signature = key.sign(DATA, rsa_padding, hashes.SHA256())
    public = key.public_key()
    given = rsa_padding if kind == "rsa-pss" else None  # PKCS#1 v1.5 is the default
    assert _x509.signature_valid(public, signature, DATA, hashes.SHA256(), given) is True
    assert _x509.signature_valid(public, signature, DATA + b"!", hashes.SHA256(), given) is False
    assert _x509.signature_valid(public, b"\x00" + signature[1:], DATA, hashes.SHA256(), given) is False


def test_signature_valid_refuses_other_keys() -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    signature = ec.generate_private_key(ec.SECP256R1()).sign(DATA, ec.ECDSA(hashes.SHA256()))
    assert _x509.signature_valid(other.public_key(), signature, DATA, hashes.SHA256()) is False
    dsa_key = dsa.generate_private_key(2048)
    assert _x509.signature_valid(dsa_key.public_key(), dsa_key.sign(DATA, hashes.SHA256()), DATA, hashes.SHA256()) is False
    assert _x509.signature_valid(object(), b"", DATA, hashes.SHA256()) is False


def _pss_signed(ca_key: t.Any, issuer: x509.Name) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pss.test")]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime(2026, 1, 1, tzinfo=UTC))
        .not_valid_after(dt.datetime(2026, 2, 1, tzinfo=UTC))
        .sign(ca_key, hashes.SHA256(), rsa_padding=padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                                               salt_length=padding.PSS.DIGEST_LENGTH))
    )


def test_issued_by(ca: TestCA) -> None:
    issued = ca.issue(["i.test"])
    assert _x509.issued_by(issued.cert, ca.signer) is True
    assert _x509.issued_by(ca.signer, ca.root) is True
    assert _x509.issued_by(issued.cert, ca.root) is False  # right key chain, wrong name
    impostor = TestCA("ghostguard test root")  # same names, other keys
    assert _x509.issued_by(issued.cert, impostor.signer) is False
    # an RSA-PSS signed certificate verifies with its own padding parameters
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pss root")])
    root = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(rsa_key.public_key())
        .serial_number(1).not_valid_before(dt.datetime(2026, 1, 1, tzinfo=UTC))
        .not_valid_after(dt.datetime(2027, 1, 1, tzinfo=UTC))
        .sign(rsa_key, hashes.SHA256())
    )
    assert _x509.issued_by(_pss_signed(rsa_key, name), root) is True


def _negated(cert: x509.Certificate) -> x509.Certificate:
    """*cert* with its serial negated, DER length kept (signature left as is: only parsed)."""
    der = cert.public_bytes(serialization.Encoding.DER)
    old = cert.serial_number.to_bytes((cert.serial_number.bit_length() + 8) // 8, "big", signed=True)
    new = (-int.from_bytes(old, "big")).to_bytes(len(old), "big", signed=True)
    at = der.index(bytes([2, len(old)]) + old)
    with pytest.warns(Warning):  # cryptography warns about serials RFC 5280 forbids
        return x509.load_der_x509_certificate(der[:at + 2] + new + der[at + 2 + len(old):])


@pytest.mark.parametrize(("serial", "printed"), [
    (12345, "30:39"), (-12345, "-30:39"), (0x0102, "01:02"), (-0x0102, "-01:02"), (0x80, "80"), (-0x80, "-80"),
    (0, "00"), (1, "01"),
])
def test_serial_printed_as_openssl_does(serial: int, printed: str) -> None:
    assert _x509.serial_hex(types.SimpleNamespace(serial_number=serial)) == printed  # type: ignore[arg-type]


@pytest.mark.lab  # runs openssl from apt
def test_negative_serial_of_a_real_certificate_matches_openssl(tmp_path: pathlib.Path) -> None:
    cert = _negated(TestCA().issue(["serial.test"]).cert)
    assert cert.serial_number < 0
    printed = _x509.serial_hex(cert)
    assert printed.startswith("-") and "-" not in printed[1:] and "0-" not in printed
    path = tmp_path / "neg.der"
    path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-in", str(path), "-noout", "-serial"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "serial=" + printed.replace(":", "").upper()  # `openssl x509 -serial`, in colon pairs
