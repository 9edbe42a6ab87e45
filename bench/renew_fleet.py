# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark renew.yml (the same lab, side by side):

(a) 20 local hosts, each with its own nginx, sharing 4 name sets (5 replicas each), all due: renew.yml, canary 1
    then 50% batches, every host proved by handshake (wall time, orders placed: must be 4) against a naive
    per-host loop of acme_dns01 + deploy (bench/naive_renew.yml: 20 orders, no proof); target: renew.yml's wall
    time at most the naive loop's;
(b) the no-op run (nothing due) over the same 20 hosts, with ARI asked and every probe observed, what a
    schedule runs most of the time, against `ansible all -m ping` over the same hosts; target: at most 2x;
(c) a planning simulation for 237, 1,000 and 10,000 hosts with realistic name-set sharing: plan time,
    orders, batches and the rate-limit verdict (no hosts needed).

Usage: ``python bench/renew_fleet.py [--plan-only] [--out DIR]``. Exits 1 when renew.yml does not place
exactly one order per name set.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
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


def table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip())


# ------------------------------------------------------------------------------------------ (c) planning


def simulate(hosts: int, seed: int = 7) -> dict[str, t.Any]:
    from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import inventory as _inventory
    from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import ledger as _ledger
    from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import plan as _plan

    rng = random.Random(seed)
    now = time.time()
    data: dict[str, dict[str, t.Any]] = {}
    # realistic sharing: services of 1 to 12 replicas, each replica holding its service's name set,
    # plus one host-only certificate per host; ~1/6 of the services due now
    index = 0
    service = 0
    while index < hosts:
        replicas = min(hosts - index, rng.choice([1, 1, 2, 3, 3, 4, 6, 8, 12]))
        due = rng.random() < 1 / 6
        domains = ["svc%d.example%d.com" % (service, service % 40)]
        for _replica in range(replicas):
            name = "host-%05d" % index
            certs = _inventory.normalize_certificates(name, {"certwatch_cert_dir": "/etc/tls", "certwatch_certificates": [
                {"name": "svc", "domains": domains}, {"name": "self", "domains": ["%s.node.example.net" % name]}]})
            expiry = {"certificates": [
                {"path": certs[0]["cert_path"], "sans": ["DNS:" + domains[0]], "due": due,
                 "status": "due" if due else "ok", "reasons": ["renewal_window"] if due else [],
                 "not_after": _ledger.epoch_iso(now + rng.uniform(4, 30) * 86400), "renew_at": "2026-12-01T00:00:00Z"},
                {"path": certs[1]["cert_path"], "sans": ["DNS:%s.node.example.net" % name], "due": index % 30 == 0,
                 "status": "ok", "reasons": [], "not_after": "2027-01-01T00:00:00Z", "renew_at": "2026-12-01T00:00:00Z"},
            ]}
            data[name] = {"certificates": certs, "expiry": expiry, "unreachable": False}
            index += 1
        service += 1
    ledger = [{"time": _ledger.epoch_iso(now - rng.uniform(0, 6 * 86400)), "domains": ["svc%d.example%d.com" % (s, s % 40)],
               "replaces": rng.random() < 0.5} for s in rng.sample(range(service), min(service, 30))]
    started = time.perf_counter()
    plan = _plan.build_plan(data, {"canary": 1, "batch": "10%", "store": "/srv/renew"}, ledger, now)
    elapsed = time.perf_counter() - started
    return {"hosts": hosts, "name_sets": plan["summary"]["name_sets"], "orders": plan["summary"]["orders"],
            "hosts_to_roll": plan["summary"]["hosts_to_roll"], "batches": plan["summary"]["batches"],
            "plan_seconds": elapsed, "budget_ok": plan["budget"]["ok"], "refused": plan["budget"]["refused"],
            "deferred": plan["summary"]["deferred"],
            "last_admit": max([o["admit_at"] for o in plan["deferred"] if o["admit_at"]] or ["-"])}


def planning() -> None:
    rows: list[tuple[str, ...]] = [("HOSTS", "NAME SETS", "ORDERS NOW", "DEFERRED", "LAST DEFERRED AT", "HOSTS TO ROLL",
                                    "BATCHES", "PLAN TIME", "RATE LIMITS")]
    for count in (237, 1000, 10000):
        r = simulate(count)
        verdict = "ok" if r["budget_ok"] else "%d late (deferred past alert_before)" % len(r["refused"])
        rows.append((str(r["hosts"]), str(r["name_sets"]), str(r["orders"]), str(r["deferred"]), r["last_admit"],
                     str(r["hosts_to_roll"]),
                     str(r["batches"]), "%.3f s" % r["plan_seconds"], verdict))
    table(rows)


# ------------------------------------------------------------------------------------------ (a), (b) live


def playbook(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, check=False)
    return time.monotonic() - started, proc


def live(out: str, rounds: int = 3) -> int:
    from fleet import CertSpec, Fleet, HostSpec
    from lab import Lab

    due = {"days": 30.0, "age": 29.0}
    lab_dir = os.path.join(out, "lab")
    info = Lab.start(lab_dir)
    try:
        def spec(prefix: str) -> list[HostSpec]:
            return [HostSpec("%s%02d" % (prefix, i), "api" if i < 10 else "edge", "nginx",
                             CertSpec("svc", ["%sset%d.example.test" % (prefix, i // 5)], **due)) for i in range(20)]

        env = ansible_env(ANSIBLE_FORKS="10")
        stats = os.path.join(info["state_dir"], "proxy-stats.json")

        def orders() -> int:
            try:
                with open(stats) as handle:
                    return sum(1 for o in json.load(handle).get("orders", []) if o.get("status") == 201)
            except (OSError, ValueError):
                return 0

        runs: dict[str, list[tuple[float, int, int]]] = {}

        def record(name: str, took: float, placed: int, rc: int) -> None:
            runs.setdefault(name, []).append((took, placed, rc))

        for round_ in range(rounds):   # interleaved rounds, each on fresh fleets: medians, every run side by side
            fleet = Fleet(os.path.join(out, "renew-%d" % round_), info, spec("r%d" % round_)).start()
            base = ["-i", fleet.inventory, *fleet.vault_args]
            extra = {"renew_store": fleet.store, "renew_report_dir": os.path.join(out, "renew-report-%d" % round_),
                     "renew_batch": "50%"}
            for name in ("renew.yml, 20 hosts / 4 name sets (canary 1, 50% batches, all proved)",
                         "renew.yml no-op run (nothing due; ARI + probes)"):
                before = orders()
                took, proc = playbook([*base, os.path.join(ROOT, "playbooks", "renew.yml"), "-e", json.dumps(extra)],
                                      env)
                if proc.returncode != 0:
                    print(proc.stdout[-3000:])
                record(name, took, orders() - before, proc.returncode)
            started = time.monotonic()
            ping = subprocess.run([os.path.join(BIN, "ansible"), "all", "-m", "ansible.builtin.ping", *base], env=env,
                                  capture_output=True, text=True, cwd=ROOT, check=False)
            record("ansible all -m ping (same 20 hosts)", time.monotonic() - started, 0, ping.returncode)
            fleet.stop()
            naive = Fleet(os.path.join(out, "naive-%d" % round_), info, spec("n%d" % round_), services=False).start()
            before = orders()
            took, proc = playbook(["-i", naive.inventory, *naive.vault_args, os.path.join(HERE, "naive_renew.yml"),
                                   "-e", json.dumps({"naive_dir": os.path.join(out, "naive-stage-%d" % round_)})], env)
            if proc.returncode != 0:
                print(proc.stdout[-3000:])
            record("naive acme_dns01 + deploy per host (no proof)", took, orders() - before, proc.returncode)
        results = [(name, statistics.median(r[0] for r in got), max(r[1] for r in got), max(r[2] for r in got))
                   for name, got in runs.items()]
        renew_orders = results[0][2]
        rows: list[tuple[str, ...]] = [("RUN (median of %d rounds)" % rounds, "WALL TIME", "ROUNDS", "ORDERS / ROUND",
                                        "RC")]
        rows += [(name, "%.1f s" % took, " ".join("%.1f" % r[0] for r in runs[name]), str(count), str(rc))
                 for name, took, count, rc in results]
        table(rows)
        naive_row = results[3]
        print("orders: renew.yml %d vs naive %d (%.1fx fewer)" % (renew_orders, naive_row[2],
                                                                  naive_row[2] / max(renew_orders, 1)))
        print("renew.yml all due / naive loop = %.2f (target <= 1.00); no-op run / ansible -m ping = %.2f (target <= 2.00)"
              % (results[0][1] / naive_row[1], results[1][1] / results[2][1]))
        return 0 if renew_orders == 4 and all(r[3] == 0 for r in results) else 1
    finally:
        Lab.stop(lab_dir)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plan-only", action="store_true")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "renew"))
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians are printed)")
    args = parser.parse_args()
    print("-- (c) planning simulation (no hosts; engine only)")
    planning()
    if args.plan_only:
        return 0
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    print("-- (a) renew.yml vs a naive per-host loop, (b) the no-op run; same lab")
    return live(args.out, args.rounds)


if __name__ == "__main__":
    sys.exit(main())
