# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""renew.yml over 6 local hosts in 2 groups (3 gRPC hosts with their own names, 3 nginx replicas sharing
one name set), against the lab (Pebble behind the ACME proxy, BIND9, the Alidns stand-in).

The tests share one fleet and run in order: refusals first (nothing may be ordered), then a rolling
renewal with a ghost, the rerun after the fix, the no-op run, and an ACME outage.
"""

from __future__ import annotations

import json
import os
import pathlib
import typing as t

import pytest
from ansible_run import ROOT, recap, run_playbook
from conftest import LabHandle
from fleet import Fleet, default_spec, read_json
from services import free_port

PLAYBOOK = os.path.join(ROOT, "playbooks", "renew.yml")
ROLLBACK = os.path.join(ROOT, "playbooks", "rollback.yml")
FIRST: dict[str, str] = {}   # what each host served before any renewal


class Run:
    def __init__(self, proc: t.Any, report_dir: pathlib.Path) -> None:
        self.proc = proc
        self.rc = proc.returncode
        self.out = proc.stdout + proc.stderr
        self.report_dir = report_dir
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "ansible.log").write_text(self.out)
        self.plan = read_json(str(report_dir / "plan.json")) if (report_dir / "plan.json").exists() else None
        self.report = read_json(str(report_dir / "report.json")) if (report_dir / "report.json").exists() else None

    def rows(self) -> dict[tuple[str, str], dict[str, t.Any]]:
        assert self.report is not None, self.out[-6000:]
        return {(r["host"], r["name"]): r for r in self.report["rows"]}


def renew(fleet: Fleet, tmp: pathlib.Path, inventory: str | None = None, **extra: t.Any) -> Run:
    report_dir = tmp / ("report-%d" % len(list(tmp.glob("report-*"))))
    extra_vars = {"renew_store": fleet.store, "renew_report_dir": str(report_dir), "renew_batch": 2,
                  "renew_probe_retry_delay": 0.25, "renew_probe_retries": 12}
    extra_vars.update(extra)
    proc = run_playbook(PLAYBOOK, extra_vars, inventory=inventory or fleet.inventory, args=fleet.vault_args, timeout=900,
                        ANSIBLE_FORKS="10")
    return Run(proc, report_dir)


def new_orders(lab: LabHandle) -> list[list[str]]:
    """Orders the CA created (201), in order; a newOrder retried after badNonce counts once."""
    return [sorted(o.get("identifiers", [])) for o in lab.proxy_stats().get("orders", []) if o.get("status") == 201]


@pytest.fixture(scope="module")
def fleet(lab: LabHandle, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Fleet]:
    lab.proxy_control()
    root = tmp_path_factory.mktemp("fleet")
    fleet = Fleet(str(root), lab.info, default_spec("r")).start()
    fleet.set_ghost("redge-2", True)          # this service ignores its reloads (the incident's ghost)
    try:
        yield fleet
    finally:
        fleet.stop()
        lab.proxy_control()


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("renew-runs")


def test_mistyped_inventory_field_is_refused_before_any_order(fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    def typo(host_vars: dict[str, dict[str, t.Any]]) -> None:
        cert = host_vars["rapi-2"]["certwatch_certificates"][0]
        cert["domian"] = cert.pop("domains")
        host_vars["redge-1"]["certwatch_certificates"][0]["probe"]["port"] = "443x"

    inventory = fleet.write_inventory(typo, directory=str(tmp / "bad-inventory"))
    before, served = len(new_orders(lab)), fleet.snapshot()
    run = renew(fleet, tmp, inventory=inventory)
    assert run.rc != 0
    assert "host rapi-2, certificate api, field domian: unknown field (did you mean 'domains'?)" in run.out
    assert "host rapi-2, certificate api, field domains: must be a non-empty list" in run.out
    assert "host redge-1, certificate edge, field probe.port: must be a port number" in run.out
    assert "nothing was ordered or changed" in run.out
    assert len(new_orders(lab)) == before and fleet.snapshot() == served
    assert run.plan is None


def test_a_plan_the_rate_limits_cannot_admit_in_time_orders_nothing_and_fails(
        fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    before, served = len(new_orders(lab)), fleet.snapshot()
    run = renew(fleet, tmp, renew_limits={"per_name_set_week": 0, "orders_per_3h": 2})
    assert run.rc != 0
    assert "The CA's rate limits defer 3 name set(s) past the time they enter alert_before" in run.out
    assert "rapi.example.test: not within 30 days, but it enters alert_before at" in run.out
    assert "(per_name_set_week for rapi.example.test, 0 allowed)" in run.out
    assert len(new_orders(lab)) == before and fleet.snapshot() == served
    assert run.plan is not None and not run.plan["budget"]["ok"] and run.plan["orders"] == []
    assert {r["outcome"] for r in run.rows().values() if r.get("order")} == {"failed"}


def test_dry_run_and_check_mode_stop_after_the_plan(fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    # one more host that cannot be reached: reported and skipped, the others are planned
    closed = free_port()
    inventory = fleet.write_inventory(directory=str(tmp / "with-unreachable"), extra_hosts={"redge-9": {
        "ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": closed,
        "certwatch_cert_dir": "/nonexistent", "certwatch_certificates": [{"name": "edge", "domains": ["redge9.example.test"]}]}})
    before, served = len(new_orders(lab)), fleet.snapshot()
    for args in (["-e", "renew_dry_run=true"], ["--check"]):
        report_dir = tmp / ("report-dry%d" % len(args[0]))
        proc = run_playbook(PLAYBOOK, {"renew_store": fleet.store, "renew_report_dir": str(report_dir), "renew_batch": 2},
                            inventory=inventory, args=[*fleet.vault_args, *args], ANSIBLE_FORKS="10")
        run = Run(proc, report_dir)
        assert run.rc == 0, run.out[-4000:]
        plan = run.plan
        assert plan is not None and run.report is None
        sets = {s["set"]: s for s in plan["sets"]}
        assert sets["rapi.example.test"]["mode"] == "shared_key" and sets["rapi.example.test"]["due"]
        assert sets["redge1.example.test"]["mode"] == "host_key"
        assert not sets["redge3.example.test"]["due"]
        assert plan["batches"] == [["redge-1"], ["redge-2", "rapi-1"], ["rapi-2", "rapi-3"]]
        assert [(s["host"], s["reason"][:12]) for s in plan["skipped"]] == [("redge-9", "unreachable:")]
        assert "NAME SET" in run.out and "1 order, shared key" in run.out
        assert "skipped: redge-9/edge (unreachable" in run.out
    assert len(new_orders(lab)) == before and fleet.snapshot() == served


def test_rolling_renewal_stops_at_the_ghost_and_rolls_it_back(fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    before_orders = len(new_orders(lab))
    before = fleet.snapshot()
    FIRST.update(before)
    run = renew(fleet, tmp)
    assert run.rc != 0, run.out[-6000:]
    rows = run.rows()
    orders = new_orders(lab)[before_orders:]
    # only due name sets ordered, the shared set exactly once
    assert sorted(orders) == [["rapi.example.test"], ["redge1.example.test"], ["redge2.example.test"]]
    # canary first and proved by handshake
    assert rows[("redge-1", "edge")]["outcome"] == "renewed" and rows[("redge-1", "edge")]["batch"] == 1
    assert rows[("redge-1", "edge")]["proved"] is True
    assert fleet.served("redge-1") != before["redge-1"] and "Pebble" in fleet.issuer("redge-1")
    # the ghost: rolled back, still serving its previous certificate, the report says why
    ghost = rows[("redge-2", "edge")]
    assert ghost["outcome"] == "rolled_back" and ghost["previous_served"] is True
    assert ghost["reason"].startswith("proof failed after install: 127.0.0.1:%d serves " % fleet.ports["redge-2"])
    assert "rolled back to %s" % before["redge-2"][:23] in ghost["reason"]
    assert "previous certificate served again" in ghost["reason"]
    assert fleet.served("redge-2") == before["redge-2"]
    # same batch as the ghost: finished; later batches untouched
    assert rows[("rapi-1", "api")]["outcome"] == "renewed"
    for host in ("rapi-2", "rapi-3"):
        assert rows[(host, "api")]["outcome"] == "stopped"
        assert fleet.served(host) == before[host]
    # not due: unchanged
    assert rows[("redge-3", "edge")]["outcome"] == "unchanged" and fleet.served("redge-3") == before["redge-3"]
    assert run.report["failed_hosts"] == ["redge-2"]
    # changed where the run changed something (installed, reloaded, rolled back), nowhere else
    counts = recap(run.out)
    assert all(counts[h]["changed"] >= 1 for h in ("redge-1", "redge-2", "rapi-1")), counts
    assert all(counts[h]["changed"] == 0 for h in ("redge-3", "rapi-2", "rapi-3")), counts
    assert "redge-2                    : ok=" in run.out and "failed=1" in run.out.split("redge-2                    : ok=")[1][:80]
    # the key of the shared set stays on the controller, 0600; the single-host key never left the host
    shared = next(o for o in run.plan["orders"] if o["mode"] == "shared_key")
    assert oct(os.stat(os.path.join(shared["store"], "privkey.pem")).st_mode & 0o777) == "0o600"
    for host in ("redge-1", "redge-2"):
        store = next(o for o in run.plan["orders"] if o.get("host") == host)["store"]
        assert not os.path.exists(os.path.join(store, "privkey.pem"))
    assert "BEGIN" not in json.dumps(run.report) and "PRIVATE" not in run.out


def test_rerun_after_the_fix_completes(fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    fleet.set_ghost("redge-2", False)
    before_orders = len(new_orders(lab))
    before = fleet.snapshot()
    run = renew(fleet, tmp)
    assert run.rc == 0, run.out[-6000:]
    rows = run.rows()
    # the certificates of the first run are reused, not ordered again: the shared set's, and the one issued for
    # the key redge-2 made and kept in its staging directory (only its CSR travelled)
    assert new_orders(lab)[before_orders:] == []
    for host in ("redge-2", "rapi-2", "rapi-3"):
        assert rows[(host, "edge" if "edge" in host else "api")]["outcome"] == "renewed"
        assert fleet.served(host) != before[host]
    assert len({fleet.served(h) for h in ("rapi-1", "rapi-2", "rapi-3")}) == 1
    assert run.report["ok"] and run.report["counts"]["failed"] == 0


def test_second_run_changes_nothing_and_orders_nothing(fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    before_orders = len(new_orders(lab))
    before = fleet.snapshot()
    run = renew(fleet, tmp)
    assert run.rc == 0, run.out[-6000:]
    assert len(new_orders(lab)) == before_orders
    assert run.plan["orders"] == [] and run.plan["roll"] == []
    assert run.report["counts"]["renewed"] == 0 and run.report["counts"]["unchanged"] == 6
    assert fleet.snapshot() == before
    counts = recap(run.out)  # a run that changes nothing says so for every host (the report written is no change)
    assert len(counts) == 6 and all(c["changed"] == 0 for c in counts.values()), counts


def test_rollback_playbook_restores_the_previous_generation(fleet: Fleet, tmp: pathlib.Path) -> None:
    refused = run_playbook(ROLLBACK, {}, inventory=fleet.inventory, args=fleet.vault_args)
    assert refused.returncode != 0 and "Set rollback_hosts" in refused.stdout
    renewed = fleet.served("rapi-2")
    report_dir = tmp / "rollback"
    proc = run_playbook(ROLLBACK, {"rollback_hosts": "rapi-2", "rollback_names": "api",
                                   "rollback_report_dir": str(report_dir), "renew_probe_retry_delay": 0.25},
                        inventory=fleet.inventory, args=fleet.vault_args)
    assert proc.returncode == 0, proc.stdout[-4000:]
    report = read_json(str(report_dir / "report.json"))
    assert [(r["host"], r["name"], r["outcome"], r["proved"]) for r in report["rows"]] == [("rapi-2", "api", "rolled_back", True)]
    assert fleet.served("rapi-2") == FIRST["rapi-2"] != renewed
    assert fleet.served("rapi-1") == renewed      # only the chosen host


def test_acme_outage_mid_run_leaves_every_host_serving_a_valid_certificate(
        fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    inventory = fleet.write_inventory(directory=str(tmp / "short-timeout"), acme_extra={"timeout": 8})
    lab.proxy_control(faults=[{"id": "outage", "match": "order-plz", "status": 503, "times": 1000,
                               "retry_after": 1, "after": 1}])
    try:
        before_orders = len(new_orders(lab))
        run = renew(fleet, tmp, inventory=inventory, renew_force=True)
    finally:
        lab.proxy_control()
    assert run.rc != 0
    rows = run.rows()
    assert len(new_orders(lab)) - before_orders <= 1   # at most the first order went through, the others hit the outage
    failed = [r for r in rows.values() if r["outcome"] == "failed"]
    assert failed and all(r["reason"].startswith("issue failed") for r in failed)
    for host in fleet.spec:
        assert fleet.served_valid(host.name), host.name


def test_a_lock_held_by_a_live_run_orders_nothing_and_the_report_says_why(
        fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    import subprocess
    import sys

    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from ansible_collections.ghostguard.certs.plugins.module_utils._fleet.ledger import acquire_lock\n"
        "acquire_lock(sys.argv[1], 'another-run', 0, 3600)\n"
        "print('held', flush=True)\n"
        "time.sleep(120)\n"), os.path.join(fleet.store, "issue.lock")], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.path.join(ROOT, ".build", "collections")})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        before, served = len(new_orders(lab)), fleet.snapshot()
        run = renew(fleet, tmp, renew_force=True, renew_lock_wait=1)
        assert run.rc != 0
        assert len(new_orders(lab)) == before and fleet.snapshot() == served
        # the run got past validation: its report is written, names the holder, and fails every host
        assert run.report is not None and not run.report["ok"]
        [problem] = run.report["problems"]
        assert "another-run" in problem and "pid %d" % holder.pid in problem, problem
        assert "PROBLEM: " in run.out
        assert all(r["outcome"] in ("failed", "unchanged") for r in run.report["rows"]), run.report["rows"]
    finally:
        holder.kill()
        holder.wait()
