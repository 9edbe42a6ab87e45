# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What is on disk at the service paths: one consistent file set, or a refusal naming each file."""

from __future__ import annotations

import pytest
from certgen import Issued, TestCA

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertificateError
from ansible_collections.ghostguard.certs.plugins.module_utils._install import adopt as _adopt

LABELS = {role: "%s_path /tls/%s" % (role, role) for role in ("cert", "key", "chain", "fullchain", "combined")}


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA("adopt unit root")


def full_set(issued: Issued) -> dict[str, bytes]:
    return {"cert": issued.cert_pem, "key": issued.key_pem, "chain": issued.chain_pem,
            "fullchain": issued.fullchain_pem, "combined": issued.fullchain_pem + issued.key_pem}


def test_one_certificate_passes(ca: TestCA) -> None:
    _adopt.check_file_set(full_set(ca.issue(["a.test"])), LABELS)


@pytest.mark.parametrize(("role", "message"), [
    ("cert", "do not hold one certificate"),
    ("fullchain", "do not hold one certificate"),
    ("combined", "do not hold one certificate"),
    ("key", "key_path /tls/key holds a private key that does not belong"),
])
def test_a_file_of_another_certificate_is_named(ca: TestCA, role: str, message: str) -> None:
    good, other = ca.issue(["a.test"]), ca.issue(["a.test"])
    files = full_set(good)
    files[role] = full_set(other)[role]
    with pytest.raises(CertificateError, match=message) as info:
        _adopt.check_file_set(files, LABELS)
    if role != "key":
        assert "%s holds %s" % (LABELS[role], _x509.fingerprint(other.cert)) in str(info.value)


def test_a_chain_of_another_ca_is_refused(ca: TestCA) -> None:
    files = full_set(ca.issue(["a.test"]))
    files["chain"] = TestCA("other adopt root").issue(["a.test"]).chain_pem
    with pytest.raises(CertificateError, match="do not hold one chain"):
        _adopt.check_file_set(files, LABELS)


def test_combined_without_key_is_refused(ca: TestCA) -> None:
    issued = ca.issue(["a.test"])
    with pytest.raises(CertificateError, match="combined_path /tls/combined holds no private key"):
        _adopt.check_file_set({"cert": issued.cert_pem, "combined": issued.fullchain_pem}, LABELS)


def test_adoption_set_derives_the_missing_parts(ca: TestCA) -> None:
    issued = ca.issue(["a.test"])
    out = _adopt.adoption_set({"fullchain": issued.fullchain_pem, "key": issued.key_pem}, {}, LABELS)
    assert out["fullchain"] == issued.fullchain_pem and out["key"] == issued.key_pem
    assert _x509.fingerprint(_x509.load_certificates(out["cert"])[0][0]) == _x509.fingerprint(issued.cert)
    assert out["combined"] == issued.fullchain_pem + issued.key_pem
    assert [_x509.fingerprint(c) for c in _x509.load_certificates(out["chain"])[0]] == \
        [_x509.fingerprint(c) for c in issued.chain]


def test_adoption_set_completes_from_the_current_generation_only_for_the_same_certificate(ca: TestCA) -> None:
    current, other = ca.issue(["a.test"]), ca.issue(["a.test"])
    same = _adopt.adoption_set({"cert": current.cert_pem, "key": current.key_pem}, full_set(current), LABELS)
    assert same["chain"] == current.chain_pem
    with pytest.raises(CertificateError, match="do not hold one certificate"):
        _adopt.adoption_set({"cert": other.cert_pem, "fullchain": current.fullchain_pem}, full_set(current), LABELS)
    alone = _adopt.adoption_set({"cert": other.cert_pem, "key": other.key_pem}, full_set(current), LABELS)
    assert alone["chain"] == b"" and alone["fullchain"] == other.cert_pem  # nothing borrowed from another pair


def test_served_certificate_reads_the_first_certificate_file(ca: TestCA) -> None:
    issued = ca.issue(["a.test"])
    assert _adopt.served_certificate({"key": issued.key_pem}) is None
    found = _adopt.served_certificate({"fullchain": b"garbage", "combined": issued.fullchain_pem + issued.key_pem})
    assert found is not None and _x509.fingerprint(found) == _x509.fingerprint(issued.cert)
