# SPDX-License-Identifier: GPL-3.0-or-later
"""atomic_write: replace, modes, and a failure that leaves the old file."""

from __future__ import annotations

import os
import pathlib

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils._atomic import atomic_write
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import FileSystemError


def test_atomic_write_replaces_with_mode(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "key.pem"
    target.write_bytes(b"old")
    os.chmod(target, 0o644)
    atomic_write(str(target), b"new", 0o600)
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.pem"]


def test_atomic_write_missing_directory(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileSystemError, match=r"does not exist|cannot create"):
        atomic_write(str(tmp_path / "nope" / "cert.pem"), b"x")


def test_atomic_write_onto_directory_keeps_it(tmp_path: pathlib.Path) -> None:
    (tmp_path / "cert.pem").mkdir()
    with pytest.raises(FileSystemError, match="previous file is unchanged"):
        atomic_write(str(tmp_path / "cert.pem"), b"x")
    assert (tmp_path / "cert.pem").is_dir()
    assert [p.name for p in tmp_path.iterdir()] == ["cert.pem"]
