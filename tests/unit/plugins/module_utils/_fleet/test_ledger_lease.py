# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The issue lock of a store on another host than the run (renew_store_host, plugins/module_utils/_fleet/ledger.py): held by
a lease - no process to look at from there - renewed while the holder works and taken over once it runs out."""

from __future__ import annotations

import json
import pathlib
import threading
import time
import typing as t

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils import _errors
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import ledger as _ledger


def _record(lock: pathlib.Path) -> dict[str, t.Any]:
    data: dict[str, t.Any] = json.loads(lock.read_text())
    return data


def _plant(lock: pathlib.Path, lease_left: float, **extra: t.Any) -> None:
    """The lock of a slice on another machine (its host name, no pid), its lease running out in *lease_left* s."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(json.dumps({"owner": "slice-7", "host": "awx-node-7", "boot_id": "0" * 32, "pid": None,
                                "time": _ledger.epoch_iso(time.time()), "lease": 120.0,
                                "lease_until": time.time() + lease_left, **extra}))


def test_a_leased_lock_names_no_process_and_taking_it_again_renews_the_lease(tmp_path: pathlib.Path) -> None:
    lock = tmp_path / "store" / "issue.lock"
    got = _ledger.acquire_lock(str(lock), "run-1", 1, 3600, pid=None, lease=60)
    record = _record(lock)
    assert got["acquired"] and not got["held"]
    assert record["pid"] is None and record["pid_start"] is None and record["lease"] == 60.0
    assert 55 < record["lease_until"] - time.time() <= 60.001   # lease_until is rounded to the millisecond
    time.sleep(0.3)
    again = _ledger.acquire_lock(str(lock), "run-1", 0, 3600, pid=None, lease=60)
    assert again["held"] and _record(lock)["lease_until"] > record["lease_until"]
    assert _ledger.release_lock(str(lock), "run-1") and not lock.exists()


def test_a_live_lease_of_another_machine_blocks_whatever_stale_after_says(tmp_path: pathlib.Path) -> None:
    lock = tmp_path / "issue.lock"
    _plant(lock, 60)
    started = time.monotonic()
    with pytest.raises(_errors.FileSystemError, match=r"held by slice-7 \(host awx-node-7, pid None") as info:
        _ledger.acquire_lock(str(lock), "run-2", 0.5, 0, pid=None, lease=60)   # stale_after 0 does not break it
    assert time.monotonic() - started >= 0.5 and info.value.details["holder"]["owner"] == "slice-7"
    assert _record(lock)["owner"] == "slice-7"


def test_a_lease_that_ran_out_is_taken_over_and_a_waiter_waits_for_it_to_run_out(tmp_path: pathlib.Path) -> None:
    lock = tmp_path / "issue.lock"
    _plant(lock, -5)
    got = _ledger.acquire_lock(str(lock), "run-2", 5, 3600, pid=None, lease=60)
    assert got["waited"] < 1 and got["broke_stale"]["owner"] == "slice-7"
    assert got["broke_stale"]["why"].startswith("its lease ran out 5 s ago")
    assert _ledger.release_lock(str(lock), "run-2")
    _plant(lock, 1.2)
    got = _ledger.acquire_lock(str(lock), "run-3", 10, 3600, pid=None, lease=60)
    assert 1.0 <= got["waited"] < 5 and "lease ran out" in got["broke_stale"]["why"]
    assert _record(lock)["owner"] == "run-3"


def test_keep_lease_holds_a_short_lease_while_the_work_runs_then_lets_it_run_out(tmp_path: pathlib.Path) -> None:
    lock = tmp_path / "issue.lock"
    _ledger.acquire_lock(str(lock), "slice-1", 1, 3600, pid=None, lease=1.0)
    outcome: dict[str, t.Any] = {}

    def wait_for_it(key: str, wait: float) -> None:
        try:
            outcome[key] = _ledger.acquire_lock(str(lock), "slice-2", wait, 3600, pid=None, lease=60)
        except _errors.FileSystemError as exc:
            outcome[key] = exc

    with _ledger.keep_lease(str(lock), "slice-1", every=0.2):
        waiter = threading.Thread(target=wait_for_it, args=("during", 2.0))
        waiter.start()
        time.sleep(2.5)            # 2.5 lease lengths: held only because keep_lease renews it
        waiter.join(10)
        assert _record(lock)["owner"] == "slice-1"
    assert isinstance(outcome["during"], _errors.FileSystemError)
    # slice-1 stopped renewing (its run died without releasing): the lease runs out within a second
    wait_for_it("after", 10)
    after = outcome["after"]
    assert not isinstance(after, Exception) and after["broke_stale"]["owner"] == "slice-1"
    assert after["waited"] < 2.0


def test_only_the_owner_renews_a_lease_and_a_lock_held_by_a_process_has_none(tmp_path: pathlib.Path) -> None:
    lock = tmp_path / "issue.lock"
    _plant(lock, 60)
    assert not _ledger.renew_lease(str(lock), "someone-else")
    assert _ledger.renew_lease(str(lock), "slice-7")
    lock.unlink()
    _ledger.acquire_lock(str(lock), "by-process", 1, 3600)      # a pid, no lease: keep_lease leaves it alone
    before = lock.read_bytes()
    with _ledger.keep_lease(str(lock), "by-process", every=0.05):
        time.sleep(0.3)
    assert lock.read_bytes() == before and not _ledger.renew_lease(str(lock), "by-process")


def test_a_breaker_that_read_the_lock_before_a_renewal_does_not_break_it(tmp_path: pathlib.Path) -> None:
    lock = tmp_path / "issue.lock"
    _plant(lock, -1)                    # ran out ...
    seen = lock.read_bytes()
    assert _ledger.renew_lease(str(lock), "slice-7")   # ... but its holder renewed it just before the breaker acts
    assert not _ledger._break(str(lock), seen)  # pylint: disable=protected-access
    assert _record(lock)["owner"] == "slice-7" and _record(lock)["lease_until"] > time.time()
