# SPDX-License-Identifier: GPL-3.0-or-later
"""The report of a rollback.yml run (plugins/module_utils/_fleet/rollback_report.py): from which certificate to which,
proved or not; a restored certificate not proved served fails its host; no renewal counts, no key material."""

from __future__ import annotations

import json
import pathlib

from renew_data import NOW, fleet

from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import plan as _plan
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import renew_report as _renew_report
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import rollback_report as _rollback_report

OLD, NEW = "11:" * 31 + "11", "22:" * 31 + "22"


def moved(outcome: str = "rolled_back", proved: bool | None = True, **extra: object) -> dict[str, object]:
    return {"name": "edge", "outcome": outcome, "proved": proved, "from_generation": 3, "attempted_fingerprint": NEW,
            "generation": 2, "fingerprint": OLD, "not_after": "2027-01-01T00:00:00Z",
            "reason": "rolled back from generation 3 to generation 2", "key_content": "SECRET", **extra}


def test_report_names_both_certificates_and_counts_rollbacks_only(tmp_path: pathlib.Path) -> None:
    report = _rollback_report.build_rollback_report({
        "edge-1": [moved()], "edge-2": [moved("rolled_forward", from_generation=1)],
        "edge-3": [moved("unchanged", reason="already rolled back")], "edge-4": [moved(proved=None)]})
    assert report["ok"] and report["failed_hosts"] == [] and report["kind"] == "rollback"
    assert report["counts"] == {"rolled_back": 2, "rolled_forward": 1, "repaired": 0, "unchanged": 1, "failed": 0}
    assert "SECRET" not in json.dumps(report) and "orders_placed" not in report
    text = _rollback_report.rollback_table(report)
    lines = text.splitlines()
    assert lines[1].startswith("ROLLED BACK     edge-1  edge         gen 3 22:22:22:22...  gen 2 11:11:11:11...")
    assert "ROLLED FORWARD  edge-2  edge         gen 1 22:22:22:22..." in text
    assert lines[-1] == "2 rolled back, 1 rolled forward, 0 repaired, 1 unchanged, 0 failed"
    unproved = next(line for line in lines if line.startswith("ROLLED BACK     edge-4"))
    assert " proved " in lines[1] and " proved " not in unproved and "2027-01-01T00:00:00Z  -  " in unproved
    written = _renew_report.write(str(tmp_path), None, report, "Certificate rollback")
    assert written["changed"] is False and written["table"] == text
    assert (tmp_path / "report.txt").read_text() == text + "\n"
    page = (tmp_path / "report.html").read_text()
    assert "Certificate rollback succeeded" in page and "<th>From</th><th>To</th>" in page and 'title="%s"' % NEW in page
    stats = written["stats"]
    assert stats["rows"][0]["attempted_fingerprint"] == NEW and stats["rows"][0]["fingerprint"] == OLD
    assert "orders_placed" not in stats and stats["report_json"] == str(tmp_path / "report.json")


def test_a_rollback_not_proved_served_fails_its_host() -> None:
    report = _rollback_report.build_rollback_report({"edge-1": [moved(proved=False, reason="NOT proved served")],
                                                     "edge-2": [moved()]})
    assert not report["ok"] and report["failed_hosts"] == ["edge-1"]
    assert report["failures"] == {"edge-1": ["edge: failed - rolled back: NOT proved served"]}
    assert report["rows"][0]["host"] == "edge-1"  # problems first
    assert _rollback_report.rollback_table(report).splitlines()[-1].endswith("; FAILED on edge-1")


def test_host_rows_never_let_a_failed_or_empty_task_pass_for_a_rollback() -> None:
    ignored = {"failed": False, "failed_when_result": False, "msg": "value of rollback_to must be one of: previous"}
    assert _rollback_report.host_rows(ignored) == [{"name": "-", "outcome": "failed", "reason": (
        "the rollback task failed, nothing was rolled back: value of rollback_to must be one of: previous")}]
    [lost] = _rollback_report.host_rows({"unreachable": True, "msg": "ssh: timeout"})
    assert lost["outcome"] == "failed" and lost["reason"] == "unreachable: ssh: timeout"
    [empty] = _rollback_report.host_rows({"certificates": []})
    assert empty["outcome"] == "failed" and empty["reason"].startswith("nothing was rolled back: this host has no certificate")
    assert _rollback_report.host_rows({"certificates": [moved(name=None)]})[0]["name"] == "-"
    report = _rollback_report.build_rollback_report({"a": _rollback_report.host_rows(ignored)})
    assert not report["ok"] and report["failed_hosts"] == ["a"]


def test_renew_report_writes_are_no_change(tmp_path: pathlib.Path) -> None:
    plan = _plan.build_plan(fleet({"api-1": True, "api-2": True, "solo": False, "idle": False}),
                            {"canary": 1, "batch": 1, "store": "/s"}, [], NOW)
    dry = _renew_report.write(str(tmp_path / "dry"), plan, None)
    assert dry["changed"] is False and dry["files"] == [str(tmp_path / "dry" / "plan.json")]
    full = _renew_report.write(str(tmp_path / "run"), plan, _renew_report.build_report(plan, {}, {}))
    assert full["changed"] is False and len(full["files"]) == 4 and "orders placed" in full["table"]
