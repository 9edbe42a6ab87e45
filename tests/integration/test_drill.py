# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A revocation drill in the lab (as Let's Encrypt runs one every year through ARI): the CA moves every
certificate's renewal window into the past. renew.yml renews the whole fleet in one run and the certwatch agent
every certificate of its host in one timer run; each order names the certificate it replaces, none is charged to
the rate-limit budget (a budget smaller than the fleet admits them all), every renewal keeps its profile, and every
service is proved serving its new certificate."""

from __future__ import annotations

import os
import pathlib
import time
import typing as t

import pytest
from ansible_run import ROOT, run_playbook
from drill import AgentHost, accepted, fleet_lab, leaf_of
from fleet import CertSpec, Fleet, HostSpec, read_json
from lab_fixture import LabHandle

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._acme.ari import cert_id
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import ledger as _ledger

PLAYBOOK = os.path.join(ROOT, "playbooks", "renew.yml")
DUE = {"days": 30.0, "age": 28.5}


@pytest.fixture(scope="module")
def drill_ca(lab: LabHandle) -> t.Iterator[dict[str, t.Any]]:
    """A CA of the drill's own (its ARI control is not the shared proxy's): 6-day certificates, profile shortlived,
    ARI answers kept 1 s (the drill is seen by the first run after it)."""
    ca = lab.short_lived_ca("drill", validity=6 * 86400)
    lab.control_of(ca, ari_retry_after=1)
    try:
        yield ca
    finally:
        lab.stop_ca(ca)


def _spec() -> list[HostSpec]:
    """6 nginx hosts, 5 name sets (drill-5 and drill-6 are replicas of one service)."""
    hosts = [HostSpec("drill-%d" % i, "api", "nginx", CertSpec("web", ["drill%d.example.test" % i], **DUE))
             for i in range(1, 5)]
    return hosts + [HostSpec("drill-%d" % i, "api", "nginx", CertSpec("web", ["drill56.example.test"], **DUE))
                    for i in (5, 6)]


def test_renew_yml_replaces_the_whole_fleet_in_one_run_with_replaces_and_no_budget(
        lab: LabHandle, drill_ca: dict[str, t.Any], tmp_path: pathlib.Path) -> None:
    lab.control_of(drill_ca, ari_retry_after=1)
    fleet = Fleet(str(tmp_path / "fleet"), fleet_lab(lab.info, drill_ca), _spec()).start()
    try:
        fleet.write_inventory(acme_extra={"profile": "shortlived"})
        args = [*fleet.vault_args]
        first = run_playbook(PLAYBOOK, {"renew_store": fleet.store, "renew_report_dir": str(tmp_path / "r1"),
                                        "renew_batch": "50%"}, inventory=fleet.inventory, args=args, timeout=900)
        assert first.returncode == 0, (first.stdout + first.stderr)[-4000:]
        issued = accepted(lab.stats_of(drill_ca))
        assert len(issued) == 5 and {o["profile"] for o in issued} == {"shortlived"}, issued
        lines = [line.strip().rstrip(",").strip('"') for line in first.stdout.splitlines()]   # the plan table
        header = next(line for line in lines if line.startswith("NAME SET"))
        rows = [line for line in lines if line.startswith("drill") and "example.test" in line.split()[0]]
        assert len(rows) == 5 and all(r[header.index("PROFILE"):].split()[0] == "shortlived" for r in rows), rows
        before = {h.name: fleet.served(h.name) for h in fleet.spec}
        ids = {h.name: cert_id(leaf_of(fleet.files(h.name)["cert"])) for h in fleet.spec}
        ledger_before = len(_ledger.load_ledger(os.path.join(fleet.store, "ledger.json")))
        assert ledger_before == 5

        # the drill: every window in the past; a budget of 1 order per 3 hours (5 were placed just now) and 1 per
        # registered domain per week: any order charged to it would be deferred
        lab.control_of(drill_ca, ari_due=True, ari_retry_after=1)
        time.sleep(1.1)
        since = len(lab.stats_of(drill_ca).get("orders") or [])
        started = time.monotonic()
        drill = run_playbook(PLAYBOOK, {"renew_store": fleet.store, "renew_report_dir": str(tmp_path / "r2"),
                                        "renew_batch": "50%",
                                        "renew_limits": {"orders_per_3h": 1, "per_registered_domain_week": 1}},
                             inventory=fleet.inventory, args=args, timeout=900)
        took = time.monotonic() - started
        out = drill.stdout + drill.stderr
        assert drill.returncode == 0, out[-4000:]
        plan = read_json(str(tmp_path / "r2" / "plan.json"))
        assert plan["deferred"] == [] and plan["budget"]["ok"], plan["budget"]
        assert len(plan["orders"]) == 5 and all(o["ari_exempt"] and o["replaces"] for o in plan["orders"])
        assert plan["budget"]["exempt_planned"] == 5 and plan["summary"]["ari_orders"] == 5
        assert all(s["why"] and all(": ari: the CA's renewal window opened" in w for w in s["why"]) for s in plan["sets"])
        orders = accepted(lab.stats_of(drill_ca), since)
        assert ids["drill-5"] == ids["drill-6"]       # one order, one shared key: the same certificate on both
        assert sorted(o["replaces"] for o in orders) == sorted(set(ids.values()))   # each once, none without
        assert {o["profile"] for o in orders} == {"shortlived"}
        entries = _ledger.load_ledger(os.path.join(fleet.store, "ledger.json"))[ledger_before:]
        assert len(entries) == 5 and all(e["replaces"] and e.get("profile") == "shortlived" for e in entries)
        report = read_json(str(tmp_path / "r2" / "report.json"))
        assert {r["host"]: r["outcome"] for r in report["rows"]} == {h.name: "renewed" for h in fleet.spec}
        after = {h.name: fleet.served(h.name) for h in fleet.spec}
        for host in fleet.spec:
            files = _x509.fingerprint(leaf_of(fleet.files(host.name)["cert"]))
            assert after[host.name] == files != before[host.name], host.name    # replaced, and proved served
        print("drill: renew.yml replaced 6 hosts / 5 name sets in %.1f s" % took)
    finally:
        lab.control_of(drill_ca, ari_retry_after=1)
        fleet.stop()


def test_the_agent_replaces_every_certificate_of_its_host_in_one_timer_run(
        lab: LabHandle, drill_ca: dict[str, t.Any], tmp_path: pathlib.Path) -> None:
    lab.control_of(drill_ca, ari_retry_after=1)
    names = ["agent-drill%d.example.test" % i for i in range(6)]
    agent = AgentHost(tmp_path, lab.info, drill_ca, names, profile="shortlived").start()
    try:
        first = agent.tick()
        assert first.returncode == 0, first.stdout + first.stderr
        assert {c: r["outcome"] for c, r in agent.records(first).items()} == dict.fromkeys(agent.certs, "renewed")
        quiet = agent.tick()                          # nothing due: no order
        assert quiet.returncode == 0 and set(r["outcome"] for r in agent.records(quiet).values()) == {"checked"}
        ids = agent.ari_ids()
        lab.control_of(drill_ca, ari_due=True, ari_retry_after=1)
        time.sleep(1.1)
        since = len(lab.stats_of(drill_ca).get("orders") or [])
        started = time.monotonic()
        tick = agent.tick()                           # one timer run
        took = time.monotonic() - started
        assert tick.returncode == 0, tick.stdout + tick.stderr
        records = agent.records(tick)
        assert all(r["outcome"] == "renewed" and r["ari"] is True for r in records.values()), records
        assert all(r["probes"][0]["served_matches"] is True and not r["unproved"] for r in records.values())
        orders = accepted(lab.stats_of(drill_ca), since)
        assert sorted(o["replaces"] for o in orders) == sorted(ids.values())
        assert {o["profile"] for o in orders} == {"shortlived"}
        assert all(ids[c] != cert_id(leaf) for c, leaf in agent.leaves().items())
        print("drill: the agent replaced 6 certificates in one run of %.1f s" % took)
    finally:
        lab.control_of(drill_ca, ari_retry_after=1)
        agent.stop()
