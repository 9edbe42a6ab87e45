# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for ghostguard.certs.csr: run the module with a Python that has cryptography
(plugin_utils/host_python: the host's, else the certwatch agent's venv)."""

from __future__ import annotations

from ansible_collections.ghostguard.certs.plugins.plugin_utils.host_python import HostPythonAction


class ActionModule(HostPythonAction):
    MODULE = "ghostguard.certs.csr"
