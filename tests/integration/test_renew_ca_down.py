# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""renew.yml while the CA is down (nothing listens at its ACME directory), on a loopback fleet against the lab:
one breaker per run - the first order's retries find the CA unreachable and the run's other orders fail at
once with the same reason, so three due orders, issued one at a time, fail in about the time of one. Every
row names the reason, nothing is installed, no TXT record is left, nothing is in the ledger."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import typing as t

import pytest
from ansible_run import ROOT, run_playbook
from conftest import LabHandle
from converge_checks import Run, file_fp, switch_target
from fleet import Fleet, default_spec
from services import free_port

PLAYBOOK = os.path.join(ROOT, "playbooks", "renew.yml")
TIMEOUT = 12          # certwatch_acme.timeout: the deadline of one order, its retries included
DUE = ["dedge-1", "dedge-2", "dapi-1", "dapi-2", "dapi-3"]


@pytest.fixture
def fleet(lab: LabHandle, tmp_path: pathlib.Path) -> t.Iterator[Fleet]:
    lab.proxy_control()
    fleet = Fleet(str(tmp_path / "fleet"), lab.info, default_spec("d")).start()
    try:
        yield fleet
    finally:
        fleet.stop()


def task_seconds(log: pathlib.Path, task: str) -> float:
    """How long *task* ran: from its line in the ANSIBLE_LOG_PATH log to the next task's."""
    lines = [x for x in log.read_text().splitlines() if "| TASK [" in x or "| PLAY [" in x]
    index = next(i for i, x in enumerate(lines) if "TASK [%s" % task in x)

    def when(line: str) -> dt.datetime:
        return dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")

    return (when(lines[index + 1]) - when(lines[index])).total_seconds()


def test_ca_down_every_order_fails_at_once_with_the_same_reason(
        fleet: Fleet, lab: LabHandle, tmp_path: pathlib.Path) -> None:
    directory = "https://127.0.0.1:%d/directory" % free_port()
    down = {"directory": directory, "timeout": TIMEOUT}
    inventory = fleet.write_inventory(directory=str(tmp_path / "ca-down"), acme_extra=down)
    before = fleet.snapshot()
    files = {h: file_fp(fleet, h) for h in before}
    report_dir, log = tmp_path / "report", tmp_path / "ansible.log"
    proc = run_playbook(PLAYBOOK, {"renew_store": fleet.store, "renew_report_dir": str(report_dir), "renew_batch": 2,
                                   "renew_concurrency": 1, "renew_probe_retry_delay": 0.25},
                        inventory=inventory, args=fleet.vault_args, timeout=900, ANSIBLE_FORKS="10",
                        ANSIBLE_LOG_PATH=str(log))
    run = Run(proc.returncode, proc.stdout + proc.stderr, report_dir)
    assert run.rc != 0 and run.plan is not None and run.report is not None, run.out[-6000:]
    assert len(run.plan["orders"]) == 3
    # three orders one at a time, in about the time of one: a single retry cycle (TIMEOUT), not three in a row
    issue = task_seconds(log, "Issue every due order")
    assert issue < TIMEOUT * 2, issue        # three retry cycles in a row would take 3 x TIMEOUT
    rows = run.rows()
    reasons = set()
    for host in DUE:
        row = rows[host]
        assert row["outcome"] == "failed" and row["reason"].startswith("issue failed"), row
        assert "the CA at %s is unreachable" % directory in row["reason"], row
        assert "failed (Connection refused)" in row["reason"] and "other orders fail at once" in row["reason"], row
        reasons.add(row["reason"].split(": ", 1)[1])
    assert len(reasons) == 1, reasons            # the same reason in every row
    assert rows["dedge-3"]["outcome"] == "unchanged"
    assert sorted(run.report["failed_hosts"]) == sorted(DUE) and run.report["orders_placed"] == 0
    assert "CA at %s is unreachable" % directory in run.out
    # nothing installed, nothing staged on the controller, nothing in the ledger, no TXT record, no lock left
    assert fleet.snapshot() == before and {h: file_fp(fleet, h) for h in before} == files
    for host in DUE:
        assert switch_target(fleet, host) is None, host
    assert not os.path.exists(os.path.join(fleet.store, "ledger.json"))
    for name in ("dedge1", "dedge2", "dapi"):
        assert lab.txt("_acme-challenge.%s.example.test" % name) == set()
    assert not os.path.exists(os.path.join(fleet.store, "issue.lock"))
