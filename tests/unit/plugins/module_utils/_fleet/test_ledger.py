# SPDX-License-Identifier: GPL-3.0-or-later
"""renew_store (plugins/module_utils/_fleet/ledger.py): the rate-limit budget on the order ledger, the ledger, the issue lock."""

from __future__ import annotations

import json
import multiprocessing
import os
import pathlib
import re
import signal
import socket
import threading
import time
import typing as t

import pytest
from renew_data import NOW

from ansible_collections.ghostguard.certs.plugins.module_utils import _errors
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import ledger as _ledger
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet.schedule import schedule

# ------------------------------------------------------------------------------------------ budget and ledger


def entry(hours_ago: float, *domains: str, replaces: bool = False) -> dict[str, t.Any]:
    return {"time": _ledger.epoch_iso(NOW - hours_ago * 3600), "domains": list(domains), "replaces": replaces}


def test_the_schedule_counts_the_ledger_within_each_window_and_exempts_ari_renewals() -> None:
    ledger = [entry(1, "a.example.com")] * 3 + [entry(4, "a.example.com")] + [entry(24 * 8, "a.example.com")] * 9
    ledger += [entry(1, "a.example.com", replaces=True)] * 20
    one = [{"id": "a", "domains": ["a.example.com"], "deadline": NOW + 30 * 86400}]
    verdict = schedule(one, ledger, {"per_name_set_week": 5, "orders_per_3h": 4}, NOW)
    checks = {(c["limit"], c["scope"]): c for c in verdict["checks"]}
    assert checks[("orders_per_3h", "account")]["used"] == 3
    assert checks[("per_name_set_week", "a.example.com")]["used"] == 4
    assert checks[("per_registered_domain_week", "example.com")]["used"] == 4
    assert verdict["ok"] and verdict["exempt_orders_week"] == 20 and verdict["deferred"] == []
    two = [*one, {"id": "b", "domains": ["a.example.com"], "deadline": NOW + 30 * 86400}]
    over = schedule(two, ledger, {"per_name_set_week": 5, "orders_per_3h": 4}, NOW)
    (later,) = over["deferred"]
    # the 5th order of the name set this week waits until the oldest of the week's 4 leaves the week
    assert later["limit"] == "per_name_set_week" and later["admit_at"] == _ledger.epoch_iso(NOW - 4 * 3600 + 7 * 86400)


def test_the_limits_default_to_lets_encrypts() -> None:
    orders = [{"id": "n%02d" % i, "domains": ["n%d.example.com" % i], "deadline": None} for i in range(51)]
    verdict = schedule(orders, [], None, NOW)
    assert verdict["limits"] == {"per_registered_domain_week": 50, "per_name_set_week": 5, "orders_per_3h": 300}
    assert verdict["admitted"] == 50 and [(d["limit"], d["scope"]) for d in verdict["deferred"]] == [
        ("per_registered_domain_week", "example.com")]


@pytest.mark.parametrize(("name", "registered"), [
    ("api.example.com.cn", "example.com.cn"),   # not com.cn, as the last two labels would say
    ("*.www.example.co.uk", "example.co.uk"),
    ("shop.example.com", "example.com"),
    ("a.b.example.test", "example.test"),
    ("www.xn--bcher-kva.de", "xn--bcher-kva.de"),
])
def test_registered_domain_comes_from_the_public_suffix_list(name: str, registered: str) -> None:
    assert _ledger.registered_domain(name) == registered


def test_per_domain_limit_counts_each_registered_domain_under_a_public_suffix() -> None:
    from ansible_collections.ghostguard.certs.plugins.module_utils._fleet.schedule import schedule

    ledger = [entry(2, "api.example.com.cn")] * 3 + [entry(2, "www.other.com.cn")]
    orders = [{"id": "shop", "domains": ["shop.example.com.cn"], "deadline": NOW + 30 * 86400},
              {"id": "mail", "domains": ["mail.third.com.cn"], "deadline": NOW + 30 * 86400}]
    verdict = schedule(orders, ledger, {"per_registered_domain_week": 3}, NOW)
    checks = {c["scope"]: c for c in verdict["checks"] if c["limit"] == "per_registered_domain_week"}
    assert set(checks) == {"example.com.cn", "third.com.cn"}   # nothing counts against com.cn
    assert (checks["example.com.cn"]["used"], checks["third.com.cn"]["used"]) == (3, 0)
    assert verdict["admit"]["mail"] == _ledger.epoch_iso(NOW)        # other.com.cn's order does not hold third.com.cn back
    (deferred,) = verdict["deferred"]
    assert (deferred["id"], deferred["limit"], deferred["scope"]) == ("shop", "per_registered_domain_week", "example.com.cn")


def test_ledger_records_under_a_lock_and_forgets_after_a_week(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "store" / "ledger.json")
    assert _ledger.load_ledger(path) == []
    old = {"time": _ledger.epoch_iso(time.time() - 8 * 86400), "domains": ["old.example.com"]}
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as handle:
        json.dump([old], handle)
    kept = _ledger.record_orders(path, [{"time": _ledger.epoch_iso(time.time()), "domains": ["a.example.com"], "replaces": False}])
    assert [e["domains"] for e in kept] == [["a.example.com"]]
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    with open(path, "w") as handle:
        handle.write("{not json")
    with pytest.raises(_errors.InputError, match=r"ledger .* is unreadable"):
        _ledger.load_ledger(path)


def _record_many(path: str, worker: int) -> None:
    for i in range(20):
        _ledger.record_orders(path, [{"time": _ledger.epoch_iso(time.time()), "domains": ["w%d-%d.example.com" % (worker, i)]}])


def test_concurrent_slices_lose_no_ledger_entry(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "ledger.json")
    procs = [multiprocessing.Process(target=_record_many, args=(path, w)) for w in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
    assert len(_ledger.load_ledger(path)) == 60


def test_ledger_counts_an_order_written_ahead_once(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "ledger.json")
    now = _ledger.epoch_iso(time.time())
    ahead = {"time": now, "domains": ["a.example.com"], "replaces": True, "order_url": "https://ca/order/1"}
    _ledger.record_orders(path, [ahead])
    at_end = [dict(ahead, time=_ledger.epoch_iso(time.time() + 30)),
              {"time": now, "domains": ["b.example.com"], "replaces": False, "order_url": "https://ca/order/2"},
              {"time": now, "domains": ["c.example.com"], "replaces": False, "order_url": None},
              {"time": now, "domains": ["c.example.com"], "replaces": False, "order_url": None}]
    kept = _ledger.record_orders(path, at_end)
    assert [e["order_url"] for e in kept] == ["https://ca/order/1", "https://ca/order/2", None, None]
    assert kept[0]["time"] == now  # the write-ahead entry stays as it was


# ------------------------------------------------------------------------------------------ the issue lock


def _hold(lock: str, owner: str, ready: t.Any) -> None:
    _ledger.acquire_lock(lock, owner, 5, 3600)
    ready.set()
    time.sleep(60)


def _holder(lock: str, owner: str) -> multiprocessing.Process:
    ready = multiprocessing.Event()
    proc = multiprocessing.Process(target=_hold, args=(lock, owner, ready), daemon=True)
    proc.start()
    assert ready.wait(20)
    return proc


def test_lock_records_who_where_and_which_process(tmp_path: pathlib.Path) -> None:
    lock = str(tmp_path / "store" / "issue.lock")
    got = _ledger.acquire_lock(lock, "run-1", 1, 3600)
    assert got["acquired"] and got["broke_stale"] is None
    with open(lock) as handle:
        record = json.load(handle)
    assert record["owner"] == "run-1" and record["host"] == socket.gethostname() and record["pid"] == os.getpid()
    assert record["boot_id"] == _ledger.boot_id() and record["time"].endswith("Z")
    assert record["pid_ns"] == _ledger.pid_namespace() and record["pid_start"]
    assert oct(os.stat(lock).st_mode & 0o777) == "0o600"
    again = _ledger.acquire_lock(lock, "run-1", 0, 3600)   # its own lock again: used, and left to its first taker
    assert again["acquired"] and again["held"] is True and got["held"] is False
    assert not _ledger.release_lock(lock, "run-2") and os.path.exists(lock)
    assert _ledger.release_lock(lock, "run-1") and not os.path.exists(lock)
    assert sorted(os.listdir(tmp_path / "store")) == []  # no temp file left behind


def test_a_live_holder_blocks_and_a_killed_one_is_taken_over_at_once(tmp_path: pathlib.Path) -> None:
    lock = str(tmp_path / "issue.lock")
    proc = _holder(lock, "slice-1")
    try:
        started = time.monotonic()
        with pytest.raises(_errors.FileSystemError, match=r"held by slice-1 \(host %s, pid %d" % (
                re.escape(socket.gethostname()), proc.pid)) as info:
            _ledger.acquire_lock(lock, "slice-2", 0.6, 0)  # alive on this host: stale_after does not apply
        assert time.monotonic() - started >= 0.6
        assert info.value.details["holder"]["pid"] == proc.pid
    finally:
        os.kill(t.cast(int, proc.pid), signal.SIGKILL)
        proc.join(10)
    started = time.monotonic()
    got = _ledger.acquire_lock(lock, "slice-2", 30, 3600)
    assert time.monotonic() - started < 1.0  # at once, not after stale_after
    assert got["broke_stale"]["owner"] == "slice-1" and got["broke_stale"]["pid"] == proc.pid
    assert "is gone" in got["broke_stale"]["why"]
    assert _ledger.release_lock(lock, "slice-2")


def test_a_waiter_gets_the_lock_when_the_holder_dies(tmp_path: pathlib.Path) -> None:
    lock = str(tmp_path / "issue.lock")
    proc = _holder(lock, "slice-1")
    killer = threading.Timer(0.5, os.kill, (proc.pid, signal.SIGKILL))
    killer.start()
    reaper = threading.Thread(target=proc.join)
    reaper.start()
    got = _ledger.acquire_lock(lock, "slice-2", 20, 3600)
    reaper.join(10)
    assert 0.4 <= got["waited"] < 10 and got["broke_stale"]["owner"] == "slice-1"


def _write_lock(lock: str, **record: t.Any) -> None:
    base = {"owner": "other", "host": socket.gethostname(), "boot_id": _ledger.boot_id(), "pid": None,
            "time": _ledger.epoch_iso(time.time())}
    base.update(record)
    with open(lock, "w") as handle:
        json.dump(base, handle)


def test_locks_of_other_hosts_wait_for_stale_after_and_earlier_boots_are_over(tmp_path: pathlib.Path) -> None:
    lock = str(tmp_path / "issue.lock")
    _write_lock(lock, host="controller-b", pid=1)
    with pytest.raises(_errors.FileSystemError, match=r"held by other \(host controller-b, pid 1"):
        _ledger.acquire_lock(lock, "mine", 0.3, 3600)
    os.utime(lock, (time.time() - 7200, time.time() - 7200))
    got = _ledger.acquire_lock(lock, "mine", 1, 3600)
    assert got["broke_stale"]["host"] == "controller-b" and "stale_after" in got["broke_stale"]["why"]
    _ledger.release_lock(lock, "mine")
    _write_lock(lock, boot_id="an-earlier-boot", pid=os.getpid())
    assert "rebooted" in _ledger.acquire_lock(lock, "mine", 1, 3600)["broke_stale"]["why"]
    _ledger.release_lock(lock, "mine")
    with open(lock, "w") as handle:  # a lock of an older release: owner and time only
        json.dump({"owner": "old", "pid": 1, "time": "2026-01-01T00:00:00Z"}, handle)
    with pytest.raises(_errors.FileSystemError, match="held by old"):
        _ledger.acquire_lock(lock, "mine", 0.3, 3600)
    os.utime(lock, (time.time() - 7200, time.time() - 7200))
    assert _ledger.acquire_lock(lock, "mine", 1, 3600)["broke_stale"]["owner"] == "old"


def test_a_pid_of_another_container_is_not_judged_here(tmp_path: pathlib.Path) -> None:
    lock = str(tmp_path / "issue.lock")
    _write_lock(lock, pid=2 ** 22 - 1, pid_ns="pid:[1]")  # no such pid here, but it lives in another namespace
    with pytest.raises(_errors.FileSystemError, match="held by other"):
        _ledger.acquire_lock(lock, "mine", 0.3, 3600)
    os.utime(lock, (time.time() - 7200, time.time() - 7200))
    assert "stale_after" in _ledger.acquire_lock(lock, "mine", 1, 3600)["broke_stale"]["why"]


def test_a_reused_pid_does_not_keep_a_dead_lock(tmp_path: pathlib.Path) -> None:
    lock = str(tmp_path / "issue.lock")
    _write_lock(lock, pid=os.getpid(), pid_start=1)  # this pid, but a process that started at another time
    got = _ledger.acquire_lock(lock, "mine", 1, 3600)
    assert got["broke_stale"]["pid"] == os.getpid()


def _race(lock: str, owner: str, results: t.Any) -> None:
    _ledger.acquire_lock(lock, owner, 20, 3600, pid=None)
    results.put((owner, time.monotonic()))
    time.sleep(0.2)
    assert _ledger.release_lock(lock, owner)


def test_waiters_take_turns_over_a_dead_holders_lock(tmp_path: pathlib.Path) -> None:
    lock = str(tmp_path / "issue.lock")
    proc = _holder(lock, "dead")
    os.kill(t.cast(int, proc.pid), signal.SIGKILL)
    proc.join(10)
    results: t.Any = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_race, args=(lock, "w%d" % i, results)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert all(p.exitcode == 0 for p in procs)
    times = sorted(results.get(timeout=5)[1] for proc in procs)
    assert all(b - a >= 0.15 for a, b in zip(times, times[1:]))  # one holder at a time
