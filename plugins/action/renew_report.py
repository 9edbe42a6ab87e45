# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for ghostguard.certs.renew_report: write the plan and the report on the controller, in the
controller's own process (the module stays for its documentation and for direct use)."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertsError
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import renew_report as _renew_report
from ansible_collections.ghostguard.certs.plugins.modules.renew_report import ARGUMENT_SPEC


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars or {})
        del tmp
        checked = ArgumentSpecValidator(ARGUMENT_SPEC, required_one_of=[("plan", "report")]).validate(
            dict(self._task.args))
        if checked.error_messages:
            raise AnsibleActionFail("renew_report: %s" % "; ".join(checked.error_messages))
        params = checked.validated_parameters
        try:
            result.update(_renew_report.write(params["dir"], params["plan"], params["report"], params["title"]))
        except (CertsError, OSError) as exc:
            raise AnsibleActionFail("cannot write the report in %s: %s; check the directory (renew_report_dir) and "
                                    "its permissions" % (params["dir"], exc)) from None
        return result
