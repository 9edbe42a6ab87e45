# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Strict inputs through ansible-playbook, as a new user types them: a misspelt variable, a host pattern or a
certificate name that matches nothing, a key type the CA would refuse, replicas that disagree on the key type
are refused before anything is ordered or changed; --limit on part of a shared name set still orders the set
once, with its shared key, and installs it only where the run goes.

6 local hosts (3 gRPC edge hosts with their own names, 3 nginx replicas of one name set) against the lab.
"""

from __future__ import annotations

import os
import pathlib
import typing as t

import pytest
from ansible_run import ROOT, run_playbook
from conftest import LabHandle
from fleet import Fleet, default_spec, read_json

RENEW = os.path.join(ROOT, "playbooks", "renew.yml")
ROLLBACK = os.path.join(ROOT, "playbooks", "rollback.yml")


class Run:
    def __init__(self, proc: t.Any, report_dir: pathlib.Path) -> None:
        self.rc = proc.returncode
        self.out = proc.stdout + proc.stderr
        plan = report_dir / "plan.json"
        self.plan = read_json(str(plan)) if plan.exists() else None


def play(fleet: Fleet, tmp: pathlib.Path, playbook: str = RENEW, args: t.Sequence[str] = (),
         inventory: str | None = None, **extra: t.Any) -> Run:
    report_dir = tmp / ("report-%d" % len(list(tmp.glob("report-*"))))
    extra_vars = {"renew_store": fleet.store, "renew_report_dir": str(report_dir), "renew_probe_retry_delay": 0.25}
    if playbook == ROLLBACK:
        extra_vars = {"rollback_report_dir": str(report_dir)}
    extra_vars.update(extra)
    proc = run_playbook(playbook, extra_vars, inventory=inventory or fleet.inventory, args=[*fleet.vault_args, *args],
                        timeout=900, ANSIBLE_FORKS="10")
    return Run(proc, report_dir)


def ca_orders(lab: LabHandle) -> list[list[str]]:
    return [sorted(o.get("identifiers", [])) for o in lab.proxy_stats().get("orders", []) if o.get("status") == 201]


@pytest.fixture(scope="module")
def fleet(lab: LabHandle, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Fleet]:
    lab.proxy_control()
    fleet = Fleet(str(tmp_path_factory.mktemp("fleet")), lab.info, default_spec("s")).start()
    try:
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("strict-runs")


def refused(run: Run, lab: LabHandle, fleet: Fleet, orders_before: int, served: dict[str, str]) -> None:
    assert run.rc != 0, run.out[-3000:]
    assert len(ca_orders(lab)) == orders_before, "an order was placed"
    assert fleet.snapshot() == served, "a host changed"
    assert run.plan is None, "a refused run wrote a plan"


def test_misspelt_variables_are_refused_with_a_did_you_mean(fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    def singular(host_vars: dict[str, dict[str, t.Any]]) -> None:
        host_vars["sapi-2"]["certwatch_certificate"] = host_vars["sapi-2"].pop("certwatch_certificates")
        host_vars["sedge-1"]["renew_plan"] = {"orders": []}

    inventory = fleet.write_inventory(singular, directory=str(tmp / "typo-inventory"))
    before, served = len(ca_orders(lab)), fleet.snapshot()
    # renew_dryrun=true must not run for real; renew_bacth must not be ignored
    run = play(fleet, tmp, inventory=inventory, renew_dryrun=True, renew_bacth=2)
    refused(run, lab, fleet, before, served)
    assert "certwatch_certificate (set for host sapi-2): unknown variable; did you mean certwatch_certificates?" in run.out
    assert "renew_dryrun (set for every host of the run (extra vars or group_vars/all?)): unknown variable; " \
           "did you mean renew_dry_run?" in run.out
    assert "renew_bacth (set for every host of the run" in run.out and "did you mean renew_batch?" in run.out
    assert "renew_plan (set for host sedge-1): renew.yml and rollback.yml set this variable themselves" in run.out
    assert "nothing was ordered or changed" in run.out

    # a flag that is neither true nor false is refused, not read as false
    run = play(fleet, tmp, renew_dry_run="maybe")
    refused(run, lab, fleet, before, served)
    assert "renew_dry_run: must be true or false, got 'maybe'" in run.out


def test_patterns_and_names_that_match_nothing_fail(fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    before, served = len(ca_orders(lab)), fleet.snapshot()
    run = play(fleet, tmp, renew_hosts="sapi-9")
    refused(run, lab, fleet, before, served)
    assert "renew_hosts=sapi-9 matches no host of the inventory (its groups: api, edge); nothing was changed" in run.out

    run = play(fleet, tmp, args=["--limit", "sedge-1"], renew_hosts="api")
    refused(run, lab, fleet, before, served)
    assert "renew_hosts=api matches 3 host(s) (sapi-1, sapi-2, sapi-3), none of them within --limit" in run.out

    run = play(fleet, tmp, renew_names="apii,edge")
    refused(run, lab, fleet, before, served)
    assert "renew_names: apii matches no certificate of the 6 host(s) of this run (their certificates: api, edge; " \
           "did you mean api instead of apii?); nothing was changed" in run.out

    # a rollback that would do nothing is an error: the operator must never believe it ran
    for extra, args, message in (
            ({"rollback_hosts": "sapi-7"}, [], "rollback_hosts=sapi-7 matches no host of the inventory"),
            ({"rollback_hosts": "sapi-1"}, ["--limit", "sapi-2"], "rollback_hosts=sapi-1 matches 1 host(s) (sapi-1), "
                                                                   "none of them within --limit"),
            ({}, ["--limit", "sapi-2"], "Set rollback_hosts, for example -e rollback_hosts=api-2"),
            ({"rollback_hosts": "api", "rollback_names": "apx"}, [], "rollback_names: apx matches no certificate of the "
                                                                     "3 host(s) of this run (their certificates: api; "
                                                                     "did you mean api instead of apx?)"),
            ({"rollback_hosts": "api", "rollback_name": "api"}, [], "rollback_name (set for every host of the run "
                                                                    "(extra vars or group_vars/all?)): unknown "
                                                                    "variable; did you mean rollback_names?")):
        run = play(fleet, tmp, ROLLBACK, args=args, **extra)
        assert run.rc != 0, (extra, args, run.out[-3000:])
        assert message in run.out, (extra, run.out[-3000:])
        assert "rolled back" not in run.out.replace("Nothing was rolled back", "")
        assert fleet.snapshot() == served


def test_key_types_are_checked_before_any_order(fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    before, served = len(ca_orders(lab)), fleet.snapshot()
    inventory = fleet.write_inventory(directory=str(tmp / "rsa2048"), acme_extra={"key_type": "rsa2048"})
    run = play(fleet, tmp, inventory=inventory)
    refused(run, lab, fleet, before, served)
    assert "host sapi-1, field certwatch_acme.key_type: 'rsa2048' is not a key type; use one of ec-p256, ec-p384, " \
           "rsa-2048, rsa-3072, rsa-4096 (did you mean rsa-2048?)" in run.out

    def disagree(host_vars: dict[str, dict[str, t.Any]]) -> None:
        acme = {"directory": lab.info["proxy"]["directory"], "ca_bundle": lab.info["ca_bundle"], "terms_agreed": True,
                "account_key_path": os.path.join(fleet.root, "account.key")}
        host_vars["sapi-2"]["certwatch_acme"] = dict(acme, key_type="ec-p384")
        host_vars["sapi-3"]["certwatch_acme"] = dict(acme, key_type="rsa-2048")

    inventory = fleet.write_inventory(disagree, directory=str(tmp / "disagree"))
    run = play(fleet, tmp, inventory=inventory, args=["--limit", "sapi-1"])  # the other replicas are outside the run
    refused(run, lab, fleet, before, served)
    assert "name set sapi.example.test: its hosts disagree on certwatch_acme.key_type (sapi-1 asks for ec-p256; " \
           "sapi-2 asks for ec-p384; sapi-3 asks for rsa-2048); one name set has one key" in run.out


def test_limit_on_part_of_a_shared_name_set_orders_it_once_with_the_shared_key(
        fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    before = len(ca_orders(lab))
    old = fleet.snapshot()
    run = play(fleet, tmp, args=["--limit", "sapi-1"])
    assert run.rc == 0, run.out[-4000:]
    assert run.plan is not None
    (order,) = run.plan["orders"]
    assert order["mode"] == "shared_key" and order["hosts"] == ["sapi-1"]
    assert order["store"].startswith(os.path.join(fleet.store, "sets"))
    (entry,) = [s for s in run.plan["sets"] if s["set"] == "sapi.example.test"]
    assert entry["members"] == ["sapi-1", "sapi-2", "sapi-3"] and entry["outside"] == ["sapi-2", "sapi-3"]
    assert "(not in this run: sapi-2,sapi-3)" in run.out
    assert ca_orders(lab)[before:] == [["sapi.example.test"]]
    now = fleet.snapshot()
    assert now["sapi-1"] != old["sapi-1"] and fleet.served_valid("sapi-1")
    assert {h: now[h] for h in ("sapi-2", "sapi-3")} == {h: old[h] for h in ("sapi-2", "sapi-3")}, \
        "a --limit run changed a host outside the limit"

    # the rest of the set, later: the certificate issued for the set is reused (no order), same key everywhere
    run = play(fleet, tmp, args=["--limit", "sapi-2,sapi-3"])
    assert run.rc == 0, run.out[-4000:]
    assert len(ca_orders(lab)) == before + 1, "the shared name set was ordered again"
    final = fleet.snapshot()
    assert final["sapi-2"] == final["sapi-3"] == final["sapi-1"] == now["sapi-1"]
    keys = {pathlib.Path(fleet.files(h)["key"]).read_bytes() for h in ("sapi-1", "sapi-2", "sapi-3")}
    assert len(keys) == 1


def test_the_role_refuses_unknown_certwatch_variables(tmp: pathlib.Path) -> None:
    playbook = tmp / "role-typo.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  vars:\n    certwatch_intervall: 5\n"
        "  tasks:\n    - ansible.builtin.import_role:\n        name: ghostguard.certs.certwatch\n"
        "        tasks_from: validate.yml\n")
    proc = run_playbook(str(playbook))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "certwatch_intervall (set for host localhost): unknown variable; did you mean certwatch_interval?" in out
    assert "Nothing was changed" in out
