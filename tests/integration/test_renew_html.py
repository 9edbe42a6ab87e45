# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""renew.yml's and rollback.yml's HTML report as a person sees it, in real headless Chromium, offline, at 1366 px.

First the measuring itself (a page too wide and a page that logs an error are caught), then pages made in code
with every outcome and markup in a host and a certificate name, then the pages of real runs: renew.yml over four
loopback hosts against the lab (a canary, then batches; one service ignores its reloads, is rolled back and
stops the roll) and rollback.yml on the canary. Each page: no horizontal scroll at 1366 px, no console message,
no element made from a name; the screenshots stay in tests/output/renew-report/.
"""

from __future__ import annotations

import html
import json
import os
import pathlib
import re
import typing as t

import pytest
from ansible_run import ROOT, run_playbook
from chromium import WIDTH, render
from conftest import LabHandle
from fleet import DUE, CertSpec, Fleet, HostSpec, read_json
from report_data import EVIL_HOST, HOSTILE, renew_report, rollback_report

from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import run_html as _run_html

OUT = pathlib.Path(ROOT) / "tests" / "output" / "renew-report"
RENEW = os.path.join(ROOT, "playbooks", "renew.yml")
ROLLBACK = os.path.join(ROOT, "playbooks", "rollback.yml")


def seen_cleanly(page: pathlib.Path, name: str) -> str:
    """Render *page* as *name*.png in OUT; it fits WIDTH, logs nothing, and no name became an element."""
    copy = OUT / (name + ".html")
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(page.read_text(encoding="utf-8"), encoding="utf-8")
    seen = render(copy, OUT)
    assert seen.scroll_width <= WIDTH, "horizontal scroll: %d px wide at %d px" % (seen.scroll_width, WIDTH)
    assert seen.console == [], seen.console
    data = seen.screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000
    body = seen.dom[seen.dom.index("<body"):]
    assert "<script" not in body and "<img" not in body and 'id="problems"' in body
    return seen.dom


def test_the_measure_catches_a_wide_page_and_a_console_error(tmp_path: pathlib.Path) -> None:
    wide = tmp_path / "wide.html"
    wide.write_text('<!DOCTYPE html><html><body><div style="width:2000px">x</div>'
                    "<script>console.error('seen')</script></body></html>")
    seen = render(wide, tmp_path)
    assert seen.scroll_width > WIDTH
    assert len(seen.console) == 2 and all('"seen"' in line for line in seen.console)   # screenshot run and DOM run


@pytest.mark.parametrize("kind", ["renew", "rollback"])
def test_pages_with_every_outcome_and_markup_in_names(kind: str, tmp_path: pathlib.Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(_run_html.renew_page(renew_report()) if kind == "renew" else _run_html.rollback_page(rollback_report()),
                    encoding="utf-8")
    dom = seen_cleanly(page, "made-%s" % kind)
    # the names are text: Chromium shows them as written (the DOM holds them escaped, never as elements)
    assert html.escape(EVIL_HOST, quote=False) in dom and html.escape(HOSTILE, quote=False) in dom


# ----------------------------------------------------------------------------- real runs


@pytest.fixture(scope="module")
def runs(lab: LabHandle, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[dict[str, t.Any]]:
    """renew.yml (canary 1, batches of 2; the second host ignores its reloads) then rollback.yml on the canary."""
    lab.proxy_control()
    base = tmp_path_factory.mktemp("renew-html")
    spec = [HostSpec("hx-edge-1", "edge", "grpc", CertSpec("edge", ["hxedge1.example.test"], **DUE)),
            HostSpec("hx-edge-2", "edge", "grpc", CertSpec("edge", ["hxedge2.example.test"], **DUE)),
            HostSpec("hx-api-1", "api", "nginx", CertSpec("api", ["hxapi.example.test"], **DUE)),
            HostSpec("hx-api-2", "api", "nginx", CertSpec("api", ["hxapi.example.test"], **DUE))]
    fleet = Fleet(str(base / "fleet"), lab.info, spec).start()
    try:
        fleet.set_ghost("hx-edge-2", True)
        renew_dir, rollback_dir = base / "renew-report", base / "rollback-report"
        renewed = run_playbook(RENEW, {"renew_store": fleet.store, "renew_report_dir": str(renew_dir), "renew_canary": 1,
                                       "renew_batch": 2, "renew_probe_retry_delay": 0.25, "renew_probe_retries": 8},
                               inventory=fleet.inventory, args=fleet.vault_args, timeout=900)
        report = read_json(str(renew_dir / "report.json"))
        canary = report["batches"][0][0]
        rolled = run_playbook(ROLLBACK, {"rollback_hosts": canary, "rollback_report_dir": str(rollback_dir),
                                         "renew_probe_retry_delay": 0.25},
                              inventory=fleet.inventory, args=fleet.vault_args)
        yield {"renew": renewed, "renew_dir": renew_dir, "report": report, "rollback": rolled, "rollback_dir": rollback_dir,
               "canary": canary}
    finally:
        fleet.stop()


def test_renew_run_page_has_problems_cards_timeline_and_orders(runs: dict[str, t.Any]) -> None:
    proc, report = runs["renew"], runs["report"]
    assert proc.returncode == 2, proc.stdout[-4000:] + proc.stderr[-2000:]    # the ghost failed its host
    page = (runs["renew_dir"] / "report.html").read_text(encoding="utf-8")
    rows = {(r["host"], r["name"]): r for r in report["rows"]}
    assert rows[("hx-edge-2", "edge")]["outcome"] == "rolled_back"
    # problems first: the ghost's rollback, and the hosts the failure stopped
    problems = page[page.index('id="problems"'):page.index('id="summary"')]
    assert 'id="problem-rolled_back"' in problems and "<b>hx-edge-2</b>" in problems
    ghosts = problems[problems.index('id="problem-ghost"'):]
    assert "<b>hx-edge-2</b>" in ghosts and "served another certificate than its files after its reload" in ghosts
    stopped = [r["host"] for r in report["rows"] if r["outcome"] == "stopped"]
    assert stopped and all("<b>%s</b>" % h in problems for h in stopped)
    # a card per outcome, with the counts of report.json
    cards = dict(re.findall(r'data-outcome="(\w+)"><b>(\d+)</b>', page))
    assert cards == {k: str(v) for k, v in report["counts"].items()}
    # the timeline: canary, then each batch of the plan, in order; every converged row has its three steps and
    # the times the converge module measured
    timeline = page[page.index('id="timeline"'):page.index("</section>", page.index('id="timeline"'))]
    labels = re.findall(r'<h3 class="batch">([^<]+)</h3>', timeline)
    assert labels[0] == "Canary (batch 1): %s" % runs["canary"]
    expected = ["Batch %d: %s" % (i + 1, ", ".join(b)) for i, b in enumerate(report["batches"])]
    expected[0] = "Canary (batch 1): %s" % ", ".join(report["batches"][0])
    assert labels == expected and len(labels) == 3
    converged = [r for r in report["rows"] if r.get("started_at")]
    assert {r["host"] for r in converged} >= {runs["canary"], "hx-edge-2"}
    for row in converged:
        assert row["finished_at"] >= row["started_at"] and set(row["timings"]) == {"install", "reload", "proof"}
        assert " &rarr; ".join("%s %s" % (s, _run_html.duration(row["timings"][s])) for s in _run_html.STEPS) in timeline
    assert timeline.count('class="seg proof"') == sum(1 for r in converged if r["timings"]["proof"] > 0) > 0
    # the orders, and each row's order
    for order in report["orders"]:
        assert "<code>%s</code>" % html.escape(order["id"]) in page
    assert "<code>%s</code>" % html.escape(rows[(runs["canary"], "edge")]["order"]) in page.split('id="rows"')[1]
    assert rows[(runs["canary"], "edge")].get("ca")   # the CA that issued it, named in the report (several CAs)
    for row in report["rows"]:
        if row.get("ca") and row.get("order"):
            assert "<b>%s</b><br><code>%s</code>" % (html.escape(row["ca"]), html.escape(row["order"])) in page
    assert 'title="%s"' % rows[(runs["canary"], "edge")]["fingerprint"] in page
    seen_cleanly(runs["renew_dir"] / "report.html", "fleet-renew")


def test_rollback_run_page(runs: dict[str, t.Any]) -> None:
    proc = runs["rollback"]
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    report = json.loads((runs["rollback_dir"] / "report.json").read_text())
    [row] = report["rows"]
    assert row["outcome"] == "rolled_back" and row["proved"] is True and row["started_at"] <= row["finished_at"]
    page = (runs["rollback_dir"] / "report.html").read_text(encoding="utf-8")
    assert "Certificate rollback succeeded" in page and "Problems (0)" in page and "Every rollback was proved served" in page
    assert 'data-outcome="rolled_back"><b>1</b>' in page and '<tr class="ok">' in page
    assert 'title="%s">gen %s ' % (row["attempted_fingerprint"], row["from_generation"]) in page
    assert 'title="%s">gen %s ' % (row["fingerprint"], row["generation"]) in page
    assert page.count('class="seg proof"') == 1
    seen_cleanly(runs["rollback_dir"] / "report.html", "fleet-rollback")
