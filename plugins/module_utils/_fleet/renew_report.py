# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The report of a renew.yml run (rollback.yml's: :mod:`.rollback_report`): one row per host and
certificate, counts, failed hosts; never key material.  :func:`write` writes either."""

from __future__ import annotations

import math
import time
import typing as t

from .._domains import display
from .ledger import epoch_iso

# Outcomes of a run, problems first (the report's order); DESIGN.md's lifecycle outcomes.
ORDER = ("failed", "rolled_back", "stopped", "deferred", "repaired", "renewed", "skipped", "unchanged")
OUTCOMES = ("renewed", "repaired", "unchanged", "failed", "rolled_back", "stopped", "skipped", "deferred")


def _width(cell: str) -> int:
    """Columns a cell takes in a terminal (a wide character, as in an IDN's Unicode form, takes two)."""
    if cell.isascii():
        return len(cell)
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in cell)


def table(rows: t.Sequence[t.Sequence[str]]) -> list[str]:
    """Left-aligned text columns."""
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)).rstrip() for row in rows]


# ----------------------------------------------------------------------------- the report


def build_report(plan: t.Mapping[str, t.Any], outcomes: t.Mapping[str, t.Sequence[t.Mapping[str, t.Any]]],
                 issued: t.Mapping[str, t.Mapping[str, t.Any]] | None = None,
                 generated_at: str | None = None) -> dict[str, t.Any]:
    """One row per (host, certificate): renewed, unchanged, failed, rolled_back, skipped or stopped, with its names."""
    issued = issued or {}
    rows = _deploy_rows(plan, outcomes, issued) + _deferred_rows(plan) + _planned_rows(plan)
    rows.sort(key=lambda r: (ORDER.index(r["outcome"]) if r["outcome"] in ORDER else 9, r["host"], r["name"]))
    counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
    for row in rows:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    orders = [{"id": oid, "ok": o.get("ok"), "ordered": o.get("ordered"), "reused": o.get("reused"),
               "msg": o.get("msg"), "not_after": o.get("not_after"), "ca": o.get("ca"), "tried": o.get("tried") or [],
               "order_url": o.get("order_url")}
              for oid, o in issued.items()]
    failed_hosts = sorted({r["host"] for r in rows if r["outcome"] in ("failed", "rolled_back")})
    problems = _budget_problems(plan)
    return {
        "problems": problems,
        "failures": failures(rows),
        "generated_at": generated_at or epoch_iso(time.time()),
        "rows": rows,
        "counts": counts,
        "orders": orders,
        "orders_placed": sum(1 for o in issued.values() if o.get("ordered")),
        "failed_hosts": failed_hosts,
        "ok": not failed_hosts and not problems,
        "batches": plan["batches"],
        "serial": plan.get("serial"),
    }


def _deploy_rows(plan: t.Mapping[str, t.Any], outcomes: t.Mapping[str, t.Sequence[t.Mapping[str, t.Any]]],
                 issued: t.Mapping[str, t.Mapping[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The rows of the plan's deploys, each with its host's outcome (failed or stopped when it has none)."""
    rows: list[dict[str, t.Any]] = []
    domains = {(h["host"], h["name"]): s["domains"] for s in plan.get("sets") or [] for h in s["holders"]}
    cas = {(h["host"], h["name"]): h.get("ca") for s in plan.get("sets") or [] for h in s["holders"]}
    for host, items in plan["deploys"].items():
        done = {o.get("name"): o for o in outcomes.get(host) or []}
        for item in items:
            outcome = done.get(item["name"]) or done.get(None)  # None: the host itself (lost during the roll)
            order = issued.get(item["order"], {})
            if outcome is None:
                outcome = _missing_outcome(order)
            row = {"host": host, "name": item["name"], "batch": plan["host_batch"].get(host), "order": item["order"],
                   "mode": item["mode"], "domains": domains.get((host, item["name"])), "why": item.get("why"),
                   "ca": order.get("ca") if order.get("ok") else cas.get((host, item["name"]))}
            row.update({k: v for k, v in outcome.items() if k not in ("key", "key_content")})
            rows.append(row)
    return rows


def _missing_outcome(order: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The outcome of a deploy its host did not report: failed when its order failed, else stopped."""
    if order and not order.get("ok", False):
        return {"outcome": "failed", "reason": "issue failed: %s" % order.get("msg", "unknown error")}
    return {"outcome": "stopped", "reason": "not attempted: an earlier batch failed"}


def _deferred_rows(plan: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """The rows of the orders the CA's rate limits deferred (failed when they come too late)."""
    rows: list[dict[str, t.Any]] = []
    for order in plan.get("deferred") or []:
        when = "not within 30 days" if order["admit_at"] is None else "from %s" % order["admit_at"]
        why = "deferred by the CA's rate limits (%s for %s): ordered by a run %s" % (order["limit"], order["scope"], when)
        if order["late"]:
            why += ", but it enters alert_before first; raise renew_limits if your CA allows more, or renew it elsewhere"
        for holder in order["hosts"]:
            rows.append({"host": holder, "name": _name_of(plan, holder, order["set"]), "order": order["id"],
                         "outcome": "failed" if order["late"] else "deferred", "reason": why,
                         "admit_at": order["admit_at"], "domains": order.get("domains"), "ca": order.get("ca")})
    return rows


def _planned_rows(plan: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """The rows of what the plan left alone: unchanged, then skipped (failed when the host was unreachable)."""
    rows: list[dict[str, t.Any]] = []
    for entry in plan["unchanged"]:
        rows.append({"host": entry["host"], "name": entry["name"], "outcome": "unchanged", "reason": entry["why"],
                     "not_after": entry["not_after"], "domains": entry["domains"], "ca": entry.get("ca")})
    for entry in plan["skipped"]:
        kind = "failed" if entry["reason"].startswith("unreachable") else "skipped"
        rows.append({"host": entry["host"], "name": entry["name"], "outcome": kind, "reason": entry["reason"],
                     "domains": entry["domains"]})
    return rows


def _budget_problems(plan: t.Mapping[str, t.Any]) -> list[str]:
    """The run's problem when the CA's rate limits defer name sets past alert_before (none when the budget is ok)."""
    if plan.get("budget", {}).get("ok", True):
        return []
    return ["The CA's rate limits defer %d name set(s) past the time they enter alert_before (the most urgent were "
            "ordered first): %s. Raise renew_limits if your CA allows more"
            % (len(plan["budget"]["refused"]), "; ".join(plan["budget"]["refused"][:10]))]


def _name_of(plan: t.Mapping[str, t.Any], host: str, key: str) -> str:
    """The name of *host*'s certificate of name set *key* (from the plan's sets)."""
    for entry in plan.get("sets") or []:
        if entry["set"] == key:
            for holder in entry["holders"]:
                if holder["host"] == host:
                    return str(holder["name"])
    return "-"


def failures(rows: t.Sequence[t.Mapping[str, t.Any]]) -> dict[str, list[str]]:
    """Per host, why it fails the run: each failed or rolled back certificate with its reason."""
    out: dict[str, list[str]] = {}
    for row in rows:
        if row["outcome"] in ("failed", "rolled_back"):
            why = row.get("reason") or "no reason given"
            out.setdefault(row["host"], []).append("%s: %s - %s" % (row.get("name") or "-", row["outcome"], why))
    return out


def stats(report: t.Mapping[str, t.Any], paths: t.Mapping[str, str]) -> dict[str, t.Any]:
    """What set_stats publishes to AWX: the outcome, one short row per host and certificate, never key material."""
    keys = ("host", "name", "outcome", "reason", "not_after", "batch", "admit_at", "ca")
    return {"ok": report["ok"], "counts": report["counts"], "orders_placed": report["orders_placed"],
            "failed_hosts": report["failed_hosts"], "problems": report.get("problems") or [],
            "rows": [{k: r.get(k) for k in keys} for r in report["rows"]], **paths}


def report_table(report: t.Mapping[str, t.Any]) -> str:
    rows: list[tuple[str, ...]] = [("OUTCOME", "HOST", "CERTIFICATE", "NAMES", "CA", "BATCH", "NOT AFTER", "SERVED", "REASON")]
    for row in report["rows"]:
        served = "-"
        if row.get("proved") is True:
            served = "proved"
        elif row.get("proved") is False:
            served = "NOT proved"
        rows.append((row["outcome"].upper(), row["host"], row["name"], names_of(row), str(row.get("ca") or "-"),
                     str(row.get("batch") or "-"),
                     str(row.get("not_after") or "-"), served, str(row.get("reason") or "")))
    lines = table(rows)
    counts = report["counts"]
    for problem in report.get("problems") or []:
        lines.append("PROBLEM: %s" % problem)
    lines.append("%d renewed, %d repaired, %d unchanged, %d failed, %d rolled back, %d stopped, %d skipped, %d deferred; "
                 "%d orders placed" % (counts["renewed"], counts.get("repaired", 0), counts["unchanged"], counts["failed"],
                                       counts["rolled_back"], counts["stopped"], counts["skipped"],
                                       counts.get("deferred", 0), report["orders_placed"]))
    return "\n".join(lines)


def names_of(row: t.Mapping[str, t.Any]) -> str:
    """A report row's names as shown: an IDN in both forms, ``xn--bcher-kva.example (bücher.example)``."""
    return ",".join(display(n) for n in row.get("domains") or []) or "-"


def percent_failed(done: int, failed: int) -> float:
    return 0.0 if done == 0 else math.floor(failed * 10000.0 / done) / 100.0


def html(report: t.Mapping[str, t.Any], title: str = "Certificate renewal") -> str:
    """The report as one self-contained HTML page (:func:`._run_html.renew_page`)."""
    from .run_html import renew_page

    return renew_page(report, title)


def write(folder: str, plan: t.Mapping[str, t.Any] | None, report: t.Mapping[str, t.Any] | None,
          title: str = "Certificate renewal") -> dict[str, t.Any]:
    """Write plan.json and/or report.json, report.txt and report.html in *folder* (each file atomic), and
    return what the renew_report task returns: the table shown, the files, and with a report, the report
    and the set_stats data."""
    import json
    import os

    from .._durable import write_atomic
    from .plan import plan_table

    os.makedirs(folder, mode=0o755, exist_ok=True)
    files: list[str] = []

    def put(name: str, text: str) -> str:
        path = os.path.join(folder, name)
        write_atomic(path, text.encode("utf-8"), 0o644, durable=False)
        files.append(path)
        return path

    if plan is not None:
        put("plan.json", json.dumps(plan, indent=2, sort_keys=True) + "\n")
    # changed is false: a report records the run on the controller, it changes nothing in the fleet (the
    # hosts' tasks say what changed there); the files written are returned
    if report is None:
        return {"changed": False, "table": plan_table(t.cast(t.Mapping[str, t.Any], plan)), "files": files}
    if report.get("kind") == "rollback":
        from .rollback_report import rollback_html, rollback_stats, rollback_table

        text, page, publish = rollback_table(report), rollback_html(report, title), rollback_stats
    else:
        text, page, publish = report_table(report), html(report, title), stats
    paths = {"report_json": put("report.json", json.dumps(report, indent=2, sort_keys=True) + "\n")}
    put("report.txt", text + "\n")
    paths["report_html"] = put("report.html", page)
    return {"changed": False, "table": text, "files": files, "report": report, "stats": publish(report, paths)}
