# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""renew.yml the way AWX/AAP runs it: through ansible-runner, every input an extra var, the survey spec,
and job slicing - two slices of one inventory run at the same time and share renew_store, so a name set
held by hosts of both slices is ordered once and reused by the other slice."""

from __future__ import annotations

import json
import os
import pathlib
import re
import sys
import threading
import typing as t

import ansible_runner
import pytest
from ansible_run import COLLECTIONS, ROOT, ensure_collection_link
from conftest import LabHandle
from fleet import CertSpec, Fleet, HostSpec, read_json

PLAYBOOK = os.path.join(ROOT, "playbooks", "renew.yml")


def run_slice(fleet: Fleet, name: str, inventory: str, tmp: pathlib.Path) -> t.Any:
    ensure_collection_link()
    private = tmp / name
    private.mkdir()
    return ansible_runner.run(
        private_data_dir=str(private),
        playbook=PLAYBOOK,
        inventory=inventory,
        extravars={"renew_store": fleet.store, "renew_report_dir": str(tmp / ("report-" + name)),
                   "renew_host_keys": False, "renew_probe_retry_delay": 0.25},
        cmdline="--vault-password-file %s" % fleet.vault_password_file,
        envvars={"ANSIBLE_COLLECTIONS_PATH": COLLECTIONS, "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
                 "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")},
        quiet=True,
        ident=name,
    )


def stats_artifact(runner: t.Any) -> dict[str, t.Any]:
    for event in runner.events:
        if event.get("event") == "playbook_on_stats":
            data: dict[str, t.Any] = event["event_data"].get("artifact_data") or {}
            return data
    raise AssertionError("no playbook_on_stats event")


def test_two_slices_share_the_store_and_order_a_shared_name_set_once(lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab.proxy_control()
    due = {"days": 30.0, "age": 29.0}
    spec = [HostSpec("wapi-1", "api", "nginx", CertSpec("api", ["wapi.example.test"], **due)),
            HostSpec("wapi-2", "api", "nginx", CertSpec("api", ["wapi.example.test"], **due))]
    fleet = Fleet(str(tmp_path / "fleet"), lab.info, spec).start()
    try:
        before = fleet.snapshot()
        orders_before = len(lab.proxy_stats().get("orders", []))  # newOrder requests; 201 = an order created
        # AWX slicing: each job gets an inventory holding only its slice of the hosts
        halves = {"slice1": fleet.write_inventory(directory=str(tmp_path / "inv-1"), only=["wapi-1"]),
                  "slice2": fleet.write_inventory(directory=str(tmp_path / "inv-2"), only=["wapi-2"])}
        results: dict[str, t.Any] = {}
        threads = [threading.Thread(target=lambda n=n, i=i: results.__setitem__(n, run_slice(fleet, n, i, tmp_path)))
                   for n, i in halves.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(900)
        for name, runner in results.items():
            # what AWX reads: status, rc, per-host stats and the set_stats artifact
            assert runner.status == "successful" and runner.rc == 0, (name, runner.stdout.read()[-4000:])
            artifacts = tmp_path / name / "artifacts" / name
            assert (artifacts / "rc").read_text().strip() == "0"
            assert (artifacts / "status").read_text().strip() == "successful"
            assert list((artifacts / "job_events").glob("*.json"))
            host = "wapi-1" if name == "slice1" else "wapi-2"
            assert runner.stats["failures"] == {} and host in runner.stats["ok"]
            artifact = stats_artifact(runner)["ghostguard_renew"]
            assert artifact["ok"] is True and artifact["counts"]["renewed"] == 1 and artifact["failed_hosts"] == []
            assert [r["host"] for r in artifact["rows"]] == [host]
            assert "PRIVATE KEY" not in json.dumps(stats_artifact(runner))
        orders = [o["identifiers"] for o in lab.proxy_stats().get("orders", [])[orders_before:] if o.get("status") == 201]
        assert orders == [["wapi.example.test"]]
        placed = sorted(read_json(str(tmp_path / ("report-" + n) / "report.json"))["orders_placed"] for n in halves)
        assert placed == [0, 1]         # one slice ordered, the other reused the fresh certificate in renew_store
        assert fleet.served("wapi-1") == fleet.served("wapi-2") != before["wapi-1"]
        assert not os.path.exists(os.path.join(fleet.store, "issue.lock"))
        ledger = read_json(os.path.join(fleet.store, "ledger.json"))
        assert [e["domains"] for e in ledger] == [["wapi.example.test"]]
    finally:
        fleet.stop()


def test_survey_spec_covers_the_playbook_inputs() -> None:
    with open(os.path.join(ROOT, "awx", "renew_survey.json")) as handle:
        survey = json.load(handle)
    variables = [q["variable"] for q in survey["spec"]]
    with open(PLAYBOOK) as handle:
        header = handle.read().split("\n- name:", 1)[0]
    documented = set(re.findall(r"\b(renew_[a-z_]+)\b", header))
    assert set(variables) <= documented
    assert {"renew_hosts", "renew_names", "renew_canary", "renew_batch", "renew_max_fail_percentage", "renew_dry_run",
            "renew_store", "renew_host_keys"} <= set(variables)
    for question in survey["spec"]:
        assert {"question_name", "variable", "type", "required"} <= set(question)
        assert question["type"] in ("text", "integer", "multiplechoice")


@pytest.mark.parametrize("name", ["renew_canary", "renew_batch"])
def test_survey_defaults_match_the_playbook(name: str) -> None:
    with open(os.path.join(ROOT, "awx", "renew_survey.json")) as handle:
        survey = {q["variable"]: q for q in json.load(handle)["spec"]}
    with open(PLAYBOOK) as handle:
        text = handle.read()
    assert "%s | default(%r)" % (name, survey[name]["default"]) in text.replace('"', "'") or \
        "%s | default(%s)" % (name, survey[name]["default"]) in text
