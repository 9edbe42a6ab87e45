# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""renew.yml converges (issue 15): every run observes, then finishes what an earlier run, another tool or a
crash left behind, against the real lab (Pebble behind the ACME proxy, BIND9, the Alidns stand-in) and real
services (gRPC reloaded by SIGHUP or by a reload command, nginx).

The tests share one fleet and run in order; each limits its runs to its own hosts (renew_hosts):

- cghost-1 (gRPC), cghost-2 (nginx): not due; another tool puts a new certificate in place without a reload
  (a ghost): the certwatch agent and renew.yml see the same ghost, renew.yml repairs it with no order.
- cint-a, cint-b, cint-c (gRPC, due): runs killed (the whole process tree, as a crashed controller) while
  ordering, after the install before the reload, and during the proof; one host unreachable in the next run;
  the runs after finish everything with no order beyond those the CA accepted (all in the ledger).
- cdown-1, cdown-2 (nginx replicas of one name set, due): one service is down during the roll.
- cint-a and cdown-*: renewed early when the CA's ARI window opens (orders with ``replaces``).
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import typing as t

import pytest
import yaml
from ansible_run import BIN, ROOT, ansible_env, run_module, run_playbook
from certgen import now
from conftest import LabHandle
from converge_checks import Run, assert_converged, file_fp, proved_marker, switch_target
from deploy_lab import fp
from fleet import DUE, FRESH, CertSpec, Fleet, HostSpec, read_json
from interrupt import kill_tree, start_playbook, wait_until
from services import free_port

PLAYBOOK = os.path.join(ROOT, "playbooks", "renew.yml")

SPEC = [
    HostSpec("cghost-1", "edge", "grpc", CertSpec("edge", ["cghost1.example.test"], **FRESH)),
    HostSpec("cghost-2", "api", "nginx", CertSpec("api", ["cghost2.example.test"], **FRESH)),
    HostSpec("cint-a", "edge", "grpc", CertSpec("edge", ["cinta.example.test"], **DUE)),
    HostSpec("cint-b", "edge", "grpc", CertSpec("edge", ["cintb.example.test"], **DUE)),
    HostSpec("cint-c", "edge", "grpc", CertSpec("edge", ["cintc.example.test"], **DUE)),
    HostSpec("cdown-1", "api", "nginx", CertSpec("api", ["cdown.example.test"], **DUE)),
    HostSpec("cdown-2", "api", "nginx", CertSpec("api", ["cdown.example.test"], **DUE)),
]
COMMAND_RELOAD = ("cint-b", "cint-c")

# The reload command of cint-b and cint-c: $1 the service's pid file, $2 a mode file the test writes:
# (empty) SIGHUP now; "slow": SIGHUP after 60 s; "drop": exit 0 without telling the service (it keeps the old one).
RELOAD_SCRIPT = """#!/bin/sh
mode=$(cat "$2" 2>/dev/null)
case "$mode" in
  slow) sleep 60 ;;
  drop) exit 0 ;;
esac
exec kill -HUP "$(cat "$1")"
"""


class State:
    """What the ordered tests hand on to each other."""

    ca_start = 0                                   # index of the CA's first order of this module
    agent: dict[str, t.Any] = {}                   # the certwatch agent's paths
    ghosts: dict[str, str] = {}                    # host -> fingerprint another tool put in place


# --------------------------------------------------------------------------- the fleet and its runs


def mode_file(fleet: Fleet, host: str) -> str:
    return os.path.join(fleet.host_dir(host), "reload-mode")


def set_mode(fleet: Fleet, host: str, mode: str) -> None:
    with open(mode_file(fleet, host), "w", encoding="ascii") as handle:
        handle.write(mode)


def write_inventory(fleet: Fleet, directory: str | None = None, unreachable: t.Sequence[str] = ()) -> str:
    """The fleet's inventory with the reload command of cint-b/cint-c; *unreachable* hosts get an ssh connection
    to a closed port."""
    script = os.path.join(fleet.root, "reload.sh")
    with open(script, "w", encoding="ascii") as handle:
        handle.write(RELOAD_SCRIPT)

    def mutate(host_vars: dict[str, dict[str, t.Any]]) -> None:
        for host in COMMAND_RELOAD:
            host_vars[host]["certwatch_certificates"][0]["reload"] = {
                "command": ["/bin/sh", script, fleet.pidfile(fleet.host(host)), mode_file(fleet, host)]}
        for host in unreachable:
            host_vars[host].update(ansible_connection="ssh", ansible_host="127.0.0.1", ansible_port=free_port(),
                                   ansible_ssh_common_args="-o ConnectTimeout=3 -o BatchMode=yes")

    return fleet.write_inventory(mutate, directory=directory)


def extra_vars(fleet: Fleet, report_dir: pathlib.Path, **extra: t.Any) -> dict[str, t.Any]:
    out = {"renew_store": fleet.store, "renew_report_dir": str(report_dir), "renew_batch": 2,
           "renew_probe_retry_delay": 0.25, "renew_probe_retries": 12, "renew_lock_wait": 5,
           # every run here orders each name set at most a few times; the budget is tested elsewhere
           "renew_limits": {"per_name_set_week": 20}}
    out.update(extra)
    return out


def next_report_dir(tmp: pathlib.Path, label: str) -> pathlib.Path:
    return tmp / ("%02d-%s" % (len(list(tmp.iterdir())), label))


def renew(fleet: Fleet, tmp: pathlib.Path, label: str, inventory: str | None = None, args: t.Sequence[str] = (),
          **extra: t.Any) -> Run:
    report_dir = next_report_dir(tmp, label)
    proc = run_playbook(PLAYBOOK, extra_vars(fleet, report_dir, **extra), inventory=inventory or fleet.inventory,
                        args=[*fleet.vault_args, *args], timeout=600, ANSIBLE_FORKS="10")
    return Run(proc.returncode, proc.stdout + proc.stderr, report_dir)


def start(fleet: Fleet, tmp: pathlib.Path, label: str, **extra: t.Any) -> tuple[subprocess.Popen[bytes], pathlib.Path]:
    report_dir = next_report_dir(tmp, label)
    report_dir.mkdir(parents=True)
    proc = start_playbook(PLAYBOOK, extra_vars(fleet, report_dir, **extra), fleet.inventory,
                          str(report_dir / "ansible.log"), args=[*fleet.vault_args, "-v"], ANSIBLE_FORKS="10")
    return proc, report_dir


def crash(proc: subprocess.Popen[bytes]) -> list[int]:
    """The controller dies: every process of the run is killed at once (ansible-playbook, its workers, the
    modules, what they started)."""
    killed = kill_tree(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(0.2)
    return killed


# --------------------------------------------------------------------------- what a user checks


def gone(pid: int) -> bool:
    """Process *pid* no longer runs (a zombie not yet reaped by init counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def ca_orders(lab: LabHandle) -> list[dict[str, t.Any]]:
    """Orders the CA created (201) since this module started."""
    orders = lab.proxy_stats().get("orders", [])[State.ca_start:]
    return [o for o in orders if o.get("status") == 201]


def ledger(fleet: Fleet) -> list[dict[str, t.Any]]:
    path = os.path.join(fleet.store, "ledger.json")
    return read_json(path) if os.path.exists(path) else []


def assert_ledger_matches_ca(fleet: Fleet, lab: LabHandle) -> None:
    """Every order the CA accepted is in the ledger, once; nothing else is."""
    seen = sorted(sorted(n.lower() for n in o["identifiers"]) for o in ca_orders(lab))
    recorded = sorted(sorted(e["domains"]) for e in ledger(fleet))
    assert seen == recorded, (seen, recorded)
    urls = [e.get("order_url") for e in ledger(fleet)]
    assert None not in urls and len(set(urls)) == len(urls), urls


def orders_for(lab: LabHandle, name: str) -> int:
    return sum(1 for o in ca_orders(lab) if name in o["identifiers"])


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fleet(lab: LabHandle, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Fleet]:
    lab.proxy_control()
    State.ca_start = len(lab.proxy_stats().get("orders", []))
    fleet = Fleet(str(tmp_path_factory.mktemp("converge-fleet")), lab.info, SPEC).start()
    write_inventory(fleet)
    try:
        yield fleet
    finally:
        fleet.stop()
        lab.proxy_control()


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("converge-runs")


# --------------------------------------------------------------------------- 1 and 6: a ghost made by another tool


def another_tools_certificate(fleet: Fleet, host: str) -> t.Any:
    spec = fleet.host(host)
    import datetime as dt

    return fleet.ca.issue(spec.cert.domains, days=90, not_before=now() - dt.timedelta(hours=1))


def certwatch(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([State.agent["bin"], "--config", State.agent["config"], *argv], capture_output=True,
                          text=True, check=False, timeout=120)


def test_agent_and_renew_yml_see_the_same_ghost(fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    """The certwatch agent (report mode, cron fallback, every path under tmp) on cghost-1's certificate, and
    renew.yml's observation of the same host, agree on the files, the probe and the verdict."""
    host = "cghost-1"
    served_before = fleet.served(host)
    cert = fleet.host_vars(fleet.host(host))["certwatch_certificates"][0]
    base = tmp / "agent"
    State.agent = {"bin": str(base / "certwatch"), "config": str(base / "etc" / "certwatch.json")}
    role_vars = {
        "certwatch_scheduler": "auto", "certwatch_manage_os_packages": False, "certwatch_python": sys.executable,
        "certwatch_venv": str(base / "venv"), "certwatch_venv_system_site_packages": True,
        "certwatch_bin": State.agent["bin"], "certwatch_config_path": State.agent["config"],
        "certwatch_secrets_dir": str(base / "secrets"), "certwatch_state_dir": str(base / "state"),
        "certwatch_metrics_dir": str(base / "metrics"), "certwatch_cron_file": str(base / "cron.d" / "certwatch"),
        "certwatch_randomized_delay": 0, "certwatch_run_now": False,
        "certwatch_prove_retries": 4, "certwatch_prove_retry_delay": 0.25,
        "certwatch_cert_dir": fleet.cert_dir(host), "certwatch_certificates": [cert],
        "certwatch_policy": {"renew_fraction": 0.34, "alert_before": "72h"},
    }
    (base / "cron.d").mkdir(parents=True)
    (tmp / "agent-play.yml").write_text(yaml.safe_dump([{
        "name": "The certwatch agent on this machine", "hosts": "localhost", "connection": "local",
        "gather_facts": True, "vars": role_vars, "roles": ["ghostguard.certs.certwatch"]}]))
    installed = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", str(tmp / "agent-play.yml")],
                               capture_output=True, text=True, env=ansible_env(), check=False, timeout=600)
    assert installed.returncode == 0, installed.stdout[-4000:]

    status = json.loads(certwatch("status", "--json").stdout)
    assert [(c["cert_id"], c["ghost"], c["status"]) for c in status["certificates"]] == [("edge", False, "ok")]

    # another tool installs a new certificate (deploy, into the same generation store) and reloads nothing
    issued = another_tools_certificate(fleet, host)
    files = fleet.files(host)
    deployed = run_module("ghostguard.certs.deploy", {
        "cert_content": issued.cert_pem.decode(), "key_content": issued.key_pem.decode(),
        "chain_content": issued.chain_pem.decode(), "cert_path": files["cert"], "key_path": files["key"],
        "chain_path": files["chain"], "fullchain_path": files["fullchain"], "name": "edge"})
    assert deployed.rc == 0, deployed.stdout[-3000:]
    State.ghosts[host] = fp(issued.cert)
    assert fleet.served(host) == served_before != State.ghosts[host]

    agent = json.loads(certwatch("status", "--json").stdout)["certificates"][0]
    run = renew(fleet, tmp, "dry-ghost", renew_hosts=host, renew_dry_run=True)
    assert run.rc == 0, run.out[-6000:]
    assert run.plan is not None and run.plan["orders"] == [] and run.plan["roll"] == [host]
    item = run.plan["deploys"][host][0]
    holder = run.holders()[host]
    # the same verdict: a ghost, files hold the new certificate, the service the old one
    assert agent["ghost"] is True and item["mode"] == "repair" and item["why"].startswith("ghost:")
    assert holder["repair"] == item["why"] and not holder["due"]
    assert agent["fingerprint"] == State.ghosts[host] == holder["fingerprint"]
    assert [p["served_fingerprint"] for p in agent["probes"]] == [served_before]
    assert served_before[:23] in item["why"] and State.ghosts[host][:23] in item["why"]
    # the same files and the same probe (endpoint and SNI)
    config = json.loads(pathlib.Path(State.agent["config"]).read_text())["certificates"][0]
    planned = item["cert"]
    for key in ("cert_path", "key_path", "chain_path", "fullchain_path", "domains", "set"):
        assert config[key] == planned[key], key
    assert agent["path"] == planned["cert_path"] and planned["key_path"] == files["key"]
    assert [(p["host"], p["port"], p["server_name"]) for p in config["probes"]] == \
           [(p["host"], p["port"], p["server_name"]) for p in planned["probes"]] == \
           [("127.0.0.1", fleet.ports[host], "cghost1.example.test")]
    assert [p["endpoint"] for p in agent["probes"]] == ["127.0.0.1:%d" % fleet.ports[host]]
    assert fleet.served(host) == served_before   # a dry run changes nothing


def test_ghost_made_by_another_tool_is_repaired_with_no_order(fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    """cghost-1: deploy run by hand (previous test); cghost-2: files overwritten by hand. Neither reloaded."""
    host = "cghost-2"
    served_before = fleet.served(host)
    issued = another_tools_certificate(fleet, host)
    files = fleet.files(host)
    for role, data in (("cert", issued.cert_pem), ("chain", issued.chain_pem), ("fullchain", issued.fullchain_pem),
                       ("key", issued.key_pem)):
        with open(files[role], "wb") as handle:
            handle.write(data)
    State.ghosts[host] = fp(issued.cert)
    assert fleet.served(host) == served_before != State.ghosts[host]
    orders_before = len(ca_orders(lab))

    run = renew(fleet, tmp, "ghosts", renew_hosts="cghost-*")
    assert run.rc == 0, run.out[-6000:]
    assert len(ca_orders(lab)) == orders_before
    assert run.plan is not None and run.plan["orders"] == []
    assert sorted((r["host"], r["why"][:6]) for r in run.plan["repairs"]) == [("cghost-1", "ghost:"), ("cghost-2", "ghost:")]
    rows = run.rows()
    for host_ in ("cghost-1", "cghost-2"):
        row = rows[host_]
        assert (row["outcome"], row["proved"], row["reloaded"], row["order"]) == ("repaired", True, True, None), row
        assert row["fingerprint"] == State.ghosts[host_] == fleet.served(host_) == file_fp(fleet, host_)
    assert run.report is not None and run.report["orders_placed"] == 0 and run.report["ok"]
    assert (run.report_dir / "report.txt").exists() and (run.report_dir / "report.html").exists()
    assert "REPAIRED" in (run.report_dir / "report.txt").read_text()
    # cghost-1 had a generation store (deploy): its current generation is marked proved now
    assert assert_converged(fleet, "cghost-1") == State.ghosts["cghost-1"]
    # and a second run has nothing left to do
    again = renew(fleet, tmp, "ghosts-again", renew_hosts="cghost-*")
    assert again.rc == 0 and again.plan is not None and again.plan["roll"] == [], again.out[-4000:]
    assert len(ca_orders(lab)) == orders_before


def test_agent_agrees_after_the_repair(fleet: Fleet) -> None:
    status = certwatch("status", "--json")
    agent = json.loads(status.stdout)["certificates"][0]
    assert (agent["ghost"], agent["unproved"], agent["status"]) == (False, False, "ok"), agent
    assert agent["fingerprint"] == State.ghosts["cghost-1"] == fleet.served("cghost-1")
    assert [p["served_matches"] for p in agent["probes"]] == [True]
    assert status.returncode == 0, status.stdout + status.stderr


# --------------------------------------------------------------------------- 2: runs that die


def test_crash_while_ordering_leaves_the_order_in_the_ledger_and_a_stale_lock(
        fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    served = fleet.served("cint-a")
    counts = lab.proxy_stats().get("counts", {})
    authz_before = int(counts.get("authz", 0))
    proc, report_dir = start(fleet, tmp, "crash-ordering", renew_hosts="cint-a")
    try:
        # the CA accepted the newOrder and the client went on to its authorizations: the order is placed
        wait_until(lambda: orders_for(lab, "cinta.example.test") >= 1
                   and int(lab.proxy_stats().get("counts", {}).get("authz", 0)) > authz_before,
                   timeout=120, proc=proc, what="the first newOrder of cint-a")
    finally:
        crash(proc)
    lock_path = os.path.join(fleet.store, "issue.lock")
    assert os.path.exists(lock_path), (report_dir / "ansible.log").read_text()[-3000:]
    holder = read_json(lock_path)
    with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
        boot = handle.read().strip()
    import socket

    assert holder["host"] == socket.gethostname() and holder["boot_id"] == boot
    assert isinstance(holder["pid"], int) and gone(holder["pid"]), holder
    # written ahead: the order the CA accepted is in the ledger though the run died
    assert orders_for(lab, "cinta.example.test") == 1
    assert [e["domains"] for e in ledger(fleet)] == [["cinta.example.test"]]
    assert_ledger_matches_ca(fleet, lab)
    # nothing was installed
    assert switch_target(fleet, "cint-a") is None and fleet.served("cint-a") == served == file_fp(fleet, "cint-a")


def test_crash_after_install_before_reload_and_during_the_proof(
        fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    """One batch: cint-b's reload hangs (killed before it signals), cint-c's reload tells the service nothing
    (killed while the proof waits). The run also takes over the stale lock of the previous test at once."""
    before = {h: fleet.served(h) for h in ("cint-b", "cint-c")}
    set_mode(fleet, "cint-b", "slow")
    set_mode(fleet, "cint-c", "drop")
    started = time.monotonic()
    proc, report_dir = start(fleet, tmp, "crash-roll", renew_hosts="cint-b,cint-c", renew_canary=0,
                             renew_batch=10, renew_probe_retries=80)
    log = report_dir / "ansible.log"
    try:
        wait_until(lambda: switch_target(fleet, "cint-b") and switch_target(fleet, "cint-c"), timeout=180, proc=proc,
                   what="the install on cint-b and cint-c")
        installed_after = time.monotonic() - started
        time.sleep(1.5)   # cint-b: in its reload (60 s); cint-c: reloaded (nothing sent), in its proof (20 s)
    finally:
        crash(proc)
    out = log.read_text()
    # the lock of the crashed run was taken over at once (lock_wait 5 s would have failed the issue)
    assert '"broke_stale"' in out and "is gone" in out, out[-6000:]
    assert installed_after < 120
    assert {o["identifiers"][0] for o in ca_orders(lab)} >= {"cintb.example.test", "cintc.example.test"}
    for host in ("cint-b", "cint-c"):
        # installed (the files hold the new certificate, a new generation, never proved) but still served the old one
        assert file_fp(fleet, host) != before[host] == fleet.served(host), host
        assert proved_marker(fleet, host) is None
    assert not os.path.exists(os.path.join(fleet.store, "issue.lock"))
    assert_ledger_matches_ca(fleet, lab)
    State.ghosts.update({"cint-b": file_fp(fleet, "cint-b"), "cint-c": file_fp(fleet, "cint-c")})


def test_next_run_finishes_but_reports_the_unreachable_host(fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    """cint-b cannot be reached (its install is done, its reload is not): reported failed with why, rc != 0; the
    others converge: cint-a is ordered again (its crashed order never reached a certificate), cint-c is repaired."""
    set_mode(fleet, "cint-b", "")
    set_mode(fleet, "cint-c", "")
    inventory = write_inventory(fleet, directory=str(tmp / "inventory-unreachable"), unreachable=["cint-b"])
    orders_before = len(ca_orders(lab))
    run = renew(fleet, tmp, "unreachable", inventory=inventory, renew_hosts="cint-*")
    assert run.rc != 0, run.out[-6000:]
    rows = run.rows()
    assert rows["cint-b"]["outcome"] == "failed" and "unreachable" in rows["cint-b"]["reason"], rows["cint-b"]
    assert run.report is not None and "cint-b" in run.report["failed_hosts"]
    assert (rows["cint-a"]["outcome"], rows["cint-a"]["proved"]) == ("renewed", True), rows["cint-a"]
    assert (rows["cint-c"]["outcome"], rows["cint-c"]["proved"], rows["cint-c"]["order"]) == ("repaired", True, None)
    assert [o["identifiers"] for o in ca_orders(lab)[orders_before:]] == [["cinta.example.test"]]
    assert_converged(fleet, "cint-a")
    assert assert_converged(fleet, "cint-c") == State.ghosts["cint-c"]
    assert fleet.served("cint-b") != State.ghosts["cint-b"]   # untouched
    assert_ledger_matches_ca(fleet, lab)


def test_reachable_again_converges_with_no_order(fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    orders_before = len(ca_orders(lab))
    run = renew(fleet, tmp, "reachable", renew_hosts="cint-*")
    assert run.rc == 0, run.out[-6000:]
    assert len(ca_orders(lab)) == orders_before and run.plan is not None and run.plan["orders"] == []
    rows = run.rows()
    assert (rows["cint-b"]["outcome"], rows["cint-b"]["proved"], rows["cint-b"]["reloaded"]) == ("repaired", True, True)
    assert rows["cint-a"]["outcome"] == rows["cint-c"]["outcome"] == "unchanged"
    assert assert_converged(fleet, "cint-b") == State.ghosts["cint-b"]
    for host in ("cint-a", "cint-c"):
        assert_converged(fleet, host)
        assert "Pebble" in fleet.issuer(host)
    assert_ledger_matches_ca(fleet, lab)


# --------------------------------------------------------------------------- 3: a service down during the roll


def test_service_down_fails_the_host_with_its_reason(fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    before = fleet.served("cdown-2")
    fleet.stop_service("cdown-2")
    orders_before = len(ca_orders(lab))
    run = renew(fleet, tmp, "service-down", renew_hosts="cdown-*")
    assert run.rc != 0, run.out[-6000:]
    assert [o["identifiers"] for o in ca_orders(lab)[orders_before:]] == [["cdown.example.test"]]
    rows = run.rows()
    assert (rows["cdown-1"]["outcome"], rows["cdown-1"]["proved"]) == ("renewed", True)
    down = rows["cdown-2"]
    assert down["outcome"] in ("failed", "rolled_back") and "reload" in down["reason"], down
    assert run.report is not None and run.report["failed_hosts"] == ["cdown-2"]
    assert "cdown-2" in run.report["failures"]
    # the files are back on the certificate the service had (rolled back), nothing is served
    assert file_fp(fleet, "cdown-2") == before
    assert_ledger_matches_ca(fleet, lab)


def test_service_back_converges_with_no_new_order(fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    fleet.start_service("cdown-2")
    orders_before = len(ca_orders(lab))
    run = renew(fleet, tmp, "service-back", renew_hosts="cdown-*")
    assert run.rc == 0, run.out[-6000:]
    assert len(ca_orders(lab)) == orders_before   # the shared name set's certificate of the last run is reused
    rows = run.rows()
    assert (rows["cdown-2"]["outcome"], rows["cdown-2"]["proved"]) == ("renewed", True), rows["cdown-2"]
    assert rows["cdown-1"]["outcome"] == "unchanged"
    assert run.report is not None and run.report["orders_placed"] == 0
    assert assert_converged(fleet, "cdown-1") == assert_converged(fleet, "cdown-2")
    assert_ledger_matches_ca(fleet, lab)


# --------------------------------------------------------------------------- 5: ARI


def test_open_ari_window_renews_early_with_replaces(fleet: Fleet, lab: LabHandle, tmp: pathlib.Path) -> None:
    hosts = ("cint-a", "cdown-1", "cdown-2")
    before = {h: fleet.served(h) for h in hosts}
    # the answers cached by earlier runs are past their Retry-After; the CA now says: renew these now
    cache = os.path.join(fleet.store, "ari-cache.json")
    if os.path.exists(cache):
        os.unlink(cache)
    lab.proxy_control(ari_due=True)
    orders_before, ledger_before = len(ca_orders(lab)), len(ledger(fleet))
    try:
        run = renew(fleet, tmp, "ari", renew_hosts="cint-a,cdown-*")
    finally:
        lab.proxy_control()
    assert run.rc == 0, run.out[-6000:]
    plan = run.plan
    assert plan is not None
    holders = run.holders()
    for host in hosts:
        assert holders[host]["due"] and holders[host]["ari_due"] and holders[host]["why"].startswith("ari:"), holders[host]
    exempt = sorted((o["set"], o["ari_exempt"]) for o in plan["orders"])
    assert exempt == [("cdown.example.test", True), ("cinta.example.test", True)]
    assert plan["summary"]["ari_orders"] == 2
    new = ca_orders(lab)[orders_before:]
    assert sorted((o["identifiers"][0], o["replaces"]) for o in new) == sorted(
        [("cinta.example.test", holders["cint-a"]["ari_cert_id"]), ("cdown.example.test", holders["cdown-1"]["ari_cert_id"])])
    entries = ledger(fleet)[ledger_before:]
    assert sorted((e["domains"], e["replaces"]) for e in entries) == [(["cdown.example.test"], True),
                                                                      (["cinta.example.test"], True)]
    rows = run.rows()
    for host in hosts:
        assert (rows[host]["outcome"], rows[host]["proved"]) == ("renewed", True), rows[host]
        assert assert_converged(fleet, host) != before[host]
    assert_ledger_matches_ca(fleet, lab)


def test_no_process_of_the_runs_is_left(fleet: Fleet) -> None:
    """The crashed runs left nothing running (their reload commands were killed with them)."""
    script = os.path.join(fleet.root, "reload.sh")
    left = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as handle:
                    if script.encode() in handle.read():
                        left.append(int(entry))
            except OSError:
                pass
    assert left == []
