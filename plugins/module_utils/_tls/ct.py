# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Certificate Transparency: the CT log list, and the SCTs embedded in a certificate.

``load_log_list`` reads a log list (Chrome's ``log_list.json`` v3, or a flat ``{"logs": [...]}``);
``describe_scts`` lists the SCTs of a leaf and, given the logs and the issuer, verifies each
signature (RFC 6962 section 3.2).

Plain Python on ``cryptography``, no Ansible import.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import json
import struct
import typing as t

from .. import _x509
from .._errors import InputError
from .._time import UTC, iso

try:
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
except ImportError:  # pragma: no cover - reported by _deps.require("cryptography")
    pass

if t.TYPE_CHECKING:  # pragma: no cover
    from cryptography.x509 import Certificate


@dataclasses.dataclass
class CTLog:
    log_id: bytes
    key: t.Any
    description: str


def load_log_list(path: str) -> dict[bytes, CTLog]:
    """Read a CT log list (the Google/Chrome ``log_list.json`` v3 format, or a flat ``{"logs": [...]}``)."""
    try:
        with open(path, "rb") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise InputError("ct_log_list %s cannot be read as JSON (%s); give a log_list.json file" % (path, exc)) from None
    logs: list[dict[str, t.Any]] = list(data.get("logs", []))
    for operator in data.get("operators", []):
        logs.extend(operator.get("logs", []))
    out: dict[bytes, CTLog] = {}
    for entry in logs:
        try:
            der = base64.b64decode(entry["key"])
            key = serialization.load_der_public_key(der)
            log_id = base64.b64decode(entry["log_id"]) if entry.get("log_id") else _sha256(der)
        except (KeyError, ValueError, TypeError, UnsupportedAlgorithm):
            continue
        out[log_id] = CTLog(log_id, key, str(entry.get("description", "")))
    if not out:
        raise InputError("ct_log_list %s holds no usable log (each needs a base64 'key')" % path)
    return out


def _sha256(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return bytes(digest.finalize())


def _sct_millis(moment: _dt.datetime) -> int:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return (moment - _dt.datetime(1970, 1, 1)) // _dt.timedelta(milliseconds=1)


def sct_signed_data(sct: t.Any, leaf: Certificate, issuer: Certificate) -> bytes:
    """The RFC 6962 section 3.2 ``digitally-signed`` input of an embedded (precertificate) SCT."""
    tbs = leaf.tbs_precertificate_bytes
    issuer_key_hash = _sha256(issuer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    extensions = getattr(sct, "extension_bytes", b"") or b""
    return (
        struct.pack(">BBQH", 0, 0, _sct_millis(sct.timestamp), 1)
        + issuer_key_hash
        + len(tbs).to_bytes(3, "big") + tbs
        + len(extensions).to_bytes(2, "big") + extensions
    )


def describe_scts(leaf: Certificate, issuer: Certificate | None,
                  logs: t.Mapping[bytes, CTLog] | None = None) -> list[dict[str, t.Any]]:
    """The SCTs embedded in *leaf*; with *logs* (and the issuer) each signature is verified."""
    try:
        ext = leaf.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps)
    except x509.ExtensionNotFound:
        return []
    out = []
    for sct in ext.value:
        entry: dict[str, t.Any] = {
            "version": getattr(sct.version, "name", str(sct.version)),
            "log_id": base64.b64encode(sct.log_id).decode("ascii"),
            "log_id_hex": ":".join("%02x" % b for b in sct.log_id),
            "timestamp": iso(sct.timestamp.replace(tzinfo=UTC)),
            "entry_type": getattr(sct.entry_type, "name", str(sct.entry_type)).lower(),
            "hash_algorithm": getattr(getattr(sct, "signature_hash_algorithm", None), "name", None),
            "signature_algorithm": getattr(getattr(sct, "signature_algorithm", None), "name", None),
            "log_description": None,
            "signature_valid": None,
        }
        if logs is not None:
            log = logs.get(bytes(sct.log_id))
            if log is not None:
                entry["log_description"] = log.description
                if issuer is not None and hasattr(sct, "signature"):
                    entry["signature_valid"] = _x509.signature_valid(
                        log.key, sct.signature, sct_signed_data(sct, leaf, issuer), sct.signature_hash_algorithm)
        out.append(entry)
    return out
