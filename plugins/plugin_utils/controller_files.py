# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read a certificate's ``*_src`` files on the controller into ``*_content`` (the action plugins of deploy and
converge): the key is passed on as a no_log option, never logged."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_native, to_text

ROLES = ("cert", "key", "chain")
MAX_BYTES = 1 << 20


def read_sources(action: t.Any, options: t.Mapping[str, t.Any], where: str = "", hint: str = "") -> dict[str, t.Any]:
    """*options* with each ``<role>_src`` (cert, key, chain) replaced by ``<role>_content`` read on the controller
    (found like a role's ``files``); *where* prefixes option names in messages, *hint* ends a read error."""
    out = dict(options)
    for role in ROLES:
        src = out.pop(role + "_src", None)
        if src is None:
            continue
        if out.get(role + "_content") is not None:
            raise AnsibleActionFail("%sgive %s_content or %s_src, not both" % (where, role, role))
        try:
            path = action._find_needle("files", to_text(src))  # pylint: disable=protected-access
            with open(path, "rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except (AnsibleError, OSError) as exc:
            raise AnsibleActionFail("%s%s_src %s cannot be read on the controller (%s)%s"
                                    % (where, role, src, to_native(exc), hint)) from None
        if len(data) > MAX_BYTES:
            raise AnsibleActionFail("%s%s_src %s is larger than 1 MiB; give a PEM file" % (where, role, src))
        out[role + "_content"] = to_text(data, errors="surrogate_or_strict")
    return out
