# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Retries for ACME requests under one overall deadline.

- ``badNonce``: retried many times with a short backoff (the ``acme`` library retries once).
- HTTP 429 / 5xx, ``rateLimited`` / ``serverInternal`` problems, dropped or refused connections:
  retried after ``Retry-After`` (capped) or an exponential backoff.
- Anything else is raised at once; so is anything once the deadline would pass.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import email.utils
import random
import time
import typing as t

from .._errors import ProtocolError

T = t.TypeVar("T")

TRANSIENT_PROBLEMS = frozenset({"badNonce", "rateLimited", "serverInternal"})


@dataclasses.dataclass
class RetryPolicy:
    """How long and how often to retry.  ``deadline`` is a ``time.monotonic()`` value."""

    deadline: float
    max_attempts: int = 20
    base_delay: float = 0.1
    max_delay: float = 5.0
    max_retry_after: float = 30.0
    attempts_log: list[str] = dataclasses.field(default_factory=list)

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


def call(fn: t.Callable[[], T], what: str, policy: RetryPolicy, classify: t.Callable[[BaseException], Failure | None]) -> T:
    """Run *fn* until it succeeds, a permanent error, *policy*'s attempts or deadline.

    *classify* turns an exception into a :class:`Failure` (None: not ours, re-raise as is).
    """
    attempt = 0
    while True:
        attempt += 1
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
                raise ProtocolError(
                    "ACME %s did not succeed %s (last error: %s); the CA may be down or rate limiting: "
                    "retry later, or raise timeout" % (what, why, failure.description),
                    acme_step=what, attempts=attempt,
                ) from None
            time.sleep(delay)
