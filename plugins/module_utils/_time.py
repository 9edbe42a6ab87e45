# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Durations and timestamps: one parser for every option that takes them."""

from __future__ import annotations

import datetime as _dt
import re
import typing as t

from ._errors import InputError

UTC = _dt.timezone.utc

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhms])")


def parse_duration(value: t.Any, option: str = "duration") -> float:
    """Turn ``72h``, ``30d``, ``1d12h``, ``90m``, ``3600`` or a number into seconds.

    Raises :class:`InputError` naming *option* when the value cannot be read.
    """
    if isinstance(value, bool):
        raise InputError("%s: %r is not a duration; use seconds or a value such as 72h, 30d, 1d12h" % (option, value))
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        if not text:
            raise InputError("%s is empty; use seconds or a value such as 72h, 30d, 1d12h" % option)
        try:
            seconds = float(text)
        except ValueError:
            pos = 0
            seconds = 0.0
            for match in _PART.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNITS[match.group(2)]
                pos = match.end()
            if pos != len(text) or pos == 0:
                raise InputError(
                    "%s: %r is not a duration; use seconds or a number with w, d, h, m or s "
                    "(for example 72h, 30d, 1d12h)" % (option, value)
                ) from None
    if seconds < 0:
        raise InputError("%s must not be negative (got %r)" % (option, value))
    return seconds


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
    return moment.astimezone(UTC)


def utcnow() -> _dt.datetime:
    return _dt.datetime.now(UTC)


def iso(moment: _dt.datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, to the second."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def utc_field(obj: t.Any, name: str) -> _dt.datetime | None:
    """A date of a ``cryptography`` object (certificate, OCSP response) as an aware UTC datetime.

    ``<name>_utc`` where cryptography has it (42 and later), else the naive ``<name>`` taken as UTC.
    The one place that knows this fallback: ``_x509.not_before``/``not_after`` and OCSP use it.
    """
    value = getattr(obj, name + "_utc", None) if hasattr(obj, name + "_utc") else getattr(obj, name)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return t.cast("_dt.datetime | None", value)
