# SPDX-License-Identifier: GPL-3.0-or-later
"""Certificate names (plugins/module_utils/_domains.py): A-labels by IDNA 2008 + UTS 46, the names a CA refuses
with the reason, both forms for display, the registered domain by the Public Suffix List, the allowlist."""

from __future__ import annotations

import re
import sys
import typing as t

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils import _deps
from ansible_collections.ghostguard.certs.plugins.module_utils import _domains as names
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import InputError, MissingLibraryError

# ------------------------------------------------------------------------------------------ IDNs and the CA's rules


@pytest.fixture
def hidden(monkeypatch: pytest.MonkeyPatch) -> t.Iterator[t.Callable[[str], None]]:
    """Make a top-level package unimportable for this test (as on a host without it)."""

    def hide(package: str) -> None:
        for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, package, None)  # type: ignore[arg-type]

    _deps.forget()
    monkeypatch.setattr(names, "_PSL", {})
    monkeypatch.setattr(names, "_REGISTERED", {})
    yield hide
    monkeypatch.undo()
    _deps.forget()


@pytest.mark.parametrize(("given", "a_label"), [
    ("bücher.example", "xn--bcher-kva.example"),
    ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
    ("*.Bücher.Example.", "*.xn--bcher-kva.example"),
    ("例え。テスト", "xn--r8jz45g.xn--zckzah"),             # the ideographic full stop is a dot (UTS 46)
    ("\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com", "example.com"),  # fullwidth EXAMPLE: letters map to ASCII (UTS 46)
    ("faß.de", "xn--fa-hia.de"),                          # IDNA 2008: not "fass.de" as IDNA 2003 maps it
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),   # an A-label stays as it is
    ("api.example.com.cn", "api.example.com.cn"),
    ("*.github.io", "*.github.io"),                       # a private-section suffix: the CA decides
])
def test_unicode_names_become_their_a_label(given: str, a_label: str) -> None:
    assert names.name_problem(given) is None
    assert names.to_ascii(given) == a_label
    assert names.ascii_form(given) == a_label


def test_idna_2008_not_pythons_idna_2003_codec() -> None:
    assert "faß.de".encode("idna") == b"fass.de"  # what the built-in codec would have ordered
    assert [names.to_ascii(n) for n in ("faß.de", "FASS.de")] == ["xn--fa-hia.de", "fass.de"]


@pytest.mark.parametrize(("bad", "reason"), [
    ("foo_bar.example.com", "the label 'foo_bar' has an underscore, which CAs refuse in certificate names (use a hyphen)"),
    ("_acme-challenge.example.com", "the label '_acme-challenge' has an underscore"),
    ("bü_cher.example", "the label 'bü_cher' has an underscore"),
    ("a..example.com", "it has an empty label (two dots in a row, or a leading dot)"),
    (".example.com", "it has an empty label"),
    ("example.com..", "it has an empty label"),
    ("a" * 64 + ".example.com", "the label '%s' is 64 characters long (at most 63)" % ("a" * 64)),
    (".".join(["a" * 63] * 4) + ".com", "it is 259 characters long in A-label form (at most 253)"),
    ("*.*.example.com", "a wildcard is allowed only as the whole first label, like *.example.com"),
    ("a.*.example.com", "a wildcard is allowed only as the whole first label"),
    ("shop*.example.com", "a wildcard is allowed only as the whole first label"),
    ("*shop.example.com", "a wildcard is allowed only as the whole first label"),
    ("*", "it needs at least two labels"),
    ("*.com", "a wildcard over the top-level domain 'com'"),
    ("*.com.cn", "a wildcard over com.cn, a public suffix (Public Suffix List)"),
    ("*.co.uk", "a wildcard over co.uk, a public suffix"),
    ("com.cn", "com.cn is a public suffix (Public Suffix List): CAs issue only for names below it, like example.com.cn"),
    ("公司.cn", "xn--55qx5d.cn is a public suffix"),
    ("localhost", "it needs at least two labels, like host.example.com"),
    ("1.2.3", "its last label '3' is all digits, not a top-level domain"),
    ("-web.example.com", "the label '-web' starts or ends with a hyphen"),
    ("ab--cd.example.com", "the label 'ab--cd' has hyphens in the 3rd and 4th places, reserved for A-labels (xn--)"),
    ("xn--zz.example.com", "the label 'xn--zz' is not a valid A-label (IDNA 2008)"),
    ("exa mple.com", "the label 'exa mple' has the character ' '; a DNS name has letters, digits and hyphens only"),
    ("☃.example.com", "the label '☃' has no A-label form (IDNA 2008 with UTS 46 mapping): Codepoint U+2603"),
])
def test_names_a_ca_refuses_are_refused_with_the_reason(bad: str, reason: str) -> None:
    why = names.name_problem(bad)
    assert why is not None and why.startswith("%r is not a DNS name a CA issues for: " % bad), why
    assert reason in why, why
    with pytest.raises(InputError, match=re.escape(reason)) as single:
        names.to_ascii(bad)
    assert single.value.details["name"] == bad


@pytest.mark.parametrize("address", ["192.0.2.1", "2001:db8::1", "[2001:db8::1]", "::1"])
def test_ip_addresses_are_refused_with_the_next_step(address: str) -> None:
    why = names.name_problem(address)
    assert why == "%r is an IP address: certificates here are for DNS names; use a DNS name that resolves to it" % address


def test_the_public_suffix_rule_runs_on_hosts_only_when_the_list_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(names, "_PSL", {})
    assert names.name_problem("com.cn", suffixes=None) is None      # a host re-checking the controller's names
    assert names.name_problem("com.cn", suffixes=False) is None
    assert names.name_problem("foo_bar.example.com", suffixes=None) is not None  # every other rule still holds
    names.load_rules()
    assert "public suffix" in str(names.name_problem("com.cn", suffixes=None))


def test_without_idna_ascii_names_still_work_and_unicode_ones_name_the_library(hidden: t.Callable[[str], None]) -> None:
    hidden("idna")
    assert names.to_ascii("www.example.test", suffixes=None) == "www.example.test"
    assert names.name_problem("xn--bcher-kva.example", suffixes=None) is None   # checked on the controller
    assert names.display("xn--bcher-kva.example") == "xn--bcher-kva.example"
    with pytest.raises(MissingLibraryError) as err:
        names.name_problem("bücher.example", suffixes=None)
    assert err.value.details["missing"] == ["idna"] and "Unicode domain names" in str(err.value)
    assert err.value.details["pip_install"].endswith("install 'idna>=3.0'")


def test_without_the_suffix_list_the_controller_checks_fail_with_the_pip_line(hidden: t.Callable[[str], None]) -> None:
    hidden("publicsuffixlist")
    with pytest.raises(MissingLibraryError) as err:
        names.load_rules()
    assert err.value.details["missing"] == ["publicsuffixlist"]
    with pytest.raises(MissingLibraryError):
        names.registered_domain("api.example.com.cn")
    assert names.name_problem("com.cn", suffixes=None) is None  # a host without it: the controller checked


@pytest.mark.parametrize(("name", "shown"), [
    ("xn--bcher-kva.example", "xn--bcher-kva.example (bücher.example)"),
    ("*.xn--r8jz45g.xn--zckzah", "*.xn--r8jz45g.xn--zckzah (*.例え.テスト)"),
    ("www.example.com", "www.example.com"),
])
def test_display_shows_both_forms_of_an_idn(name: str, shown: str) -> None:
    assert names.display(name) == shown


@pytest.mark.parametrize(("name", "registered"), [
    ("api.example.com.cn", "example.com.cn"),
    ("a.b.example.co.uk", "example.co.uk"),
    ("*.shop.example.com", "example.com"),
    ("www.example.test", "example.test"),       # a TLD not in the list: the default rule (*)
    ("x.user.github.io", "user.github.io"),     # private section: counted as Let's Encrypt counts it
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("bücher.example", "xn--bcher-kva.example"),
    ("com.cn", "com.cn"),                       # a public suffix counts as itself
])
def test_registered_domain_by_the_public_suffix_list(name: str, registered: str) -> None:
    assert names.registered_domain(name) == registered


def test_allowed_domains_compare_in_a_label_form() -> None:
    assert names.allowed("xn--bcher-kva.example", ["bücher.example"])
    assert names.allowed("bücher.example", ["xn--bcher-kva.example"])
    assert names.allowed("www.xn--bcher-kva.example", ["*.bücher.example"])
    assert not names.allowed("www.xn--bcher-kva.example", ["*.buecher.example"])
    assert names.allowed("shop-ä.example", ["shop-*.example"]) is False  # the pattern matches A-labels only
