# SPDX-License-Identifier: GPL-3.0-or-later
"""expiry_info through real Ansible on localhost."""

from __future__ import annotations

import datetime as dt
import pathlib

from ansible_run import run_module
from certgen import TestCA, now


def test_module_reports_due_and_errors(tmp_path: pathlib.Path) -> None:
    ca = TestCA()
    ca.issue(["fine.test"], days=90).write(str(tmp_path), "fine")
    ca.issue(["old.test"], days=30, not_before=now() - dt.timedelta(days=31)).write(str(tmp_path), "old")
    (tmp_path / "broken.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n")
    run = run_module("ghostguard.certs.expiry_info", {"paths": [str(tmp_path)], "key_match": True})
    assert run.rc == 0, run.stdout + run.stderr
    res = run.result
    assert res["changed"] is False
    assert [c["status"] for c in res["certificates"]] == ["expired", "ok"]
    assert res["due"] == [str(tmp_path / "old.pem")]
    assert res["errors"][0]["path"] == str(tmp_path / "broken.pem")
    assert res["summary"]["counts"]["expired"] == 1
    assert res["certificates"][1]["key_match"] is True


def test_module_fail_on_invalid(tmp_path: pathlib.Path) -> None:
    (tmp_path / "broken.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n")
    run = run_module("ghostguard.certs.expiry_info", {"paths": [str(tmp_path / "broken.pem")], "fail_on_invalid": True})
    assert run.rc != 0
    assert run.result.get("failed") is True
    assert "broken.pem" in run.result["msg"]
