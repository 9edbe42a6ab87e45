# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""endpoint_info over 50 local TLS endpoints in one task, versus community.crypto.get_certificate looped.

One private nginx serves 50 certificates on 50 loopback ports.  Both playbooks run in the same
process tree, one after the other, with the ``ansible.posix.profile_tasks`` callback; the script
prints both task times as profile_tasks reports them, the whole-playbook wall times, and the ratios.
Targets: task time at least 20x faster, whole playbook at least 5x.  Both playbooks run BENCH_ROUNDS
times (default 3), alternating, and the medians are compared, so load from other work on the machine
hits both sides alike.

    bash bench/run.sh endpoint_info_vs_get_certificate      (uses .venv-bench with the `ansible` package)
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path[:0] = [os.path.join(ROOT, "tests", "support")]

from ansible_run import ansible_env  # noqa: E402
from certgen import TestCA  # noqa: E402
from services import Nginx, Site  # noqa: E402

ENDPOINTS = int(os.environ.get("BENCH_ENDPOINTS", "50"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PROFILE = re.compile(r"^(?P<name>.+?) -+ (?P<secs>\d+\.\d+)s\s*$")

PLAY_OURS = """
- name: endpoint_info, one task
  hosts: localhost
  gather_facts: false
  tasks:
    - name: ours - endpoint_info over all endpoints
      ghostguard.certs.endpoint_info:
        endpoints: "{{ bench_endpoints }}"
        ca_bundle: "{{ bench_ca }}"
      register: ours

    - name: check - every endpoint answered
      ansible.builtin.assert:
        that: ours.summary.ok == bench_endpoints | length
        quiet: true
"""

PLAY_PEER = """
- name: community.crypto.get_certificate, looped
  hosts: localhost
  gather_facts: false
  tasks:
    - name: peer - get_certificate per endpoint
      community.crypto.get_certificate:
        host: "{{ item.host }}"
        port: "{{ item.port }}"
        server_name: "{{ item.server_name }}"
        ca_cert: "{{ bench_ca }}"
      loop: "{{ bench_endpoints }}"
      loop_control:
        label: "{{ item.port }}"
      register: peer

    - name: check - every endpoint answered
      ansible.builtin.assert:
        that: peer.results | rejectattr('failed') | list | length == bench_endpoints | length
        quiet: true
"""


def run(playbook: str, extra: dict[str, object], workdir: str) -> tuple[float, dict[str, float], str]:
    env = ansible_env(ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks", PROFILE_TASKS_TASK_OUTPUT_LIMIT="20")
    path = os.path.join(workdir, "play.yml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(playbook)
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), path, "-i", "localhost,", "-c", "local",
           "-e", json.dumps(extra)]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit("playbook failed")
    tasks: dict[str, float] = {}
    summary = proc.stdout.split("=" * 20, 1)[-1]
    for line in summary.splitlines():
        match = PROFILE.match(line.strip())
        if match:
            tasks[match.group("name").strip()] = float(match.group("secs"))
    return wall, tasks, proc.stdout


def task_time(tasks: dict[str, float], prefix: str) -> float:
    for name, secs in tasks.items():
        if prefix in name:
            return secs
    raise SystemExit("profile_tasks did not report a task matching %r: %s" % (prefix, tasks))


def main() -> int:
    link = os.path.join(ROOT, ".build", "collections", "ansible_collections", "ghostguard", "certs")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)
    with tempfile.TemporaryDirectory(prefix="gg-bench-") as tmp:
        ca = TestCA("bench root")
        ca_file = os.path.join(tmp, "root.pem")
        with open(ca_file, "wb") as handle:
            handle.write(ca.root_pem)
        sites = []
        for index in range(ENDPOINTS):
            name = "svc%02d.bench.test" % index
            cert = ca.issue([name]).write(tmp, "svc%02d" % index)
            sites.append(Site(cert, os.path.join(tmp, "svc%02d.key" % index), name))
        with Nginx(os.path.join(tmp, "nginx"), sites) as ngx:
            endpoints = [{"host": "127.0.0.1", "port": s.port, "server_name": s.server_name} for s in ngx.sites]
            extra = {"bench_endpoints": endpoints, "bench_ca": ca_file}
            rounds = []
            for number in range(1, ROUNDS + 1):
                ours_wall, ours_tasks, _out = run(PLAY_OURS, extra, tmp)
                peer_wall, peer_tasks, _out = run(PLAY_PEER, extra, tmp)
                row = (task_time(ours_tasks, "ours - endpoint_info"), ours_wall,
                       task_time(peer_tasks, "peer - get_certificate"), peer_wall)
                rounds.append(row)
                print("round %d: ours task %.2fs playbook %.2fs | peer task %.2fs playbook %.2fs" % (number, *row))
    ours_task, ours_wall, peer_task, peer_wall = (statistics.median(r[i] for r in rounds) for i in range(4))
    task_ratio = peer_task / ours_task
    wall_ratio = peer_wall / ours_wall
    print("endpoints: %d local TLS endpoints (one private nginx)" % ENDPOINTS)
    print("medians of %d rounds:" % ROUNDS)
    print("%-52s %8s %10s" % ("", "task (s)", "playbook (s)"))
    print("%-52s %8.2f %10.2f" % ("ghostguard.certs.endpoint_info, one task", ours_task, ours_wall))
    print("%-52s %8.2f %10.2f" % ("community.crypto.get_certificate, loop of %d" % ENDPOINTS, peer_task, peer_wall))
    print("ratio (peer / ours): task %.1fx (target >= 20x), playbook %.1fx (target >= 5x)" % (task_ratio, wall_ratio))
    met = task_ratio >= 20 and wall_ratio >= 5
    print("targets met: %s" % ("yes" if met else "NO"))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
