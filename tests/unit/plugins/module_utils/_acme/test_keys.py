# SPDX-License-Identifier: GPL-3.0-or-later
"""Key generation and CSRs."""

from __future__ import annotations

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._acme import keys
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import InputError


@pytest.mark.parametrize(("key_type", "description"), [("ec-p256", "ec-p256"), ("ec-p384", "ec-p384"), ("rsa-2048", "rsa-2048")])
def test_generate_key(key_type: str, description: str) -> None:
    key = keys.generate_key(key_type)
    assert _x509.key_description(key.public_key()) == description
    assert b"BEGIN PRIVATE KEY" in keys.key_to_pem(key)


def test_unknown_key_type() -> None:
    with pytest.raises(InputError, match="rsa-1024"):
        keys.generate_key("rsa-1024")


def test_csr_roundtrip_pem_and_der() -> None:
    key = keys.generate_key()
    names = ["example.test", "*.example.test", "x" * 60 + ".example.test"]
    der = keys.build_csr(key, names)
    again, found = keys.load_csr(der, "csr")
    assert found == names and again == der
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    pem = x509.load_der_x509_csr(der).public_bytes(serialization.Encoding.PEM)
    assert keys.load_csr(pem, "csr")[1] == names


def test_csr_garbage() -> None:
    with pytest.raises(InputError, match="csr_path /x is not a readable"):
        keys.load_csr(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", "csr_path /x")
