# SPDX-License-Identifier: GPL-3.0-or-later
"""The run report (plugins/module_utils/_renew_report.py): rescued hosts count as failed, no key material."""

from __future__ import annotations

import json

from renew_data import NOW, fleet

from ansible_collections.ghostguard.certs.plugins.module_utils import _plan, _renew_report


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
