# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet plan (plugins/module_utils/_fleet/plan.py): batches as serial makes them, one order per name set."""

from __future__ import annotations

import typing as t

import pytest
from renew_data import NOW, cert, described, fleet, host

from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import inventory as _inventory
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import ledger as _ledger
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import plan as _plan

# ------------------------------------------------------------------------------------------ batches


@pytest.mark.parametrize(
    ("count", "canary", "batch", "sizes"),
    [
        (5, 1, 2, [1, 2, 2]),
        (8, 1, "25%", [1, 2, 2, 2, 1]),
        (3, 0, "50%", [1, 1, 1]),
        (10, 2, "100%", [2, 8]),
        (1, 1, "25%", [1]),
        (0, 1, 2, []),
    ],
)
def test_batches_mirror_ansible_serial(count: int, canary: int, batch: t.Any, sizes: list[int]) -> None:
    hosts = ["h%d" % i for i in range(count)]
    got = _plan.batches(hosts, canary, batch)
    assert [len(b) for b in got] == sizes
    assert [h for b in got for h in b] == hosts


# ------------------------------------------------------------------------------------------ plan and report


def test_plan_orders_once_per_name_set_and_keeps_single_host_keys_on_the_host() -> None:
    hosts = fleet({"api-1": False, "api-2": True, "solo": True, "idle": False})
    hosts["gone"] = {"certificates": _inventory.normalize_certificates("gone", host([cert("api", "api.example.com")])),
                     "unreachable": True, "msg": "ssh: timeout", "expiry": None}
    plan = _plan.build_plan(hosts, {"canary": 1, "batch": 1, "store": "/srv/store"}, [], NOW)
    orders = {o["set"]: o for o in plan["orders"]}
    assert sorted(orders) == ["api.example.com", "solo.example.com,www.solo.example.com"]
    assert orders["api.example.com"]["mode"] == "shared_key" and orders["api.example.com"]["hosts"] == ["api-1", "api-2"]
    assert orders["api.example.com"]["store"].startswith("/srv/store/sets/api.example.com-")
    assert orders["solo.example.com,www.solo.example.com"]["mode"] == "host_key"
    assert plan["roll"] == ["api-1", "api-2", "solo"] and plan["batches"] == [["api-1"], ["api-2"], ["solo"]]
    assert plan["unchanged"][0]["host"] == "idle"
    assert plan["skipped"] == [{"host": "gone", "name": "api", "domains": ["api.example.com"],
                                "reason": "unreachable: ssh: timeout"}]
    table = _plan.plan_table(plan)
    assert "1 order, shared key" in table and "1 order, key on host" in table and "rate limits: ok" in table


def test_key_per_host_orders_per_host_and_nothing_due_orders_nothing() -> None:
    plan = _plan.build_plan(fleet({"api-1": True, "api-2": True, "solo": False, "idle": False}),
                            {"key_per_host": True, "store": "/s"}, [], NOW)
    assert [(o["mode"], o["host"]) for o in plan["orders"]] == [("per_host", "api-1"), ("per_host", "api-2")]
    quiet = _plan.build_plan(fleet(dict.fromkeys(("api-1", "api-2", "solo", "idle"), False)), {"store": "/s"}, [], NOW)
    assert quiet["orders"] == [] and quiet["roll"] == [] and quiet["budget"]["ok"]


def _observed(hosts: dict[str, dict[str, t.Any]], **per_host: dict[str, t.Any]) -> None:
    """Turn the expiry results of *hosts* into observations (as converge state=observed returns them)."""
    for name, data in hosts.items():
        desc = data.pop("expiry")["certificates"][0]
        seen = {"name": data["certificates"][0]["name"], "description": desc, "fingerprint": desc["fingerprint_sha256"],
                "ari_cert_id": "id-" + name, "ghost": False, "unproved": False, "probes": []}
        seen.update(per_host.get(name, {}))
        data["observed"] = [seen]


def test_an_open_ari_window_is_due_and_ordered_with_replaces_exempt_from_the_budget() -> None:
    hosts = fleet(dict.fromkeys(("api-1", "api-2", "solo", "idle"), False))
    _observed(hosts)
    ari = {"id-solo": {"due": True, "start": "2026-11-29T11:00:00Z"}, "id-idle": {"due": False}}
    plan = _plan.build_plan(hosts, {"store": "/s", "limits": {"orders_per_3h": 0}}, [], NOW, ari=ari)
    assert [(o["set"], o["replaces"], o["ari_exempt"]) for o in plan["orders"]] == [
        ("solo.example.com,www.solo.example.com", "id-solo", True)]
    solo = next(s for s in plan["sets"] if s["set"].startswith("solo"))
    assert solo["why"] == ["solo/solo: ari: the CA's renewal window opened 2026-11-29T11:00:00Z"]
    # the ARI renewal is exempt: a budget of 0 orders still admits it
    assert plan["budget"]["ok"] and plan["budget"]["exempt_planned"] == 1 and plan["summary"]["ari_orders"] == 1


def test_a_ghost_or_an_unproved_generation_is_repaired_without_an_order() -> None:
    hosts = fleet(dict.fromkeys(("api-1", "api-2", "solo", "idle"), False))
    _observed(hosts, **{"api-2": {"ghost": True, "probes": [{"endpoint": "127.0.0.1:443", "served_matches": False,
                                                             "served_fingerprint": "cc:dd"}]},
                        "idle": {"unproved": True, "generation": 4}})
    plan = _plan.build_plan(hosts, {"store": "/s", "canary": 1, "batch": 2}, [], NOW)
    assert plan["orders"] == [] and plan["roll"] == ["api-2", "idle"]
    repairs = [(r["host"], r["mode"], r["order"]) for r in plan["repairs"]]
    assert repairs == [("api-2", "repair", None), ("idle", "repair", None)]
    assert plan["repairs"][0]["why"].startswith("ghost: 127.0.0.1:443 serves cc:dd")
    assert plan["repairs"][1]["why"] == "unproved: generation 4 was installed and never proved"
    assert {u["host"] for u in plan["unchanged"]} == {"api-1", "solo"}
    assert "repair: api-2/api (ghost" in _plan.plan_table(plan)


def test_plan_table_shows_an_idn_in_both_forms() -> None:
    certs = _inventory.normalize_certificates("shop-1", host([cert("shop", "bücher.example.com", "www.example.com")]))
    hosts = {"shop-1": {"certificates": certs, "unreachable": False, "expiry": {"certificates": [
        described(certs[0]["cert_path"], ["xn--bcher-kva.example.com", "www.example.com"], True)]}}}
    plan = _plan.build_plan(hosts, {"store": "/s"}, [], NOW)
    assert plan["sets"][0]["domains"] == ["www.example.com", "xn--bcher-kva.example.com"]   # ordered as A-labels
    assert plan["orders"][0]["domains"] == ["www.example.com", "xn--bcher-kva.example.com"]
    row = _plan.plan_table(plan).splitlines()[1]
    assert row.startswith("www.example.com,xn--bcher-kva.example.com (bücher.example.com)  shop-1  1 order, key on host")


def test_the_profile_of_every_name_set_is_in_the_plan_its_orders_and_the_table() -> None:
    hosts = fleet({"api-1": True, "api-2": True, "solo": False, "idle": True})
    for name in ("api-1", "api-2", "solo"):
        hosts[name]["profile"] = "shortlived"
    plan = _plan.build_plan(hosts, {"store": "/s"}, [], NOW)
    sets = {s["set"]: s for s in plan["sets"]}
    assert sets["api.example.com"]["profile"] == "shortlived" and sets["idle.example.com"]["profile"] is None
    assert sets["solo.example.com,www.solo.example.com"]["profile"] == "shortlived"   # not due: shown all the same
    assert {o["set"]: o["profile"] for o in plan["orders"]} == {"api.example.com": "shortlived", "idle.example.com": None}
    table = _plan.plan_table(plan).splitlines()
    assert table[0].split() == ["NAME", "SET", "HOSTS", "ACTION", "CA", "BATCH", "PROFILE", "WHY"]
    column = table[0].index("PROFILE")
    rows = {line.split()[0]: line[column:].split()[0] for line in table[1:4]}
    assert rows == {"api.example.com": "shortlived", "idle.example.com": "-",
                    "solo.example.com,www.solo.example.com": "shortlived"}   # not due: the profile its renewal keeps


def test_a_short_lived_certificate_enters_alert_before_at_half_its_renewal_window() -> None:
    """A 6-day certificate renewed at 3 days left: with alert_before 72h its deadline (for the rate-limit schedule)
    is 36 hours before notAfter, not the moment it became due; a 90-day one keeps alert_before."""
    hosts = fleet({"api-1": False, "api-2": False, "solo": True, "idle": True})
    short = hosts["solo"]["expiry"]["certificates"][0]
    short.update(not_after="2026-12-02T00:00:00Z", renew_at="2026-11-29T00:00:00Z")
    hosts["idle"]["expiry"]["certificates"][0].update(not_after="2027-01-01T00:00:00Z", renew_at="2026-12-02T00:00:00Z")
    plan = _plan.build_plan(hosts, {"store": "/s", "limits": {"orders_per_3h": 1}}, [], NOW)
    deadline = {o["set"]: o["deadline"] for o in plan["orders"] + plan["deferred"]}
    assert deadline["solo.example.com,www.solo.example.com"] == _ledger.parse_epoch("2026-11-30T12:00:00Z")
    assert deadline["idle.example.com"] == _ledger.parse_epoch("2026-12-29T00:00:00Z")
    # one order per 3 hours: the short-lived one first, the other deferred 3 hours and still in time
    assert [o["set"] for o in plan["orders"]] == ["solo.example.com,www.solo.example.com"]
    assert plan["budget"]["ok"] and not plan["deferred"][0]["late"]
