# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark a revocation drill in the lab: how long until the fleet is fully replaced and proved.

The lab's CA (Pebble issuing 6-day certificates for the ``shortlived`` profile, behind the ACME proxy) first
issues every certificate; then the proxy moves every ARI window into the past (``ari_due``), as Let's Encrypt
does in its yearly drill, and we time:

(a) renew.yml over N local hosts (default 8, each with its own nginx; hosts 2k and 2k+1 share a name set), with a
    rate-limit budget of 1 order per 3 hours: every order must carry ``replaces`` and be exempt from it;
(b) the certwatch agent on one host with M certificates (default 8, one nginx site each): one timer run.

"Replaced and proved" = every service serves a certificate other than before the drill, equal to its files,
issued with ``replaces`` naming the certificate it replaced. Exits 1 when any of that does not hold.

Usage: ``python bench/drill.py [--hosts 8] [--agent-certs 8] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
import typing as t

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(ROOT, "tests", "lab"), os.path.join(ROOT, "tests", "support"),
                os.path.join(ROOT, ".build", "collections")]

from ansible_run import ansible_env  # noqa: E402

BIN = os.path.dirname(sys.executable)
DAY = 86400


def table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip())


def renew(inventory: str, vault: list[str], extra: dict[str, t.Any], env: dict[str, str]) -> tuple[float, int, str]:
    started = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, *vault,
                           os.path.join(ROOT, "playbooks", "renew.yml"), "-e", json.dumps(extra)],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    return time.monotonic() - started, proc.returncode, proc.stdout[-3000:]


def fleet_drill(out: str, handle: t.Any, ca: dict[str, t.Any], hosts: int) -> tuple[list[tuple[str, ...]], bool]:
    from drill import accepted, fleet_lab, leaf_of
    from fleet import CertSpec, Fleet, HostSpec

    from ansible_collections.ghostguard.certs.plugins.module_utils import _x509
    from ansible_collections.ghostguard.certs.plugins.module_utils._acme.ari import cert_id

    due = {"days": 30.0, "age": 28.5}
    spec = [HostSpec("bd-%02d" % i, "api", "nginx", CertSpec("web", ["bd%d.example.test" % (i // 2)], **due))
            for i in range(hosts)]
    fleet = Fleet(os.path.join(out, "fleet"), fleet_lab(handle.info, ca), spec).start()
    rows: list[tuple[str, ...]] = []
    try:
        fleet.write_inventory(acme_extra={"profile": "shortlived"})
        env = ansible_env(ANSIBLE_FORKS="10")
        store = {"renew_store": fleet.store, "renew_batch": "50%"}
        took, rc, tail = renew(fleet.inventory, fleet.vault_args, {**store, "renew_report_dir": os.path.join(out, "r1")},
                               env)
        sets = len({h.cert.domains[0] for h in spec})
        issued = accepted(handle.stats_of(ca))
        rows.append(("renew.yml, first issuance (%d hosts, %d name sets)" % (hosts, sets), "%.1f s" % took,
                     str(len(issued)), "-", str(rc)))
        if rc != 0:
            print(tail)
            return rows, False
        before = fleet.snapshot()
        ids = {cert_id(leaf_of(fleet.files(h.name)["cert"])) for h in spec}
        handle.control_of(ca, ari_due=True, ari_retry_after=1)
        time.sleep(1.1)
        since = len(handle.stats_of(ca).get("orders") or [])
        took, rc, tail = renew(fleet.inventory, fleet.vault_args,
                               {**store, "renew_report_dir": os.path.join(out, "r2"),
                                "renew_limits": {"orders_per_3h": 1, "per_registered_domain_week": 1}}, env)
        orders = accepted(handle.stats_of(ca), since)
        after = fleet.snapshot()
        proved = all(after[h.name] != before[h.name] and
                     after[h.name] == _x509.fingerprint(leaf_of(fleet.files(h.name)["cert"])) for h in spec)
        replaces = sorted(str(o.get("replaces")) for o in orders) == sorted(ids)
        with open(os.path.join(out, "r2", "plan.json")) as handle_:
            plan = json.load(handle_)
        ok = rc == 0 and proved and replaces and not plan["deferred"]
        rows.append(("renew.yml, the drill (budget 1 order / 3 h)", "%.1f s" % took, str(len(orders)),
                     "%d/%d" % (sum(1 for o in orders if o.get("replaces")), len(orders)),
                     "%d%s" % (rc, "" if ok else " (NOT all replaced and proved)")))
        if not ok:
            print(tail)
        return rows, ok
    finally:
        handle.control_of(ca, ari_retry_after=1)
        fleet.stop()


def agent_drill(out: str, handle: t.Any, ca: dict[str, t.Any], count: int) -> tuple[list[tuple[str, ...]], bool]:
    from drill import AgentHost, accepted

    from ansible_collections.ghostguard.certs.plugins.module_utils._acme.ari import cert_id

    root = pathlib.Path(out) / "agent"
    root.mkdir(parents=True)
    agent = AgentHost(root, handle.info, ca, ["ad%d.example.test" % i for i in range(count)], profile="shortlived")
    rows: list[tuple[str, ...]] = []
    try:
        agent.start()
        started = time.monotonic()
        first = agent.tick()
        rows.append(("agent, first issuance (%d certificates)" % count, "%.1f s" % (time.monotonic() - started),
                     str(count), "-", str(first.returncode)))
        if first.returncode != 0:
            print(first.stdout[-2000:], first.stderr[-2000:])
            return rows, False
        ids = agent.ari_ids()
        handle.control_of(ca, ari_due=True, ari_retry_after=1)
        time.sleep(1.1)
        since = len(handle.stats_of(ca).get("orders") or [])
        started = time.monotonic()
        tick = agent.tick()
        took = time.monotonic() - started
        records = agent.records(tick)
        orders = accepted(handle.stats_of(ca), since)
        ok = tick.returncode == 0 and len(records) == count and all(
            r["outcome"] == "renewed" and r["probes"][0]["served_matches"] is True for r in records.values()) and \
            sorted(str(o.get("replaces")) for o in orders) == sorted(ids.values()) and \
            all(ids[c] != cert_id(leaf) for c, leaf in agent.leaves().items())
        rows.append(("agent, the drill: one timer run", "%.1f s" % took, str(len(orders)),
                     "%d/%d" % (sum(1 for o in orders if o.get("replaces")), len(orders)),
                     "%d%s" % (tick.returncode, "" if ok else " (NOT all replaced and proved)")))
        if not ok:
            print(tick.stdout[-2000:], tick.stderr[-2000:])
        return rows, ok
    finally:
        agent.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--agent-certs", type=int, default=8)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "drill"))
    args = parser.parse_args()
    from lab import Lab
    from lab_fixture import LabHandle

    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    lab_dir = os.path.join(args.out, "lab")
    handle = LabHandle(Lab.start(lab_dir))
    ca = handle.short_lived_ca("drill", validity=6 * DAY)
    try:
        handle.control_of(ca, ari_retry_after=1)
        rows: list[tuple[str, ...]] = [("RUN", "WALL TIME", "ORDERS", "WITH REPLACES", "RC")]
        fleet_rows, fleet_ok = fleet_drill(args.out, handle, ca, args.hosts)
        handle.control_of(ca, ari_retry_after=1)
        agent_rows, agent_ok = agent_drill(args.out, handle, ca, args.agent_certs)
        table(rows + fleet_rows + agent_rows)
        print("fully replaced and proved: renew.yml %s, agent %s" % ("yes" if fleet_ok else "NO", "yes" if agent_ok else "NO"))
        return 0 if fleet_ok and agent_ok else 1
    finally:
        handle.stop_ca(ca)
        Lab.stop(lab_dir)


if __name__ == "__main__":
    sys.exit(main())
