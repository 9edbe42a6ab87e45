# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A report page as a person sees it, in real headless Chromium (scripts/apt-deps.sh installs it), offline.

    seen = render(page, out_dir)       # a screenshot at 1366 px, the console, the page's scroll width
    seen.scroll_width <= 1366 and seen.console == []

The page is opened as it is for the screenshot and the console (a report has no script: a console line means
something ran or failed to load). Its width is measured on a copy with one line of script added at its end
(``document.documentElement.scrollWidth``, read back with ``--dump-dom``), so the report itself stays script-free.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import shutil
import subprocess

CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium")
WIDTH = 1366
MEASURE = ("<script>document.documentElement.setAttribute('data-scroll-width',"
           "String(document.documentElement.scrollWidth))</script>")


@dataclasses.dataclass
class Seen:
    screenshot: pathlib.Path
    console: list[str]         # console messages and uncaught errors of the page as it is
    scroll_width: int          # document.documentElement.scrollWidth at WIDTH px
    dom: str                   # the DOM of the page as it is, after parsing (what a script could have changed)


def _chromium(args: list[str], cwd: pathlib.Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None, "headless Chromium is missing: run scripts/apt-deps.sh"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False, cwd=str(cwd),
                          env=dict(os.environ, HOME=str(cwd)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def render(page: pathlib.Path, out_dir: pathlib.Path, height: int = 2400) -> Seen:
    """Screenshot *page* at WIDTH x *height* into *out_dir*/<page stem>.png, read its console and DOM, measure it."""
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    shot = out_dir / (page.stem + ".png")
    shown = _chromium(["--window-size=%d,%d" % (WIDTH, height), "--screenshot=%s" % shot, page.resolve().as_uri()], out_dir)
    dom = _chromium(["--window-size=%d,%d" % (WIDTH, height), "--dump-dom", page.resolve().as_uri()], out_dir)
    probe = out_dir / (page.stem + ".measure.html")
    probe.write_text(page.read_text(encoding="utf-8") + MEASURE, encoding="utf-8")
    measured = _chromium(["--window-size=%d,%d" % (WIDTH, height), "--dump-dom", probe.as_uri()], out_dir)
    found = re.search(r'data-scroll-width="(\d+)"', measured.stdout)
    assert found, measured.stdout[:2000]
    probe.unlink()
    return Seen(shot, console(shown.stderr) + console(dom.stderr), int(found.group(1)), dom.stdout)
