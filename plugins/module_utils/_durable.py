# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one durable-write primitive of the engine: files, symlinks and directories that survive a crash.

Every writer of the collection (the generation store, the ACME account key) goes through here:

* :func:`write_file` creates a new file with its final mode from the first byte, writes, chowns and
  fsyncs it;
* :func:`write_atomic` replaces a file: :func:`write_file` on a temporary name in the same directory,
  rename(2) over the target, fsync of the directory - a reader sees the old file or the new one;
* :func:`replace_symlink` points a link elsewhere with one rename;
* :func:`write_in_place` rewrites an existing file's inode (for services that watch that inode);
* :func:`read_file` (``None`` when missing), :func:`fsync_dir`, :func:`locked` and :func:`os_error` (an ``OSError`` as a message naming the fix).

A test seam, :func:`set_step_hook`, is called with a step name before every filesystem step of the
store, so the crash-safety test can kill a deploy between any two of them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import typing as t

from ._errors import FileSystemError

try:
    import fcntl

    HAS_FCNTL = True
except ImportError:  # pragma: no cover - not on POSIX
    HAS_FCNTL = False

StepHook = t.Callable[[str], None]
_step_hook: StepHook | None = None


def set_step_hook(hook: StepHook | None) -> None:
    global _step_hook
    _step_hook = hook


def step(name: str) -> None:
    if _step_hook is not None:
        _step_hook(name)


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: str, data: bytes, mode: int, uid: int = -1, gid: int = -1, durable: bool = True) -> None:
    """Create *path* (must not exist) with *mode* from the first byte, write, chown, fsync (unless not *durable*)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode & 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if uid != -1 or gid != -1:
            os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str, data: bytes, mode: int = 0o644, uid: int = -1, gid: int = -1, durable: bool = True) -> None:
    """Replace *path* with *data*: :func:`write_file` on a temporary name, rename, fsync the directory.

    The temporary file is created with at most mode 0600 and widened to *mode* before the rename, so
    a private key is never readable by others, not even for a moment.  ``durable=False`` skips both
    fsyncs, for a file rewritten on every run (a reader still sees the old file or the new one, but a
    power cut may lose the last write).
    """
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, ".%s.%s.tmp" % (os.path.basename(path), os.urandom(4).hex()))
    try:
        write_file(tmp, data, mode, uid, gid, durable)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if not os.path.isdir(directory):
            raise FileSystemError("cannot write %s: the directory %s does not exist; create it first"
                                  % (path, directory), path=path) from None
        raise os_error("create a temporary file in %s to write" % directory, path, exc) from None
    try:
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise FileSystemError("writing %s failed (%s); the previous file is unchanged" % (path, exc.strerror),
                              path=path) from None
    if durable:
        with contextlib.suppress(OSError):
            fsync_dir(directory)


def write_in_place(path: str, data: bytes, mode: int, uid: int = -1, gid: int = -1) -> str:
    """Rewrite the regular file *path* in its own inode; return ``updated`` or ``created``.

    Owner and mode are set first (a key never becomes readable with the new bytes in it), the bytes
    are written from offset 0 and only then is the file cut to their length, so the file is never
    empty or truncated while a reader looks; fsynced.  A missing path or one that is not a regular
    file (a link into a generation store) is replaced by a new file with one rename instead: writing
    through a link would change the store.
    """
    import stat

    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is None or not stat.S_ISREG(st.st_mode):
        tmp = path + ".ghostguard-new"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        write_file(tmp, data, mode, uid, gid)
        step("rename in place " + os.path.basename(path))
        os.rename(tmp, path)
        fsync_dir(os.path.dirname(os.path.abspath(path)))
        return "created"
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        if uid != -1 or gid != -1:
            os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
        offset = 0
        while offset < len(data):
            offset += os.pwrite(fd, data[offset:], offset)
        if st.st_size > len(data):
            os.ftruncate(fd, len(data))
        os.fsync(fd)
    finally:
        os.close(fd)
    return "updated"


def replace_symlink(target: str, link: str) -> None:
    """Point *link* at *target* atomically: make ``link.ghostguard-tmp`` then rename it over *link*."""
    tmp = link + ".ghostguard-tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    os.symlink(target, tmp)
    step("rename %s" % os.path.basename(link))
    os.rename(tmp, link)


@contextlib.contextmanager
def locked(path: str) -> t.Iterator[None]:
    """Exclusive advisory lock on *path* (created) so two writers of one store never interleave."""
    if not HAS_FCNTL:  # pragma: no cover
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_file(path: str | None, limit: int = -1) -> bytes | None:
    """The bytes at *path* (a link is followed; at most *limit* bytes when given); ``None`` when missing."""
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise os_error("read", path, exc) from None


def os_error(action: str, path: str, exc: OSError) -> FileSystemError:
    """*exc* as a :class:`FileSystemError` that says what failed and what to do about it."""
    hint = "check that the directory exists, is writable and has free space"
    if exc.errno in (errno.EACCES, errno.EPERM):
        hint = "run the task with become: true or as the owner of the directory"
    elif exc.errno == errno.ENOSPC:
        hint = "free space on that filesystem"
    return FileSystemError("cannot %s %s (%s); %s" % (action, path, exc.strerror or exc, hint), path=path)
