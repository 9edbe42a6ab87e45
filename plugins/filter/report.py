# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that turn per-host expiry_info results into a fleet report.

The report's engine is imported when one of them runs: Ansible imports every filter file of the collection in
every worker that templates any of its filters (renew.yml's per-host tasks too)."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.ghostguard.certs.plugins.module_utils._errors import MissingLibraryError


def _json_query(data: t.Any, expression: str) -> t.Any:
    from ansible_collections.ghostguard.certs.plugins.module_utils._fleet.audit_report import query

    try:
        return query(data, expression)
    except (ValueError, MissingLibraryError) as exc:
        raise AnsibleFilterError(str(exc)) from exc


def _fleet_report(results: t.Any, generated_at: str | None = None) -> dict[str, t.Any]:
    from ansible_collections.ghostguard.certs.plugins.module_utils._fleet.audit_report import build_fleet_report

    if not isinstance(results, t.Mapping):
        raise AnsibleFilterError(
            "fleet_report expects a dict of host name -> registered expiry_info result, got %s"
            % type(results).__name__
        )
    try:
        return build_fleet_report(results, generated_at)
    except (TypeError, ValueError, KeyError, MissingLibraryError) as exc:
        raise AnsibleFilterError("fleet_report: %s" % exc) from exc


def _report_table(report: t.Any, limit: int = 0) -> str:
    from ansible_collections.ghostguard.certs.plugins.module_utils._fleet.audit_report import render_table

    if not isinstance(report, t.Mapping) or "certificates" not in report:
        raise AnsibleFilterError("report_table expects the output of ghostguard.certs.fleet_report")
    return render_table(report, int(limit))


class FilterModule:
    """ghostguard.certs fleet report filters."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {
            "json_query": _json_query,
            "fleet_report": _fleet_report,
            "report_table": _report_table,
        }
