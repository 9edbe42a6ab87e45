# SPDX-License-Identifier: GPL-3.0-or-later
"""The run report (plugins/module_utils/_renew_report.py): rescued hosts count as failed, no key material."""

from __future__ import annotations

import json
import typing as t

from ansible_collections.ghostguard.certs.plugins.module_utils import _inventory, _ledger, _plan, _renew_report

NOW = _ledger.parse_time("2026-11-29T12:00:00Z")


def host(certs: list[dict[str, t.Any]], **extra: t.Any) -> dict[str, t.Any]:
    hv: dict[str, t.Any] = {
        "certwatch_cert_dir": "/etc/tls",
        "certwatch_acme": {"directory": "https://acme.test/dir", "email": "ops@example.com", "terms_agreed": True},
        "certwatch_dns": {"provider": "rfc2136", "rfc2136": {"server": "ns1.example.com"}},
        "certwatch_allowed_domains": ["*.example.com"],
        "certwatch_certificates": certs,
    }
    hv.update(extra)
    return hv


def cert(name: str, *domains: str, **extra: t.Any) -> dict[str, t.Any]:
    out: dict[str, t.Any] = {"name": name, "domains": list(domains), "reload": {"systemd": "nginx.service"},
                             "probe": {"port": 443}}
    out.update(extra)
    return out



def described(path: str, domains: list[str], due: bool) -> dict[str, t.Any]:
    return {"path": path, "sans": ["DNS:" + d for d in domains], "due": due, "status": "critical" if due else "ok",
            "reasons": ["alert_window"] if due else [], "not_after": "2026-12-01T00:00:00Z",
            "renew_at": "2026-11-01T00:00:00Z", "fingerprint_sha256": "aa:bb"}


def fleet(due: dict[str, bool]) -> dict[str, dict[str, t.Any]]:
    spec = {"api-1": ("api", ["api.example.com"]), "api-2": ("api", ["API.example.com."]),
            "solo": ("solo", ["solo.example.com", "www.solo.example.com"]), "idle": ("idle", ["idle.example.com"])}
    out = {}
    for name, (cname, domains) in spec.items():
        certs = _inventory.normalize_certificates(name, host([cert(cname, *domains)]))
        out[name] = {"certificates": certs, "unreachable": False,
                     "expiry": {"certificates": [described(certs[0]["cert_path"], certs[0]["domains"], due[name])]}}
    return out


def test_report_counts_rescued_hosts_as_failed_and_never_carries_keys() -> None:
    plan = _plan.build_plan(fleet({"api-1": True, "api-2": True, "solo": True, "idle": False}),
                            {"canary": 1, "batch": 1, "store": "/s"}, [], NOW)
    outcomes = {
        "api-1": [{"name": "api", "outcome": "renewed", "reason": "proved", "proved": True, "key_content": "SECRET"}],
        "api-2": [{"name": "api", "outcome": "rolled_back", "reason": "ghost", "previous_served": True}],
    }
    issued = {"set:api.example.com": {"ok": True, "ordered": True},
              "host:solo:solo": {"ok": True, "ordered": True}}
    report = _renew_report.build_report(plan, outcomes, issued)
    rows = {(r["host"], r["outcome"]) for r in report["rows"]}
    assert rows == {("api-1", "renewed"), ("api-2", "rolled_back"), ("solo", "stopped"), ("idle", "unchanged")}
    assert report["failed_hosts"] == ["api-2"] and not report["ok"] and report["orders_placed"] == 2
    assert "SECRET" not in json.dumps(report)
    assert "ROLLED_BACK  api-2" in _renew_report.report_table(report)
