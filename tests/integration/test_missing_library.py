# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Modules on a host Python without the collection's libraries: one clear failure, the exact pip line."""

from __future__ import annotations

import json
import os
import pathlib
import shlex
import subprocess
import sys

import pytest
from ansible_run import BIN, ansible_env


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A venv with nothing installed: like a managed host that lacks every library."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return str(venv / "bin" / "python")


def _run(module: str, args: dict[str, object], python: str) -> dict[str, object]:
    cmd = [os.path.join(BIN, "ansible"), "localhost", "-o", "-m", module, "-a", json.dumps(args),
           "-e", "ansible_python_interpreter=" + python]  # implicit localhost would use the controller's Python
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120, env=ansible_env())
    line = next(x for x in proc.stdout.splitlines() if x.startswith("localhost | "))
    assert "| FAILED" in line, proc.stdout + proc.stderr
    result: dict[str, object] = json.loads(line[line.index("=> {") + 3:])
    return result


def test_expiry_info_names_cryptography_and_the_pip_line(bare_python: str, tmp_path: pathlib.Path) -> None:
    result = _run("ghostguard.certs.expiry_info", {"paths": [str(tmp_path)]}, bare_python)
    line = "%s -m pip install 'cryptography>=3.4'" % shlex.quote(bare_python)
    assert result["error_kind"] == "missing_library"
    assert result["missing"] == ["cryptography"]
    assert result["pip_install"] == line
    assert line in str(result["msg"]) and bare_python in str(result["msg"])


def test_acme_dns01_lists_everything_missing_at_once(bare_python: str, tmp_path: pathlib.Path) -> None:
    args = {"names": ["www.example.test"], "cert_path": str(tmp_path / "c.pem"), "key_path": str(tmp_path / "k.pem"),
            "acme_directory": "https://127.0.0.1:1/dir", "account_key_path": str(tmp_path / "a.key"),
            "dns_provider": "alidns", "alidns": {"access_key_id": "LTAIx", "access_key_secret": "never-shown-1234"}}
    result = _run("ghostguard.certs.acme_dns01", args, bare_python)
    assert result["error_kind"] == "missing_library"
    assert result["missing"] == ["cryptography", "acme", "josepy", "requests", "dnspython", "publicsuffixlist",
                                 "aliyun-python-sdk-core", "aliyun-python-sdk-alidns"]
    assert str(result["pip_install"]).endswith(
        "install 'cryptography>=3.4' 'acme>=4.0' 'josepy>=2.0' 'requests>=2.20' 'dnspython>=2.0' "
        "'publicsuffixlist>=0.10' 'aliyun-python-sdk-core>=2.13.5' 'aliyun-python-sdk-alidns>=3.0'")
    assert "never-shown-1234" not in json.dumps(result)
    assert list(tmp_path.iterdir()) == []  # nothing written

    rfc = _run("ghostguard.certs.acme_dns01", {**args, "dns_provider": "rfc2136", "alidns": None,
                                               "rfc2136": {"server": "127.0.0.1"}}, bare_python)
    assert "aliyun-python-sdk-core" not in rfc["missing"]  # type: ignore[operator]
