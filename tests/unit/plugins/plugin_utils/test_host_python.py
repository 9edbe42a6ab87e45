# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""host_python: which Python runs converge and csr on a host (the host's, else the certwatch agent's venv, else one
clear error). The action is a stand-in that answers as the module does for each interpreter; the real path over SSH
is the molecule scenario ``ssh``."""

from __future__ import annotations

import types
import typing as t

from ansible_collections.ghostguard.certs.plugins.plugin_utils import host_python

SYSTEM = "/usr/bin/python3"
VENV = "/opt/ghostguard/bin/python3"


def _lacks(python: str, agent: str | None) -> dict[str, t.Any]:
    return {"failed": True, "msg": "the Python library cryptography ... is not usable by %s" % python,
            "error_kind": "missing_library", "missing": ["cryptography"], "python": python, "agent_python": agent,
            "_ansible_parsed": True}


class Action:
    """Answers like the module: *with_crypto* interpreters work, others lack cryptography, *gone* ones do not exist."""

    def __init__(self, with_crypto: set[str], agent: str | None = None, delegate_to: str | None = None,
                 gone: set[str] | None = None) -> None:
        self._task = types.SimpleNamespace(delegate_to=delegate_to)
        self.with_crypto, self.agent, self.gone = with_crypto, agent, gone or set()
        self.calls: list[str] = []

    def _execute_module(self, module_name: str, module_args: dict[str, t.Any],
                        task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        assert module_name == "ghostguard.certs.converge" and module_args == {"state": "observed"}
        host = task_vars["ansible_delegated_vars"][self._task.delegate_to] if self._task.delegate_to else task_vars
        python = host.get("ansible_python_interpreter", SYSTEM)
        self.calls.append(python)
        if python in self.gone:
            return {"failed": True, "msg": "The module interpreter %r was not found." % python, "_ansible_parsed": False}
        if python in self.with_crypto:
            return {"changed": False, "certificates": [], "_ansible_parsed": True}
        return _lacks(python, self.agent)


def run(action: Action, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
    return host_python.execute(action, "ghostguard.certs.converge", {"state": "observed"},
                               task_vars if task_vars is not None else {"ansible_python_interpreter": SYSTEM})


def test_the_hosts_python_with_cryptography_runs_the_module_once() -> None:
    action = Action({SYSTEM}, agent=VENV)
    result = run(action)
    assert action.calls == [SYSTEM]
    assert result["certificates"] == [] and "ansible_facts" not in result and "python" not in result


def test_without_cryptography_the_agents_venv_runs_it_and_the_host_remembers() -> None:
    action = Action({VENV}, agent=VENV)
    result = run(action)
    assert action.calls == [SYSTEM, VENV]
    assert result["certificates"] == [] and result["python"] == VENV
    assert result["ansible_facts"] == {host_python.FACT: VENV}


def test_a_remembered_venv_is_used_at_once() -> None:
    action = Action({VENV}, agent=VENV)
    result = run(action, {"ansible_python_interpreter": SYSTEM, host_python.FACT: VENV})
    assert action.calls == [VENV] and result["certificates"] == []


def test_a_remembered_venv_that_is_gone_falls_back_to_the_hosts_python() -> None:
    action = Action({SYSTEM}, gone={VENV})
    result = run(action, {"ansible_python_interpreter": SYSTEM, host_python.FACT: VENV})
    assert action.calls == [VENV, SYSTEM] and result["certificates"] == []


def test_neither_gives_one_message_naming_the_package_and_the_fixes() -> None:
    action = Action(set(), agent=None)
    result = run(action)
    assert action.calls == [SYSTEM]
    assert result["failed"] and result["error_kind"] == "missing_library"
    msg = result["msg"]
    assert msg.startswith(SYSTEM + ", the Python that runs the collection's modules on this host, lacks the library cryptography")
    for fix in ("apt-get install python3-cryptography", "dnf install python3-cryptography", "ghostguard.certs.certwatch role",
                "/opt/ghostguard/bin/python3", "ansible_python_interpreter", "nothing was changed on this host"):
        assert fix in msg


def test_the_message_ends_with_the_pip_line_when_the_module_gave_one() -> None:
    pip = "/srv/venv/bin/python -m pip install 'cryptography>=3.4'"
    msg = host_python.missing_message("/srv/venv/bin/python", pip)
    assert msg.endswith("a Python that has cryptography; or, as this Python is not the system's: %s" % pip)
    assert host_python.missing_message(SYSTEM).endswith("a Python that has cryptography")
    assert host_python.missing_message(SYSTEM, "/usr/bin/python3 -m pip install x").endswith("a Python that has cryptography")


def test_a_broken_agent_venv_gives_the_same_message() -> None:
    action = Action(set(), agent=VENV)
    result = run(action)
    assert action.calls == [SYSTEM, VENV]
    assert result["failed"] and "apt-get install python3-cryptography" in result["msg"] and SYSTEM in result["msg"]


def test_delegated_tasks_use_the_delegated_hosts_python_and_set_no_fact() -> None:
    action = Action({VENV}, agent=VENV, delegate_to="web-1")
    task_vars = {"ansible_python_interpreter": "/controller/python",
                 "ansible_delegated_vars": {"web-1": {"ansible_python_interpreter": SYSTEM}}}
    result = run(action, task_vars)
    assert action.calls == [SYSTEM, VENV] and result["python"] == VENV and "ansible_facts" not in result
    assert task_vars["ansible_delegated_vars"]["web-1"]["ansible_python_interpreter"] == SYSTEM  # not changed in place

    remembered = Action({VENV}, agent=VENV, delegate_to="web-1")
    run(remembered, {"ansible_delegated_vars": {"web-1": {"ansible_python_interpreter": SYSTEM, host_python.FACT: VENV}}})
    assert remembered.calls == [VENV]


class StoreHost:
    """renew_orders on a renew_store_host whose Python has cryptography but not acme; *venv* has everything."""

    def __init__(self, venv: str | None) -> None:
        self._task = types.SimpleNamespace(delegate_to="store1")
        self.venv = venv
        self.calls: list[str] = []

    def _execute_module(self, module_name: str, module_args: dict[str, t.Any],
                        task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        assert module_name == "ghostguard.certs.renew_orders"
        python = task_vars["ansible_delegated_vars"]["store1"].get("ansible_python_interpreter", SYSTEM)
        self.calls.append(python)
        if python == self.venv:
            return {"changed": True, "issued": {}, "_ansible_parsed": True}
        return {"failed": True, "error_kind": "missing_library", "missing": ["acme", "josepy"], "python": python,
                "agent_python": self.venv, "_ansible_parsed": True,
                "msg": "ACME orders need acme, josepy: %s -m pip install 'acme>=4.0' 'josepy>=2.0'." % python}


def test_a_store_host_lacking_acme_runs_renew_orders_with_the_venv_or_says_how() -> None:
    task_vars = {"ansible_delegated_vars": {"store1": {"ansible_python_interpreter": SYSTEM}}}
    with_venv = StoreHost(VENV)
    result = host_python.execute(with_venv, "ghostguard.certs.renew_orders", {}, task_vars)
    assert with_venv.calls == [SYSTEM, VENV] and result["python"] == VENV and result["issued"] == {}
    without = StoreHost(None)
    result = host_python.execute(without, "ghostguard.certs.renew_orders", {}, task_vars)
    assert without.calls == [SYSTEM] and result["failed"]
    assert result["msg"].startswith("ACME orders need acme, josepy: /usr/bin/python3 -m pip install")   # its own words
    assert "a venv at /opt/ghostguard" in result["msg"] and "cryptography" not in result["msg"]
