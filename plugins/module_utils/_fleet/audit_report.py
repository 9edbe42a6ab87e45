# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet expiry report: merge per-host ``expiry_info`` results, render a table.

Per-host results are queried with JMESPath (the ``jmespath`` library the collection requires).
"""

from __future__ import annotations

import typing as t

from .._deps import require
from .._policy import STATUSES, worst
from .._time import iso, utcnow

try:
    import jmespath
except ImportError:  # pragma: no cover - query() reports it through _deps.require
    pass

# One row of the fleet report per certificate: the DESIGN.md keys a reader needs.
_ROW = (
    "certificates[].{path: path, subject: subject, sans: sans, issuer: issuer, serial: serial, "
    "fingerprint_sha256: fingerprint_sha256, not_before: not_before, not_after: not_after, "
    "seconds_remaining: seconds_remaining, renew_at: renew_at, due: due, status: status, "
    "reasons: reasons, key_match: key_match, chain_valid: chain_valid, revocation: revocation, "
    "revocation_error: revocation_error}"
)


def query(data: t.Any, expression: str) -> t.Any:
    """Evaluate a JMESPath *expression* on *data*; ValueError on a bad expression, MissingLibraryError without jmespath."""
    require("jmespath")
    try:
        return jmespath.search(expression, data)
    except jmespath.exceptions.JMESPathError as exc:
        raise ValueError("JMESPath expression %r is invalid: %s" % (expression, exc)) from exc


def build_fleet_report(results: t.Mapping[str, t.Any], generated_at: str | None = None) -> dict[str, t.Any]:
    """Merge ``{host: registered expiry_info result}`` into one report, soonest expiry first."""
    certificates: list[dict[str, t.Any]] = []
    errors: list[dict[str, t.Any]] = []
    clocks: list[dict[str, t.Any]] = []
    failed_hosts: list[dict[str, t.Any]] = []
    for host in sorted(results):
        result = results[host] or {}
        if result.get("unreachable") or result.get("failed") or result.get("skipped") or "certificates" not in result:
            reason = "unreachable" if result.get("unreachable") else "skipped" if result.get("skipped") else "failed"
            failed_hosts.append({"host": host, "reason": reason, "msg": str(result.get("msg", ""))[:500]})
            continue
        for row in query(result, _ROW) or []:
            row["host"] = host
            certificates.append(row)
        for err in query(result, "errors[].{path: path, error: error}") or []:
            err["host"] = host
            errors.append(err)
        clock = query(result, "clock") or {}
        clocks.append({
            "host": host,
            "synchronized": clock.get("synchronized"),
            "estimated_error_seconds": clock.get("estimated_error_seconds"),
            "state": clock.get("state"),
        })
    certificates.sort(key=lambda r: (r["seconds_remaining"], r["host"], r["path"]))
    counts = {status: 0 for status in STATUSES}
    for row in certificates:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return {
        "generated_at": generated_at or iso(utcnow()),
        "hosts": len(results),
        "summary": {
            "total": len(certificates),
            "counts": counts,
            "due": sum(1 for r in certificates if r["due"]),
            "errors": len(errors),
            "worst": worst(status for status, count in counts.items() if count and status in STATUSES),
            "failed_hosts": len(failed_hosts),
            "unsynchronized_clocks": sum(1 for c in clocks if c["synchronized"] is False),
            "revocation_errors": sum(1 for r in certificates if r.get("revocation_error")),
            "soonest": certificates[0] if certificates else None,
        },
        "certificates": certificates,
        "errors": errors,
        "failed_hosts": failed_hosts,
        "clocks": clocks,
    }


def human_duration(seconds: float) -> str:
    """``12d 4h``, ``5h 3m``, ``-2d 1h`` (negative once expired)."""
    sign = "-" if seconds < 0 else ""
    left = int(abs(seconds))
    days, left = divmod(left, 86400)
    hours, left = divmod(left, 3600)
    minutes = left // 60
    if days:
        return "%s%dd %dh" % (sign, days, hours)
    if hours:
        return "%s%dh %dm" % (sign, hours, minutes)
    return "%s%dm" % (sign, minutes)


def render_table(report: t.Mapping[str, t.Any], limit: int = 0) -> str:
    """Plain-text table of the report, soonest expiry first, with a summary line."""
    rows = list(report["certificates"])
    shown = rows[:limit] if limit else rows
    header = ("STATUS", "LEFT", "NOT AFTER", "HOST", "PATH", "NAMES")
    table = [header]
    for row in shown:
        names = [s.split(":", 1)[-1] for s in row.get("sans") or []] or [row.get("subject") or ""]
        label = names[0] + (" +%d" % (len(names) - 1) if len(names) > 1 else "")
        table.append((row["status"], human_duration(row["seconds_remaining"]), row["not_after"],
                      row["host"], row["path"], label))
    widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in table]
    if limit and len(rows) > limit:
        lines.append("... %d more (see the JSON report)" % (len(rows) - limit))
    summary = report["summary"]
    counts = ", ".join("%s %d" % (k, v) for k, v in summary["counts"].items())
    lines.append("")
    lines.append("%d certificates on %d hosts: %s; %d unreadable files; %d hosts failed; %d unsynchronised clocks"
                 % (summary["total"], report["hosts"], counts, summary["errors"], summary["failed_hosts"],
                    summary["unsynchronized_clocks"]))
    for err in report["errors"]:
        lines.append("error  %s:%s  %s" % (err["host"], err["path"], err["error"]))
    for row in rows:
        if row.get("revocation_error"):
            lines.append("revocation not checked  %s:%s  %s" % (row["host"], row["path"], row["revocation_error"]))
    for bad in report["failed_hosts"]:
        lines.append("host   %s  %s  %s" % (bad["host"], bad["reason"], bad["msg"]))
    return "\n".join(lines)
