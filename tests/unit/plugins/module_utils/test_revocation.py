# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Revocation of scanned certificates: issuer lookup, OCSP first, then the CRL (plugins/module_utils/_revocation.py)."""

from __future__ import annotations

import datetime as dt
import os
import pathlib

from certgen import TestCA, cert_pem, now
from crl_lab import CrlLab
from cryptography import x509
from services import free_port
from test_ocsp import OCSPResponder

from ansible_collections.ghostguard.certs.plugins.module_utils import _expiry, _revocation
from ansible_collections.ghostguard.certs.plugins.module_utils._policy import Policy


def scan(paths: list[str], **kw: object) -> dict:
    return _expiry.scan(_expiry.ScanRequest(paths=paths, **kw)).facts()  # type: ignore[arg-type]


def by_name(result: dict) -> dict[str, dict]:
    return {os.path.basename(c["path"]): c for c in result["certificates"]}


def test_find_issuer_in_file_beside_it_and_in_the_bundle(tmp_path: pathlib.Path) -> None:
    ca = TestCA("issuer lookup")
    leaf = ca.issue(["x.test"])
    assert _revocation.find_issuer(leaf.cert, leaf.chain, None) == ca.signer
    (tmp_path / "cert.pem").write_bytes(leaf.cert_pem)
    assert _revocation.find_issuer(leaf.cert, [], str(tmp_path / "cert.pem")) is None
    (tmp_path / "chain.pem").write_bytes(leaf.chain_pem)
    assert _revocation.find_issuer(leaf.cert, [], str(tmp_path / "cert.pem")) == ca.signer
    assert _revocation.find_issuer(leaf.cert, [], None, [ca.root, ca.signer]) == ca.signer
    assert _revocation.find_issuer(leaf.cert, [ca.root], None) is None


def test_scan_marks_revoked_first_and_due(tmp_path: pathlib.Path) -> None:
    with CrlLab() as lab:
        good, bad = lab.issue("good.test"), lab.issue("bad.test")
        lab.revoke(bad)
        lab.publish()
        good.write(str(tmp_path), "good")
        bad.write(str(tmp_path), "bad")
        res = scan([str(tmp_path)])
        names = by_name(res)
        assert names["bad.pem"]["status"] == "revoked" and names["bad.pem"]["due"] is True
        assert "revoked" in names["bad.pem"]["reasons"] and names["bad.pem"]["revocation"]["method"] == "crl"
        assert names["good.pem"]["status"] == "ok" and names["good.pem"]["revocation"]["status"] == "good"
        assert "revocation_error" not in names["good.pem"]
        assert res["summary"]["counts"]["revoked"] == 1 and res["summary"]["worst"] == "revoked"
        assert list(res["summary"]["counts"])[0] == "revoked"
        assert res["due"] == [str(tmp_path / "bad.pem")]
        assert lab.hits["/ca.crl"] == 1


def test_revocation_check_false_asks_nothing(tmp_path: pathlib.Path) -> None:
    with CrlLab() as lab:
        bad = lab.issue("bad.test")
        lab.revoke(bad)
        lab.publish()
        bad.write(str(tmp_path), "bad")
        res = scan([str(tmp_path)], policy=Policy.from_options({"revocation_check": False}))
        assert res["certificates"][0]["status"] == "ok" and "revocation" not in res["certificates"][0]
        assert lab.hits == {}


def test_unreachable_crl_is_an_error_field_not_a_failure(tmp_path: pathlib.Path) -> None:
    with CrlLab() as lab:
        lost = lab.issue("lost.test", crl_url="http://127.0.0.1:%d/ca.crl" % free_port())
        lost.write(str(tmp_path), "lost")
        res = scan([str(tmp_path)], revocation_timeout=2.0, fail_on_invalid=True)
        desc = res["certificates"][0]
        assert desc["status"] == "ok" and desc["due"] is False
        assert "could not be fetched" in desc["revocation_error"] and desc["revocation"]["status"] is None
        assert res["errors"] == []


def test_bad_signature_in_a_scan_is_an_error(tmp_path: pathlib.Path) -> None:
    with CrlLab() as lab:
        bad = lab.issue("bad.test")
        lab.revoke(bad)
        lab.publish(bad_signature=True)
        bad.write(str(tmp_path), "bad")
        desc = scan([str(tmp_path)])["certificates"][0]
        assert desc["status"] == "ok" and "signature does not verify" in desc["revocation_error"]


def test_issuer_from_ca_bundle_when_the_file_has_no_chain(tmp_path: pathlib.Path) -> None:
    with CrlLab() as lab:
        bad = lab.issue("bad.test")
        lab.revoke(bad)
        lab.publish()
        path = bad.write(str(tmp_path / "certs"), "bad", bundle=False)
        assert "ca_bundle" in scan([path])["certificates"][0]["revocation_error"]
        bundle = tmp_path / "ca.pem"
        bundle.write_bytes(lab.ca.root_pem + b"".join(cert_pem(c) for c in lab.ca.chain))
        desc = scan([path], ca_bundle=str(bundle))["certificates"][0]
        assert desc["status"] == "revoked"


def test_cache_dir_keeps_the_crl_between_scans(tmp_path: pathlib.Path) -> None:
    with CrlLab() as lab:
        leaf = lab.issue("x.test")
        lab.publish()
        leaf.write(str(tmp_path / "certs"), "x")
        cache = str(tmp_path / "cache")
        for _ in range(3):
            desc = scan([str(tmp_path / "certs")], revocation_cache_dir=cache)["certificates"][0]
            assert desc["revocation"]["status"] == "good"
        assert lab.hits["/ca.crl"] == 1 and desc["revocation"]["cached"] is True


def test_ocsp_first_then_crl_when_ocsp_fails(tmp_path: pathlib.Path) -> None:
    ca = TestCA("ocsp and crl")
    responder = OCSPResponder(ca, set())
    try:
        leaf = responder.leaf(ca)
        answer = _revocation.RevocationChecker().status(leaf, [ca.signer], None)
        assert answer["method"] == "ocsp" and answer["status"] == "good"
    finally:
        responder.server.shutdown()
    with CrlLab() as lab:
        aia = x509.AuthorityInformationAccess([x509.AccessDescription(
            x509.oid.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(
                "http://127.0.0.1:%d/" % free_port()))])
        point = x509.DistributionPoint(full_name=[x509.UniformResourceIdentifier(lab.url())], relative_name=None,
                                       reasons=None, crl_issuer=None)
        both = lab.ca.issue(["both.test"], extensions=[aia, x509.CRLDistributionPoints([point])])
        lab.revoke(both)
        lab.publish()
        answer = _revocation.RevocationChecker(timeout=2).status(both.cert, both.chain, None)
        assert answer["method"] == "crl" and answer["status"] == "revoked"


def test_ocsp_revoked_in_a_scan(tmp_path: pathlib.Path) -> None:
    ca = TestCA("ocsp scan")
    revoked: set[int] = set()
    responder = OCSPResponder(ca, revoked)
    try:
        leaf = responder.leaf(ca)
        revoked.add(leaf.serial_number)
        from certgen import Issued

        Issued(leaf, None, list(ca.chain)).write(str(tmp_path), "o", key=False)
        desc = scan([str(tmp_path)])["certificates"][0]
        assert desc["status"] == "revoked" and desc["revocation"]["method"] == "ocsp"
    finally:
        responder.server.shutdown()


def test_neither_ocsp_nor_crl_and_expired_or_ca_are_not_asked(tmp_path: pathlib.Path) -> None:
    ca = TestCA("plain")
    ca.issue(["plain.test"]).write(str(tmp_path), "plain")
    ca.issue(["old.test"], days=1, not_before=now() - dt.timedelta(days=3)).write(str(tmp_path), "old")
    names = by_name(scan([str(tmp_path)]))
    assert names["plain.pem"]["revocation"]["method"] is None and names["plain.pem"]["status"] == "ok"
    assert names["old.pem"]["revocation"] is None and names["old.pem"]["status"] == "expired"
