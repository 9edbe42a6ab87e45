# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The host's kernel clock discipline, read with adjtimex(2) in read-only mode.

A skewed clock makes a valid certificate look expired (or a new one not yet valid), so every
expiry report says whether the clock it used is synchronised and how far off it may be.
"""

from __future__ import annotations

import ctypes
import sys
import typing as t

# Clock states returned by adjtimex(2).
_STATES = {0: "ok", 1: "insert_leap", 2: "delete_leap", 3: "leap_in_progress", 4: "leap_done", 5: "unsynchronized"}
_STA_UNSYNC = 0x0040


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h>; trailing padding as in glibc.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_padding", ctypes.c_int * 11),
    ]


def _libc() -> t.Any:
    """The C library: glibc's soname first (no ``ldconfig`` subprocess), then whatever find_library names."""
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        from ctypes.util import find_library  # imports subprocess, shutil: only where glibc's soname is not there

        return ctypes.CDLL(find_library("c") or "libc.so.6", use_errno=True)


def clock_state() -> dict[str, t.Any]:
    """Return ``synchronized``, ``state``, ``estimated_error_seconds``, ``max_error_seconds``.

    ``synchronized`` is None (with ``error``) where adjtimex is not available.
    """
    result: dict[str, t.Any] = {
        "source": "adjtimex",
        "synchronized": None,
        "state": "unknown",
        "estimated_error_seconds": None,
        "max_error_seconds": None,
    }
    if not sys.platform.startswith("linux"):
        result["error"] = "adjtimex is Linux only; clock state unknown on %s" % sys.platform
        return result
    try:
        libc = _libc()
        timex = _Timex()  # modes = 0: read only, never adjusts the clock
        code = libc.adjtimex(ctypes.byref(timex))
    except (OSError, AttributeError) as exc:
        result["error"] = "adjtimex unavailable: %s" % exc
        return result
    if code < 0:
        result["error"] = "adjtimex failed: errno %d" % ctypes.get_errno()
        return result
    unsync = bool(timex.status & _STA_UNSYNC) or code == 5
    result.update(
        synchronized=not unsync,
        state=_STATES.get(code, "code_%d" % code),
        estimated_error_seconds=round(timex.esterror / 1e6, 6),
        max_error_seconds=round(timex.maxerror / 1e6, 6),
    )
    return result
