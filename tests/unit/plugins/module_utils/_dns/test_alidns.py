# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Alidns provider: the real aliyun SDK against the lab's signature-checking stand-in."""

from __future__ import annotations

import secrets
import time
import typing as t

import pytest
from lab_fixture import LabHandle

from ansible_collections.ghostguard.certs.plugins.module_utils._dns.alidns import AlidnsProvider
from ansible_collections.ghostguard.certs.plugins.module_utils._dns.registry import make_provider
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import DNSProviderError

NAME = "_acme-challenge.alidns-unit.example.test"


def _provider(lab: LabHandle, deadline: float | None = None, **extra: t.Any) -> AlidnsProvider:
    info = lab.info["alidns"]
    settings = {"access_key_id": info["access_key_id"], "access_key_secret": info["access_key_secret"],
                "endpoint": info["endpoint"], "protocol": "http"}
    settings.update(extra)
    provider = make_provider("alidns", settings, deadline=deadline if deadline is not None else time.monotonic() + 60)
    assert isinstance(provider, AlidnsProvider)
    return provider


def _counts(lab: LabHandle) -> dict[str, int]:
    return dict(lab.alidns_stats().get("counts", {}))


def _delta(lab: LabHandle, before: dict[str, int], key: str) -> int:
    return _counts(lab).get(key, 0) - before.get(key, 0)


def test_zone_found_on_the_second_page(quiet_lab: LabHandle) -> None:
    provider = _provider(quiet_lab)
    before = _counts(quiet_lab)
    assert provider.zone_for(NAME) == "example.test"
    assert provider.zone_for("_acme-challenge.x.delegated.test") == "delegated.test"
    assert len(provider.domains()) == 132  # 130 fillers + the two lab zones, over two pages of 100
    assert _delta(quiet_lab, before, "DescribeDomains") == 2  # paged once, then cached
    with pytest.raises(DNSProviderError) as info:
        provider.zone_for("_acme-challenge.shop.elsewhere.test")
    assert "no domain of Alidns access key id %s holds" % quiet_lab.info["alidns"]["access_key_id"] in str(info.value)
    assert "(the account has 132 domains)" in str(info.value)


def test_add_and_cleanup_only_own_values(quiet_lab: LabHandle) -> None:
    ours_value, theirs_value = "ours-" + secrets.token_hex(6), "theirs-" + secrets.token_hex(6)
    theirs = _provider(quiet_lab).add_txt(NAME, theirs_value)
    provider = _provider(quiet_lab, ttl=700)
    try:
        ours = provider.add_txt(NAME, ours_value)
        assert ours.zone == "example.test" and ours.handle and ours.handle != theirs.handle
        assert quiet_lab.txt(NAME) == {ours_value, theirs_value}
        records = {r["Value"]: r for r in quiet_lab.alidns_stats()["records"]}
        assert records[ours_value]["RR"] == "_acme-challenge.alidns-unit" and int(records[ours_value]["TTL"]) == 700
        provider.remove_txt(ours)
        assert quiet_lab.txt(NAME) == {theirs_value}
        assert [r["Value"] for r in quiet_lab.alidns_stats()["records"]] == [theirs_value]
        provider.remove_txt(ours)  # a retried delete of a record already gone is fine
    finally:
        _provider(quiet_lab).remove_txt(theirs)
    assert quiet_lab.txt(NAME) == set()
    assert quiet_lab.alidns_stats()["records"] == []


def test_duplicate_add_returns_the_existing_record(quiet_lab: LabHandle) -> None:
    provider = _provider(quiet_lab)
    value = "dup-" + secrets.token_hex(6)
    first = provider.add_txt(NAME, value)
    before = _counts(quiet_lab)
    try:
        again = provider.add_txt(NAME, value)  # as after a lost reply to a successful AddDomainRecord
        assert again.handle == first.handle
        assert _delta(quiet_lab, before, "DescribeSubDomainRecords") == 1
        assert len(quiet_lab.alidns_stats()["records"]) == 1
    finally:
        provider.remove_txt(first)
    assert quiet_lab.alidns_stats()["records"] == []


def test_throttling_is_retried(quiet_lab: LabHandle) -> None:
    quiet_lab.alidns_control(throttle_rate=0.5)  # exactly every second call is throttled
    provider = _provider(quiet_lab)
    before = _counts(quiet_lab)
    record = provider.add_txt(NAME, "throttled-" + secrets.token_hex(4))
    provider.remove_txt(record)
    assert _delta(quiet_lab, before, "Throttling.User") >= 2
    assert provider.calls >= 6  # 2 pages + add + delete, each other one repeated
    assert quiet_lab.alidns_stats()["records"] == []


def test_throttling_without_end_fails_with_the_code_and_hint(quiet_lab: LabHandle) -> None:
    quiet_lab.alidns_control(throttle_rate=1.0)
    provider = _provider(quiet_lab)
    provider.max_attempts = 3
    with pytest.raises(DNSProviderError) as info:
        provider.zone_for(NAME)
    assert provider.calls == 3
    assert info.value.details["provider_code"] == "Throttling.User"
    assert "run fewer renewals at once" in str(info.value)


def test_no_retry_past_the_deadline(quiet_lab: LabHandle) -> None:
    quiet_lab.alidns_control(throttle_rate=1.0)
    provider = _provider(quiet_lab, deadline=time.monotonic() - 1)
    with pytest.raises(DNSProviderError, match=r"Throttling\.User"):
        provider.zone_for(NAME)
    assert provider.calls == 1


@pytest.mark.parametrize(("settings", "code", "hint"), [
    ({"access_key_secret": "not-the-secret-0123456789"}, "InvalidAccessKeySecret", "check alidns.access_key_secret"),
    ({"access_key_id": "LTAInobodyHasThisKey"}, "InvalidAccessKeyId.NotFound", "check alidns.access_key_id"),
])
def test_wrong_credentials(quiet_lab: LabHandle, settings: dict[str, str], code: str, hint: str) -> None:
    provider = _provider(quiet_lab, **settings)
    with pytest.raises(DNSProviderError) as info:
        provider.add_txt(NAME, "never-written")
    message = str(info.value)
    assert code in message and hint in message
    assert info.value.details["provider_code"] == code
    assert "not-the-secret" not in message and quiet_lab.info["alidns"]["access_key_secret"] not in message
    assert provider.calls == 1  # not retried
    assert quiet_lab.alidns_stats()["records"] == []
