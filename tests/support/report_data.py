# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run reports made in code for the tests of the HTML report (plugins/module_utils/_fleet/run_html.py): a renew.yml
run with every outcome (failed, rolled back, a ghost, deferred, stopped, renewed, repaired, unchanged), a
canary and batches with timings, CAs and orders, and a host and a certificate whose names carry markup."""

from __future__ import annotations

import typing as t

from renew_data import NOW, described, host

from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import inventory as _inventory
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import ledger as _ledger
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import plan as _plan
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import renew_report as _renew_report
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import rollback_report as _rollback_report

HOSTILE = "<script>console.error('xss')</script><img src=x onerror=\"console.error('xss2')\">"
EVIL_HOST = "evil-" + HOSTILE
LONG_FP = ":".join("%02x" % i for i in range(32))
OTHER_FP = ":".join("%02x" % (255 - i) for i in range(32))
ORDER_URL = "https://acme.test/acme/order/" + "f" * 60
START = _ledger.parse_epoch("2026-11-29T12:00:00Z")


def _stamp(offset: float) -> str:
    from ansible_collections.ghostguard.certs.plugins.module_utils import _time

    return _time.stamp(START + offset)


def converged(name: str, outcome: str, at: float, reason: str, fingerprint: str = LONG_FP,
              **extra: t.Any) -> dict[str, t.Any]:
    """A converge result row, as the module returns it, started *at* seconds after the roll's start."""
    timings = {"install": 0.25, "reload": 0.5, "proof": 1.0}
    return {"name": name, "outcome": outcome, "reason": reason, "fingerprint": fingerprint, "proved": outcome == "renewed",
            "not_after": "2027-02-27T12:00:00Z", "timings": timings, "states": extra.pop("states", ["critical"]),
            "started_at": _stamp(at), "finished_at": _stamp(at + 1.8), "key_content": "SECRET-KEY", **extra}


def renew_report(hosts_count: int = 8) -> dict[str, t.Any]:
    """A renew.yml report over *hosts_count* due hosts (one with markup in its name), one idle host and one
    deferred name set; canary 1, batches of 3."""
    names = ["edge-%d" % i for i in range(1, hosts_count)]
    names.insert(2, EVIL_HOST)
    hosts: dict[str, dict[str, t.Any]] = {}
    for i, name in enumerate([*names, "idle", "later"]):
        domains = ["n%d.example.com" % i, "www.n%d.example.com" % i]
        certs = _inventory.normalize_certificates(name, host([{"name": "web", "domains": domains,
                                                               "reload": {"systemd": "nginx.service"}, "probe": {"port": 443}}]))
        expiry = described(certs[0]["cert_path"], certs[0]["domains"], name != "idle")
        if name == "later":   # due, but far from alert_before: the budget defers it without harm
            expiry.update(status="due", reasons=["renew_window"], not_after="2027-01-20T00:00:00Z")
        hosts[name] = {"certificates": certs, "unreachable": False, "expiry": {"certificates": [expiry]}}
    plan = _plan.build_plan(hosts, {"canary": 1, "batch": 3, "store": "/s", "limits": {"orders_per_3h": len(names)}}, [], NOW)
    roll = plan["roll"]
    outcomes: dict[str, list[dict[str, t.Any]]] = {}
    stories: list[tuple[str, str, dict[str, t.Any]]] = [
        ("renewed", "reloaded, proved on 127.0.0.1:443", {}),
        ("rolled_back", "proof failed after install: 127.0.0.1:8443 serves 00:01... instead of ff:fe...; rolled back",
         {"failure": "proof"}),
        ("repaired", "reloaded, proved on 127.0.0.1:443", {"states": ["ok", "ghost"]}),
        ("failed", "reload failed: " + HOSTILE, {"failure": "reload"}),
    ]
    plain = [h for h in roll[:-2] if h != EVIL_HOST]
    for i, name in enumerate(roll[:-2]):
        outcome, reason, extra = stories[plain.index(name) % len(stories)] if name != EVIL_HOST else ("renewed", HOSTILE, {})
        outcomes[name] = [converged("web", outcome, 3.0 * plan["host_batch"][name] + 0.2 * i, reason, **extra)]
    issued = {o["id"]: {"ok": True, "ordered": True, "not_after": "2027-02-27T12:00:00Z", "order_url": ORDER_URL,
                        "ca": "pebble-" + HOSTILE if i == 0 else "pebble",
                        "tried": [{"ca": "primary", "msg": "the CA at https://primary.test is unreachable"}] if i == 1 else []}
              for i, o in enumerate(plan["orders"])}
    report = _renew_report.build_report(plan, outcomes, issued, generated_at="2026-11-29T12:01:00Z")
    for row in report["rows"]:
        if row["host"] == roll[0]:
            row["ca"] = "primary-ca"
    return report


def rollback_report() -> dict[str, t.Any]:
    """A rollback.yml report: two rollbacks proved, one not proved, one failed host with markup in its name."""
    def moved(outcome: str, at: float, proved: t.Any, **extra: t.Any) -> dict[str, t.Any]:
        row = converged("web", outcome, at, extra.pop("reason", "rolled back from generation 3 to generation 2"),
                        OTHER_FP, from_generation=3, attempted_fingerprint=LONG_FP, generation=2, **extra)
        row["proved"] = proved
        return row

    return _rollback_report.build_rollback_report({
        "edge-1": [moved("rolled_back", 0.0, True)], "edge-2": [moved("rolled_forward", 0.1, True)],
        "edge-3": [moved("rolled_back", 0.2, False, reason="previous certificate NOT proved served")],
        EVIL_HOST: [{"name": HOSTILE, "outcome": "failed", "reason": "unreachable: " + HOSTILE}]},
        generated_at="2026-11-29T12:01:00Z")
