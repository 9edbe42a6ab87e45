# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The certwatch agent with two CAs (certwatch_acme as a list: acme, then acme_fallbacks), against the lab:
while the primary is down the second CA (a Pebble of its own) issues in the same tick; the agent remembers
which CA issued the certificate and asks that CA, not the primary, for its ARI window."""

from __future__ import annotations

import json
import pathlib
import typing as t

import pytest
from agent_lab import Host
from lab_fixture import LabHandle
from services import free_port

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._agent import config as _config


def _key(path: pathlib.Path) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return str(path)


@pytest.fixture
def backup(lab: LabHandle) -> t.Iterator[dict[str, t.Any]]:
    info = lab.extra_pebble("pebble-agent-backup")
    try:
        yield info
    finally:
        lab.stop_pebble("pebble-agent-backup")


def _two_cas(host: Host, lab: LabHandle, backup: t.Mapping[str, t.Any], down: str) -> None:
    info = lab.info
    secrets = host.root / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "credentials.json").write_text(json.dumps({"rfc2136": {"key_secret": info["tsig"]["secret"]}}))
    host.config([{"name": "web", "domains": ["cas-agent.example.test"], "issue_on": "host"}], mode="renew",
                policy={"renew_before": "30d", "alert_before": "7d", "leeway": "5m"},
                acme={"name": "primary", "directory": down, "terms_agreed": True, "timeout": 10},
                acme_fallbacks=[{"name": "backup", "directory": backup["directory"], "ca_bundle": backup["ca_bundle"],
                                 "terms_agreed": True, "account_key": _key(secrets / "acme-account-backup.key")}],
                dns={"provider": "rfc2136", "nameservers": [info["dns"]["nameserver"]], "propagation_timeout": 20,
                     "rfc2136": {"server": info["dns"]["nameserver"], "key_name": info["tsig"]["name"],
                                 "key_algorithm": "hmac-sha256"}},
                secrets={"account_key": _key(secrets / "account.key"), "credentials": str(secrets / "credentials.json")})


def test_the_second_ca_issues_while_the_primary_is_down(
        host_root: Host, lab: LabHandle, backup: dict[str, t.Any]) -> None:
    host = host_root
    down = "https://127.0.0.1:%d/dir" % free_port()
    _two_cas(host, lab, backup, down)
    code, out, err = host.main("renew")
    assert code == 0, out + err
    record = json.loads(out.splitlines()[0])
    assert record["outcome"] == "renewed", record
    assert "CA primary failed" in err and "the order goes to CA backup" in err and "issued by CA backup" in err, err
    issuers = json.loads((host.state / "issuers.json").read_text())
    assert list(issuers.values()) == [{"name": "backup", "directory": backup["directory"]}]
    leaf = _x509.load_certificates((host.certs / "web" / "cert.pem").read_bytes())[0][0]
    assert leaf.issuer != leaf.subject
    # the next tick: fine by policy; ARI is asked of the backup (a Pebble without ARI), not of the down primary
    code, out, err = host.main("renew")
    assert code == 0, out + err
    assert "offers no ARI" in err and down not in err, err


def test_fallbacks_are_validated(tmp_path: pathlib.Path) -> None:
    base = {"version": 1, "mode": "renew", "state_dir": str(tmp_path), "metrics_dir": str(tmp_path),
            "cert_dir": str(tmp_path), "acme": {"directory": "https://a/dir"}, "dns": {"provider": "rfc2136"},
            "secrets": {"account_key": str(tmp_path / "k")},
            "certificates": [{"name": "w", "domains": ["w.test"], "issue_on": "host"}]}
    cases = {
        "acme_fallbacks must be a list": {"name": "b"},
        "acme_fallbacks[0]: directory is missing (certwatch_acme[1].directory)": [{"name": "b", "account_key": "/k"}],
        "acme_fallbacks[0]: account_key is missing (certwatch_acme[1].account_key_content)": [
            {"name": "b", "directory": "https://b/dir"}],
        "acme_fallbacks[0]: unknown key(s) eab_hmac_key": [
            {"name": "b", "directory": "https://b/dir", "account_key": "/k", "eab_hmac_key": "x"}],
        "acme_fallbacks[1]: the CA name b is used twice": [{"name": "b", "directory": "https://b/dir", "account_key": "/k"}] * 2,
    }
    for message, fallbacks in cases.items():
        with pytest.raises(_config.ConfigError) as caught:
            _config.validate(dict(base, acme_fallbacks=fallbacks), check_files=False)
        assert message in str(caught.value)
    with pytest.raises(_config.ConfigError, match="the account key of CA b\\) does not exist"):
        _config.validate(dict(base, acme_fallbacks=[{"name": "b", "directory": "https://b/dir",
                                                     "account_key": str(tmp_path / "missing")}]),
                         check_files=True)


@pytest.fixture
def host_root(tmp_path: pathlib.Path) -> Host:
    return Host(tmp_path)
