# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for ghostguard.certs.renew_orders: run the module with a Python that has its libraries
(plugin_utils/host_python: the host's, else the venv at /opt/ghostguard) - on the controller the execution
environment's, on a renew_store_host (where AWX slices reach it by name, without its host_vars) the venv the
README's store host set-up makes."""

from __future__ import annotations

from ansible_collections.ghostguard.certs.plugins.plugin_utils.host_python import HostPythonAction


class ActionModule(HostPythonAction):
    MODULE = "ghostguard.certs.renew_orders"
