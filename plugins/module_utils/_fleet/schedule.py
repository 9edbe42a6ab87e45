# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The CA's rate limits as a schedule, not a refusal: the most urgent name sets are ordered now, up to the
budget left on the ledger; the rest are deferred to the time at which the budget admits them; a deferral fails
only when its certificate would enter ``alert_before`` (or expire) before that time. ARI renewals (sent with
``replaces``) are exempt, as at Let's Encrypt.

    verdict = schedule(orders, ledger_entries, limits, now)   # orders: {"id", "domains", "ari_exempt", "deadline"}
"""

from __future__ import annotations

import bisect
import time
import typing as t

from .inventory import set_key
from .ledger import DEFAULT_LIMITS, THREE_HOURS, WEEK, epoch_iso, parse_epoch, registered_domain

WINDOWS = {"orders_per_3h": THREE_HOURS, "per_name_set_week": WEEK, "per_registered_domain_week": WEEK}
HORIZON = 30 * 86400.0     # deferrals are scheduled up to 30 days ahead; later is "not within 30 days"


def scopes(domains: t.Sequence[str]) -> list[tuple[str, str]]:
    """The rate-limit counters one order of *domains* counts against."""
    regs = sorted({registered_domain(n) for n in domains})
    return [("orders_per_3h", "account"), ("per_name_set_week", set_key(domains))] + \
        [("per_registered_domain_week", reg) for reg in regs]


def _ledger_times(ledger: t.Sequence[t.Mapping[str, t.Any]], now: float, directory: str | None = None
                  ) -> tuple[dict[tuple[str, str], list[float]], int]:
    """Per counter, the times of the ledger's orders still in its window (sorted), and the exempt orders of the week.
    With *directory*, only the orders of that CA count (and those recorded before the ledger named the CA)."""
    placed: dict[tuple[str, str], list[float]] = {}
    exempt = 0
    for entry in ledger:
        if directory is not None and entry.get("directory") not in (None, directory):
            continue
        try:
            when = min(parse_epoch(str(entry["time"])), now)
        except (KeyError, ValueError):
            continue
        if now - when >= WEEK:
            continue
        if entry.get("replaces"):
            exempt += 1
            continue
        for scope in scopes([str(d) for d in entry.get("domains") or []]):
            if now - when < WINDOWS[scope[0]]:
                placed.setdefault(scope, []).append(when)
    for times in placed.values():
        times.sort()
    return placed, exempt


def _in_window(times: list[float], limit: str, at: float) -> int:
    """Orders of one counter in its window ending at *at* (every time in *times* is <= at)."""
    return len(times) - bisect.bisect_right(times, at - WINDOWS[limit])


def _blocking(order_scopes: t.Sequence[tuple[str, str]], placed: t.Mapping[tuple[str, str], list[float]], lim: t.Mapping[str, int],
              at: float) -> tuple[str, str] | None:
    for scope in order_scopes:
        if _in_window(placed.get(scope, []), scope[0], at) >= lim[scope[0]]:
            return scope
    return None


def _next_release(order_scopes: t.Iterable[tuple[str, str]], placed: t.Mapping[tuple[str, str], list[float]], at: float) -> float | None:
    """The next time an order leaves the window of one of these counters."""
    best = None
    for scope in order_scopes:
        times = placed.get(scope) or []
        first = bisect.bisect_right(times, at - WINDOWS[scope[0]])
        if first < len(times):
            release = times[first] + WINDOWS[scope[0]]
            best = release if best is None or release < best else best
    return best


def schedule(orders: t.Sequence[t.Mapping[str, t.Any]], ledger: t.Sequence[t.Mapping[str, t.Any]],
             limits: t.Mapping[str, t.Any] | None = None, now: float | None = None,
             directory: str | None = None) -> dict[str, t.Any]:
    """When each order may be placed. Orders are taken most urgent first (earliest ``deadline``, the time its
    certificate enters alert_before; None = no certificate, the most urgent); time only moves forward, so a
    counter is checked on the window that ends at the time an order is placed, with every earlier placement
    in it. Returns the verdict renew.yml's plan keeps as ``budget``: ``admit`` (order id -> time, now for the
    orders of this run), ``deferred`` (one entry per later order: when, which counter, whether it is late),
    ``checks`` (each counter this run uses: used, planned now, max), ``refused`` (the late deferrals: they fail
    the run) and ``ok``."""
    now = time.time() if now is None else now
    lim = dict(DEFAULT_LIMITS)
    lim.update({k: int(v) for k, v in (limits or {}).items() if k in DEFAULT_LIMITS})
    placed, exempt_week = _ledger_times(ledger, now, directory)
    used = {scope: len(times) for scope, times in placed.items()}
    urgency = sorted((o for o in orders if not o.get("ari_exempt")),
                     key=lambda o: (-1.0 if o.get("deadline") is None else float(o["deadline"]), str(o["id"])))
    order_scopes = {str(o["id"]): scopes(o["domains"]) for o in urgency}
    admit: dict[str, float] = {str(o["id"]): now for o in orders if o.get("ari_exempt")}
    holding: dict[str, tuple[str, str]] = {}
    pending = list(urgency)
    at = now
    while pending and at <= now + HORIZON:
        waiting = []
        for order in pending:
            oid = str(order["id"])
            blocked = _blocking(order_scopes[oid], placed, lim, at)
            if blocked is None:
                admit[oid] = at
                for scope in order_scopes[oid]:
                    placed.setdefault(scope, []).append(at)     # at >= every time placed so far: stays sorted
            else:
                holding[oid] = blocked   # the last counter that held it back: the one that sets its time
                waiting.append(order)
        pending = waiting
        releases = [_next_release(order_scopes[str(o["id"])], placed, at) for o in pending]
        later = [r for r in releases if r is not None and r > at]
        if not later:
            break
        at = min(later)   # a counter's window is (at - W, at]: the released order is out of it
    deferred: list[dict[str, t.Any]] = []
    for order in urgency:
        oid = str(order["id"])
        when = admit.get(oid)
        if when is not None and when <= now:
            continue
        deadline = order.get("deadline")
        late = when is None or deadline is None or when > float(deadline)
        limit, counter = holding.get(oid, ("orders_per_3h", "account"))
        deferred.append({"id": oid, "domains": list(order["domains"]), "admit_at": None if when is None else epoch_iso(when),
                         "deadline": None if deadline is None else epoch_iso(float(deadline)), "limit": limit,
                         "scope": counter, "late": late})
    now_ids = {oid for oid, when in admit.items() if when <= now}
    checks = []
    for scope in sorted({s for o in urgency for s in order_scopes[str(o["id"])]}):
        planned = sum(1 for o in urgency if str(o["id"]) in now_ids and scope in order_scopes[str(o["id"])])
        checks.append({"limit": scope[0], "scope": scope[1], "used": used.get(scope, 0), "planned": planned,
                       "max": lim[scope[0]], "ok": used.get(scope, 0) + planned <= lim[scope[0]]})
    checks.sort(key=lambda c: (c["limit"] != "orders_per_3h", c["limit"], c["scope"]))
    refused = ["%s: %s, but %s (%s for %s, %d allowed)"
               % (",".join(d["domains"]), "not within 30 days" if d["admit_at"] is None else
                  "the rate limits admit it at %s" % d["admit_at"],
                  "it has no valid certificate" if d["deadline"] is None else
                  "it enters alert_before at %s" % d["deadline"], d["limit"], d["scope"], lim[d["limit"]])
               for d in deferred if d["late"]]
    return {"ok": not refused, "limits": lim, "checks": checks, "admitted": len(now_ids), "deferred": deferred,
            "exempt_orders_week": exempt_week, "exempt_planned": sum(1 for o in orders if o.get("ari_exempt")),
            "refused": refused, "admit": {oid: epoch_iso(when) for oid, when in admit.items()}}


def schedule_per_ca(orders: t.Sequence[t.Mapping[str, t.Any]], ledger: t.Sequence[t.Mapping[str, t.Any]],
                    limits: t.Mapping[str, t.Any] | None, cas: t.Iterable[t.Mapping[str, t.Any]],
                    now: float | None = None) -> dict[str, t.Any]:
    """:func:`schedule` for each CA on its own (the orders whose ``ca_directory`` it is; its ledger entries; its
    ``limits`` over the run's *limits*), merged into one verdict; each check and deferral names its ``ca``."""
    from .._acme.cas import budgets

    now = time.time() if now is None else now
    known = budgets(cas)
    groups: dict[str | None, list[t.Mapping[str, t.Any]]] = {}
    for order in orders:
        groups.setdefault(order.get("ca_directory"), []).append(order)
    if not groups:
        groups[None] = []
    verdicts = []
    for directory, group in groups.items():
        ca = known.get(str(directory)) or {}
        verdict = schedule(group, ledger, {**(limits or {}), **(ca.get("limits") or {})}, now, directory)
        for item in verdict["checks"] + verdict["deferred"]:
            item["ca"] = ca.get("name")
        verdicts.append((ca.get("name"), verdict))
    merged = dict(verdicts[0][1])
    for _name, verdict in verdicts[1:]:
        for key in ("checks", "deferred", "refused"):
            merged[key] = merged[key] + verdict[key]
        for key in ("admitted", "exempt_orders_week", "exempt_planned"):
            merged[key] = merged[key] + verdict[key]
        merged["admit"] = {**merged["admit"], **verdict["admit"]}
        merged["ok"] = merged["ok"] and verdict["ok"]
    merged["per_ca"] = {str(name): verdict["limits"] for name, verdict in verdicts if name}
    return merged
