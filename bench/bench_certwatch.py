"""Footprint of one certwatch agent run with nothing due, against ``certbot renew`` with nothing due.

Both get the same job: 3 certificates, none due.  The agent also probes one TLS endpoint (a local
TLS server serving the first certificate) and writes its metrics file, as on a host; certbot reads
its 3 lineages and decides that none is due.  Each is run ``--runs`` times as a fresh process;
wall time and peak RSS (``wait4`` rusage of the child) are reported as the median.

The agent is installed as the certwatch role installs it: the collection's engine files copied
into a directory as the package ``ghostguard_certs``, precompiled, started by the same launcher
(``python -I -S``, the venv's site-packages appended to ``sys.path`` for the slow path's cryptography).

Usage: ``python bench/bench_certwatch.py [--certbot PATH] [--runs N]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import typing as t

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
from certgen import Issued, TestCA, now  # noqa: E402
from services import TLSServer  # noqa: E402

TARGET_WALL = 0.31 / 2
TARGET_RSS_MIB = 47 / 2


def install_agent(base: str) -> str:
    lib = os.path.join(base, "lib")
    shutil.copytree(os.path.join(ROOT, "plugins", "module_utils"), os.path.join(lib, "ghostguard_certs"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "compileall", "-q", lib], check=True)
    launcher = os.path.join(base, "certwatch")
    site_packages = sysconfig.get_paths()["purelib"]
    with open(launcher, "w") as handle:
        handle.write("#!%s -IS\nimport sys\nsys.path.insert(0, %r)\nsys.path.append(%r)\n"
                     "from ghostguard_certs._agent.main import main\nsys.exit(main())\n" % (sys.executable, lib, site_packages))
    os.chmod(launcher, 0o755)
    return launcher


def certbot_lineage(config: str, name: str, issued: t.Any) -> None:
    archive = os.path.join(config, "archive", name)
    live = os.path.join(config, "live", name)
    os.makedirs(archive)
    os.makedirs(live)
    files = {"cert": issued.cert_pem, "privkey": issued.key_pem, "chain": issued.chain_pem,
             "fullchain": issued.fullchain_pem}
    for kind, data in files.items():
        with open(os.path.join(archive, kind + "1.pem"), "wb") as handle:
            handle.write(data)
        os.symlink(os.path.join("..", "..", "archive", name, kind + "1.pem"), os.path.join(live, kind + ".pem"))
    os.makedirs(os.path.join(config, "renewal"), exist_ok=True)
    with open(os.path.join(config, "renewal", name + ".conf"), "w") as handle:
        handle.write(
            "version = 2.0.0\narchive_dir = %s\ncert = %s/cert.pem\nprivkey = %s/privkey.pem\n"
            "chain = %s/chain.pem\nfullchain = %s/fullchain.pem\n\n[renewalparams]\n"
            "authenticator = dns-rfc2136\ndns_rfc2136_credentials = %s/rfc2136.ini\n"
            "server = https://127.0.0.1:1/dir\nkey_type = ecdsa\n" % (archive, live, live, live, live, config)
        )


# The peak RSS a kernel reports for a process includes the image it was forked from until exec: measured
# from this (large) process, every child would show at least our own size.  A minimal interpreter
# forks the command instead and reports its rusage.
RUNNER = (
    "import os, sys, time, json\n"
    "start = time.perf_counter()\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    fd = os.open(os.devnull, os.O_WRONLY)\n"
    "    os.dup2(fd, 1)\n"
    "    os.execv(sys.argv[1], sys.argv[1:])\n"
    "_pid, status, usage = os.wait4(pid, 0)\n"
    "print(json.dumps([time.perf_counter() - start, usage.ru_maxrss, usage.ru_utime + usage.ru_stime,"
    " os.waitstatus_to_exitcode(status)]))\n"
)


def measure(cmd: list[str]) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MiB, CPU seconds) of one run of *cmd*."""
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", RUNNER, *cmd], capture_output=True, text=True, check=False)
    try:
        wall, rss, cpu, code = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise SystemExit("measuring %s failed: %s" % (cmd[0], proc.stderr[-1500:])) from None
    if code not in (0, 1):
        raise SystemExit("%s exited %d: %s" % (cmd[0], code, proc.stderr[-1500:]))
    return float(wall), rss / 1024.0, float(cpu)


def parse_args() -> argparse.Namespace:
    """The command line: --certbot (default: the bench venv's, beside this Python) and --runs (at least 5)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    # bench/run.sh runs this file with the bench venv's Python: its certbot sits beside it
    beside = os.path.join(os.path.dirname(sys.executable), "certbot")
    parser.add_argument("--certbot", default=beside if os.path.exists(beside)
                        else shutil.which("certbot") or os.path.join(ROOT, ".venv-bench", "bin", "certbot"))
    parser.add_argument("--runs", type=int, default=7, help="interleaved rounds (at least 5)")
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5 (the medians are reported)")
    return args


def make_certificates(work: str) -> tuple[list[str], list[Issued], str, str]:
    """Three certificates, none due: in the agent's cert_dir and as certbot lineages (names, issued, both dirs)."""
    ca = TestCA("bench certwatch CA")
    names = ["one.bench.test", "two.bench.test", "three.bench.test"]
    issued = [ca.issue([n], days=90, not_before=now() - dt.timedelta(days=1)) for n in names]
    certs, config = os.path.join(work, "certs"), os.path.join(work, "certbot")
    for name, cert in zip(names, issued):
        folder = os.path.join(certs, name)
        cert.write(folder, "cert", bundle=False)
        os.replace(os.path.join(folder, "cert.key"), os.path.join(folder, "key.pem"))
        certbot_lineage(config, name, cert)
    with open(os.path.join(config, "rfc2136.ini"), "w") as handle:
        handle.write("dns_rfc2136_server = 127.0.0.1\ndns_rfc2136_name = k\ndns_rfc2136_secret = c2VjcmV0\n"
                     "dns_rfc2136_algorithm = HMAC-SHA256\n")
    os.chmod(os.path.join(config, "rfc2136.ini"), 0o600)
    return names, issued, certs, config


def write_agent_config(work: str, certs: str, names: list[str], port: int) -> str:
    """The agent's config (report mode, the first certificate probed on *port*); its path."""
    cfg: dict[str, t.Any] = {
        "version": 1, "host": "bench", "mode": "report", "state_dir": os.path.join(work, "state"),
        "metrics_dir": os.path.join(work, "metrics"), "cert_dir": certs, "policy": {"renew_before": "30d"},
        "certificates": [{"name": n, "domains": [n]} for n in names],
    }
    cfg["certificates"][0]["probe"] = {"host": "127.0.0.1", "port": port, "server_name": names[0],
                                       "validate_certs": False}
    cfg_path = os.path.join(work, "certwatch.json")
    with open(cfg_path, "w") as handle:
        json.dump(cfg, handle)
    return cfg_path


def commands_to_compare(certbot: str, launcher: str, cfg_path: str, config: str, work: str) -> dict[str, list[str]]:
    """The commands measured, by label: the agent's check, and certbot renew when certbot is there."""
    commands = {"certwatch check": [launcher, "--config", cfg_path, "check"]}
    if os.path.exists(certbot):
        commands["certbot renew"] = [certbot, "renew", "--config-dir", config, "--work-dir",
                                     os.path.join(work, "cb-work"), "--logs-dir", os.path.join(work, "cb-logs"),
                                     "--non-interactive"]
    else:
        print("certbot not found at %s: run bench/run.sh (it installs certbot into .venv-bench)" % certbot)
    return commands


def measure_rounds(commands: dict[str, list[str]], rounds: int) -> dict[str, list[tuple[float, float, float]]]:
    """One warm-up run of each command, then *rounds* interleaved rounds: every command's samples."""
    for cmd in commands.values():
        measure(cmd)  # warm-up: page cache, and the agent's first run (no remembered decisions yet)
    # interleaved rounds: both tools see the same load on a shared machine
    runs: dict[str, list[tuple[float, float, float]]] = {label: [] for label in commands}
    for _round in range(rounds):
        for label, cmd in commands.items():
            runs[label].append(measure(cmd))
    return runs


def print_results(runs: dict[str, list[tuple[float, float, float]]], rounds: int) -> None:
    """The medians of each command, the agent against its target, and against certbot when it ran."""
    load = os.getloadavg()[0]
    print("%-16s %10s %10s %12s  (medians of %d interleaved rounds; 3 certificates, nothing due; load average %.1f on "
          "%d CPUs)" % ("", "wall s", "CPU s", "peak MiB", rounds, load, os.cpu_count() or 0))
    medians = {}
    for label, samples in runs.items():
        wall = statistics.median(s[0] for s in samples)
        rss = statistics.median(s[1] for s in samples)
        cpu = statistics.median(s[2] for s in samples)
        medians[label] = (wall, cpu, rss)
        print("%-16s %10.3f %10.3f %12.1f   (wall min %.3f, max %.3f)"
              % (label, wall, cpu, rss, min(s[0] for s in samples), max(s[0] for s in samples)))
    wall, cpu, rss = medians["certwatch check"]
    print("target (half of certbot's 0.31 s / 47 MiB measured on this machine kind): wall <= %.3f s, peak <= %.1f MiB: %s"
          % (TARGET_WALL, TARGET_RSS_MIB, "met" if wall <= TARGET_WALL and rss <= TARGET_RSS_MIB else "NOT met"))
    if "certbot renew" in medians:
        cb_wall, cb_cpu, cb_rss = medians["certbot renew"]
        print("certwatch against certbot in this run: wall %.3f s vs %.3f s (%.1fx), CPU %.3f s vs %.3f s (%.1fx), "
              "peak %.1f MiB vs %.1f MiB (%.1fx); %.0f%% of certbot's wall time, %.0f%% of its peak memory"
              % (wall, cb_wall, cb_wall / wall, cpu, cb_cpu, cb_cpu / cpu, rss, cb_rss, cb_rss / rss,
                 100 * wall / cb_wall, 100 * rss / cb_rss))


def main() -> None:
    args = parse_args()
    work = tempfile.mkdtemp(prefix="bench-certwatch-")
    try:
        names, issued, certs, config = make_certificates(work)
        launcher = install_agent(os.path.join(work, "agent"))
        os.makedirs(os.path.join(work, "metrics"))
        with TLSServer(issued[0].write(os.path.join(work, "served"), "svc"), os.path.join(work, "served", "svc.key")) as srv:
            cfg_path = write_agent_config(work, certs, names, srv.port)
            commands = commands_to_compare(args.certbot, launcher, cfg_path, config, work)
            runs = measure_rounds(commands, args.runs)
        print_results(runs, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
