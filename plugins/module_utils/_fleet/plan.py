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

from .._acme import cas as _cas
from .._domains import display
from .inventory import set_slug
from .ledger import epoch_iso, parse_epoch
from .renew_report import table
from .schedule import schedule_per_ca

ALERT_BEFORE = 72 * 3600.0   # the policy's default alert_before
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


def _observed(data: t.Mapping[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    """What the host's observation (``converge`` state=observed) saw, per certificate name; an older
    ``expiry_info`` result is read as an observation without probes or store."""
    if data.get("observed") is not None:
        return {o["name"]: o for o in data["observed"] or []}
    certs, errors = _expiry_index(data.get("expiry"))
    out = {}
    for cert in data.get("certificates") or []:
        desc = certs.get(cert["cert_path"])
        out[cert["name"]] = {"name": cert["name"], "description": desc, "error": errors.get(cert["cert_path"]),
                             "fingerprint": (desc or {}).get("fingerprint_sha256")}
    return out


def _why(cert: t.Mapping[str, t.Any], seen: t.Mapping[str, t.Any] | None, window: t.Mapping[str, t.Any] | None,
         force: bool) -> tuple[bool, str]:
    """(due, why) of one certificate from what its host observed and the CA's ARI window."""
    desc = (seen or {}).get("description")
    if force:
        return True, "forced"
    if desc is None:
        return True, "missing or unreadable (%s)" % ((seen or {}).get("error") or "not found")
    names = {s[4:].lower() for s in desc.get("sans", []) if str(s).startswith("DNS:")}
    if names and names != set(cert["domains"]):
        return True, "names changed"
    if desc.get("status") == "revoked":
        revocation = desc.get("revocation") or {}
        return True, "revoked by its CA (%s %s, revoked %s), not_after %s" % (
            revocation.get("method") or "revocation check", revocation.get("url") or "",
            revocation.get("revocation_time") or "at an unknown time", desc.get("not_after"))
    if desc.get("due") or desc.get("status") in ("expired", "critical", "invalid", "not_yet_valid"):
        reasons = ",".join(desc.get("reasons") or []) or desc.get("status", "due")
        return True, "%s, not_after %s" % (reasons, desc.get("not_after"))
    if window and window.get("due"):
        return True, "ari: the CA's renewal window opened %s" % window.get("start")
    return False, "ok until %s (renew at %s)" % (desc.get("not_after"), desc.get("renew_at"))


def _repair(seen: t.Mapping[str, t.Any] | None) -> str | None:
    """Why a certificate that is not due still needs its host (a ghost, an unproved generation), or None."""
    if not seen:
        return None
    if seen.get("ghost"):
        bad = [p for p in seen.get("probes") or [] if p.get("served_matches") is False]
        where = ", ".join("%s serves %s" % (p.get("endpoint"), str(p.get("served_fingerprint"))[:23]) for p in bad)
        return "ghost: %s; the files hold %s" % (where or "a probe serves another certificate",
                                                 str(seen.get("fingerprint"))[:23])
    if seen.get("unproved"):
        return "unproved: generation %s was installed and never proved" % seen.get("generation")
    return None


def _holders(hosts: t.Mapping[str, t.Mapping[str, t.Any]], options: t.Mapping[str, t.Any],
             ari: t.Mapping[str, t.Mapping[str, t.Any]], issuers: t.Mapping[str, t.Mapping[str, str]] | None = None
             ) -> tuple[dict[str, dict[str, t.Any]], list[dict[str, t.Any]]]:
    """Every certificate of the run grouped by name set (with its due verdict), and the skipped ones."""
    only = set(options.get("names") or [])
    force = bool(options.get("force"))
    skipped: list[dict[str, t.Any]] = []
    sets: dict[str, dict[str, t.Any]] = {}
    for host, data in hosts.items():
        observed = _observed(data)
        for cert in data.get("certificates") or []:
            if only and cert["name"] not in only:
                continue
            why_not = ("issue_on: host (renewed by the certwatch agent)" if cert["issue_on"] != "controller" else
                       "unreachable: %s" % data.get("msg", "no connection") if data.get("unreachable") else None)
            if why_not:
                skipped.append({"host": host, "name": cert["name"], "domains": cert["domains"], "reason": why_not})
                continue
            seen = observed.get(cert["name"]) or {}
            cert_id = seen.get("ari_cert_id")
            window = ari.get(cert_id) if cert_id else None
            due, why = _why(cert, seen, window, force)
            desc = seen.get("description") or {}
            deadline = None   # when the certificate enters alert_before: a deferred order must come before it
            if desc.get("not_after"):
                try:
                    end = parse_epoch(str(desc["not_after"]))
                    alert = float(data.get("alert_before", ALERT_BEFORE))
                    if desc.get("renew_at"):   # the policy caps alert_before at half the renewal window
                        alert = min(alert, (end - parse_epoch(str(desc["renew_at"]))) / 2.0)
                    deadline = end - alert
                except ValueError:
                    deadline = None
            entry = sets.setdefault(cert["set"], {"set": cert["set"], "domains": cert["domains"], "holders": [],
                                                  "due": False, "why": [], "profile": data.get("profile")})
            issuer = _cas.issuing_ca(cert_id, data.get("cas") or [], issuers or {}) if desc else None
            entry["holders"].append({"host": host, "name": cert["name"], "due": due, "why": why,
                                     "ca": issuer and issuer["name"], "ca_directory": issuer and issuer.get("directory"),
                                     "profile": data.get("profile"),
                                     "fingerprint": desc.get("fingerprint_sha256"), "not_after": desc.get("not_after"),
                                     "ari_cert_id": cert_id, "ari_due": bool(window and window.get("due")),
                                     "deadline": deadline,
                                     "repair": None if due else _repair(seen)})
            if due:
                entry["due"] = True
                entry["why"].append("%s/%s: %s" % (host, cert["name"], why))
    return sets, skipped


def _mode(entry: t.Mapping[str, t.Any], options: t.Mapping[str, t.Any]) -> str:
    """How a due name set is ordered: one key per host, the key on its only host, or one shared key. The hosts
    holding a set come from the whole inventory (``members``), so a --limit run orders a set shared with hosts
    outside the run once, with the shared key, and installs it only where the run goes."""
    if options.get("key_per_host"):
        return "per_host"
    holders = set(entry.get("members") or ()) | {h["host"] for h in entry["holders"]}
    if len(holders) == 1 and options.get("host_keys", True) is not False:
        return "host_key"
    return "shared_key"


def _replaces(holders: t.Sequence[t.Mapping[str, t.Any]]) -> tuple[str | None, bool]:
    """The ARI certificate id a renewal replaces (RFC 9773), and whether the CA's window for it is open
    (then the order is exempt from the rate limits, as at Let's Encrypt)."""
    for holder in holders:
        if holder.get("ari_due") and holder.get("ari_cert_id"):
            return holder["ari_cert_id"], True
    for holder in holders:
        if holder.get("ari_cert_id"):
            return holder["ari_cert_id"], False
    return None, False


def _orders(sets: t.Mapping[str, dict[str, t.Any]], options: t.Mapping[str, t.Any], store: str,
            cas: t.Mapping[str, t.Sequence[t.Mapping[str, t.Any]]] | None = None
            ) -> tuple[list[dict[str, t.Any]], dict[str, list[dict[str, t.Any]]], list[dict[str, t.Any]]]:
    """The orders of the due name sets, what each host installs (or repairs), and what stays unchanged."""
    force = bool(options.get("force"))
    orders: list[dict[str, t.Any]] = []
    deploys: dict[str, list[dict[str, t.Any]]] = {}
    unchanged: list[dict[str, t.Any]] = []
    for key in sorted(sets):
        entry = sets[key]
        holders = entry["holders"]
        if not entry["due"]:
            entry["mode"] = "none"
            for h in holders:
                if h["repair"]:
                    deploys.setdefault(h["host"], []).append({"name": h["name"], "order": None, "mode": "repair",
                                                              "why": h["repair"]})
                else:
                    unchanged.append({"host": h["host"], "name": h["name"], "domains": entry["domains"],
                                      "not_after": h["not_after"], "why": h["why"], "ca": h.get("ca")})
            entry["ca"] = holders[0].get("ca") if holders else None
            continue
        entry["mode"] = mode = _mode(entry, options)
        groups = [holders] if mode == "shared_key" else [[h] for h in holders]
        for group in groups:
            replaces, exempt = _replaces(group)
            if mode == "shared_key":
                order = {"id": "set:" + key, "store": os.path.join(store, "sets", set_slug(key)), "force": force}
            else:
                first = group[0]
                order = {"id": "host:%s:%s" % (first["host"], first["name"]), "host": first["host"], "name": first["name"],
                         "store": os.path.join(store, "hosts", first["host"], first["name"]),
                         "force": force}
            deadlines = [h.get("deadline") for h in group]
            order.update({"set": key, "domains": entry["domains"], "mode": mode, "hosts": [h["host"] for h in group],
                          "source_host": group[0]["host"], "replaces": replaces, "ari_exempt": exempt,
                          "profile": group[0].get("profile"),
                          "deadline": None if None in deadlines else min(t.cast("list[float]", deadlines))})
            _cas.assign(order, group, (cas or {}).get(group[0]["host"]) or [])
            entry.update(ca=order["ca"], fallback=order["fallback"])
            orders.append(order)
            for holder in group:
                deploys.setdefault(holder["host"], []).append({"name": holder["name"], "order": order["id"], "mode": mode,
                                                               "why": holder["why"]})
    return orders, deploys, unchanged


def _members(sets: t.Mapping[str, dict[str, t.Any]], skipped: t.Sequence[t.Mapping[str, t.Any]],
             members: t.Mapping[str, t.Mapping[str, t.Any]] | None) -> None:
    """Every inventory host of each name set (``members``) and those the run leaves out (``outside``: --limit,
    renew_hosts, unreachable)."""
    unreachable: dict[str, list[str]] = {}
    for skip in skipped:
        if str(skip.get("reason", "")).startswith("unreachable"):
            unreachable.setdefault(",".join(sorted(skip["domains"])), []).append(skip["host"])
    for key, entry in sets.items():
        inside = [h["host"] for h in entry["holders"]]
        known = list((members or {}).get(key, {}).get("hosts") or [])
        every = inside + [h for h in known + unreachable.get(key, []) if h not in inside]
        entry["members"] = list(dict.fromkeys(every))
        entry["outside"] = [h for h in entry["members"] if h not in inside]


def build_plan(hosts: t.Mapping[str, t.Mapping[str, t.Any]], options: t.Mapping[str, t.Any],
               ledger: t.Sequence[t.Mapping[str, t.Any]] = (), now: float | None = None,
               ari: t.Mapping[str, t.Mapping[str, t.Any]] | None = None,
               members: t.Mapping[str, t.Mapping[str, t.Any]] | None = None,
               issuers: t.Mapping[str, t.Mapping[str, str]] | None = None) -> dict[str, t.Any]:
    """Plan one run.

    *hosts* maps host name (in inventory order) to ``{"certificates": normalize_certificates(...),
    "observed": the converge module's observation (or "expiry": an expiry_info result), "unreachable": bool}``;
    A host's ``profile`` (certwatch_acme's) is the ACME profile of its name sets' orders, shown per set.
    *ari* maps ARI certificate ids to the CA's window (``{"due": bool, "start": ...}``); *options*: ``names``,
    ``force``, ``key_per_host``, ``host_keys`` (default true: a name set held by one host gets its key on that
    host; false: every key is made on the controller, as AWX job slicing needs), ``canary``, ``batch``,
    ``limits``, ``store``. A certificate that is not due but is served as a ghost, or whose generation was never
    proved, puts its host in the roll to be repaired (``mode: repair``, no order). *members* maps each name set
    to the hosts of the whole inventory that hold it (``{"hosts": [...]}``, see _run_vars.members): a set held by
    hosts outside the run is still ordered with its shared key, installed only on the hosts of the run.
    """
    now = time.time() if now is None else now
    sets, skipped = _holders(hosts, options, ari or {}, issuers)
    _members(sets, skipped, members)
    cas = {h: list(d.get("cas") or []) for h, d in hosts.items()}
    orders, deploys, unchanged = _orders(sets, options, str(options.get("store") or "."), cas)
    # the rate limits schedule, per CA: the most urgent orders now, the rest deferred to when the budget admits them
    verdict = schedule_per_ca(orders, ledger, options.get("limits"), [c for h in cas.values() for c in h], now)
    later = {d["id"]: d for d in verdict["deferred"]}
    deferred = [dict(o, **{k: later[o["id"]][k] for k in ("admit_at", "limit", "scope", "late")})
                for o in orders if o["id"] in later]
    orders = [o for o in orders if o["id"] not in later]
    for host in list(deploys):
        deploys[host] = [item for item in deploys[host] if item["order"] not in later]
        if not deploys[host]:
            del deploys[host]
    canary = int(options.get("canary", 1))
    batch = options.get("batch", "25%")
    roll = [h for h in hosts if h in deploys]
    plan_batches = batches(roll, canary, batch)
    host_batch = {h: i + 1 for i, b in enumerate(plan_batches) for h in b}
    for entry in sets.values():
        entry["batches"] = sorted({host_batch[h["host"]] for h in entry["holders"] if h["host"] in host_batch})
    repairs = [dict(item, host=h) for h, items in deploys.items() for item in items if item["mode"] == "repair"]
    return {
        "generated_at": epoch_iso(now),
        "sets": [sets[k] for k in sorted(sets)],
        "orders": orders,
        "deferred": deferred,
        "deploys": deploys,
        "repairs": repairs,
        "roll": roll,
        "batches": plan_batches,
        "host_batch": host_batch,
        "serial": serial_list(canary, batch),
        "unchanged": unchanged,
        "skipped": skipped,
        "budget": verdict,
        "summary": {"name_sets": len(sets), "due_sets": sum(1 for s in sets.values() if s["due"]),
                    "orders": len(orders), "deferred": len(deferred), "hosts_to_roll": len(roll), "batches": len(plan_batches),
                    "skipped": len(skipped), "repairs": len(repairs),
                    "ari_orders": sum(1 for o in orders if o["ari_exempt"])},
    }


def plan_table(plan: t.Mapping[str, t.Any]) -> str:
    """The plan as text: one row per name set (its names, an IDN in both forms; hosts, why due, CA, batch, the
    ACME profile it is ordered with, every renewal alike), then the budget verdict."""
    rows: list[tuple[str, ...]] = [("NAME SET", "HOSTS", "ACTION", "CA", "BATCH", "PROFILE", "WHY")]
    for entry in plan["sets"]:
        hosts = ",".join(sorted({h["host"] for h in entry["holders"]}))
        action = {"none": "unchanged", "shared_key": "1 order, shared key", "host_key": "1 order, key on host",
                  "per_host": "%d orders, key per host" % len(entry["holders"])}[entry["mode"]]
        why = "; ".join(entry["why"]) if entry["due"] else entry["holders"][0]["why"]
        batches_ = ",".join(str(b) for b in entry.get("batches", [])) or "-"
        if entry.get("outside"):
            hosts += " (not in this run: %s)" % ",".join(entry["outside"])
        ca = str(entry.get("ca") or "-")
        if entry["due"] and entry.get("fallback"):
            ca += " (then %s)" % ", ".join(entry["fallback"])
        rows.append((",".join(display(n) for n in entry["domains"]), hosts, action, ca, batches_,
                     entry.get("profile") or "-", why))
    lines = table(rows)
    for skip in plan["skipped"]:
        lines.append("skipped: %s/%s (%s)" % (skip["host"], skip["name"], skip["reason"]))
    for repair in plan.get("repairs") or []:
        lines.append("repair: %s/%s (%s), no order" % (repair["host"], repair["name"], repair["why"]))
    summary = plan["summary"]
    lines.append("%d name sets, %d due, %d orders, %d hosts to roll in %d batches %s"
                 % (summary["name_sets"], summary["due_sets"], summary["orders"], summary["hosts_to_roll"],
                    summary["batches"], " | ".join("[%s]" % ",".join(b) for b in plan["batches"])))
    verdict = plan["budget"]
    for order in plan.get("deferred") or []:
        lines.append("%s: %s (%s) %s (%s for %s)"
                     % ("LATE" if order["late"] else "deferred", ",".join(display(n) for n in order["domains"]),
                        ",".join(order["hosts"]),
                        "not within 30 days" if order["admit_at"] is None else "until " + order["admit_at"],
                        order["limit"], order["scope"]))
    usage = ", ".join("%s %s %d+%d/%d" % (c["limit"], c["scope"], c["used"], c["planned"], c["max"])
                      for c in verdict["checks"][:4])
    if not verdict["ok"]:
        lines.append("rate limits: %d deferred past alert_before - %s" % (len(verdict["refused"]),
                                                                          "; ".join(verdict["refused"][:5])))
    elif plan.get("deferred"):
        lines.append("rate limits: %d orders now, %d deferred (%s)" % (len(plan["orders"]), len(plan["deferred"]), usage))
    else:
        lines.append("rate limits: ok (%s)" % usage)
    return "\n".join(lines)
