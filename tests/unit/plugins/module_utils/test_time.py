# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Durations and timestamps: one parser for every option that takes them."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils._errors import InputError
from ansible_collections.ghostguard.certs.plugins.module_utils._time import UTC, iso, parse_duration, parse_time, utcnow


@pytest.mark.parametrize(("value", "seconds"), [
    ("72h", 259200.0), ("30d", 2592000.0), ("1d12h", 129600.0), ("90m", 5400.0), ("2w", 1209600.0),
    ("45s", 45.0), ("3600", 3600.0), (3600, 3600.0), (1.5, 1.5), ("0", 0.0), ("1.5h", 5400.0),
    (" 1d 2h ", 93600.0), ("1D", 86400.0), ("0.5", 0.5),
])
def test_parse_duration(value: t.Any, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(("value", "message"), [
    ("", "renew_before is empty"),
    ("abc", "'abc' is not a duration"),
    ("10x", "'10x' is not a duration"),
    ("h10", "'h10' is not a duration"),
    ("1d-2h", "is not a duration"),
    (True, "True is not a duration"),
    (-5, "renew_before must not be negative"),
    ("-5", "renew_before must not be negative"),
])
def test_parse_duration_refuses_with_option_name(value: t.Any, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_duration(value, "renew_before")
    assert message in str(info.value)
    assert "renew_before" in str(info.value)
    assert info.value.details["error_kind"] == "input"


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-11-25T03:00:00Z", dt.datetime(2026, 11, 25, 3, 0, tzinfo=UTC)),
    ("2026-11-25T03:00:00z", dt.datetime(2026, 11, 25, 3, 0, tzinfo=UTC)),
    ("2026-11-25T11:00:00+08:00", dt.datetime(2026, 11, 25, 3, 0, tzinfo=UTC)),
    ("2026-11-25T03:00:00", dt.datetime(2026, 11, 25, 3, 0, tzinfo=UTC)),  # naive is UTC
    ("2026-11-25", dt.datetime(2026, 11, 25, tzinfo=UTC)),
    (dt.datetime(2026, 1, 1, 8, tzinfo=dt.timezone(dt.timedelta(hours=8))), dt.datetime(2026, 1, 1, tzinfo=UTC)),
])
def test_parse_time_is_utc(value: t.Any, expected: dt.datetime) -> None:
    parsed = parse_time(value)
    assert parsed == expected
    assert parsed.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "", "25/11/2026"])
def test_parse_time_refuses(value: str) -> None:
    with pytest.raises(InputError, match=r"now: .* is not an ISO 8601 time; write it like 2026-11-25T03:00:00Z"):
        parse_time(value)


def test_iso_is_utc_z_to_the_second() -> None:
    moment = dt.datetime(2026, 11, 25, 11, 0, 0, 987654, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert iso(moment) == "2026-11-25T03:00:00Z"
    assert iso(parse_time(iso(moment))) == "2026-11-25T03:00:00Z"


def test_utcnow_is_aware_and_current() -> None:
    now = utcnow()
    assert now.tzinfo is not None and now.utcoffset() == dt.timedelta(0)
    assert abs((now - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 5
