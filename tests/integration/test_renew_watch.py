# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""renew.yml and rollback.yml over services that reload themselves: the lab's real Go gRPC service
(fsnotify), ``reload: {watch: true}`` in the inventory, never signalled.

One fleet of three due hosts in the edge group, one renew.yml run, then one rollback.yml run:

- wdir-1 watches its certificate DIRECTORY: the default (atomic) deploy is a rename in that
  directory, so it reloads by itself: renewed, no signal, proved by endpoint_info;
- wfile-1 watches the FILES for Write, deployed with the default atomic switch: it never sees the
  change, a ghost, rolled back, its previous certificate served again and on disk;
- wfile-2 is the same file watcher with ``in_place: true`` in its certificate entry: deploy rewrites
  the files in their inodes, the watcher reloads: renewed and proved; rollback.yml writes the previous
  generation back the same way.
"""

from __future__ import annotations

import os
import pathlib
import ssl
import typing as t

import pytest
from ansible_run import ROOT, run_playbook
from conftest import LabHandle
from cryptography import x509
from deploy_lab import fp
from fleet import DUE, CertSpec, Fleet, go_host, read_json
from test_renew_playbook import Run, new_orders, renew

ROLLBACK = os.path.join(ROOT, "playbooks", "rollback.yml")
# small waits for the watch services (renew_watch_*; the constant renew_probe_* before they exist):
# the ghost is given up after about 2 s instead of the default ~56 s
FAST = {"renew_probe_retries": 8, "renew_probe_retry_delay": 0.25, "renew_watch_retries": 4,
        "renew_watch_retry_delay": 0.2, "renew_watch_backoff": 1.5, "renew_watch_max_delay": 0.5}
STATE: dict[str, t.Any] = {}


@pytest.fixture(scope="module")
def fleet(lab: LabHandle, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Fleet]:
    lab.proxy_control()
    spec = [go_host("wdir-1", "edge", CertSpec("edge", ["wdir1.example.test"], **DUE), watch="dir"),
            go_host("wfile-1", "edge", CertSpec("edge", ["wfile1.example.test"], **DUE), watch="file"),
            go_host("wfile-2", "edge", CertSpec("edge", ["wfile2.example.test"], **DUE), watch="file", in_place=True)]
    fleet = Fleet(str(tmp_path_factory.mktemp("watch-fleet")), lab.info, spec).start()
    try:
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("watch-runs")


def task_lines(out: str, task: str) -> str:
    """The lines ansible-playbook printed for every run of *task* (an included task runs once per item)."""
    parts = out.split(task)[1:]
    return "\n".join(part.split("\nTASK [")[0] for part in parts)


def assert_not_signalled(run: Run, hosts: t.Sequence[str]) -> None:
    """The converge task sent nothing to these hosts' services: reload kind watch, nothing reloaded."""
    for row in run.report["rows"]:
        if row["host"] in hosts:
            assert row["reload"] == "watch" and row["reloaded"] is False, row


def reloads(fleet: Fleet, host: str) -> list[dict[str, t.Any]]:
    return [e for e in fleet.go(host).events() if e["event"] == "reloaded"]


def on_disk(fleet: Fleet, host: str) -> str:
    """Fingerprint of the leaf in the host's fullchain file, after checking its key belongs to it."""
    files = fleet.files(host)
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(files["fullchain"], files["key"])
    return fp(x509.load_pem_x509_certificate(pathlib.Path(files["fullchain"]).read_bytes()))


def test_renew_watch_services_without_a_signal(fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    before = fleet.snapshot()
    pids = {h.name: fleet.go(h.name).pid for h in fleet.spec}
    inodes = {k: os.stat(p).st_ino for k, p in fleet.files("wfile-2").items()}
    orders_before = len(new_orders(lab))
    run = renew(fleet, tmp, **FAST)
    assert run.rc != 0, run.out[-6000:]                 # the ghost fails its host
    rows = run.rows()
    expected_orders = [["wdir1.example.test"], ["wfile1.example.test"], ["wfile2.example.test"]]
    assert sorted(new_orders(lab)[orders_before:]) == expected_orders
    assert run.report["batches"] == [["wdir-1"], ["wfile-1", "wfile-2"]]
    # nothing was signalled and no reload command ran: every such task skipped, every process the same
    assert_not_signalled(run, [h.name for h in fleet.spec])
    for host in fleet.spec:
        svc = fleet.go(host.name)
        assert svc.proc is not None and svc.proc.poll() is None and svc.proc.pid == pids[host.name]
        assert [e["event"] for e in svc.events()].count("loaded") == 1       # loaded once, at start
        assert rows[(host.name, "edge")]["reload"] == "watch"

    # (a) the directory watcher: renewed, reloaded on the file event of the switch, proved by handshake
    row = rows[("wdir-1", "edge")]
    new = row["fingerprint"].lower()
    assert row["outcome"] == "renewed" and row["proved"] is True and row["batch"] == 1, row
    assert row["reason"] == "proved on edge@127.0.0.1:%d" % fleet.ports["wdir-1"]
    [event] = reloads(fleet, "wdir-1")
    assert event["fingerprint"] == new and event["previous"] == before["wdir-1"], event
    assert event["cause"].split()[0] in ("CREATE", "RENAME", "WRITE", "REMOVE"), event   # an fsnotify event
    assert fleet.served("wdir-1") == new != before["wdir-1"] and "Pebble" in fleet.issuer("wdir-1")

    # (b) the file watcher behind an atomic switch: a ghost, rolled back, the previous certificate kept
    ghost = rows[("wfile-1", "edge")]
    assert ghost["outcome"] == "rolled_back" and ghost["previous_served"] is True, ghost
    assert ghost["reason"].startswith("ghost failed after install: ") and ghost["failure"] == "ghost"
    assert "did not pick up the new certificate" in ghost["reason"]
    assert "previous certificate served again" in ghost["reason"]
    assert "serves %s... instead of %s..." % (before["wfile-1"][:23], ghost["attempted_fingerprint"].lower()[:23]) \
        in ghost["reason"].lower()
    assert ghost["fingerprint"].lower() == before["wfile-1"] != ghost["attempted_fingerprint"].lower()
    assert reloads(fleet, "wfile-1") == []               # it never saw the new pair
    assert fleet.served("wfile-1") == before["wfile-1"] == on_disk(fleet, "wfile-1")
    assert run.report["failed_hosts"] == ["wfile-1"]

    # (c) the file watcher with in_place: true: the files rewritten in their inodes, reloaded, proved
    row = rows[("wfile-2", "edge")]
    assert row["outcome"] == "renewed" and row["proved"] is True and row["batch"] == 2, row
    new = row["fingerprint"].lower()
    assert [e["fingerprint"] for e in reloads(fleet, "wfile-2")] == [new]
    assert reloads(fleet, "wfile-2")[0]["cause"].startswith("WRITE ")
    refused = [e for e in fleet.go("wfile-2").events() if e["event"] == "refused"]
    assert all("private key does not match" in e["error"] or "failed to find" in e["error"] for e in refused), refused
    assert fleet.served("wfile-2") == new == on_disk(fleet, "wfile-2")
    for role, path in fleet.files("wfile-2").items():
        assert not os.path.islink(path) and os.stat(path).st_ino == inodes[role], role
    STATE.update(before=before, renewed=fleet.served("wfile-2"), renewed_dir=fleet.served("wdir-1"))


def test_rollback_playbook_reaches_the_watchers(fleet: Fleet, tmp: pathlib.Path) -> None:
    if not STATE:
        pytest.fail("needs test_renew_watch_services_without_a_signal first")
    report_dir = tmp / "rollback"
    proc = run_playbook(ROLLBACK, {"rollback_hosts": "wdir-1:wfile-2", "rollback_names": "edge",
                                   "rollback_report_dir": str(report_dir), **FAST},
                        inventory=fleet.inventory, args=fleet.vault_args)
    run = Run(proc, report_dir)
    assert run.rc == 0, run.out[-4000:]
    report = read_json(str(report_dir / "report.json"))
    assert sorted((r["host"], r["outcome"], r["proved"]) for r in report["rows"]) == [
        ("wdir-1", "rolled_back", True), ("wfile-2", "rolled_back", True)]
    assert_not_signalled(run, ["wdir-1", "wfile-2"])
    before = STATE["before"]
    for host, renewed in (("wdir-1", STATE["renewed_dir"]), ("wfile-2", STATE["renewed"])):
        assert fleet.served(host) == before[host] == on_disk(fleet, host)
        assert [e["fingerprint"] for e in reloads(fleet, host)] == [renewed, before[host]]
    assert not os.path.islink(fleet.files("wfile-2")["cert"])
