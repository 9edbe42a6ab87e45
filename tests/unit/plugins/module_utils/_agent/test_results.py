# SPDX-License-Identifier: GPL-3.0-or-later
"""What a run reports: time left, exit codes, the status table, x509-exporter label values."""

from __future__ import annotations

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils._agent import results as report


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "-"), (0, "0h00m"), (59 * 60, "0h59m"), (3 * 86400 + 5 * 3600 + 1, "3d05h"), (-90 * 60, "-1h30m"),
])
def test_time_left(seconds: int | None, text: str) -> None:
    assert report._left(seconds) == text


@pytest.mark.parametrize(("subject", "cn"), [
    ("CN=shop.example.com,O=Shop", "shop.example.com"), ("O=Only Org", ""), (None, ""), ("C=DE,CN=R11", "R11"),
])
def test_common_name(subject: str | None, cn: str) -> None:
    assert report._cn(subject) == cn


def result(status: str, matches: bool | None = True, error: str | None = None, failure: str | None = None) -> report.CertResult:
    probe = {"endpoint": "127.0.0.1:443", "served_fingerprint": "aa:bb" if matches is False else "ff:ee",
             "served_matches": matches, "error": error, "handshake_ms": 1.0}
    desc = {"fingerprint_sha256": "ff:ee", "seconds_remaining": 86400 * 40, "renew_at": "2027-01-01T00:00:00Z",
            "not_after": "2027-02-01T00:00:00Z"}
    return report.CertResult("web", "/c.pem", status, description=desc, probes=[probe], failure=failure)


@pytest.mark.parametrize(("results", "code"), [
    ([result("ok")], report.EXIT_OK),
    ([result("ok"), result("due")], report.EXIT_ATTENTION),
    ([result("ok", matches=False)], report.EXIT_ATTENTION),
    ([result("ok", matches=None, error="refused")], report.EXIT_ATTENTION),
    ([result("missing")], report.EXIT_ATTENTION),
    ([result("due"), result("ok", failure="proof")], report.EXIT_FAILED),
])
def test_exit_codes(results: list[report.CertResult], code: int) -> None:
    assert report.exit_code(results) == code


def test_status_table_names_the_ghost_and_the_next_step() -> None:
    summary = {"mode": "report", "last_run": None, "last_success": None, "clock": {"synchronized": True},
               "last_outcomes": {"web": "ghost"}}
    text = report.status_table([result("ok", matches=False)], summary)
    lines = text.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "LEFT", "RENEW", "AT", "SERVED", "LAST", "RUN", "OUTCOME"]
    assert lines[1].split() == ["web", "ok", "40d00h", "2027-01-01T00:00:00Z", "GHOST", "aa:bb", "ghost"]
    assert "mode report; last run never; last success never; clock synchronised" in text
    assert "web: 127.0.0.1:443 serves aa:bb, the file holds ff:ee: reload the service" in text


def test_the_agents_labels_are_the_engines() -> None:
    """The agent spells out the engine's statuses and handshake errors (fast path); they must not drift."""
    from ansible_collections.ghostguard.certs.plugins.module_utils import _policy
    from ansible_collections.ghostguard.certs.plugins.module_utils._tls import handshake as _handshake

    assert set(report.STATUSES) == set(_policy.STATUSES) | {"missing"}
    assert set(report.ATTENTION) == set(report.STATUSES) - {"ok"}
    assert report.HANDSHAKE_ERRORS == _handshake.ERROR_CLASSES
