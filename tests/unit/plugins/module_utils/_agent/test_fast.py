# SPDX-License-Identifier: GPL-3.0-or-later
"""The fast path: nothing due reuses the engine's decision, never confirms a ghost, never outlives a threshold."""

from __future__ import annotations

import pathlib

import pytest
from agent_lab import Host, probe_of, run_isolated, served_by

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._agent import cli as _cli
from ansible_collections.ghostguard.certs.plugins.module_utils._agent import fast as _fast
from ansible_collections.ghostguard.certs.plugins.module_utils._agent import main as _agent
from ansible_collections.ghostguard.certs.plugins.module_utils._agent import results as _results


@pytest.fixture
def host(tmp_path: pathlib.Path) -> Host:
    return Host(tmp_path)


def test_nothing_due_reuses_the_engine_decision_without_cryptography(host: Host) -> None:
    issued = host.ca.issue(["web.test"], days=90)
    host.install("web", issued)
    host.install("api", host.ca.issue(["api.test"], days=90))
    with served_by(host, issued, "web") as good:
        host.config([{"name": "web", "domains": ["web.test"], "probe": probe_of(good)},
                     {"name": "api", "domains": ["api.test"]}])
        first = run_isolated(host)
        second = run_isolated(host)
        assert first[0] == second[0] == 0
        assert "cryptography" in first[1] and second[1] == []  # the second run is the fast path
        strip = ("seconds_remaining", "probes")
        assert [{k: v for k, v in r.items() if k not in strip} for r in first[3]] == \
               [{k: v for k, v in r.items() if k not in strip} for r in second[3]]
        assert second[3][0]["served_fingerprint"] == _x509.fingerprint(issued.cert)

        # a changed file is described by the engine again; a ghost is never confirmed by the fast path
        host.install("web", host.ca.issue(["web.test"], days=90))
        code, heavy, _modules, lines = run_isolated(host)
        assert code == 1 and "cryptography" in heavy and lines[0]["ghost"] is True
        assert lines[0]["fingerprint"] != first[3][0]["fingerprint"]


def test_a_decision_is_reused_only_until_the_earliest_threshold() -> None:
    desc = {"not_after": "2030-01-31T00:00:00Z", "renew_at": "2030-01-01T00:00:00Z"}
    end = _results._epoch(desc["not_after"])
    limits: dict[str, float | None] = {"leeway": 60.0, "alert_before": 3 * 86400.0, "max_connection_age": None,
                                       "connection_margin": 3600.0}
    assert _fast._valid_until(desc, limits) == _results._epoch(desc["renew_at"])
    limits["alert_before"] = 40 * 86400.0  # alerting earlier than renewing
    assert _fast._valid_until(desc, limits) == end - 60 - 40 * 86400
    limits.update(alert_before=0.0, max_connection_age=45 * 86400.0)
    assert _fast._valid_until(desc, limits) == end - 60 - 45 * 86400 - 3600


def test_memo_is_dropped_when_the_policy_changes(host: Host) -> None:
    issued = host.ca.issue(["web.test"], days=90)
    host.install("web", issued)
    host.config([{"name": "web", "domains": ["web.test"]}])
    assert run_isolated(host)[1] and run_isolated(host)[1] == []
    host.config([{"name": "web", "domains": ["web.test"]}], policy={"renew_before": "95d"})
    code, heavy, _modules, lines = run_isolated(host)
    assert code == 1 and heavy and lines[0]["status"] == "due"
    code, heavy, _modules, lines = run_isolated(host)
    assert code == 1 and heavy  # a due certificate always goes through the engine


def test_a_timer_run_with_nothing_due_stays_small(host: Host) -> None:
    """What a run with nothing due leaves out: argparse, dataclasses (inspect), secrets, ctypes.util (subprocess),
    the idna codec; and it rewrites no unchanged counter file."""
    issued = host.ca.issue(["web.test"], days=90)
    host.install("web", issued)
    with served_by(host, issued, "web") as good:
        host.config([{"name": "web", "domains": ["web.test"], "probe": probe_of(good)}])
        assert run_isolated(host)[0] == 0
        counters = host.state / "counters.json"
        inode = counters.stat().st_ino
        code, heavy, modules, lines = run_isolated(host)
    assert code == 0 and heavy == [] and lines[0]["served_fingerprint"] == _x509.fingerprint(issued.cert)
    assert [m for m in modules if m in ("argparse", "dataclasses", "inspect", "secrets", "ctypes.util", "subprocess",
                                        "encodings.idna", "signal")] == []
    assert counters.stat().st_ino == inode


@pytest.mark.parametrize("argv", [
    ["check"], ["renew"], ["--config", "/etc/x.json", "check"], ["--random-delay", "30", "renew"],
    ["--config", "/a.json", "--random-delay", "0", "--config", "/b.json", "check"],
])
def test_timer_command_lines_are_read_as_argparse_reads_them(argv: list[str]) -> None:
    quick = _agent._timer_args(argv)
    full = _cli.parse(argv)
    assert quick is not None
    assert (quick.config, quick.command, quick.random_delay, quick.now) == \
           (full.config, full.command, full.random_delay, full.now)


@pytest.mark.parametrize("argv", [
    [], ["--help"], ["status"], ["check", "--config", "x"], ["--config=/x.json", "check"], ["--random-delay", "+5", "check"],
    ["--random-delay", "x", "check"], ["--conf", "/x.json", "check"], ["--config", "-x", "check"], ["reload", "web"],
    ["--now", "2027-01-01T00:00:00Z", "check"], ["check", "extra"],
])
def test_anything_else_goes_to_argparse(argv: list[str]) -> None:
    assert _agent._timer_args(argv) is None
