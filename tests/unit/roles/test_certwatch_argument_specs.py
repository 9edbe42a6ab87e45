# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role's argument specs declare certwatch_certificates exactly as the engine's inventory model does."""

from __future__ import annotations

import os

import yaml

from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import inventory as _inventory

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def _spec() -> dict:
    with open(os.path.join(ROOT, "roles", "certwatch", "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def test_certificate_fields_match_the_schema() -> None:
    options = _spec()["certwatch_certificates"]["options"]
    assert list(options) == list(_inventory.CERT_SCHEMA)
    for field, schema in _inventory.CERT_SCHEMA.items():
        declared = options[field]
        assert declared["type"] == schema["type"], field
        for key in ("required", "choices", "elements", "default"):
            assert declared.get(key) == schema.get(key), (field, key)


def test_defaults_are_documented_where_they_apply() -> None:
    options = _spec()["certwatch_certificates"]["options"]
    for field, file_name in _inventory.DEFAULT_FILES.items():
        assert "<certwatch_cert_dir>/<name>/%s" % file_name in options[field]["description"], field
    probe = " ".join(options["probe"]["description"])
    assert "127.0.0.1" in probe and "443" in probe and "not a wildcard" in probe


def test_the_converge_module_looks_for_the_agent_where_the_role_puts_it() -> None:
    from ansible_collections.ghostguard.certs.plugins.modules import converge

    with open(os.path.join(ROOT, "roles", "certwatch", "defaults", "main.yml"), encoding="utf-8") as handle:
        defaults = yaml.safe_load(handle)
    agent = converge.argument_spec()["agent"]["options"]
    assert agent["bin"]["default"] == defaults["certwatch_bin"]
    assert agent["config"]["default"] == defaults["certwatch_config_path"]
