# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Start ``ansible-playbook`` in the background and stop it at a chosen moment, as a crash would.

Ansible's workers call setsid(), so they (and the modules they run, and what the modules run) are not in
the playbook's process group: a crash of the controller is simulated by freezing and killing the whole
process tree (:func:`kill_tree`), found through ``/proc``.

    proc = start_playbook(playbook, {"renew_store": ...}, inventory, log)
    wait_until(lambda: something_happened(), timeout=60, proc=proc)
    killed = kill_tree(proc.pid, signal.SIGKILL)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import typing as t

from ansible_run import BIN, ROOT, ansible_env


def start_playbook(playbook: str, extra_vars: dict[str, t.Any], inventory: str, log_path: str,
                   args: t.Sequence[str] = (), **env_extra: str) -> subprocess.Popen[bytes]:
    """``ansible-playbook`` in its own process group, its output going to *log_path*. Its temporary files go to
    ``tmp`` beside the log (``TMPDIR``): a module killed with the run leaves its AnsiballZ payload directory
    behind (nothing can remove it), and that must not pile up in the machine's /tmp."""
    cmd = [os.path.join(BIN, "ansible-playbook"), playbook, "-i", inventory, "-e", json.dumps(extra_vars), *args]
    if "TMPDIR" not in env_extra:
        env_extra["TMPDIR"] = os.path.join(os.path.dirname(os.path.abspath(log_path)), "tmp")
        os.makedirs(env_extra["TMPDIR"], exist_ok=True)
    with open(log_path, "wb") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=ansible_env(**env_extra), cwd=ROOT,
                                start_new_session=True)


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out.setdefault(int(fields[1]), []).append(int(entry))
    return out


def descendants(pid: int) -> list[int]:
    """*pid* and every process below it (whatever their session or process group)."""
    children = _children()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> list[int]:
    """Freeze *pid*'s whole tree (until no new process appears), then send *sig* to every process of it.
    Returns the pids signalled."""
    stopped: set[int] = set()
    for _round in range(20):
        tree = [p for p in descendants(pid) if p not in stopped]
        if not tree:
            break
        for proc in tree:
            try:
                os.kill(proc, signal.SIGSTOP)
                stopped.add(proc)
            except ProcessLookupError:
                pass
    for proc in stopped:
        try:
            os.kill(proc, sig)
            if sig != signal.SIGKILL:
                os.kill(proc, signal.SIGCONT)
        except ProcessLookupError:
            pass
    return sorted(stopped)


def wait_until(condition: t.Callable[[], t.Any], timeout: float, proc: subprocess.Popen[bytes] | None = None,
               interval: float = 0.01, what: str = "the condition") -> t.Any:
    """Poll *condition* until it returns something true; fail when *proc* ends first or *timeout* passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError("the playbook ended (rc %s) before %s" % (proc.returncode, what))
        time.sleep(interval)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


# --------------------------------------------------------------------------- Ctrl-C (SIGINT), and what is left


MARKER = "GHOSTGUARD_TEST_RUN"


def start_marked_playbook(playbook: str, extra_vars: dict[str, t.Any], inventory: str, log_path: str, marker: str,
                          args: t.Sequence[str] = (), **env_extra: str) -> subprocess.Popen[bytes]:
    """:func:`start_playbook` with ``GHOSTGUARD_TEST_RUN=<marker>`` in its environment: every process of the
    run (workers, modules, what they start) inherits it, so :func:`marked` finds them even once orphaned."""
    return start_playbook(playbook, extra_vars, inventory, log_path, args=args, **{MARKER: marker, **env_extra})


def marked(marker: str) -> list[int]:
    """Live processes (not zombies) whose environment holds ``GHOSTGUARD_TEST_RUN=<marker>``."""
    needle = ("%s=%s" % (MARKER, marker)).encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % entry, "rb") as handle:
                if needle not in handle.read().split(b"\0"):
                    continue
            with open("/proc/%s/stat" % entry, encoding="ascii", errors="replace") as handle:
                if handle.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        found.append(int(entry))
    return sorted(found)


def describe(pids: t.Iterable[int]) -> list[str]:
    """``pid: command line`` of each process still there (for an assertion's message)."""
    out = []
    for pid in pids:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                out.append("%d: %s" % (pid, handle.read().replace(b"\0", b" ").decode(errors="replace")[:200]))
        except OSError:
            pass
    return out


def interrupt(proc: subprocess.Popen[bytes], group: bool = True) -> list[int]:
    """Ctrl-C: SIGINT to the process group of ``ansible-playbook`` (*group*, what a terminal sends), or to the
    ``ansible-playbook`` process alone. Its workers called setsid(): neither reaches them directly.
    Returns the pids of the tree just before (:func:`descendants`)."""
    tree = descendants(proc.pid)
    if group:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        os.kill(proc.pid, signal.SIGINT)
    return tree
