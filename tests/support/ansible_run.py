# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run real ``ansible`` / ``ansible-playbook`` from tests and read structured results.

The collection is found through ANSIBLE_COLLECTIONS_PATH (the Makefile links the checkout into
``.build/collections``); modules run on localhost with the venv's Python.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import typing as t

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTIONS = os.path.join(ROOT, ".build", "collections")
BIN = os.path.dirname(sys.executable)


def ensure_collection_link() -> None:
    link = os.path.join(COLLECTIONS, "ansible_collections", "ghostguard", "certs")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)


def ansible_env(**extra: str) -> dict[str, str]:
    ensure_collection_link()
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="false",
        PATH=BIN + os.pathsep + env.get("PATH", ""),
    )
    env.update(extra)
    return env


@dataclasses.dataclass
class ModuleRun:
    rc: int
    result: dict[str, t.Any]
    stdout: str
    stderr: str


def run_module(module: str, args: dict[str, t.Any], check: bool = False, diff: bool = False,
               verbosity: int = 0, timeout: float = 300) -> ModuleRun:
    """Run one module on localhost with ``ansible -m`` and return its parsed result."""
    cmd = [os.path.join(BIN, "ansible"), "localhost", "-o", "-m", module, "-a", json.dumps(args)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(), timeout=timeout, check=False)
    result: dict[str, t.Any] = {}
    for line in proc.stdout.splitlines():  # one-line output: "localhost | SUCCESS => {...}"
        if line.startswith("localhost | ") and "=> {" in line:
            try:
                result = json.loads(line[line.index("=> {") + 3:])
                result.setdefault("failed", "| FAILED" in line)
            except ValueError:
                pass
    return ModuleRun(proc.returncode, result, proc.stdout, proc.stderr)


def run_playbook(playbook: str, extra_vars: dict[str, t.Any] | None = None, inventory: str | None = None,
                 args: t.Sequence[str] = (), timeout: float = 600, prefix: t.Sequence[str] = (),
                 **env_extra: str) -> subprocess.CompletedProcess[str]:
    """Run ``ansible-playbook`` (under *prefix*, e.g. ``setpriv ... --``) and return the finished process."""
    cmd = [*prefix, os.path.join(BIN, "ansible-playbook"), playbook]
    cmd += ["-i", inventory or "localhost,", "-c", "local"] if inventory is None else ["-i", inventory]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    cmd += list(args)
    return subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(**env_extra), timeout=timeout,
                          check=False, cwd=ROOT)


def recap(output: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP of an ansible-playbook run: host -> {ok, changed, unreachable, failed, skipped, ...}."""
    import re

    assert "PLAY RECAP" in output, output[-3000:]
    counts: dict[str, dict[str, int]] = {}
    for line in output.split("PLAY RECAP", 1)[1].splitlines()[1:]:
        match = re.match(r"^(\S+)\s+:\s+(.*)$", line)
        if match is None:
            if counts:
                break
            continue
        counts[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
    return counts
