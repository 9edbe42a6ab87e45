# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Revocation of scanned certificates: issuer lookup, OCSP first, then the CRL (plugins/module_utils/_tls/revocation.py)."""

from __future__ import annotations

import datetime as dt
import os
import pathlib

from certgen import TestCA, cert_pem, now
from crl_lab import CrlLab
from cryptography import x509
from services import free_port
from test_ocsp import OCSPResponder

from ansible_collections.ghostguard.certs.plugins.module_utils import _expiry
from ansible_collections.ghostguard.certs.plugins.module_utils._policy import Policy
from ansible_collections.ghostguard.certs.plugins.module_utils._tls import revocation as _revocation


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
        assert next(iter(res["summary"]["counts"])) == "revoked"
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
        for _run in range(3):
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


def test_the_plan_orders_a_revoked_certificate_and_says_why() -> None:
    from renew_data import NOW, fleet

    from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import plan as _plan
    from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import renew_report as _renew_report

    hosts = fleet(dict.fromkeys(("api-1", "api-2", "solo", "idle"), False))
    desc = hosts["solo"]["expiry"]["certificates"][0]
    desc.update(status="revoked", due=True, reasons=["revoked"], revocation={
        "method": "crl", "url": "http://crl.test/1.crl", "status": "revoked", "revocation_time": "2026-11-20T00:00:00Z"})
    plan = _plan.build_plan(hosts, {"store": "/s"}, [], NOW)
    assert [o["set"] for o in plan["orders"]] == ["solo.example.com,www.solo.example.com"]
    solo = next(s for s in plan["sets"] if s["set"].startswith("solo"))
    assert solo["why"][0].startswith("solo/solo: revoked by its CA (crl http://crl.test/1.crl, revoked 2026-11-20")
    assert "revoked by its CA" in _plan.plan_table(plan)
    report = _renew_report.build_report(plan, {"solo": [{"name": "solo", "outcome": "renewed", "reason": "proved"}]})
    row = next(r for r in report["rows"] if r["host"] == "solo")
    assert row["outcome"] == "renewed" and row["why"].startswith("revoked by its CA")


def test_the_agent_reports_revoked_caches_the_crl_and_exports_the_status(tmp_path: pathlib.Path) -> None:
    import stat

    from agent_lab import Host

    from ansible_collections.ghostguard.certs.plugins.module_utils._agent import results as _results

    host = Host(tmp_path)
    with CrlLab() as lab:
        host.ca = lab.ca
        good, bad = lab.issue("good.test"), lab.issue("bad.test")
        lost = lab.issue("lost.test", crl_url="http://127.0.0.1:%d/x.crl" % free_port())
        lab.revoke(bad)
        lab.publish()
        for name, issued in (("good", good), ("bad", bad), ("lost", lost)):
            host.install(name, issued)
        host.config([{"name": n, "domains": ["%s.test" % n]} for n in ("good", "bad", "lost")])
        code, out, _err = host.main("check")
        assert code == _results.EXIT_ATTENTION
        assert '"status": "revoked"' in out
        prom = host.prom()
        assert 'ghostguard_cert_status{filepath="%s",name="bad",status="revoked"} 1' % (host.certs / "bad" / "cert.pem") in prom
        assert 'ghostguard_cert_status{filepath="%s",name="good",status="ok"} 1' % (host.certs / "good" / "cert.pem") in prom
        assert 'ghostguard_cert_revocation_check_error{filepath="%s",name="lost"} 1' % (host.certs / "lost" / "cert.pem") in prom
        assert 'ghostguard_cert_revocation_check_error{filepath="%s",name="good"} 0' % (host.certs / "good" / "cert.pem") in prom
        cached = list((host.state / "crl").iterdir())
        assert len(cached) == 1 and stat.S_IMODE(cached[0].stat().st_mode) == 0o644
        host.main("check")
        assert lab.hits["/ca.crl"] == 1  # the second run reads the CRL from the state directory
        host.config([{"name": "good", "domains": ["good.test"]}, {"name": "bad", "domains": ["bad.test"]}],
                    policy={"renew_before": "30d", "revocation_check": False})
        code, out, _err = host.main("check")
        assert code == 0 and '"status": "revoked"' not in out and '"status": "ok"' in out


def test_agent_config_refuses_a_revocation_check_that_is_no_boolean(tmp_path: pathlib.Path) -> None:
    from agent_lab import Host

    host = Host(tmp_path)
    host.config([], policy={"revocation_check": "maybe"})
    code, _out, err = host.main("check")
    assert code == 3 and "revocation_check must be true or false" in err


def test_the_fast_path_asks_again_when_the_crl_is_stale() -> None:
    from ansible_collections.ghostguard.certs.plugins.module_utils._agent import fast as _fast
    from ansible_collections.ghostguard.certs.plugins.module_utils._agent import results as _results

    desc = {"not_after": "2030-01-31T00:00:00Z", "renew_at": "2030-01-01T00:00:00Z",
            "revocation": {"method": "crl", "next_update": "2029-06-01T00:00:00Z"}}
    limits: dict[str, float | None] = {"leeway": 0.0, "alert_before": 0.0, "max_connection_age": None,
                                       "connection_margin": 0.0}
    assert _fast._valid_until(desc, limits) == _results._epoch("2029-06-01T00:00:00Z")
    desc["revocation"] = {"method": None}
    assert _fast._valid_until(desc, limits) == _results._epoch("2030-01-01T00:00:00Z")


def test_the_fleet_report_names_revoked_and_unchecked_certificates() -> None:
    from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import audit_report as _audit_report

    def row(path: str, status: str, error: str | None = None) -> dict:
        out = {"path": path, "subject": "CN=x", "sans": ["DNS:x.test"], "not_after": "2027-01-01T00:00:00Z",
               "seconds_remaining": 100, "due": status != "ok", "status": status, "reasons": [],
               "revocation": {"method": "crl", "status": "revoked" if status == "revoked" else None}}
        if error:
            out["revocation_error"] = error
        return out

    results = {"h": {"certificates": [row("/a.pem", "revoked"), row("/b.pem", "ok", "CRL http://x could not be fetched")],
                     "errors": [], "clock": {}}}
    report = _audit_report.build_fleet_report(results)
    assert report["summary"]["counts"]["revoked"] == 1 and report["summary"]["worst"] == "revoked"
    assert report["summary"]["revocation_errors"] == 1
    assert report["certificates"][0]["revocation"]["method"] == "crl"
    table = _audit_report.render_table(report)
    assert "revoked" in table.splitlines()[1]
    assert "revocation not checked  h:/b.pem  CRL http://x could not be fetched" in table
