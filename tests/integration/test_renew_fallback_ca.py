# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""renew.yml with two CAs (certwatch_acme as a list, primary first) while the primary is down, on a loopback
fleet against the lab: every due name set is issued by the second CA (a Pebble of its own) in the same run, the
primary's breaker making the other orders leave it at once; plan and report name the CA of every certificate;
the ledger counts the orders against the CA that took them; the next run knows which CA issued what (ARI is
asked of that CA, not of the primary)."""

from __future__ import annotations

import json
import os
import pathlib
import typing as t

import pytest
import yaml
from ansible_run import ROOT, run_playbook
from conftest import LabHandle
from converge_checks import Run, assert_converged
from fleet import Fleet, default_spec
from services import free_port

PLAYBOOK = os.path.join(ROOT, "playbooks", "renew.yml")
TIMEOUT = 12          # the primary's certwatch_acme[0].timeout: one order's deadline, its retries included
DUE = ["fedge-1", "fedge-2", "fapi-1", "fapi-2", "fapi-3"]


@pytest.fixture
def backup(lab: LabHandle) -> t.Iterator[dict[str, t.Any]]:
    info = lab.extra_pebble("pebble-backup")
    try:
        yield info
    finally:
        lab.stop_pebble("pebble-backup")


@pytest.fixture
def fleet(lab: LabHandle, tmp_path: pathlib.Path) -> t.Iterator[Fleet]:
    lab.proxy_control()
    fleet = Fleet(str(tmp_path / "fleet"), lab.info, default_spec("f")).start()
    try:
        yield fleet
    finally:
        fleet.stop()


def two_cas(inventory: str, down: str, backup: t.Mapping[str, t.Any]) -> None:
    """certwatch_acme as a list: the primary (down), then the backup CA with its own account."""
    path = os.path.join(inventory, "group_vars", "all", "main.yml")
    with open(path) as handle:
        data = yaml.safe_load(handle)
    first = dict(data["certwatch_acme"], name="primary", directory=down, timeout=TIMEOUT)
    second = {"name": "backup", "directory": backup["directory"], "ca_bundle": backup["ca_bundle"],
              "email": "ops@example.test", "terms_agreed": True, "limits": {"orders_per_3h": 50}}
    data["certwatch_acme"] = [first, second]
    with open(path, "w") as handle:
        yaml.safe_dump(data, handle)


def test_the_next_ca_issues_when_the_primary_is_down(fleet: Fleet, lab: LabHandle, backup: dict[str, t.Any],
                                                     tmp_path: pathlib.Path) -> None:
    down = "https://127.0.0.1:%d/directory" % free_port()
    inventory = fleet.write_inventory(directory=str(tmp_path / "inventory"))
    two_cas(inventory, down, backup)
    extra = {"renew_store": fleet.store, "renew_batch": 2, "renew_concurrency": 1, "renew_probe_retry_delay": 0.25}
    proc = run_playbook(PLAYBOOK, dict(extra, renew_report_dir=str(tmp_path / "r1")), inventory=inventory,
                        args=fleet.vault_args, timeout=900, ANSIBLE_FORKS="10")
    run = Run(proc.returncode, proc.stdout + proc.stderr, tmp_path / "r1")
    assert run.rc == 0, run.out[-6000:]
    assert run.plan is not None and len(run.plan["orders"]) == 3
    assert all(o["ca"] == "primary" and o["fallback"] == ["backup"] for o in run.plan["orders"]), run.plan["orders"]
    assert "primary (then backup)" in run.out                      # the plan table names the CAs
    rows = run.rows()
    for host in DUE:
        assert rows[host]["outcome"] == "renewed" and rows[host]["ca"] == "backup", rows[host]
        assert_converged(fleet, host)
    assert rows["fedge-3"]["outcome"] == "unchanged"
    orders = {o["id"]: o for o in run.report["orders"]}
    for order in orders.values():
        assert order["ok"] and order["ca"] == "backup", order
        assert [t_["ca"] for t_ in order["tried"]] == ["primary"] and "unreachable" in order["tried"][0]["msg"], order
    assert "CA primary failed" in run.out and "the order goes to CA backup" in run.out
    # the ledger counts the three orders against the CA that took them
    with open(os.path.join(fleet.store, "ledger.json")) as handle:
        ledger = json.load(handle)
    assert len(ledger) == 3 and {(e["ca"], e["directory"]) for e in ledger} == {("backup", backup["directory"])}
    # the backup's account key was made for it alone, 0600; the issuer of its certificates is remembered
    assert oct(os.stat(os.path.join(fleet.store, "account-backup.key")).st_mode & 0o777) == "0o600"
    with open(os.path.join(fleet.store, "issuers.json")) as handle:
        issuers = json.load(handle)
    assert list(issuers.values()) == [{"name": "backup", "directory": backup["directory"]}]

    # the next run (the primary still down): nothing is due; every certificate is known as the backup's, and
    # ARI is asked of the backup (a Pebble without ARI: the warning names it), not of the primary
    proc = run_playbook(PLAYBOOK, dict(extra, renew_report_dir=str(tmp_path / "r2")), inventory=inventory,
                        args=fleet.vault_args, timeout=900, ANSIBLE_FORKS="10")
    again = Run(proc.returncode, proc.stdout + proc.stderr, tmp_path / "r2")
    assert again.rc == 0 and again.report is not None and again.report["orders_placed"] == 0, again.out[-6000:]
    holders = again.holders()
    assert all(holders[h]["ca"] == "backup" for h in DUE), holders
    assert {r["ca"] for r in again.report["rows"] if r["host"] in DUE} == {"backup"}
    assert "ARI of %s: 3 certificate(s)" % backup["directory"] in again.out     # the three it issued
    assert "ARI of %s: 1 certificate(s)" % down in again.out   # fedge-3's, of an issuer never seen: the primary's


def test_a_list_of_cas_is_validated_before_anything_is_ordered(fleet: Fleet, tmp_path: pathlib.Path) -> None:
    inventory = fleet.write_inventory(directory=str(tmp_path / "inventory"))
    path = os.path.join(inventory, "group_vars", "all", "main.yml")
    with open(path) as handle:
        data = yaml.safe_load(handle)
    data["certwatch_acme"] = [dict(data["certwatch_acme"], name="a"), dict(data["certwatch_acme"], name="a"),
                              {"name": "c", "directory": "https://c/dir", "limits": {"orders_per_hour": 1}}]
    with open(path, "w") as handle:
        yaml.safe_dump(data, handle)
    before = fleet.snapshot()
    proc = run_playbook(PLAYBOOK, {"renew_store": fleet.store, "renew_report_dir": str(tmp_path / "r")},
                        inventory=inventory, args=fleet.vault_args, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "certwatch_acme[1].name: the name 'a' is also the name of certwatch_acme[0]" in out
    assert "certwatch_acme[2].limits: unknown key 'orders_per_hour'" in out
    assert "nothing was ordered or changed" in out
    assert fleet.snapshot() == before and not os.path.exists(os.path.join(fleet.store, "ledger.json"))
