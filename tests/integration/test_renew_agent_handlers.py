# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""renew.yml notifies the certwatch role's handlers: on a host where the agent is installed, the agent
runs right after the roll (metrics and log line show the new certificate at once, not at the next
timer run) without reloading the service a second time; a host without the agent skips the handlers.

Two local hosts with their own nginx (both due), the lab's Pebble and BIND9; the agent is installed on
one of them by the role itself (cron scheduler: this machine has no systemd as PID 1).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import sys
import time
import typing as t

import pytest
from ansible_run import ROOT, run_playbook
from conftest import LabHandle
from cryptography import x509
from fleet import CertSpec, Fleet, HostSpec, read_json

PLAYBOOK = os.path.join(ROOT, "playbooks", "renew.yml")
AGENT, PLAIN = "hagent-1", "hplain-1"
DUE = {"days": 30.0, "age": 28.5}
RELOAD_HANDLER = "ghostguard.certs.certwatch : Reload the services that serve another certificate than the one on disk"
RUN_HANDLER = "ghostguard.certs.certwatch : Run the certwatch agent"


def agent_vars(base: pathlib.Path) -> dict[str, t.Any]:
    return {
        "certwatch_scheduler": "cron", "certwatch_manage_os_packages": False, "certwatch_python": sys.executable,
        "certwatch_venv": str(base / "venv"), "certwatch_bin": str(base / "certwatch"),
        "certwatch_config_path": str(base / "etc" / "certwatch.json"), "certwatch_secrets_dir": str(base / "secrets"),
        "certwatch_state_dir": str(base / "state"), "certwatch_metrics_dir": str(base / "metrics"),
        "certwatch_cron_file": str(base / "cron.d" / "ghostguard-certwatch"), "certwatch_randomized_delay": 0,
    }


def handler_results(out: str, handler: str) -> dict[str, tuple[str, dict[str, t.Any] | None]]:
    """Per host: (status, result) of one handler in a run's output (one-line JSON results, -v)."""
    found: dict[str, tuple[str, dict[str, t.Any] | None]] = {}
    for section in out.split("RUNNING HANDLER [")[1:]:
        if not section.startswith(handler + "]"):
            continue
        for line in section.splitlines()[1:]:
            match = re.match(r"^(ok|changed|skipping|failed|fatal): \[([^\]]+)\](?: => (\{.*\}))?$", line)
            if match:
                found[match.group(2)] = (match.group(1), json.loads(match.group(3)) if match.group(3) else None)
            elif line.startswith(("TASK [", "RUNNING HANDLER [", "PLAY [")):
                break
    return found


def prom_value(text: str, metric: str, name: str) -> float:
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith(metric + "{") and 'name="%s"' % name in line]
    assert len(values) == 1, text
    return values[0]


@pytest.fixture(scope="module")
def fleet(lab: LabHandle, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Fleet]:
    lab.proxy_control()
    root = tmp_path_factory.mktemp("agent-fleet")
    spec = [HostSpec(AGENT, "api", "nginx", CertSpec("web", ["hagent.example.test"], **DUE)),
            HostSpec(PLAIN, "api", "nginx", CertSpec("web", ["hplain.example.test"], **DUE))]
    fleet = Fleet(str(root), lab.info, spec).start()
    try:
        yield fleet
    finally:
        fleet.stop()


def test_renew_playbook_runs_the_agent_handlers_where_the_agent_is(fleet: Fleet, tmp_path: pathlib.Path) -> None:
    base = pathlib.Path(fleet.root) / "agent"
    (base / "cron.d").mkdir(parents=True)

    def with_agent(host_vars: dict[str, dict[str, t.Any]]) -> None:
        host_vars[AGENT].update(agent_vars(base))
        host_vars[AGENT]["certwatch_certificates"][0]["probe"]["server_name"] = "hagent.example.test"

    inventory = fleet.write_inventory(with_agent)
    env = {"ANSIBLE_CALLBACK_RESULT_FORMAT": "json", "ANSIBLE_CALLBACK_FORMAT_PRETTY": "false"}

    # the agent on one host, installed by the role (report mode: no secrets; the ACME/DNS settings are renew.yml's)
    install = tmp_path / "install.yml"
    install.write_text(json.dumps([{
        "name": "Install the agent", "hosts": AGENT, "gather_facts": True,
        "vars": {"certwatch_acme": {}, "certwatch_dns": {}},
        "roles": ["ghostguard.certs.certwatch"],
    }]))
    started = time.monotonic()
    installed = run_playbook(str(install), inventory=inventory, args=fleet.vault_args, **env)
    print("role installed in %.1f s" % (time.monotonic() - started))
    assert installed.returncode == 0, installed.stdout[-4000:]
    metrics_file = base / "metrics" / "ghostguard_certwatch.prom"
    old = x509.load_pem_x509_certificate(pathlib.Path(fleet.files(AGENT)["cert"]).read_bytes())
    before = metrics_file.read_text()
    assert prom_value(before, "ghostguard_cert_not_after_timestamp_seconds", "web") == old.not_valid_after_utc.timestamp()
    assert prom_value(before, "ghostguard_cert_served_matches", "web") == 1
    first_run = read_json(str(base / "state" / "last-run.json"))["finished"]

    report_dir = tmp_path / "report"
    started = time.monotonic()
    proc = run_playbook(PLAYBOOK, {"renew_store": fleet.store, "renew_report_dir": str(report_dir), "renew_batch": 2,
                                   "renew_probe_retry_delay": 0.25, "renew_probe_retries": 12},
                        inventory=inventory, args=[*fleet.vault_args, "-v"], timeout=900, **env)
    out = proc.stdout + proc.stderr
    print("renew.yml ran in %.1f s" % (time.monotonic() - started))
    (tmp_path / "renew.log").write_text(out)
    assert proc.returncode == 0, out[-6000:]
    rows = {r["host"]: r for r in read_json(str(report_dir / "report.json"))["rows"]}
    assert rows[AGENT]["outcome"] == "renewed" and rows[PLAIN]["outcome"] == "renewed"

    # renew.yml reloaded and proved; the agent found nothing stale and reloaded nothing a second time
    reload_results = handler_results(out, RELOAD_HANDLER)
    assert reload_results[AGENT][0] == "ok", reload_results
    reload_result = reload_results[AGENT][1]
    assert reload_result is not None and reload_result["rc"] == 0 and "reloaded" not in reload_result["stderr"]
    assert reload_result["cmd"][-2:] == ["reload", "--changed"]
    # ... then ran once: its log line names the new certificate, served by nginx
    run_results = handler_results(out, RUN_HANDLER)
    assert run_results[AGENT][0] == "changed", run_results
    run_result = run_results[AGENT][1]
    assert run_result is not None and run_result["rc"] == 0, run_result
    record = json.loads(run_result["stdout"].splitlines()[0])
    new_fp = fleet.served(AGENT)
    assert record["cert_id"] == "web" and record["fingerprint"] == new_fp == rows[AGENT]["fingerprint"]
    assert record["served_fingerprint"] == new_fp and record["status"] == "ok" and not record["ghost"]
    # the host without the agent skipped both handlers
    assert handler_results(out, RELOAD_HANDLER)[PLAIN][0] == "skipping"
    assert run_results[PLAIN][0] == "skipping"

    # right after renew.yml (no timer run in between: cron is not running the entry here) the metrics show it
    new = x509.load_pem_x509_certificate(pathlib.Path(fleet.files(AGENT)["cert"]).read_bytes())
    assert new.not_valid_after_utc > old.not_valid_after_utc
    after = metrics_file.read_text()
    assert prom_value(after, "ghostguard_cert_not_after_timestamp_seconds", "web") == new.not_valid_after_utc.timestamp()
    assert prom_value(after, "ghostguard_cert_served_matches", "web") == 1
    state = read_json(str(base / "state" / "last-run.json"))
    assert state["finished"] > first_run and state["certificates"]["web"]["fingerprint"] == new_fp
