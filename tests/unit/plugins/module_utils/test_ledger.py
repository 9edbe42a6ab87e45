# SPDX-License-Identifier: GPL-3.0-or-later
"""renew_store (plugins/module_utils/_ledger.py): the rate-limit budget on the order ledger, the ledger, the issue lock."""

from __future__ import annotations

import json
import multiprocessing
import os
import pathlib
import time
import typing as t

import pytest
from renew_data import NOW

from ansible_collections.ghostguard.certs.plugins.module_utils import _errors, _ledger

# ------------------------------------------------------------------------------------------ budget and ledger


def entry(hours_ago: float, *domains: str, replaces: bool = False) -> dict[str, t.Any]:
    return {"time": _ledger.iso(NOW - hours_ago * 3600), "domains": list(domains), "replaces": replaces}


def test_budget_counts_the_ledger_within_each_window_and_exempts_ari_renewals() -> None:
    ledger = [entry(1, "a.example.com")] * 3 + [entry(4, "a.example.com")] + [entry(24 * 8, "a.example.com")] * 9
    ledger += [entry(1, "a.example.com", replaces=True)] * 20
    verdict = _ledger.budget([["a.example.com"]], ledger, {"per_name_set_week": 5, "orders_per_3h": 4}, NOW)
    checks = {(c["limit"], c["scope"]): c for c in verdict["checks"]}
    assert checks[("orders_per_3h", "account")]["used"] == 3
    assert checks[("per_name_set_week", "a.example.com")]["used"] == 4
    assert checks[("per_registered_domain_week", "example.com")]["used"] == 4
    assert verdict["ok"] and verdict["exempt_orders_week"] == 20
    over = _ledger.budget([["a.example.com"], ["a.example.com"]], ledger, {"per_name_set_week": 5, "orders_per_3h": 4}, NOW)
    assert not over["ok"]
    assert over["refused"] == ["orders_per_3h for account: 3 used + 2 planned > 4 allowed",
                               "per_name_set_week for a.example.com: 4 used + 2 planned > 5 allowed"]


def test_budget_defaults_are_lets_encrypts() -> None:
    verdict = _ledger.budget([["x.example.com"]], [], None, NOW)
    assert verdict["limits"] == {"per_registered_domain_week": 50, "per_name_set_week": 5, "orders_per_3h": 300}
    domains = [["n%d.example.com" % i] for i in range(51)]
    refused = _ledger.budget(domains, [], None, NOW)
    assert refused["refused"] == ["per_registered_domain_week for example.com: 0 used + 51 planned > 50 allowed"]


def test_ledger_records_under_a_lock_and_forgets_after_a_week(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "store" / "ledger.json")
    assert _ledger.load_ledger(path) == []
    old = {"time": _ledger.iso(time.time() - 8 * 86400), "domains": ["old.example.com"]}
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as handle:
        json.dump([old], handle)
    kept = _ledger.record_orders(path, [{"time": _ledger.iso(time.time()), "domains": ["a.example.com"], "replaces": False}])
    assert [e["domains"] for e in kept] == [["a.example.com"]]
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    with open(path, "w") as handle:
        handle.write("{not json")
    with pytest.raises(_errors.InputError, match=r"ledger .* is unreadable"):
        _ledger.load_ledger(path)


def _record_many(path: str, worker: int) -> None:
    for i in range(20):
        _ledger.record_orders(path, [{"time": _ledger.iso(time.time()), "domains": ["w%d-%d.example.com" % (worker, i)]}])


def test_concurrent_slices_lose_no_ledger_entry(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "ledger.json")
    procs = [multiprocessing.Process(target=_record_many, args=(path, w)) for w in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
    assert len(_ledger.load_ledger(path)) == 60


def test_issue_lock_waits_for_its_holder_and_takes_over_a_stale_one(tmp_path: pathlib.Path) -> None:
    lock = str(tmp_path / "issue.lock")
    assert _ledger.acquire_lock(lock, "slice-1", 1, 3600)["acquired"]
    with pytest.raises(_errors.FileSystemError, match="held by slice-1"):
        _ledger.acquire_lock(lock, "slice-2", 0.5, 3600)
    assert not _ledger.release_lock(lock, "slice-2") and os.path.exists(lock)
    os.utime(lock, (time.time() - 7200, time.time() - 7200))
    got = _ledger.acquire_lock(lock, "slice-2", 1, 3600)
    assert got["broke_stale"] == "slice-1"
    assert _ledger.release_lock(lock, "slice-2") and not os.path.exists(lock)
