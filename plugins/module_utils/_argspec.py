# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Argument-spec factories matching the doc fragments in ``plugins/doc_fragments``.

Each factory returns a fresh dict so modules can extend it; the doc fragment of the same name
documents exactly these options.
"""

from __future__ import annotations

import typing as t


def policy_argspec() -> dict[str, dict[str, t.Any]]:
    """Options of the ``ghostguard.certs.policy`` doc fragment."""
    return {
        "renew_before": {"type": "str"},
        "renew_fraction": {"type": "float"},
        "leeway": {"type": "str", "default": "0"},
        "now": {"type": "str"},
        "force": {"type": "bool", "default": False},
    }
