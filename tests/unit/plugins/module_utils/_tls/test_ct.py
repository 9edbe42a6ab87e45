# SPDX-License-Identifier: GPL-3.0-or-later
"""CT log lists and embedded SCTs (plugins/module_utils/_tls/ct.py)."""

from __future__ import annotations

import base64
import json
import pathlib

import pytest
from certgen import TestCA
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from ct_lab import cert_with_sct, log_list

from ansible_collections.ghostguard.certs.plugins.module_utils._errors import InputError
from ansible_collections.ghostguard.certs.plugins.module_utils._tls import ct as _ct


def test_sct_parsed_and_verified(tmp_path: pathlib.Path) -> None:
    ca = TestCA("ct root")
    log_key = ec.generate_private_key(ec.SECP256R1())
    leaf = cert_with_sct(ca, log_key)
    plain = _ct.describe_scts(leaf, ca.signer)
    assert len(plain) == 1
    assert plain[0]["entry_type"] == "pre_certificate" and plain[0]["signature_valid"] is None
    assert plain[0]["hash_algorithm"] == "sha256"
    logs = _ct.load_log_list(log_list(tmp_path / "logs.json", log_key))
    checked = _ct.describe_scts(leaf, ca.signer, logs)
    assert checked[0]["signature_valid"] is True
    assert checked[0]["log_description"] == "ghostguard test log"
    wrong_issuer = TestCA("not the issuer").signer
    assert _ct.describe_scts(leaf, wrong_issuer, logs)[0]["signature_valid"] is False


def test_log_list_errors(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(InputError, match="cannot be read as JSON"):
        _ct.load_log_list(str(bad))
    bad.write_text(json.dumps({"logs": [{"key": "!!"}]}))
    with pytest.raises(InputError, match="no usable log"):
        _ct.load_log_list(str(bad))


def test_log_list_v3_operators_and_log_id(tmp_path: pathlib.Path) -> None:
    """Chrome's v3 layout (logs under operators), an explicit log_id, and unusable entries skipped."""
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    path = tmp_path / "v3.json"
    path.write_text(json.dumps({"operators": [{"name": "op", "logs": [
        {"description": "given id", "key": base64.b64encode(der).decode(), "log_id": base64.b64encode(b"x" * 32).decode()},
        {"description": "no key"},
    ]}]}))
    logs = _ct.load_log_list(str(path))
    assert list(logs) == [b"x" * 32] and logs[b"x" * 32].description == "given id"


def test_sct_of_an_unknown_log_is_listed_unverified(tmp_path: pathlib.Path) -> None:
    ca = TestCA("ct unknown log root")
    leaf = cert_with_sct(ca, ec.generate_private_key(ec.SECP256R1()))
    other_log = _ct.load_log_list(log_list(tmp_path / "logs.json", ec.generate_private_key(ec.SECP256R1())))
    (entry,) = _ct.describe_scts(leaf, ca.signer, other_log)
    assert entry["log_description"] is None and entry["signature_valid"] is None
    assert entry["timestamp"].endswith("Z") and len(base64.b64decode(entry["log_id"])) == 32
    # without the issuer no signature can be checked, whatever the logs
    assert _ct.describe_scts(leaf, None, other_log)[0]["signature_valid"] is None


def test_certificate_without_scts() -> None:
    ca = TestCA("ct none root")
    assert _ct.describe_scts(ca.issue(["plain.test"]).cert, ca.signer) == []
