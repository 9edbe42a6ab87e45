# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Service files rewritten in their own inodes from a generation of the store (``in_place``), for services
that watch the files themselves.  Plain Python, no Ansible import."""

from __future__ import annotations

import os
import stat
import typing as t

from .._durable import read_file, step
from .._durable import write_in_place as _write_file_in_place
from .attrs import Attrs
from .store import Store, ensure_dir

__all__ = ["IN_PLACE_ORDER", "files_ok", "write_in_place"]
IN_PLACE_ORDER = ("key", "chain", "combined", "cert", "fullchain")


def _file_ok(path: str, data: bytes | None, mode: int, attrs: Attrs) -> bool:
    """Whether *path* is a regular file (not a link) holding *data* with *mode* and the owner/group of *attrs*."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode) or stat.S_IMODE(st.st_mode) != mode:
        return False
    return attrs.uid in (-1, st.st_uid) and attrs.gid in (-1, st.st_gid) and read_file(path) == data


def write_in_place(store: Store, number: int, targets: t.Mapping[str, str], attrs: Attrs) -> list[str]:
    """Write generation *number*'s files into the service paths' own inodes; return the paths written.

    Order: key first, chain, then the files holding the certificate.  A watcher that validates the
    pair may see the new key beside the old certificate (and refuse it, keeping the old pair), but
    the last change it is told about comes after every file is new, so it ends on the new pair -
    whether it watches the certificate and the key, or only the certificate.
    """
    written = []
    for role in IN_PLACE_ORDER:
        path = targets.get(role)
        if path is None:
            continue
        data = store.read(number, role)
        if data is None:
            continue
        if _file_ok(path, data, attrs.mode_for(role), attrs):
            continue
        ensure_dir(os.path.dirname(path))
        step("in place " + role)
        _write_file_in_place(path, data, attrs.mode_for(role), attrs.uid, attrs.gid)
        written.append(path)
    return written


def files_ok(store: Store, number: int, targets: t.Mapping[str, str], attrs: Attrs) -> bool:
    """Whether every service path is a regular file holding generation *number*'s bytes and attributes."""
    return all(_file_ok(path, store.read(number, role), attrs.mode_for(role), attrs) for role, path in targets.items())
