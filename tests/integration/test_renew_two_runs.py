# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Two renew.yml runs at once over one renew_store, on a loopback fleet against the lab: both plan the same
orders (two name sets with their key on their host, one shared by three replicas), then race for the store
lock. Every key and order is made under the lock, so the second run reuses what the first ordered: exactly
one order per name set at the CA and in the ledger, both runs converge, and each report counts its own
orders only (they add up to the CA's)."""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import subprocess
import sys
import time
import typing as t

import pytest
from ansible_run import ROOT
from conftest import LabHandle
from converge_checks import Run, assert_converged
from fleet import Fleet, default_spec, read_json
from interrupt import start_playbook

PLAYBOOK = os.path.join(ROOT, "playbooks", "renew.yml")
SETS = [["wapi.example.test"], ["wedge1.example.test"], ["wedge2.example.test"]]   # the due name sets
DUE = ["wedge-1", "wedge-2", "wapi-1", "wapi-2", "wapi-3"]


@pytest.fixture
def fleet(lab: LabHandle, tmp_path: pathlib.Path) -> t.Iterator[Fleet]:
    lab.proxy_control()
    fleet = Fleet(str(tmp_path / "fleet"), lab.info, default_spec("w")).start()
    try:
        yield fleet
    finally:
        fleet.stop()


def hold_lock(path: str) -> subprocess.Popen[str]:
    """Another process holding the store lock until a line arrives on its stdin (then it releases it)."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys\n"
        "from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import ledger as _ledger\n"
        "_ledger.acquire_lock(sys.argv[1], 'gate', 0, 3600)\n"
        "print('held', flush=True)\n"
        "sys.stdin.readline()\n"
        "_ledger.release_lock(sys.argv[1], 'gate')\n"), path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.path.join(ROOT, ".build", "collections")})
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def under_lock(log: pathlib.Path) -> tuple[dt.datetime, dt.datetime]:
    """When a run started its CSR step and when it began to release the store lock (from its ANSIBLE_LOG_PATH)."""
    def when(task: str) -> dt.datetime:
        line = next(x for x in log.read_text().splitlines() if "TASK [%s" % task in x)
        return dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")

    return when("Make a key and a CSR"), when("Release the renew_store lock")


def ca_orders(lab: LabHandle, before: int) -> list[list[str]]:
    return sorted(sorted(o["identifiers"]) for o in lab.proxy_stats().get("orders", [])[before:] if o.get("status") == 201)


def run_two_at_once(fleet: Fleet, tmp_path: pathlib.Path, logs: t.Mapping[str, pathlib.Path]) -> dict[str, Run]:
    """Runs a and b of renew.yml started together, both held at the store lock until both reach it; their results."""
    os.makedirs(fleet.store, exist_ok=True)
    # a gate on the lock: both runs observe and plan, then both wait at the lock (the race of two runs started
    # together, made certain); when the gate opens, one takes the lock and the other waits for it
    gate = hold_lock(os.path.join(fleet.store, "issue.lock"))
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in ("a", "b"):
            extra = {"renew_store": fleet.store, "renew_report_dir": str(tmp_path / ("report-" + name)),
                     "renew_batch": 2, "renew_probe_retry_delay": 0.25, "renew_probe_retries": 12,
                     "renew_lock_wait": 600}
            procs[name] = start_playbook(PLAYBOOK, extra, fleet.inventory, str(tmp_path / ("%s.out" % name)),
                                         args=fleet.vault_args, ANSIBLE_FORKS="10", ANSIBLE_LOG_PATH=str(logs[name]))
        deadline = time.monotonic() + 300
        while not all(p.exists() and "Take the renew_store lock" in p.read_text() for p in logs.values()):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs.values()), \
                {n: (tmp_path / ("%s.out" % n)).read_text()[-3000:] for n in procs}
            time.sleep(0.5)
        time.sleep(1.0)
        assert gate.stdin is not None
        gate.stdin.write("go\n")
        gate.stdin.flush()
        for proc in procs.values():
            proc.wait(900)
    finally:
        gate.kill()
        gate.wait()
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return {n: Run(t.cast(int, procs[n].returncode), (tmp_path / ("%s.out" % n)).read_text(), tmp_path / ("report-" + n))
            for n in procs}


def assert_reports(runs: t.Mapping[str, Run], placed: t.Mapping[str, int], ordered: t.Mapping[str, set[str]]) -> None:
    """Each run's report: it reuses what the other run ordered, every order ok, nothing failed, its own count."""
    for name, run in runs.items():
        other = "b" if name == "a" else "a"
        reused = {o["id"] for o in run.report["orders"] if o["reused"]}
        assert reused == ordered[other], (name, run.report["orders"])   # what the other run ordered is reused here
        assert all(o["ok"] for o in run.report["orders"]), run.report["orders"]
        rows = run.rows()
        assert run.report["counts"]["failed"] == 0 and run.report["counts"]["rolled_back"] == 0, rows
        assert rows["wedge-3"]["outcome"] == "unchanged"
        assert "%d orders placed" % placed[name] in run.out


def assert_renewed_once(fleet: Fleet, runs: t.Mapping[str, Run], old: t.Mapping[str, t.Any]) -> None:
    """Every due certificate was renewed by one of the runs (the other found it installed), and is served, proved."""
    for host in DUE:
        outcomes = sorted(r.rows()[host]["outcome"] for r in runs.values())
        assert "renewed" in outcomes and set(outcomes) <= {"renewed", "unchanged"}, (host, outcomes)
        assert assert_converged(fleet, host) != old[host]
    assert len({fleet.served(h) for h in ("wapi-1", "wapi-2", "wapi-3")}) == 1
    assert fleet.served("wedge-3") == old["wedge-3"]


def assert_keys_stayed(fleet: Fleet) -> None:
    """The keys of the name sets held by one host stayed there; no staged key is left behind, nor the lock."""
    for host in ("wedge-1", "wedge-2"):
        staging = os.path.join(fleet.cert_dir(host), "edge", ".ghostguard-next", "edge")
        assert not os.path.exists(staging), os.listdir(staging)
        assert not os.path.exists(os.path.join(fleet.store, "hosts", host, "edge", "privkey.pem"))
    assert not os.path.exists(os.path.join(fleet.store, "issue.lock"))


def test_two_runs_at_once_order_each_name_set_once_and_both_converge(
        fleet: Fleet, lab: LabHandle, tmp_path: pathlib.Path) -> None:
    before = len(lab.proxy_stats().get("orders", []))
    old = fleet.snapshot()
    logs = {name: tmp_path / ("%s.log" % name) for name in ("a", "b")}
    runs = run_two_at_once(fleet, tmp_path, logs)
    for name, run in runs.items():
        assert run.rc == 0, (name, run.out[-6000:])
        assert run.plan is not None and run.report is not None, name
        # the race was real: each run planned all three orders before either had ordered anything
        assert sorted(o["domains"] for o in run.plan["orders"]) == SETS, (name, run.plan["orders"])
    # one run made its keys and orders under the lock, then the other: the two windows do not overlap
    (a_start, a_end), (b_start, b_end) = under_lock(logs["a"]), under_lock(logs["b"])
    assert a_end <= b_start or b_end <= a_start, ((a_start, a_end), (b_start, b_end))
    # exactly one order per name set: at the CA and in the ledger
    assert ca_orders(lab, before) == SETS
    ledger = read_json(os.path.join(fleet.store, "ledger.json"))
    assert sorted(e["domains"] for e in ledger) == SETS
    # each run counts its own orders: they add up to the CA's, and no order id is claimed by both runs
    placed = {n: r.report["orders_placed"] for n, r in runs.items()}
    ordered = {n: {o["id"] for o in r.report["orders"] if o["ordered"]} for n, r in runs.items()}
    assert sum(placed.values()) == 3 and {n: len(ids) for n, ids in ordered.items()} == placed, (placed, ordered)
    assert not ordered["a"] & ordered["b"]
    assert_reports(runs, placed, ordered)
    assert_renewed_once(fleet, runs, old)
    # the keys of the name sets held by one host stayed there; no staged key is left behind
    assert_keys_stayed(fleet)


# --------------------------------------------------------------------------- the CSR step under the lock


def _csr_public_key(pem: str) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    return x509.load_pem_x509_csr(pem.encode()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _public_key(key: t.Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return t.cast(bytes, key.public_key().public_bytes(serialization.Encoding.DER,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo))


def test_csr_uses_the_installed_key_of_a_certificate_another_run_installed(tmp_path: pathlib.Path) -> None:
    """The other run ordered the name set, installed it and removed its staged key: the host holds the
    certificate's key where it is installed, so the CSR is for that key (the certificate is reused, nothing is
    staged); a host that holds another key gets a new staged key (this run orders for it)."""
    from ansible_run import run_module
    from certgen import TestCA

    issued = TestCA("meanwhile CA").issue(["csr.example.test"], days=30)
    installed = tmp_path / "tls" / "privkey.pem"
    installed.parent.mkdir()
    installed.write_bytes(issued.key_pem)
    staged = tmp_path / "tls" / ".ghostguard-next" / "edge" / "privkey.pem"
    args = {"key_path": str(staged), "names": ["csr.example.test"], "certificate": issued.cert_pem.decode(),
            "installed_key_path": str(installed)}
    run = run_module("ghostguard.certs.csr", args)
    assert run.rc == 0, run.stdout
    assert run.result["holds_certificate"] is True and run.result["reused"] is True and run.result["changed"] is False
    assert run.result["key_path"] == str(installed) and not staged.exists()
    assert _csr_public_key(run.result["csr"]) == _public_key(issued.key)

    # the installed key is another one: a new key is staged, and it is not the certificate's
    other = TestCA("other CA").issue(["csr.example.test"], days=30)
    installed.write_bytes(other.key_pem)
    run = run_module("ghostguard.certs.csr", args)
    assert run.rc == 0, run.stdout
    assert run.result["holds_certificate"] is False and run.result["changed"] is True and staged.exists()
    assert run.result["key_path"] == str(staged) and _csr_public_key(run.result["csr"]) != _public_key(issued.key)

    # a staged key always wins (the run that staged it may still install it)
    staged.write_bytes(issued.key_pem)
    run = run_module("ghostguard.certs.csr", args)
    assert run.rc == 0 and run.result["holds_certificate"] is True and run.result["key_path"] == str(staged)

    bad = run_module("ghostguard.certs.csr", {**args, "certificate": "not a certificate"})
    assert bad.rc != 0 and "certificate" in bad.result["msg"], bad.result


def test_the_playbook_lock_lasts_as_long_as_the_ansible_playbook_run(tmp_path: pathlib.Path) -> None:
    """renew_store state=locked names the ansible-playbook process (not the worker of its task, gone at once):
    a second run cannot take the lock over while the first one lives."""
    store = tmp_path / "store"
    playbook = tmp_path / "hold.yml"
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "lock", "ghostguard.certs.renew_store": {"path": str(store), "state": "locked"}, "register": "held"},
        {"name": "look at the lock",
         "ansible.builtin.copy": {"src": str(store / "issue.lock"), "dest": str(tmp_path / "seen.json"), "remote_src": True}},
        {"name": "unlock", "ghostguard.certs.renew_store": {"path": str(store), "state": "unlocked",
                                                            "owner": "{{ held.owner }}"}}]}]))
    proc = start_playbook(str(playbook), {}, "localhost,", str(tmp_path / "out.log"), args=["-c", "local"])
    assert proc.wait(120) == 0, (tmp_path / "out.log").read_text()[-3000:]
    seen = read_json(str(tmp_path / "seen.json"))
    assert seen["pid"] == proc.pid, (seen, proc.pid)    # the run's process, alive through all its tasks
    assert not (store / "issue.lock").exists()
