# SPDX-License-Identifier: GPL-3.0-or-later
"""The inventory model (plugins/module_utils/_inventory.py): every mistake names host, certificate and field."""

from __future__ import annotations

import typing as t

import pytest
from renew_data import cert, host

from ansible_collections.ghostguard.certs.plugins.module_utils import _inventory

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
