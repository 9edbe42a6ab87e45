# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Retries for ACME requests under one overall deadline.

- ``badNonce``: retried many times with a short backoff (the ``acme`` library retries once).
- HTTP 429 / 5xx, ``rateLimited`` / ``serverInternal`` problems, dropped or refused connections:
  retried after ``Retry-After`` (capped) or an exponential backoff.
- Anything else is raised at once; so is anything once the deadline would pass.
- A :class:`Breaker` (one per CA and run, shared by the run's orders): once a request has failed past its
  retries because the CA is unreachable (refused or dropped connections, timeouts, HTTP 5xx), every later
  request of the run to that CA fails at once with the same reason, instead of a new retry cycle each.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import email.utils
import random
import threading
import time
import typing as t

from .._errors import ProtocolError

T = t.TypeVar("T")

TRANSIENT_PROBLEMS = frozenset({"badNonce", "rateLimited", "serverInternal"})


class Breaker:
    """The circuit breaker of one CA for one run (thread-safe; the run's orders share it).

    :meth:`trip` records why the CA was found unreachable (the first reason wins); from then on
    :meth:`check` raises that reason at once, so no order of the run starts a new retry cycle.
    """

    def __init__(self, ca: str) -> None:
        self.ca = ca
        self.reason: str | None = None
        self._lock = threading.Lock()

    def trip(self, reason: str) -> None:
        with self._lock:
            if self.reason is None:
                self.reason = reason

    def message(self) -> str:
        return ("the CA at %s is unreachable: %s. This run sends it nothing more (its other orders fail at once "
                "with this reason); run again once the CA answers" % (self.ca, self.reason))

    def check(self, what: str) -> None:
        """Raise ProtocolError (``ca_unreachable``) when the breaker is open."""
        if self.reason is not None:
            raise ProtocolError(self.message(), acme_step=what, ca_unreachable=True)


class Breakers:
    """One :class:`Breaker` per CA (ACME directory URL) for one run."""

    def __init__(self) -> None:
        self._by_ca: dict[str, Breaker] = {}
        self._lock = threading.Lock()

    def get(self, ca: str) -> Breaker:
        with self._lock:
            return self._by_ca.setdefault(ca, Breaker(ca))

    def open(self) -> dict[str, str]:
        """The CAs found unreachable in this run, with why."""
        with self._lock:
            return {ca: b.reason for ca, b in self._by_ca.items() if b.reason is not None}


@dataclasses.dataclass
class RetryPolicy:
    """How long and how often to retry.  ``deadline`` is a ``time.monotonic()`` value; ``breaker`` (optional)
    is shared with the other requests of the run to the same CA."""

    deadline: float
    max_attempts: int = 20
    base_delay: float = 0.1
    max_delay: float = 5.0
    max_retry_after: float = 30.0
    attempts_log: list[str] = dataclasses.field(default_factory=list)
    breaker: Breaker | None = dataclasses.field(default=None, repr=False, compare=False)

    @classmethod
    def within(cls, seconds: float, **kwargs: t.Any) -> RetryPolicy:
        return cls(deadline=time.monotonic() + seconds, **kwargs)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


def parse_retry_after(value: str | None, now: _dt.datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    moment = now or _dt.datetime.now(_dt.timezone.utc)
    return max(0.0, (when - moment).total_seconds())


@dataclasses.dataclass
class Failure:
    """What a failed attempt looked like, as the classifier sees it."""

    transient: bool
    description: str
    retry_after: float | None = None
    nonce: bool = False
    unreachable: bool = False   # the CA did not answer usefully: connection refused/dropped, timeout, HTTP 5xx


def call(fn: t.Callable[[], T], what: str, policy: RetryPolicy, classify: t.Callable[[BaseException], Failure | None]) -> T:
    """Run *fn* until it succeeds, a permanent error, *policy*'s attempts or deadline.

    *classify* turns an exception into a :class:`Failure` (None: not ours, re-raise as is). With
    ``policy.breaker``: an open breaker raises before any attempt, and a CA found unreachable here (the
    retries of an ``unreachable`` failure used up, after at least two attempts) opens it.
    """
    attempt = 0
    breaker = policy.breaker
    while True:
        attempt += 1
        if breaker is not None:
            breaker.check(what)
        try:
            return fn()
        except Exception as exc:
            failure = classify(exc)
            if failure is None:
                raise
            if not failure.transient:
                raise ProtocolError("ACME %s failed: %s" % (what, failure.description), acme_step=what) from None
            if failure.nonce:
                delay = min(0.02 * attempt, 0.5)
            elif failure.retry_after is not None:
                delay = min(failure.retry_after, policy.max_retry_after)
            else:
                delay = min(policy.base_delay * (2 ** (attempt - 1)), policy.max_delay) * (0.5 + random.random() / 2)
            policy.attempts_log.append("%s: %s" % (what, failure.description))
            if attempt >= policy.max_attempts or time.monotonic() + delay > policy.deadline:
                why = "after %d attempts" % attempt if attempt >= policy.max_attempts else "before the deadline"
                reason = "ACME %s did not succeed %s (last error: %s)" % (what, why, failure.description)
                if breaker is not None and failure.unreachable and attempt >= 2:
                    breaker.trip(reason)
                    raise ProtocolError(breaker.message(), acme_step=what, attempts=attempt,
                                        ca_unreachable=True) from None
                raise ProtocolError(
                    "%s; the CA may be down or rate limiting: retry later, or raise timeout" % reason,
                    acme_step=what, attempts=attempt, ca_failure=True,
                ) from None
            time.sleep(delay)
