# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Certificates with real embedded SCTs, signed by a test CT log, and the matching log list file.

    log_key = ec.generate_private_key(ec.SECP256R1())
    cert, key = cert_with_sct(ca, log_key, with_key=True)
    log_list(path, log_key)            # Chrome log_list.json v3 shape
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import pathlib
import struct
import time
import typing as t

from certgen import TestCA, now
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SCT_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")


def _len(data: bytes, size: int) -> bytes:
    return len(data).to_bytes(size, "big") + data


def _der_octet_string(data: bytes) -> bytes:
    n = len(data)
    if n < 128:
        return b"\x04" + bytes([n]) + data
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\x04" + bytes([0x80 | len(body)]) + body + data


def cert_with_sct(ca: TestCA, log_key: ec.EllipticCurvePrivateKey, with_key: bool = False,
                  name: str = "ct.test") -> t.Any:
    key = ec.generate_private_key(ec.SECP256R1())
    start = now() - dt.timedelta(minutes=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.signer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
    )
    tbs = builder.sign(ca.signer_key, hashes.SHA256()).tbs_certificate_bytes
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    issuer_hash = hashlib.sha256(ca.signer.public_key().public_bytes(serialization.Encoding.DER, spki)).digest()
    log_id = hashlib.sha256(log_key.public_key().public_bytes(serialization.Encoding.DER, spki)).digest()
    millis = int(time.time() * 1000)
    signed = struct.pack(">BBQH", 0, 0, millis, 1) + issuer_hash + _len(tbs, 3) + b"\x00\x00"
    signature = log_key.sign(signed, ec.ECDSA(hashes.SHA256()))
    sct = b"\x00" + log_id + struct.pack(">Q", millis) + b"\x00\x00" + bytes([4, 3]) + _len(signature, 2)
    value = _der_octet_string(_len(_len(sct, 2), 2))
    cert = builder.add_extension(x509.UnrecognizedExtension(SCT_OID, value), critical=False).sign(
        ca.signer_key, hashes.SHA256())
    return (cert, key) if with_key else cert


def log_list(path: pathlib.Path, key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    entry = {"description": "ghostguard test log", "log_id": base64.b64encode(hashlib.sha256(der).digest()).decode(),
             "key": base64.b64encode(der).decode()}
    path.write_text(json.dumps({"operators": [{"name": "test", "logs": [entry]}]}))
    return str(path)
