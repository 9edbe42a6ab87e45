# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kernel clock state read with adjtimex(2), on this Linux host (read-only: never adjusts the clock)."""

from __future__ import annotations

import ctypes
import sys
import time

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils import _clock

KEYS = {"source", "synchronized", "state", "estimated_error_seconds", "max_error_seconds"}


def test_struct_matches_the_kernel_size() -> None:
    # struct timex is 208 bytes on 64-bit Linux (glibc <sys/timex.h>); adjtimex writes all of it.
    if ctypes.sizeof(ctypes.c_long) == 8:
        assert ctypes.sizeof(_clock._Timex) == 208


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="adjtimex is Linux only")
def test_reads_the_real_clock_state() -> None:
    before = time.time()
    state = _clock.clock_state()
    assert set(state) >= KEYS
    assert "error" not in state, state
    assert state["source"] == "adjtimex"
    assert isinstance(state["synchronized"], bool)
    assert state["state"] in set(_clock._STATES.values()) | {"code_%d" % i for i in range(6, 64)}
    assert state["max_error_seconds"] >= 0 and state["estimated_error_seconds"] >= 0
    if state["state"] == "unsynchronized":
        assert state["synchronized"] is False
    assert abs(time.time() - before) < 5  # read-only: the clock did not jump


def test_other_platforms_say_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_clock.sys, "platform", "darwin")
    state = _clock.clock_state()
    assert state["synchronized"] is None and state["state"] == "unknown"
    assert state["error"] == "adjtimex is Linux only; clock state unknown on darwin"


def test_unloadable_libc_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def unloadable(name: str, **_kwargs: object) -> None:
        raise OSError("%s: cannot open shared object file" % name)

    monkeypatch.setattr(_clock.ctypes, "CDLL", unloadable)
    state = _clock.clock_state()
    assert state["synchronized"] is None and state["state"] == "unknown"
    assert state["error"].startswith("adjtimex unavailable: ")
