# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The certwatch agent in renew mode asks the CA for ARI (against the lab: Pebble behind the ACME proxy):
a certificate the policy calls fine is renewed once the CA opens its window, the order names the
certificate it replaces, and the answer is cached until the CA's Retry-After."""

from __future__ import annotations

import json
import pathlib
import typing as t

import pytest
from agent_lab import Host
from lab_fixture import LabHandle

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._acme.ari import cert_id


def _renew_mode(host: Host, lab: LabHandle, name: str) -> None:
    info = lab.info
    secrets = host.root / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "credentials.json").write_text(json.dumps({"rfc2136": {"key_secret": info["tsig"]["secret"]}}))
    host.config([{"name": "web", "domains": [name], "issue_on": "host"}], mode="renew",
                policy={"renew_before": "30d", "alert_before": "7d", "leeway": "5m"},  # Pebble's notBefore is now
                acme={"directory": info["proxy"]["directory"], "ca_bundle": info["ca_bundle"], "terms_agreed": True,
                      "email": "ops@example.test"},
                dns={"provider": "rfc2136", "nameservers": [info["dns"]["nameserver"]], "propagation_timeout": 20,
                     "rfc2136": {"server": info["dns"]["nameserver"], "key_name": info["tsig"]["name"],
                                 "key_algorithm": "hmac-sha256"}},
                secrets={"account_key": str(secrets / "account.key"), "credentials": str(secrets / "credentials.json")})
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    (secrets / "account.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                            serialization.PrivateFormat.PKCS8,
                                                            serialization.NoEncryption()))


def _new_orders(lab: LabHandle) -> list[dict[str, t.Any]]:
    return [o for o in lab.proxy_stats().get("orders", []) if o.get("status") == 201]


@pytest.fixture
def host(tmp_path: pathlib.Path) -> Host:
    return Host(tmp_path)


def test_an_open_ari_window_renews_with_replaces_and_the_answer_is_cached(host: Host, lab: LabHandle) -> None:
    lab.proxy_control()
    _renew_mode(host, lab, "ari-agent.example.test")
    try:
        code, out, err = host.main("renew")       # no certificate yet: ordered (nothing to replace)
        assert code == 0, out + err
        first = _x509.load_certificates((host.certs / "web" / "cert.pem").read_bytes())[0][0]
        ident = cert_id(first)
        before = len(_new_orders(lab))
        code, out, err = host.main("renew")       # fine by policy, the CA's window is the last third of its life
        assert code == 0, err
        assert len(_new_orders(lab)) == before
        assert json.loads(out.splitlines()[0])["ari"] is False
        cache = json.loads((host.state / "ari-cache.json").read_text())
        assert any(key.endswith(ident) for key in cache)
        asked = lab.proxy_count("renewalInfo")
        host.main("renew")                           # the answer is cached until Retry-After: the CA is not asked
        assert lab.proxy_count("renewalInfo") == asked
        # the CA moves the window into the past (a mass-revocation drill): renew, naming the certificate replaced
        lab.proxy_control(ari_due=True)
        (host.state / "ari-cache.json").unlink()     # as after the CA's Retry-After
        code, out, err = host.main("renew")
        assert code == 0, err
        orders = _new_orders(lab)[before:]
        assert [o.get("replaces") for o in orders] == [ident]
        record = json.loads(out.splitlines()[0])
        assert record["outcome"] == "renewed" and record["ari"] is True
        assert _x509.fingerprint(_x509.load_certificates((host.certs / "web" / "cert.pem").read_bytes())[0][0]) \
            != _x509.fingerprint(first)
        assert 'ghostguard_cert_lifecycle_state{filepath="%s",name="web",state="ari"} 1' \
            % (host.certs / "web" / "cert.pem") in host.prom()
    finally:
        lab.proxy_control()
