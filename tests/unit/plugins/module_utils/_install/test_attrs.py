# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Owner, group and modes of installed files; unsafe modes refused unless forced."""

from __future__ import annotations

import grp
import os

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils._errors import InputError
from ansible_collections.ghostguard.certs.plugins.module_utils._install import attrs as _attrs

SOME_GROUP = grp.getgrgid(os.getgid()).gr_name


@pytest.mark.parametrize(("value", "expected"), [("0644", 0o644), ("640", 0o640), (0o600, 0o600)])
def test_parse_mode(value: object, expected: int) -> None:
    assert _attrs.parse_mode(value, "mode") == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "rw"}, "not an octal mode"),
        ({"key_mode": "0644"}, "every user"),
        ({"key_mode": "0604", "group": SOME_GROUP}, "every user"),
        ({"mode": "0777"}, r"mode 0777 lets every user replace"),
        ({"mode": "0666"}, "force_mode: true"),
        ({"key_mode": "0640"}, "no group is set"),
        ({"key_mode": "0660", "group": SOME_GROUP}, "lets the group change"),
        ({"owner": "no-such-user-gg"}, "not a user"),
        ({"group": "no-such-group-gg"}, "not a group"),
    ],
)
def test_bad_attrs(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        _attrs.resolve_attrs(**kwargs)


@pytest.mark.parametrize("kwargs", [{"mode": "0777"}, {"key_mode": "0644"}, {"key_mode": "0640"}])
def test_force_mode_accepts_what_is_refused_otherwise(kwargs: dict[str, str]) -> None:
    attrs = _attrs.resolve_attrs(force_mode=True, **kwargs)
    assert attrs.mode_for("key" if "key_mode" in kwargs else "cert") == int(next(iter(kwargs.values())), 8)


def test_group_readable_key_with_a_group_is_allowed() -> None:
    attrs = _attrs.resolve_attrs(group=SOME_GROUP, key_mode="0640")
    assert attrs.key_mode == 0o640 and attrs.gid == os.getgid()
    assert attrs.mode_for("combined") == 0o640 and attrs.mode_for("chain") == 0o644
