# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet plan of renew.yml (plugins/module_utils/_plan.py): inventory validation, batches, the
rate-limit budget against the ledger, the issue lock, the plan and the report."""

from __future__ import annotations

import json
import multiprocessing
import os
import pathlib
import time
import typing as t

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils import _errors, _plan

NOW = _plan.parse_time("2026-11-29T12:00:00Z")


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
    ],
)
def test_certificate_mistakes_name_host_certificate_and_field(change: dict[str, t.Any], message: str) -> None:
    entry = cert("api", "api.example.com")
    if "domian" in change:
        del entry["domains"]
    entry.update(change)
    problems = _plan.validate_host("web-1", host([entry]))
    assert any(message in p for p in problems), problems


def test_group_level_mistakes_and_duplicates() -> None:
    hv = host([cert("api", "api.example.com"), cert("api", "api2.example.com")],
              certwatch_dns={"provider": "route53"}, certwatch_acme={"directroy": "x"}, certwatch_cert_dir="tls")
    problems = "\n".join(_plan.validate_host("web-1", hv))
    assert "certificate api, field name: 'api' is used twice" in problems
    assert "host web-1, field certwatch_dns.provider: must be one of alidns, rfc2136, got 'route53'" in problems
    assert "field certwatch_acme: unknown key 'directroy' (did you mean 'directory'?)" in problems
    assert "field certwatch_acme.directory: must be the ACME directory URL" in problems
    assert "field certwatch_cert_dir: must be an absolute directory" in problems


def test_a_valid_host_and_run_have_no_problems() -> None:
    hv = host([cert("api", "api.example.com", probe=[{"port": 443, "alpn": ["h2"]}]),
               cert("local", "x.example.com", issue_on="host", reload={"watch": True})])
    assert _plan.validate_inventory({"web-1": hv}, {"canary": 1, "batch": "25%", "limits": {"orders_per_3h": 10}}) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"canary": -1}, "renew_canary: must be a number of hosts"),
        ({"batch": "lots"}, "renew_batch: must be a number of hosts or a percentage"),
        ({"max_fail_percentage": 150}, "renew_max_fail_percentage: must be a number from 0 to 100"),
        ({"limits": {"per_week": 3}}, "renew_limits: unknown key 'per_week'"),
        ({"limits": {"orders_per_3h": "many"}}, "renew_limits.orders_per_3h: must be a whole number"),
    ],
)
def test_run_variable_mistakes(options: dict[str, t.Any], message: str) -> None:
    assert any(message in p for p in _plan.validate_run(options))


# ------------------------------------------------------------------------------------------ batches


@pytest.mark.parametrize(
    ("count", "canary", "batch", "sizes"),
    [
        (5, 1, 2, [1, 2, 2]),
        (8, 1, "25%", [1, 2, 2, 2, 1]),
        (3, 0, "50%", [1, 1, 1]),
        (10, 2, "100%", [2, 8]),
        (1, 1, "25%", [1]),
        (0, 1, 2, []),
    ],
)
def test_batches_mirror_ansible_serial(count: int, canary: int, batch: t.Any, sizes: list[int]) -> None:
    hosts = ["h%d" % i for i in range(count)]
    got = _plan.batches(hosts, canary, batch)
    assert [len(b) for b in got] == sizes
    assert [h for b in got for h in b] == hosts


# ------------------------------------------------------------------------------------------ budget and ledger


def entry(hours_ago: float, *domains: str, replaces: bool = False) -> dict[str, t.Any]:
    return {"time": _plan.iso(NOW - hours_ago * 3600), "domains": list(domains), "replaces": replaces}


def test_budget_counts_the_ledger_within_each_window_and_exempts_ari_renewals() -> None:
    ledger = [entry(1, "a.example.com")] * 3 + [entry(4, "a.example.com")] + [entry(24 * 8, "a.example.com")] * 9
    ledger += [entry(1, "a.example.com", replaces=True)] * 20
    verdict = _plan.budget([["a.example.com"]], ledger, {"per_name_set_week": 5, "orders_per_3h": 4}, NOW)
    checks = {(c["limit"], c["scope"]): c for c in verdict["checks"]}
    assert checks[("orders_per_3h", "account")]["used"] == 3
    assert checks[("per_name_set_week", "a.example.com")]["used"] == 4
    assert checks[("per_registered_domain_week", "example.com")]["used"] == 4
    assert verdict["ok"] and verdict["exempt_orders_week"] == 20
    over = _plan.budget([["a.example.com"], ["a.example.com"]], ledger, {"per_name_set_week": 5, "orders_per_3h": 4}, NOW)
    assert not over["ok"]
    assert over["refused"] == ["orders_per_3h for account: 3 used + 2 planned > 4 allowed",
                               "per_name_set_week for a.example.com: 4 used + 2 planned > 5 allowed"]


def test_budget_defaults_are_lets_encrypts() -> None:
    verdict = _plan.budget([["x.example.com"]], [], None, NOW)
    assert verdict["limits"] == {"per_registered_domain_week": 50, "per_name_set_week": 5, "orders_per_3h": 300}
    domains = [["n%d.example.com" % i] for i in range(51)]
    refused = _plan.budget(domains, [], None, NOW)
    assert refused["refused"] == ["per_registered_domain_week for example.com: 0 used + 51 planned > 50 allowed"]


def test_ledger_records_under_a_lock_and_forgets_after_a_week(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "store" / "ledger.json")
    assert _plan.load_ledger(path) == []
    old = {"time": _plan.iso(time.time() - 8 * 86400), "domains": ["old.example.com"]}
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as handle:
        json.dump([old], handle)
    kept = _plan.record_orders(path, [{"time": _plan.iso(time.time()), "domains": ["a.example.com"], "replaces": False}])
    assert [e["domains"] for e in kept] == [["a.example.com"]]
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    with open(path, "w") as handle:
        handle.write("{not json")
    with pytest.raises(_errors.InputError, match=r"ledger .* is unreadable"):
        _plan.load_ledger(path)


def _record_many(path: str, worker: int) -> None:
    for i in range(20):
        _plan.record_orders(path, [{"time": _plan.iso(time.time()), "domains": ["w%d-%d.example.com" % (worker, i)]}])


def test_concurrent_slices_lose_no_ledger_entry(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "ledger.json")
    procs = [multiprocessing.Process(target=_record_many, args=(path, w)) for w in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
    assert len(_plan.load_ledger(path)) == 60


def test_issue_lock_waits_for_its_holder_and_takes_over_a_stale_one(tmp_path: pathlib.Path) -> None:
    lock = str(tmp_path / "issue.lock")
    assert _plan.acquire_lock(lock, "slice-1", 1, 3600)["acquired"]
    with pytest.raises(_errors.FileSystemError, match="held by slice-1"):
        _plan.acquire_lock(lock, "slice-2", 0.5, 3600)
    assert not _plan.release_lock(lock, "slice-2") and os.path.exists(lock)
    os.utime(lock, (time.time() - 7200, time.time() - 7200))
    got = _plan.acquire_lock(lock, "slice-2", 1, 3600)
    assert got["broke_stale"] == "slice-1"
    assert _plan.release_lock(lock, "slice-2") and not os.path.exists(lock)


# ------------------------------------------------------------------------------------------ plan and report


def described(path: str, domains: list[str], due: bool) -> dict[str, t.Any]:
    return {"path": path, "sans": ["DNS:" + d for d in domains], "due": due, "status": "critical" if due else "ok",
            "reasons": ["alert_window"] if due else [], "not_after": "2026-12-01T00:00:00Z",
            "renew_at": "2026-11-01T00:00:00Z", "fingerprint_sha256": "aa:bb"}


def fleet(due: dict[str, bool]) -> dict[str, dict[str, t.Any]]:
    spec = {"api-1": ("api", ["api.example.com"]), "api-2": ("api", ["API.example.com."]),
            "solo": ("solo", ["solo.example.com", "www.solo.example.com"]), "idle": ("idle", ["idle.example.com"])}
    out = {}
    for name, (cname, domains) in spec.items():
        certs = _plan.normalize_certificates(name, host([cert(cname, *domains)]))
        out[name] = {"certificates": certs, "unreachable": False,
                     "expiry": {"certificates": [described(certs[0]["cert_path"], certs[0]["domains"], due[name])]}}
    return out


def test_plan_orders_once_per_name_set_and_keeps_single_host_keys_on_the_host() -> None:
    hosts = fleet({"api-1": False, "api-2": True, "solo": True, "idle": False})
    hosts["gone"] = {"certificates": _plan.normalize_certificates("gone", host([cert("api", "api.example.com")])),
                     "unreachable": True, "msg": "ssh: timeout", "expiry": None}
    plan = _plan.build_plan(hosts, {"canary": 1, "batch": 1, "store": "/srv/store"}, [], NOW)
    orders = {o["set"]: o for o in plan["orders"]}
    assert sorted(orders) == ["api.example.com", "solo.example.com,www.solo.example.com"]
    assert orders["api.example.com"]["mode"] == "shared_key" and orders["api.example.com"]["hosts"] == ["api-1", "api-2"]
    assert orders["api.example.com"]["store"].startswith("/srv/store/sets/api.example.com-")
    assert orders["solo.example.com,www.solo.example.com"]["mode"] == "host_key"
    assert plan["roll"] == ["api-1", "api-2", "solo"] and plan["batches"] == [["api-1"], ["api-2"], ["solo"]]
    assert plan["unchanged"][0]["host"] == "idle"
    assert plan["skipped"] == [{"host": "gone", "name": "api", "domains": ["api.example.com"],
                                "reason": "unreachable: ssh: timeout"}]
    table = _plan.plan_table(plan)
    assert "1 order, shared key" in table and "1 order, key on host" in table and "rate limits: ok" in table


def test_key_per_host_orders_per_host_and_nothing_due_orders_nothing() -> None:
    plan = _plan.build_plan(fleet({"api-1": True, "api-2": True, "solo": False, "idle": False}),
                            {"key_per_host": True, "store": "/s"}, [], NOW)
    assert [(o["mode"], o["host"]) for o in plan["orders"]] == [("per_host", "api-1"), ("per_host", "api-2")]
    quiet = _plan.build_plan(fleet(dict.fromkeys(("api-1", "api-2", "solo", "idle"), False)), {"store": "/s"}, [], NOW)
    assert quiet["orders"] == [] and quiet["roll"] == [] and quiet["budget"]["ok"]


def test_report_counts_rescued_hosts_as_failed_and_never_carries_keys() -> None:
    plan = _plan.build_plan(fleet({"api-1": True, "api-2": True, "solo": True, "idle": False}),
                            {"canary": 1, "batch": 1, "store": "/s"}, [], NOW)
    outcomes = {
        "api-1": [{"name": "api", "outcome": "renewed", "reason": "proved", "proved": True, "key_content": "SECRET"}],
        "api-2": [{"name": "api", "outcome": "rolled_back", "reason": "ghost", "previous_served": True}],
    }
    issued = {"set:api.example.com": {"ok": True, "ordered": True},
              "host:solo:solo": {"ok": True, "ordered": True}}
    report = _plan.build_report(plan, outcomes, issued)
    rows = {(r["host"], r["outcome"]) for r in report["rows"]}
    assert rows == {("api-1", "renewed"), ("api-2", "rolled_back"), ("solo", "stopped"), ("idle", "unchanged")}
    assert report["failed_hosts"] == ["api-2"] and not report["ok"] and report["orders_placed"] == 2
    assert "SECRET" not in json.dumps(report)
    assert "ROLLED_BACK  api-2" in _plan.report_table(report)
