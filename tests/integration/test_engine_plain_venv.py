# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine as a plain package outside Ansible, in a venv holding exactly requirements.txt.

This is what the certwatch agent does on a host: no ansible-core, the engine files copied as a
package, the typed entry points (scan, decide, issue, install, probe) called directly.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
from ansible_run import ROOT
from certgen import TestCA, now
from lab_fixture import LabHandle

SUPPORT = os.path.join(ROOT, "tests", "support")


@pytest.fixture(scope="module")
def plain_python(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    base = tmp_path_factory.mktemp("plain-engine")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    pip = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r",
                          os.path.join(ROOT, "requirements.txt")], capture_output=True, text=True, check=False)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    installed = subprocess.run([python, "-m", "pip", "list", "--format=json"], capture_output=True, text=True,
                               check=True).stdout
    names = {p["name"].lower() for p in json.loads(installed)}
    assert not {"ansible", "ansible-core"} & names, names
    engine = base / "engine"
    shutil.copytree(os.path.join(ROOT, "plugins", "module_utils"), str(engine / "ghostguard_certs"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    return python, str(engine)


def test_ansible_is_not_importable(plain_python: tuple[str, str]) -> None:
    python, _engine = plain_python
    proc = subprocess.run([python, "-c", "import ansible"], capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "No module named 'ansible'" in proc.stderr


def test_scan_decide_issue_install_probe_without_ansible(plain_python: tuple[str, str], lab: LabHandle,
                                                         tmp_path: pathlib.Path) -> None:
    python, engine = plain_python
    names = ["www.example.test"]
    svc = tmp_path / "svc"
    svc.mkdir()
    old = TestCA("plain venv CA").issue(names, days=30, not_before=now() - dt.timedelta(days=25))
    (svc / "tls.crt").write_bytes(old.cert_pem)
    (svc / "tls.key").write_bytes(old.key_pem)
    args = lab.args(tmp_path, names)
    cfg = {"service_dir": str(svc), "names": names, "directory": args["acme_directory"],
           "ca_bundle": args["acme_ca_bundle"], "account_key_path": str(tmp_path / "account.key"),
           "rfc2136": args["rfc2136"], "nameservers": args["nameservers"]}
    proc = subprocess.run([python, "-I", os.path.join(SUPPORT, "plain_engine_run.py"), engine],
                          input=json.dumps(cfg), capture_output=True, text=True, timeout=240, check=False,
                          env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    assert out["scan_before"] == [["tls.crt", "due"]]
    assert out["decide_before"][0] is True
    assert out["issued_names"] == names
    assert out["generation"] >= 2  # the hand-placed pair was adopted as a generation first
    assert os.path.islink(svc / "tls.crt") and os.path.islink(svc / "tls.key")
    assert out["probe"] is True
    assert out["decide_after"] == [False, "not_due"]
    assert out["ansible_loaded"] == []
    assert lab.challenge_txt_everywhere() == {}
