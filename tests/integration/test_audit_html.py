# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTML fleet report as a person sees it: rendered by real headless Chromium, offline.

What a person scanning many hosts needs first: the problems (unreachable hosts, unreadable files,
unsynchronised clocks, urgent certificates), a summary by status with counts, an expiry timeline
(inline SVG, no script, no external resource) and the certificates grouped by host group.
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
from ansible_run import ROOT, run_playbook
from certgen import TestCA, now

PLAYBOOK = os.path.join(ROOT, "playbooks", "audit.yml")
CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    base = tmp_path_factory.mktemp("html-fleet")
    ca = TestCA("html CA")
    ca.issue(["web1.test"], days=90, not_before=now() - dt.timedelta(days=10)).write(str(base / "web1"), "site")
    ca.issue(["web2.test"], days=30, not_before=now() - dt.timedelta(days=31)).write(str(base / "web2"), "old")
    ca.issue(["db1.test"], days=6, not_before=now() - dt.timedelta(days=5)).write(str(base / "db1"), "short")
    (base / "db1" / "junk.pem").write_text("not a certificate")
    inventory = base / "inventory.ini"
    inventory.write_text(
        "[web]\nweb1 audit_paths='[\"%s\"]'\nweb2 audit_paths='[\"%s\"]'\n"
        "[db]\ndb1 audit_paths='[\"%s\"]'\n"
        "gone ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=1 ansible_ssh_common_args='-o ConnectTimeout=2'\n"
        "[all:vars]\nansible_python_interpreter=%s\n"
        "[local:children]\nweb\n[local]\ndb1\n[local:vars]\nansible_connection=local\n"
        % (base / "web1", base / "web2", base / "db1", sys.executable)
    )
    out = base / "report"
    proc = run_playbook(PLAYBOOK, {"audit_report_dir": str(out)}, inventory=str(inventory))
    assert proc.returncode in (0, 4), proc.stdout + proc.stderr
    return out / "report.html"


def test_problems_first_summary_timeline_and_groups(report: pathlib.Path) -> None:
    html = report.read_text()
    # problems come before everything else, each kind named with its host
    problems = html.index('id="problems"')
    assert problems < html.index('id="summary"') < html.index('id="timeline"') < html.index("Certificates by host group")
    section = html[problems:html.index('id="summary"')]
    assert "gone" in section and "unreachable" in section
    assert "junk.pem" in section
    assert "old.pem" in section and "short.pem" in section and "site.pem" not in section
    # summary cards in severity order, with counts
    cards = re.findall(r'data-status="(\w+)"><b>(\d+)</b>', html)
    assert cards[:5] == [("revoked", "0"), ("invalid", "0"), ("not_yet_valid", "0"), ("expired", "1"), ("critical", "1")]
    assert ("ok", "1") in cards
    # one timeline row per host group, one dot per certificate, nothing external
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert svg.count("<circle") == 3
    assert ">web<" in svg and ">db<" in svg
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    # grouped tables: db (most urgent, 'short' critical) ... web holds both web hosts
    groups = re.findall(r'<h3 class="group">(\w+)</h3>', html)
    assert sorted(groups) == ["db", "web"]
    web = html[html.index('<h3 class="group">web</h3>'):]
    web = web[:web.index("</table>")]
    assert "site.pem" in web and "old.pem" in web and "short.pem" not in web


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is installed by scripts/apt-deps.sh")
def test_chromium_renders_offline_without_console_errors(report: pathlib.Path, tmp_path: pathlib.Path) -> None:
    shot = tmp_path / "report.png"
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
           "--window-size=1200,1600", "--screenshot=%s" % shot, report.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False,
                          cwd=str(tmp_path), env=dict(os.environ, HOME=str(tmp_path)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == [], console
    dom = subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", report.as_uri()],
                         capture_output=True, text=True, timeout=120, check=False, cwd=str(tmp_path),
                         env=dict(os.environ, HOME=str(tmp_path)))
    assert dom.returncode == 0 and "<circle" in dom.stdout and 'id="problems"' in dom.stdout
