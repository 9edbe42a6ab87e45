# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Durations and timestamps: one parser for every option that takes them."""

from __future__ import annotations

import datetime as _dt
import math
import re
import typing as t

from ._errors import InputError

UTC = _dt.timezone.utc

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhms])")

DAY = 86400.0
# The accepted range (seconds) of every duration option, by name; an option not listed takes
# DEFAULT_RANGE.  Policy durations reach a century (longer than any certificate lives); waits and
# timeouts a day.  The one table: the modules' docs and the agent name the same bounds.
DEFAULT_RANGE = (0.0, 36500 * DAY)
DURATION_RANGES: dict[str, tuple[float, float]] = {
    "renew_before": DEFAULT_RANGE,
    "alert_before": DEFAULT_RANGE,
    "leeway": DEFAULT_RANGE,
    "max_connection_age": DEFAULT_RANGE,
    "connection_margin": DEFAULT_RANGE,
    "propagation_timeout": (1.0, DAY),
    "timeout": (0.001, DAY),
    "retry_delay": (0.0, 3600.0),
    "retry_max_delay": (0.01, 3600.0),
    "watch_retry_delay": (0.0, 3600.0),
    "watch_max_delay": (0.01, 3600.0),
}
# The accepted range of every plain number option (a multiplier, no unit), by name: the same table
# role as DURATION_RANGES, read by :func:`parse_number`.
NUMBER_RANGES: dict[str, tuple[float, float]] = {
    "retry_backoff": (1.0, 10.0),
    "watch_backoff": (1.0, 10.0),
}


def describe_seconds(seconds: float) -> str:
    """A bound for a message: ``100 years``/``36500d``, ``1d``, ``1h``, ``1s``, ``0``."""
    if seconds <= 0:
        return "0"
    for unit, size in (("d", DAY), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return "%d%s" % (seconds // size, unit)
    return "%gs" % seconds


def duration_range(option: str) -> tuple[float, float]:
    """The accepted range of the duration option *option* (an endpoint's ``endpoints[2].timeout`` too)."""
    return DURATION_RANGES.get(option.rsplit(".", 1)[-1], DEFAULT_RANGE)


def _unit_seconds(text: str) -> float | None:
    """The seconds of a text of number-unit parts with nothing between (``1d12h``); None when it is not one."""
    pos = 0
    seconds = 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        return None
    return seconds


def _read_seconds(value: t.Any, option: str, accepted: str) -> float:
    """The seconds *value* says (a number, a numeric text, or a text with units), before any range check."""
    try:
        if isinstance(value, (int, float)):
            return float(value)
        text = str(value).strip().lower().replace(" ", "")
        if not text:
            raise InputError("%s is empty; give %s" % (option, accepted))
        try:
            return float(text)
        except ValueError:
            seconds = _unit_seconds(text)
            if seconds is None:
                raise InputError("%s: %r is not a duration; give %s" % (option, value, accepted)) from None
            return seconds
    except OverflowError:  # an integer too large for a float
        return math.inf


def parse_duration(value: t.Any, option: str = "duration", minimum: float | None = None,
                   maximum: float | None = None) -> float:
    """Turn ``72h``, ``30d``, ``1d12h``, ``90m``, ``3600`` or a number into seconds.

    The one parser of every duration option.  Raises :class:`InputError` naming *option* and its
    accepted range (:data:`DURATION_RANGES`, or *minimum*/*maximum*) when the value cannot be read,
    is not finite (``nan``, ``inf``), or lies outside the range (``1e300``, ``800000d``, negative).
    """
    low, high = duration_range(option)
    low = low if minimum is None else minimum
    high = high if maximum is None else maximum
    accepted = "a duration from %s to %s (seconds, or a number with w, d, h, m or s such as 72h, 30d, 1d12h)" % (
        describe_seconds(low), describe_seconds(high))
    if isinstance(value, bool):
        raise InputError("%s: %r is not a duration; give %s" % (option, value, accepted))
    seconds = _read_seconds(value, option, accepted)
    if math.isnan(seconds) or math.isinf(seconds):
        raise InputError("%s: %r is not a finite duration; give %s" % (option, value, accepted))
    if seconds < 0:
        raise InputError("%s must not be negative (got %r); give %s" % (option, value, accepted))
    if not low <= seconds <= high:
        raise InputError("%s: %r is outside the accepted range; give %s" % (option, value, accepted))
    return seconds


def parse_number(value: t.Any, option: str) -> float:
    """Read the plain number option *option* (``retry_backoff``: a multiplier) within its
    :data:`NUMBER_RANGES` range; :class:`InputError` naming the option and the range otherwise."""
    low, high = NUMBER_RANGES[option.rsplit(".", 1)[-1]]
    accepted = "give a number from %g to %g" % (low, high)
    if isinstance(value, bool):
        raise InputError("%s: %r is not a number; %s" % (option, value, accepted))
    try:
        number = float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError("%s: %r is not a number; %s" % (option, value, accepted)) from None
    if not low <= number <= high:  # nan fails both comparisons
        raise InputError("%s: %r is outside the accepted range; %s" % (option, value, accepted))
    return number


def parse_time(value: t.Any, option: str = "now") -> _dt.datetime:
    """Read an ISO 8601 timestamp (``Z`` or an offset; a naive value is taken as UTC)."""
    if isinstance(value, _dt.datetime):
        moment = value
    else:
        text = str(value).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = _dt.datetime.fromisoformat(text)
        except ValueError:
            raise InputError(
                "%s: %r is not an ISO 8601 time; write it like 2026-11-25T03:00:00Z" % (option, value)
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00:00-05:00 is in year 10000 in UTC
        raise InputError("%s: %r is outside the years 1 to 9999 in UTC; write it like 2026-11-25T03:00:00Z"
                         % (option, value)) from None


def utcnow() -> _dt.datetime:
    return _dt.datetime.now(UTC)


def iso(moment: _dt.datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, to the second."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def stamp(epoch: float) -> str:
    """ISO 8601 in UTC with a ``Z``, to the millisecond, of *epoch* seconds (a step's start in a run report)."""
    whole = int(epoch)
    return _dt.datetime.fromtimestamp(whole, UTC).isoformat().replace("+00:00", ".%03dZ" % min(999, round((epoch - whole) * 1000)))


def utc_field(obj: t.Any, name: str) -> _dt.datetime | None:
    """A date of a ``cryptography`` object (certificate, OCSP response) as an aware UTC datetime.

    ``<name>_utc`` where cryptography has it (42 and later), else the naive ``<name>`` taken as UTC.
    The one place that knows this fallback: ``_x509.not_before``/``not_after`` and OCSP use it.
    """
    value = getattr(obj, name + "_utc", None) if hasattr(obj, name + "_utc") else getattr(obj, name)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return t.cast("_dt.datetime | None", value)
