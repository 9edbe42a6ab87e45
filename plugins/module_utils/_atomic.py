# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Atomic file replacement: a reader sees the old file or the new one, never a mix."""

from __future__ import annotations

import contextlib
import os
import tempfile

from ._errors import FileSystemError


def atomic_write(path: str, data: bytes, mode: int = 0o644) -> None:
    """Replace *path* with *data*: temp file in the same directory, fsync, chmod, rename, fsync dir.

    The temp file is created with mode 0600 and only widened to *mode* before the rename, so a
    private key is never readable by others, not even for a moment.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
    except OSError as exc:
        raise FileSystemError(
            "cannot create a temporary file in %s to write %s (%s); check that the directory exists and is "
            "writable" % (directory, path, exc.strerror), path=path
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise FileSystemError("writing %s failed (%s); the previous file is unchanged" % (path, exc.strerror),
                              path=path) from None
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
