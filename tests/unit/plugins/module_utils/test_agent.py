# SPDX-License-Identifier: GPL-3.0-or-later
"""The certwatch agent against real files and real TLS servers: check, ghosts, metrics, status, reload."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import pathlib
import signal
import subprocess
import sys
import typing as t

import pytest
from certgen import Issued, TestCA
from services import TLSServer, free_port

from ansible_collections.ghostguard.certs.plugins.module_utils import _agent, _x509

ROOT = pathlib.Path(__file__).resolve().parents[4]


class Host:
    """A host's certificate files, TLS services and agent configuration in a temp directory."""

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root
        self.ca = TestCA("agent unit root")
        self.certs = root / "certs"
        self.state = root / "state"
        self.metrics = root / "metrics"
        self.metrics.mkdir()
        self.config_path = root / "certwatch.json"

    def install(self, name: str, issued: Issued) -> str:
        folder = self.certs / name
        issued.write(str(folder), "cert", bundle=False)
        os.replace(folder / "cert.key", folder / "key.pem")
        (folder / "chain.pem").write_bytes(issued.chain_pem)
        (folder / "fullchain.pem").write_bytes(issued.fullchain_pem)
        return str(folder / "cert.pem")

    def config(self, certificates: list[dict[str, t.Any]], **extra: t.Any) -> dict[str, t.Any]:
        cfg = {
            "version": 1, "host": "unit", "mode": "report", "state_dir": str(self.state),
            "metrics_dir": str(self.metrics), "cert_dir": str(self.certs),
            "policy": {"renew_before": "30d", "alert_before": "7d"},
            "certificates": certificates, "prove": {"retries": 3, "retry_delay": 0.2},
        }
        cfg.update(extra)
        self.config_path.write_text(json.dumps(cfg))
        return cfg

    def main(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = _agent.main(["--config", str(self.config_path), *argv], out=out, err=err)
        return code, out.getvalue(), err.getvalue()

    def prom(self) -> str:
        return (self.metrics / "ghostguard_certwatch.prom").read_text()


@pytest.fixture
def host(tmp_path: pathlib.Path) -> Host:
    return Host(tmp_path)


def served_by(host: Host, issued: Issued, stem: str) -> TLSServer:
    """A TLS service serving *issued* from its own copy of the files (what a service has in memory)."""
    cert = issued.write(str(host.root / "served"), stem)
    return TLSServer(cert, str(host.root / "served" / (stem + ".key")))


def probe_of(srv: TLSServer) -> dict[str, t.Any]:
    return {"host": "127.0.0.1", "port": srv.port, "server_name": "web.test", "validate_certs": False, "timeout": 3}


def samples(text: str, metric: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line.startswith(metric + "{") or line.startswith(metric + " "):
            key, value = line.rsplit(" ", 1)
            out[key[len(metric):]] = float(value)
    return out


# --------------------------------------------------------------------------- configuration


BAD_CONFIGS: list[tuple[dict[str, t.Any], str]] = [
    ({"version": 2}, "version 2 is not 1"),
    ({"mode": "auto"}, "mode 'auto' must be one of report, renew"),
    ({"state_dir": "relative"}, "state_dir must be an absolute path"),
    ({"extra": 1}, "unknown top-level key(s) extra"),
    ({"policy": {"renew_before": "soon"}}, "policy.renew_before"),
    ({"policy": {"renew_fraction": 2}}, "renew_fraction must be between 0 and 1"),
    ({"policy": {"renew_within": "3d"}}, "policy: unknown key(s) renew_within"),
    ({"certificates": {"a": 1}}, "certificates must be a list"),
    ({"certificates": [{"domains": ["a.test"]}]}, "certificates[0] needs a name"),
    ({"certificates": [{"name": "a", "domains": ["a.test"]}, {"name": "a", "domains": ["a.test"]}]},
     "certificate a is configured twice"),
    ({"certificates": [{"name": "a", "domains": []}]}, "domains must be a non-empty list"),
    ({"certificates": [{"name": "a", "domains": ["a.test"], "issue_on": "cloud"}]}, "issue_on must be controller or host"),
    ({"certificates": [{"name": "a", "domains": ["a.test"], "cert_path": "rel.pem"}]}, "cert_path 'rel.pem' must be an absolute path"),
    ({"certificates": [{"name": "a", "domains": ["a.test"], "reload": {"systemd": "x", "watch": True}}]},
     "reload needs exactly one of"),
    ({"certificates": [{"name": "a", "domains": ["a.test"], "reload": {"signal": "HUP"}}]}, "signal needs pidfile"),
    ({"certificates": [{"name": "a", "domains": ["a.test"], "reload": {"signal": "BOGUS", "pidfile": "/p"}}]},
     "'BOGUS' is not a signal name"),
    ({"certificates": [{"name": "a", "domains": ["a.test"], "reload": {"command": "nginx -s reload"}}]},
     "must be a non-empty argv list"),
    ({"certificates": [{"name": "a", "domains": ["a.test"], "probe": {"port": 443}}]}, "probe[0] has no host"),
    ({"certificates": [{"name": "a", "domains": ["a.test"], "probe": {"host": "h", "port": 70000}}]}, "is not a TCP port"),
    ({"certificates": [{"name": "a", "domains": ["a.test"], "probe": {"host": "h", "sni": "x"}}]}, "unknown key(s) sni"),
    ({"certificates": [{"name": "a", "domains": ["a.test"], "colour": "red"}]}, "unknown key(s) colour"),
    ({"mode": "renew", "certificates": [{"name": "a", "domains": ["a.test"], "issue_on": "host"}]},
     "acme.directory is missing"),
    ({"mode": "renew", "acme": {"directory": "https://acme.test/dir"}, "dns": {"provider": "route53"},
      "certificates": [{"name": "a", "domains": ["a.test"], "issue_on": "host"}]}, "dns.provider must be alidns or rfc2136"),
    ({"mode": "renew", "acme": {"directory": "https://acme.test/dir"}, "dns": {"provider": "rfc2136"},
      "secrets": {"account_key": "/nonexistent/acme.key"},
      "certificates": [{"name": "a", "domains": ["a.test"], "issue_on": "host"}]}, "secret file /nonexistent/acme.key"),
]


@pytest.mark.parametrize(("change", "message"), BAD_CONFIGS)
def test_bad_configuration_is_refused_before_any_work(host: Host, change: dict[str, t.Any], message: str) -> None:
    change = dict(change)
    host.config(change.pop("certificates", []), **change)
    for command in ("validate", "check"):
        if command == "validate" and "secret file" in message:
            continue  # validate checks the file's shape only (the role runs it before writing secrets)
        code, out, err = host.main(command)
        assert code == _agent.EXIT_CONFIG
        assert message in err, err
        assert out == ""
    assert not host.state.exists()  # nothing done
    assert list(host.metrics.iterdir()) == []


def test_missing_and_broken_config_files(host: Host) -> None:
    code, _out, err = host.main("check")
    assert code == 3 and "does not exist; install the agent with the ghostguard.certs.certwatch role" in err
    host.config_path.write_text("{")
    code, _out, err = host.main("check")
    assert code == 3 and "is not valid JSON" in err


def test_defaults_paths_from_cert_dir_and_validates(host: Host) -> None:
    host.config([{"name": "web", "domains": ["web.test"]}])
    cfg = _agent.load_config(str(host.config_path))
    assert cfg["certificates"][0]["key_path"] == str(host.certs / "web" / "key.pem")
    assert cfg["certificates"][0]["issue_on"] == "controller"
    code, out, _err = host.main("validate")
    assert code == 0 and "is valid (1 certificates, mode report)" in out


def test_renew_command_needs_renew_mode(host: Host) -> None:
    host.config([])
    code, _out, err = host.main("renew")
    assert code == 3 and "needs mode renew" in err


# --------------------------------------------------------------------------- check, ghosts, metrics


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
    assert code == _agent.EXIT_ATTENTION, err
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


def run_isolated(host: Host) -> tuple[int, list[str], list[str], list[dict[str, t.Any]]]:
    """One `certwatch check` in a fresh interpreter: exit code, heavy modules, all modules, its log lines."""
    code = (
        "import json, sys\n"
        "from ansible_collections.ghostguard.certs.plugins.module_utils import _agent\n"
        "rc = _agent.main(['--config', %r, 'check'])\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
        "sys.exit(rc)\n" % str(host.config_path)
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT / ".build" / "collections")})
    modules = json.loads(proc.stderr.strip().splitlines()[-1])
    heavy = [m for m in modules if m.split(".")[0] == "cryptography" or m.endswith(("_x509", "_tls_probe"))]
    return proc.returncode, heavy, modules, [json.loads(line) for line in proc.stdout.splitlines()]


def test_fast_path_imports_no_acme_or_dns_library(host: Host) -> None:
    issued = host.ca.issue(["web.test"], days=90)
    host.install("web", issued)
    host.config([{"name": "web", "domains": ["web.test"]}])
    code, _heavy, modules, _lines = run_isolated(host)
    assert code == 0
    assert [m for m in modules if m.split(".")[0] in ("acme", "josepy", "dns", "aliyunsdkcore", "requests")
            or "._acme" in m or "._dns" in m] == []


# --------------------------------------------------------------------------- fast path


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
    end = _agent._epoch(desc["not_after"])
    limits: dict[str, float | None] = {"leeway": 60.0, "alert_before": 3 * 86400.0, "max_connection_age": None,
                                       "connection_margin": 3600.0}
    assert _agent._valid_until(desc, limits) == _agent._epoch(desc["renew_at"])
    limits["alert_before"] = 40 * 86400.0  # alerting earlier than renewing
    assert _agent._valid_until(desc, limits) == end - 60 - 40 * 86400
    limits.update(alert_before=0.0, max_connection_age=45 * 86400.0)
    assert _agent._valid_until(desc, limits) == end - 60 - 45 * 86400 - 3600


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


# --------------------------------------------------------------------------- renew: install, reload, prove, roll back
# The ACME order itself runs against Pebble + BIND9 in molecule/certwatch; here the new certificate comes
# from a local CA and everything after the order is the real engine (generation store, rollback).


def renew_host(host: Host, monkeypatch: pytest.MonkeyPatch, srv: TLSServer, reload: dict[str, t.Any]) -> None:
    from ansible_collections.ghostguard.certs.plugins.module_utils import _files

    def issue_and_install(cert: dict[str, t.Any], cfg: dict[str, t.Any], secrets: dict[str, t.Any],
                          staging: str) -> dict[str, t.Any]:
        assert secrets == {"rfc2136": {"key_secret": "c2VjcmV0"}} and os.path.isdir(staging)
        new = host.ca.issue(cert["domains"], days=90)
        bundle = _files.build_bundle(new.cert_pem, new.key_pem, new.chain_pem)
        return _files.deploy(_files.DeployRequest(targets=_agent._targets(_files.Targets, cert), bundle=bundle)).facts()

    monkeypatch.setattr(_agent, "engine_issue_and_install", issue_and_install)
    secrets = host.root / "secrets"
    secrets.mkdir()
    (secrets / "acme.key").write_text("not used here")
    (secrets / "credentials.json").write_text(json.dumps({"rfc2136": {"key_secret": "c2VjcmV0"}}))
    host.config(
        [{"name": "web", "domains": ["web.test"], "issue_on": "host", "probe": probe_of(srv), "reload": reload}],
        mode="renew", acme={"directory": "https://127.0.0.1:1/dir"}, dns={"provider": "rfc2136"},
        secrets={"account_key": str(secrets / "acme.key"), "credentials": str(secrets / "credentials.json")},
    )


def test_renew_installs_reloads_and_proves(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    old = host.ca.issue(["web.test"], days=10, not_before=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=9))
    host.install("web", old)
    cert_dir = host.certs / "web"
    pidfile = host.root / "svc.pid"
    pidfile.write_text(str(os.getpid()))
    with TLSServer(str(cert_dir / "fullchain.pem"), str(cert_dir / "key.pem")) as srv:
        renew_host(host, monkeypatch, srv, {"signal": "USR1", "pidfile": str(pidfile)})
        previous = signal.signal(signal.SIGUSR1, lambda *_: srv.reload())
        try:
            code, out, err = host.main("renew")
        finally:
            signal.signal(signal.SIGUSR1, previous)
    assert code == 0, err
    record = json.loads(out.splitlines()[0])
    assert record["outcome"] == "renewed" and record["status"] == "ok" and record["ghost"] is False
    assert record["fingerprint"] != _x509.fingerprint(old.cert)
    assert record["served_fingerprint"] == record["fingerprint"]
    assert os.path.islink(cert_dir / "cert.pem")  # installed through the generation store
    text = host.prom()
    assert samples(text, "ghostguard_renewal_attempts_total") == {'{name="web"}': 1.0}
    assert set(samples(text, "ghostguard_renewal_attempts_failed_total").values()) == {0.0}


def test_a_failed_proof_is_rolled_back(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    old = host.ca.issue(["web.test"], days=10, not_before=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=9))
    host.install("web", old)
    cert_dir = host.certs / "web"
    with TLSServer(str(cert_dir / "fullchain.pem"), str(cert_dir / "key.pem")) as srv:
        renew_host(host, monkeypatch, srv, {"command": ["true"]})  # a reload that does not reload: a ghost
        code, out, err = host.main("renew")
    assert code == _agent.EXIT_FAILED
    record = json.loads(out.splitlines()[0])
    assert record["outcome"] == "rolled_back" and record["failure"] == "proof"
    assert record["fingerprint"] == _x509.fingerprint(old.cert)  # the previous generation is current again
    assert "proof failed after install" in err and "rolling back" in err and record["error"]
    served = _x509.load_certificates((cert_dir / "cert.pem").read_bytes())[0][0]
    assert _x509.fingerprint(served) == _x509.fingerprint(old.cert)
    failed = samples(host.prom(), "ghostguard_renewal_attempts_failed_total")
    assert failed['{name="web",reason="proof"}'] == 1 and failed['{name="web",reason="issue"}'] == 0
