# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark renew.yml over SSH fleets of systemd-nspawn hosts (tests/hosts/nspawn.py --ssh): each host a real
Debian bookworm system with sshd on a port of its own, a non-root login user with sudo (become), its own nginx on
its own port serving one certificate; 5 replicas share each name set; the ACME lab (Pebble behind the ARI proxy,
BIND9) on the machine's loopback.

For each fleet size (default 20 and 50 hosts) and each number of forks (default 10 and 25), on the same hosts:
  renew.yml all due (every certificate 1.5 days from expiry: one order per name set, canary 1 then 25% batches,
  every host reloaded and proved by handshake), renew.yml no-op (nothing due: every host observed, ARI asked),
  `ansible all -m ping`, and the naive per-host loop (bench/naive_renew.yml: acme_dns01 + deploy per host, one
  order per host, no reload, no proof).
Then, on the largest fleet with the most forks, the effect of each ansible.cfg setting, one at a time, in interleaved
rounds (medians printed), against the baseline (pipelining on, ControlPersist on, the default callback): pipelining off, ControlPersist off (a new SSH
connection per task), `display_skipped_hosts = false`, the profile_tasks callback.

Prints wall time, tasks run per host (ok + failed + skipped, from the recap; the run_once host does the
controller's tasks too) and orders placed (counted by the lab's ACME proxy), and the memory the fleet took.
Every run starts with cold SSH connections (a control-path directory of its own). The hosts and the lab are
removed at the end, also on failure or Ctrl-C.

Usage: ``python bench/renew_ssh.py [--sizes 20,50] [--forks 10,25] [--no-settings | --settings-only]
[--rounds 2] [--out DIR]`` (as root).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(ROOT, "tests", "hosts"), os.path.join(ROOT, "tests", "lab"),
                os.path.join(ROOT, "tests", "support"), os.path.join(ROOT, ".build", "collections")]

import nspawn  # noqa: E402
import yaml  # noqa: E402
from ansible_run import ansible_env  # noqa: E402
from certgen import TestCA, now  # noqa: E402
from lab import Lab  # noqa: E402

BIN = os.path.dirname(sys.executable)
# the variant of the molecule scenario `ssh` (cached once for both)
PACKAGES = ["ca-certificates", "nginx-light", "openssh-server", "python3-apt", "python3-venv", "sudo"]
REPLICAS = 5
CERT_DIR = "/etc/ghostguard/certs"
TRUST = "/etc/ghostguard/bench-trust.pem"
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)
# ansible.cfg settings as environment variables (the same keys; ANSIBLE_<KEY>)
BASELINE = {"ANSIBLE_PIPELINING": "true", "ANSIBLE_SSH_ARGS": "-C -o ControlMaster=auto -o ControlPersist=60s"}
SETTINGS = [
    ("baseline (pipelining on, ControlPersist 60s, default callback)", {}),
    ("pipelining off", {"ANSIBLE_PIPELINING": "false"}),
    ("ControlPersist off (new SSH connection per task)", {"ANSIBLE_SSH_ARGS": "-C -o ControlMaster=no -o ControlPath=none"}),
    ("display_skipped_hosts = false", {"ANSIBLE_DISPLAY_SKIPPED_HOSTS": "false"}),
    ("callbacks_enabled = ansible.posix.profile_tasks", {"ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks"}),
]


INOTIFY = "/proc/sys/fs/inotify/max_user_instances"


def raise_inotify(hosts: int) -> int | None:
    """Each host's systemd, journald and udev take inotify instances, all counted for root: the default 128 lets
    about 20 hosts boot. Raise the limit for the run; returns the value to restore (None: unchanged)."""
    with open(INOTIFY) as handle:
        old = int(handle.read())
    need = 8 * hosts + 256
    if old >= need:
        return None
    with open(INOTIFY, "w") as handle:
        handle.write(str(need))
    print("-- fs.inotify.max_user_instances %d -> %d for the run (restored at the end)" % (old, need), flush=True)
    return old


def restore_inotify(old: int | None) -> None:
    if old is not None:
        with open(INOTIFY, "w") as handle:
            handle.write(str(old))


def meminfo() -> int:
    """MemAvailable in MiB."""
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    return 0


def pss_mib(roots: list[int]) -> float:
    """Proportional set size of the processes under *roots* (the nspawn processes: each host's whole tree), MiB."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, stack = 0, list(roots)
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            with open("/proc/%d/smaps_rollup" % pid) as handle:
                total += sum(int(line.split()[1]) for line in handle if line.startswith("Pss:"))
        except OSError:
            continue
    return total / 1024


class SshFleet:
    """*size* SSH hosts, one certificate each (5 replicas per name set), nginx on a port of its own."""

    def __init__(self, out: str, lab: dict[str, t.Any], size: int) -> None:
        self.out, self.lab, self.size = out, lab, size
        self.state = os.path.join(out, "hosts-%d" % size)
        self.inventory = os.path.join(out, "inventory-%d" % size)
        self.names = ["ssh%02d" % i for i in range(size)]
        self.ca = TestCA("bench old CA")
        self.hosts: dict[str, dict[str, t.Any]] = {}
        self.ports: dict[str, int] = {}
        self.boot_seconds = 0.0
        self.memory_mib = 0
        self.pss_mib = 0.0
        self.store = ""  # the renew_store of the last all-due run (the no-op run reads its ledger and ARI cache)

    def domain(self, index: int) -> str:
        return "set%d.bench.example.test" % (index // REPLICAS)

    def start(self) -> SshFleet:
        before = meminfo()
        started = time.monotonic()
        self.hosts = nspawn.create(self.state, self.names, PACKAGES, host_network=True, ssh=True)
        self.boot_seconds = time.monotonic() - started
        with open(self.lab["issuer_roots"], "rb") as handle:
            trust = self.ca.root_pem + b"\n" + handle.read()
        for index, name in enumerate(self.names):
            self.ports[name] = nspawn.free_port()
            root = str(self.hosts[name]["root"])
            write(os.path.join(root, TRUST.lstrip("/")), trust, 0o644)
            conf = ("server {\n    listen 127.0.0.1:%d ssl;\n    server_name %s;\n"
                    "    ssl_certificate %s/svc/fullchain.pem;\n    ssl_certificate_key %s/svc/privkey.pem;\n"
                    "    location / { return 200 \"%s\\n\"; }\n}\n")
            write(os.path.join(root, "etc", "nginx", "conf.d", "bench.conf"),
                  (conf % (self.ports[name], self.domain(index), CERT_DIR, CERT_DIR, name)).encode(), 0o644)
        self.reset(start=True)
        time.sleep(2)  # let the boot's CPU settle before measuring memory
        self.memory_mib = before - meminfo()
        self.pss_mib = self.pss()
        self.write_inventory()
        return self

    def connections(self) -> int:
        """SSH logins the hosts' sshd accepted so far (their journals)."""
        total = 0
        for name in self.names:
            proc = subprocess.run(["nsenter", "-t", str(self.hosts[name]["pid"]), "-m", "-u", "-i", "-n", "-p", "--",
                                   "journalctl", "-u", "ssh.service", "-o", "cat", "--no-pager"],
                                  capture_output=True, text=True, check=False)
            total += proc.stdout.count("Accepted publickey")
        return total

    def pss(self) -> float:
        return pss_mib([int(self.hosts[name]["nspawn_pid"]) for name in self.names])

    def reset(self, start: bool = False) -> None:
        """Every host back to its old, due certificate (no generation store), nginx serving it."""
        issued = {}
        for index, name in enumerate(self.names):
            domain = self.domain(index)
            if domain not in issued:
                issued[domain] = self.ca.issue([domain], days=30, not_before=now() - dt.timedelta(days=28.5))
            folder = os.path.join(str(self.hosts[name]["root"]), CERT_DIR.lstrip("/"), "svc")
            shutil.rmtree(folder, ignore_errors=True)
            cert = issued[domain]
            for file_name, data, mode in (("cert.pem", cert.cert_pem, 0o644), ("chain.pem", cert.chain_pem, 0o644),
                                          ("fullchain.pem", cert.fullchain_pem, 0o644), ("privkey.pem", cert.key_pem, 0o600)):
                write(os.path.join(folder, file_name), data, mode)
            command = ["nsenter", "-t", str(self.hosts[name]["pid"]), "-m", "-u", "-i", "-n", "-p", "--",
                       "systemctl", "start" if start else "reload", "nginx.service"]
            if subprocess.run(command, check=False).returncode != 0:  # once more: a start can fail while 100 hosts boot
                time.sleep(2)
                subprocess.run(command, check=True)

    def write_inventory(self) -> None:
        shutil.rmtree(self.inventory, ignore_errors=True)
        lab = self.lab
        hosts = {}
        for index, name in enumerate(self.names):
            conn = nspawn.ssh_vars(self.state, self.hosts[name])
            conn.pop("ansible_pipelining")  # set by the run (ansible.cfg's pipelining), to measure it
            hosts[name] = {**conn, "certwatch_certificates": [{
                "name": "svc", "domains": [self.domain(index)], "reload": {"systemd": "nginx.service"},
                "probe": {"port": self.ports[name], "ca_bundle": TRUST}}]}
        write_yaml(os.path.join(self.inventory, "hosts.yml"), {"all": {"children": {"fleet": {"hosts": hosts}}}})
        write_yaml(os.path.join(self.inventory, "group_vars", "all.yml"), {
            "certwatch_acme": {"directory": lab["proxy"]["directory"], "ca_bundle": lab["ca_bundle"],
                               "email": "ops@example.test", "terms_agreed": True,
                               "account_key_path": os.path.join(self.out, "account.key")},
            "certwatch_dns": {"provider": "rfc2136", "nameservers": [lab["dns"]["nameserver"]], "propagation_timeout": 30,
                              "rfc2136": {"server": lab["dns"]["nameserver"], "key_name": lab["tsig"]["name"],
                                          "key_secret": lab["tsig"]["secret"], "key_algorithm": "hmac-sha256"}},
            "certwatch_policy": {"renew_fraction": 0.34, "alert_before": "72h"},
            "certwatch_allowed_domains": ["*.example.test"],
            "certwatch_cert_dir": CERT_DIR,
        })

    def stop(self) -> None:
        nspawn.destroy(self.state)


def write(path: str, data: bytes, mode: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def write_yaml(path: str, data: t.Any) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        yaml.safe_dump(data, handle, sort_keys=False)


class Runner:
    def __init__(self, out: str, lab: dict[str, t.Any]) -> None:
        self.out, self.lab = out, lab
        self.stats = os.path.join(lab["state_dir"], "proxy-stats.json")
        self.results: list[dict[str, t.Any]] = []
        self.medians: dict[str, float] = {}
        self.count = 0

    def orders(self) -> int:
        try:
            with open(self.stats) as handle:
                return sum(1 for o in json.load(handle).get("orders", []) if o.get("status") == 201)
        except (OSError, ValueError):
            return 0

    def run(self, label: str, fleet: SshFleet, forks: int, kind: str, settings: dict[str, str] | None = None) -> dict[str, t.Any]:
        self.count += 1
        work = os.path.join(self.out, "run-%02d" % self.count)
        os.makedirs(work)
        env = ansible_env(ANSIBLE_FORKS=str(forks), ANSIBLE_SSH_CONTROL_PATH_DIR=tempfile.mkdtemp(dir=work, prefix="cp-"),
                          ANSIBLE_HOST_KEY_CHECKING="true", **BASELINE)
        env.update(settings or {})
        base = ["-i", fleet.inventory]
        if kind == "ping":
            cmd = [os.path.join(BIN, "ansible"), "all", "-m", "ansible.builtin.ping", *base]
        elif kind == "naive":
            cmd = [os.path.join(BIN, "ansible-playbook"), *base, os.path.join(HERE, "naive_renew.yml"),
                   "-e", "naive_dir=" + os.path.join(work, "stage")]
        else:
            cmd = [os.path.join(BIN, "ansible-playbook"), *base, os.path.join(ROOT, "playbooks", "renew.yml"),
                   "-e", json.dumps({"renew_store": os.path.join(work, "store") if kind == "due" else fleet.store,
                                     "renew_report_dir": os.path.join(work, "report")})]
        before = self.orders()
        started = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work, check=False)
        took = time.monotonic() - started
        with open(os.path.join(work, "output.txt"), "w") as handle:
            handle.write(proc.stdout + proc.stderr)
        recap = [(int(m[1]), int(m[4]), int(m[5])) for m in RECAP.findall(proc.stdout)]
        tasks = sorted(ok + failed + skipped for ok, failed, skipped in recap)
        placed = self.orders() - before
        result: dict[str, t.Any] = {
            "label": label, "hosts": fleet.size, "forks": forks, "kind": kind, "seconds": round(took, 1),
            "rc": proc.returncode, "orders": placed, "tasks_per_host": "%d-%d" % (tasks[0], tasks[-1]) if tasks else "-",
            "output": os.path.join(work, "output.txt")}
        if kind == "due":
            fleet.store = os.path.join(work, "store")
        self.results.append(result)
        print("  %-62s %3d hosts  forks %2d  %6.1f s  tasks/host %-6s orders %3d  rc %d"
              % (label, fleet.size, forks, took, result["tasks_per_host"], placed, proc.returncode), flush=True)
        if proc.returncode != 0:
            print("\n".join((proc.stdout + proc.stderr).splitlines()[-25:]), flush=True)
        return result


def matrix(runner: Runner, fleet: SshFleet, forks_list: list[int]) -> bool:
    """renew.yml all due and no-op, ping and the naive loop for each number of forks; False when a run failed."""
    ok = True
    for forks in forks_list:
        fleet.reset()
        due = runner.run("renew.yml, all due", fleet, forks, "due")
        print("     after the run: the hosts' processes take %.0f MiB PSS (%.1f MiB per host)"
              % (fleet.pss(), fleet.pss() / fleet.size), flush=True)
        noop = runner.run("renew.yml, no-op (nothing due)", fleet, forks, "noop")
        runner.run("ansible all -m ping", fleet, forks, "ping")
        fleet.reset()
        naive = runner.run("naive loop (acme_dns01 + deploy per host; no proof)", fleet, forks, "naive")
        ok = ok and all(r["rc"] == 0 for r in (due, noop, naive))
        ok = ok and due["orders"] == -(-fleet.size // REPLICAS) and noop["orders"] == 0 and naive["orders"] == fleet.size
    return ok


def settings(runner: Runner, fleet: SshFleet, forks: int, rounds: int) -> bool:
    """Each ansible.cfg setting against the baseline, all due and no-op, in interleaved rounds; medians printed."""
    print("-- ansible.cfg settings, one at a time, on %d hosts with forks %d, %d interleaved rounds"
          % (fleet.size, forks, rounds), flush=True)
    ok = True
    timings: dict[str, list[float]] = {}
    for _round in range(rounds):
        for label, changes in SETTINGS:
            for kind in ("due", "noop"):
                if kind == "due":
                    fleet.reset()
                name = "%s: %s" % (label, "no-op" if kind == "noop" else "all due")
                result = runner.run(name, fleet, forks, kind, changes)
                timings.setdefault(name, []).append(result["seconds"])
                ok = ok and result["rc"] == 0
    print("-- medians of %d rounds" % rounds)
    for name, values in timings.items():
        print("  %-62s %6.1f s  (%s)" % (name, statistics.median(values), ", ".join("%.1f" % v for v in values)))
        runner.medians[name] = statistics.median(values)
    return ok


def trace(runner: Runner, fleet: SshFleet) -> bool:
    """What pipelining and ControlPersist change, counted (not timed): SSH commands per host (ansible -vvv's
    `SSH: EXEC` lines) and new SSH connections per host (sshd's `Accepted publickey` in the hosts' journals)."""
    print("-- SSH commands and connections per host, counted on %d hosts (-vvv; not timed)" % fleet.size, flush=True)
    ok = True
    for label, changes in SETTINGS[:3]:
        for kind in ("due", "noop"):
            if kind == "due":
                fleet.reset()
            before = fleet.connections()
            result = runner.run("%s: %s (counted)" % (label, "no-op" if kind == "noop" else "all due"), fleet, fleet.size,
                                kind, {**changes, "ANSIBLE_VERBOSITY": "3"})
            with open(result["output"]) as handle:
                commands = sum(1 for line in handle if re.search(r"SSH: EXEC (ssh|sftp|scp) ", line))
            result.update(ssh_commands_per_host=round(commands / fleet.size, 1),
                          connections_per_host=round((fleet.connections() - before) / fleet.size, 1))
            print("     %.1f SSH commands per host, %.1f new SSH connections per host"
                  % (result["ssh_commands_per_host"], result["connections_per_host"]), flush=True)
            ok = ok and result["rc"] == 0
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="20,50")
    parser.add_argument("--forks", default="10,25")
    parser.add_argument("--parts", default="matrix,settings,trace",
                        help="matrix (every size and forks), settings (largest size, most forks), trace (5 hosts)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="interleaved rounds of the settings runs (medians are printed; default %(default)s)")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "ssh"))
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("renew_ssh: the nspawn hosts need root")
    sizes = [int(s) for s in args.sizes.split(",")]
    forks_list = [int(f) for f in args.forks.split(",")]
    parts = set(args.parts.split(","))
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the finally blocks remove hosts and lab
    inotify = raise_inotify(max(sizes))
    lab_dir = os.path.join(args.out, "lab")
    try:
        lab = Lab.start(lab_dir)
    except BaseException:
        restore_inotify(inotify)
        raise
    runner = Runner(args.out, lab)
    fleets: list[SshFleet] = []
    booted: list[dict[str, t.Any]] = []
    ok = True
    try:
        plan = [(size, "matrix" in parts, "settings" in parts and size == max(sizes)) for size in sizes]
        plan = [p for p in plan if p[1] or p[2]] + ([(5, False, False)] if "trace" in parts else [])
        for size, run_matrix, run_settings in plan:
            fleet = SshFleet(args.out, lab, size)
            fleets.append(fleet)
            fleet.start()
            booted.append({"hosts": size, "boot_seconds": round(fleet.boot_seconds, 1), "pss_mib": round(fleet.pss_mib),
                           "mem_available_drop_mib": fleet.memory_mib})
            print("-- %d SSH hosts booted in %.1f s; their processes take %.0f MiB PSS (%.1f MiB per host), MemAvailable "
                  "went down by %d MiB (now %d MiB)"
                  % (size, fleet.boot_seconds, fleet.pss_mib, fleet.pss_mib / size, fleet.memory_mib, meminfo()), flush=True)
            if run_matrix:
                ok = matrix(runner, fleet, forks_list) and ok
            if run_settings:
                ok = settings(runner, fleet, max(forks_list), args.rounds) and ok
            if not run_matrix and not run_settings:
                ok = trace(runner, fleet) and ok
            fleet.stop()
            fleets.remove(fleet)
    finally:
        for fleet in fleets:
            fleet.stop()
        Lab.stop(lab_dir)
        restore_inotify(inotify)
        with open(os.path.join(args.out, "results.json"), "w") as handle:
            json.dump({"results": runner.results, "medians": runner.medians, "fleets": booted}, handle, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
