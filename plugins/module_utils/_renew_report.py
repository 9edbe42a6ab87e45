# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The report of a renew.yml or rollback.yml run: one row per host and certificate, counts, failed
hosts; never key material."""

from __future__ import annotations

import math
import time
import typing as t

from ._ledger import iso


def table(rows: t.Sequence[t.Sequence[str]]) -> list[str]:
    """Left-aligned text columns."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


# ----------------------------------------------------------------------------- the report


def build_report(plan: t.Mapping[str, t.Any], outcomes: t.Mapping[str, t.Sequence[t.Mapping[str, t.Any]]],
                 issued: t.Mapping[str, t.Mapping[str, t.Any]] | None = None,
                 generated_at: str | None = None) -> dict[str, t.Any]:
    """One row per (host, certificate): renewed, unchanged, failed, rolled_back, skipped or stopped."""
    issued = issued or {}
    rows: list[dict[str, t.Any]] = []
    for host, items in plan["deploys"].items():
        done = {o.get("name"): o for o in outcomes.get(host) or []}
        for item in items:
            outcome = done.get(item["name"])
            order = issued.get(item["order"], {})
            if outcome is None:
                if order and not order.get("ok", False):
                    outcome = {"outcome": "failed", "reason": "issue failed: %s" % order.get("msg", "unknown error")}
                else:
                    outcome = {"outcome": "stopped", "reason": "not attempted: an earlier batch failed"}
            row = {"host": host, "name": item["name"], "batch": plan["host_batch"].get(host), "order": item["order"],
                   "mode": item["mode"]}
            row.update({k: v for k, v in outcome.items() if k not in ("key", "key_content")})
            rows.append(row)
    for entry in plan["unchanged"]:
        rows.append({"host": entry["host"], "name": entry["name"], "outcome": "unchanged", "reason": entry["why"],
                     "not_after": entry["not_after"]})
    for entry in plan["skipped"]:
        kind = "failed" if entry["reason"].startswith("unreachable") else "skipped"
        rows.append({"host": entry["host"], "name": entry["name"], "outcome": kind, "reason": entry["reason"]})
    rows.sort(key=lambda r: (["failed", "rolled_back", "stopped", "renewed", "skipped", "unchanged"].index(r["outcome"])
                             if r["outcome"] in ("failed", "rolled_back", "stopped", "renewed", "skipped", "unchanged")
                             else 9, r["host"], r["name"]))
    counts: dict[str, int] = {k: 0 for k in ("renewed", "unchanged", "failed", "rolled_back", "stopped", "skipped")}
    for row in rows:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    orders = [{"id": oid, "ok": o.get("ok"), "ordered": o.get("ordered"), "reused": o.get("reused"),
               "msg": o.get("msg"), "not_after": o.get("not_after")} for oid, o in issued.items()]
    failed_hosts = sorted({r["host"] for r in rows if r["outcome"] in ("failed", "rolled_back")})
    return {
        "generated_at": generated_at or iso(time.time()),
        "rows": rows,
        "counts": counts,
        "orders": orders,
        "orders_placed": sum(1 for o in issued.values() if o.get("ordered")),
        "failed_hosts": failed_hosts,
        "ok": not failed_hosts,
        "batches": plan["batches"],
    }


def build_rollback_report(outcomes: t.Mapping[str, t.Sequence[t.Mapping[str, t.Any]]],
                          generated_at: str | None = None) -> dict[str, t.Any]:
    """The rollback playbook's report: one row per (host, certificate); a rollback is the wanted outcome here."""
    rows = [dict(o, host=host) for host, items in outcomes.items() for o in items]
    rows.sort(key=lambda r: (r["outcome"] != "failed", r["host"], r["name"]))
    counts = {k: 0 for k in ("renewed", "unchanged", "failed", "rolled_back", "stopped", "skipped")}
    for row in rows:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    failed_hosts = sorted({r["host"] for r in rows if r["outcome"] == "failed"})
    return {"generated_at": generated_at or iso(time.time()), "rows": rows, "counts": counts, "orders": [],
            "orders_placed": 0, "failed_hosts": failed_hosts, "ok": not failed_hosts, "batches": []}


def report_table(report: t.Mapping[str, t.Any]) -> str:
    rows: list[tuple[str, ...]] = [("OUTCOME", "HOST", "CERTIFICATE", "BATCH", "NOT AFTER", "SERVED", "REASON")]
    for row in report["rows"]:
        served = "-"
        if row.get("proved") is True:
            served = "proved"
        elif row.get("proved") is False:
            served = "NOT proved"
        rows.append((row["outcome"].upper(), row["host"], row["name"], str(row.get("batch") or "-"),
                     str(row.get("not_after") or "-"), served, str(row.get("reason") or "")))
    lines = table(rows)
    counts = report["counts"]
    lines.append("%d renewed, %d unchanged, %d failed, %d rolled back, %d stopped, %d skipped; %d orders placed"
                 % (counts["renewed"], counts["unchanged"], counts["failed"], counts["rolled_back"], counts["stopped"],
                    counts["skipped"], report["orders_placed"]))
    return "\n".join(lines)


def percent_failed(done: int, failed: int) -> float:
    return 0.0 if done == 0 else math.floor(failed * 10000.0 / done) / 100.0
