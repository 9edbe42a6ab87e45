# SPDX-License-Identifier: GPL-3.0-or-later
"""Retry policy: Retry-After parsing, badNonce persistence, deadline and attempt limits."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils._acme import retry
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import ProtocolError

NOW = dt.datetime(2026, 11, 25, 12, 0, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(("header", "expected"), [
    (None, None),
    ("", None),
    ("7", 7.0),
    (" 120 ", 120.0),
    ("Wed, 25 Nov 2026 12:00:30 GMT", 30.0),
    ("Wed, 25 Nov 2026 11:00:00 GMT", 0.0),
    ("soon", None),
])
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert retry.parse_retry_after(header, now=NOW) == expected


class Flaky:
    """Fails with the given failures in turn, then returns 'ok'."""

    def __init__(self, failures: list[retry.Failure]) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise RuntimeError(self.failures[0].description)
        return "ok"

    def classify(self, exc: BaseException) -> retry.Failure | None:
        if isinstance(exc, RuntimeError):
            return self.failures.pop(0)
        return None


def test_bad_nonce_retried_many_times() -> None:
    flaky = Flaky([retry.Failure(True, "badNonce", nonce=True)] * 12)
    policy = retry.RetryPolicy.within(30)
    assert retry.call(flaky, "newOrder", policy, flaky.classify) == "ok"
    assert flaky.calls == 13
    assert len(policy.attempts_log) == 12


def test_retry_after_honoured() -> None:
    flaky = Flaky([retry.Failure(True, "HTTP 503", retry_after=0.3)])
    started = time.monotonic()
    assert retry.call(flaky, "finalize", retry.RetryPolicy.within(10), flaky.classify) == "ok"
    assert 0.3 <= time.monotonic() - started < 2


def test_permanent_error_raised_at_once() -> None:
    flaky = Flaky([retry.Failure(False, "unauthorized: no such account")])
    with pytest.raises(ProtocolError, match="ACME newAccount failed: unauthorized"):
        retry.call(flaky, "newAccount", retry.RetryPolicy.within(10), flaky.classify)
    assert flaky.calls == 1


def test_retry_after_past_deadline_fails_without_sleeping() -> None:
    flaky = Flaky([retry.Failure(True, "rateLimited", retry_after=3600)])
    started = time.monotonic()
    with pytest.raises(ProtocolError, match=r"before the deadline.*rateLimited"):
        retry.call(flaky, "newOrder", retry.RetryPolicy.within(5), flaky.classify)
    assert time.monotonic() - started < 1


def test_attempts_capped() -> None:
    flaky = Flaky([retry.Failure(True, "HTTP 500", retry_after=0)] * 10)
    with pytest.raises(ProtocolError, match="after 3 attempts"):
        retry.call(flaky, "order fetch", retry.RetryPolicy.within(10, max_attempts=3), flaky.classify)


def test_unclassified_exceptions_pass_through() -> None:
    def boom() -> str:
        raise KeyError("x")

    with pytest.raises(KeyError):
        retry.call(boom, "x", retry.RetryPolicy.within(5), lambda exc: None)


# --------------------------------------------------------------------------- the breaker of a run


def test_breaker_opens_when_the_ca_is_unreachable_past_the_retries_then_fails_at_once() -> None:
    breaker = retry.Breaker("https://ca.test/dir")
    down = Flaky([retry.Failure(True, "connection to https://ca.test/dir failed (Connection refused)",
                                retry_after=0, unreachable=True)] * 10)
    with pytest.raises(ProtocolError, match=r"the CA at https://ca.test/dir is unreachable: ACME newOrder did not "
                                            r"succeed after 3 attempts \(last error: .*Connection refused\)") as first:
        retry.call(down, "newOrder", retry.RetryPolicy.within(10, max_attempts=3, breaker=breaker), down.classify)
    assert down.calls == 3 and first.value.details["ca_unreachable"] is True
    # every later request of the run fails at once with the same reason, without an attempt
    other = Flaky([])
    started = time.monotonic()
    with pytest.raises(ProtocolError) as later:
        retry.call(other, "directory fetch", retry.RetryPolicy.within(10, breaker=breaker), other.classify)
    assert other.calls == 0 and time.monotonic() - started < 0.1
    assert str(later.value) == str(first.value) and "other orders fail at once with this reason" in str(later.value)


@pytest.mark.parametrize("failure", [
    retry.Failure(True, "rateLimited (HTTP 429)", retry_after=0),          # the CA answers: it limits, it is not down
    retry.Failure(True, "badNonce", nonce=True),
])
def test_breaker_stays_closed_when_the_ca_answers(failure: retry.Failure) -> None:
    breaker = retry.Breaker("https://ca.test/dir")
    flaky = Flaky([failure] * 5)
    with pytest.raises(ProtocolError, match="after 2 attempts"):
        retry.call(flaky, "newOrder", retry.RetryPolicy.within(10, max_attempts=2, breaker=breaker), flaky.classify)
    assert breaker.reason is None
    assert retry.call(Flaky([]), "newOrder", retry.RetryPolicy.within(10, breaker=breaker), Flaky([]).classify) == "ok"


def test_breaker_needs_a_retry_and_a_permanent_error_never_opens_it() -> None:
    breaker = retry.Breaker("https://ca.test/dir")
    once = Flaky([retry.Failure(True, "HTTP 503", retry_after=3600, unreachable=True)])
    with pytest.raises(ProtocolError, match="before the deadline"):   # one attempt, no time left to retry
        retry.call(once, "finalize", retry.RetryPolicy.within(5, breaker=breaker), once.classify)
    refused = Flaky([retry.Failure(False, "unauthorized")])
    with pytest.raises(ProtocolError, match="ACME newAccount failed: unauthorized"):
        retry.call(refused, "newAccount", retry.RetryPolicy.within(5, breaker=breaker), refused.classify)
    assert breaker.reason is None


def test_breakers_one_per_ca_and_the_first_reason_wins() -> None:
    breakers = retry.Breakers()
    assert breakers.get("https://a.test/dir") is breakers.get("https://a.test/dir")
    breakers.get("https://a.test/dir").trip("first")
    breakers.get("https://a.test/dir").trip("second")
    assert breakers.open() == {"https://a.test/dir": "first"}
    breakers.get("https://b.test/dir").check("newOrder")   # another CA: closed
    with pytest.raises(ProtocolError, match=r"the CA at https://a\.test/dir is unreachable: first"):
        breakers.get("https://a.test/dir").check("newOrder")
