# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Propagation: wait until every authoritative server answers every value (lab BIND + a stale secondary)."""

from __future__ import annotations

import socket
import threading
import time
import typing as t

import pytest
from lab_fixture import LabHandle

from ansible_collections.ghostguard.certs.plugins.module_utils._dns.base import TxtRecord
from ansible_collections.ghostguard.certs.plugins.module_utils._dns.propagation import wait_for_txt
from ansible_collections.ghostguard.certs.plugins.module_utils._dns.registry import make_provider
from ansible_collections.ghostguard.certs.plugins.module_utils._dns.zone import Lookup, Server
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import PropagationTimeout

APEX = "_acme-challenge.prop-unit.example.test"
WWW = "_acme-challenge.www.prop-unit.example.test"


@pytest.fixture
def written(lab: LabHandle) -> t.Iterator[t.Callable[[str, str], TxtRecord]]:
    tsig = lab.info["tsig"]
    provider = make_provider("rfc2136", {"server": lab.info["dns"]["nameserver"], "key_name": tsig["name"],
                                         "key_secret": tsig["secret"], "zone": "example.test"})
    records: list[TxtRecord] = []

    def write(name: str, value: str) -> TxtRecord:
        records.append(provider.add_txt(name, value))
        return records[-1]

    yield write
    for record in records:
        provider.remove_txt(record)
    assert lab.txt(APEX) == set() and lab.txt(WWW) == set()


def _servers(lab: LabHandle, which: str) -> Server:
    return Server("127.0.0.1", int(lab.info[which]["port"]))


def test_returns_once_every_server_answers_every_value(lab: LabHandle, written: t.Callable[[str, str], TxtRecord]) -> None:
    primary = _servers(lab, "dns")
    written(APEX, "apex-value")
    written(APEX, "wildcard-value")  # wildcard + apex: two values on one name
    written(WWW, "www-value")
    waited = wait_for_txt(Lookup(), {APEX: ["apex-value", "wildcard-value"], WWW: ["www-value"]},
                          {APEX: [primary], WWW: [primary]}, timeout=10)
    assert 0 <= waited < 2


def test_waits_for_a_value_that_arrives_late(lab: LabHandle, written: t.Callable[[str, str], TxtRecord]) -> None:
    primary = _servers(lab, "dns")
    timer = threading.Timer(0.8, written, args=(APEX, "late-value"))
    timer.start()
    try:
        waited = wait_for_txt(Lookup(), {APEX: ["late-value"]}, {APEX: [primary]}, timeout=10, interval=0.1)
    finally:
        timer.join()
    assert waited >= 0.7
    assert "late-value" in lab.txt(APEX)


def test_stale_server_times_out_and_is_named(lab: LabHandle, written: t.Callable[[str, str], TxtRecord]) -> None:
    primary, stale = _servers(lab, "dns"), _servers(lab, "dns_stale")
    written(APEX, "value-1")
    started = time.monotonic()
    with pytest.raises(PropagationTimeout) as info:
        wait_for_txt(Lookup(), {APEX: ["value-1"]}, {APEX: [primary, stale]}, timeout=1.5, interval=0.1)
    elapsed = time.monotonic() - started
    assert 1.5 <= elapsed < 4
    message = str(info.value)
    assert "%s at %s: 1 of 1 values missing" % (APEX, stale) in message
    assert "after 1s" in message and "raise propagation_timeout" in message
    assert info.value.details["pending"] == ["%s@%s" % (APEX, stale)]  # the primary answered: not pending
    assert info.value.details["error_kind"] == "propagation_timeout"


def test_silent_server_is_reported_as_no_answer(lab: LabHandle, written: t.Callable[[str, str], TxtRecord]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # bound, never answers
        sock.bind(("127.0.0.1", 0))
        silent = Server("127.0.0.1", sock.getsockname()[1])
        written(APEX, "value-2")
        with pytest.raises(PropagationTimeout) as info:
            wait_for_txt(Lookup(timeout=0.3), {APEX: ["value-2"]}, {APEX: [_servers(lab, "dns"), silent]}, timeout=0.5)
    assert "%s at %s: no answer (DNS server %s did not answer" % (APEX, silent, silent) in str(info.value)
    assert info.value.details["pending"] == ["%s@%s" % (APEX, silent)]
