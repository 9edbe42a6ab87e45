# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shared policy argument spec matches its documentation fragment and the engine's Policy."""

from __future__ import annotations

import yaml

from ansible_collections.ghostguard.certs.plugins.doc_fragments.policy import ModuleDocFragment
from ansible_collections.ghostguard.certs.plugins.module_utils._argspec import policy_argspec
from ansible_collections.ghostguard.certs.plugins.module_utils._policy import Policy


def test_spec_matches_doc_fragment() -> None:
    docs = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = policy_argspec()
    assert set(spec) == set(docs)
    for name, option in spec.items():
        assert option.get("type", "str") == docs[name].get("type", "str"), name
        assert option.get("default") == docs[name].get("default"), name


def test_every_option_is_understood_by_the_policy() -> None:
    spec = policy_argspec()
    options = {name: option.get("default") for name, option in spec.items()}
    policy = Policy.from_options(options)
    assert policy.force is False
    assert Policy.from_options({**options, "force": True}).force is True
