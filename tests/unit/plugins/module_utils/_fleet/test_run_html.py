# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTML page of a renew.yml / rollback.yml run (plugins/module_utils/_fleet/run_html.py): problems first, outcome
cards, the batch timeline, the CA and order of each row, escaped, self-contained, no key material. (Chromium
renders it in tests/integration/test_renew_html.py.)"""

from __future__ import annotations

import html
import pathlib
import re

from report_data import EVIL_HOST, HOSTILE, LONG_FP, ORDER_URL, OTHER_FP, renew_report, rollback_report

from ansible_collections.ghostguard.certs.plugins.module_utils import _time
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import renew_report as _renew_report
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import rollback_report as _rollback_report
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import run_html as _run_html


def section(page: str, start: str, end: str) -> str:
    begin = page.index(start)
    return page[begin:page.index(end, begin)]


def test_renew_page_puts_problems_first_with_each_kind_and_the_deferred_admit_time() -> None:
    page = _renew_report.html(renew_report())
    order = [page.index(m) for m in ('id="problems"', 'id="summary"', 'id="timeline"', 'id="orders"', 'id="rows"')]
    assert order == sorted(order)
    problems = section(page, 'id="problems"', 'id="summary"')
    kinds = re.findall(r'<h3 id="problem-(\w+)">[^<]+ \((\d+)\)</h3>', problems)
    # the rolled back row's proof found the old certificate served: a ghost too
    assert kinds == [("failed", "1"), ("rolled_back", "1"), ("ghost", "2"), ("deferred", "1"), ("stopped", "2")]
    ghost = section(problems, 'id="problem-ghost"', 'id="problem-deferred"')
    assert "<b>edge-3</b>" in ghost and "before this run; reloaded and proved serving its files" in ghost
    assert "<b>edge-2</b>" in ghost and "after its reload; rolled back: proof failed" in ghost
    deferred = section(problems, 'id="problem-deferred"', 'id="problem-stopped"')
    assert "<b>later</b>" in deferred and "admitted by the rate-limit budget from <b>2026-11-29T15:00:00Z</b>" in deferred
    assert "<b>edge-7</b>" in problems.split('id="problem-stopped"')[1] and "Problems (7)" in problems
    assert "Certificate renewal FAILED" in page


def test_cards_count_every_outcome_problems_first() -> None:
    report = renew_report()
    cards = re.findall(r'data-outcome="(\w+)"><b>(\d+)</b>', _run_html.renew_page(report))
    assert [c for c, _n in cards] == list(_run_html.RENEW_ORDER)
    assert {c: int(n) for c, n in cards} == report["counts"]
    assert 'class="card zero" style="background:#757575" data-outcome="skipped"' in _run_html.renew_page(report)


def test_timeline_shows_the_canary_then_each_batch_with_install_reload_proof_in_time_order() -> None:
    report = renew_report()
    timeline = section(_run_html.renew_page(report), 'id="timeline"', 'id="orders"')
    labels = re.findall(r'<h3 class="batch">([^<]+)</h3>', timeline)
    assert [label.split(":")[0] for label in labels] == ["Canary (batch 1)", "Batch 2", "Batch 3", "Batch 4"]
    assert labels[0] == "Canary (batch 1): edge-1"
    # one row per host of the batch, in batch order; every converged host shows its three steps
    batch2 = section(timeline, "Batch 2", "Batch 3")
    assert re.findall(r"<tr><td>([^<]*)</td>", batch2) == ["edge-2", html.escape(EVIL_HOST), "edge-3"]
    assert batch2.count("install 250 ms &rarr; reload 500 ms &rarr; proof 1.00 s") == 3
    # the bars sit on one time axis: each batch starts later than the one before
    lefts = [float(x) for x in re.findall(r'class="seg install" style="left:([\d.]+)%', timeline)]
    assert lefts == sorted(lefts) and lefts[0] == 0.0 and lefts[-1] > 50
    for left, width in re.findall(r'style="left:([\d.]+)%;width:([\d.]+)%"', timeline):
        assert float(left) + float(width) <= 100.0
    assert "not converged: stopped" in section(timeline, "Batch 4", "</section>")


def test_no_canary_batch_when_renew_canary_is_zero() -> None:
    groups = _run_html.batch_groups({"batches": [["a", "b"], ["c"]], "serial": ["50%"]})
    assert groups == [("Batch 1: a, b", ["a", "b"]), ("Batch 2: c", ["c"])]
    assert _run_html.batch_groups({"batches": [["a"], ["b"]], "serial": [1, "50%"]})[0][0] == "Canary (batch 1): a"


def test_timeline_of_rows_without_times_and_of_an_empty_run() -> None:
    report = renew_report()
    for row in report["rows"]:
        row.pop("started_at", None)
        row.pop("finished_at", None)
    timeline = section(_run_html.renew_page(report), 'id="timeline"', 'id="orders"')
    assert "class=\"seg" not in timeline and timeline.count("not converged: renewed") == 3
    empty = _run_html.renew_page({"rows": [], "counts": {}, "batches": [], "generated_at": "x", "ok": True})
    assert "No host was converged." in empty and 'class="problems clean"' in empty and "Problems (0)" in empty
    assert "Certificate renewal succeeded" in empty and 'id="orders"' not in empty


def test_ca_and_order_shown_when_present_and_not_needed() -> None:
    report = renew_report()
    orders_table = section(_run_html.renew_page(report), 'id="orders"', "</table>")
    assert ('pebble<br><span class="muted" title="the CA at https://primary.test is unreachable">after primary failed</span>'
            in orders_table)
    rows = {r["host"]: r for r in report["rows"]}
    orders = {o["id"]: o for o in report["orders"]}
    cell = _run_html.ca_and_order(rows["edge-1"], orders)       # the row's own ca wins over its order's
    assert cell.startswith("<b>primary-ca</b>") and "<code>%s</code>" % rows["edge-1"]["order"] in cell
    assert 'title="%s"' % ORDER_URL in cell and ORDER_URL not in cell.split("title=", maxsplit=1)[0]
    assert _run_html.ca_and_order(rows["edge-2"], orders).startswith("<b>pebble</b>")   # from its order
    assert _run_html.ca_and_order({"order": "set:x"}, {}) == "<code>set:x</code>"      # no CA known: no CA shown
    assert _run_html.ca_and_order({}, {}) == '<span class="muted">-</span>'
    for row in report["rows"]:
        row.pop("ca", None)
    for order in report["orders"]:
        order.pop("ca", None)
        order.pop("order_url", None)
    page = _run_html.renew_page(report)
    assert "pebble" not in page and "primary-ca" not in page and "CA " not in section(page, 'id="problems"', 'id="summary"')
    assert "<code>host:edge-2:web</code>" in page


def test_every_value_is_escaped_and_nothing_is_loaded() -> None:
    for page in (_run_html.renew_page(renew_report()), _run_html.rollback_page(rollback_report())):
        assert HOSTILE not in page and "<script" not in page and "<img" not in page
        assert html.escape(HOSTILE) in page    # shown as text, quotes escaped too (safe in a title attribute)
        assert not re.search(r"<(link|iframe|object|embed)\b|<[a-z][^>]*\b(src|href)=|url\(|@import", page)
        assert "SECRET-KEY" not in page
        assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_fingerprints_are_shortened_with_the_full_value_on_hover() -> None:
    assert _run_html.fingerprint(LONG_FP) == '<code title="%s">00:01:02:03\u20261e:1f</code>' % LONG_FP
    assert _run_html.fingerprint("aa:bb") == '<code title="aa:bb">aa:bb</code>'
    assert _run_html.fingerprint(None) == '<span class="muted">-</span>'
    rows = section(_run_html.renew_page(renew_report()), 'id="rows"', "</table>")
    assert ">%s<" % LONG_FP not in rows and 'title="%s"' % LONG_FP in rows
    # the table is laid out to the screen's width: fixed layout, column widths adding up to 100 %
    widths = [int(w) for w in re.findall(r'<col style="width:(\d+)%">', rows)]
    assert len(widths) == 9 and sum(widths) == 100


def test_rollback_page_problems_are_failures_and_restored_certificates_not_proved() -> None:
    report = rollback_report()
    page = _rollback_report.rollback_html(report)
    problems = section(page, 'id="problems"', 'id="summary"')
    assert re.findall(r'<h3 id="problem-(\w+)">', problems) == ["failed", "not_proved"]
    assert "<b>edge-3</b>" in problems and "<b>edge-1</b>" not in problems
    cards = dict(re.findall(r'data-outcome="(\w+)"><b>(\d+)</b>', page))
    assert cards == {k: str(v) for k, v in report["counts"].items()}
    rows = section(page, 'id="rows"', "</table>")
    assert re.findall(r'<tr class="(\w+)">', rows) == ["failed", "failed", "ok", "ok"]
    assert '<code title="%s">gen 3 00:01:02:03' % LONG_FP in rows and '<code title="%s">gen 2 ff:fe:fd:fc' % OTHER_FP in rows
    assert "<b>NOT proved</b>" in rows
    assert "All hosts (rollback.yml converges them together)" in page and page.count('class="seg proof"') == 3


def test_write_puts_the_page_beside_the_json(tmp_path: pathlib.Path) -> None:
    report = renew_report()
    out = _renew_report.write(str(tmp_path), None, report)
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == _run_html.renew_page(report)
    assert out["stats"]["report_html"] == str(tmp_path / "report.html")
    assert report["serial"] == [1, 3] and {o["order_url"] for o in report["orders"]} == {ORDER_URL}


def test_ghosts_seen_before_the_run_or_after_a_reload() -> None:
    assert _run_html._ghost({"states": ["ok", "ghost"], "outcome": "repaired"})
    assert _run_html._ghost({"failure": "ghost", "outcome": "rolled_back"})
    after = {"failure": "proof", "outcome": "rolled_back", "reason": "proof failed after install: 127.0.0.1:1 serves "
             "aa:bb... instead of cc:dd...; rolled back"}
    assert _run_html._ghost(after) and "after its reload" in _run_html._ghost_why(after)
    assert not _run_html._ghost({"failure": "proof", "outcome": "failed", "reason": "proof failed: 127.0.0.1:1: refused"})
    assert not _run_html._ghost({"failure": "reload", "outcome": "failed", "reason": "reload failed: exit 1"})
    assert _run_html.duration(0.0123) == "12 ms" and _run_html.duration(1.655) == "1.66 s"


def test_stamp_is_utc_to_the_millisecond() -> None:
    assert _time.stamp(1764806400.1234) == "2025-12-04T00:00:00.123Z"
    assert _time.stamp(1764806400.9999) == "2025-12-04T00:00:00.999Z"
    assert _run_html._epoch("2025-12-04T00:00:00.123Z") == 1764806400.123
    assert _run_html._epoch("2025-12-04T00:00:00Z") == 1764806400.0
    assert _run_html._epoch("not a time") is None and _run_html._epoch(None) is None
