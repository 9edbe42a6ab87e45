# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""renew_select (renew.yml's observe task, rollback.yml): a host's certificates with their defaults, as
inventory_certificates gives them, without loading the Public Suffix List once more on every host."""

from __future__ import annotations

import pytest

from ansible_collections.ghostguard.certs.plugins.filter import inventory as _inventory_filters
from ansible_collections.ghostguard.certs.plugins.filter import plan as _filters
from ansible_collections.ghostguard.certs.plugins.module_utils import _domains

CERTS = [
    {"name": "api", "domains": ["API.example.test.", "*.bücher.example.test"], "probe": {"port": 8443}},
    {"name": "web", "domains": ["www.example.test"], "cert_path": "/srv/web/cert.pem",
     "reload": {"systemd": "nginx"}, "keep": 5},
]


def test_it_fills_in_what_inventory_certificates_fills_in_and_keeps_the_names_asked_for() -> None:
    full = _inventory_filters.inventory_certificates(CERTS, "/etc/tls", "h1")
    assert _filters.renew_select(CERTS, None, "/etc/tls") == full
    assert _filters.renew_select(CERTS, "web", "/etc/tls") == [full[1]]
    assert _filters.renew_select(CERTS, ["api", "nope"], "/etc/tls") == [full[0]]
    assert full[0]["domains"] == ["*.xn--bcher-kva.example.test", "api.example.test"]   # A-labels, sorted
    assert full[1]["cert_path"] == "/srv/web/cert.pem" and full[1]["key_path"] == "/etc/tls/web/privkey.pem"
    assert full[1]["keep"] == 5 and full[0]["probes"][0]["port"] == 8443
    assert _filters.renew_select(full, "api") == [full[0]]          # normalised entries pass through unchanged
    assert _filters.renew_select(None) == []


def test_it_does_not_load_the_public_suffix_list(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: dict[bool, object] = {}
    monkeypatch.setattr(_domains, "_PSL", loaded)
    assert [c["name"] for c in _filters.renew_select(CERTS, None, "/etc/tls")] == ["api", "web"]
    assert loaded == {}
    _inventory_filters.inventory_certificates(CERTS, "/etc/tls", "h1")   # the checks do load it
    assert loaded != {}
