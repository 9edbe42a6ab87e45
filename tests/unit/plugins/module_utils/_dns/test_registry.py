# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The DNS provider registry: one dns_provider check, typed settings, and acme_dns01's docs equal to it."""

from __future__ import annotations

import ast
import dataclasses
import pathlib
import typing as t

import pytest
import yaml

from ansible_collections.ghostguard.certs.plugins.module_utils._dns import registry
from ansible_collections.ghostguard.certs.plugins.module_utils._dns.alidns import AlidnsProvider, AlidnsSettings
from ansible_collections.ghostguard.certs.plugins.module_utils._dns.rfc2136 import Rfc2136Provider, Rfc2136Settings
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import InputError

MODULE = pathlib.Path(__file__).resolve().parents[5] / "plugins" / "modules" / "acme_dns01.py"


def _documentation() -> dict[str, t.Any]:
    """acme_dns01's DOCUMENTATION, read from the file (as ansible-doc does, without running the module)."""
    tree = ast.parse(MODULE.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(n, "id", None) == "DOCUMENTATION" for n in node.targets):
            doc: dict[str, t.Any] = yaml.safe_load(t.cast(ast.Constant, node.value).value)
            return doc
    raise AssertionError("acme_dns01 has no DOCUMENTATION")


def test_registered_names() -> None:
    assert registry.PROVIDER_NAMES == ("alidns", "rfc2136")
    assert {"alidns": AlidnsProvider, "rfc2136": Rfc2136Provider} == registry.PROVIDERS
    assert registry.libraries("alidns") == ("aliyun",)
    assert registry.libraries("rfc2136") == ("dnspython",)


@pytest.mark.parametrize("name", [None, "", "route53", "ALIDNS", 3])
def test_the_one_dns_provider_check(name: t.Any) -> None:
    with pytest.raises(InputError, match=r"dns_provider must be one of alidns, rfc2136 \(got "):
        registry.provider_class(name)
    with pytest.raises(InputError, match="dns_provider must be one of"):
        registry.make_provider(name, {}, None)


def test_module_docs_match_the_registry() -> None:
    options = _documentation()["options"]
    assert options["dns_provider"]["choices"] == list(registry.PROVIDER_NAMES)
    assert options["dns_provider"]["required"] is True
    for name in registry.PROVIDER_NAMES:
        documented = options[name]["suboptions"]
        spec = registry.provider_options(name)
        assert list(documented) == list(spec), name  # same options, same order
        for option, entry in spec.items():
            doc = documented[option]
            where = "%s.%s" % (name, option)
            assert doc["type"] == entry["type"], where
            assert doc.get("default") == entry.get("default"), where
            assert bool(doc.get("required")) == bool(entry.get("required")), where
            assert doc.get("choices") == entry.get("choices"), where
            if entry.get("no_log"):
                assert "Never logged" in str(doc["description"]), where


def test_module_argument_spec_comes_from_the_registry() -> None:
    from ansible_collections.ghostguard.certs.plugins.modules import acme_dns01

    spec = acme_dns01.argument_spec()
    for key, value in registry.argument_spec().items():
        assert spec[key] == value


def test_defaults_live_in_the_settings() -> None:
    assert registry.provider_options("alidns") == {
        "access_key_id": {"type": "str", "required": True, "no_log": False},
        "access_key_secret": {"type": "str", "required": True, "no_log": True},
        "region": {"type": "str", "default": "cn-hangzhou"},
        "endpoint": {"type": "str", "default": "alidns.aliyuncs.com"},
        "protocol": {"type": "str", "default": "https", "choices": ["https", "http"]},
        "ttl": {"type": "int", "default": 600},
    }
    rfc = registry.provider_options("rfc2136")
    assert rfc["ttl"] == {"type": "int", "default": 60}
    assert rfc["port"] == {"type": "int"}
    assert rfc["key_secret"] == {"type": "str", "no_log": True}
    assert rfc["key_algorithm"]["default"] == "hmac-sha256"


def test_settings_from_plain_values() -> None:
    settings = registry.settings_from("alidns", {"access_key_id": "id", "access_key_secret": "s3cret", "ttl": "900",
                                                 "region": None})
    assert settings == AlidnsSettings(access_key_id="id", access_key_secret="s3cret", ttl=900)
    assert settings.region == "cn-hangzhou" and settings.protocol == "https"
    assert "s3cret" not in repr(settings)  # secrets stay out of repr (logs, tracebacks)
    rfc = registry.settings_from("rfc2136", {"server": "127.0.0.1", "port": 5353, "key_secret": "c2VjcmV0"})
    assert rfc == Rfc2136Settings(server="127.0.0.1", port=5353, key_secret="c2VjcmV0")
    assert "c2VjcmV0" not in repr(rfc)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rfc.ttl = 5  # type: ignore[misc]


@pytest.mark.parametrize(("name", "values", "message"), [
    ("alidns", {"access_key_id": "a", "access_key_secret": "b", "tll": 600}, "alidns has no option tll; known options: "),
    ("rfc2136", {"server": "x", "port": "fifty-three"}, "rfc2136.port must be an integer (got 'fifty-three')"),
    ("alidns", {"access_key_id": "a", "access_key_secret": "b", "ttl": [600]}, "alidns.ttl must be an integer"),
])
def test_settings_from_refuses(name: str, values: dict[str, t.Any], message: str) -> None:
    with pytest.raises(InputError) as info:
        registry.settings_from(name, values)
    assert message in str(info.value)


def test_make_provider_from_mapping_or_settings() -> None:
    provider = registry.make_provider("rfc2136", {"server": "127.0.0.1:5353", "key_name": "k", "key_secret": "c2VjcmV0"},
                                      deadline=123.0)
    assert isinstance(provider, Rfc2136Provider)
    assert str(provider.server) == "127.0.0.1:5353" and provider.ttl == 60 and provider.deadline == 123.0
    same = registry.make_provider("rfc2136", Rfc2136Settings(server="127.0.0.1", port=5353, ttl=30))
    assert isinstance(same, Rfc2136Provider) and str(same.server) == "127.0.0.1:5353" and same.ttl == 30
    ali = registry.make_provider("alidns", {"access_key_id": "LTAIx", "access_key_secret": "s"}, deadline=1.0)
    assert isinstance(ali, AlidnsProvider)
    assert (ali.region, ali.endpoint, ali.protocol, ali.ttl) == ("cn-hangzhou", "alidns.aliyuncs.com", "https", 600)


@pytest.mark.parametrize(("name", "values", "message"), [
    ("alidns", {"access_key_id": "LTAIx"}, "alidns.access_key_id and alidns.access_key_secret are required"),
    ("alidns", {"access_key_id": "a", "access_key_secret": "b", "protocol": "ftp"}, "alidns.protocol must be https or http"),
    ("rfc2136", {}, "rfc2136.server is required"),
    ("rfc2136", {"server": "ns1", "key_name": "k"}, "rfc2136.key_secret is required with rfc2136.key_name"),
    ("rfc2136", {"server": "ns1", "key_algorithm": "hmac-md4"}, "rfc2136.key_algorithm 'hmac-md4' is not one of"),
    ("rfc2136", {"server": "ns1", "key_name": "k", "key_secret": "abc"}, "is not valid base64"),
])
def test_providers_check_their_settings(name: str, values: dict[str, t.Any], message: str) -> None:
    with pytest.raises(InputError) as info:
        registry.make_provider(name, values)
    assert message in str(info.value)


@pytest.mark.parametrize("name", registry.PROVIDER_NAMES)
def test_every_field_is_specified_and_secrets_stay_out_of_repr(name: str) -> None:
    for field in dataclasses.fields(registry.provider_class(name).SETTINGS):
        assert field.metadata["type"] in ("str", "int"), field.name
        if "secret" in field.name:
            assert field.metadata["no_log"] is True, field.name
        if field.metadata["no_log"]:
            assert field.repr is False, field.name
        if field.metadata["required"]:
            assert field.default == "", field.name  # checked by the provider, never a usable default
