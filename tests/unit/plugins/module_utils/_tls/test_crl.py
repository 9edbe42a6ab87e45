# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""CRLs from a CA of the test's own, served on loopback (plugins/module_utils/_tls/crl.py)."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import stat
import threading

from certgen import TestCA, now
from crl_lab import CrlLab
from cryptography import x509
from services import free_port

from ansible_collections.ghostguard.certs.plugins.module_utils._tls import crl as _crl


def test_good_and_revoked_by_the_crl() -> None:
    with CrlLab() as lab:
        good, bad = lab.issue("good.test"), lab.issue("bad.test")
        lab.revoke(bad)
        lab.publish()
        fetcher = _crl.CrlFetcher()
        ok = fetcher.status(good.cert, lab.ca.signer)
        gone = fetcher.status(bad.cert, lab.ca.signer)
        assert ok is not None and gone is not None
        assert ok["status"] == "good" and ok["error"] is None and ok["url"] == lab.url() and ok["next_update"]
        assert gone["status"] == "revoked" and gone["revocation_time"] and gone["method"] == "crl"
        assert lab.hits["/ca.crl"] == 1 and fetcher.fetches == 1  # one download per URL in a scan


def test_no_distribution_point_is_none_and_ldap_only_is_none() -> None:
    ca = TestCA("no crl")
    assert _crl.CrlFetcher().status(ca.issue(["plain.test"]).cert, ca.signer) is None
    ldap = x509.DistributionPoint(full_name=[x509.UniformResourceIdentifier("ldap://ldap.test/cn=crl")],
                                  relative_name=None, reasons=None, crl_issuer=None)
    leaf = ca.issue(["ldap.test"], extensions=[x509.CRLDistributionPoints([ldap])]).cert
    assert _crl.crl_urls(leaf) == [] and _crl.CrlFetcher().status(leaf, ca.signer) is None


def test_bad_signature_is_an_error_not_a_revocation() -> None:
    with CrlLab() as lab:
        bad = lab.issue("bad.test")
        lab.revoke(bad)
        lab.publish(bad_signature=True)
        answer = _crl.CrlFetcher().status(bad.cert, lab.ca.signer)
        assert answer is not None and answer["status"] is None
        assert "signature does not verify" in answer["error"]


def test_crl_of_another_issuer_is_refused() -> None:
    with CrlLab() as lab:
        leaf = lab.issue("x.test")
        lab.publish()
        other = TestCA("other root")
        answer = _crl.CrlFetcher().status(leaf.cert, other.signer)
        assert answer is not None and answer["status"] is None and "not by the certificate's issuer" in answer["error"]


def test_unreachable_url_is_an_error_within_the_timeout() -> None:
    with CrlLab() as lab:
        leaf = lab.issue("x.test", crl_url="http://127.0.0.1:%d/ca.crl" % free_port())
        started = dt.datetime.now()
        answer = _crl.CrlFetcher(timeout=2).status(leaf.cert, lab.ca.signer)
        assert (dt.datetime.now() - started).total_seconds() < 3
        assert answer is not None and answer["status"] is None
        assert "could not be fetched" in answer["error"] and "not assumed" in answer["error"]
        missing = lab.issue("y.test", crl_url=lab.url("/nothing.crl"))
        answer = _crl.CrlFetcher().status(missing.cert, lab.ca.signer)
        assert answer is not None and "HTTP 404" in answer["error"]


def test_a_silent_server_is_cut_by_the_timeout() -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    try:
        ca = TestCA("silent")
        point = x509.DistributionPoint(full_name=[x509.UniformResourceIdentifier(
            "http://127.0.0.1:%d/ca.crl" % listener.getsockname()[1])], relative_name=None, reasons=None, crl_issuer=None)
        leaf = ca.issue(["s.test"], extensions=[x509.CRLDistributionPoints([point])]).cert
        started = dt.datetime.now()
        answer = _crl.CrlFetcher(timeout=1).status(leaf, ca.signer)
        assert (dt.datetime.now() - started).total_seconds() < 2.5
        assert answer is not None and answer["status"] is None and "timed out" in answer["error"]
    finally:
        listener.close()


def test_missing_issuer_is_an_error() -> None:
    with CrlLab() as lab:
        answer = _crl.CrlFetcher().status(lab.issue("x.test").cert, None)
        assert answer is not None and answer["status"] is None and "ca_bundle" in answer["error"]
        assert lab.hits == {}


def test_cache_is_kept_until_next_update_then_fetched_again(tmp_path: pathlib.Path) -> None:
    with CrlLab() as lab:
        leaf = lab.issue("x.test")
        lab.publish(next_update=dt.timedelta(hours=2))
        cache = str(tmp_path / "crl")
        first = _crl.CrlFetcher(cache_dir=cache).status(leaf.cert, lab.ca.signer)
        assert first is not None and first["status"] == "good" and first["cached"] is False
        files = os.listdir(cache)
        assert files == [os.path.basename(_crl.cache_path(cache, lab.url()))]
        assert stat.S_IMODE(os.stat(os.path.join(cache, files[0])).st_mode) == 0o644  # CRLs are public
        lab.revoke(leaf)
        lab.publish(next_update=dt.timedelta(hours=2))  # revoked now, but the cached list is still current
        second = _crl.CrlFetcher(cache_dir=cache).status(leaf.cert, lab.ca.signer)
        assert second is not None and second["status"] == "good" and second["cached"] is True
        assert lab.hits["/ca.crl"] == 1
        later = _crl.CrlFetcher(cache_dir=cache, clock=lambda: now() + dt.timedelta(hours=3))
        third = later.status(leaf.cert, lab.ca.signer)
        assert third is not None and third["status"] == "revoked" and third["cached"] is False
        assert lab.hits["/ca.crl"] == 2 and later.fetches == 1


def test_corrupt_cache_file_is_fetched_again(tmp_path: pathlib.Path) -> None:
    with CrlLab() as lab:
        leaf = lab.issue("x.test")
        lab.publish()
        cache = str(tmp_path)
        pathlib.Path(_crl.cache_path(cache, lab.url())).write_bytes(b"not a crl")
        answer = _crl.CrlFetcher(cache_dir=cache).status(leaf.cert, lab.ca.signer)
        assert answer is not None and answer["status"] == "good" and lab.hits["/ca.crl"] == 1
        assert _crl.parse_crl(pathlib.Path(_crl.cache_path(cache, lab.url())).read_bytes()).issuer == lab.ca.signer.subject


def test_unwritable_cache_only_costs_a_fetch(tmp_path: pathlib.Path) -> None:
    with CrlLab() as lab:
        leaf = lab.issue("x.test")
        lab.publish()
        blocker = tmp_path / "file"
        blocker.write_text("")
        answer = _crl.CrlFetcher(cache_dir=str(blocker / "crl")).status(leaf.cert, lab.ca.signer)
        assert answer is not None and answer["status"] == "good"


def test_concurrent_scans_share_the_cache_without_torn_files(tmp_path: pathlib.Path) -> None:
    with CrlLab() as lab:
        leaf = lab.issue("x.test")
        lab.publish()
        cache = str(tmp_path)
        answers: list[object] = []

        def one() -> None:
            answer = _crl.CrlFetcher(cache_dir=cache).status(leaf.cert, lab.ca.signer)
            answers.append(answer and answer["status"])

        threads = [threading.Thread(target=one) for _thread in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answers == ["good"] * 8
        assert [n for n in os.listdir(cache) if n.endswith(".tmp")] == []
        assert _crl.parse_crl(pathlib.Path(_crl.cache_path(cache, lab.url())).read_bytes()).next_update_utc


def test_pem_crl_and_redirect_are_read() -> None:
    with CrlLab() as lab:
        leaf = lab.issue("x.test", crl_url=lab.url("/pem.crl"))
        lab.revoke(leaf)
        der = lab.crl()
        crl = x509.load_der_x509_crl(der)
        from cryptography.hazmat.primitives import serialization

        lab.files["/pem.crl"] = crl.public_bytes(serialization.Encoding.PEM)
        answer = _crl.CrlFetcher().status(leaf.cert, lab.ca.signer)
        assert answer is not None and answer["status"] == "revoked"
