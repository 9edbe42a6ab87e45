# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The report of a rollback.yml run: per host and certificate, from which certificate to which it was rolled
back (or forward), and whether a live handshake proved the restored one served.  Never key material; no
order, batch or renewal count (a rollback orders nothing)."""

from __future__ import annotations

import time
import typing as t

from .ledger import epoch_iso
from .renew_report import failures, table

OUTCOMES = ("rolled_back", "rolled_forward", "repaired", "unchanged", "failed")
ORDER = ("failed", "rolled_back", "rolled_forward", "repaired", "unchanged")
KIND = "rollback"


def _failed(row: t.Mapping[str, t.Any]) -> bool:
    """A failed row, or a rollback whose restored certificate a probe did not serve."""
    return row["outcome"] == "failed" or (row["outcome"] in ("rolled_back", "rolled_forward") and row.get("proved") is False)


def host_rows(result: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """One host's rows from its registered converge result, or one failed row saying why it has none (the
    task's failure is ignored by the play, so its ``failed`` flag is not to be trusted: no ``certificates``,
    no rollback)."""
    if result.get("unreachable"):
        why = "unreachable: %s" % (result.get("msg") or "no connection")
    elif "certificates" not in result:
        why = "the rollback task failed, nothing was rolled back: %s" % (result.get("msg") or "no message")
    elif not result["certificates"]:
        why = "nothing was rolled back: this host has no certificate in certwatch_certificates (or none named so)"
    else:
        return [dict(r, name=r.get("name") or "-") for r in result["certificates"]]
    return [{"name": "-", "outcome": "failed", "reason": why}]


def build_rollback_report(outcomes: t.Mapping[str, t.Sequence[t.Mapping[str, t.Any]]],
                          generated_at: str | None = None) -> dict[str, t.Any]:
    """One row per (host, certificate); a rollback (or roll forward) proved served is the wanted outcome here."""
    rows = [{k: v for k, v in dict(o, host=host).items() if k not in ("key", "key_content")}
            for host, items in outcomes.items() for o in items]
    rows.sort(key=lambda r: (not _failed(r), ORDER.index(r["outcome"]) if r["outcome"] in ORDER else 9, r["host"], r["name"]))
    counts = dict.fromkeys(OUTCOMES, 0)
    for row in rows:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    bad = [dict(r, outcome="failed", reason="%s: %s" % (r["outcome"].replace("_", " "), r.get("reason")))
           if r["outcome"] != "failed" else r for r in rows if _failed(r)]
    failed_hosts = sorted({r["host"] for r in bad})
    return {"kind": KIND, "generated_at": generated_at or epoch_iso(time.time()), "rows": rows, "counts": counts,
            "failed_hosts": failed_hosts, "ok": not failed_hosts, "problems": [], "failures": failures(bad)}


def _cert(generation: t.Any, fingerprint: t.Any) -> str:
    if not fingerprint:
        return "-"
    return ("gen %s " % generation if generation is not None else "") + str(fingerprint)[:11] + "..."


def _served(row: t.Mapping[str, t.Any]) -> str:
    proved = row.get("proved")
    return "proved" if proved is True else "NOT proved" if proved is False else "-"


def rollback_table(report: t.Mapping[str, t.Any]) -> str:
    """Text table: outcome, host, certificate, from, to (generation and fingerprint), served, reason; a total."""
    rows: list[tuple[str, ...]] = [("OUTCOME", "HOST", "CERTIFICATE", "FROM", "TO", "NOT AFTER", "SERVED", "REASON")]
    for row in report["rows"]:
        rows.append((row["outcome"].replace("_", " ").upper(), row["host"], str(row.get("name") or "-"),
                     _cert(row.get("from_generation"), row.get("attempted_fingerprint")),
                     _cert(row.get("generation"), row.get("fingerprint")), str(row.get("not_after") or "-"),
                     _served(row), str(row.get("reason") or "")))
    counts = report["counts"]
    lines = table(rows)
    lines.append("%d rolled back, %d rolled forward, %d repaired, %d unchanged, %d failed%s"
                 % (counts["rolled_back"], counts["rolled_forward"], counts["repaired"], counts["unchanged"],
                    counts["failed"], "" if report["ok"] else "; FAILED on %s" % ", ".join(report["failed_hosts"])))
    return "\n".join(lines)


def rollback_stats(report: t.Mapping[str, t.Any], paths: t.Mapping[str, str]) -> dict[str, t.Any]:
    """What set_stats publishes to AWX: the outcome and one short row per host and certificate."""
    keys = ("host", "name", "outcome", "reason", "from_generation", "attempted_fingerprint", "generation",
            "fingerprint", "not_after", "proved")
    return {"ok": report["ok"], "counts": report["counts"], "failed_hosts": report["failed_hosts"],
            "rows": [{k: r.get(k) for k in keys} for r in report["rows"]], **paths}


def rollback_html(report: t.Mapping[str, t.Any], title: str = "Certificate rollback") -> str:
    """The report as one self-contained HTML page (:func:`._run_html.rollback_page`)."""
    from .run_html import rollback_page

    return rollback_page(report, title)
