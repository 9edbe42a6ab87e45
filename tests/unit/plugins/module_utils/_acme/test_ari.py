# SPDX-License-Identifier: GPL-3.0-or-later
"""ARI certificate identifiers (RFC 9773) and suggested windows."""

from __future__ import annotations

import datetime as dt

import pytest
from acme.client import _renewal_info_path_component
from certgen import TestCA

from ansible_collections.ghostguard.certs.plugins.module_utils._acme import ari
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import ProtocolError


@pytest.mark.parametrize(("serial", "expected"), [
    (0x01, b"\x01"),
    (0x7F, b"\x7f"),
    (0x80, b"\x00\x80"),  # top bit set: keep the leading zero of the DER INTEGER
    (0x87654321, b"\x00\x87\x65\x43\x21"),
    (0x0102, b"\x01\x02"),
])
def test_serial_bytes(serial: int, expected: bytes) -> None:
    assert ari.serial_bytes(serial) == expected


def test_cert_id_matches_the_acme_library() -> None:
    ca = TestCA()
    for _round in range(8):  # random serials: some with the top bit set
        cert = ca.issue(["www.example.test"]).cert
        assert ari.cert_id(cert) == _renewal_info_path_component(cert)


def test_parse_window_and_in_window() -> None:
    info = ari.parse_window({"suggestedWindow": {"start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"},
                             "explanationURL": "https://ca.example/why"})
    assert info["start"] == dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    assert info["explanation_url"] == "https://ca.example/why"
    assert not ari.in_window(info, dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc))
    assert ari.in_window(info, dt.datetime(2026, 12, 1, 12, tzinfo=dt.timezone.utc))
    assert ari.in_window(info, dt.datetime(2026, 12, 5, tzinfo=dt.timezone.utc))  # late is still right


@pytest.mark.parametrize("body", [
    {},
    {"suggestedWindow": {"start": "yesterday", "end": "2026-12-02T00:00:00Z"}},
    {"suggestedWindow": {"start": "2026-12-03T00:00:00Z", "end": "2026-12-02T00:00:00Z"}},
])
def test_parse_window_rejects_bad_answers(body: dict) -> None:
    with pytest.raises(ProtocolError):
        ari.parse_window(body)
