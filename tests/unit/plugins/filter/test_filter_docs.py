# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every filter has a documentation file whose options are the function's parameters; the playbooks' plumbing
says it is internal (not a stable interface) and the README's filter list names exactly the public ones."""

from __future__ import annotations

import inspect
import pathlib
import typing as t

import yaml

from ansible_collections.ghostguard.certs.plugins.filter import inventory, plan, report

ROOT = pathlib.Path(__file__).resolve().parents[4]
FILTER_DIR = ROOT / "plugins" / "filter"
PUBLIC = {"fleet_report", "report_table", "json_query", "inventory_certificates", "inventory_problems",
          "renew_plan_table", "renew_report_table"}
INTERNAL_LINE = "not a stable interface, it may change or go away without notice."


def _filters() -> dict[str, t.Callable[..., t.Any]]:
    found: dict[str, t.Callable[..., t.Any]] = {}
    for module in (plan, inventory, report):
        found.update(module.FilterModule().filters())
    return found


def _docs() -> dict[str, dict[str, t.Any]]:
    docs = {}
    for path in sorted(FILTER_DIR.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))["DOCUMENTATION"]
        assert doc["name"] == path.stem, path
        docs[path.stem] = doc
    return docs


def test_every_filter_has_a_doc_and_every_doc_a_filter() -> None:
    assert set(_filters()) == set(_docs())


def test_documented_options_are_the_parameters() -> None:
    docs = _docs()
    for name, function in _filters().items():
        parameters = list(inspect.signature(function).parameters)
        assert set(docs[name]["options"]) == {"_input", *parameters[1:]}, name


def test_internal_filters_say_so_and_public_ones_do_not() -> None:
    docs = _docs()
    internal = set(_filters()) - PUBLIC
    assert {"renew_acme_args", "renew_should_stop", "run_targets"} <= internal
    for name in internal:
        assert docs[name]["short_description"].startswith("Internal: "), name
        assert any(line.startswith("Internal to the ghostguard.certs.") and line.endswith(INTERNAL_LINE)
                   for line in docs[name]["description"]), name
    for name in PUBLIC:
        assert "Internal" not in docs[name]["short_description"], name
        assert not any(INTERNAL_LINE in line for line in docs[name]["description"]), name


def test_the_readme_lists_the_public_filters() -> None:
    row = next(line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
               if line.startswith("| filters "))
    listed = set(row.split("|")[1].replace("filters", "").replace("`", "").replace(",", " ").split())
    assert listed == PUBLIC
