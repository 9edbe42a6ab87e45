# SPDX-License-Identifier: GPL-3.0-or-later
"""The generation store on its own: write, switch, roles, recover, prune, attributes."""

from __future__ import annotations

import os
import pathlib
import stat

import pytest
from certgen import TestCA

from ansible_collections.ghostguard.certs.plugins.module_utils import _durable
from ansible_collections.ghostguard.certs.plugins.module_utils._install import bundle as _bundle
from ansible_collections.ghostguard.certs.plugins.module_utils._install import store as _store


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA("store unit root")


def files_of(ca: TestCA, with_key: bool = True) -> dict[str, bytes]:
    issued = ca.issue(["store.test"])
    return _bundle.build_bundle(issued.cert_pem, issued.key_pem if with_key else None, issued.chain_pem).files()


def new_store(tmp: pathlib.Path) -> _store.Store:
    store = _store.Store(str(tmp / "tls" / ".ghostguard" / "site"))
    store.ensure_root()
    return store


def test_write_generation_is_not_current_until_switch(tmp_path: pathlib.Path, ca: TestCA) -> None:
    store = new_store(tmp_path)
    files = files_of(ca)
    number = store.write_generation(files, _store.Attrs())
    assert number == 1 and store.generations() == [1] and store.current() is None
    store.switch(1)
    assert store.current() == 1 and os.readlink(store.current_link) == "gen-1"
    assert store.roles(1) == list(_bundle.ROLES)
    assert {role: store.read(1, role) for role in files} == files
    assert store.certificate(1) is not None and store.certificate(None) is None
    assert stat.S_IMODE(os.stat(os.path.join(store.gen_dir(1), "key.pem")).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(store.gen_dir(1), "chain.pem")).st_mode) == 0o644


def test_generation_without_key(tmp_path: pathlib.Path, ca: TestCA) -> None:
    store = new_store(tmp_path)
    number = store.write_generation(files_of(ca, with_key=False), _store.Attrs())
    assert store.roles(number) == ["cert", "chain", "fullchain"]
    assert store.read(number, "key") is None
    assert store.attrs_ok(number, _store.Attrs())
    assert not store.attrs_ok(number, _store.Attrs(mode=0o640))
    store.fix_attrs(number, _store.Attrs(mode=0o640))
    assert store.attrs_ok(number, _store.Attrs(mode=0o640))


def test_recover_removes_partial_tmp_and_uncommitted(tmp_path: pathlib.Path, ca: TestCA) -> None:
    store = new_store(tmp_path)
    store.switch(store.write_generation(files_of(ca), _store.Attrs()))
    root = pathlib.Path(store.root)
    (root / ".gen-3.partial").mkdir()
    (root / "gen-2").mkdir()  # written, never made current
    (root / "current.ghostguard-tmp").symlink_to("gen-2")
    assert store.recover() == [".gen-3.partial", "current.ghostguard-tmp", "gen-2"]
    assert sorted(os.listdir(root)) == ["current", "gen-1"]
    assert store.recover() == []


def test_link_service_paths_and_prune(tmp_path: pathlib.Path, ca: TestCA) -> None:
    store = new_store(tmp_path)
    for _unused in range(4):
        store.switch(store.write_generation(files_of(ca), _store.Attrs()))
    paths = {"cert": str(tmp_path / "tls" / "site.crt"), "key": str(tmp_path / "other" / "site.key")}
    assert not store.links_ok(paths)
    assert store.link_service_paths(paths) == [paths["cert"], paths["key"]]
    assert os.readlink(paths["key"]) == "../tls/.ghostguard/site/current/key.pem"
    assert store.links_ok(paths) and store.link_service_paths(paths) == []
    assert store.prune(3, protect=[1, 4]) == [2]
    assert store.generations() == [1, 3, 4]
    assert store.prune(2, protect=[1]) == [3]
    assert store.generations() == [1, 4]


@pytest.mark.parametrize("gens, keep, protect, victims", [
    ([1, 2, 3, 4, 5], 3, [5, 4], [1, 2]),      # a deploy: the new one and the one before it stay
    ([1, 2, 3], 3, [3, 2], []),
    ([4, 5, 6], 2, [6, 4], [5]),               # the one a rollback left goes before the one to roll back to
    ([3, 4, 5, 6], 3, [6, 3], [4]),            # two rollbacks: still at most keep
    ([1, 2, 3], 1, [3, 2], [1]),               # fewer than the protected ones: only those stay
    ([1, 2, 3], 0, [3], []),                   # keep < 1 removes nothing
    ([], 3, [1], []),
])
def test_prune_victims_oldest_first_never_protected(gens: list[int], keep: int, protect: list[int],
                                                    victims: list[int]) -> None:
    assert _store.prune_victims(gens, keep, protect) == victims


def test_retired_generations_are_kept_by_recover_and_discarded_on_request(tmp_path: pathlib.Path, ca: TestCA) -> None:
    store = new_store(tmp_path)
    for _unused in range(3):
        store.switch(store.write_generation(files_of(ca), _store.Attrs()))
    store.retire(3)
    store.retire(3)  # once is enough: the marker stays
    store.switch(2)
    uncommitted = store.write_generation(files_of(ca), _store.Attrs())  # a run killed before its switch
    assert uncommitted == 4 and store.stale() == [4] and store.retired() == [3] and store.was_current(3)
    assert store.recover() == ["gen-4"]
    assert store.generations() == [1, 2, 3] and store.retired() == [3]
    assert store.roles(3) == list(_bundle.ROLES)  # the marker is no file of the bundle
    store.switch(1)
    assert store.retired() == [3] and store.stale() == [2]  # 2 was never left by a rollback: unmarked
    store.retire(2)
    assert store.retired() == [2, 3]
    assert store.discard_retired() == [2, 3] and store.generations() == [1] and store.discard_retired() == []


def test_step_hook_sees_each_step_of_a_generation(tmp_path: pathlib.Path, ca: TestCA) -> None:
    store = new_store(tmp_path)
    steps: list[str] = []
    _durable.set_step_hook(steps.append)
    try:
        store.switch(store.write_generation(files_of(ca, with_key=False), _store.Attrs()))
    finally:
        _durable.set_step_hook(None)
    assert steps == ["mkdir partial", "write cert", "write chain", "write fullchain", "chmod partial",
                     "fsync partial", "rename generation", "fsync store", "link current.tmp", "rename current",
                     "fsync store after switch"]
