# SPDX-License-Identifier: GPL-3.0-or-later
"""The certwatch command in its own process, on real files and real TLS services: every row of the exit code
table, a what-if that writes nothing, a state directory it cannot create, reload refreshing metrics and state,
and series of certificates and endpoints that left the configuration leaving the textfile."""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal

import pytest
from agent_lab import Host, probe_of, samples, served_by
from services import TLSServer, free_port

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._agent import cli as _cli
from ansible_collections.ghostguard.certs.plugins.module_utils._agent import results as _results

ROOT = pathlib.Path(__file__).resolve().parents[5]


@pytest.fixture
def host(tmp_path: pathlib.Path) -> Host:
    return Host(tmp_path)


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_now_is_a_what_if_that_writes_nothing_live(host: Host) -> None:
    fresh = host.ca.issue(["web.test"], days=90)
    host.install("web", fresh)
    dead = free_port()
    with served_by(host, fresh, "web") as good:
        host.config([{"name": "web", "domains": ["web.test"],
                      "probe": [probe_of(good), {"host": "127.0.0.1", "port": dead, "timeout": 2}]},
                     {"name": "gone", "domains": ["gone.test"]}])
        live = host.cli("check")
        assert live.returncode == _results.EXIT_ATTENTION, live.stderr
        before = host.snapshot()
        assert "metrics/ghostguard_certwatch.prom" in before and "state/last-run.json" in before
        assert "state/counters.json" in before

        what_if = host.cli("--now", "2099-01-01T00:00:00Z", "check")
        after = host.snapshot()
    assert what_if.returncode == _results.EXIT_ATTENTION, what_if.stderr
    records = [json.loads(line) for line in what_if.stdout.splitlines()]
    assert [(r["cert_id"], r["status"]) for r in records] == [("web", "expired"), ("gone", "missing")]
    # the textfile, the state, the counters (a refused handshake again), the store: byte for byte as they were
    assert after == before


def test_now_before_any_run_creates_nothing(host: Host) -> None:
    host.install("web", host.ca.issue(["web.test"], days=90))
    host.config([{"name": "web", "domains": ["web.test"]}])
    proc = host.cli("--now", "2026-01-01T00:00:00Z", "check")
    assert proc.returncode in (_results.EXIT_OK, _results.EXIT_ATTENTION), proc.stderr
    assert json.loads(proc.stdout.splitlines()[0])["cert_id"] == "web"
    assert not host.state.exists() and list(host.metrics.iterdir()) == []


def test_a_state_dir_that_cannot_be_created_is_a_one_line_configuration_error(host: Host) -> None:
    blocker = host.root / "blocker"
    blocker.write_text("a file where a directory should be\n")
    host.install("web", host.ca.issue(["web.test"], days=90))
    host.config([{"name": "web", "domains": ["web.test"]}], state_dir=str(blocker / "state"))
    before = host.snapshot()
    for argv in (["check"], ["reload", "--changed"]):
        proc = host.cli(*argv)
        assert proc.returncode == _results.EXIT_CONFIG
        line = one_line(proc.stderr)
        assert line == ("certwatch: configuration error: state_dir %s cannot be created (Not a directory); create it "
                        "(mode 0700, writable by the agent) or set state_dir (certwatch_state_dir) to a writable place"
                        % (blocker / "state"))
        assert proc.stdout == ""
    assert host.snapshot() == before  # nothing done: no textfile either


def test_a_missing_metrics_dir_is_a_configuration_error_before_any_work(host: Host) -> None:
    host.install("web", host.ca.issue(["web.test"], days=90))
    host.config([{"name": "web", "domains": ["web.test"]}], metrics_dir=str(host.root / "nope"))
    proc = host.cli("check")
    assert proc.returncode == _results.EXIT_CONFIG and proc.stdout == ""
    assert "metrics_dir %s does not exist; create it" % (host.root / "nope") in one_line(proc.stderr)
    assert not (host.state / "last-run.json").exists()


def readme_exit_codes() -> dict[int, str]:
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| exit code | meaning |"):]
    table = table[:table.index("\n\n")]
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\| (\d) \| (.+) \|$", table, re.M)}


def test_the_documented_table_is_the_agents() -> None:
    table = readme_exit_codes()
    assert sorted(table) == [_results.EXIT_OK, _results.EXIT_ATTENTION, _results.EXIT_FAILED,
                             _results.EXIT_CONFIG] == [0, 1, 2, 3]
    assert "usage" in table[3] and "nothing was done" in table[3]
    assert "renewal" in table[2] and "usage" not in table[2]
    # the unit's SuccessExitStatus: the codes the table calls a success of the unit (0 always is)
    unit = (ROOT / "roles" / "certwatch" / "templates" / "certwatch.service.j2").read_text()
    success = re.findall(r"^SuccessExitStatus=(.*)$", unit, re.M)
    documented = sorted(code for code, meaning in table.items() if "the unit treats it as success" in meaning)
    assert success == [" ".join(str(c) for c in documented)] == ["1"]
    for text in (_cli.EPILOG, (ROOT / "roles" / "certwatch" / "meta" / "argument_specs.yml").read_text()):
        assert "3 configuration or usage error" in text


@pytest.mark.parametrize(("argv", "expected"), [
    (["--bogus", "check"], "unrecognized arguments: --bogus"),
    ([], "the following arguments are required: command"),
    (["checkk"], "invalid choice: 'checkk'"),
    (["--random-delay", "soon", "check"], "argument --random-delay: invalid int value: 'soon'"),
    (["status", "--jsn"], "unrecognized arguments: --jsn"),
])
def test_a_usage_error_is_exit_3_not_renewal_failed(host: Host, argv: list[str], expected: str) -> None:
    host.config([])
    proc = host.cli(*argv)
    assert proc.returncode == _results.EXIT_CONFIG, proc.stderr
    assert expected in proc.stderr and "usage error" in proc.stderr and "certwatch --help" in proc.stderr
    assert "Traceback" not in proc.stderr and not host.state.exists()


def test_every_row_of_the_table(host: Host) -> None:
    fresh = host.ca.issue(["web.test"], days=90)
    host.install("web", fresh)
    with served_by(host, fresh, "web") as good:
        host.config([{"name": "web", "domains": ["web.test"], "probe": probe_of(good), "reload": {"command": ["true"]}}])
        assert host.cli("check").returncode == _results.EXIT_OK          # 0: all fine
        assert host.cli("--help").returncode == _results.EXIT_OK
        assert host.cli("reload", "web").returncode == _results.EXIT_OK
    host.config([{"name": "web", "domains": ["web.test"]}, {"name": "gone", "domains": ["gone.test"]}])
    assert host.cli("check").returncode == _results.EXIT_ATTENTION       # 1: a certificate is missing
    host.config([{"name": "web", "domains": ["web.test"], "reload": {"command": ["false"]}}])
    failed = host.cli("reload", "web")                                         # 2: a reload failed
    assert failed.returncode == _results.EXIT_FAILED and "reload command false exited 1" in failed.stderr
    for argv, message in (                                                     # 3: configuration or usage
        (["--now", "someday", "check"], "--now someday: "),
        (["--now", "2027-01-01T00:00:00Z", "reload"], "--now is for check and status"),
        (["renew"], "needs mode renew"),
        (["reload", "nope"], "no certificate named nope"),
    ):
        proc = host.cli(*argv)
        assert proc.returncode == _results.EXIT_CONFIG, (argv, proc.stderr)
        assert message in one_line(proc.stderr)
    host.config_path.write_text("{not json")
    proc = host.cli("check")
    assert proc.returncode == _results.EXIT_CONFIG and "is not valid JSON" in one_line(proc.stderr)


def test_reload_changed_refreshes_metrics_and_state_at_once(host: Host) -> None:
    old = host.ca.issue(["web.test"], days=60)
    new = host.ca.issue(["web.test"], days=90)
    host.install("web", old)
    pidfile = host.root / "svc.pid"
    pidfile.write_text("%d\n" % os.getpid())
    served = old.write(str(host.root / "served"), "svc")
    with TLSServer(served, str(host.root / "served" / "svc.key")) as srv:
        host.config([{"name": "web", "domains": ["web.test"], "probe": probe_of(srv),
                      "reload": {"signal": "USR1", "pidfile": str(pidfile)}}])
        assert host.cli("check").returncode == 0
        not_after = samples(host.prom(), "ghostguard_cert_not_after_timestamp_seconds")
        assert list(not_after.values()) == [_x509.not_after(old.cert).timestamp()]
        # a new certificate is installed; the service has its files but still serves the old one from memory
        host.install("web", new)
        new.write(str(host.root / "served"), "svc")
        previous = signal.signal(signal.SIGUSR1, lambda *_: srv.reload())
        try:
            proc = host.cli("reload", "--changed")
        finally:
            signal.signal(signal.SIGUSR1, previous)
    assert proc.returncode == 0 and "web: reloaded" in proc.stderr, proc.stderr
    # no check in between: the reload itself wrote the textfile and the state
    text = host.prom()
    not_after = samples(text, "ghostguard_cert_not_after_timestamp_seconds")
    assert list(not_after.values()) == [_x509.not_after(new.cert).timestamp()]
    assert _x509.serial_hex(new.cert) in next(iter(not_after))
    assert list(samples(text, "ghostguard_cert_served_matches").values()) == [1.0]
    state = json.loads((host.state / "last-run.json").read_text())
    web = state["certificates"]["web"]
    assert web["fingerprint"] == web["served_fingerprint"] == _x509.fingerprint(new.cert)
    assert web["outcome"] == "repaired" and state["command"] == "check"
    assert json.loads(proc.stdout.splitlines()[0])["outcome"] == "repaired"


def test_series_of_certificates_and_endpoints_that_left_the_config_leave_the_textfile(host: Host) -> None:
    host.install("web", host.ca.issue(["web.test"], days=90))
    host.install("api", host.ca.issue(["api.test"], days=90))
    gone_port, kept_port, new_port = free_port(), free_port(), free_port()

    def probe(port: int) -> dict[str, object]:
        return {"host": "127.0.0.1", "port": port, "timeout": 2}

    host.config([{"name": "web", "domains": ["web.test"], "probe": [probe(gone_port), probe(kept_port)]},
                 {"name": "api", "domains": ["api.test"], "probe": probe(kept_port)}])
    assert host.cli("check").returncode == _results.EXIT_ATTENTION
    text = host.prom()
    assert 'name="api"' in text and "127.0.0.1:%d" % gone_port in text

    host.config([{"name": "web", "domains": ["web.test"], "probe": [probe(kept_port), probe(new_port)]}])
    assert host.cli("check").returncode == _results.EXIT_ATTENTION
    text = host.prom()
    counters = (host.state / "counters.json").read_text()
    for stale in ('name="api"', "127.0.0.1:%d" % gone_port):
        assert stale not in text
    assert '"api"' not in counters and "127.0.0.1:%d" % gone_port not in counters
    errors = samples(text, "ghostguard_tls_handshake_errors_total")
    assert errors['{endpoint="127.0.0.1:%d",error="refused",name="web"}' % kept_port] == 2  # kept: counted on
    assert errors['{endpoint="127.0.0.1:%d",error="refused",name="web"}' % new_port] == 1
    assert samples(text, "ghostguard_cert_probe_success") == {
        '{endpoint="127.0.0.1:%d",filepath="%s",name="web",server_name="web.test"}' % (port, host.certs / "web" / "cert.pem"): 0.0
        for port in (kept_port, new_port)}


def test_the_schedule_reaches_the_metrics(host: Host) -> None:
    host.install("web", host.ca.issue(["web.test"], days=90))
    host.config([{"name": "web", "domains": ["web.test"]}], schedule={"interval": 3600, "randomized_delay": 60})
    assert host.cli("check").returncode == 0
    text = host.prom()
    assert samples(text, "ghostguard_agent_interval_seconds") == {"": 3600.0}
    assert samples(text, "ghostguard_agent_randomized_delay_seconds") == {"": 60.0}
    host.config([{"name": "web", "domains": ["web.test"]}])  # run by hand, no schedule: no such series
    assert host.cli("check").returncode == 0
    assert "ghostguard_agent_interval_seconds" not in host.prom()
