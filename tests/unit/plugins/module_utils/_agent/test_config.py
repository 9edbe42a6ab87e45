# SPDX-License-Identifier: GPL-3.0-or-later
"""The agent's configuration: every refusal names the problem, and nothing is done."""

from __future__ import annotations

import pathlib
import typing as t

import pytest
from agent_lab import Host

from ansible_collections.ghostguard.certs.plugins.module_utils._agent import config as _config
from ansible_collections.ghostguard.certs.plugins.module_utils._agent import results as _results


@pytest.fixture
def host(tmp_path: pathlib.Path) -> Host:
    return Host(tmp_path)


BAD_CONFIGS: list[tuple[dict[str, t.Any], str]] = [
    ({"version": 2}, "version 2 is not 1"),
    ({"mode": "auto"}, "mode 'auto' must be one of report, renew"),
    ({"state_dir": "relative"}, "state_dir must be an absolute path"),
    ({"extra": 1}, "unknown top-level key(s) extra"),
    ({"policy": {"renew_before": "soon"}}, "policy.renew_before"),
    ({"policy": {"renew_fraction": 2}}, "renew_fraction must be between 0 and 1"),
    ({"policy": {"renew_within": "3d"}}, "policy: unknown key(s) renew_within"),
    ({"certificates": {"a": 1}}, "certificates must be a list"),
    ({"certificates": [{"domains": ["a.test"]}]}, "host unit, certificate #1, field name: must be a short name"),
    ({"certificates": [{"name": "a", "domains": ["a.test"]}, {"name": "a", "domains": ["a.test"]}]},
     "certificate a, field name: 'a' is used twice on this host"),
    ({"certificates": [{"name": "a", "domains": []}]}, "certificate a, field domains: must be a non-empty list of DNS names"),
    ({"certificates": [{"name": "a", "domains": ["a.test"], "issue_on": "cloud"}]}, "certificate a, field issue_on: must be controller or host"),
    ({"certificates": [{"name": "a", "domains": ["a.test"], "in_place": "yes"}]}, "certificate a, field in_place: must be true or false"),
    ({"certificates": [{"name": "a", "domains": ["a.test"], "cert_path": "rel.pem"}]},
     "certificate a, field cert_path: must be an absolute path, got 'rel.pem'"),
    ({"certificates": [{"name": "a", "domains": ["a.test"], "reload": {"systemd": "x", "watch": True}}]},
     "field reload: give exactly one of systemd, signal (with pidfile), command or watch"),
    ({"certificates": [{"name": "a", "domains": ["a.test"], "reload": {"signal": "HUP"}}]}, "field reload.pidfile: signal needs the pidfile"),
    ({"certificates": [{"name": "a", "domains": ["a.test"], "reload": {"signal": "BOGUS", "pidfile": "/p"}}]},
     "field reload.signal: 'BOGUS' is not a signal name"),
    ({"certificates": [{"name": "a", "domains": ["a.test"], "reload": {"command": "nginx -s reload"}}]},
     "field reload.command: must be a non-empty list of arguments (argv)"),
    ({"certificates": [{"name": "a", "domains": ["a.test"], "probe": {"host": "h", "port": 70000}}]},
     "field probe.port: must be a port number (1-65535), got 70000"),
    ({"certificates": [{"name": "a", "domains": ["a.test"], "probe": {"host": "h", "sni": "x"}}]}, "field probe: unknown key 'sni'"),
    ({"certificates": [{"name": "a", "domains": ["a.test"], "colour": "red"}]}, "certificate a, field colour: unknown field"),
    ({"prove": {"watch_retries": -1}},
     "prove.watch_retries: -1 is not a number of extra probes; give a whole number from 0 to 1000"),
    ({"prove": {"watch_retries": "ten"}}, "prove.watch_retries: 'ten' is not a number of extra probes"),
    ({"prove": {"retries": True}}, "prove.retries: True is not a number of extra probes"),
    ({"prove": {"watch_backoff": 0.5}}, "prove.watch_backoff: 0.5 is outside the accepted range; give a number from 1 to 10"),
    ({"prove": {"watch_backoff": "fast"}}, "prove.watch_backoff: 'fast' is not a number; give a number from 1 to 10"),
    ({"prove": {"watch_max_delay": 0}},
     "prove.watch_max_delay: 0 is outside the accepted range; give a duration from 0.01s to 1h"),
    ({"prove": {"watch_retry_delay": "2h"}}, "prove.watch_retry_delay: '2h' is outside the accepted range"),
    ({"prove": {"retry_delay": "soon"}}, "prove.retry_delay: 'soon' is not a duration"),
    ({"prove": {"watch_tries": 3}}, "prove: unknown key(s) watch_tries; allowed: retries, retry_delay, watch_retries"),
    ({"prove": [3]}, "prove must be a mapping"),
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
        assert code == _results.EXIT_CONFIG
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
    cfg = _config.load_config(str(host.config_path))
    # one inventory model: the same defaults as renew.yml (key privkey.pem, probe 127.0.0.1:443, SNI the first name)
    assert cfg["certificates"][0]["key_path"] == str(host.certs / "web" / "privkey.pem")
    assert cfg["certificates"][0]["issue_on"] == "controller"
    code, out, _err = host.main("validate")
    assert code == 0 and "is valid (1 certificates, mode report)" in out


def test_prove_defaults_and_watch_settings(host: Host) -> None:
    host.config([{"name": "web", "domains": ["web.test"], "reload": {"watch": True}}], prove={})
    assert _config.load_config(str(host.config_path))["prove"] == {
        "retries": 20, "retry_delay": 0.5, "watch_retries": 10, "watch_retry_delay": 0.5, "watch_backoff": 2.0,
        "watch_max_delay": 8.0}
    host.config([], prove={"retries": 3, "watch_retries": 4, "watch_retry_delay": 0.25,
                           "watch_backoff": "1.5", "watch_max_delay": "1m"})
    assert _config.load_config(str(host.config_path))["prove"] == {
        "retries": 3, "retry_delay": 0.5, "watch_retries": 4, "watch_retry_delay": 0.25, "watch_backoff": 1.5,
        "watch_max_delay": 60.0}
    code, out, _err = host.main("validate")
    assert code == 0 and "is valid" in out
