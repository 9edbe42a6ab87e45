# SPDX-License-Identifier: GPL-3.0-or-later
"""The names of an order: normalisation (the CA's rules, module_utils/_domains.py) and the allowed_domains allowlist."""

from __future__ import annotations

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils._acme import names
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import InputError


@pytest.mark.parametrize(("given", "expected"), [
    (["WWW.Example.Test.", "www.example.test"], ["www.example.test"]),
    (["*.example.test", "example.test"], ["*.example.test", "example.test"]),
    (["bücher.example.test"], ["xn--bcher-kva.example.test"]),
    (["", "a.b"], ["a.b"]),
])
def test_normalize_names(given: list[str], expected: list[str]) -> None:
    assert names.normalize_names(given) == expected


@pytest.mark.parametrize("bad", ["foo", "a.*.example.test", "-bad.example.test", "exa mple.test", "a..b"])
def test_normalize_names_rejects(bad: str) -> None:
    with pytest.raises(InputError):
        names.normalize_names([bad])


@pytest.mark.parametrize(("name", "patterns", "ok"), [
    ("example.test", ["example.test"], True),
    ("www.example.test", ["example.test"], False),
    ("www.example.test", ["*.example.test"], True),
    ("a.b.example.test", ["*.example.test"], True),
    ("*.example.test", ["*.example.test"], True),
    ("example.test", ["*.example.test"], False),
    ("evilexample.test", ["*.example.test"], False),
    ("shop-1.example.test", ["shop-*.example.test"], True),
    ("shop.example.test", ["shop-*.example.test"], False),
    ("x.test", [], False),
])
def test_allowed(name: str, patterns: list[str], ok: bool) -> None:
    assert names.allowed(name, patterns) is ok


def test_check_allowed_names_every_refusal() -> None:
    names.check_allowed(["a.example.test"], None)  # unset: everything allowed
    with pytest.raises(InputError, match=r"b\.other\.test, c\.other\.test: not in allowed_domains") as err:
        names.check_allowed(["a.example.test", "b.other.test", "c.other.test"], ["*.example.test"])
    assert err.value.details["refused"] == ["b.other.test", "c.other.test"]


def test_every_refused_name_is_given_at_once() -> None:
    with pytest.raises(InputError) as err:
        names.normalize_names(["ok.example.com", "a_b.example.com", "192.0.2.7", "*.com"])
    assert err.value.details["refused"] == ["a_b.example.com", "192.0.2.7", "*.com"]
    assert str(err.value) == (
        "'a_b.example.com' is not a DNS name a CA issues for: the label 'a_b' has an underscore, which CAs refuse in "
        "certificate names (use a hyphen); '192.0.2.7' is an IP address: certificates here are for DNS names; use a DNS "
        "name that resolves to it; '*.com' is not a DNS name a CA issues for: a wildcard over the top-level domain 'com'; "
        "CAs issue only below a registered domain. No ACME or DNS request was made; fix the names")
