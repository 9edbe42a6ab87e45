# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""renew_store_host over SSH: a real Debian host (systemd-nspawn, sshd, a non-root login user) holds the store
in its login user's home (renew_store left at its default), set up as README "AWX / AAP" step 5 says (a venv at
/opt/ghostguard with the collection's requirements; its /usr/bin/python3 has no acme). Two runs limited to one
host each (two slices) order the name set they share once, through the store host."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import threading
import typing as t

import yaml
from ansible_run import BIN, ROOT, ansible_env, run_playbook
from conftest import LabHandle
from fleet import CertSpec, Fleet, HostSpec

PLAYBOOK = os.path.join(ROOT, "playbooks", "renew.yml")
NSPAWN = os.path.join(ROOT, "tests", "hosts", "nspawn.py")
PACKAGES = "ca-certificates,nginx-light,openssh-server,python3-apt,python3-venv,sudo"   # the molecule ssh variant
WHEELS = "/var/cache/ghostguard-certs/wheelhouse-certwatch-2"
STORE = "gg-store"

PREPARE = """\
- name: Set up the store host as README "AWX / AAP" step 5 says
  hosts: gg-store
  gather_facts: false
  tasks:
    - name: Wheels of the collection's requirements (the machine has no index to offer the host)
      ansible.builtin.copy: {src: "%(wheels)s/", dest: /tmp/wheels/, mode: "0644"}
    - name: The venv at /opt/ghostguard with the collection's requirements
      ansible.builtin.shell: >-
        python3 -m venv /opt/ghostguard && /opt/ghostguard/bin/pip install -q --no-index --find-links /tmp/wheels
        -r /tmp/wheels/requirements.txt
      args: {creates: /opt/ghostguard/bin/python3}
    - name: Its directory
      ansible.builtin.file: {path: "%(ca_dir)s", state: directory, mode: "0755"}
    - name: The private CA's bundle at the path the inventory names
      ansible.builtin.copy: {src: "%(ca_bundle)s", dest: "%(ca_bundle)s", mode: "0644"}
"""


def ad_hoc(inventory: str, vault: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([os.path.join(BIN, "ansible"), STORE, "-i", inventory, "-o", *vault, *args], capture_output=True,
                          text=True, env=ansible_env(), timeout=300, check=False)


def test_two_limited_runs_order_a_shared_set_once_through_an_ssh_store_host(lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab.proxy_control()
    state = tmp_path / "hosts"
    subprocess.run([sys.executable, NSPAWN, "create", "--state", str(state), "--ssh", "--host-network", "--packages",
                    PACKAGES, STORE], check=True, capture_output=True, timeout=900)
    due = {"days": 30.0, "age": 29.0}
    fleet = Fleet(str(tmp_path / "fleet"), lab.info,
                  [HostSpec("ssapi-%d" % i, "api", "nginx", CertSpec("api", ["ssapi.example.test"], **due)) for i in (1, 2)])
    try:
        fleet.start()
        store_vars = yaml.safe_load((state / "inventory.yml").read_text())["all"]["hosts"][STORE]
        # the account key in the store host's home, as the store's: every slice uses the one account
        inventory = fleet.write_inventory(extra_hosts={STORE: store_vars}, acme_extra={"account_key_path": "~/acme-account.key"})
        wheels = tmp_path / "wheels"
        wheels.mkdir()
        for wheel in pathlib.Path(WHEELS).glob("*.whl"):
            (wheels / wheel.name).symlink_to(wheel)
        with open(os.path.join(ROOT, "requirements.txt")) as handle:   # the collection's, minus the Alibaba Cloud
            (wheels / "requirements.txt").write_text("".join(   # SDK (rfc2136 here) and jmespath (controller filters)
                line for line in handle if not any(n in line for n in ("aliyun", "jmespath"))))
        prepare = tmp_path / "prepare.yml"
        prepare.write_text(PREPARE % {"wheels": wheels, "ca_bundle": lab.info["ca_bundle"],
                                      "ca_dir": os.path.dirname(lab.info["ca_bundle"])})
        done = run_playbook(str(prepare), inventory=inventory, args=fleet.vault_args)
        assert done.returncode == 0, done.stdout[-3000:]
        assert ad_hoc(inventory, fleet.vault_args, "-m", "ansible.builtin.command", "-a", "/usr/bin/python3 -c 'import acme'").returncode != 0

        before = fleet.snapshot()
        orders_before = len(lab.proxy_stats().get("orders", []))
        results: dict[str, t.Any] = {}

        def run(host: str) -> None:
            results[host] = run_playbook(PLAYBOOK, {"renew_store_host": STORE, "renew_probe_retry_delay": 0.25,
                                                    "renew_report_dir": str(tmp_path / ("report-" + host))},
                                         inventory=inventory, args=[*fleet.vault_args, "--limit", host])
        threads = [threading.Thread(target=run, args=(h,)) for h in ("ssapi-1", "ssapi-2")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(900)
        for host, proc in results.items():
            assert proc.returncode == 0, (host, proc.stdout[-4000:])
            assert "[%s -> gg-store" % host in proc.stdout   # the store tasks ran there (delegated)
        orders = [o["identifiers"] for o in lab.proxy_stats().get("orders", [])[orders_before:] if o.get("status") == 201]
        assert orders == [["ssapi.example.test"]]
        assert fleet.served("ssapi-1") == fleet.served("ssapi-2") != before["ssapi-1"]
        # the store is in the login user's home on the store host, with the one order in its ledger, no lock left
        ledger = ad_hoc(inventory, fleet.vault_args, "-m", "ansible.builtin.command", "-a", "cat .ghostguard/renew-store/ledger.json",
                        "-e", "ansible_become=false")
        assert ledger.returncode == 0, ledger.stdout
        entries = json.loads(ledger.stdout.split("(stdout) ", 1)[1].replace("\\n", "\n"))
        assert [e["domains"] for e in entries] == [["ssapi.example.test"]]
        lock = ad_hoc(inventory, fleet.vault_args, "-m", "ansible.builtin.command", "-a", "ls -A .ghostguard/renew-store", "-e",
                      "ansible_become=false")
        assert "issue.lock " not in lock.stdout.replace("\\n", " ") + " " and "sets" in lock.stdout
    finally:
        fleet.stop()
        subprocess.run([sys.executable, NSPAWN, "destroy", "--state", str(state)], capture_output=True, timeout=300,
                       check=False)
