# SPDX-License-Identifier: GPL-3.0-or-later
"""Rollback and roll forward through the generation store (plugins/module_utils/_install/rollback.py): the generation a
rollback leaves is kept for a roll forward, within keep, until the next install discards it."""

from __future__ import annotations

import pathlib
import typing as t

import pytest
from certgen import Issued, TestCA

from ansible_collections.ghostguard.certs.plugins.module_utils import _durable, _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import FileSystemError
from ansible_collections.ghostguard.certs.plugins.module_utils._install import bundle as _bundle
from ansible_collections.ghostguard.certs.plugins.module_utils._install import deploy as _deploy
from ansible_collections.ghostguard.certs.plugins.module_utils._install import rollback as _rollback
from ansible_collections.ghostguard.certs.plugins.module_utils._install import store as _store


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA("rollback unit root")


def request(tmp: pathlib.Path, issued: Issued | None, **kw: t.Any) -> _deploy.DeployRequest:
    targets = _deploy.Targets(cert=str(tmp / "tls" / "site.crt"), key=str(tmp / "tls" / "site.key"),
                              fullchain=str(tmp / "tls" / "fullchain.pem"))
    bundle = _bundle.build_bundle(issued.cert_pem, issued.key_pem, issued.chain_pem) if issued else None
    return _deploy.DeployRequest(targets=targets, bundle=bundle, **kw)


def served_fingerprint(tmp: pathlib.Path) -> str:
    return _x509.fingerprint(_x509.load_certificates((tmp / "tls" / "fullchain.pem").read_bytes())[0][0])


def test_target_generation_back_and_forward(tmp_path: pathlib.Path, ca: TestCA) -> None:
    for _unused in range(3):
        _deploy.deploy(request(tmp_path, ca.issue(["site.test"])))
    store = _store.Store(str(tmp_path / "tls" / ".ghostguard" / "site"), str(tmp_path / "tls" / "..site.data"))
    assert _rollback.target_generation(store, 3, forward=False) == 2
    assert _rollback.target_generation(store, 2, forward=False) == 1
    with pytest.raises(FileSystemError, match=r"nothing to roll back to: generation 1 .* is the oldest kept"):
        _rollback.target_generation(store, 1, forward=False)
    with pytest.raises(FileSystemError, match=r"nothing to roll forward to: generation 3 .* is the newest kept"):
        _rollback.target_generation(store, 3, forward=True)
    _deploy.rollback(request(tmp_path, None))
    assert _rollback.target_generation(store, 2, forward=True) == 3


def test_a_rollback_killed_at_any_step_leaves_one_generation_served_and_the_other_kept(
        tmp_path: pathlib.Path, ca: TestCA) -> None:
    """The marker is written before the switch: a kill before it leaves the newer one current, after it both kept."""
    first, second = ca.issue(["site.test"]), ca.issue(["site.test"])
    _deploy.deploy(request(tmp_path, first))
    _deploy.deploy(request(tmp_path, second))
    steps: list[str] = []

    def crash(name: str) -> None:
        steps.append(name)
        if name == "link data.tmp":
            raise KeyboardInterrupt  # killed between the marker and the switch

    _durable.set_step_hook(crash)
    try:
        with pytest.raises(KeyboardInterrupt):
            _deploy.rollback(request(tmp_path, None))
    finally:
        _durable.set_step_hook(None)
    assert steps[0] == "retire 2" and served_fingerprint(tmp_path) == _x509.fingerprint(second.cert)
    again = _deploy.rollback(request(tmp_path, None, from_fingerprint=_x509.fingerprint(second.cert)))
    assert again.generation == 1 and again.generations == [1, 2] and served_fingerprint(tmp_path) == _x509.fingerprint(first.cert)
    gen2 = tmp_path / "tls" / ".ghostguard" / "site" / "gen-2"
    assert (gen2 / ".was-current").is_file() and (gen2 / "key.pem").read_bytes() == second.key_pem


def test_roll_forward_returns_to_the_generation_a_rollback_left(tmp_path: pathlib.Path, ca: TestCA) -> None:
    issued = [ca.issue(["site.test"]) for _unused in range(3)]
    fps = [_x509.fingerprint(i.cert) for i in issued]
    for one in issued:
        _deploy.deploy(request(tmp_path, one))
    with pytest.raises(FileSystemError, match=r"nothing to roll forward to: generation 3 .* is the newest kept"):
        _deploy.rollback(request(tmp_path, None, forward=True))
    back = [_deploy.rollback(request(tmp_path, None)) for _unused in range(2)]  # twice: two generations back
    assert [(r.previous_generation, r.generation) for r in back] == [(3, 2), (2, 1)]
    assert served_fingerprint(tmp_path) == fps[0]
    check = _deploy.rollback(request(tmp_path, None, forward=True, check_mode=True))
    assert check.changed and check.generation == 2 and served_fingerprint(tmp_path) == fps[0]
    forward = _deploy.rollback(request(tmp_path, None, forward=True))
    assert (forward.previous_generation, forward.generation) == (1, 2) and served_fingerprint(tmp_path) == fps[1]
    assert forward.actions == ["rolled forward to generation 2; generation 1 is kept"]
    # guarded by the fingerprint it leaves, a rerun changes nothing
    again = _deploy.rollback(request(tmp_path, None, forward=True, from_fingerprint=fps[1]))
    assert again.changed and again.generation == 3 and served_fingerprint(tmp_path) == fps[2]
    assert _deploy.rollback(request(tmp_path, None, forward=True, from_fingerprint=fps[1])).changed is False
    assert served_fingerprint(tmp_path) == fps[2] and _store.Store(back[0].store).retired() == []


def test_a_new_install_discards_what_rollbacks_left(tmp_path: pathlib.Path, ca: TestCA) -> None:
    issued = [ca.issue(["site.test"]) for _unused in range(4)]
    for one in issued[:3]:
        _deploy.deploy(request(tmp_path, one))
    _deploy.rollback(request(tmp_path, None))
    _deploy.rollback(request(tmp_path, None))      # generation 1 current, 2 and 3 kept for a roll forward
    check = _deploy.deploy(request(tmp_path, issued[3], check_mode=True))
    res = _deploy.deploy(request(tmp_path, issued[3]))
    assert "discarded generation(s) 2, 3 that rollbacks left" in res.actions
    assert "discard generation(s) 2, 3 that rollbacks left" in check.actions
    # numbers are never given again; the one to roll back to is the one served before the install
    assert res.generation == check.generation == 4 and res.generations == check.generations == [1, 4]
    back = _deploy.rollback(request(tmp_path, None))
    assert back.generation == 1 and served_fingerprint(tmp_path) == _x509.fingerprint(issued[0].cert)


def test_keep_bounds_the_generations_rollbacks_left(tmp_path: pathlib.Path, ca: TestCA) -> None:
    for _unused in range(3):
        _deploy.deploy(request(tmp_path, ca.issue(["site.test"]), keep=2))
    store = _store.Store(str(tmp_path / "tls" / ".ghostguard" / "site"))
    assert store.generations() == [2, 3]
    _deploy.rollback(request(tmp_path, None, keep=2))
    with pytest.raises(FileSystemError, match="nothing to roll back to"):
        _deploy.rollback(request(tmp_path, None, keep=2))
    res = _deploy.deploy(request(tmp_path, ca.issue(["site.test"]), keep=2))
    assert res.generations == [2, 4] and store.retired() == []
