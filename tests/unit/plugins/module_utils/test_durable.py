# SPDX-License-Identifier: GPL-3.0-or-later
"""The durable-write primitive: new files, atomic replacement, symlinks, the lock and the step hook."""

from __future__ import annotations

import errno
import os
import pathlib
import threading
import time

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils import _durable
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import FileSystemError


def test_write_atomic_replaces_with_mode(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "key.pem"
    target.write_bytes(b"old")
    os.chmod(target, 0o644)
    _durable.write_atomic(str(target), b"new", 0o600)
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.pem"]


def test_write_atomic_missing_directory(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileSystemError, match=r"does not exist|cannot create"):
        _durable.write_atomic(str(tmp_path / "nope" / "cert.pem"), b"x")


def test_write_atomic_onto_directory_keeps_it(tmp_path: pathlib.Path) -> None:
    (tmp_path / "cert.pem").mkdir()
    with pytest.raises(FileSystemError, match="previous file is unchanged"):
        _durable.write_atomic(str(tmp_path / "cert.pem"), b"x")
    assert (tmp_path / "cert.pem").is_dir()
    assert [p.name for p in tmp_path.iterdir()] == ["cert.pem"]


def test_write_file_refuses_existing_and_symlink(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "new.pem"
    _durable.write_file(str(path), b"data" * 10000, 0o640)
    assert path.read_bytes() == b"data" * 10000
    assert path.stat().st_mode & 0o777 == 0o640
    with pytest.raises(FileExistsError):
        _durable.write_file(str(path), b"again", 0o600)
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(FileExistsError):  # never follows a link planted at the path
        _durable.write_file(str(tmp_path / "link"), b"x", 0o600)
    assert not (tmp_path / "elsewhere").exists()


def test_replace_symlink_switches_in_one_step(tmp_path: pathlib.Path) -> None:
    link = tmp_path / "current"
    _durable.replace_symlink("gen-1", str(link))
    steps: list[str] = []
    _durable.set_step_hook(steps.append)
    try:
        _durable.replace_symlink("gen-2", str(link))
    finally:
        _durable.set_step_hook(None)
    assert os.readlink(link) == "gen-2"
    assert steps == ["rename current"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current"]


def test_locked_serialises_two_holders(tmp_path: pathlib.Path) -> None:
    lock = str(tmp_path / ".lock")
    order: list[str] = []

    def other() -> None:
        with _durable.locked(lock):
            order.append("other")

    with _durable.locked(lock):
        worker = threading.Thread(target=other)
        worker.start()
        time.sleep(0.2)
        order.append("first")
    worker.join(5)
    assert order == ["first", "other"]
    assert (tmp_path / ".lock").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("code", "hint"), [
    (errno.EACCES, "become: true"),
    (errno.ENOSPC, "free space"),
    (errno.ENOTDIR, "check that the directory exists"),
])
def test_os_error_names_the_fix(code: int, hint: str) -> None:
    err = _durable.os_error("update", "/etc/tls/x.pem", OSError(code, os.strerror(code)))
    assert hint in str(err) and "/etc/tls/x.pem" in str(err)
    assert err.details["path"] == "/etc/tls/x.pem"


def test_read_file(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a.pem").write_bytes(b"0123456789")
    (tmp_path / "link").symlink_to("a.pem")
    assert _durable.read_file(str(tmp_path / "link")) == b"0123456789"
    assert _durable.read_file(str(tmp_path / "a.pem"), 4) == b"0123"
    assert _durable.read_file(str(tmp_path / "missing")) is None
    assert _durable.read_file(None) is None
    with pytest.raises(FileSystemError, match=r"cannot read .*a\.pem/x \(Not a directory\)"):
        _durable.read_file(str(tmp_path / "a.pem" / "x"))


@pytest.mark.parametrize(("durable", "fsyncs"), [(True, 2), (False, 0)])
def test_write_atomic_fsyncs_only_when_durable(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
                                               durable: bool, fsyncs: int) -> None:
    calls: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd) or real_fsync(fd))
    target = tmp_path / "metrics.prom"
    target.write_bytes(b"old")
    _durable.write_atomic(str(target), b"new", 0o644, durable=durable)
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 == 0o644
    assert len(calls) == fsyncs  # the file and its directory, or neither
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.prom"]
