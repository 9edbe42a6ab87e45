# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which Python runs the collection's host modules (converge, csr, expiry_info; renew_orders on a renew_store_host)
on a managed host.

The modules need ``cryptography`` on the host.  The host's own Python is used first (the inventory's
``ansible_python_interpreter``, as for any module).  When it lacks cryptography and the certwatch role
installed its agent there, the module runs again with the agent's venv Python (which holds it), and the
host remembers it in the fact ``ghostguard_certs_python`` so later tasks of the run go there at once.
Otherwise the task fails with one message naming the package and the ways to fix it; nothing on the host
was changed (the module stopped before any work).
"""

from __future__ import annotations

import typing as t

from ansible.plugins.action import ActionBase

FACT = "ghostguard_certs_python"
AGENT_VENV = "/opt/ghostguard"  # the certwatch role's default certwatch_venv
SYSTEM_PREFIXES = ("/usr/bin/", "/bin/", "/usr/libexec/")  # the OS's Python: its package manager installs, not pip


def _host_vars(action: t.Any, task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
    """The variables of the host the module runs on (the delegated one for delegate_to)."""
    delegate = action._task.delegate_to  # pylint: disable=protected-access
    if delegate:
        delegated: dict[str, t.Any] = (task_vars.get("ansible_delegated_vars") or {}).get(delegate) or {}
        return delegated
    return task_vars


def _with_python(action: t.Any, task_vars: dict[str, t.Any], python: str) -> dict[str, t.Any]:
    """A copy of *task_vars* in which the module's host uses *python*."""
    out = dict(task_vars)
    delegate = action._task.delegate_to  # pylint: disable=protected-access
    if delegate:
        delegated = dict(out.get("ansible_delegated_vars") or {})
        delegated[delegate] = {**delegated.get(delegate, {}), "ansible_python_interpreter": python}
        out["ansible_delegated_vars"] = delegated
    else:
        out["ansible_python_interpreter"] = python
    return out


def _lacks_cryptography(result: t.Mapping[str, t.Any]) -> bool:
    return _lacks_library(result) and "cryptography" in (result.get("missing") or [])


def _lacks_library(result: t.Mapping[str, t.Any]) -> bool:
    """The module stopped because a library is missing (renew_orders on a store host needs acme, dnspython, ...)."""
    return result.get("error_kind") == "missing_library"


def missing_message(python: str, pip_install: str | None = None) -> str:
    return (
        "%s, the Python that runs the collection's modules on this host, lacks the library cryptography (>= 3.4; "
        "certificates, keys and CSRs); nothing was changed on this host. Fix one of: install the OS package "
        "python3-cryptography (Debian/Ubuntu: apt-get install python3-cryptography; RHEL/Fedora: dnf install "
        "python3-cryptography); or run the ghostguard.certs.certwatch role on the host (its venv, %s/bin/python3, "
        "is then used); or set ansible_python_interpreter for the host to a Python that has cryptography%s"
        % (python, AGENT_VENV, "; or, as this Python is not the system's: %s" % pip_install
           if pip_install and not python.startswith(SYSTEM_PREFIXES) else "")
    )


def execute(action: t.Any, module_name: str, module_args: dict[str, t.Any],
            task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
    """Run the host module as described above; returns the module's result."""
    known = _host_vars(action, task_vars).get(FACT)
    if known:
        result: dict[str, t.Any] = action._execute_module(  # pylint: disable=protected-access
            module_name=module_name, module_args=module_args, task_vars=_with_python(action, task_vars, known))
        if result.get("_ansible_parsed", True) is not False:
            return result
        # the remembered venv is gone (a fact cache from an earlier run): ask the host's own Python again
    result = action._execute_module(  # pylint: disable=protected-access
        module_name=module_name, module_args=module_args, task_vars=task_vars)
    if not _lacks_library(result):
        return result
    agent = result.get("agent_python")
    if agent:
        retry: dict[str, t.Any] = action._execute_module(  # pylint: disable=protected-access
            module_name=module_name, module_args=module_args, task_vars=_with_python(action, task_vars, agent))
        if not _lacks_library(retry):
            retry["python"] = agent
            if not action._task.delegate_to:  # pylint: disable=protected-access
                retry.setdefault("ansible_facts", {})[FACT] = agent
            return retry
    if _lacks_cryptography(result):
        result["msg"] = missing_message(str(result.get("python") or "the host's Python"), result.get("pip_install"))
    else:   # the module's own message names the libraries and the pip line
        result["msg"] = "%s; or install them in a venv at %s (python3 -m venv %s; %s/bin/pip install -r the collection's " \
            "requirements.txt), which is used when the host's Python lacks them" % (
                str(result.get("msg") or "a library is missing").rstrip("."), AGENT_VENV, AGENT_VENV, AGENT_VENV)
    return result


class HostPythonAction(ActionBase):
    """An action plugin that only runs its module (``MODULE``) with a Python that has the module's libraries."""

    TRANSFERS_FILES = False
    MODULE = ""

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        result: dict[str, t.Any] = super().run(tmp, task_vars)
        del tmp
        result.update(execute(self, self._task.resolved_action or self.MODULE, dict(self._task.args), task_vars))
        return result
