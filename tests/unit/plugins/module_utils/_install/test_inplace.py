# SPDX-License-Identifier: GPL-3.0-or-later
"""Service files rewritten in their own inodes from a generation (plugins/module_utils/_install/inplace.py)."""

from __future__ import annotations

import os
import pathlib
import stat

import pytest
from certgen import TestCA

from ansible_collections.ghostguard.certs.plugins.module_utils import _durable
from ansible_collections.ghostguard.certs.plugins.module_utils._install import bundle as _bundle
from ansible_collections.ghostguard.certs.plugins.module_utils._install import inplace as _inplace
from ansible_collections.ghostguard.certs.plugins.module_utils._install import store as _store


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA("inplace unit root")


def test_write_in_place_key_first_same_inodes_then_nothing(tmp_path: pathlib.Path, ca: TestCA) -> None:
    store = _store.Store(str(tmp_path / "store"))
    store.ensure_root()
    numbers = []
    for _unused in range(2):
        issued = ca.issue(["inplace.test"])
        numbers.append(store.write_generation(_bundle.build_bundle(issued.cert_pem, issued.key_pem, issued.chain_pem).files(),
                                              _store.Attrs()))
    targets = {"cert": str(tmp_path / "svc" / "site.crt"), "key": str(tmp_path / "svc" / "site.key"),
               "fullchain": str(tmp_path / "svc" / "full.pem")}
    assert not _inplace.files_ok(store, numbers[0], targets, _store.Attrs())
    written = _inplace.write_in_place(store, numbers[0], targets, _store.Attrs())
    assert written == [targets["key"], targets["cert"], targets["fullchain"]]
    assert _inplace.files_ok(store, numbers[0], targets, _store.Attrs())
    assert stat.S_IMODE(os.stat(targets["key"]).st_mode) == 0o600 and not os.path.islink(targets["key"])
    assert _inplace.write_in_place(store, numbers[0], targets, _store.Attrs()) == []  # nothing differs
    inodes = {role: os.stat(path).st_ino for role, path in targets.items()}
    steps: list[str] = []
    _durable.set_step_hook(steps.append)
    try:
        _inplace.write_in_place(store, numbers[1], targets, _store.Attrs())
    finally:
        _durable.set_step_hook(None)
    assert [s for s in steps if s.startswith("in place")] == ["in place key", "in place cert", "in place fullchain"]
    assert {role: os.stat(path).st_ino for role, path in targets.items()} == inodes
    assert pathlib.Path(targets["cert"]).read_bytes() == store.read(numbers[1], "cert")
    assert not _inplace.files_ok(store, numbers[0], targets, _store.Attrs())
    assert not _inplace.files_ok(store, numbers[1], targets, _store.Attrs(mode=0o640))
