# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every DNS provider offers DNS-01: add one TXT value, remove exactly that value.

Each provider is one small class in its own file: ``NAME`` (the ``dns_provider`` value),
``SETTINGS`` (a frozen dataclass of its options, whose field defaults are THE defaults: the
module's argument spec is generated from them by :mod:`.registry`), and ``LIBRARIES`` (the
:mod:`.._deps` features it needs).
"""

from __future__ import annotations

import dataclasses
import typing as t


@dataclasses.dataclass
class TxtRecord:
    """One TXT value this run wrote (``handle`` is the provider's id for it, such as an Alidns RecordId)."""

    fqdn: str
    value: str
    zone: str
    handle: str | None = None
    ours: bool = True

    def public(self) -> dict[str, t.Any]:
        return {"name": self.fqdn, "zone": self.zone}


def spec(kind: str, *, required: bool = False, choices: t.Sequence[str] | None = None,
         no_log: bool | None = None) -> dict[str, t.Any]:
    """The ``metadata`` of a settings field: argument-spec *kind* (``str``, ``int``), required, choices, ``no_log``.

    The field's default is the option's default.  A required field defaults to ``""`` only so the
    dataclass can be built before the provider checks it; a secret field also sets ``repr=False``.
    """
    return {"type": kind, "required": required, "choices": tuple(choices) if choices else None, "no_log": no_log}


class DNSProvider:
    """Base of the providers: one class per file, ``NAME`` is the ``dns_provider`` value."""

    NAME = ""
    SETTINGS: t.ClassVar[type] = object
    LIBRARIES: t.ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: t.Any, deadline: float | None = None) -> None:
        raise NotImplementedError

    def add_txt(self, fqdn: str, value: str) -> TxtRecord:
        """Add *value* to the TXT RRset at *fqdn*, keeping every other value there."""
        raise NotImplementedError

    def remove_txt(self, record: TxtRecord) -> None:
        """Remove exactly the value of *record* (never values this run did not write)."""
        raise NotImplementedError
