#!/usr/bin/python
# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: renew_report
short_description: Write the plan or the report of a renew.yml or rollback.yml run
version_added: 0.3.0
description:
  - Writes, atomically, in O(dir) (created with mode 0755) the plan of a C(ghostguard.certs.renew) run
    (C(plan.json)) and the report of a run (C(report.json), C(report.txt), C(report.html)), and returns the report
    (or the plan) as text for the play to show and as the data C(set_stats) publishes to AWX.
  - One task writes every file, so that every run that got past validation leaves its report, even one whose
    orders, lock or hosts failed.
  - Run it on the controller (C(delegate_to) localhost). Nothing in a plan or a report is key material.
author:
  - ghostguard developers (@ghostguard)
attributes:
  check_mode:
    support: none
    description: The files are what a dry run produces; run the task with C(check_mode) false.
  diff_mode:
    support: none
    description: Nothing to diff.
options:
  dir:
    description: The report directory.
    type: path
    required: true
  plan:
    description: The plan of a run (the C(ghostguard.certs.renew_plan) filter); written as C(plan.json).
    type: dict
  report:
    description:
      - The report of a run (the C(ghostguard.certs.renew_report) or C(ghostguard.certs.rollback_report) filter).
      - With O(plan) too, both are written (a dry run gives the plan alone).
    type: dict
  title:
    description: The heading of the HTML report.
    type: str
    default: Certificate renewal
seealso:
  - module: ghostguard.certs.renew_orders
  - module: ghostguard.certs.converge
"""

EXAMPLES = r"""
- name: Write the report of the run
  ghostguard.certs.renew_report:
    dir: /srv/reports/renew
    report: "{{ renew_plan | ghostguard.certs.renew_report(hosts_with_vars, issued) }}"
  delegate_to: localhost
  run_once: true
  register: written

- name: Show it
  ansible.builtin.debug:
    msg: "{{ written.table.splitlines() }}"
"""

RETURN = r"""
table:
  description: The plan or the report as a text table.
  returned: success
  type: str
files:
  description: The files written.
  returned: success
  type: list
  elements: str
stats:
  description: With O(report), what C(set_stats) publishes (ok, counts, orders placed, failed hosts, problems, one short
    row per host and certificate, the report paths).
  returned: when O(report) is given
  type: dict
report:
  description: With O(report), the report itself (rows, counts, problems, C(failures) per host).
  returned: when O(report) is given
  type: dict
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ghostguard.certs.plugins.module_utils import _plan, _renew_report
from ansible_collections.ghostguard.certs.plugins.module_utils._durable import write_atomic
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertsError


def _write(folder: str, name: str, text: str) -> str:
    path = os.path.join(folder, name)
    write_atomic(path, text.encode("utf-8"), 0o644, durable=False)
    return path


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "dir": {"type": "path", "required": True},
            "plan": {"type": "dict"},
            "report": {"type": "dict"},
            "title": {"type": "str", "default": "Certificate renewal"},
        },
        required_one_of=[("plan", "report")],
        supports_check_mode=False,
    )
    folder = module.params["dir"]
    try:
        os.makedirs(folder, mode=0o755, exist_ok=True)
        files = []
        plan = module.params["plan"]
        if plan is not None:
            files.append(_write(folder, "plan.json", json.dumps(plan, indent=2, sort_keys=True) + "\n"))
        report = module.params["report"]
        if report is None:
            module.exit_json(changed=True, table=_plan.plan_table(plan), files=files)
        table = _renew_report.report_table(report)
        files += [_write(folder, "report.json", json.dumps(report, indent=2, sort_keys=True) + "\n"),
                  _write(folder, "report.txt", table + "\n"),
                  _write(folder, "report.html", _renew_report.html(report, module.params["title"]))]
        paths = {"report_json": files[-3], "report_html": files[-1]}
        module.exit_json(changed=True, table=table, files=files, report=report, stats=_renew_report.stats(report, paths))
    except (CertsError, OSError) as exc:
        module.fail_json(msg="cannot write the report in %s: %s; check the directory (renew_report_dir) and its "
                             "permissions" % (folder, exc))


if __name__ == "__main__":
    main()
