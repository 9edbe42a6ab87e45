# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ACME client against the lab's real Pebble (and the ARI proxy in front of it)."""

from __future__ import annotations

import secrets
import socket
import time
import typing as t

import josepy as jose
import pytest
from certgen import TestCA
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from lab_fixture import LabHandle

from ansible_collections.ghostguard.certs.plugins.module_utils._acme import keys as _keys
from ansible_collections.ghostguard.certs.plugins.module_utils._acme.client import AcmeClient, jwk_from_pem
from ansible_collections.ghostguard.certs.plugins.module_utils._acme.retry import Breaker, RetryPolicy
from ansible_collections.ghostguard.certs.plugins.module_utils._dns.registry import make_provider
from ansible_collections.ghostguard.certs.plugins.module_utils._dns.zone import challenge_name
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import InputError, ProtocolError, ValidationError


def _pem(key: t.Any) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _client(lab: LabHandle, key_pem: bytes | None = None, via_proxy: bool = False, seconds: float = 60,
            ca_bundle: str | None = None) -> AcmeClient:
    directory = lab.info["proxy"]["directory"] if via_proxy else lab.info["directory"]
    return AcmeClient(directory, key_pem or _pem(ec.generate_private_key(ec.SECP256R1())),
                      ca_bundle or lab.info["ca_bundle"], RetryPolicy.within(seconds))


# --------------------------------------------------------------------------- account keys


@pytest.mark.parametrize(("key", "alg"), [
    (rsa.generate_private_key(public_exponent=65537, key_size=2048), jose.RS256),
    (ec.generate_private_key(ec.SECP256R1()), jose.ES256),
    (ec.generate_private_key(ec.SECP384R1()), jose.ES384),
])
def test_jwk_from_pem(key: t.Any, alg: t.Any) -> None:
    jwk, got = jwk_from_pem(_pem(key))
    assert got is alg
    assert jwk.public_key().key.public_numbers() == key.public_key().public_numbers()


@pytest.mark.parametrize(("pem", "message"), [
    (b"not a key", "the ACME account key is not a readable unencrypted PEM private key"),
    (_pem(ec.generate_private_key(ec.SECP224R1())), "ACME account keys on curve secp224r1 are not supported"),
    (_pem(ed25519.Ed25519PrivateKey.generate()), "ACME account keys must be RSA or EC; "),
    (ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw")), "not a readable unencrypted PEM private key"),
])
def test_jwk_from_pem_refuses(pem: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        jwk_from_pem(pem)


# --------------------------------------------------------------------------- accounts


def test_account_created_then_found_again(quiet_lab: LabHandle) -> None:
    key = _pem(ec.generate_private_key(ec.SECP256R1()))
    first = _client(quiet_lab, key)
    uri = first.ensure_account("ops@example.test", terms_agreed=True)
    assert uri.startswith("https://127.0.0.1:%d/" % quiet_lab.info["pebble"]["port"])
    assert first.account_uri == uri
    again = _client(quiet_lab, key)
    assert again.ensure_account(None, terms_agreed=False) == uri  # existing account: no terms needed


def test_new_account_without_terms_is_refused(quiet_lab: LabHandle) -> None:
    client = _client(quiet_lab)
    if not getattr(client.directory.meta, "terms_of_service", None):
        pytest.fail("the lab's Pebble should announce terms of service")
    with pytest.raises(InputError) as info:
        client.ensure_account("ops@example.test", terms_agreed=False)
    assert "set terms_agreed=true" in str(info.value)
    assert "no ACME account exists yet" in str(info.value)


def test_eab_kid_without_hmac_key_is_refused(quiet_lab: LabHandle) -> None:
    with pytest.raises(InputError, match="eab_hmac_key is required with eab_kid"):
        _client(quiet_lab).ensure_account(None, True, eab_kid="kid-1")


def test_untrusted_server_certificate_says_acme_ca_bundle(quiet_lab: LabHandle) -> None:
    client = _client(quiet_lab, ca_bundle=quiet_lab.info["issuer_roots"], seconds=10)
    started = time.monotonic()
    with pytest.raises(ProtocolError) as info:
        client.ensure_account(None, True)
    assert "set acme_ca_bundle to the CA that signed the ACME server's certificate" in str(info.value)
    assert time.monotonic() - started < 5  # not retried: a TLS trust error does not heal


def test_unreachable_directory_fails_within_the_deadline(quiet_lab: LabHandle) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = AcmeClient("https://127.0.0.1:%d/dir" % port, _pem(ec.generate_private_key(ec.SECP256R1())),
                        quiet_lab.info["ca_bundle"], RetryPolicy.within(2))
    started = time.monotonic()
    with pytest.raises(ProtocolError, match="connection to https://127.0.0.1:%d/dir failed" % port):
        client.ensure_account(None, True)
    assert time.monotonic() - started < 6


def test_a_ca_found_unreachable_fails_the_runs_other_clients_without_a_request(quiet_lab: LabHandle) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = "https://127.0.0.1:%d/dir" % port
    breaker = Breaker(url)
    clients = [AcmeClient(url, _pem(ec.generate_private_key(ec.SECP256R1())), quiet_lab.info["ca_bundle"],
                          RetryPolicy.within(2, breaker=breaker)) for _n in range(2)]
    with pytest.raises(ProtocolError, match=r"the CA at %s is unreachable: .*failed \(Connection refused\)" % url) as first:
        clients[0].ensure_account(None, True)
    assert clients[0].net.requests_sent >= 2 and breaker.reason is not None
    started = time.monotonic()
    with pytest.raises(ProtocolError) as second:
        clients[1].ensure_account(None, True)
    assert str(second.value) == str(first.value) and clients[1].net.requests_sent == 0
    assert time.monotonic() - started < 0.5


def test_a_ca_that_answers_429_does_not_open_the_breaker(quiet_lab: LabHandle) -> None:
    lab = quiet_lab
    breaker = Breaker(lab.info["proxy"]["directory"])
    lab.proxy_control(faults=[{"id": "dir-429", "match": "/dir", "status": 429, "times": 3, "retry_after": 0}])
    client = AcmeClient(lab.info["proxy"]["directory"], _pem(ec.generate_private_key(ec.SECP256R1())),
                        lab.info["ca_bundle"], RetryPolicy.within(10, max_attempts=2, breaker=breaker))
    with pytest.raises(ProtocolError, match=r"after 2 attempts.*rateLimited"):
        client.ensure_account(None, True)
    assert breaker.reason is None


# --------------------------------------------------------------------------- orders


def test_order_validate_finalize_and_ari(quiet_lab: LabHandle) -> None:
    lab = quiet_lab
    client = _client(lab, via_proxy=True)
    assert client.has("renewalInfo") and not client.has("keyChange-nope")
    client.ensure_account("ops@example.test", True)
    names = ["client-%s.example.test" % secrets.token_hex(3)]
    order = client.new_order(names)
    assert order.uri and len(order.authorizations) == 1
    authz = order.authorizations[0]
    challb = client.dns01(authz)
    value = challb.chall.validation(client.jwk)
    assert client.key_authorization(challb) == value
    tsig = lab.info["tsig"]
    provider = make_provider("rfc2136", {"server": lab.info["dns"]["nameserver"], "key_name": tsig["name"],
                                         "key_secret": tsig["secret"]})
    record = provider.add_txt(challenge_name(names[0]), value)
    try:
        client.answer(challb, authz.uri)
        client.answer(challb, authz.uri)  # a repeated answer (lost reply) is accepted
        client.wait_authorizations([authz.uri], {authz.uri: names[0]})
    finally:
        provider.remove_txt(record)
    key = _keys.generate_key("ec-p256")
    leaf_chain, alternates = client.finalize(order, _keys.build_csr(key, names))
    cert = x509.load_pem_x509_certificates(leaf_chain.encode())[0]
    assert [n.value for n in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value] == names
    assert isinstance(alternates, list)

    info = client.renewal_info(cert)  # the proxy adds ARI to Pebble
    assert info is not None
    assert info["start"] < info["end"] and info["retry_after"] == 21600.0
    assert info["cert_id"] and "." in info["cert_id"]
    with pytest.raises(ProtocolError, match="unknown certificate"):
        client.renewal_info(TestCA().issue(["other.example.test"]).cert)  # a certificate the CA never issued


def test_pebble_without_ari_gives_none(quiet_lab: LabHandle) -> None:
    client = _client(quiet_lab)
    assert not client.has("renewalInfo")
    assert client.renewal_info(TestCA().issue(["www.example.test"]).cert) is None


def test_invalid_challenge_names_the_record(quiet_lab: LabHandle) -> None:
    client = _client(quiet_lab)
    client.ensure_account(None, True)
    name = "invalid-%s.example.test" % secrets.token_hex(3)
    order = client.new_order([name])
    authz = order.authorizations[0]
    client.answer(client.dns01(authz))  # no TXT record written: the CA must refuse
    with pytest.raises(ValidationError) as info:
        client.wait_authorizations([authz.uri], {authz.uri: name})
    assert "the CA could not validate %s over DNS-01" % name in str(info.value)
    assert "_acme-challenge." + name in str(info.value)
    assert info.value.details["name"] == name


def test_deactivate_pending_authorizations(quiet_lab: LabHandle) -> None:
    client = _client(quiet_lab)
    client.ensure_account(None, True)
    names = ["deact-%s.example.test" % secrets.token_hex(3), "deact2-%s.example.test" % secrets.token_hex(3)]
    order = client.new_order(names)
    urls = [a.uri for a in order.authorizations]
    assert client.deactivate(urls) == 2
    assert {client.authorization(u).body.status.name for u in urls} == {"deactivated"}
    assert client.deactivate(["https://127.0.0.1:1/authz/none"]) == 0  # best effort, bounded, no raise
