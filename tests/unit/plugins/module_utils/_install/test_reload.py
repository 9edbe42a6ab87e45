# SPDX-License-Identifier: GPL-3.0-or-later
"""Reloading a service as its ``reload`` says: command, signal from a pidfile, systemd, watch (nothing sent)."""

from __future__ import annotations

import os
import pathlib
import signal
import typing as t

from ansible_collections.ghostguard.certs.plugins.module_utils._install import reload as _reload


def test_kind_and_watches() -> None:
    assert _reload.kind({"reload": {"systemd": "nginx.service"}}) == "systemd"
    assert _reload.kind({"reload": None}) == "none" and _reload.kind({}) == "none"
    assert _reload.watches({"reload": {"watch": True}}) and not _reload.watches({"reload": {"command": ["true"]}})


def test_command_reload_and_its_failure(tmp_path: pathlib.Path) -> None:
    flag = tmp_path / "reloaded"
    assert _reload.reload({"name": "web", "reload": {"command": ["touch", str(flag)]}}) is None and flag.exists()
    error = _reload.reload({"name": "web", "reload": {"command": ["sh", "-c", "echo broken >&2; exit 3"]}})
    assert error == "reload command sh exited 3: broken"
    assert "reload of web failed" in str(_reload.reload({"name": "web", "reload": {"command": [str(tmp_path / "nope")]}}))


def test_signal_reload_from_a_pidfile(tmp_path: pathlib.Path) -> None:
    got: list[int] = []
    pidfile = tmp_path / "svc.pid"
    pidfile.write_text("%d\n" % os.getpid())
    previous = signal.signal(signal.SIGUSR2, lambda signum, _frame: got.append(signum))
    try:
        assert _reload.reload({"name": "web", "reload": {"signal": "usr2", "pidfile": str(pidfile)}}) is None
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert got == [signal.SIGUSR2]
    error = _reload.reload({"name": "web", "reload": {"signal": "HUP", "pidfile": str(tmp_path / "none.pid")}})
    assert error is not None and "reload of web failed" in error


def test_watch_and_none_send_nothing(monkeypatch: t.Any) -> None:
    def refuse(argv: list[str]) -> None:
        raise AssertionError(argv)

    monkeypatch.setattr(_reload, "_run", refuse)
    assert _reload.reload({"name": "w", "reload": {"watch": True}}) is None
    assert _reload.reload({"name": "w", "reload": None}) is None


def test_systemd_reload_failure_is_reported(monkeypatch: t.Any) -> None:
    class Proc:
        returncode, stdout, stderr = 1, "", "Unit nope.service not found.\n"

    calls: list[list[str]] = []
    monkeypatch.setattr(_reload, "_run", lambda argv: calls.append(argv) or Proc())
    error = _reload.reload({"name": "w", "reload": {"systemd": "nope.service"}})
    assert calls == [["systemctl", "reload", "nope.service"]]
    assert error == "systemctl reload nope.service failed: Unit nope.service not found."
