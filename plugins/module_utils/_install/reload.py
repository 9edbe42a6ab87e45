# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reload a certificate's service as its ``reload`` says: ``{systemd: unit}``, ``{signal: HUP, pidfile: path}``,
``{command: [argv...]}`` or ``{watch: true}`` (the service watches its files: nothing is sent).

Shared by :mod:`.converge` (the ``converge`` module, renew.yml, rollback.yml) and the certwatch agent.
Plain Python, no Ansible import: the agent runs without Ansible, so a plain subprocess is the way here.
"""

from __future__ import annotations

import os
import typing as t

KINDS = ("systemd", "signal", "command", "watch")
TIMEOUT = 120


def kind(cert: t.Mapping[str, t.Any]) -> str:
    """``systemd``, ``signal``, ``command``, ``watch`` or ``none``."""
    spec = cert.get("reload") or {}
    return next((k for k in KINDS if k in spec), "none")


def watches(cert: t.Mapping[str, t.Any]) -> bool:
    """The service watches its own files (``reload: {watch: true}``): no signal, it is waited for."""
    return kind(cert) == "watch"


def _run(argv: list[str]) -> t.Any:
    import subprocess

    # The agent runs without Ansible (no AnsibleModule.run_command): a plain subprocess is the way here.
    return subprocess.run(  # pylint: disable=ansible-bad-function
        argv, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def _signal(spec: t.Mapping[str, t.Any]) -> None:
    import signal

    name = str(spec["signal"]).upper()
    signum = getattr(signal, name if name.startswith("SIG") else "SIG" + name)
    with open(spec["pidfile"], encoding="ascii") as handle:
        pid = int(handle.read().split()[0])
    os.kill(pid, signum)


def reload(cert: t.Mapping[str, t.Any]) -> str | None:
    """Reload the certificate's service; return an error message or None (also for ``watch`` and none)."""
    import subprocess

    spec = cert.get("reload") or {}
    try:
        if "systemd" in spec:
            proc = _run(["systemctl", "reload", str(spec["systemd"])])
            if proc.returncode != 0:
                return "systemctl reload %s failed: %s" % (spec["systemd"], (proc.stderr or proc.stdout).strip()[-300:])
        elif "signal" in spec:
            _signal(spec)
        elif "command" in spec:
            proc = _run([str(a) for a in spec["command"]])
            if proc.returncode != 0:
                detail = (proc.stderr or proc.stdout).strip()[-300:]
                return "reload command %s exited %d: %s" % (spec["command"][0], proc.returncode, detail)
    except (OSError, ValueError, IndexError, AttributeError, subprocess.SubprocessError) as exc:
        return "reload of %s failed: %s" % (cert.get("name"), exc)
    return None
