# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/audit.yml through real ansible-playbook on a local multi-host inventory."""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import sys

import pytest
from ansible_run import ROOT, run_playbook
from certgen import TestCA, now

PLAYBOOK = os.path.join(ROOT, "playbooks", "audit.yml")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    base = tmp_path_factory.mktemp("fleet")
    ca = TestCA("audit CA")
    ca.issue(["a1.test"], days=90, not_before=now() - dt.timedelta(days=10)).write(str(base / "alpha"), "ok")
    ca.issue(["a2.test"], days=30, not_before=now() - dt.timedelta(days=31)).write(str(base / "alpha"), "old")
    ca.issue(["b1.test"], days=6, not_before=now() - dt.timedelta(days=5)).write(str(base / "beta"), "short")
    ca.issue(["b2.test"], days=90, not_before=now() - dt.timedelta(days=65)).write(str(base / "beta" / "sub"), "due")
    (base / "beta" / "junk.pem").write_text("not a certificate")
    inventory = base / "inventory.ini"
    inventory.write_text(
        "[fleet]\n"
        "alpha audit_paths='[\"%s\"]'\n"
        "beta audit_paths='[\"%s\"]'\n"
        "ghost ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=1 ansible_ssh_common_args='-o ConnectTimeout=2'\n"
        "[fleet:vars]\nansible_python_interpreter=%s\n"
        "[local]\nalpha\nbeta\n[local:vars]\nansible_connection=local\n" % (base / "alpha", base / "beta", sys.executable)
    )
    return base


def test_audit_report_json_html_table_and_stats(fleet: pathlib.Path) -> None:
    out = fleet / "report"
    proc = run_playbook(PLAYBOOK, {"audit_hosts": "fleet", "audit_report_dir": str(out)},
                        inventory=str(fleet / "inventory.ini"), ANSIBLE_SHOW_CUSTOM_STATS="true")
    assert proc.returncode in (0, 4), proc.stdout + proc.stderr  # 4: the unreachable host
    report = json.loads((out / "report.json").read_text())
    rows = [(r["host"], os.path.basename(r["path"]), r["status"]) for r in report["certificates"]]
    # soonest expiry first, across hosts; the subdirectory is found because audit_recurse defaults to true
    assert rows == [("alpha", "old.pem", "expired"), ("beta", "short.pem", "critical"),
                    ("beta", "due.pem", "due"), ("alpha", "ok.pem", "ok")]
    assert report["summary"]["counts"]["expired"] == 1 and report["summary"]["total"] == 4
    assert [(e["host"], os.path.basename(e["path"])) for e in report["errors"]] == [("beta", "junk.pem")]
    assert report["failed_hosts"] == [{"host": "ghost", "reason": "unreachable", "msg": report["failed_hosts"][0]["msg"]}]
    assert all(r["key_match"] is True for r in report["certificates"])
    html = (out / "report.html").read_text()
    assert html.index("old.pem") < html.index("short.pem") < html.index("ok.pem")
    assert "ghost" in html and "junk.pem" in html
    # the table printed in the output, soonest first
    table_start = proc.stdout.index("STATUS")
    assert proc.stdout.index("old.pem", table_start) < proc.stdout.index("ok.pem", table_start)
    # set_stats for AWX artifacts
    assert "ghostguard_audit" in proc.stdout and "CUSTOM STATS" in proc.stdout


def test_audit_fail_on(fleet: pathlib.Path) -> None:
    out = fleet / "report-fail"
    proc = run_playbook(PLAYBOOK, {"audit_hosts": "local", "audit_report_dir": str(out),
                                   "audit_fail_on": ["expired", "critical"]},
                        inventory=str(fleet / "inventory.ini"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "2 certificate(s) are expired or critical" in proc.stdout
    assert "old.pem" in proc.stdout and "short.pem" in proc.stdout
    # the reports are still written before failing
    assert json.loads((out / "report.json").read_text())["summary"]["total"] == 4


def test_audit_now_what_if(fleet: pathlib.Path) -> None:
    out = fleet / "report-future"
    future = (now() + dt.timedelta(days=400)).isoformat()
    proc = run_playbook(PLAYBOOK, {"audit_hosts": "local", "audit_report_dir": str(out), "audit_now": future},
                        inventory=str(fleet / "inventory.ini"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert {r["status"] for r in report["certificates"]} == {"expired"}


def test_audit_without_privileges_shows_unreadable_directories_and_reads_stores_once(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """Run as root without the capabilities that bypass permissions (like an audit without become):
    a directory it cannot list is in the report's errors and the HTML's unreadable list, never a clean
    empty result; deploy's stores are not walked into: each service path once, current generation."""
    from ansible_collections.ghostguard.certs.plugins.module_utils._install import bundle as _bundle
    from ansible_collections.ghostguard.certs.plugins.module_utils._install import deploy as _deploy

    base = tmp_path_factory.mktemp("audit-blind")
    os.chmod(str(base), 0o755)
    ca = TestCA("audit blind CA")
    ca.issue(["secret.test"]).write(str(base / "private"), "secret")
    os.chown(str(base / "private"), 65534, 65534)
    os.chmod(str(base / "private"), 0o700)
    tls = base / "nginx" / "tls"
    targets = _deploy.Targets(cert=str(tls / "shop.crt"), key=str(tls / "shop.key"), chain=str(tls / "chain.pem"))
    for name in ("gen1.test", "gen2.test", "gen3.test"):
        issued = ca.issue([name])
        _deploy.deploy(_deploy.DeployRequest(targets=targets, bundle=_bundle.build_bundle(
            issued.cert_pem, issued.key_pem, b"")))
    inventory = base / "inventory.ini"
    inventory.write_text("[local]\nsolo audit_paths='[\"%s\", \"%s\"]'\n[local:vars]\nansible_connection=local\n"
                         "ansible_python_interpreter=%s\n" % (base / "private", base / "nginx", sys.executable))
    out = base / "report"
    proc = run_playbook(PLAYBOOK, {"audit_hosts": "local", "audit_report_dir": str(out)}, inventory=str(inventory),
                        prefix=["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert [(os.path.relpath(r["path"], str(base)), r["subject"]) for r in report["certificates"]] == [
        ("nginx/tls/shop.crt", "CN=gen3.test")]
    assert [(e["path"], e["error"].split(";")[0]) for e in report["errors"]] == [
        (str(base / "private"), "cannot list directory: Permission denied")]
    html = (out / "report.html").read_text()
    unreadable = html[html.index("Unreadable files and directories"):]
    assert str(base / "private") in unreadable and "cannot list directory" in unreadable
