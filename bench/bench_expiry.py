"""200 certificate files on one host: one expiry_info task versus community.crypto's
x509_certificate_info looped per file (the audit a user would otherwise write), same run.

Prints wall times of both playbooks end to end, the task times (profile_tasks), the time inside
the engine for the 200 files, and the ratios.  Target: >= 30x end to end, < 0.5 s in the module.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
sys.path.insert(0, os.path.join(ROOT, ".build", "collections"))

from ansible_run import ansible_env  # noqa: E402
from certgen import TestCA  # noqa: E402

from ansible_collections.ghostguard.certs.plugins.module_utils import _expiry  # noqa: E402

FILES = int(os.environ.get("BENCH_FILES", "200"))

OURS = """
- name: expiry_info, one task
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Report every certificate
      ghostguard.certs.expiry_info:
        paths: ["{dir}"]
        key_match: false
      register: report
    - name: Check the count
      ansible.builtin.assert:
        that: report.summary.total == {n}
"""

PEER = """
- name: community.crypto x509_certificate_info, looped per file
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Find the certificates
      ansible.builtin.find:
        paths: ["{dir}"]
        patterns: ["*.pem"]
      register: found
    - name: Read every certificate
      community.crypto.x509_certificate_info:
        path: "{{{{ item.path }}}}"
        valid_at:
          renew: "+30d"
      loop: "{{{{ found.files }}}}"
      loop_control:
        label: "{{{{ item.path }}}}"
      register: infos
    - name: Decide what is due
      ansible.builtin.set_fact:
        due: "{{{{ infos.results | rejectattr('valid_at.renew') | map(attribute='item.path') | list }}}}"
    - name: Check the count
      ansible.builtin.assert:
        that: infos.results | length == {n}
"""


def run(playbook: str, env: dict[str, str]) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), playbook],
                          capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit("benchmark playbook failed:\n" + proc.stdout[-3000:] + proc.stderr[-2000:])
    # profile_tasks: "Read every certificate ----- 61.23s"
    task = 0.0
    for line in proc.stdout.splitlines():
        m = re.match(r"(Report every certificate|Read every certificate|Find the certificates)\s.*?([\d.]+)s$", line)
        if m:
            task += float(m.group(2))
    return wall, task


def main() -> None:
    work = tempfile.mkdtemp(prefix="gg-bench-expiry-")
    certs = os.path.join(work, "certs")
    ca = TestCA("bench CA")
    issued = [ca.issue(["svc%d.bench.test" % i], days=90) for i in range(20)]
    for i in range(FILES):
        issued[i % len(issued)].write(certs, "svc%03d" % i, key=False)
    ours, peer = os.path.join(work, "ours.yml"), os.path.join(work, "peer.yml")
    with open(ours, "w") as handle:
        handle.write(OURS.format(dir=certs, n=FILES))
    with open(peer, "w") as handle:
        handle.write(PEER.format(dir=certs, n=FILES))
    env = ansible_env(ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks")

    # the engine alone, as the module runs it (best of 3)
    engine = min(_timed_scan(certs) for _attempt in range(3))
    ours_wall, ours_task = run(ours, env)
    peer_wall, peer_task = run(peer, env)
    print("files: %d" % FILES)
    print("engine (inside expiry_info):          %7.3f s   target < 0.5 s  %s" % (engine, "MET" if engine < 0.5 else "MISSED"))
    print("expiry_info playbook, end to end:     %7.2f s   (task %.2f s)" % (ours_wall, ours_task))
    print("x509_certificate_info loop, end to end: %5.2f s   (tasks %.2f s)" % (peer_wall, peer_task))
    ratio = peer_wall / ours_wall
    print("ratio end to end: %.1fx faster   target >= 30x  %s" % (ratio, "MET" if ratio >= 30 else "MISSED"))
    if ours_task:
        print("ratio task time:  %.1fx faster" % (peer_task / ours_task))


def _timed_scan(path: str) -> float:
    start = time.perf_counter()
    result = _expiry.scan(_expiry.ScanRequest(paths=[path]))
    elapsed = time.perf_counter() - start
    assert result.summary["total"] == FILES
    return elapsed


if __name__ == "__main__":
    main()
