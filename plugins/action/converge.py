# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for ghostguard.certs.converge: read each bundle's controller-side ``*_src`` files into
``*_content`` (the key never logged: the module's ``bundles`` option is no_log)."""

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
        bundles = args.get("bundles") or {}
        if not isinstance(bundles, dict):
            raise AnsibleActionFail("bundles must be a mapping of certificate name to {cert_src, chain_src, key_src}")
        args["bundles"] = {name: self._read(str(name), entry) for name, entry in bundles.items()}
        result.update(self._execute_module(module_name=self._task.resolved_action or "ghostguard.certs.converge",
                                           module_args=args, task_vars=task_vars))
        return result

    def _read(self, name: str, entry: t.Any) -> dict[str, t.Any]:
        if not isinstance(entry, dict):
            raise AnsibleActionFail("bundles.%s must be a mapping such as {cert_src: ..., key_src: ...}" % name)
        out = dict(entry)
        for role in ROLES:
            src = out.pop(role + "_src", None)
            if src is None:
                continue
            if out.get(role + "_content") is not None:
                raise AnsibleActionFail("bundles.%s: give %s_content or %s_src, not both" % (name, role, role))
            try:
                path = self._find_needle("files", to_text(src))
                with open(path, "rb") as handle:
                    data = handle.read(MAX_BYTES + 1)
            except (AnsibleError, OSError) as exc:
                raise AnsibleActionFail("bundles.%s.%s_src %s cannot be read on the controller (%s)"
                                        % (name, role, src, to_native(exc))) from None
            if len(data) > MAX_BYTES:
                raise AnsibleActionFail("bundles.%s.%s_src %s is larger than 1 MiB; give a PEM file" % (name, role, src))
            out[role + "_content"] = to_text(data, errors="surrogate_or_strict")
        return out
