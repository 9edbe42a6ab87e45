# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""renew.yml the way AWX/AAP runs it: through ansible-runner, every input an extra var, the survey spec;
streamed as on an execution node (``ansible-runner transmit | worker | process``: events, set_stats artifacts
and rc as AWX reads them); and job slicing - two slices of one inventory run at the same time and share
renew_store, so a name set held by hosts of both slices is ordered once and reused by the other slice."""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import re
import sys
import threading
import time
import typing as t

import ansible_runner
import pytest
from ansible_run import COLLECTIONS, ROOT, ensure_collection_link, run_playbook
from conftest import LabHandle
from fleet import CertSpec, Fleet, HostSpec, read_json
from streamed_runner import StreamedJob

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


# what an AWX project holds: a playbook that imports the collection's (the EE has the collection installed)
PROJECT = {"renew.yml": "---\n- name: Renew\n  ansible.builtin.import_playbook: ghostguard.certs.renew\n"}
RENEW_PLAYS = ["Check that renew_hosts names hosts within --limit (a pattern that matches nothing is an error, not a no-op)",
               "Validate, observe, plan and issue", "Converge the hosts, canary first, then in batches", "Report the run"]


def test_streamed_run_keeps_events_artifacts_and_rc(lab: LabHandle, tmp_path: pathlib.Path) -> None:
    """transmit | worker | process, three directories that share nothing but the pipe: the processed artifacts
    hold every play and task event, the set_stats artifact, rc 0; the certificates were renewed and proved."""
    lab.proxy_control()
    due = {"days": 30.0, "age": 29.0}
    spec = [HostSpec("sapi-1", "api", "nginx", CertSpec("api", ["sapi.example.test"], **due)),
            HostSpec("sapi-2", "api", "nginx", CertSpec("api", ["sapi.example.test"], **due)),
            HostSpec("sedge-1", "edge", "grpc", CertSpec("edge", ["sedge1.example.test"], **due))]
    fleet = Fleet(str(tmp_path / "fleet"), lab.info, spec).start()
    try:
        before = fleet.snapshot()
        job = StreamedJob(tmp_path / "job", ident="renew-streamed")
        job.project(PROJECT)
        job.inventory_from(fleet.inventory)
        job.extravars({"renew_store": fleet.store, "renew_report_dir": str(tmp_path / "report"),
                       "renew_probe_retry_delay": 0.25})
        with open(fleet.vault_password_file) as handle:
            job.vault_password(handle.read().strip())
        result = job.run("renew.yml")
        assert result.pipe_rcs == (0, 0, 0), result.stdout[-3000:]
        assert result.rc == 0 and result.status == "successful", result.stdout[-3000:]
        # the events AWX stores for the job: every play and task of renew.yml, per-host results, the stats
        plays = result.names("playbook_on_play_start")   # the converge play starts once per batch (serial)
        assert list(dict.fromkeys(plays)) == RENEW_PLAYS and plays.count(RENEW_PLAYS[2]) == 3  # canary, 1, 1
        tasks = result.names("playbook_on_task_start")
        for task in ("Issue every due order on the controller, concurrently, under the renew_store lock",
                     "Install what was issued, reload what serves another certificate, prove, roll back on failure",
                     "Publish the outcome as job artifacts (AWX / AAP)"):
            assert task in tasks
        converged = {e["event_data"]["host"] for e in result.events if e.get("event") == "runner_on_ok"
                     and e["event_data"].get("task", "").startswith("Install what was issued")}
        assert converged == {"sapi-1", "sapi-2", "sedge-1"}
        stats = next(e for e in result.events if e.get("event") == "playbook_on_stats")["event_data"]
        assert stats["failures"] == {} and stats["dark"] == {} and set(stats["ok"]) >= {"sapi-1", "sapi-2", "sedge-1"}
        assert [e["counter"] for e in result.events] == sorted(e["counter"] for e in result.events)
        # the set_stats artifact, as `ansible-runner process` wrote it back on the control side
        artifact = result.stats_artifact["ghostguard_renew"]
        assert artifact["ok"] is True and artifact["counts"]["renewed"] == 3 and artifact["failed_hosts"] == []
        assert artifact["orders_placed"] == 2
        assert sorted((r["host"], r["outcome"]) for r in artifact["rows"]) == [
            ("sapi-1", "renewed"), ("sapi-2", "renewed"), ("sedge-1", "renewed")]
        # proved: each service serves the new certificate, and the report says the handshake proved it
        report = read_json(str(tmp_path / "report" / "report.json"))
        assert {(r["host"], r["proved"]) for r in report["rows"]} == {("sapi-1", True), ("sapi-2", True), ("sedge-1", True)}
        for host in ("sapi-1", "sapi-2", "sedge-1"):
            assert fleet.served(host) != before[host]
        assert fleet.served("sapi-1") == fleet.served("sapi-2")
        # nothing secret went down the stream: no key, no vault-encrypted value in clear
        stream = json.dumps(result.events) + result.stdout
        assert "PRIVATE KEY" not in stream and lab.info["tsig"]["secret"] not in stream
        assert not (job.private / "artifacts").exists()   # the control side's directory was only packed
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


# ----------------------------------------------------------------------------- slices with a store host

STORE_HOST = "store-1"   # a host of its own (local connection here) whose store directory no slice shares


def _local(extra: t.Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
    return {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, **(extra or {})}


def slice_job(fleet: Fleet, tmp: pathlib.Path, name: str, hosts: list[str], with_store_host: bool,
              store: str) -> StreamedJob:
    """One AWX slice: its own job directories and an inventory holding only its share of the hosts. The slice
    that does not hold the store host reaches it by its name, with the inventory's `all` variables (as a job
    slice of AWX does: AWX gives every slice the inventory's variables, and each host to one slice only)."""
    inventory = fleet.write_inventory(directory=str(tmp / ("inv-" + name)), only=hosts,
                                      extra_hosts={STORE_HOST: _local()} if with_store_host else None)
    if not with_store_host:
        with open(os.path.join(inventory, "group_vars", "all", "connection.yml"), "w") as handle:
            handle.write("ansible_connection: local\nansible_python_interpreter: %s\n" % sys.executable)
    job = StreamedJob(tmp / name, ident=name)
    job.project(PROJECT)
    job.inventory_from(inventory)
    job.extravars({"renew_store_host": STORE_HOST, "renew_store": store,
                   "renew_report_dir": str(tmp / name / "report"), "renew_probe_retry_delay": 0.25})
    with open(fleet.vault_password_file) as handle:
        job.vault_password(handle.read().strip())
    return job


def lock_event(result: t.Any) -> dict[str, t.Any]:
    for event in result.events:
        data = event.get("event_data") or {}
        if event.get("event") == "runner_on_ok" and data.get("task", "").startswith("Take the renew_store lock"):
            res: dict[str, t.Any] = data["res"]
            return res
    raise AssertionError("no lock event")


def lock_task_times(result: t.Any) -> tuple[float, float]:
    """When the lock task started and when it returned (its runner_on_start and runner_on_ok events, which
    ansible-runner stamps in UTC)."""
    times = {}
    for event in result.events:
        if event.get("event") in ("runner_on_start", "runner_on_ok") and \
                event["event_data"].get("task", "").startswith("Take the renew_store lock"):
            created = dt.datetime.fromisoformat(event["created"])
            times[event["event"]] = (created if created.tzinfo else created.replace(tzinfo=dt.timezone.utc)).timestamp()
    return times["runner_on_start"], times["runner_on_ok"]


def test_two_slices_without_a_shared_directory_order_once_through_the_store_host(
        lab: LabHandle, tmp_path: pathlib.Path) -> None:
    """Two slices streamed at once through their own runner directories, sharing no directory: the store host
    holds the lock, the ledger and the shared key, so the name set both slices hold is ordered once."""
    lab.proxy_control()
    due = {"days": 30.0, "age": 29.0}
    spec = [HostSpec("xapi-1", "api", "nginx", CertSpec("api", ["xapi.example.test"], **due)),
            HostSpec("xapi-2", "api", "nginx", CertSpec("api", ["xapi.example.test"], **due))]
    fleet = Fleet(str(tmp_path / "fleet"), lab.info, spec).start()
    store = str(tmp_path / "store-host" / "renew-store")      # on the store host only
    try:
        before = fleet.snapshot()
        orders_before = len(lab.proxy_stats().get("orders", []))
        jobs = {"slice1": slice_job(fleet, tmp_path, "slice1", ["xapi-1"], True, store),
                "slice2": slice_job(fleet, tmp_path, "slice2", ["xapi-2"], False, store)}
        results: dict[str, t.Any] = {}
        threads = [threading.Thread(target=lambda n=n, j=j: results.__setitem__(n, j.run("renew.yml")))
                   for n, j in jobs.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(900)
        for name, result in results.items():
            assert result.rc == 0 and result.status == "successful", (name, result.stdout[-4000:])
            artifact = result.stats_artifact["ghostguard_renew"]
            assert artifact["ok"] is True and artifact["counts"]["renewed"] == 1, (name, artifact)
            lock = lock_event(result)
            assert lock["owner"] and lock["broke_stale"] is None
            # the store tasks ran on the store host, delegated
            delegated = {e["event_data"].get("task") for e in result.events if e.get("event") == "runner_on_ok"
                         and e["event_data"].get("host") != STORE_HOST
                         and (e["event_data"].get("res") or {}).get("_ansible_delegated_vars", {}).get(
                             "ansible_host") == STORE_HOST}
            assert "Issue every due order on the controller, concurrently, under the renew_store lock" in delegated
            stream = json.dumps(result.events) + result.stdout
            assert "PRIVATE KEY" not in stream
        orders = [o["identifiers"] for o in lab.proxy_stats().get("orders", [])[orders_before:] if o.get("status") == 201]
        assert orders == [["xapi.example.test"]]
        placed = sorted(results[n].stats_artifact["ghostguard_renew"]["orders_placed"] for n in jobs)
        assert placed == [0, 1]
        assert fleet.served("xapi-1") == fleet.served("xapi-2") != before["xapi-1"]
        # the store is on the store host; nothing of it in either slice's directories or the controllers' default
        ledger = read_json(os.path.join(store, "ledger.json"))
        assert [e["domains"] for e in ledger] == [["xapi.example.test"]]
        assert not os.path.exists(os.path.join(store, "issue.lock"))
        assert len(list(pathlib.Path(store, "sets").glob("*/privkey.pem"))) == 1
        for name in jobs:
            assert not [p for p in (tmp_path / name).rglob("*") if p.name in ("ledger.json", "issue.lock", "privkey.pem")]
    finally:
        fleet.stop()


def test_a_lock_whose_slice_vanished_is_taken_over_after_its_lease(lab: LabHandle, tmp_path: pathlib.Path) -> None:
    """A slice that died holding the store host's lock (a lease from another machine, no process to look at) holds
    up the next run only until its lease runs out; then its lock is taken over and the run renews."""
    lab.proxy_control()
    due = {"days": 30.0, "age": 29.0}
    fleet = Fleet(str(tmp_path / "fleet"), lab.info,
                  [HostSpec("yapi-1", "api", "nginx", CertSpec("api", ["yapi.example.test"], **due))]).start()
    store = tmp_path / "store-host" / "renew-store"
    store.mkdir(parents=True)
    try:
        before = fleet.snapshot()
        lease_left = 30.0   # longer than the run needs to reach its lock task (~10 s): it must wait for the lease
        planted_until = time.time() + lease_left
        (store / "issue.lock").write_text(json.dumps({
            "owner": "vanished-slice", "host": "awx-execution-node-7", "boot_id": "0" * 32, "pid": None,
            "time": "2026-01-01T00:00:00Z", "lease": 120.0, "lease_until": planted_until}))
        # (the lease is renewed by nobody: its slice is gone)
        job = slice_job(fleet, tmp_path, "after", ["yapi-1"], True, str(store))
        started = time.monotonic()
        result = job.run("renew.yml")
        assert result.rc == 0 and result.status == "successful", result.stdout[-4000:]
        lock = lock_event(result)
        assert lock["broke_stale"]["owner"] == "vanished-slice"
        assert "lease ran out" in lock["broke_stale"]["why"]
        asked, took = lock_task_times(result)
        assert asked < planted_until - 5.0 and lock["waited"] > 5.0   # the live lease was respected ...
        assert took >= planted_until                                  # ... until it ran out
        assert time.monotonic() - started >= lease_left
        assert result.stats_artifact["ghostguard_renew"]["counts"]["renewed"] == 1
        assert fleet.served("yapi-1") != before["yapi-1"]
        assert not (store / "issue.lock").exists()
    finally:
        fleet.stop()


@pytest.mark.parametrize(("extra", "message"), [
    ({"renew_store_host": "store-*"}, "renew_store_host: must be the name of one host"),
    ({"renew_store_host": STORE_HOST, "renew_host_keys": True},
     "renew_store_host and renew_host_keys=true do not go together"),
])
def test_a_bad_store_host_is_refused_before_anything(lab: LabHandle, tmp_path: pathlib.Path, extra: dict[str, t.Any],
                                                     message: str) -> None:
    due = {"days": 30.0, "age": 29.0}
    fleet = Fleet(str(tmp_path / "fleet"), lab.info, [HostSpec("zapi-1", "api", "nginx", CertSpec("api", ["zapi.example.test"], **due))],
                  services=False).start()
    orders_before = len(lab.proxy_stats().get("orders", []))
    proc = run_playbook(PLAYBOOK, {"renew_store": str(tmp_path / "store"), **extra}, inventory=fleet.inventory,
                        args=fleet.vault_args)
    assert proc.returncode != 0 and message in proc.stdout, proc.stdout[-3000:]
    assert "nothing was ordered or changed" in proc.stdout
    assert len(lab.proxy_stats().get("orders", [])) == orders_before and not (tmp_path / "store").exists()


@pytest.mark.parametrize("trouble", ["unreachable", "broken ledger"])
def test_a_store_host_that_cannot_be_read_stops_the_run_before_any_order(lab: LabHandle, tmp_path: pathlib.Path,
                                                                         trouble: str) -> None:
    due = {"days": 30.0, "age": 29.0}
    spec = [HostSpec("zapi-%d" % i, "api", "nginx", CertSpec("api", ["zapi2.example.test"], **due)) for i in (2, 3)]
    fleet = Fleet(str(tmp_path / "fleet"), lab.info, spec, services=False).start()
    store = tmp_path / "store"
    if trouble == "unreachable":
        host = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_user": "nobody"}
    else:
        host = _local()
        store.mkdir()
        (store / "ledger.json").write_text("{not json")
    inventory = fleet.write_inventory(extra_hosts={STORE_HOST: host})
    cert = pathlib.Path(fleet.files("zapi-2")["cert"])
    before = cert.read_bytes()
    orders_before = len(lab.proxy_stats().get("orders", []))
    proc = run_playbook(PLAYBOOK, {"renew_store_host": STORE_HOST, "renew_store": str(store)},
                        inventory=inventory, args=fleet.vault_args)
    assert proc.returncode != 0, proc.stdout[-3000:]
    if trouble == "unreachable":   # the run stops at the store host, naming it and why
        assert "fatal: [zapi-2 -> store-1]: UNREACHABLE!" in proc.stdout and "Connection refused" in proc.stdout
        assert not store.exists()
    else:
        assert "renew_store_host store-1: the store %s cannot be read there (the order ledger %s/ledger.json is " \
               "unreadable" % (store, store) in proc.stdout
        assert "nothing was ordered or changed" in proc.stdout and "Check that the host is reachable" in proc.stdout
        assert sorted(p.name for p in store.iterdir()) == ["ledger.json"]
    assert len(lab.proxy_stats().get("orders", [])) == orders_before and cert.read_bytes() == before
