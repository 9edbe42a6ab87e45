# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Inventory and expiry data made in code for the unit tests of the renew engine
(_fleet: inventory, ledger, plan, renew_report)."""

from __future__ import annotations

import typing as t

from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import inventory as _inventory
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import ledger as _ledger

NOW = _ledger.parse_epoch("2026-11-29T12:00:00Z")


def host(certs: list[dict[str, t.Any]], **extra: t.Any) -> dict[str, t.Any]:
    hv: dict[str, t.Any] = {
        "certwatch_cert_dir": "/etc/tls",
        "certwatch_acme": {"directory": "https://acme.test/dir", "email": "ops@example.com", "terms_agreed": True},
        "certwatch_dns": {"provider": "rfc2136", "rfc2136": {"server": "ns1.example.com"}},
        "certwatch_allowed_domains": ["*.example.com"],
        "certwatch_certificates": certs,
    }
    hv.update(extra)
    return hv


def cert(name: str, *domains: str, **extra: t.Any) -> dict[str, t.Any]:
    out: dict[str, t.Any] = {"name": name, "domains": list(domains), "reload": {"systemd": "nginx.service"},
                             "probe": {"port": 443}}
    out.update(extra)
    return out


def described(path: str, domains: list[str], due: bool) -> dict[str, t.Any]:
    return {"path": path, "sans": ["DNS:" + d for d in domains], "due": due, "status": "critical" if due else "ok",
            "reasons": ["alert_window"] if due else [], "not_after": "2026-12-01T00:00:00Z",
            "renew_at": "2026-11-01T00:00:00Z", "fingerprint_sha256": "aa:bb"}


def fleet(due: dict[str, bool]) -> dict[str, dict[str, t.Any]]:
    spec = {"api-1": ("api", ["api.example.com"]), "api-2": ("api", ["API.example.com."]),
            "solo": ("solo", ["solo.example.com", "www.solo.example.com"]), "idle": ("idle", ["idle.example.com"])}
    out = {}
    for name, (cname, domains) in spec.items():
        certs = _inventory.normalize_certificates(name, host([cert(cname, *domains)]))
        out[name] = {"certificates": certs, "unreachable": False,
                     "expiry": {"certificates": [described(certs[0]["cert_path"], certs[0]["domains"], due[name])]}}
    return out
