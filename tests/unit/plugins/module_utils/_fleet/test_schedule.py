# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rate limits as a schedule (plugins/module_utils/_fleet/schedule.py): most urgent first, the rest deferred to
when the budget admits them, a failure only when a deferral runs past alert_before."""

from __future__ import annotations

import typing as t

from renew_data import NOW, cert, described, host

from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import inventory as _inventory
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import ledger as _ledger
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import plan as _plan
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import renew_report as _renew_report
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet.schedule import schedule

DAY = 86400.0


def order(i: int, deadline: float | None = NOW + 30 * DAY, exempt: bool = False, domain: str = "") -> dict[str, t.Any]:
    return {"id": "o%02d" % i, "domains": [domain or "h%02d.example%d.com" % (i, i)], "ari_exempt": exempt,
            "deadline": deadline}


def test_everything_fits_now() -> None:
    verdict = schedule([order(i) for i in range(3)], [], {}, NOW)
    assert verdict["ok"] and verdict["deferred"] == [] and verdict["admitted"] == 3
    assert set(verdict["admit"].values()) == {_ledger.epoch_iso(NOW)}


def test_the_most_urgent_first_the_rest_when_the_window_admits_them() -> None:
    orders = [order(i, deadline=NOW + (20 - i) * DAY) for i in range(10)]   # o09 is the most urgent
    verdict = schedule(orders, [], {"orders_per_3h": 4}, NOW)
    assert verdict["ok"], verdict["refused"]
    admit = verdict["admit"]
    assert sorted(o for o, when in admit.items() if when == _ledger.epoch_iso(NOW)) == ["o06", "o07", "o08", "o09"]
    assert sorted(o for o, when in admit.items() if when == _ledger.epoch_iso(NOW + 3 * 3600)) == ["o02", "o03", "o04", "o05"]
    assert sorted(o for o, when in admit.items() if when == _ledger.epoch_iso(NOW + 6 * 3600)) == ["o00", "o01"]
    assert [d["limit"] for d in verdict["deferred"]] == ["orders_per_3h"] * 6
    (account,) = [c for c in verdict["checks"] if c["limit"] == "orders_per_3h"]
    assert account == {"limit": "orders_per_3h", "scope": "account", "used": 0, "planned": 4, "max": 4, "ok": True}


def test_the_ledger_counts_and_a_deferral_past_alert_before_fails() -> None:
    ledger = [{"time": _ledger.epoch_iso(NOW - 2 * 3600), "domains": ["old.example9.com"]},
              {"time": _ledger.epoch_iso(NOW - 3600), "domains": ["old.example9.com"]},
              {"time": _ledger.epoch_iso(NOW - 60), "domains": ["x.example9.com"], "replaces": "abc"}]   # ARI: exempt
    orders = [order(1, deadline=NOW + 30 * DAY), order(2, deadline=NOW + 1800)]
    verdict = schedule(orders, ledger, {"orders_per_3h": 3}, NOW)
    # one slot left: the urgent o02 now; o01 when the ledger's first order leaves the 3-hour window
    assert verdict["admit"] == {"o02": _ledger.epoch_iso(NOW), "o01": _ledger.epoch_iso(NOW + 3600)}
    assert verdict["ok"] and verdict["exempt_orders_week"] == 1
    verdict = schedule([order(1, deadline=NOW + 600), order(2, deadline=NOW + 1800)], ledger, {"orders_per_3h": 3}, NOW)
    assert not verdict["ok"]
    (late,) = verdict["deferred"]
    assert late["id"] == "o02" and late["late"] and late["admit_at"] == _ledger.epoch_iso(NOW + 3600)
    times = (_ledger.epoch_iso(NOW + 3600), _ledger.epoch_iso(NOW + 1800))
    assert verdict["refused"] == ["h02.example2.com: the rate limits admit it at %s, but it enters alert_before at %s "
                                  "(orders_per_3h for account, 3 allowed)" % times]


def test_ari_renewals_are_exempt_and_a_zero_limit_never_admits() -> None:
    orders = [order(1, exempt=True), order(2, domain="a.example.com"), order(3, domain="b.example.com", deadline=None)]
    verdict = schedule(orders, [], {"per_registered_domain_week": 0}, NOW)
    assert verdict["admit"] == {"o01": _ledger.epoch_iso(NOW)} and verdict["exempt_planned"] == 1
    assert [(d["id"], d["admit_at"], d["late"], d["limit"], d["scope"]) for d in verdict["deferred"]] == [
        ("o03", None, True, "per_registered_domain_week", "example.com"),
        ("o02", None, True, "per_registered_domain_week", "example.com")]
    assert "b.example.com: not within 30 days, but it has no valid certificate" in verdict["refused"][0]


def test_a_week_limit_defers_by_days() -> None:
    orders = [order(i, domain="s%d.shop.example.com" % i, deadline=NOW + 40 * DAY) for i in range(7)]
    verdict = schedule(orders, [], {"per_registered_domain_week": 5}, NOW)
    assert verdict["ok"] and verdict["admitted"] == 5
    assert {d["admit_at"] for d in verdict["deferred"]} == {_ledger.epoch_iso(NOW + 7 * DAY)}


def _fleet(n: int) -> dict[str, dict[str, t.Any]]:
    out = {}
    for i in range(n):
        certs = _inventory.normalize_certificates("h%d" % i, host([cert("c", "h%d.example.com" % i)]))
        desc = described(certs[0]["cert_path"], certs[0]["domains"], True)
        desc["not_after"] = _ledger.epoch_iso(NOW + (10 + i) * DAY)
        out["h%d" % i] = {"certificates": certs, "unreachable": False, "expiry": {"certificates": [desc]}}
    return out


def test_the_plan_defers_and_the_report_says_until_when() -> None:
    plan = _plan.build_plan(_fleet(5), {"canary": 0, "batch": 5, "limits": {"orders_per_3h": 2}}, [], now=NOW)
    assert [o["hosts"] for o in plan["orders"]] == [["h0"], ["h1"]]       # the earliest not_after first
    assert [(o["hosts"], o["admit_at"], o["late"]) for o in plan["deferred"]] == [
        (["h2"], _ledger.epoch_iso(NOW + 3 * 3600), False), (["h3"], _ledger.epoch_iso(NOW + 3 * 3600), False),
        (["h4"], _ledger.epoch_iso(NOW + 6 * 3600), False)]
    assert plan["roll"] == ["h0", "h1"] and plan["summary"]["deferred"] == 3 and plan["budget"]["ok"]
    text = _plan.plan_table(plan)
    assert "deferred: h2.example.com (h2) until %s (orders_per_3h for account)" % _ledger.epoch_iso(NOW + 3 * 3600) in text
    assert "rate limits: 2 orders now, 3 deferred" in text
    report = _renew_report.build_report(plan, {"h0": [{"name": "c", "outcome": "renewed"}],
                                               "h1": [{"name": "c", "outcome": "renewed"}]})
    rows = {r["host"]: r for r in report["rows"]}
    assert rows["h4"]["outcome"] == "deferred" and rows["h4"]["admit_at"] == _ledger.epoch_iso(NOW + 6 * 3600)
    assert "ordered by a run from %s" % _ledger.epoch_iso(NOW + 6 * 3600) in rows["h4"]["reason"]
    assert report["ok"] and report["counts"]["deferred"] == 3
    assert "3 deferred" in _renew_report.report_table(report)


def test_a_late_deferral_fails_its_hosts_and_the_run() -> None:
    fleet = _fleet(3)
    fleet["h2"]["expiry"]["certificates"][0]["not_after"] = _ledger.epoch_iso(NOW + 3 * DAY + 3600)   # alert at +1 h
    plan = _plan.build_plan(fleet, {"canary": 0, "batch": 5, "limits": {"orders_per_3h": 1}}, [], now=NOW)
    assert [o["hosts"] for o in plan["orders"]] == [["h2"]]     # the most urgent is ordered now
    assert not [o for o in plan["deferred"] if o["late"]]
    plan = _plan.build_plan(fleet, {"canary": 0, "batch": 5, "limits": {"orders_per_3h": 1, "per_name_set_week": 5}},
                            [{"time": _ledger.epoch_iso(NOW - 60), "domains": ["x.example.com"]}], now=NOW)
    assert plan["orders"] == [] and not plan["budget"]["ok"]
    report = _renew_report.build_report(plan, {})
    assert report["failures"]["h2"][0].startswith("c: failed - deferred by the CA's rate limits")
    assert "but it enters alert_before first" in report["failures"]["h2"][0]
    assert not report["ok"] and "defer 1 name set(s) past the time they enter alert_before" in report["problems"][0]
    assert "LATE: h2.example.com (h2) until" in _plan.plan_table(plan)
