# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The provider base: TXT records, settings field metadata, and the contract every provider keeps."""

from __future__ import annotations

import dataclasses

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils._dns import base, registry


def test_txt_record_public_view_hides_provider_handles() -> None:
    record = base.TxtRecord("_acme-challenge.www.example.test", "token", "example.test", handle="123")
    assert record.public() == {"name": "_acme-challenge.www.example.test", "zone": "example.test"}
    assert record.ours is True


def test_spec_metadata() -> None:
    assert base.spec("str") == {"type": "str", "required": False, "choices": None, "no_log": None}
    assert base.spec("str", required=True, choices=["a", "b"], no_log=True) == {
        "type": "str", "required": True, "choices": ("a", "b"), "no_log": True}


def test_base_is_abstract() -> None:
    with pytest.raises(NotImplementedError):
        base.DNSProvider({})


@pytest.mark.parametrize("name", registry.PROVIDER_NAMES)
def test_every_registered_provider_keeps_the_contract(name: str) -> None:
    cls = registry.provider_class(name)
    assert issubclass(cls, base.DNSProvider) and name == cls.NAME
    assert dataclasses.is_dataclass(cls.SETTINGS)
    assert cls.add_txt is not base.DNSProvider.add_txt and cls.remove_txt is not base.DNSProvider.remove_txt
    for field in dataclasses.fields(cls.SETTINGS):
        assert field.metadata["type"] in ("str", "int", "bool"), field.name
        if field.metadata.get("no_log"):
            assert field.repr is False, "secret %s.%s shows in repr" % (name, field.name)
