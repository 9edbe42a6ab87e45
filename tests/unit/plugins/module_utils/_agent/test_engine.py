# SPDX-License-Identifier: GPL-3.0-or-later
"""The agent through its engine adapter: renew installs through the generation store, reloads, proves, rolls back."""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import signal
import typing as t

import pytest
from agent_lab import Host, probe_of, samples
from go_reloader import GoReloader
from services import TLSServer

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._agent import engine as _engine
from ansible_collections.ghostguard.certs.plugins.module_utils._agent import results as _results


@pytest.fixture
def host(tmp_path: pathlib.Path) -> Host:
    return Host(tmp_path)


# --------------------------------------------------------------------------- renew: install, reload, prove, roll back
# The ACME order itself runs against Pebble + BIND9 in molecule/certwatch; here the new certificate comes
# from a local CA and everything after the order is the real engine (generation store, rollback).


def renew_host(host: Host, monkeypatch: pytest.MonkeyPatch, srv: TLSServer | None, reload: dict[str, t.Any],
               probe: dict[str, t.Any] | None = None, cert_extra: dict[str, t.Any] | None = None,
               **extra: t.Any) -> None:
    """Configure a due `issue_on: host` certificate; the ACME order is replaced by the test CA, the install is real."""
    from ansible_collections.ghostguard.certs.plugins.module_utils._install import bundle as _bundle

    def issue(cert: dict[str, t.Any], cfg: dict[str, t.Any], secrets: dict[str, t.Any],
              replaces: str | None = None, **_where: t.Any) -> _bundle.Bundle:
        assert secrets == {"rfc2136": {"key_secret": "c2VjcmV0"}}
        assert replaces is None  # due by the local policy; the CA's ARI is unreachable here
        new = host.ca.issue(cert["domains"], days=90)
        return _bundle.build_bundle(new.cert_pem, new.key_pem, new.chain_pem)

    monkeypatch.setattr(_engine, "engine_issue", issue)
    secrets = host.root / "secrets"
    secrets.mkdir()
    (secrets / "acme.key").write_text("not used here")
    (secrets / "credentials.json").write_text(json.dumps({"rfc2136": {"key_secret": "c2VjcmV0"}}))
    host.config(
        [{"name": "web", "domains": ["web.test"], "issue_on": "host", "probe": probe or probe_of(t.cast(TLSServer, srv)),
          "reload": reload, **(cert_extra or {})}],
        mode="renew", acme={"directory": "https://127.0.0.1:1/dir"}, dns={"provider": "rfc2136"},
        secrets={"account_key": str(secrets / "acme.key"), "credentials": str(secrets / "credentials.json")},
        **extra,
    )


def test_renew_installs_reloads_and_proves(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    old = host.ca.issue(["web.test"], days=10, not_before=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=9))
    host.install("web", old)
    cert_dir = host.certs / "web"
    pidfile = host.root / "svc.pid"
    pidfile.write_text(str(os.getpid()))
    with TLSServer(str(cert_dir / "fullchain.pem"), str(cert_dir / "privkey.pem")) as srv:
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
    with TLSServer(str(cert_dir / "fullchain.pem"), str(cert_dir / "privkey.pem")) as srv:
        renew_host(host, monkeypatch, srv, {"command": ["true"]})  # a reload that does not reload: a ghost
        code, out, err = host.main("renew")
    assert code == _results.EXIT_FAILED
    record = json.loads(out.splitlines()[0])
    assert record["outcome"] == "rolled_back" and record["failure"] == "proof"
    assert record["fingerprint"] == _x509.fingerprint(old.cert)  # the previous generation is current again
    assert "proof failed after install" in err and "rolling back" in err and record["error"]
    served = _x509.load_certificates((cert_dir / "cert.pem").read_bytes())[0][0]
    assert _x509.fingerprint(served) == _x509.fingerprint(old.cert)
    failed = samples(host.prom(), "ghostguard_renewal_attempts_failed_total")
    assert failed['{name="web",reason="proof"}'] == 1 and failed['{name="web",reason="issue"}'] == 0


# --------------------------------------------------------------------------- renew: services that watch their files
# A real Go gRPC service (tests/lab/reloader) that reloads itself on fsnotify events; the agent sends no signal.

WATCH_PROVE = {"retries": 3, "retry_delay": 0.2, "watch_retries": 4, "watch_retry_delay": 0.1, "watch_backoff": 2,
               "watch_max_delay": 0.3}  # waits 0.1, 0.2, 0.3, 0.3


def _go_probe(svc: GoReloader) -> dict[str, t.Any]:
    return {"host": "127.0.0.1", "port": svc.port, "server_name": "web.test", "alpn": ["h2"], "validate_certs": False,
            "timeout": 3}


WatchRun = tuple[int, dict[str, t.Any], str, list[dict[str, t.Any]], str]


def _renew_watcher(host: Host, monkeypatch: pytest.MonkeyPatch, watch: str, in_place: bool = False) -> WatchRun:
    """`certwatch renew` of a due certificate served by a Go service watching its files in the *watch* style:
    (exit code, log record, stderr, the service's events, the old fingerprint)."""
    old = host.ca.issue(["web.test"], days=10, not_before=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=9))
    host.install("web", old)
    cert_dir = host.certs / "web"
    with GoReloader(str(host.root / "svc"), str(cert_dir / "fullchain.pem"), str(cert_dir / "privkey.pem"),
                    watch=watch) as svc:
        svc.wait_for("loaded", fingerprint=_x509.fingerprint(old.cert))
        renew_host(host, monkeypatch, None, {"watch": True}, probe=_go_probe(svc), prove=WATCH_PROVE,
                   cert_extra={"in_place": True} if in_place else None)
        code, out, err = host.main("renew")
        record = json.loads(out.splitlines()[0])
        if code == 0:
            svc.wait_for("reloaded", fingerprint=record["fingerprint"], previous=_x509.fingerprint(old.cert))
        return code, record, err, svc.events(), _x509.fingerprint(old.cert)


def test_renew_a_directory_watcher_with_no_signal(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    code, record, err, _events, old_fp = _renew_watcher(host, monkeypatch, "dir")
    assert code == 0, err
    assert record["outcome"] == "renewed" and record["failure"] is None and record["ghost"] is False
    assert record["fingerprint"] != old_fp
    assert record["served_fingerprint"] == record["fingerprint"]
    (probe,) = record["probes"]
    # proved within the bounded, growing waits (0.1, 0.2, 0.3, 0.3): what was waited is their sum so far
    assert 1 <= probe["attempts"] <= 5
    assert probe["waited"] == pytest.approx(sum([0.1, 0.2, 0.3, 0.3][:probe["attempts"] - 1]))
    assert set(samples(host.prom(), "ghostguard_renewal_attempts_failed_total").values()) == {0.0}


def test_a_file_watcher_that_never_sees_the_install_is_a_ghost_rolled_back(host: Host,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    code, record, err, events, old_fp = _renew_watcher(host, monkeypatch, "file")
    assert code == _results.EXIT_FAILED, err
    assert record["outcome"] == "rolled_back" and record["failure"] == "ghost"
    assert "did not pick up the new certificate after 5 attempts and 0.9s of waiting" in record["error"]
    assert "ghost failed after install" in err and "rolling back" in err
    # the previous generation is current again, and proved: the service serves it
    assert record["fingerprint"] == old_fp
    assert record["served_fingerprint"] == old_fp and record["ghost"] is False
    served = _x509.load_certificates((host.certs / "web" / "fullchain.pem").read_bytes())[0][0]
    assert _x509.fingerprint(served) == old_fp
    assert [e["event"] for e in events].count("reloaded") == 0, events  # it never saw anything: no signal sent
    failed = samples(host.prom(), "ghostguard_renewal_attempts_failed_total")
    assert failed['{name="web",reason="ghost"}'] == 1 and failed['{name="web",reason="proof"}'] == 0


def test_a_file_watcher_with_in_place_is_renewed_with_no_signal(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    """`in_place: true` in the certificate's entry: the agent rewrites the watched files in their inodes."""
    code, record, err, events, old_fp = _renew_watcher(host, monkeypatch, "file", in_place=True)
    assert code == 0, err
    assert record["outcome"] == "renewed" and record["ghost"] is False and record["fingerprint"] != old_fp
    assert record["served_fingerprint"] == record["fingerprint"]
    for name in ("fullchain.pem", "privkey.pem"):
        assert not os.path.islink(host.certs / "web" / name)  # still the service's own files, rewritten in place
    reloads = [e for e in events if e["event"] == "reloaded"]
    assert [e["fingerprint"] for e in reloads] == [record["fingerprint"]], events
    # the key is written first: the validating watcher refuses the half-updated pair and keeps serving the old one
    assert all(e["serving"] == old_fp for e in events if e["event"] == "refused"), events
