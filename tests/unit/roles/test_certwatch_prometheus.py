# SPDX-License-Identifier: GPL-3.0-or-later
"""The certwatch role's Prometheus rules (promtool check + unit tests) and Grafana dashboard."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import re
import subprocess
import typing as t

import pytest
import yaml
from agent_lab import Host

from ansible_collections.ghostguard.certs.plugins.module_utils._agent import main as _agent
from ansible_collections.ghostguard.certs.plugins.module_utils._agent import results as _results

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "certwatch"
RULES = ROLE / "files" / "prometheus" / "certwatch-alerts.yml"
RULE_TESTS = ROOT / "tests" / "promtool" / "certwatch-alerts.test.yml"
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
    source = "".join(p.read_text() for p in engine.glob("*.py"))   # the _agent package
    return set(re.findall(r'"(ghostguard_[a-z_]+)"', source))


def test_every_metric_of_the_issue_is_exported() -> None:
    assert _agent_metric_names() >= ISSUE_METRICS


def alerts() -> dict[str, dict[str, t.Any]]:
    return {r["alert"]: r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}


@pytest.mark.lab  # runs promtool from apt
def test_rules_pass_promtool_check() -> None:
    proc = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: %d rules found" % len(alerts()) in proc.stdout


@pytest.mark.lab  # runs promtool from apt
def test_rules_unit_tests_pass() -> None:
    proc = subprocess.run(["promtool", "test", "rules", str(RULE_TESTS)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_every_alert_is_tested_firing_and_quiet() -> None:
    cases = [c for group in yaml.safe_load(RULE_TESTS.read_text())["tests"] for c in group["alert_rule_test"]]
    for name in alerts():
        mine = [c for c in cases if c["alertname"] == name]
        assert any(c["exp_alerts"] for c in mine), "%s never fires in %s" % (name, RULE_TESTS.name)
        assert any(not c["exp_alerts"] for c in mine), "%s is never shown quiet in %s" % (name, RULE_TESTS.name)


def test_every_state_that_needs_a_person_alerts() -> None:
    """Each status the agent exports but ok and due (the renewal is on its way; late: GhostguardRenewalOverdue), and
    the lifecycle states ghost and unproved, are matched by an alert's expression."""
    exprs = " ".join(r["expr"] for r in alerts().values())
    statuses = set()
    for pattern in re.findall(r'ghostguard_cert_status\{status=~"([^"]+)"\}', exprs):
        statuses.update(pattern.split("|"))
    assert statuses == set(_results.STATUSES) - {"ok", "due"}
    assert "ghostguard_cert_served_matches == 0" in exprs  # a ghost, per endpoint
    assert 'ghostguard_cert_lifecycle_state{state="unproved"} == 1' in exprs
    assert "ghostguard_cert_probe_success == 0" in exprs
    assert "ghostguard_agent_interval_seconds" in alerts()["GhostguardAgentSilent"]["expr"]


@pytest.mark.lab  # runs promtool from apt
def test_the_agents_own_textfile_fires_the_status_alerts(tmp_path: pathlib.Path) -> None:
    """A real agent run writes the series; promtool, fed exactly those lines, fires an alert for each certificate
    that needs a person, with the agent's own labels."""
    (tmp_path / "host").mkdir()
    host = Host(tmp_path / "host")
    host.install("fine", host.ca.issue(["fine.test"], days=90))
    host.install("bad", host.ca.issue(["bad.test"], days=90))
    (host.certs / "bad" / "cert.pem").write_text("not a certificate\n")  # invalid
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)
    host.install("early", host.ca.issue(["early.test"], days=90, not_before=soon))
    host.install("soon", host.ca.issue(["soon.test"], days=20))
    host.config([{"name": n, "domains": ["%s.test" % n]} for n in ("fine", "bad", "early", "soon", "gone")])
    assert host.main("check")[0] == _results.EXIT_ATTENTION
    lines = [line for line in host.prom().splitlines() if line.startswith("ghostguard_cert_status{")]
    assert len(lines) == 5 * len(_results.STATUSES)
    series = [{"series": line.rsplit(" ", 1)[0].replace("{", '{instance="h1",', 1),
               "values": "%sx20" % line.rsplit(" ", 1)[1]} for line in lines]
    why = {"invalid": "is not a usable certificate (unreadable, a key that does not match, a chain that does not "
                      "verify): install a matching set or roll back (rollback.yml).",
           "not_yet_valid": "is not valid yet (notBefore in the future): check the host's clock, or roll back.",
           "missing": "does not exist or cannot be read: install it (renew.yml) or correct its path in "
                      "certwatch_certificates."}
    cases = [{"eval_time": "12m", "alertname": "GhostguardCertificateUnusable", "exp_alerts": [
        {"exp_labels": {"instance": "h1", "name": name, "status": status, "severity": "critical",
                        "filepath": str(host.certs / name / "cert.pem")},
         "exp_annotations": {"summary": "%s on h1 is %s" % (name, status),
                             "description": "%s %s" % (host.certs / name / "cert.pem", why[status])}}
        for name, status in (("bad", "invalid"), ("early", "not_yet_valid"), ("gone", "missing"))]}]
    test_file = tmp_path / "agent.test.yml"
    test_file.write_text(yaml.safe_dump({"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": [
        {"interval": "1m", "input_series": series, "alert_rule_test": cases}]}))
    proc = subprocess.run(["promtool", "test", "rules", test_file.name], cwd=tmp_path, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0 and "SUCCESS" in proc.stdout, proc.stdout + proc.stderr


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
