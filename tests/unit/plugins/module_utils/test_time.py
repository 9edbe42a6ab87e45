# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Durations and timestamps: one parser for every option that takes them."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils._acme.issue import (
    AcmeAccount,
    DnsChallenge,
    IssueRequest,
)
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import InputError
from ansible_collections.ghostguard.certs.plugins.module_utils._expiry import ScanRequest
from ansible_collections.ghostguard.certs.plugins.module_utils._install.deploy import request_from_options
from ansible_collections.ghostguard.certs.plugins.module_utils._policy import Policy
from ansible_collections.ghostguard.certs.plugins.module_utils._time import (
    DURATION_RANGES,
    NUMBER_RANGES,
    UTC,
    describe_seconds,
    iso,
    parse_duration,
    parse_number,
    parse_time,
    utcnow,
)
from ansible_collections.ghostguard.certs.plugins.module_utils._tls.probe import ProbeRequest


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


# ---------------------------------------------------------------- every duration option, every engine entry

BAD_DURATIONS = [float("nan"), float("inf"), float("-inf"), "nan", "inf", "-inf", "NaN", 1e300, "1e300", "1e999",
                 "800000d", 10 ** 400, -1, "-1s", "garbage", "5 parsecs"]


@pytest.mark.parametrize("option", sorted(DURATION_RANGES))
@pytest.mark.parametrize("value", BAD_DURATIONS, ids=repr)
def test_parse_duration_refuses_non_finite_huge_negative_garbage(option: str, value: t.Any) -> None:
    low, high = DURATION_RANGES[option]
    with pytest.raises(InputError) as info:
        parse_duration(value, option)
    message = str(info.value)
    assert message.startswith(option)
    assert "give a duration from %s to %s" % (describe_seconds(low), describe_seconds(high)) in message


@pytest.mark.parametrize(("option", "good"), [
    ("renew_before", "36500d"), ("leeway", "5m"), ("alert_before", 0), ("propagation_timeout", "1d"),
    ("timeout", 0.5), ("retry_delay", "1h"), ("max_connection_age", "24h"), ("connection_margin", "1h"),
    ("retry_max_delay", "0.01"), ("retry_max_delay", "1h"), ("watch_max_delay", 8), ("watch_retry_delay", 0),
])
def test_parse_duration_accepts_the_range(option: str, good: t.Any) -> None:
    low, high = DURATION_RANGES[option]
    assert low <= parse_duration(good, option) <= high


def _policy_entry(option: str, value: t.Any) -> None:
    Policy.from_options({option: value})


def _scan_entry(option: str, value: t.Any) -> None:
    ScanRequest.from_options({"paths": ["/nonexistent"], option: value})


def _deploy_entry(option: str, value: t.Any) -> None:
    request_from_options({"state": "rollback", "cert_path": "/nonexistent/c.pem", option: value})


def _probe_entry(option: str, value: t.Any) -> None:
    ProbeRequest.from_options({"endpoints": [{"host": "a"}, {"host": "b", option: value}]})


def _dns_entry(option: str, value: t.Any) -> None:
    DnsChallenge(provider="rfc2136", propagation_timeout=value)


def _issue_entry(option: str, value: t.Any) -> None:
    IssueRequest(names=["a.test"], account=AcmeAccount(directory="https://acme.test/dir"),
                 dns=DnsChallenge(provider="rfc2136"), **{option: value})


ENTRIES = [
    # (engine entry point, option, how the message names it)
    *[(_policy_entry, o, o) for o in ("renew_before", "alert_before", "leeway", "max_connection_age", "connection_margin")],
    *[(_scan_entry, o, o) for o in ("renew_before", "alert_before", "leeway", "max_connection_age", "connection_margin")],
    (_deploy_entry, "leeway", "leeway"),
    (_probe_entry, "timeout", "endpoints[1].timeout"),
    (_probe_entry, "retry_delay", "endpoints[1].retry_delay"),
    (_probe_entry, "retry_max_delay", "endpoints[1].retry_max_delay"),
    (_dns_entry, "propagation_timeout", "propagation_timeout"),
    (_issue_entry, "timeout", "timeout"),
    (_issue_entry, "leeway", "leeway"),
]


@pytest.mark.parametrize(("entry", "option", "named"), ENTRIES, ids=lambda v: getattr(v, "__name__", str(v)))
@pytest.mark.parametrize("value", [float("nan"), "inf", 1e300, "800000d", "-5", "soon"], ids=repr)
def test_every_engine_entry_refuses_bad_durations_by_name(entry: t.Callable[[str, t.Any], None], option: str,
                                                          named: str, value: t.Any) -> None:
    """No ValueError/OverflowError escapes: an InputError that names the option and its range."""
    with pytest.raises(InputError) as info:
        entry(option, value)
    assert str(info.value).startswith(named), str(info.value)
    assert "give a duration from" in str(info.value)


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00"])
def test_parse_time_outside_the_calendar_is_an_input_error(value: str) -> None:
    with pytest.raises(InputError, match=r"^now: .* is outside the years 1 to 9999"):
        parse_time(value)


@pytest.mark.parametrize("option", sorted(NUMBER_RANGES))
@pytest.mark.parametrize("value", [0, 0.5, 10.5, -2, float("nan"), "inf", 1e300, 10 ** 400, "fast", True, None],
                         ids=repr)
def test_parse_number_refuses_outside_its_range_by_name(option: str, value: t.Any) -> None:
    with pytest.raises(InputError) as info:
        parse_number(value, "endpoints[3]." + option)
    assert str(info.value).startswith("endpoints[3].%s: " % option)
    assert str(info.value).endswith("give a number from 1 to 10")


@pytest.mark.parametrize(("value", "number"), [(1, 1.0), ("2.5", 2.5), (10, 10.0), (" 1.5 ", 1.5)])
def test_parse_number_accepts_the_range(value: t.Any, number: float) -> None:
    assert parse_number(value, "retry_backoff") == number
    assert parse_number(value, "watch_backoff") == number


@pytest.mark.parametrize("value", [0, "0s", "5ms", -1, "2h"])
def test_retry_max_delay_range_is_a_hundredth_to_an_hour(value: t.Any) -> None:
    with pytest.raises(InputError, match=r"^retry_max_delay[: ].*give a duration from 0.01s to 1h"):
        parse_duration(value, "retry_max_delay")
