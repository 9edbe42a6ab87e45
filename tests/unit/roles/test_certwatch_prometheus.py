# SPDX-License-Identifier: GPL-3.0-or-later
"""The certwatch role's Prometheus rules (promtool check + unit tests) and Grafana dashboard."""

from __future__ import annotations

import json
import pathlib
import re
import subprocess

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils import _agent

ROLE = pathlib.Path(__file__).resolve().parents[3] / "roles" / "certwatch"
RULES = ROLE / "files" / "prometheus" / "certwatch-alerts.yml"
DASHBOARD = ROLE / "files" / "grafana" / "certwatch-dashboard.json"
ISSUE_METRICS = {
    "ghostguard_cert_not_after_timestamp_seconds", "ghostguard_cert_not_before_timestamp_seconds",
    "ghostguard_cert_renew_at_timestamp_seconds", "ghostguard_cert_expires_seconds", "ghostguard_cert_status",
    "ghostguard_cert_served_matches", "ghostguard_tls_handshake_errors_total", "ghostguard_renewal_attempts_total",
    "ghostguard_renewal_attempts_failed_total", "ghostguard_last_run_timestamp_seconds",
    "ghostguard_last_success_timestamp_seconds", "ghostguard_clock_synchronized", "ghostguard_clock_offset_seconds",
    "ghostguard_clock_max_error_seconds",
}


def _agent_metric_names() -> set[str]:
    engine = pathlib.Path(_agent.__file__).parent
    source = "".join(p.read_text() for p in engine.glob("_agent*.py"))
    return set(re.findall(r'"(ghostguard_[a-z_]+)"', source))


def test_every_metric_of_the_issue_is_exported() -> None:
    assert _agent_metric_names() >= ISSUE_METRICS


@pytest.mark.lab  # runs promtool from apt
def test_rules_pass_promtool_check() -> None:
    proc = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 7 rules found" in proc.stdout


@pytest.mark.lab  # runs promtool from apt
def test_rules_unit_tests_pass() -> None:
    proc = subprocess.run(["promtool", "test", "rules", "certwatch-alerts.test.yml"], cwd=RULES.parent,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_rules_and_dashboard_use_only_exported_metrics() -> None:
    exported = _agent_metric_names()
    for path in (RULES, DASHBOARD):
        used = set(re.findall(r"\b(ghostguard_[a-z_]+)\b", path.read_text())) - {"ghostguard_certwatch"}
        assert used and used <= exported, (path.name, used - exported)


def test_dashboard_panels() -> None:
    dash = json.loads(DASHBOARD.read_text())
    titles = [p["title"] for p in dash["panels"]]
    assert titles[0] == "Certificates by time left"
    assert any(t.startswith("Ghosts") for t in titles) and "Renewals" in titles and "TLS handshake errors" in titles
    assert all(p["targets"] and p["datasource"]["uid"] == "${datasource}" for p in dash["panels"])
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])
