# SPDX-License-Identifier: GPL-3.0-or-later
"""certwatch runs against real files and real TLS servers: check, ghosts, metrics, status, reload."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess

import pytest
from agent_lab import Host, probe_of, run_isolated, samples, served_by
from services import TLSServer, free_port

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._agent import results as _results


@pytest.fixture
def host(tmp_path: pathlib.Path) -> Host:
    return Host(tmp_path)


def test_renew_command_needs_renew_mode(host: Host) -> None:
    host.config([])
    code, _out, err = host.main("renew")
    assert code == 3 and "needs mode renew" in err


@pytest.mark.lab  # runs promtool from apt
def test_check_reports_statuses_ghosts_and_metrics(host: Host) -> None:
    fresh = host.ca.issue(["web.test"], days=90)
    old = host.ca.issue(["web.test"], days=90)
    due = host.ca.issue(["api.test"], days=20)
    host.install("web", fresh)
    host.install("api", due)
    dead_port = free_port()
    with served_by(host, fresh, "web") as good, served_by(host, old, "ghost") as ghost:
        host.config([
            {"name": "web", "domains": ["web.test"], "probe": [probe_of(good), probe_of(ghost)]},
            {"name": "api", "domains": ["api.test"],
             "probe": {"host": "127.0.0.1", "port": dead_port, "timeout": 2}},
            {"name": "gone", "domains": ["gone.test"]},
        ])
        code, out, err = host.main("check")
    assert code == _results.EXIT_ATTENTION, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [r["cert_id"] for r in lines] == ["web", "api", "gone"]
    web, api, gone = lines
    assert web["ghost"] is True and web["outcome"] == "ghost" and web["status"] == "ok"
    assert web["fingerprint"] == _x509.fingerprint(fresh.cert)
    assert web["served_fingerprint"] == [_x509.fingerprint(fresh.cert), _x509.fingerprint(old.cert)]
    assert web["next_expiry"] == _x509.iso(_x509.not_after(fresh.cert)) and web["renewal_time"]
    assert api["status"] == "due" and api["probes"][0]["error"] == "refused" and api["ghost"] is False
    assert gone["status"] == "missing" and "does not exist" in gone["error"]

    text = host.prom()
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    served = samples(text, "ghostguard_cert_served_matches")
    assert sorted(served.values()) == [0.0, 1.0]
    assert all('name="web"' in k for k in served)
    status = samples(text, "ghostguard_cert_status")
    assert status['{filepath="%s",name="api",status="due"}' % str(host.certs / "api" / "cert.pem")] == 1
    assert status['{filepath="%s",name="gone",status="missing"}' % str(host.certs / "gone" / "cert.pem")] == 1
    not_after = samples(text, "ghostguard_cert_not_after_timestamp_seconds")
    key = ('{filepath="%s",issuer_CN="agent unit root intermediate",name="web",serial_number="%s",subject_CN="web.test"}'
           % (str(host.certs / "web" / "cert.pem"), _x509.serial_hex(fresh.cert)))
    assert not_after[key] == _x509.not_after(fresh.cert).timestamp()
    expires = samples(text, "ghostguard_cert_expires_seconds")
    assert 19 * 86400 < next(v for k, v in expires.items() if 'name="api"' in k) < 20 * 86400
    errors = samples(text, "ghostguard_tls_handshake_errors_total")
    assert errors['{endpoint="127.0.0.1:%d",error="refused",name="api"}' % dead_port] == 1
    assert errors['{endpoint="127.0.0.1:%d",error="timeout",name="api"}' % dead_port] == 0
    assert "ghostguard_clock_synchronized" in text and "ghostguard_last_run_timestamp_seconds" in text
    assert "ghostguard_last_success_timestamp_seconds" in text
    assert samples(text, "ghostguard_policy_leeway_seconds") == {"": 0.0}

    # a second run: counters carry on from the state file
    host.main("check")
    errors = samples(host.prom(), "ghostguard_tls_handshake_errors_total")
    assert errors['{endpoint="127.0.0.1:%d",error="refused",name="api"}' % dead_port] == 2


def test_all_fine_exits_zero_and_status_is_read_only(host: Host) -> None:
    fresh = host.ca.issue(["web.test"], days=90)
    host.install("web", fresh)
    with served_by(host, fresh, "web") as good:
        host.config([{"name": "web", "domains": ["web.test"], "probe": probe_of(good)}])
        assert host.main("check")[0] == 0
        before = host.prom()
        code, out, _err = host.main("status")
        assert code == 0
        assert out.splitlines()[0].split() == ["NAME", "STATUS", "LEFT", "RENEW", "AT", "SERVED", "LAST", "RUN", "OUTCOME"]
        row = out.splitlines()[1].split()
        assert row[0:2] == ["web", "ok"] and row[-2:] == ["ok", "checked"]
        assert "mode report; last run 20" in out and "last success 20" in out
        code, out, _err = host.main("status", "--json")
        data = json.loads(out)
        assert code == 0 and data["exit_code"] == 0
        assert data["certificates"][0]["served_fingerprint"] == _x509.fingerprint(fresh.cert)
        code, out, _err = host.main("--now", "2099-01-01T00:00:00Z", "status")
        assert code == 1 and out.splitlines()[1].split()[:2] == ["web", "expired"]
    assert host.prom() == before  # status never writes


def test_reload_changed_clears_a_ghost_by_signal(host: Host) -> None:
    old = host.ca.issue(["web.test"], days=90)
    new = host.ca.issue(["web.test"], days=90)
    host.install("web", new)
    pidfile = host.root / "svc.pid"
    pidfile.write_text("%d\n" % os.getpid())
    cert_file = old.write(str(host.root / "served"), "svc")
    with TLSServer(cert_file, str(host.root / "served" / "svc.key")) as srv:
        host.config([{"name": "web", "domains": ["web.test"], "probe": probe_of(srv),
                      "reload": {"signal": "USR1", "pidfile": str(pidfile)}}])
        assert host.main("check")[0] == 1
        assert samples(host.prom(), "ghostguard_cert_served_matches") != {}
        new.write(str(host.root / "served"), "svc")  # the service's files change; it has not re-read them

        previous = signal.signal(signal.SIGUSR1, lambda *_: srv.reload())
        try:
            code, _out, err = host.main("reload", "--changed")
        finally:
            signal.signal(signal.SIGUSR1, previous)
        assert code == 0 and "web: reloaded" in err
        assert host.main("check")[0] == 0
    assert list(samples(host.prom(), "ghostguard_cert_served_matches").values()) == [1.0]


def test_reload_failure_is_exit_2_and_unknown_name_is_config_error(host: Host) -> None:
    issued = host.ca.issue(["web.test"], days=90)
    host.install("web", issued)
    host.config([{"name": "web", "domains": ["web.test"], "reload": {"command": ["false"]}}])
    code, _out, err = host.main("reload", "web")
    assert code == 2 and "reload command false exited 1" in err
    code, _out, err = host.main("reload", "nope")
    assert code == 3 and "no certificate named nope" in err


def test_fast_path_imports_no_acme_or_dns_library(host: Host) -> None:
    issued = host.ca.issue(["web.test"], days=90)
    host.install("web", issued)
    host.config([{"name": "web", "domains": ["web.test"]}])
    code, _heavy, modules, _lines = run_isolated(host)
    assert code == 0
    # the configuration's CA list (_acme/cas.py: plain Python, no library) is read with the configuration; no
    # other part of the ACME or DNS engine is imported
    engine = [m for m in modules if "._acme" in m or "._dns" in m]
    assert sorted(m.rsplit(".", 1)[-1] for m in engine) == ["_acme", "cas"]   # the package and cas.py
    assert [m for m in modules if m.split(".")[0] in ("acme", "josepy", "dns", "aliyunsdkcore", "requests")] == []


def _ghost_host(host: Host, mode: str) -> tuple[TLSServer, str, str]:
    """A certificate that is not due, whose service serves an older one: (service, file fp, served fp)."""
    old = host.ca.issue(["web.test"], days=90)
    new = host.ca.issue(["web.test"], days=90)
    host.install("web", new)
    pidfile = host.root / "svc.pid"
    pidfile.write_text("%d\n" % os.getpid())
    cert_file = old.write(str(host.root / "served"), "svc")
    srv = TLSServer(cert_file, str(host.root / "served" / "svc.key")).start()
    new.write(str(host.root / "served"), "svc")  # the service's files changed; it has not re-read them
    extra = {"mode": "renew", "acme": {"directory": "https://127.0.0.1:1/dir"}, "dns": {"provider": "rfc2136"},
             "secrets": {"account_key": str(pidfile)}} if mode == "renew" else {}
    host.config([{"name": "web", "domains": ["web.test"], "probes": [probe_of(srv)],
                  "reload": {"signal": "USR1", "pidfile": str(pidfile)}}], **extra)
    return srv, _x509.fingerprint(new.cert), _x509.fingerprint(old.cert)


@pytest.mark.parametrize("mode", ["report", "renew"])
def test_a_ghost_of_a_certificate_not_due_is_repaired_in_renew_mode_only(host: Host, mode: str) -> None:
    srv, file_fp, old_fp = _ghost_host(host, mode)
    reloads: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda *_: (reloads.append(1), srv.reload()))
    try:
        code, out, err = host.main("renew" if mode == "renew" else "check")
    finally:
        signal.signal(signal.SIGUSR1, previous)
        srv.stop()
    record = json.loads(out.splitlines()[0])
    if mode == "report":
        assert code == _results.EXIT_ATTENTION and record["outcome"] == "ghost" and reloads == []
        assert record["served_fingerprint"] == old_fp and record["ghost"] is True
    else:
        assert code == 0, err
        assert record["outcome"] == "repaired" and record["ghost"] is False and reloads == [1]
        assert record["served_fingerprint"] == file_fp and record["unproved"] is False
        assert "web: reload (signal) done" in err


def test_fast_path_probe_records_have_the_engine_keys(host: Host) -> None:
    from ansible_collections.ghostguard.certs.plugins.module_utils._agent import main as _agent
    from ansible_collections.ghostguard.certs.plugins.module_utils._install import observe as _observe

    fresh = host.ca.issue(["web.test"], days=90)
    host.install("web", fresh)
    with served_by(host, fresh, "web") as good:
        cfg = host.config([{"name": "web", "domains": ["web.test"], "probes": [probe_of(good)]}])
        cfg = _agent.load_config(str(host.config_path))
        res = _results.CertResult("web", "x", "ok", description={"fingerprint_sha256": _x509.fingerprint(fresh.cert)})
        _agent._probe(cfg["certificates"][0], res)
        engine = _observe.probe_entry(cfg["certificates"][0]["probes"][0], {}, None)
    assert sorted(res.probes[0]) == sorted(engine) and res.probes[0]["served_matches"] is True
