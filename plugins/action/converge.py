# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for ghostguard.certs.converge: read each bundle's controller-side ``*_src`` files into
``*_content`` (the key never logged: the module's ``bundles`` option is no_log), and run the module with a
Python that has cryptography (plugin_utils/host_python: the host's, else the certwatch agent's venv)."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.ghostguard.certs.plugins.plugin_utils import host_python
from ansible_collections.ghostguard.certs.plugins.plugin_utils.controller_files import read_sources


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
        result.update(host_python.execute(self, self._task.resolved_action or "ghostguard.certs.converge", args, task_vars))
        return result

    def _read(self, name: str, entry: t.Any) -> dict[str, t.Any]:
        if not isinstance(entry, dict):
            raise AnsibleActionFail("bundles.%s must be a mapping such as {cert_src: ..., key_src: ...}" % name)
        return read_sources(self, entry, "bundles.%s: " % name)
