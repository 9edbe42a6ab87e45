# SPDX-License-Identifier: GPL-3.0-or-later
"""The observation's building blocks: the proved marker (a generation number reused after a rollback is not
proved), the policy, probe entries."""

from __future__ import annotations

import pathlib

from ansible_collections.ghostguard.certs.plugins.module_utils import _policy
from ansible_collections.ghostguard.certs.plugins.module_utils._install import observe as _observe
from ansible_collections.ghostguard.certs.plugins.module_utils._install.store import Store


def test_marker_names_generation_and_fingerprint(tmp_path: pathlib.Path) -> None:
    store = Store(str(tmp_path / "store"))
    (tmp_path / "store").mkdir()
    assert not _observe.is_proved(store, 2, "aa")
    _observe.mark_proved(store, 2, "aa")
    assert _observe.is_proved(store, 2, "aa")
    assert not _observe.is_proved(store, 2, "bb")  # generation 2 again, after a rollback: another certificate
    assert not _observe.is_proved(store, None, None)
    _observe.write_json(store, _observe.PENDING, {"done": False})
    assert _observe.read_json(store, _observe.PENDING) == {"done": False}
    _observe.write_json(store, _observe.PENDING, None)
    assert _observe.read_json(store, _observe.PENDING) is None
    (tmp_path / "store" / _observe.MARKER).write_text("[not a dict]")
    assert _observe.read_json(store, _observe.MARKER) is None
    _observe.mark_proved(None, 1, "aa")  # no store: nothing to write


def test_policy_of_options_or_policy() -> None:
    pol = _observe.policy_of({"renew_before": "30d"}, "2030-01-01T00:00:00Z")
    assert pol.renew_before == 30 * 86400 and pol.now.year == 2030
    same = _policy.Policy.from_options({"renew_before": "10d"})
    assert _observe.policy_of(same) is same
    moved = _observe.policy_of(same, "2031-01-01T00:00:00Z")
    assert moved.now.year == 2031 and moved.renew_before == same.renew_before


def test_probe_entry() -> None:
    entry = _observe.probe_entry({"host": "127.0.0.1", "port": 8443, "server_name": "a.test"},
                                 {"certificate": {"fingerprint_sha256": "aa"}, "error": None}, "bb")
    assert entry["endpoint"] == "127.0.0.1:8443" and entry["served_matches"] is False and entry["attempts"] == 1
    refused = _observe.probe_entry({"host": "::1"}, {"error": "refused"}, "bb")
    assert refused["served_matches"] is None and refused["endpoint"] == "::1:443"
