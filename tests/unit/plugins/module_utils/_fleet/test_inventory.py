# SPDX-License-Identifier: GPL-3.0-or-later
"""The inventory model (plugins/module_utils/_fleet/inventory.py): every mistake names host, certificate and field."""

from __future__ import annotations

import typing as t

import pytest
from renew_data import cert, host

from ansible_collections.ghostguard.certs.plugins.module_utils import _domains
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import inventory as _inventory

# ------------------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"domian": ["a.example.com"]}, "host web-1, certificate api, field domian: unknown field (did you mean 'domains'?)"),
        ({"domains": "a.example.com"}, "host web-1, certificate api, field domains: must be a non-empty list"),
        ({"domains": ["a.other.org"]}, "field domains: 'a.other.org' is outside certwatch_allowed_domains"),
        ({"domains": ["bad name.example.com"]}, "field domains: 'bad name.example.com' is not a DNS name"),
        ({"reload": {"signal": "HUP"}}, "field reload.pidfile: signal needs the pidfile"),
        ({"reload": {"command": "systemctl reload nginx"}}, "field reload.command: must be a non-empty list"),
        ({"reload": {"systemd": "a", "watch": True}}, "field reload: give exactly one of"),
        ({"probe": {"port": "443"}}, "field probe.port: must be a port number (1-65535), got '443'"),
        ({"probe": [{"port": 443, "alpm": ["h2"]}]}, "field probe: unknown key 'alpm' (did you mean 'alpn'?)"),
        ({"mode": 644}, "field mode: must be an octal string"),
        ({"issue_on": "agent"}, "field issue_on: must be controller or host"),
        ({"cert_path": "relative/cert.pem"}, "field cert_path: must be an absolute path"),
        ({"in_place": "yes"}, "host web-1, certificate api, field in_place: must be true or false"),
    ],
)
def test_certificate_mistakes_name_host_certificate_and_field(change: dict[str, t.Any], message: str) -> None:
    entry = cert("api", "api.example.com")
    if "domian" in change:
        del entry["domains"]
    entry.update(change)
    problems = _inventory.validate_host("web-1", host([entry]))
    assert any(message in p for p in problems), problems


def test_group_level_mistakes_and_duplicates() -> None:
    hv = host([cert("api", "api.example.com"), cert("api", "api2.example.com")],
              certwatch_dns={"provider": "route53"}, certwatch_acme={"directroy": "x"}, certwatch_cert_dir="tls")
    problems = "\n".join(_inventory.validate_host("web-1", hv))
    assert "certificate api, field name: 'api' is used twice" in problems
    assert "host web-1, field certwatch_dns.provider: must be one of alidns, rfc2136, got 'route53'" in problems
    assert "field certwatch_acme: unknown key 'directroy' (did you mean 'directory'?)" in problems
    assert "field certwatch_acme.directory: must be the ACME directory URL" in problems
    assert "field certwatch_cert_dir: must be an absolute directory" in problems


def test_a_valid_host_and_run_have_no_problems() -> None:
    hv = host([cert("api", "api.example.com", probe=[{"port": 443, "alpn": ["h2"]}]),
               cert("local", "x.example.com", issue_on="host", reload={"watch": True}),
               cert("files", "f.example.com", reload={"watch": True}, in_place=True)])
    assert _inventory.validate_inventory({"web-1": hv}, {"canary": 1, "batch": "25%", "limits": {"orders_per_3h": 10}}) == []
    normal = {c["name"]: c for c in _inventory.normalize_certificates("web-1", hv)}
    assert normal["files"]["in_place"] is True and normal["api"]["in_place"] is False
    assert normal["files"]["reload"] == {"watch": True}


# ------------------------------------------------------------------------------------------ names and SNI


def test_an_idn_is_accepted_and_used_as_its_a_label_everywhere() -> None:
    probes = [{"port": 443}, {"port": 8443, "server_name": "www.bücher.example.com"}]
    hv = host([cert("shop", "bücher.example.com", "*.Bücher.example.com", probe=probes)])
    assert _inventory.validate_host("web-1", hv) == []
    normal = _inventory.normalize_certificates("web-1", hv)[0]
    assert normal["domains"] == ["*.xn--bcher-kva.example.com", "xn--bcher-kva.example.com"]
    assert normal["set"] == "*.xn--bcher-kva.example.com,xn--bcher-kva.example.com"
    assert [p["server_name"] for p in normal["probes"]] == ["xn--bcher-kva.example.com", "www.xn--bcher-kva.example.com"]
    assert _inventory.normalize_certificate(normal, "/etc/tls") == normal   # the agent's configuration: idempotent


def test_refused_names_name_host_certificate_field_and_reason() -> None:
    hv = host([cert("api", "api_v2.example.com", "a..example.com", "*.*.example.com", "10.0.0.1", "x" * 64 + ".example.com",
                    "ok.example.com")])
    problems = _inventory.validate_host("web-1", hv)
    where = "host web-1, certificate api, field domains: "
    assert problems == [
        where + "'api_v2.example.com' is not a DNS name a CA issues for: the label 'api_v2' has an underscore, which CAs "
                "refuse in certificate names (use a hyphen)",
        where + "'a..example.com' is not a DNS name a CA issues for: it has an empty label (two dots in a row, or a "
                "leading dot)",
        where + "'*.*.example.com' is not a DNS name a CA issues for: a wildcard is allowed only as the whole first label, "
                "like *.example.com",
        where + "'10.0.0.1' is an IP address: certificates here are for DNS names; use a DNS name that resolves to it",
        where + "'%s.example.com' is not a DNS name a CA issues for: the label '%s' is 64 characters long (at most 63)"
        % ("x" * 64, "x" * 64),
    ]


def test_a_public_suffix_is_refused_where_the_rules_are_loaded() -> None:
    _domains.load_rules()  # the controller's filters do this first
    hv = host([cert("cn", "com.cn", "*.co.uk")], certwatch_allowed_domains=None)
    assert _inventory.validate_host("web-1", hv) == [
        "host web-1, certificate cn, field domains: 'com.cn' is not a DNS name a CA issues for: com.cn is a public suffix "
        "(Public Suffix List): CAs issue only for names below it, like example.com.cn",
        "host web-1, certificate cn, field domains: '*.co.uk' is not a DNS name a CA issues for: a wildcard over co.uk, "
        "a public suffix (Public Suffix List): CAs issue only below a registered domain, like *.example.co.uk"]


def test_allowed_domains_apply_to_the_a_label() -> None:
    hv = host([cert("shop", "bücher.example.org")], certwatch_allowed_domains=["*.example.com"])
    assert _inventory.validate_host("web-1", hv) == [
        "host web-1, certificate shop, field domains: 'bücher.example.org' is outside certwatch_allowed_domains "
        "(*.example.com)"]
    assert _inventory.validate_host("web-1", host([cert("shop", "bücher.example.org")],
                                                  certwatch_allowed_domains=["*.example.org"])) == []


@pytest.mark.parametrize(("domains", "sni"), [
    (["*.example.com", "example.com"], "example.com"),            # a wildcard listed first is never the SNI
    (["*.example.com", "*.b.example.com", "www.b.example.com"], "www.b.example.com"),
    (["*.example.com"], "ghostguard-probe.example.com"),          # wildcards only: a name the first one covers
    (["*.bücher.example.com", "*.example.com"], "ghostguard-probe.xn--bcher-kva.example.com"),
    (["Shop.Example.com.", "example.com"], "shop.example.com"),
])
def test_default_sni_is_never_a_wildcard(domains: list[str], sni: str) -> None:
    hv = host([cert("web", *domains, probe={"port": 443})], certwatch_allowed_domains=["example.com", "*.example.com"])
    assert _inventory.validate_host("web-1", hv) == []
    assert _inventory.normalize_certificates("web-1", hv)[0]["probes"][0]["server_name"] == sni
    assert _inventory.probe_server_name(domains) == sni


def test_a_wildcard_server_name_is_refused() -> None:
    hv = host([cert("web", "*.example.com", probe={"port": 443, "server_name": "*.example.com"})])
    assert _inventory.validate_host("web-1", hv) == [
        "host web-1, certificate web, field probe.server_name: '*.example.com' is a wildcard; give a name it covers"]
