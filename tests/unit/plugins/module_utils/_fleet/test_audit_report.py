# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet report merge and table (plugins/module_utils/_fleet/audit_report.py)."""

from __future__ import annotations

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import audit_report as _audit_report


def cert(path: str, status: str, seconds: int) -> dict:
    return {"path": path, "subject": "CN=" + path, "sans": ["DNS:%s.test" % path, "DNS:www.%s.test" % path],
            "issuer": "CN=ca", "serial": "01", "fingerprint_sha256": "aa", "not_before": "x", "not_after": "y",
            "seconds_remaining": seconds, "renew_at": "z", "due": status != "ok", "status": status,
            "reasons": [], "lifetime_seconds": 1}


RESULTS = {
    "web-2": {"certificates": [cert("b", "ok", 90 * 86400)], "errors": [{"path": "junk", "error": "corrupt"}],
              "clock": {"synchronized": False, "estimated_error_seconds": 16.0, "state": "unsynchronized"}},
    "web-1": {"certificates": [cert("a", "expired", -7200), cert("c", "due", 20 * 86400)], "errors": [],
              "clock": {"synchronized": True, "estimated_error_seconds": 0.001, "state": "ok"}},
    "db-1": {"unreachable": True, "msg": "ssh: connect to host db-1 port 22: Connection refused"},
    "db-2": {"failed": True, "msg": "the Python library 'cryptography' is missing"},
}


def test_build_fleet_report() -> None:
    report = _audit_report.build_fleet_report(RESULTS, "2026-01-01T00:00:00Z")
    assert [(r["host"], r["path"]) for r in report["certificates"]] == [("web-1", "a"), ("web-1", "c"), ("web-2", "b")]
    assert report["summary"]["counts"] == {
        "revoked": 0, "expired": 1, "invalid": 0, "not_yet_valid": 0, "critical": 0, "due": 1, "ok": 1}
    assert list(report["summary"]["counts"]) == ["revoked", "invalid", "not_yet_valid", "expired", "critical", "due", "ok"]
    assert report["summary"]["worst"] == "expired"
    assert report["summary"]["soonest"]["path"] == "a"
    assert report["errors"] == [{"path": "junk", "error": "corrupt", "host": "web-2"}]
    assert [(h["host"], h["reason"]) for h in report["failed_hosts"]] == [("db-1", "unreachable"), ("db-2", "failed")]
    assert report["summary"]["unsynchronized_clocks"] == 1 and report["hosts"] == 4
    # only the documented row keys travel into the report
    assert "lifetime_seconds" not in report["certificates"][0]


def test_render_table() -> None:
    text = _audit_report.render_table(_audit_report.build_fleet_report(RESULTS), limit=2)
    lines = text.splitlines()
    assert lines[0].split() == ["STATUS", "LEFT", "NOT", "AFTER", "HOST", "PATH", "NAMES"]
    assert lines[1].split()[:3] == ["expired", "-2h", "0m"]
    assert lines[1].endswith("a.test +1")
    assert lines[3] == "... 1 more (see the JSON report)"
    assert "3 certificates on 4 hosts" in text and "2 hosts failed" in text
    assert "error  web-2:junk  corrupt" in text and "host   db-1  unreachable" in text


@pytest.mark.parametrize(("seconds", "text"), [(0, "0m"), (59, "0m"), (3660, "1h 1m"), (90000, "1d 1h"), (-90000, "-1d 1h")])
def test_human_duration(seconds: int, text: str) -> None:
    assert _audit_report.human_duration(seconds) == text


def test_query() -> None:
    report = _audit_report.build_fleet_report(RESULTS)
    assert _audit_report.query(report, "certificates[?status=='expired'].host") == ["web-1"]
    with pytest.raises(ValueError, match="invalid"):
        _audit_report.query(report, "certificates[?")


def test_worst_ignores_statuses_it_does_not_know() -> None:
    """A host on another collection version may report a status this one does not know: counted, never fatal."""
    odd = {"h": {"certificates": [cert("a", "quarantined", 10), cert("b", "due", 20)], "errors": [], "clock": {}}}
    summary = _audit_report.build_fleet_report(odd)["summary"]
    assert summary["counts"]["quarantined"] == 1 and summary["worst"] == "due"
    assert _audit_report.build_fleet_report({})["summary"]["worst"] is None
