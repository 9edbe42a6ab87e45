# SPDX-License-Identifier: GPL-3.0-or-later
"""Renewal policy and statuses (plugins/module_utils/_policy.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils import _policy
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import InputError

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 1, 1, tzinfo=UTC)
DAY = 86400.0


def policy(at_days: float, **kw: object) -> _policy.Policy:
    return _policy.Policy(now=T0 + dt.timedelta(days=at_days), **kw)  # type: ignore[arg-type]


def decide(lifetime_days: float, at_days: float, **kw: object) -> _policy.Decision:
    return _policy.evaluate(T0, T0 + dt.timedelta(days=lifetime_days), policy(at_days, **kw))


# lifetime, time since issue, expected status, expected due
POLICY_TABLE = [
    # 6-day (short-lived): renew at half-life = 3 days left; alert_before (72h) is capped at half of that
    # renewal window (36h left), so being due is not being critical (no alert storm for a short-lived fleet)
    (6, 1.0, "ok", False),
    (6, 2.9, "ok", False),
    (6, 3.0, "due", True),
    (6, 3.5, "due", True),
    (6, 4.49, "due", True),
    (6, 4.51, "critical", True),
    (6, 6.0, "expired", True),
    # 90-day: renew with 30 days left
    (90, 10, "ok", False),
    (90, 59.9, "ok", False),
    (90, 60, "due", True),
    (90, 86.9, "due", True),
    (90, 87.5, "critical", True),
    (90, 91, "expired", True),
    # 397-day: renew with 132.33 days left
    (397, 200, "ok", False),
    (397, 264.6, "ok", False),
    (397, 264.7, "due", True),
    (397, 396, "critical", True),
    (397, 400, "expired", True),
    # exactly 10 days counts as short-lived (1/2), just over does not (1/3)
    (10, 4.9, "ok", False),
    (10, 5.0, "due", True),
    (10.01, 5.0, "ok", False),
]


def test_alert_before_is_capped_at_half_the_renewal_window() -> None:
    # 90-day: the renewal window is 30 days, half is 15 days: 72h stays
    assert _policy.Policy().alert_for(30 * DAY) == 72 * 3600.0
    # 6-day: the window is 3 days, an alert_before of 72h or more alerts at 36h left
    assert _policy.Policy(alert_before=5 * DAY).alert_for(3 * DAY) == 1.5 * DAY
    # a smaller alert_before is kept
    assert _policy.Policy(alert_before=12 * 3600.0).alert_for(3 * DAY) == 12 * 3600.0
    # renew_before widens the window, and the cap with it
    assert decide(6, 4.6, renew_before=5 * DAY).status == "critical"   # 1.4 days left < 72h (the cap is 2.5 days)
    assert decide(6, 2.9, renew_before=5 * DAY).status == "due"
    # a 6-day certificate with alert_before 24h: critical with less than a day left
    assert decide(6, 4.9, alert_before=DAY).status == "due"
    assert decide(6, 5.1, alert_before=DAY).status == "critical"


@pytest.mark.parametrize(("lifetime", "at", "status", "due"), POLICY_TABLE)
def test_policy_table(lifetime: float, at: float, status: str, due: bool) -> None:
    decision = decide(lifetime, at)
    assert (decision.status, decision.due) == (status, due)


def test_renew_at_and_seconds() -> None:
    decision = decide(90, 10)
    assert decision.renew_at == T0 + dt.timedelta(days=60)
    assert decision.lifetime_seconds == 90 * 86400
    assert decision.seconds_remaining == 80 * 86400


def test_renew_before_wins_when_larger() -> None:
    assert decide(90, 50, renew_before=45 * DAY).due is True  # 40 days left < 45d
    assert decide(90, 40, renew_before=45 * DAY).due is False
    # fraction wins when larger than renew_before
    assert decide(90, 61, renew_before=1 * DAY).due is True


def test_explicit_fraction_applies_to_short_lived_too() -> None:
    assert decide(6, 3.5, renew_fraction=0.25, alert_before=0).status == "ok"
    assert decide(6, 4.6, renew_fraction=0.25, alert_before=0).status == "due"


@pytest.mark.parametrize(
    ("at", "leeway_h", "status"),
    [
        (59.9, 0, "ok"),
        (59.9, 3, "due"),        # leeway brings the renewal earlier
        (89.99, 0, "critical"),
        (89.99, 1, "expired"),   # a peer whose clock runs an hour fast already rejects it
    ],
)
def test_leeway_towards_expiry(at: float, leeway_h: float, status: str) -> None:
    assert decide(90, at, leeway=leeway_h * 3600).status == status


@pytest.mark.parametrize(
    ("at_hours", "leeway_h", "status"),
    [
        (-2, 0, "not_yet_valid"),
        (-2, 3, "ok"),             # within the skew allowance: valid
        (-2, 1, "not_yet_valid"),
        (0, 0, "ok"),
    ],
)
def test_leeway_towards_not_before(at_hours: float, leeway_h: float, status: str) -> None:
    assert decide(90, at_hours / 24, leeway=leeway_h * 3600).status == status


def test_connection_age() -> None:
    # 90-day certificate with 31 days left: not due by the window, but a 40-day connection outlives it
    d = decide(90, 59, max_connection_age=40 * DAY, connection_margin=3600)
    assert d.due and d.status == "due" and d.reasons == ["connection_age"]
    assert decide(90, 59, max_connection_age=20 * DAY).due is False
    # margin counts
    assert decide(90, 59, max_connection_age=31 * DAY - 7200, connection_margin=3 * 3600).due is True


def test_force() -> None:
    d = decide(90, 1, force=True)
    assert d.due and d.status == "due" and d.reasons == ["forced"]


def test_policy_from_options_validates() -> None:
    p = _policy.Policy.from_options({"renew_before": "30d", "leeway": "5m", "now": "2026-01-01T00:00:00Z"})
    assert (p.renew_before, p.leeway, p.now) == (30 * DAY, 300, T0)
    with pytest.raises(InputError, match="renew_fraction"):
        _policy.Policy.from_options({"renew_fraction": 1.5})


def test_policy_from_options_defaults() -> None:
    p = _policy.Policy.from_options({"renew_before": None, "leeway": "", "max_connection_age": "1d"})
    assert (p.renew_before, p.leeway, p.alert_before, p.connection_margin) == (0.0, 0.0, 72 * 3600.0, 3600.0)
    assert p.max_connection_age == DAY and p.renew_fraction is None and p.force is False
    with pytest.raises(InputError, match="leeway"):
        _policy.Policy.from_options({"leeway": "5 minutes"})


def test_statuses_most_severe_first() -> None:
    assert _policy.STATUSES == ("invalid", "not_yet_valid", "expired", "critical", "due", "ok")


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], None),
        (["ok"], "ok"),
        (["ok", "due", "ok"], "due"),
        (["due", "critical", "expired"], "expired"),
        (["expired", "not_yet_valid"], "not_yet_valid"),
        (["ok", "invalid", "expired"], "invalid"),
    ],
)
def test_worst(statuses: list[str], expected: str | None) -> None:
    assert _policy.worst(statuses) == expected
    assert _policy.worst(iter(statuses)) == expected  # any iterable


def test_worst_rejects_unknown_status() -> None:
    with pytest.raises(ValueError, match="unknown certificate status 'fine'"):
        _policy.worst(["ok", "fine"])


def test_every_evaluated_status_is_listed() -> None:
    seen = {decide(*case[:2]).status for case in POLICY_TABLE} | {decide(90, -1).status}
    assert seen <= set(_policy.STATUSES) and "not_yet_valid" in seen


def test_mark_invalid() -> None:
    desc = {"status": "ok", "due": False, "reasons": []}
    _policy.mark_invalid(desc, "key_mismatch")
    _policy.mark_invalid(desc, "key_mismatch")
    assert desc == {"status": "invalid", "due": True, "reasons": ["key_mismatch"]}
