# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rate-limit budget schedules instead of refusing: renew.yml over 6 local hosts with a budget of one order
per 3 hours orders the most urgent name set now, defers the others with the time the budget admits them, and
succeeds; plan, table, report and set_stats say so."""

from __future__ import annotations

import os
import pathlib
import typing as t

import pytest
from ansible_run import ROOT, run_playbook
from conftest import LabHandle
from fleet import CertSpec, Fleet, HostSpec, read_json

from ansible_collections.ghostguard.certs.plugins.module_utils._fleet.ledger import parse_epoch

PLAYBOOK = os.path.join(ROOT, "playbooks", "renew.yml")


@pytest.fixture(scope="module")
def fleet(lab: LabHandle, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Fleet]:
    lab.proxy_control()
    spec = [HostSpec("qedge-%d" % i, "edge", "grpc", CertSpec("edge", ["qedge%d.example.test" % i], days=30.0, age=age))
            for i, age in ((1, 21.0), (2, 22.0), (3, 20.5))]     # due (renew_fraction 0.34), not critical
    fleet = Fleet(str(tmp_path_factory.mktemp("fleet")), lab.info, spec).start()
    try:
        yield fleet
    finally:
        fleet.stop()


def test_over_budget_the_most_urgent_is_ordered_and_the_rest_deferred(
        fleet: Fleet, lab: LabHandle, tmp_path: pathlib.Path) -> None:
    before, old = len(lab.proxy_stats().get("orders", [])), fleet.snapshot()
    report_dir = tmp_path / "report"
    proc = run_playbook(PLAYBOOK, {"renew_store": fleet.store, "renew_report_dir": str(report_dir),
                                   "renew_limits": {"orders_per_3h": 1}, "renew_probe_retry_delay": 0.25},
                        inventory=fleet.inventory, args=[*fleet.vault_args, "-v"], timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    plan = read_json(str(report_dir / "plan.json"))
    assert [o["hosts"] for o in plan["orders"]] == [["qedge-2"]]
    deferred = {o["hosts"][0]: o for o in plan["deferred"]}
    assert sorted(deferred) == ["qedge-1", "qedge-3"]
    # one order per 3 hours: qedge-1 (the next most urgent) 3 hours after this run's order, qedge-3 3 hours later
    admit = {h: parse_epoch(o["admit_at"]) for h, o in deferred.items()}
    assert admit["qedge-3"] - admit["qedge-1"] == 3 * 3600
    assert 3 * 3600 - 120 <= admit["qedge-1"] - parse_epoch(plan["generated_at"]) <= 3 * 3600
    assert all(not o["late"] and o["limit"] == "orders_per_3h" for o in deferred.values())
    assert "deferred: qedge1.example.test (qedge-1) until %s (orders_per_3h for account)" \
        % deferred["qedge-1"]["admit_at"] in out
    created = [o for o in lab.proxy_stats().get("orders", [])[before:] if o.get("status") == 201]
    assert [o.get("identifiers") for o in created] == [["qedge2.example.test"]]
    now = fleet.snapshot()
    assert now["qedge-2"] != old["qedge-2"] and now["qedge-1"] == old["qedge-1"] and now["qedge-3"] == old["qedge-3"]
    report = read_json(str(report_dir / "report.json"))
    rows = {r["host"]: r for r in report["rows"]}
    assert rows["qedge-2"]["outcome"] == "renewed"
    assert rows["qedge-1"]["outcome"] == "deferred" and rows["qedge-1"]["admit_at"] == deferred["qedge-1"]["admit_at"]
    assert report["counts"]["deferred"] == 2 and report["ok"]
    assert "1 renewed, 0 repaired, 0 unchanged, 0 failed, 0 rolled back, 0 stopped, 0 skipped, 2 deferred" in out
    published = out[out.index('"ghostguard_renew"'):]         # set_stats (AWX artifacts), printed at -v
    assert '"admit_at": "%s"' % deferred["qedge-3"]["admit_at"] in published and '"deferred": 2' in published
