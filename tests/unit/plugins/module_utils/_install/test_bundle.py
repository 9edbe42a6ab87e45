# SPDX-License-Identifier: GPL-3.0-or-later
"""Bundles: parsing the inputs and refusing what no service should load."""

from __future__ import annotations

import datetime as dt

import pytest
from certgen import Issued, TestCA, now

from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertificateError, InputError
from ansible_collections.ghostguard.certs.plugins.module_utils._install import bundle as _bundle


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA("bundle unit root")


def bundle_of(issued: Issued, with_chain: bool = True) -> _bundle.Bundle:
    return _bundle.build_bundle(issued.cert_pem, issued.key_pem, issued.chain_pem if with_chain else None)

# ---------------------------------------------------------------- validation


def test_mismatched_key_refused(ca: TestCA) -> None:
    a, b = ca.issue(["site.test"]), ca.issue(["site.test"])
    bundle = _bundle.build_bundle(a.cert_pem, b.key_pem, a.chain_pem)
    with pytest.raises(CertificateError, match="does not belong"):
        _bundle.validate_bundle(bundle)


def test_expired_refused(ca: TestCA) -> None:
    old = ca.issue(["site.test"], days=1, not_before=now() - dt.timedelta(days=3))
    with pytest.raises(CertificateError, match="expired"):
        _bundle.validate_bundle(bundle_of(old))


def test_not_yet_valid_refused(ca: TestCA) -> None:
    future = ca.issue(["site.test"], not_before=now() + dt.timedelta(days=2))
    with pytest.raises(CertificateError, match="not valid before"):
        _bundle.validate_bundle(bundle_of(future))


def test_chain_from_other_ca_refused(ca: TestCA) -> None:
    other = TestCA("other root")
    leaf = ca.issue(["site.test"])
    bundle = _bundle.build_bundle(leaf.cert_pem, leaf.key_pem, other.issue(["x.test"]).chain_pem)
    with pytest.raises(CertificateError, match="does not link"):
        _bundle.validate_bundle(bundle)
    with pytest.raises(CertificateError, match="does not link"):  # a broken chain is blamed, ca_bundle or not
        _bundle.validate_bundle(bundle, ca_bundle=[ca.root])
    _bundle.validate_bundle(bundle_of(leaf), ca_bundle=[ca.root])


def test_wrong_ca_bundle_names_the_ca_bundle_not_the_chain(ca: TestCA) -> None:
    """Issue 10 item 8: a good chain checked against another CA's roots blamed the chain."""
    other = TestCA("other root")
    with pytest.raises(CertificateError) as info:
        _bundle.validate_bundle(bundle_of(ca.issue(["site.test"])), ca_bundle=[other.root],
                                ca_label="ca_bundle /etc/ssl/other.pem")
    message = str(info.value)
    assert "ca_bundle /etc/ssl/other.pem" in message and "CN=bundle unit root" in message
    assert "CN=other root" in message and "give the chain" not in message


def test_leeway_beyond_remaining_validity_does_not_say_expired(ca: TestCA) -> None:
    """Issue 10 item 8: with leeway larger than what is left the message said "expired at <a future date>"."""
    short = ca.issue(["site.test"], days=2, not_before=now() - dt.timedelta(days=1))
    with pytest.raises(CertificateError) as info:
        _bundle.validate_bundle(bundle_of(short), leeway=3 * 86400)
    message = str(info.value)
    assert "expired" not in message
    assert "expires at" in message and "leeway" in message and "3d" in message


def test_names_checked(ca: TestCA) -> None:
    leaf = ca.issue(["*.site.test", "site.test"])
    _bundle.validate_bundle(bundle_of(leaf), expected_names=["a.site.test", "site.test"])
    with pytest.raises(CertificateError, match=r"does not cover other\.test"):
        _bundle.validate_bundle(bundle_of(leaf), expected_names=["other.test"])


@pytest.mark.parametrize(
    ("cert", "key", "message"),
    [
        (b"-----BEGIN CERTIFICATE-----\nMIIB\n", None, r"no END line"),
        (None, b"not a key", "not a PEM private key"),
        (b"", None, "empty"),
    ],
)
def test_unparsable_inputs(ca: TestCA, cert: bytes | None, key: bytes | None, message: str) -> None:
    leaf = ca.issue(["site.test"])
    with pytest.raises(CertificateError, match=message):
        _bundle.build_bundle(cert if cert is not None else leaf.cert_pem, key if key is not None else leaf.key_pem, None)


def test_bundle_in_cert_content_splits_chain(ca: TestCA) -> None:
    leaf = ca.issue(["site.test"])
    bundle = _bundle.build_bundle(leaf.fullchain_pem, leaf.key_pem, None)
    assert bundle.cert_pem == leaf.cert_pem and bundle.chain_pem == leaf.chain_pem
    with pytest.raises(InputError, match=r"leave"):
        _bundle.build_bundle(leaf.fullchain_pem, leaf.key_pem, leaf.chain_pem)


def test_diff_view_has_no_key() -> None:
    leaf = TestCA("diff root").issue(["d.test"])
    view = _bundle.diff_view(leaf.cert)
    assert set(view) == {"subject", "sans", "serial", "not_after", "fingerprint_sha256"}
    assert _bundle.diff_view(None) == {}
