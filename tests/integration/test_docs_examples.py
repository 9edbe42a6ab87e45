# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every documented example is checked against the real interface.

Each module's EXAMPLES and every YAML block of the README are parsed; each task that calls one of
this collection's modules must use documented options only (suboptions too), and every use of a
registered result (``{{ order.fullchain_pem }}``, ``when: served.matches_expected``) must name a key
that module really returns (``ansible-doc --json`` RETURN, ``contains`` followed).  Then each
playbook-shaped block is run through ``ansible-playbook --syntax-check``.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import typing as t

import pytest
import yaml
from ansible_run import BIN, ROOT, ansible_env

MODULES = sorted(p[:-3] for p in os.listdir(os.path.join(ROOT, "plugins", "modules")) if p.endswith(".py"))
PREFIX = "ghostguard.certs."
# keys every registered result has, whatever the module
COMMON_RESULT_KEYS = {"changed", "failed", "skipped", "msg", "results", "warnings", "rc", "unreachable"}
TASK_KEYWORDS = {
    "name", "register", "when", "notify", "loop", "loop_control", "vars", "delegate_to", "run_once", "become",
    "become_user", "changed_when", "failed_when", "ignore_errors", "no_log", "tags", "until", "retries", "delay",
    "environment", "check_mode", "diff", "throttle", "listen", "args", "module_defaults", "ignore_unreachable",
}
REF = re.compile(r"\b([a-z_][a-z0-9_]*)((?:\.[a-z_][a-z0-9_]*|\[\d+\])+)")


@pytest.fixture(scope="module")
def docs() -> dict[str, dict[str, t.Any]]:
    names = [PREFIX + m for m in MODULES]
    proc = subprocess.run([os.path.join(BIN, "ansible-doc"), "--json", *names], capture_output=True, text=True,
                          env=ansible_env(), check=False)
    assert proc.returncode == 0, proc.stderr
    return {k[len(PREFIX):]: v for k, v in json.loads(proc.stdout).items()}


def readme_blocks() -> list[tuple[str, str]]:
    text = pathlib.Path(ROOT, "README.md").read_text()
    blocks = re.findall(r"```ya?ml\n(.*?)```", text, re.S)
    return [("README.md block %d" % (i + 1), block) for i, block in enumerate(blocks)]


def example_blocks(docs: dict[str, dict[str, t.Any]]) -> list[tuple[str, str]]:
    return [("%s EXAMPLES" % name, docs[name]["examples"]) for name in MODULES]


def tasks_of(data: t.Any) -> list[dict[str, t.Any]]:
    """Tasks of a task list, a play list, or nested blocks."""
    out: list[dict[str, t.Any]] = []
    items = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
    for item in items:
        if not isinstance(item, dict):
            continue
        for key in ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always"):
            if isinstance(item.get(key), list):
                out += tasks_of(item[key])
        if not any(k in item for k in ("hosts", "block")):
            out.append(item)
    return out


def module_of(task: dict[str, t.Any]) -> tuple[str | None, t.Any]:
    for key, value in task.items():
        if key.startswith(PREFIX):
            return key[len(PREFIX):], value
    return None, None


def check_options(where: str, given: t.Mapping[str, t.Any], spec: t.Mapping[str, t.Any]) -> list[str]:
    problems: list[str] = []
    for option, value in given.items():
        if option not in spec:
            problems.append("%s: option %r is not documented" % (where, option))
            continue
        sub = spec[option].get("suboptions")
        if sub and isinstance(value, dict):
            problems += check_options("%s.%s" % (where, option), value, sub)
        elif sub and isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    problems += check_options("%s.%s[%d]" % (where, option, i), item, sub)
    return problems


def check_ref(path: list[str], returns: t.Mapping[str, t.Any]) -> bool:
    """Whether the attribute path is a documented return key (following ``contains``)."""
    spec: t.Mapping[str, t.Any] | None = returns
    for part in path:
        if part.startswith("["):
            continue
        if spec is None:
            return True  # below a documented dict/list without documented contents: not checkable
        if part not in spec:
            return False
        spec = spec[part].get("contains")
    return True


def registrations(blocks: t.Sequence[tuple[str, str]]) -> dict[str, str]:
    """``register:`` names of this collection's modules across all documented blocks: an example may use
    a result registered in another block (the README's renew, then install, then prove)."""
    found: dict[str, str] = {}
    for _where, text in blocks:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            continue
        for task in tasks_of(data):
            module, _args = module_of(task)
            if module is not None and task.get("register"):
                found[str(task["register"])] = module
    return found


def ref_problems(where: str, task: t.Mapping[str, t.Any], registered: t.Mapping[str, str],
                 docs: dict[str, dict[str, t.Any]]) -> list[str]:
    """References of *task* to results registered by earlier tasks of this collection that are no return key."""
    problems: list[str] = []
    for ref in REF.finditer(yaml.safe_dump({k: v for k, v in task.items() if k != "register"})):
        var, rest = ref.group(1), ref.group(2)
        if var in registered:
            path = re.findall(r"\.([a-z_][a-z0-9_]*)|(\[\d+\])", rest)
            parts = [a or b for a, b in path]
            if parts and parts[0] in COMMON_RESULT_KEYS:
                continue
            if not check_ref(parts, docs[registered[var]]["return"]):
                problems.append("%s: %s%s is not a return key of %s%s" % (where, var, rest, PREFIX, registered[var]))
    return problems


def task_problems(where: str, task: t.Mapping[str, t.Any], module: str, args: t.Any,
                  docs: dict[str, dict[str, t.Any]]) -> list[str]:
    """Options of *task* that its *module* does not document, then keywords that are no task keyword."""
    problems: list[str] = []
    if isinstance(args, dict):
        problems += check_options("%s (%s)" % (where, module), args, docs[module]["doc"]["options"])
    unknown = set(task) - TASK_KEYWORDS - {PREFIX + module}
    if unknown:
        problems.append("%s: unknown task keyword(s) %s" % (where, ", ".join(sorted(unknown))))
    return problems


def problems_in(where: str, text: str, docs: dict[str, dict[str, t.Any]],
                elsewhere: t.Mapping[str, str] | None = None) -> list[str]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return ["%s: not valid YAML: %s" % (where, exc)]
    problems: list[str] = []
    registered: dict[str, str] = dict(elsewhere or {})
    for task in tasks_of(data):
        # references to results registered by earlier tasks of this collection
        problems += ref_problems(where, task, registered, docs)
        module, args = module_of(task)
        if module is None:
            continue
        if module not in docs:
            problems.append("%s: %s%s is not a module of this collection" % (where, PREFIX, module))
            continue
        problems += task_problems(where, task, module, args, docs)
        if task.get("register"):
            registered[str(task["register"])] = module
    return problems


def test_every_example_uses_real_options_and_return_keys(docs: dict[str, dict[str, t.Any]]) -> None:
    blocks = example_blocks(docs) + readme_blocks()
    assert len(blocks) >= len(MODULES) + 3
    problems: list[str] = []
    elsewhere = registrations(blocks)
    for where, text in blocks:
        problems += problems_in(where, text, docs, elsewhere)
    assert problems == [], "\n".join(problems)


def test_the_checker_catches_a_wrong_return_key(docs: dict[str, dict[str, t.Any]]) -> None:
    bad = ("- name: Renew\n  ghostguard.certs.acme_dns01:\n    names: [a.example]\n    colour: blue\n  register: order\n"
           "- name: Install\n  ghostguard.certs.deploy:\n    cert_content: '{{ order.no_such_key }}'\n")
    found = problems_in("sample", bad, docs)
    assert any("'colour' is not documented" in p for p in found), found
    assert any("order.no_such_key is not a return key of ghostguard.certs.acme_dns01" in p for p in found), found


def test_example_playbooks_pass_syntax_check(docs: dict[str, dict[str, t.Any]], tmp_path: pathlib.Path) -> None:
    """Task lists are wrapped in a play; every block then goes through ansible-playbook --syntax-check."""
    checked = 0
    for i, (where, text) in enumerate(example_blocks(docs) + readme_blocks()):
        data = yaml.safe_load(text)
        if not isinstance(data, list) or not data or not all(isinstance(x, dict) for x in data):
            continue
        wrapped = [{"name": "example", "hosts": "localhost", "gather_facts": False, "tasks": data}]
        plays = data if "hosts" in data[0] else wrapped
        path = tmp_path / ("example-%d.yml" % i)
        path.write_text(yaml.safe_dump(plays, sort_keys=False))
        proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "--syntax-check", "-i", "localhost,", str(path)],
                              capture_output=True, text=True, env=ansible_env(), check=False, cwd=ROOT)
        assert proc.returncode == 0, "%s: %s" % (where, proc.stdout + proc.stderr)
        checked += 1
    assert checked >= len(MODULES)
