# SPDX-License-Identifier: GPL-3.0-or-later
"""The run report (plugins/module_utils/_fleet/renew_report.py): rescued hosts count as failed, no key material."""

from __future__ import annotations

import json
import re

from renew_data import NOW, cert, described, fleet, host

from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import inventory as _inventory
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import plan as _plan
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import renew_report as _renew_report


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


def test_report_rows_carry_their_names_and_show_an_idn_in_both_forms() -> None:
    hosts = fleet({"api-1": True, "api-2": False, "solo": False, "idle": False})
    idn = _inventory.normalize_certificates("idn", host([cert("shop", "例え.example.com")]))
    hosts["idn"] = {"certificates": idn, "unreachable": False,
                    "expiry": {"certificates": [described(idn[0]["cert_path"], idn[0]["domains"], False)]}}
    hosts["gone"] = {"certificates": idn, "unreachable": True, "msg": "ssh: timeout", "expiry": None}
    plan = _plan.build_plan(hosts, {"canary": 1, "batch": 1, "store": "/s"}, [], NOW)
    report = _renew_report.build_report(plan, {"api-1": [{"name": "api", "outcome": "renewed", "proved": True}]},
                                        {"set:api.example.com": {"ok": True, "ordered": True}})
    rows = {(r["host"], r["name"]): r for r in report["rows"]}
    assert rows[("api-1", "api")]["domains"] == ["api.example.com"]              # a renewed row
    assert rows[("idn", "shop")]["domains"] == ["xn--r8jz45g.example.com"]        # an unchanged row
    assert rows[("gone", "shop")]["domains"] == ["xn--r8jz45g.example.com"]       # a failed (unreachable) row
    table = _renew_report.report_table(report)
    assert table.splitlines()[0].split() == ["OUTCOME", "HOST", "CERTIFICATE", "NAMES", "CA", "BATCH", "NOT", "AFTER",
                                             "SERVED", "REASON"]
    assert re.search(r"^UNCHANGED +idn +shop +xn--r8jz45g\.example\.com \(例え\.example\.com\)  ", table, re.M), table
    assert re.search(r"^RENEWED +api-1 +api +api\.example\.com +- +1 ", table, re.M), table
    # columns line up in a terminal: the wide characters of the Unicode form take two columns each
    header, row = table.splitlines()[0], next(x for x in table.splitlines() if "(例え" in x and " idn " in x)
    assert _renew_report._width(row[:row.index("  -  ") + 2]) == _renew_report._width(header[:header.index("CA ")])
    assert "<td>xn--r8jz45g.example.com (例え.example.com)</td>" in _renew_report.html(report)


def test_a_deferred_idn_shows_both_forms_in_the_plan_and_the_report() -> None:
    certs = _inventory.normalize_certificates("idn", host([cert("shop", "例え.example.com")]))
    hosts = {"idn": {"certificates": certs, "unreachable": False,
                     "expiry": {"certificates": [described(certs[0]["cert_path"], certs[0]["domains"], True)]}}}
    plan = _plan.build_plan(hosts, {"store": "/s", "limits": {"orders_per_3h": 0}}, [], NOW)
    assert [d["domains"] for d in plan["deferred"]] == [["xn--r8jz45g.example.com"]]
    assert "xn--r8jz45g.example.com (例え.example.com) (idn)" in _plan.plan_table(plan)
    report = _renew_report.build_report(plan, {})
    (row,) = report["rows"]
    assert row["outcome"] in ("deferred", "failed") and row["domains"] == ["xn--r8jz45g.example.com"]
    assert "xn--r8jz45g.example.com (例え.example.com)" in _renew_report.report_table(report)
