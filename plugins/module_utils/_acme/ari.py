# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ACME Renewal Information (RFC 9773): certificate identifiers and suggested windows."""

from __future__ import annotations

import base64
import datetime as _dt
import typing as t

from .._errors import ProtocolError
from .._time import parse_time

try:
    from cryptography import x509
except ImportError:  # pragma: no cover - callers run _deps.require("cryptography") first
    pass


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def serial_bytes(serial: int) -> bytes:
    """DER INTEGER contents of a positive serial: big-endian, with a leading 0x00 when the top bit is set."""
    return serial.to_bytes(serial.bit_length() // 8 + 1, "big")


def cert_id(cert: t.Any) -> str:
    """base64url(AKI keyIdentifier) "." base64url(serial DER bytes) (RFC 9773 section 4.1)."""
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        aki = None
    if not aki:
        raise ProtocolError("the certificate has no Authority Key Identifier, so ARI cannot name it; set ari=false")
    return _b64u(aki) + "." + _b64u(serial_bytes(cert.serial_number))


def parse_window(body: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """``{start, end, explanation_url}`` from a renewalInfo response body (datetimes in UTC)."""
    window = body.get("suggestedWindow") or {}
    try:
        start = parse_time(window["start"], "suggestedWindow.start")
        end = parse_time(window["end"], "suggestedWindow.end")
    except (KeyError, TypeError, Exception) as exc:
        raise ProtocolError("the CA's renewalInfo answer has no usable suggestedWindow (%s)" % exc) from None
    if end < start:
        raise ProtocolError("the CA's renewalInfo window ends before it starts")
    return {"start": start, "end": end, "explanation_url": body.get("explanationURL")}


def in_window(info: t.Mapping[str, t.Any], now: _dt.datetime) -> bool:
    """True once the suggested window has started (renewing late in or after it is still right)."""
    return bool(now >= info["start"])
