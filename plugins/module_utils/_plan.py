# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet plan of renew.yml: one entry per distinct name set, the batches (as Ansible's serial
makes them), and the rate-limit verdict; plain Python (the filters in plugins/filter/plan.py call it).

    plan = build_plan(hosts, options, ledger_entries)     # hosts: normalised certificates + expiry_info results
    print(plan_table(plan))
"""

from __future__ import annotations

import os
import re
import time
import typing as t

from ._inventory import set_slug
from ._ledger import budget, iso
from ._renew_report import table

_PERCENT_RE = re.compile(r"^\s*(\d+(\.\d+)?)\s*%\s*$")

# ----------------------------------------------------------------------------- batches


def _count(spec: t.Any, total: int) -> int:
    """A serial value as Ansible resolves it: a number, or a percentage of *total* (at least 1)."""
    if isinstance(spec, str):
        match = _PERCENT_RE.match(spec)
        if match:
            return int(float(match.group(1)) / 100.0 * total) or 1
        return int(spec)
    return int(spec)


def serial_list(canary: int, batch: t.Any) -> list[t.Any]:
    """The play's ``serial`` list: the canary batch (when > 0), then the batch size."""
    return ([canary] if canary > 0 else []) + [batch]


def batches(hosts: t.Sequence[str], canary: int, batch: t.Any) -> list[list[str]]:
    """Split *hosts* the way ``serial: serial_list(canary, batch)`` does."""
    specs = serial_list(canary, batch)
    out: list[list[str]] = []
    rest = list(hosts)
    index = 0
    while rest:
        size = _count(specs[min(index, len(specs) - 1)], len(hosts))
        if size <= 0:
            size = len(rest)
        out.append(rest[:size])
        rest = rest[size:]
        index += 1
    return out


# ----------------------------------------------------------------------------- the plan


def _expiry_index(result: t.Mapping[str, t.Any] | None) -> tuple[dict[str, t.Any], dict[str, str]]:
    certs: dict[str, t.Any] = {}
    errors: dict[str, str] = {}
    if not result:
        return certs, errors
    for desc in result.get("certificates") or []:
        certs[desc.get("path")] = desc
    for err in result.get("errors") or []:
        errors[err.get("path")] = err.get("error", "unreadable")
    return certs, errors


def _why(cert: t.Mapping[str, t.Any], certs: t.Mapping[str, t.Any], errors: t.Mapping[str, str],
         force: bool) -> tuple[bool, str, dict[str, t.Any] | None]:
    """(due, why, description) of one certificate from its host's expiry_info result."""
    desc = certs.get(cert["cert_path"])
    if force:
        return True, "forced", desc
    if desc is None:
        error = errors.get(cert["cert_path"], "not found")
        return True, "missing or unreadable (%s)" % error, None
    names = {s[4:].lower() for s in desc.get("sans", []) if str(s).startswith("DNS:")}
    if names and names != set(cert["domains"]):
        return True, "names changed", desc
    if desc.get("due") or desc.get("status") in ("expired", "critical", "invalid", "not_yet_valid"):
        reasons = ",".join(desc.get("reasons") or []) or desc.get("status", "due")
        return True, "%s, not_after %s" % (reasons, desc.get("not_after")), desc
    return False, "ok until %s (renew at %s)" % (desc.get("not_after"), desc.get("renew_at")), desc


def build_plan(hosts: t.Mapping[str, t.Mapping[str, t.Any]], options: t.Mapping[str, t.Any],
               ledger: t.Sequence[t.Mapping[str, t.Any]] = (), now: float | None = None) -> dict[str, t.Any]:
    """Plan one run.

    *hosts* maps host name (in inventory order) to ``{"certificates": normalize_certificates(...),
    "expiry": expiry_info result, "unreachable": bool}``; *options*: ``names``, ``force``,
    ``key_per_host``, ``host_keys`` (default true: a name set held by one host gets its key on that host;
    false: every key is made on the controller, as AWX job slicing needs), ``canary``, ``batch``, ``limits``,
    ``store``.
    """
    now = time.time() if now is None else now
    only = set(options.get("names") or [])
    force = bool(options.get("force"))
    per_host = bool(options.get("key_per_host"))
    host_keys = options.get("host_keys", True) is not False
    store = str(options.get("store") or ".")
    skipped: list[dict[str, t.Any]] = []
    sets: dict[str, dict[str, t.Any]] = {}
    for host, data in hosts.items():
        certs, errors = _expiry_index(data.get("expiry"))
        for cert in data.get("certificates") or []:
            if only and cert["name"] not in only:
                continue
            if cert["issue_on"] != "controller":
                skipped.append({"host": host, "name": cert["name"], "domains": cert["domains"],
                                "reason": "issue_on: host (renewed by the certwatch agent)"})
                continue
            if data.get("unreachable"):
                skipped.append({"host": host, "name": cert["name"], "domains": cert["domains"],
                                "reason": "unreachable: %s" % data.get("msg", "no connection")})
                continue
            due, why, desc = _why(cert, certs, errors, force)
            entry = sets.setdefault(cert["set"], {"set": cert["set"], "domains": cert["domains"], "holders": [],
                                                  "due": False, "why": []})
            entry["holders"].append({"host": host, "name": cert["name"], "due": due, "why": why,
                                     "fingerprint": (desc or {}).get("fingerprint_sha256"),
                                     "not_after": (desc or {}).get("not_after")})
            if due:
                entry["due"] = True
                entry["why"].append("%s/%s: %s" % (host, cert["name"], why))
    orders: list[dict[str, t.Any]] = []
    deploys: dict[str, list[dict[str, t.Any]]] = {}
    unchanged: list[dict[str, t.Any]] = []
    for key in sorted(sets):
        entry = sets[key]
        holders = entry["holders"]
        if not entry["due"]:
            entry["mode"] = "none"
            unchanged.extend({"host": h["host"], "name": h["name"], "domains": entry["domains"],
                              "not_after": h["not_after"], "why": h["why"]} for h in holders)
            continue
        single = len(holders) == 1
        if per_host:
            entry["mode"] = "per_host"
        elif single and host_keys:
            entry["mode"] = "host_key"
        else:
            entry["mode"] = "shared_key"
        if entry["mode"] == "shared_key":
            order_ids = ["set:" + key]
            orders.append({"id": order_ids[0], "set": key, "domains": entry["domains"], "mode": "shared_key",
                           "hosts": [h["host"] for h in holders], "source_host": holders[0]["host"],
                           "store": os.path.join(store, "sets", set_slug(key)), "force": force})
            for holder in holders:
                deploys.setdefault(holder["host"], []).append({"name": holder["name"], "order": order_ids[0],
                                                               "mode": "shared_key"})
        else:
            for holder in holders:
                oid = "host:%s:%s" % (holder["host"], holder["name"])
                orders.append({"id": oid, "set": key, "domains": entry["domains"], "mode": entry["mode"],
                               "hosts": [holder["host"]], "host": holder["host"], "name": holder["name"],
                               "source_host": holder["host"],
                               "store": os.path.join(store, "hosts", holder["host"], holder["name"]),
                               "force": force or entry["mode"] == "host_key"})
                deploys.setdefault(holder["host"], []).append({"name": holder["name"], "order": oid,
                                                               "mode": entry["mode"]})
    canary = int(options.get("canary", 1))
    batch = options.get("batch", "25%")
    roll = [h for h in hosts if h in deploys]
    plan_batches = batches(roll, canary, batch)
    host_batch = {h: i + 1 for i, b in enumerate(plan_batches) for h in b}
    for entry in sets.values():
        entry["batches"] = sorted({host_batch[h["host"]] for h in entry["holders"] if h["host"] in host_batch})
    verdict = budget([o["domains"] for o in orders], ledger, options.get("limits"), now)
    return {
        "generated_at": iso(now),
        "sets": [sets[k] for k in sorted(sets)],
        "orders": orders,
        "deploys": deploys,
        "roll": roll,
        "batches": plan_batches,
        "host_batch": host_batch,
        "serial": serial_list(canary, batch),
        "unchanged": unchanged,
        "skipped": skipped,
        "budget": verdict,
        "summary": {"name_sets": len(sets), "due_sets": sum(1 for s in sets.values() if s["due"]),
                    "orders": len(orders), "hosts_to_roll": len(roll), "batches": len(plan_batches),
                    "skipped": len(skipped)},
    }


def plan_table(plan: t.Mapping[str, t.Any]) -> str:
    """The plan as text: one row per name set (hosts, why due, batch), then the budget verdict."""
    rows: list[tuple[str, ...]] = [("NAME SET", "HOSTS", "ACTION", "BATCH", "WHY")]
    for entry in plan["sets"]:
        hosts = ",".join(sorted({h["host"] for h in entry["holders"]}))
        action = {"none": "unchanged", "shared_key": "1 order, shared key", "host_key": "1 order, key on host",
                  "per_host": "%d orders, key per host" % len(entry["holders"])}[entry["mode"]]
        why = "; ".join(entry["why"]) if entry["due"] else entry["holders"][0]["why"]
        batches_ = ",".join(str(b) for b in entry.get("batches", [])) or "-"
        rows.append((entry["set"], hosts, action, batches_, why))
    lines = table(rows)
    for skip in plan["skipped"]:
        lines.append("skipped: %s/%s (%s)" % (skip["host"], skip["name"], skip["reason"]))
    summary = plan["summary"]
    lines.append("%d name sets, %d due, %d orders, %d hosts to roll in %d batches %s"
                 % (summary["name_sets"], summary["due_sets"], summary["orders"], summary["hosts_to_roll"],
                    summary["batches"], " | ".join("[%s]" % ",".join(b) for b in plan["batches"])))
    verdict = plan["budget"]
    if verdict["ok"]:
        lines.append("rate limits: ok (%s)" % ", ".join(
            "%s %s %d+%d/%d" % (c["limit"], c["scope"], c["used"], c["planned"], c["max"]) for c in verdict["checks"][:4]))
    else:
        lines.append("rate limits: REFUSED - " + "; ".join(verdict["refused"]))
    return "\n".join(lines)
