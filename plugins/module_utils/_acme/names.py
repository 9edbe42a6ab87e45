# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The names of an order: normalised by the CA's rules (module_utils/_domains.py: A-labels, the Public Suffix
List), then checked against ``allowed_domains``."""

from __future__ import annotations

import typing as t

from .._domains import allowed, ascii_form, name_problem
from .._errors import InputError

__all__ = ["allowed", "check_allowed", "normalize_names"]


def normalize_names(names: t.Iterable[str]) -> list[str]:
    """The names in A-label form, in order, without duplicates; names a CA would refuse raise one InputError
    giving each with its reason (``refused``: those names)."""
    out: list[str] = []
    refused: dict[str, str] = {}
    for raw in names:
        if not str(raw).strip():
            continue
        why = name_problem(raw)
        if why:
            refused[str(raw)] = why
            continue
        name = ascii_form(raw)
        if name not in out:
            out.append(name)
    if refused:
        raise InputError("%s. No ACME or DNS request was made; fix the names" % "; ".join(refused.values()),
                         refused=list(refused))
    return out


def check_allowed(names: t.Sequence[str], patterns: t.Sequence[str] | None) -> None:
    if patterns is None:
        return
    refused = [n for n in names if not allowed(n, patterns)]
    if refused:
        raise InputError(
            "refusing to request a certificate for %s: not in allowed_domains (%s). No ACME or DNS request was made; "
            "fix names or extend allowed_domains" % (", ".join(refused), ", ".join(patterns) or "empty list"),
            refused=refused,
        )
