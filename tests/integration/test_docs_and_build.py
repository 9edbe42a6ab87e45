# SPDX-License-Identifier: GPL-3.0-or-later
"""ansible-doc reads well for every module, and the collection builds."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import tarfile

import pytest
from ansible_run import BIN, ROOT, ansible_env

MODULES = sorted(p[:-3] for p in os.listdir(os.path.join(ROOT, "plugins", "modules")) if p.endswith(".py"))
DESCRIPTION_KEYS = {"path", "subject", "sans", "issuer", "serial", "fingerprint_sha256", "not_before", "not_after",
                    "seconds_remaining", "lifetime_seconds", "renew_at", "due", "status"}


def doc(name: str, kind: str = "module") -> dict:
    proc = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", kind, "--json", "ghostguard.certs." + name],
                          capture_output=True, text=True, env=ansible_env(), check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["ghostguard.certs." + name]


@pytest.mark.parametrize("module", MODULES)
def test_module_docs_complete(module: str) -> None:
    data = doc(module)
    options = data["doc"]["options"]
    assert options, "no options documented"
    for name, spec in options.items():
        assert spec.get("description"), "option %s has no description" % name
    assert "- name:" in data["examples"]
    assert data["return"], "no return values documented"
    for name, spec in data["return"].items():
        assert spec.get("description"), "return value %s has no description" % name


def test_expiry_info_doc_lists_design_keys() -> None:
    data = doc("expiry_info")
    assert {"paths", "recurse", "renew_before", "renew_fraction", "leeway", "now", "alert_before", "key_match",
            "ca_bundle", "max_connection_age", "fail_on_invalid", "force"} <= set(data["doc"]["options"])
    assert set(data["return"]["certificates"]["contains"]) >= DESCRIPTION_KEYS
    assert {"certificates", "due", "summary", "errors", "clock"} <= set(data["return"])


FILTERS = sorted(p[:-4] for p in os.listdir(os.path.join(ROOT, "plugins", "filter")) if p.endswith(".yml"))
PUBLIC_FILTERS = {"fleet_report", "report_table", "json_query", "inventory_certificates", "inventory_problems",
                  "renew_plan_table", "renew_report_table"}


@pytest.mark.parametrize("name", FILTERS)
def test_filter_docs(name: str) -> None:
    data = doc(name, "filter")
    assert "- name:" in data["examples"] and data["return"]["_value"]["description"]
    internal = data["doc"]["short_description"].startswith("Internal: ")
    assert internal == (name not in PUBLIC_FILTERS)
    assert internal == any("not a stable interface" in line for line in data["doc"]["description"])


def test_galaxy_build(tmp_path: pathlib.Path) -> None:
    proc = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), ROOT],
                          capture_output=True, text=True, env=ansible_env(), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (tarball,) = tmp_path.glob("ghostguard-certs-*.tar.gz")
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    assert {"plugins/modules/expiry_info.py", "playbooks/audit.yml", "meta/runtime.yml", "MANIFEST.json"} <= names
    assert not any(n.startswith((".venv", ".build", "tests/output", "bench/")) for n in names)
