# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for ghostguard.certs.deploy: read controller-side ``*_src`` files into ``*_content``."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.plugins.action import ActionBase

ROLES = ("cert", "key", "chain")
MAX_BYTES = 1 << 20


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        if not self._bool(args.get("remote_src", False)):
            for role in ROLES:
                src = args.get(role + "_src")
                if src is None:
                    continue
                if args.get(role + "_content") is not None:
                    raise AnsibleActionFail("give %s_content or %s_src, not both" % (role, role))
                try:
                    path = self._find_needle("files", to_text(src))
                    with open(path, "rb") as handle:
                        data = handle.read(MAX_BYTES + 1)
                except (AnsibleError, OSError) as exc:
                    raise AnsibleActionFail(
                        "%s_src %s cannot be read on the controller (%s); check the path, or set remote_src: "
                        "true for a file on the managed host" % (role, src, to_native(exc))
                    ) from None
                if len(data) > MAX_BYTES:
                    raise AnsibleActionFail("%s_src %s is larger than 1 MiB; give a PEM file" % (role, src))
                args[role + "_content"] = to_text(data, errors="surrogate_or_strict")
                del args[role + "_src"]
        result.update(self._execute_module(module_name=self._task.resolved_action or "ghostguard.certs.deploy",
                                           module_args=args, task_vars=task_vars))
        return result

    @staticmethod
    def _bool(value: t.Any) -> bool:
        from ansible.module_utils.parsing.convert_bool import boolean

        return boolean(value, strict=False)
