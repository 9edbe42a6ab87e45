# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every DNS provider offers DNS-01: add one TXT value, remove exactly that value."""

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


class DNSProvider:
    """Base of the providers: one class per file, ``NAME`` is the ``dns_provider`` value."""

    NAME = ""

    def add_txt(self, fqdn: str, value: str) -> TxtRecord:
        """Add *value* to the TXT RRset at *fqdn*, keeping every other value there."""
        raise NotImplementedError

    def remove_txt(self, record: TxtRecord) -> None:
        """Remove exactly the value of *record* (never values this run did not write)."""
        raise NotImplementedError
