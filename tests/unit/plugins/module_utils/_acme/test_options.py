# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The options of one ACME order, defined once (plugins/module_utils/_acme/options.py): acme_dns01's argument
spec, renew_orders' orders and fallback CAs, and the typed request they become."""

from __future__ import annotations

import pathlib

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils._acme import cas as _cas
from ansible_collections.ghostguard.certs.plugins.module_utils._acme import options as _options
from ansible_collections.ghostguard.certs.plugins.module_utils._acme.keys import KEY_TYPES
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import InputError


def test_renew_request_maps_acme_dns01_options() -> None:
    req = _options.renew_request({
        "names": ["a.example.test"], "cert_path": "/s/cert.pem", "key_path": "/s/privkey.pem", "acme_directory": "https://ca/dir",
        "account_key_content": "PEM", "dns_provider": "rfc2136", "rfc2136": {"server": "ns1"}, "replaces": "abc.def",
        "force": True, "renew_before": "10d", "ari": False, "timeout": 60, "propagation_timeout": 30})
    assert req.issue.replaces == "abc.def" and req.issue.account.key_content == b"PEM" and req.issue.timeout == 60
    assert req.policy.force and req.policy.renew_before == 10 * 86400 and not req.ari
    assert req.targets.cert == "/s/cert.pem" and req.issue.dns.settings == {"server": "ns1"}
    assert "PEM" not in repr(req)
    with pytest.raises(InputError, match="cert_path, acme_directory and dns_provider"):
        _options.renew_request({"names": ["a.example.test"]})


def test_missing_options_take_acme_dns01_defaults() -> None:
    req = _options.renew_request({"domains": ["b.example.test"], "cert_path": "/s/c.pem", "acme_directory": "https://ca/d",
                                  "dns_provider": "alidns"})
    spec = _options.acme_argspec()
    assert req.issue.names == ["b.example.test"] and req.issue.key_type == spec["key_type"]["default"] == "ec-p256"
    assert req.issue.timeout == spec["timeout"]["default"] and req.issue.dns.propagation_timeout == spec["propagation_timeout"]["default"]
    assert req.issue.dns.settings == {} and req.ari and not req.reuse_key and not req.check_mode


def test_a_csr_comes_from_its_file_and_a_missing_file_is_named(tmp_path: pathlib.Path) -> None:
    csr = tmp_path / "host.csr"
    csr.write_bytes(b"-----BEGIN CERTIFICATE REQUEST-----\n")
    base = {"names": ["c.example.test"], "cert_path": "/s/c.pem", "acme_directory": "https://ca/d", "dns_provider": "rfc2136"}
    req = _options.renew_request({**base, "csr_path": str(csr)})
    assert req.issue.csr == csr.read_bytes() and req.issue.csr_source == "csr_path %s" % csr
    with pytest.raises(InputError, match="csr_path %s does not exist" % (tmp_path / "gone.csr")):
        _options.renew_request({**base, "csr_path": str(tmp_path / "gone.csr")})


def test_an_order_is_acme_dns01_plus_its_own_options_and_each_fallback_ca_only_ca_options() -> None:
    acme, order, fallback = _options.acme_argspec(), _options.order_argspec(), _options.fallback_argspec()
    assert set(order) - set(acme) == {"id", "replaces", "ari_exempt", "store", "ca", "replaces_directory", "fallback_cas"}
    assert order["fallback_cas"]["options"] == fallback
    assert set(fallback) == {"name", *_cas.ACME_OPTIONS.values()}
    assert all("required" not in fallback[o] and "default" not in fallback[o] for o in _cas.ACME_OPTIONS.values())
    assert acme["key_type"]["choices"] == list(KEY_TYPES)
    assert acme["account_key_content"]["no_log"] and acme["eab_hmac_key"]["no_log"]
