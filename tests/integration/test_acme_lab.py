# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's programmatic API (used by tests, make demo and molecule): idempotent start and stop by PID."""

from __future__ import annotations

import json
import os
import pathlib
import socket

from lab import Lab, main


def _alive(pid: int) -> bool:
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_start_is_idempotent_and_stop_kills_by_pid(tmp_path: pathlib.Path) -> None:
    state = str(tmp_path / "lab")
    info = Lab.start(state)
    try:
        assert Lab.start(state)["pids"] == info["pids"]  # already running: same processes
        assert Lab.status(state) == info
        with open(os.path.join(state, "info.json")) as handle:
            assert json.load(handle) == info
        assert os.stat(os.path.join(state, "info.json")).st_mode & 0o777 == 0o600  # holds the TSIG and API secrets
        for port in (info["dns"]["port"], info["pebble"]["port"], info["alidns"]["port"], info["proxy"]["port"]):
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                pass
        assert main(["status", "--state-dir", state]) == 0
    finally:
        Lab.stop(state)
    assert not any(_alive(pid) for pid in info["pids"].values())
    assert Lab.status(state) is None
    Lab.stop(state)  # a second stop is a no-op
    assert main(["status", "--state-dir", state]) == 3
