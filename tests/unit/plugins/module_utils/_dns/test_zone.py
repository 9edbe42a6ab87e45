# SPDX-License-Identifier: GPL-3.0-or-later
"""Name server strings and challenge names."""

from __future__ import annotations

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils._dns import zone
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import InputError


@pytest.mark.parametrize(("text", "host", "port"), [
    ("192.0.2.53", "192.0.2.53", 53),
    ("192.0.2.53:5353", "192.0.2.53", 5353),
    ("ns1.example.test", "ns1.example.test", 53),
    ("[2001:db8::53]:5300", "2001:db8::53", 5300),
    ("2001:db8::53", "2001:db8::53", 53),
])
def test_parse_server(text: str, host: str, port: int) -> None:
    server = zone.parse_server(text)
    assert (server.host, server.port) == (host, port)


@pytest.mark.parametrize("bad", ["", "host:port", "host:0", "host:70000"])
def test_parse_server_rejects(bad: str) -> None:
    with pytest.raises(InputError):
        zone.parse_server(bad)


@pytest.mark.parametrize(("name", "expected"), [
    ("www.example.test", "_acme-challenge.www.example.test"),
    ("*.example.test", "_acme-challenge.example.test"),
    ("Example.Test.", "_acme-challenge.example.test"),
])
def test_challenge_name(name: str, expected: str) -> None:
    assert zone.challenge_name(name) == expected
