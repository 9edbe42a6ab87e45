# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The renewal policy: when a certificate is due, its status, and the order of the statuses.

A certificate is due when the time left (less ``leeway``) is below the larger of ``renew_before``
and ``renew_fraction`` x lifetime (1/3, or 1/2 for lifetimes of 10 days or less), when it cannot
outlast ``max_connection_age`` + ``connection_margin``, or with ``force``.  It is critical when less than
``alert_before`` is left, ``alert_before`` capped at half its renewal window (renew_at to notAfter): alerts are
relative to the lifetime, so a 6-day certificate (renew at 3 days left) is not critical the moment it is due.

Plain Python (no ``cryptography``, no Ansible): the decision works on a validity window.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import typing as t

from ._errors import InputError
from ._time import parse_duration, parse_time, utcnow

# Every status a certificate can have, most severe first.  The one list: reports, counts and docs
# follow it.  ``revoked`` (its CA revoked it: OCSP or CRL, see ``_tls/revocation.py``) comes first.
STATUSES = ("revoked", "invalid", "not_yet_valid", "expired", "critical", "due", "ok")

SHORT_LIVED_SECONDS = 10 * 86400
DEFAULT_FRACTION = 1.0 / 3.0
SHORT_LIVED_FRACTION = 0.5


def worst(statuses: t.Iterable[str]) -> str | None:
    """The most severe of *statuses* (None when there are none); ValueError names an unknown status."""
    ranks = []
    for status in statuses:
        if status not in STATUSES:
            raise ValueError("unknown certificate status %r; expected one of %s" % (status, ", ".join(STATUSES)))
        ranks.append(STATUSES.index(status))
    return STATUSES[min(ranks)] if ranks else None


@dataclasses.dataclass
class Policy:
    """When a certificate is due.  All durations in seconds.

    Due when the time left (less ``leeway``) is below the larger of ``renew_before`` and
    ``renew_fraction`` x lifetime (fraction 1/3, or 1/2 for lifetimes of 10 days or less, unless
    given), when the remaining life cannot outlast ``max_connection_age`` + ``connection_margin``,
    or when ``force`` is set.
    """

    now: _dt.datetime = dataclasses.field(default_factory=utcnow)
    renew_before: float = 0.0
    renew_fraction: float | None = None
    leeway: float = 0.0
    alert_before: float = 72 * 3600.0
    max_connection_age: float | None = None
    connection_margin: float = 3600.0
    force: bool = False
    revocation_check: bool = True  # ask OCSP / the CRL whether the CA revoked it (``revoked`` forces renewal)

    @classmethod
    def from_options(cls, options: t.Mapping[str, t.Any]) -> Policy:
        """Build from module/agent options (strings such as ``30d`` allowed)."""
        def dur(name: str, default: float | None) -> float | None:
            value = options.get(name)
            if value is None or value == "":
                return default
            return parse_duration(value, name)

        fraction = options.get("renew_fraction")
        if fraction is not None:
            try:
                fraction = float(fraction)
            except (TypeError, ValueError, OverflowError):
                fraction = math.nan
            if not 0 < fraction < 1:  # nan and inf fail this too
                raise InputError("renew_fraction must be a number between 0 and 1 (got %r); 0.33 renews with a third "
                                 "of the life left" % options.get("renew_fraction"))
        now = options.get("now")
        return cls(
            now=parse_time(now, "now") if now else utcnow(),
            renew_before=dur("renew_before", 0.0) or 0.0,
            renew_fraction=fraction,
            leeway=dur("leeway", 0.0) or 0.0,
            alert_before=dur("alert_before", 72 * 3600.0) or 0.0,
            max_connection_age=dur("max_connection_age", None),
            connection_margin=dur("connection_margin", 3600.0) or 0.0,
            force=bool(options.get("force")),
            revocation_check=options.get("revocation_check") is not False,
        )

    def alert_for(self, threshold: float) -> float:
        """``alert_before`` for a certificate renewed *threshold* seconds before its end: at most half of that
        window, so the agent and renew.yml have the first half to renew before anyone is alerted."""
        return min(self.alert_before, threshold / 2.0)

    def fraction_for(self, lifetime: float) -> float:
        if self.renew_fraction is not None:
            return self.renew_fraction
        return SHORT_LIVED_FRACTION if lifetime <= SHORT_LIVED_SECONDS else DEFAULT_FRACTION


@dataclasses.dataclass
class Decision:
    status: str
    due: bool
    reasons: list[str]
    seconds_remaining: int
    lifetime_seconds: int
    renew_at: _dt.datetime


def evaluate(start: _dt.datetime, end: _dt.datetime, policy: Policy) -> Decision:
    """Apply *policy* to a validity window; the status ignores key/chain problems (see :func:`mark_invalid`)."""
    now = policy.now
    lifetime = (end - start).total_seconds()
    remaining = (end - now).total_seconds()
    threshold = max(policy.renew_before, policy.fraction_for(lifetime) * lifetime)
    renew_at = end - _dt.timedelta(seconds=threshold + policy.leeway)
    alert_before = policy.alert_for(threshold)
    effective = remaining - policy.leeway  # what a peer whose clock runs `leeway` ahead sees
    reasons = []
    if policy.force:
        reasons.append("forced")
    if now >= renew_at:
        reasons.append("renewal_window")
    if policy.max_connection_age is not None and effective <= policy.max_connection_age + policy.connection_margin:
        reasons.append("connection_age")
    if effective < alert_before:
        reasons.append("alert_window")
    if (start - now).total_seconds() > policy.leeway:
        status = "not_yet_valid"
        reasons.append("not_yet_valid")
    elif effective <= 0:
        status = "expired"
        reasons.append("expired")
    elif effective < alert_before:
        status = "critical"
    elif reasons:
        status = "due"
    else:
        status = "ok"
    due = bool(reasons)
    return Decision(
        status=status,
        due=due,
        reasons=reasons,
        seconds_remaining=int(remaining),
        lifetime_seconds=int(lifetime),
        renew_at=renew_at,
    )


def mark_invalid(description: dict[str, t.Any], reason: str) -> None:
    """Downgrade a certificate description to ``invalid`` (key mismatch, broken chain): invalid means act now."""
    description["status"] = "invalid"
    description["due"] = True
    if reason not in description["reasons"]:
        description["reasons"].append(reason)
