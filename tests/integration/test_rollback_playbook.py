# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Honest change counts and rollback / roll forward, through ansible-playbook on a loopback fleet against the
lab (Pebble behind the ACME proxy, BIND9, the Alidns stand-in, real nginx and gRPC services).

Two hosts, each with a due certificate of its own. renew.yml twice (the second forced) gives each three
generations: the old CA's certificate (adopted), then two from Pebble. Then, in order: a renew.yml,
audit.yml and rollback.yml run that changes nothing reports changed=0 for every host; rollback.yml
goes back one generation and a rerun does not go further; ``rollback_to=older`` goes one further, and
refuses when nothing older is kept; ``rollback_to=newer`` rolls forward again to the newest. Every step is
proved by a handshake with the service, and the report says what was rolled back, from which certificate to
which.
"""

from __future__ import annotations

import os
import pathlib
import typing as t

import pytest
from ansible_run import ROOT, recap, run_playbook
from conftest import LabHandle
from fleet import DUE, CertSpec, Fleet, HostSpec, read_json
from test_renew_playbook import Run, new_orders, renew

ROLLBACK = os.path.join(ROOT, "playbooks", "rollback.yml")
AUDIT = os.path.join(ROOT, "playbooks", "audit.yml")
HOSTS = ("bedge-1", "bapi-1")
SERVED: dict[str, list[str]] = {}   # per host, what it served after each installed generation: [gen 1, gen 2, gen 3]


@pytest.fixture(scope="module")
def fleet(lab: LabHandle, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Fleet]:
    lab.proxy_control()
    spec = [HostSpec("bedge-1", "edge", "grpc", CertSpec("edge", ["bedge1.example.test"], **DUE)),
            HostSpec("bapi-1", "api", "nginx", CertSpec("api", ["bapi1.example.test"], **DUE))]
    fleet = Fleet(str(tmp_path_factory.mktemp("rollback-fleet")), lab.info, spec).start()
    try:
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("rollback-runs")


def rollback(fleet: Fleet, tmp: pathlib.Path, **extra: t.Any) -> Run:
    report_dir = tmp / ("rollback-%d" % len(list(tmp.glob("rollback-*"))))
    proc = run_playbook(ROLLBACK, {"rollback_hosts": "bedge-1", "rollback_report_dir": str(report_dir),
                                   "renew_probe_retry_delay": 0.25, **extra},
                        inventory=fleet.inventory, args=fleet.vault_args)
    return Run(proc, report_dir)


def row(run: Run) -> dict[str, t.Any]:
    assert run.report is not None, run.out[-4000:]
    [only] = run.report["rows"]
    assert only["host"] == "bedge-1" and only["name"] in ("edge", "-")
    return t.cast("dict[str, t.Any]", only)


def unchanged_everywhere(run: Run) -> None:
    counts = recap(run.out)
    assert counts and all(c["changed"] == 0 for c in counts.values()), counts


def short(fingerprint: str) -> str:
    return fingerprint[:11] + "..."


def test_renewals_report_changed_on_the_hosts_they_changed(fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    SERVED.update({h: [fleet.served(h)] for h in HOSTS})
    for force in (False, True):
        before = len(new_orders(lab))
        run = renew(fleet, tmp, renew_force=force)
        assert run.rc == 0, run.out[-6000:]
        assert len(new_orders(lab)) == before + 2
        counts = recap(run.out)
        for host in HOSTS:
            assert run.rows()[(host, "edge" if "edge" in host else "api")]["outcome"] == "renewed"
            assert counts[host]["changed"] >= 1, counts
            SERVED[host].append(fleet.served(host))
    assert all(len(set(SERVED[h])) == 3 for h in HOSTS), SERVED


def test_a_renew_run_that_changes_nothing_reports_changed_0_for_every_host(
        fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    before, served = len(new_orders(lab)), fleet.snapshot()
    run = renew(fleet, tmp)
    assert run.rc == 0, run.out[-6000:]
    assert len(new_orders(lab)) == before and fleet.snapshot() == served
    assert run.report is not None and run.report["counts"]["unchanged"] == 2
    assert set(recap(run.out)) == set(HOSTS)
    unchanged_everywhere(run)
    assert (run.report_dir / "report.json").exists()  # written all the same


def test_an_audit_reports_changed_0_for_every_host(fleet: Fleet, tmp: pathlib.Path) -> None:
    for attempt in range(2):   # the first run creates the report directory: no change to the fleet either
        report_dir = tmp / "audit"
        proc = run_playbook(AUDIT, {"audit_paths": [fleet.cert_dir(h) for h in HOSTS], "audit_report_dir": str(report_dir)},
                            inventory=fleet.inventory, args=fleet.vault_args)
        assert proc.returncode == 0, proc.stdout[-4000:]
        counts = recap(proc.stdout)
        assert set(counts) == set(HOSTS) and all(c["changed"] == 0 for c in counts.values()), (attempt, counts)
        assert read_json(str(report_dir / "report.json"))["summary"]


def test_rollback_goes_back_one_generation_proved_and_reports_from_and_to(fleet: Fleet, tmp: pathlib.Path) -> None:
    run = rollback(fleet, tmp)
    assert run.rc == 0, run.out[-6000:]
    gens = SERVED["bedge-1"]
    assert fleet.served("bedge-1") == gens[1] and fleet.served("bapi-1") == SERVED["bapi-1"][2]  # only the chosen host
    got = row(run)
    assert (got["outcome"], got["from_generation"], got["generation"], got["proved"]) == ("rolled_back", 3, 2, True)
    assert (got["attempted_fingerprint"], got["fingerprint"]) == (gens[2], gens[1])
    assert got["reason"] == "rolled back from generation 3 (%s...) to generation 2 (%s...), previous certificate served " \
        "again" % (gens[2][:23], gens[1][:23])
    counts = recap(run.out)
    assert counts["bedge-1"]["changed"] == 1 and all(c["changed"] == 0 for h, c in counts.items() if h != "bedge-1"), counts
    text = (run.report_dir / "report.txt").read_text()
    assert text.splitlines()[0].split() == ["OUTCOME", "HOST", "CERTIFICATE", "FROM", "TO", "NOT", "AFTER", "SERVED",
                                            "REASON"]
    line = text.splitlines()[1]
    assert line.startswith("ROLLED BACK  bedge-1  edge") and "gen 3 %s" % short(gens[2]) in line
    assert "gen 2 %s" % short(gens[1]) in line and " proved " in line
    assert text.splitlines()[-1] == "1 rolled back, 0 rolled forward, 0 repaired, 0 unchanged, 0 failed"
    assert "renewed" not in text and "orders placed" not in text
    assert "ROLLED BACK  bedge-1" in run.out        # the table is shown
    assert "Certificate rollback succeeded" in (run.report_dir / "report.html").read_text()
    assert run.report["kind"] == "rollback" and run.report["ok"] and "orders_placed" not in run.report


def test_a_rerun_does_not_roll_back_twice_and_changes_nothing(fleet: Fleet, tmp: pathlib.Path) -> None:
    run = rollback(fleet, tmp)
    assert run.rc == 0, run.out[-6000:]
    got = row(run)
    gens = SERVED["bedge-1"]
    assert got["outcome"] == "unchanged" and got["proved"] is True and fleet.served("bedge-1") == gens[1]
    assert got["reason"].startswith("already rolled back from generation 3 (%s...) to generation 2" % gens[2][:23])
    unchanged_everywhere(run)
    # nor does renew.yml undo it (the restored certificate is not due), nor count a change
    again = renew(fleet, tmp)
    assert again.rc == 0, again.out[-6000:]
    assert fleet.served("bedge-1") == gens[1]
    unchanged_everywhere(again)


def test_rollback_to_older_goes_one_further_back_then_refuses(fleet: Fleet, tmp: pathlib.Path) -> None:
    gens = SERVED["bedge-1"]
    run = rollback(fleet, tmp, rollback_to="older")
    assert run.rc == 0, run.out[-6000:]
    got = row(run)
    assert (got["outcome"], got["from_generation"], got["generation"], got["proved"]) == ("rolled_back", 2, 1, True)
    assert fleet.served("bedge-1") == gens[0] and "Pebble" not in fleet.issuer("bedge-1")   # the old CA's again
    assert recap(run.out)["bedge-1"]["changed"] == 1
    refused = rollback(fleet, tmp, rollback_to="older")
    assert refused.rc != 0
    got = row(refused)
    assert got["outcome"] == "failed" and got["reason"] == "nothing to roll back to: generation 1 is the oldest of the " \
        "3 generation(s) kept (keep: 3); nothing was changed; roll forward with rollback_to=newer"
    assert fleet.served("bedge-1") == gens[0]
    assert refused.report is not None and refused.report["failed_hosts"] == ["bedge-1"]
    assert "FAILED on bedge-1" in (refused.report_dir / "report.txt").read_text()
    assert recap(refused.out)["bedge-1"]["failed"] == 1 and recap(refused.out)["bedge-1"]["changed"] == 0


def test_rollback_to_newer_rolls_forward_to_the_newest_and_stops_there(fleet: Fleet, tmp: pathlib.Path) -> None:
    gens = SERVED["bedge-1"]
    for number in (2, 3):
        run = rollback(fleet, tmp, rollback_to="newer")
        assert run.rc == 0, run.out[-6000:]
        got = row(run)
        assert (got["outcome"], got["from_generation"], got["generation"], got["proved"]) == (
            "rolled_forward", number - 1, number, True)
        assert fleet.served("bedge-1") == gens[number - 1]
        assert recap(run.out)["bedge-1"]["changed"] == 1
        assert "ROLLED FORWARD  bedge-1" in (run.report_dir / "report.txt").read_text()
        assert (run.report_dir / "report.txt").read_text().splitlines()[-1].startswith("0 rolled back, 1 rolled forward")
    run = rollback(fleet, tmp, rollback_to="newer")
    assert run.rc == 0, run.out[-6000:]
    got = row(run)
    assert got["outcome"] == "unchanged" and got["proved"] is True and fleet.served("bedge-1") == gens[2]
    assert got["reason"].startswith("already rolled forward from generation 2 (%s...) to generation 3" % gens[1][:23])
    unchanged_everywhere(run)


def test_an_unknown_rollback_to_is_refused_changing_nothing(fleet: Fleet, tmp: pathlib.Path) -> None:
    served = fleet.snapshot()
    run = rollback(fleet, tmp, rollback_to="oldest")
    assert run.rc != 0
    assert "value of rollback_to must be one of: previous, older, newer, got: oldest" in run.out
    assert fleet.snapshot() == served
    got = row(run)
    assert got["outcome"] == "failed" and got["reason"].startswith("the rollback task failed, nothing was rolled back: ")
