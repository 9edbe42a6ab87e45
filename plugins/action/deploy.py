# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for ghostguard.certs.deploy: read controller-side ``*_src`` files into ``*_content``."""

from __future__ import annotations

import typing as t

from ansible.plugins.action import ActionBase

from ansible_collections.ghostguard.certs.plugins.plugin_utils.controller_files import read_sources


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        if not self._bool(args.get("remote_src", False)):
            args = read_sources(self, args, hint="; check the path, or set remote_src: true for a file on the managed host")
        result.update(self._execute_module(module_name=self._task.resolved_action or "ghostguard.certs.deploy",
                                           module_args=args, task_vars=task_vars))
        return result

    @staticmethod
    def _bool(value: t.Any) -> bool:
        from ansible.module_utils.parsing.convert_bool import boolean

        return boolean(value, strict=False)
