# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""RFC 2136 provider against the lab's BIND9 with TSIG: add, remove only our value, wrong key, refusals."""

from __future__ import annotations

import secrets
import socket
import time
import typing as t

import pytest
from lab_fixture import LabHandle

from ansible_collections.ghostguard.certs.plugins.module_utils._dns.registry import make_provider
from ansible_collections.ghostguard.certs.plugins.module_utils._dns.rfc2136 import Rfc2136Provider
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import DNSProviderError, InputError

NAME = "_acme-challenge.rfc2136-unit.example.test"


def _settings(lab: LabHandle, **extra: t.Any) -> dict[str, t.Any]:
    tsig = lab.info["tsig"]
    settings = {"server": lab.info["dns"]["nameserver"], "key_name": tsig["name"], "key_secret": tsig["secret"],
                "key_algorithm": tsig["algorithm"]}
    settings.update(extra)
    return settings


def _provider(lab: LabHandle, **extra: t.Any) -> Rfc2136Provider:
    provider = make_provider("rfc2136", _settings(lab, **extra), deadline=time.monotonic() + 30)
    assert isinstance(provider, Rfc2136Provider)
    return provider


def test_add_and_remove_keep_other_values(lab: LabHandle) -> None:
    provider = _provider(lab)
    ours, theirs = "ours-" + secrets.token_hex(8), "theirs-" + secrets.token_hex(8)
    other = _provider(lab).add_txt(NAME, theirs)  # a value someone else wrote on the same name
    try:
        record = provider.add_txt(NAME, ours)
        assert record.zone == "example.test"  # found from the SOA through the server
        assert (record.fqdn, record.value, record.ours) == (NAME, ours, True)
        assert lab.txt(NAME) == {ours, theirs}
        provider.remove_txt(record)
        assert lab.txt(NAME) == {theirs}
    finally:
        _provider(lab).remove_txt(other)
    assert lab.txt(NAME) == set()


def test_configured_zone_and_ttl(lab: LabHandle) -> None:
    provider = _provider(lab, zone="example.test.", ttl=120)
    record = provider.add_txt(NAME, "ttl-check")
    try:
        assert record.zone == "example.test"
        import dns.message
        import dns.query

        answer = dns.query.udp(dns.message.make_query(NAME, "TXT"), "127.0.0.1", port=lab.info["dns"]["port"], timeout=3)
        assert [rrset.ttl for rrset in answer.answer] == [120]
    finally:
        provider.remove_txt(record)


def test_name_outside_the_configured_zone_is_refused(lab: LabHandle) -> None:
    provider = _provider(lab, zone="delegated.test")
    with pytest.raises(InputError, match=r"is not inside rfc2136\.zone delegated\.test"):
        provider.add_txt(NAME, "x")
    assert lab.txt(NAME) == set()


def test_wrong_tsig_secret_names_the_key_not_the_secret(lab: LabHandle) -> None:
    wrong = "c2VjcmV0LWJ1dC1ub3QtdGhlLXJpZ2h0LW9uZS0xMjM0NTY3ODk="
    provider = _provider(lab, key_secret=wrong, zone="example.test")
    with pytest.raises(DNSProviderError) as info:
        provider.add_txt(NAME, "never-written")
    message = str(info.value)
    assert "rejected the TSIG signature of key %s" % lab.info["tsig"]["name"] in message
    assert "key_secret" in message and wrong not in message
    assert info.value.details["name"] == NAME
    assert lab.txt(NAME) == set()


def test_wrong_key_name_and_unsigned_updates_are_refused(lab: LabHandle) -> None:
    unknown = _provider(lab, key_name="not-the-lab-key", zone="example.test")
    with pytest.raises(DNSProviderError, match="not-the-lab-key"):
        unknown.add_txt(NAME, "never-written")
    unsigned = make_provider("rfc2136", {"server": lab.info["dns"]["nameserver"], "zone": "example.test"})
    with pytest.raises(DNSProviderError) as info:
        unsigned.add_txt(NAME, "never-written")
    assert "answered REFUSED" in str(info.value) and "allow updates to zone example.test" in str(info.value)
    assert lab.txt(NAME) == set()


def test_unreachable_server_says_which(lab: LabHandle) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = _provider(lab, server="127.0.0.1", port=port, zone="example.test")
    assert str(provider.server) == "127.0.0.1:%d" % port  # port overrides the server's
    with pytest.raises(DNSProviderError, match=r"DNS server 127\.0\.0\.1:%d did not take the update .* check "
                       r"rfc2136.server and port" % port):
        provider.add_txt(NAME, "x")
