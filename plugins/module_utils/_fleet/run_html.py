# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTML page of a renew.yml or rollback.yml run (:func:`renew_page`, :func:`rollback_page`), built from
the report of :mod:`.renew_report` / :mod:`.rollback_report`.

Problems first (failed, rolled back, ghosts, deferred with the time the rate-limit budget admits them,
stopped), then one card per outcome with its count, the timeline of the roll (the canary, then each batch;
per host and certificate its install, reload and proof, placed at the time it ran), the orders with their CA,
and one row per host and certificate.  One self-contained page: inline CSS, no script, nothing loaded; every
value escaped; it fits a 1366 px wide screen (fixed table layout, long values wrap, fingerprints shortened
with the full value in a ``title``).  A row's ``ca``, ``order`` and ``order_url`` are shown when present.
Plain Python, no Ansible import."""

from __future__ import annotations

import datetime as _dt
import html as _html
import typing as t

from .._domains import display

COLORS = {"failed": "#c62828", "rolled_back": "#ef6c00", "stopped": "#6d4c41", "deferred": "#f9a825",
          "repaired": "#1565c0", "renewed": "#2e7d32", "rolled_forward": "#00838f", "skipped": "#757575",
          "unchanged": "#546e7a"}
STEPS = ("install", "reload", "proof")

STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;font-size:14px}
h1{margin-bottom:.2em}.meta{color:#555;margin-top:0}
.problems{border:2px solid #c62828;border-radius:6px;padding:.3em 1em;background:#fff5f5}
.problems.clean{border-color:#2e7d32;background:#f3fbf3}
.problems li{margin:.2em 0;overflow-wrap:anywhere}
.cards{display:flex;flex-wrap:wrap;gap:.6em;margin:1em 0}
.card{border-radius:6px;padding:.4em 1em;color:#fff;min-width:7em}
.card b{display:block;font-size:1.8em}.card.zero{opacity:.35}
table{border-collapse:collapse;width:100%;table-layout:fixed;margin-bottom:1.2em}
th,td{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f4f4f4}
tr.failed,tr.rolled_back{background:#fdd}tr.stopped,tr.skipped,tr.deferred{background:#ffd}
tr.renewed,tr.repaired,tr.rolled_forward,tr.ok{background:#efe}
code{font-size:12px}
.badge{color:#fff;border-radius:3px;padding:0 5px;font-size:12px;white-space:nowrap}
.track{position:relative;height:16px;background:#f4f4f4;border:1px solid #ddd;border-radius:3px;overflow:hidden}
.seg{position:absolute;top:0;height:100%;min-width:2px}
.seg.install{background:#1565c0}.seg.reload{background:#ef6c00}.seg.proof{background:#2e7d32}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
.muted{color:#777}
"""


def esc(value: t.Any) -> str:
    """*value* as HTML text (also safe inside a quoted attribute); None is empty."""
    return _html.escape("" if value is None else str(value), quote=True)


def fingerprint(value: t.Any, label: str = "") -> str:
    """A fingerprint shortened to its first four and last two bytes, the full value in the title."""
    if not value:
        return '<span class="muted">-</span>'
    text = str(value)
    pairs = text.split(":")
    short = text if len(pairs) <= 7 else ":".join(pairs[:4]) + "\u2026" + ":".join(pairs[-2:])
    return '<code title="%s">%s%s</code>' % (esc(text), esc(label), esc(short))


def _badge(outcome: str) -> str:
    return '<span class="badge" style="background:%s">%s</span>' % (COLORS.get(outcome, "#555"), esc(outcome.replace("_", " ")))


def _epoch(value: t.Any) -> float | None:
    """Seconds since the epoch of an ISO 8601 UTC time (``...Z``, with or without milliseconds); None otherwise."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=moment.tzinfo or _dt.timezone.utc).timestamp()


def _timing(row: t.Mapping[str, t.Any], step: str) -> float:
    value = (row.get("timings") or {}).get(step)
    return float(value) if isinstance(value, (int, float)) else 0.0


def _names(row: t.Mapping[str, t.Any]) -> str:
    return ",".join(display(n) for n in row.get("domains") or []) or "-"  # as the text table (names_of)


def _order_info(report: t.Mapping[str, t.Any]) -> dict[str, t.Mapping[str, t.Any]]:
    return {str(o.get("id")): o for o in report.get("orders") or [] if isinstance(o, t.Mapping)}


def ca_and_order(row: t.Mapping[str, t.Any], orders: t.Mapping[str, t.Mapping[str, t.Any]]) -> str:
    """A row's CA and order (its id, and the CA's order URL shortened, in full in the title), when known."""
    order = orders.get(str(row.get("order"))) or {}
    ca, url = row.get("ca") or order.get("ca"), row.get("order_url") or order.get("order_url")
    parts = ["<b>%s</b>" % esc(ca)] if ca else []
    if row.get("order"):
        parts.append("<code>%s</code>" % esc(row["order"]))
    if url:
        tail = str(url).rstrip("/").rsplit("/", 1)[-1]
        parts.append('<code title="%s">\u2026/%s</code>' % (esc(url), esc(tail[:16] + ("\u2026" if len(tail) > 16 else ""))))
    return "<br>".join(parts) or '<span class="muted">-</span>'


# ----------------------------------------------------------------------------- problems and cards


def _ghost(row: t.Mapping[str, t.Any]) -> bool:
    """Served another certificate than its files: seen so before the run acted, a watching service that never
    picked up its files, or a proof after a reload that found the old certificate still served (the converge
    result's reason then says ``<endpoint> serves <fingerprint> instead of <fingerprint>``)."""
    if "ghost" in (row.get("states") or []) or row.get("failure") == "ghost":
        return True
    return row.get("failure") == "proof" and " instead of " in str(row.get("reason") or "")


def _deferred_why(row: t.Mapping[str, t.Any]) -> str:
    admit = row.get("admit_at")
    return ("admitted by the rate-limit budget from <b>%s</b>" % esc(admit) if admit
            else "not admitted within 30 days") + "; %s" % esc(row.get("reason"))


def _ghost_why(row: t.Mapping[str, t.Any]) -> str:
    done = {"repaired": "reloaded and proved serving its files", "renewed": "renewed and proved"}.get(row["outcome"])
    when = "after its reload" if row.get("failure") in ("proof", "ghost") else "before this run"
    return "served another certificate than its files %s; " % when + (esc(done) if done else "%s: %s" % (
        esc(row["outcome"].replace("_", " ")), esc(row.get("reason"))))


Kind = tuple[str, str, t.Callable[[t.Mapping[str, t.Any]], bool], t.Callable[[t.Mapping[str, t.Any]], str]]


def problems(report: t.Mapping[str, t.Any], kinds: t.Sequence[Kind], clean: str) -> str:
    """The problems section: the run's problems, then per kind (id, title, which rows, why) the rows it holds."""
    orders = _order_info(report)
    found = [(key, title, [r for r in report["rows"] if pick(r)], why) for key, title, pick, why in kinds]
    total = len(report.get("problems") or []) + sum(len(rows) for _k, _t, rows, _w in found)
    parts = ['<section id="problems" class="problems%s"><h2>Problems (%d)</h2>' % ("" if total else " clean", total)]
    if not total:
        parts.append("<p>%s</p>" % esc(clean))
    parts.extend('<p class="run-problem"><b>The run:</b> %s</p>' % esc(p) for p in report.get("problems") or [])
    for key, title, rows, why in found:
        if not rows:
            continue
        parts.append('<h3 id="problem-%s">%s (%d)</h3><ul>' % (key, esc(title), len(rows)))
        for row in rows:
            ca = (row.get("ca") or (orders.get(str(row.get("order"))) or {}).get("ca"))
            parts.append("<li><b>%s</b> &middot; %s%s: %s</li>" % (
                esc(row["host"]), esc(row.get("name") or "-"), " &middot; CA %s" % esc(ca) if ca else "", why(row)))
        parts.append("</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def cards(counts: t.Mapping[str, int], order: t.Sequence[str]) -> str:
    """One card per outcome with its count, in *order* (problems first); an outcome with none is faded."""
    parts = ['<div class="cards" id="summary">']
    for outcome in list(order) + [k for k in counts if k not in order]:
        n = int(counts.get(outcome, 0))
        parts.append('<div class="card%s" style="background:%s" data-outcome="%s"><b>%d</b>%s</div>' % (
            "" if n else " zero", COLORS.get(outcome, "#555"), esc(outcome), n, esc(outcome.replace("_", " "))))
    parts.append("</div>")
    return "\n".join(parts)


# ----------------------------------------------------------------------------- the timeline


def _span(rows: t.Sequence[t.Mapping[str, t.Any]]) -> tuple[float, float]:
    """(start, length in seconds) of the converge steps of *rows* (length at least 1 ms)."""
    starts = [s for s in (_epoch(r.get("started_at")) for r in rows) if s is not None]
    if not starts:
        return 0.0, 0.001
    ends = [max(_epoch(r.get("finished_at")) or 0.0, (_epoch(r.get("started_at")) or 0.0) + sum(_timing(r, s) for s in STEPS))
            for r in rows if _epoch(r.get("started_at")) is not None]
    return min(starts), max(max(ends) - min(starts), 0.001)


def _bar(row: t.Mapping[str, t.Any], start: float, length: float) -> str:
    """The row's install, reload and proof placed on the run's time axis (percentages: never wider than the cell)."""
    began = _epoch(row.get("started_at"))
    if began is None:
        return '<span class="muted">not converged%s</span>' % (": %s" % esc(row["outcome"].replace("_", " ")))
    at = (began - start) / length * 100.0
    segs = []
    for step in STEPS:
        took = _timing(row, step)
        width = took / length * 100.0
        if took > 0:
            left = min(at, 99.5)
            segs.append('<div class="seg %s" style="left:%.2f%%;width:%.2f%%" title="%s %s"></div>'
                        % (step, left, min(width, 100.0 - left), step, duration(took)))
        at += width
    return '<div class="track" title="started %s">%s</div>' % (esc(row.get("started_at")), "".join(segs))


def _steps_text(row: t.Mapping[str, t.Any], start: float) -> str:
    began = _epoch(row.get("started_at"))
    if began is None:
        return '<span class="muted">-</span>'
    return "+%s: %s" % (duration(began - start), " &rarr; ".join("%s %s" % (s, duration(_timing(row, s))) for s in STEPS))


def duration(seconds: float) -> str:
    """``850 ms`` under a second, else ``1.65 s``."""
    return "%d ms" % round(seconds * 1000) if seconds < 1 else "%.2f s" % seconds


def timeline(report: t.Mapping[str, t.Any], groups: t.Sequence[tuple[str, t.Sequence[str]]]) -> str:
    """The timeline section: per group of hosts (the canary, each batch), per host and certificate, when its
    install, reload and proof ran and how long each took, on one time axis for the whole roll."""
    by_host: dict[str, list[t.Mapping[str, t.Any]]] = {}
    for row in report["rows"]:
        by_host.setdefault(str(row["host"]), []).append(row)
    shown = [r for _label, hosts in groups for h in hosts for r in by_host.get(str(h), [])]
    start, length = _span(shown)
    parts = ['<section id="timeline"><h2>Timeline</h2>',
             '<p class="legend">Each bar is the whole roll (%s); per host and certificate:'
             '<span style="background:#1565c0"></span>install &rarr;'
             '<span style="background:#ef6c00"></span>reload &rarr;<span style="background:#2e7d32"></span>proof</p>'
             % duration(length)]
    if not shown:
        parts.append("<p>No host was converged.</p>")
    for label, hosts in groups:
        rows = [r for h in hosts for r in by_host.get(str(h), [])]
        if not rows:
            continue
        parts.append('<h3 class="batch">%s</h3>' % esc(label))
        parts.append('<table class="steps"><colgroup><col style="width:13%"><col style="width:11%"><col style="width:9%">'
                     '<col style="width:27%"><col style="width:40%"></colgroup><thead><tr><th>Host</th><th>Certificate</th>'
                     "<th>Outcome</th><th>Start &middot; install &rarr; reload &rarr; proof</th><th>On the roll's time axis</th>"
                     "</tr></thead><tbody>")
        for row in rows:
            parts.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
                esc(row["host"]), esc(row.get("name") or "-"), _badge(str(row["outcome"])), _steps_text(row, start),
                _bar(row, start, length)))
        parts.append("</tbody></table>")
    parts.append("</section>")
    return "\n".join(parts)


def batch_groups(report: t.Mapping[str, t.Any]) -> list[tuple[str, list[str]]]:
    """renew.yml's groups: the canary batch (when the plan had one), then each batch, in roll order."""
    batches = [list(b) for b in report.get("batches") or []]
    canary = len(report.get("serial") or []) > 1
    return [("Canary (batch 1): %s" % ", ".join(b) if canary and i == 0 else "Batch %d: %s" % (i + 1, ", ".join(b)), b)
            for i, b in enumerate(batches)]


# ----------------------------------------------------------------------------- pages


def _page(title: str, report: t.Mapping[str, t.Any], meta: str, body: t.Sequence[str]) -> str:
    head = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>%s %s</title><style>%s</style></head><body>" % (esc(title), esc(report.get("generated_at")), STYLE),
            "<h1>%s %s</h1>" % (esc(title), "succeeded" if report.get("ok") else "FAILED"),
            '<p class="meta">Generated %s &middot; %s</p>' % (esc(report.get("generated_at")), meta)]
    return "\n".join([*head, *body, "</body></html>"]) + "\n"


def _table(table_id: str, columns: t.Sequence[tuple[str, int]], rows: t.Iterable[tuple[str, t.Sequence[str]]]) -> str:
    """A fixed-layout table (column widths in percent); each row is (CSS class, cells as HTML)."""
    parts = ['<table id="%s"><colgroup>%s</colgroup><thead><tr>%s</tr></thead><tbody>' % (
        table_id, "".join('<col style="width:%d%%">' % w for _c, w in columns), "".join("<th>%s</th>" % esc(c) for c, _w in columns))]
    parts.extend('<tr class="%s">%s</tr>' % (esc(cls), "".join("<td>%s</td>" % c for c in cells)) for cls, cells in rows)
    parts.append("</tbody></table>")
    return "\n".join(parts)


def _ca_tried(order: t.Mapping[str, t.Any]) -> str:
    """An order's CA, and the CAs that failed it before (``tried``: ``{ca, msg}``, the message in the title)."""
    tried = ['<span class="muted" title="%s">after %s failed</span>' % (esc(x.get("msg")), esc(x.get("ca")))
             for x in order.get("tried") or [] if isinstance(x, t.Mapping)]
    return "<br>".join([esc(order.get("ca") or "-"), *tried])


RENEW_ORDER = ("failed", "rolled_back", "stopped", "deferred", "repaired", "renewed", "skipped", "unchanged")
RENEW_PROBLEMS = (
    ("failed", "Failed", lambda r: r["outcome"] == "failed", lambda r: esc(r.get("reason"))),
    ("rolled_back", "Rolled back", lambda r: r["outcome"] == "rolled_back", lambda r: esc(r.get("reason"))),
    ("ghost", "Ghosts", _ghost, _ghost_why),
    ("deferred", "Deferred", lambda r: r["outcome"] == "deferred", _deferred_why),
    ("stopped", "Stopped", lambda r: r["outcome"] == "stopped", lambda r: esc(r.get("reason"))),
)


def renew_page(report: t.Mapping[str, t.Any], title: str = "Certificate renewal") -> str:
    """renew.yml's report as one self-contained HTML page."""
    orders = _order_info(report)
    hosts = sorted({str(r["host"]) for r in report["rows"]})
    meta = "%d hosts &middot; %d certificates &middot; %d orders placed &middot; %d batches" % (
        len(hosts), len(report["rows"]), int(report.get("orders_placed") or 0), len(report.get("batches") or []))
    rows = [(str(r["outcome"]), [
        _badge(str(r["outcome"])), esc(r["host"]), esc(r.get("name") or "-"), esc(_names(r)), ca_and_order(r, orders),
        esc(r.get("batch") or "-"), esc(r.get("not_after") or "-"), fingerprint(r.get("fingerprint")), esc(r.get("reason"))])
        for r in report["rows"]]
    order_rows = [("" if o.get("ok") else "failed", [
        "<code>%s</code>" % esc(o.get("id")), _ca_tried(o),
        "failed" if not o.get("ok") else "ordered" if o.get("ordered") else "reused" if o.get("reused") else "ready",
        esc(o.get("not_after") or "-"), ca_and_order({"order_url": o.get("order_url")}, {}) if o.get("order_url") else "-",
        esc(o.get("msg") or "")]) for o in orders.values()]
    clean = "Nothing failed, rolled back, deferred or stopped, and no service served another certificate than its files."
    body = [problems(report, RENEW_PROBLEMS, clean), "<h2>Outcomes</h2>", cards(report["counts"], RENEW_ORDER),
            timeline(report, batch_groups(report))]
    if order_rows:
        columns = [("Order", 24), ("CA", 14), ("Result", 9), ("Not after", 14), ("Order URL", 14), ("Message", 25)]
        body += ["<h2>Orders</h2>", _table("orders", columns, order_rows)]
    body += ["<h2>Certificates</h2>", _table("rows", [
        ("Outcome", 8), ("Host", 9), ("Certificate", 8), ("Names", 13), ("CA / order", 13), ("Batch", 5),
        ("Not after", 10), ("Fingerprint", 11), ("Reason", 23)], rows)]
    return _page(title, report, meta, body)


ROLLBACK_ORDER = ("failed", "rolled_back", "rolled_forward", "repaired", "unchanged")


def rollback_page(report: t.Mapping[str, t.Any], title: str = "Certificate rollback") -> str:
    """rollback.yml's report as one self-contained HTML page (a rollback proved served is the wanted outcome:
    the problems are the failed rows and the restored certificates not proved served)."""
    def served(row: t.Mapping[str, t.Any]) -> str:
        return {True: "proved", False: "<b>NOT proved</b>"}.get(row.get("proved"), "-")  # type: ignore[arg-type]

    kinds = (
        ("failed", "Failed", lambda r: r["outcome"] == "failed", lambda r: esc(r.get("reason"))),
        ("not_proved", "Restored but NOT proved served", lambda r: r["outcome"] != "failed" and r.get("proved") is False,
         lambda r: esc(r.get("reason"))),
        ("ghost", "Ghosts", _ghost, _ghost_why),
    )
    hosts = sorted({str(r["host"]) for r in report["rows"]})
    rows = [("failed" if r["outcome"] == "failed" or r.get("proved") is False else "ok", [
        _badge(str(r["outcome"])), esc(r["host"]), esc(r.get("name") or "-"),
        fingerprint(r.get("attempted_fingerprint"), "" if r.get("from_generation") is None else "gen %s " % r["from_generation"]),
        fingerprint(r.get("fingerprint"), "" if r.get("generation") is None else "gen %s " % r["generation"]),
        esc(r.get("not_after") or "-"), served(r), esc(r.get("reason"))]) for r in report["rows"]]
    body = [problems(report, kinds, "Every rollback was proved served by a handshake; no service served another "
                                    "certificate than its files."), "<h2>Outcomes</h2>", cards(report["counts"], ROLLBACK_ORDER),
            timeline(report, [("All hosts (rollback.yml converges them together)", hosts)]),
            "<h2>Certificates</h2>", _table("rows", [("Outcome", 9), ("Host", 10), ("Certificate", 9), ("From", 14), ("To", 14),
                                                     ("Not after", 11), ("Served", 7), ("Reason", 26)], rows)]
    return _page(title, report, "%d hosts &middot; %d certificates" % (len(hosts), len(report["rows"])), body)
