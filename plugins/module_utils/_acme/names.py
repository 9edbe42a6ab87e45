# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Certificate names: normalisation (lowercase, IDNA, no trailing dot) and the ``allowed_domains`` allowlist."""

from __future__ import annotations

import fnmatch
import re
import typing as t

from .._errors import InputError

NAME_RE = re.compile(r"^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def normalize_names(names: t.Iterable[str]) -> list[str]:
    out: list[str] = []
    for raw in names:
        name = str(raw).strip().rstrip(".").lower()
        if not name:
            continue
        try:
            name = name.encode("idna").decode("ascii") if not name.isascii() else name
        except UnicodeError:
            raise InputError("%r is not a valid domain name" % raw) from None
        if not NAME_RE.match(name) or len(name) > 253:
            raise InputError("%r is not a valid DNS name for a certificate (wildcards only as a whole first "
                             "label, like *.example.com)" % raw)
        if name not in out:
            out.append(name)
    return out


def allowed(name: str, patterns: t.Sequence[str]) -> bool:
    """``example.com`` allows exactly that name; ``*.example.com`` allows every name below it
    (wildcards included); other shell patterns (``shop-*.example.com``) match with fnmatch."""
    for raw in patterns:
        pattern = str(raw).strip().rstrip(".").lower()
        if not pattern:
            continue
        if pattern.startswith("*.") and name.endswith(pattern[1:]) and len(name) > len(pattern) - 1:
            return True
        if name == pattern or (any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(name, pattern)):
            return True
    return False


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
