"""make demo, part 2: `ansible-playbook ghostguard.certs.renew` over a fleet of local hosts, then
`ghostguard.certs.audit` over the same fleet.

Starts the lab (Pebble behind the ACME proxy, BIND9, the Alidns stand-in) and 7 local hosts in 2
groups, each with its own directories and its own service on its own loopback port: 3 gRPC edge hosts
with their own names (2 about to expire), 3 nginx replicas sharing one name set (all about to
expire), and edge-4, a self-reloading Go gRPC service (fsnotify on its certificate directory,
``reload: {watch: true}``: never signalled). Writes the inventory in the documented model (groups,
host_vars, a vault-encrypted group_vars file), runs renew.yml (plan, canary, batches, report: every
renewal proved by handshake), then audit.yml, prints both, and stops everything it started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
for sub in ("tests/support", "tests/lab"):
    sys.path.insert(0, os.path.join(ROOT, sub))

from ansible_run import ansible_env  # noqa: E402
from fleet import Fleet, default_spec  # noqa: E402
from lab import Lab  # noqa: E402
from services import GrpcServer  # noqa: E402

BIN = os.path.dirname(sys.executable)
WATCHER = "edge-4"      # the self-reloading Go service


def section(text: str, start: str, end: str | None = None) -> str:
    """The part of an ansible-playbook log from the task named *start* to *end*."""
    if start not in text:
        return ""
    part = text[text.index(start):]
    if end and end in part[1:]:
        part = part[:part.index(end, 1)]
    return part.strip()


def debug_lines(block: str) -> str:
    """The msg lines of a debug task's output."""
    try:
        payload = json.loads(block[block.index("{"):block.rindex("}") + 1])
    except ValueError:
        return block
    msg = payload.get("msg", "")
    return "\n".join(msg) if isinstance(msg, list) else str(msg)


def self_reloading_summary(fleet: Fleet, report_json: str, pid: int) -> bool:
    """Print what happened to the self-reloading Go service, from the report JSON, the service's own log
    and a handshake now; False when any of it does not hold."""
    with open(report_json) as handle:
        row = next(r for r in json.load(handle)["rows"] if r["host"] == WATCHER)
    go = fleet.go(WATCHER)
    installed = str(row.get("fingerprint") or "").lower()
    reloaded = [e for e in go.events() if e["event"] == "reloaded" and e.get("fingerprint") == installed]
    alive = go.proc is not None and go.proc.poll() is None and go.proc.pid == pid
    served = fleet.served(WATCHER)
    print("-- self-reloading service %s (Go, fsnotify on its certificate directory), its log: %s"
          % (WATCHER, go.log_file))
    checks = [
        (row["outcome"] == "renewed", "renewed (report outcome: %s)" % row["outcome"]),
        (row.get("reload") == "watch" and alive,
         "no signal sent (reload: %s; same process, pid %d, still running)" % (row.get("reload"), pid)),
        (bool(reloaded), "the service reloaded by itself on the file event %r"
         % (reloaded[0]["cause"] if reloaded else None)),
        (row.get("proved") is True and served == installed,
         "proved by handshake (served fingerprint = installed one: %s...)" % served[:23]),
    ]
    for ok, text in checks:
        print("   %s %s" % ("ok " if ok else "NOT", text))
    if not all(check[0] for check in checks):
        print("the self-reloading service was not renewed as expected; installed %s, served %s" % (installed, served))
        return False
    print("   %s: renewed, no signal sent (reload: watch), proved by handshake (served fingerprint = installed one)"
          % WATCHER)
    return True


def print_fleet(fleet: Fleet) -> None:
    """The fleet's hosts: group, service, port, names, expiry and reload, then where the inventory is."""
    print("== fleet: %d local hosts, each with its own service and certificate directory" % len(fleet.spec))
    for host in fleet.spec:
        print("   %-7s group %-5s %-5s on 127.0.0.1:%-5d %-22s %-22s reload: %s" % (
            host.name, host.group, host.service, fleet.ports[host.name], ",".join(host.cert.domains),
            "expires in %.1f days" % (host.cert.days - host.cert.age), fleet.reload_of(host.name)))
    print("   inventory: %s (group_vars/all/vault.yml is ansible-vault encrypted)" % fleet.inventory)


def run_renew(fleet: Fleet, env: dict[str, str], report_dir: str, log: str) -> subprocess.CompletedProcess[str]:
    """Run renew.yml over the fleet (its whole output kept in *log*)."""
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", fleet.inventory, *fleet.vault_args,
           os.path.join(ROOT, "playbooks", "renew.yml"),
           "-e", json.dumps({"renew_store": fleet.store, "renew_report_dir": report_dir, "renew_batch": 2,
                             "renew_probe_retry_delay": 0.25})]
    print("\n== ansible-playbook ghostguard.certs.renew -i %s --vault-password-file ... -e renew_batch=2"
          % fleet.inventory)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    with open(log, "w") as handle:
        handle.write(proc.stdout + proc.stderr)
    return proc


def print_renew(text: str, report_dir: str) -> None:
    """renew.yml's plan, its rolling batches, its report and its recap."""
    print("-- plan (one order per name set; %s/plan.json)" % report_dir)
    print(debug_lines(section(text, "TASK [Show the plan]", "TASK [")))
    print("-- rolling batches")
    with open(os.path.join(report_dir, "plan.json")) as handle:
        batches = json.load(handle)["batches"]
    for index, batch in enumerate(batches, 1):
        print("   batch %d%s: %s" % (index, " (canary)" if index == 1 else "", ", ".join(batch)))
    print("-- report (%s/report.{json,html,txt})" % report_dir)
    print(debug_lines(section(text, "TASK [Show the report]", "TASK [")))
    print(section(text, "PLAY RECAP"))


def run_audit(fleet: Fleet, env: dict[str, str], out: str) -> bool:
    """Run audit.yml over the fleet and print its report; False when it failed."""
    print("\n== ansible-playbook ghostguard.certs.audit over the same fleet")
    audit_dir = os.path.join(out, "fleet-audit")
    paths = "{{ certwatch_certificates | map(attribute='name') | map('regex_replace', '^(.*)$', certwatch_cert_dir ~ '/\\1/fullchain.pem') | list }}"
    audit = subprocess.run(
        [os.path.join(BIN, "ansible-playbook"), "-i", fleet.inventory, *fleet.vault_args,
         os.path.join(ROOT, "playbooks", "audit.yml"),
         "-e", json.dumps({"audit_paths": paths, "audit_report_dir": audit_dir, "audit_ca_bundle": fleet.trust,
                           "audit_fail_on": ["expired", "critical", "invalid"]})],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    with open(os.path.join(out, "fleet-audit.log"), "w") as handle:
        handle.write(audit.stdout + audit.stderr)
    with open(os.path.join(audit_dir, "report.txt")) as handle:
        print(handle.read().rstrip())
    if audit.returncode != 0:
        print("audit.yml failed (rc %d); full log: %s/fleet-audit.log" % (audit.returncode, out))
        return False
    return True


def main(out: str) -> int:
    started = time.monotonic()
    lab_dir = os.path.join(out, "lab")
    print("== starting the lab: Pebble (ACME) behind the ACME proxy, BIND9 (RFC 2136), Alidns API stand-in")
    info = Lab.start(lab_dir)
    fleet = None
    try:
        fleet = Fleet(os.path.join(out, "fleet"), info, default_spec(self_reloading=True)).start()
        print_fleet(fleet)
        proc_before = fleet.go(WATCHER).proc
        pid = proc_before.pid if proc_before is not None else 0
        env = ansible_env(ANSIBLE_FORKS="10")
        report_dir = os.path.join(out, "renew-report")
        log = os.path.join(out, "renew.log")
        proc = run_renew(fleet, env, report_dir, log)
        print_renew(proc.stdout, report_dir)
        if proc.returncode != 0:
            print("renew.yml failed (rc %d); full log: %s" % (proc.returncode, log))
            return 1
        grpc = fleet.services["edge-1"]
        assert isinstance(grpc, GrpcServer)
        print("gRPC call to edge-1 over its new certificate: %s" % grpc.ping(fleet.trust, "edge1.example.test"))
        if not self_reloading_summary(fleet, os.path.join(report_dir, "report.json"), pid):
            return 1
        if not run_audit(fleet, env, out):
            return 1
        print("\nrenew + audit in %.0f s. Full runs: %s, %s/fleet-audit.log" % (time.monotonic() - started, log, out))
        return 0
    finally:
        if fleet is not None:
            fleet.stop()
        Lab.stop(lab_dir)


if __name__ == "__main__":
    sys.exit(main(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "demo", "out"))))
