#!/usr/bin/python
# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: renew_report
short_description: Write the plan or the report of a renew.yml or rollback.yml run
version_added: 0.1.0
description:
  - Writes, atomically, in O(dir) (created with mode 0755) the plan of a C(ghostguard.certs.renew) run
    (C(plan.json)) and the report of a run (C(report.json), C(report.txt), C(report.html)), and returns the report
    (or the plan) as text for the play to show and as the data C(set_stats) publishes to AWX.
  - One task writes every file, so that every run that got past validation leaves its report, even one whose
    orders, lock or hosts failed.
  - Run it on the controller (C(delegate_to) localhost). Nothing in a plan or a report is key material.
  - It always returns C(changed=false) - a plan or a report records the run on the controller and changes nothing
    in the fleet, so a run that changed nothing ends with C(changed=0) for every host; the files written are in
    RV(files) (and the report's paths in RV(stats)).
  - The report of a rollback (from the C(ghostguard.certs.rollback_report) filter) is written as such - per host and
    certificate, from which certificate to which it was rolled back or forward, and whether it was proved served.
author:
  - ghostguard developers (@ghostguard)
attributes:
  action:
    support: full
    description: An action plugin writes the files in the controller's own process (no module is sent anywhere);
      delegate the task to C(localhost).
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
    row per host and certificate, the report paths; for a rollback, no orders and the rows name both certificates).
  returned: when O(report) is given
  type: dict
report:
  description: With O(report), the report itself (rows, counts, problems, C(failures) per host).
  returned: when O(report) is given
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertsError
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import renew_report as _renew_report

ARGUMENT_SPEC = {
    "dir": {"type": "path", "required": True},
    "plan": {"type": "dict"},
    "report": {"type": "dict"},
    "title": {"type": "str", "default": "Certificate renewal"},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_one_of=[("plan", "report")], supports_check_mode=False)
    params = module.params
    try:
        module.exit_json(**_renew_report.write(params["dir"], params["plan"], params["report"], params["title"]))
    except (CertsError, OSError) as exc:
        module.fail_json(msg="cannot write the report in %s: %s; check the directory (renew_report_dir) and its "
                             "permissions" % (params["dir"], exc))


if __name__ == "__main__":
    main()
