# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The run variables (plugins/module_utils/_fleet/run_vars.py): a typo never changes what runs."""

from __future__ import annotations

import os
import re
import typing as t

import pytest
import yaml
from renew_data import cert, described, fleet, host

from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import inventory as _inventory
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import plan as _plan
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import run_vars as _run_vars

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".."))


def test_the_known_variables_are_the_roles_options_and_the_playbooks_variables() -> None:
    with open(os.path.join(ROOT, "roles", "certwatch", "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    assert sorted(_run_vars.CERTWATCH_VARS) == sorted(options)
    documented = set()
    for name in ("renew.yml", "rollback.yml"):
        with open(os.path.join(ROOT, "playbooks", name), encoding="utf-8") as handle:
            header = "".join(line for line in handle if line.startswith("#"))
        documented |= set(re.findall(r"\b((?:renew|rollback)_[a-z0-9_]*[a-z0-9])\b", header))
    # "renew_probe_* and renew_watch_*", the renew_orders module, vars/renew_proof.yml
    documented -= {"renew_probe", "renew_watch", "renew_orders", "renew_proof"}
    assert documented == set(_run_vars.RENEW_VARS + _run_vars.ROLLBACK_VARS)
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    assert [v for v in _run_vars.RENEW_VARS + _run_vars.ROLLBACK_VARS if v not in readme] == []


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["renew_dryrun"], "renew_dryrun (set for every host of the run (extra vars or group_vars/all?)): unknown "
                           "variable; did you mean renew_dry_run?"),
        (["renew_bacth"], "did you mean renew_batch?"),
        (["certwatch_certificate"], "did you mean certwatch_certificates?"),
        (["rollback_name"], "did you mean rollback_names?"),
        (["renew_zzz"], "renew_zzz (set for every host of the run (extra vars or group_vars/all?)): unknown variable; "
                        "the renew_* variables are: renew_hosts, renew_names,"),
        (["renew_plan"], "renew_plan (set for every host of the run (extra vars or group_vars/all?)): renew.yml and "
                         "rollback.yml set this variable themselves"),
    ],
)
def test_unknown_variables(names: list[str], message: str) -> None:
    problems = _run_vars.unknown_variables({"a": [*names, "ansible_host"], "b": names})
    assert len(problems) == 1 and message in problems[0], problems


def test_known_and_internal_role_variables_pass() -> None:
    names = [*_run_vars.KNOWN, "certwatch__agent", "renewal_window", "my_renew_thing", "ansible_connection"]
    assert _run_vars.unknown_variables({"a": names}) == []


def test_unknown_variables_name_the_hosts() -> None:
    hosts = {"h%d" % i: ["certwatch_certs"] if i < 5 else [] for i in range(8)}
    (problem,) = _run_vars.unknown_variables(hosts)
    assert problem.startswith("certwatch_certs (set for hosts h0, h1, h2 and 2 more): unknown variable")
    assert _run_vars.unknown_variables({"h0": ["certwatch_certs"], "h1": []})[0].startswith(
        "certwatch_certs (set for host h0)")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"canary": -1}, "renew_canary: must be a number of hosts"),
        ({"batch": "lots"}, "renew_batch: must be a number of hosts or a percentage"),
        ({"max_fail_percentage": 150}, "renew_max_fail_percentage: must be a number from 0 to 100"),
        ({"limits": {"per_week": 3}}, "renew_limits: unknown key 'per_week'"),
        ({"limits": {"orders_per_3h": "many"}}, "renew_limits.orders_per_3h: must be a whole number"),
        ({"dry_run": "maybe"}, "renew_dry_run: must be true or false, got 'maybe'"),
        ({"force": "sure"}, "renew_force: must be true or false, got 'sure'"),
        ({"store_host": "store*"}, "renew_store_host: must be the name of one host (the host that holds the order "
                                   "ledger, the lock and the shared keys), not a pattern or a list, got 'store*'"),
        ({"store_host": ["s1", "s2"]}, "renew_store_host: must be the name of one host"),
        ({"store_host": ""}, "renew_store_host: must be the name of one host"),
        ({"store_host": "store1", "host_keys": True}, "renew_store_host and renew_host_keys=true do not go together"),
    ],
)
def test_run_variable_mistakes(options: dict[str, t.Any], message: str) -> None:
    assert any(message in p for p in _run_vars.validate_run(options))


def test_names_that_match_no_certificate() -> None:
    certs = {"a": [{"name": "api"}], "b": [{"name": "edge"}]}
    assert _run_vars.unmatched_names("renew_names", ["api"], certs) == []
    assert _run_vars.unmatched_names("renew_names", None, certs) == []
    (problem,) = _run_vars.unmatched_names("rollback_names", ["api", "edgee", "zzz"], certs)
    assert problem == ("rollback_names: edgee, zzz matches no certificate of the 2 host(s) of this run (their "
                       "certificates: api, edge; did you mean edge instead of edgee?); nothing was changed")


def test_key_types() -> None:
    assert _run_vars.key_type_problems("a", host([])) == []
    (problem,) = _run_vars.key_type_problems("a", host([], certwatch_acme={"directory": "x", "key_type": "rsa2048"}))
    assert "host a, field certwatch_acme.key_type: 'rsa2048' is not a key type" in problem
    assert "(did you mean rsa-2048?)" in problem
    hosts = {
        "r1": host([cert("api", "api.example.com")], certwatch_acme={"directory": "x", "key_type": "rsa-2048"}),
        "r2": host([cert("api", "API.example.com.")], certwatch_acme={"directory": "x", "key_type": "ec-p384"}),
        "r3": host([cert("api", "api.example.com")]),
        "own": host([cert("own", "own.example.com")], certwatch_acme={"directory": "x", "key_type": "rsa-4096"}),
        "agent": host([cert("api", "api.example.com", issue_on="host")]),
    }
    members = _run_vars.members(hosts)
    assert members["api.example.com"]["hosts"] == ["r1", "r2", "r3"]   # the agent's own order is not a member
    (problem,) = _run_vars.key_type_conflicts(members)
    assert problem.startswith("name set api.example.com: its hosts disagree on certwatch_acme.key_type (r3 asks for "
                              "ec-p256; r2 asks for ec-p384; r1 asks for rsa-2048)")
    same = {"x": {"hosts": ["a", "b"], "key_types": {"a": "ec-p256", "b": "ec-p256"}}}
    assert _run_vars.key_type_conflicts(same) == []


def test_a_limited_run_orders_a_shared_set_with_its_shared_key() -> None:
    hosts = fleet({"api-1": True, "api-2": True, "solo": True, "idle": False})
    members = _run_vars.members({h: host([cert(c["name"], *c["domains"]) for c in d["certificates"]])
                                 for h, d in hosts.items()})
    limited = {"api-1": hosts["api-1"], "solo": hosts["solo"]}
    before = _plan.build_plan(limited, {"canary": 0, "batch": 5})
    assert {o["set"]: o["mode"] for o in before["orders"]}["api.example.com"] == "host_key"   # what --limit did
    plan = _plan.build_plan(limited, {"canary": 0, "batch": 5}, members=members)
    modes = {o["set"]: (o["mode"], o["hosts"]) for o in plan["orders"]}
    assert modes == {"api.example.com": ("shared_key", ["api-1"]),
                     "solo.example.com,www.solo.example.com": ("host_key", ["solo"])}
    (entry,) = [s for s in plan["sets"] if s["set"] == "api.example.com"]
    assert entry["members"] == ["api-1", "api-2"] and entry["outside"] == ["api-2"]
    assert "api-1 (not in this run: api-2)" in _plan.plan_table(plan)
    assert plan["roll"] == ["api-1", "solo"]


def test_an_unreachable_replica_keeps_its_set_shared() -> None:
    certs = _inventory.normalize_certificates("api-1", host([cert("api", "api.example.com")]))
    hosts = {
        "api-1": {"certificates": certs, "unreachable": False,
                  "expiry": {"certificates": [described(certs[0]["cert_path"], certs[0]["domains"], True)]}},
        "api-2": {"certificates": certs, "unreachable": True, "msg": "ssh: connection refused"},
    }
    plan = _plan.build_plan(hosts, {"canary": 0, "batch": 5})
    (order,) = plan["orders"]
    assert order["mode"] == "shared_key" and order["hosts"] == ["api-1"]
    assert plan["sets"][0]["outside"] == ["api-2"]


@pytest.mark.parametrize("host", ["store1", "store-1.example.com", "10.0.0.5", "localhost"])
def test_a_store_host_name_passes(host: str) -> None:
    assert _run_vars.validate_run({"store_host": host, "host_keys": False}) == []
    assert _run_vars.validate_run({"store_host": None, "host_keys": True}) == []
