# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's one exception hierarchy.

Every failure the engine raises is a :class:`CertsError`.  Its ``str()`` is a message for an
operator (what failed, for which name or path, and the next step) and ``details`` holds extra
machine-readable facts that modules pass to ``fail_json``.  Neither may ever contain a secret.
"""

from __future__ import annotations

import typing as t


class CertsError(Exception):
    """Base of every error the collection raises on purpose."""

    kind = "error"

    def __init__(self, message: str, **details: t.Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, t.Any] = dict(details)
        self.details.setdefault("error_kind", self.kind)


class InputError(CertsError):
    """The caller gave options that cannot work (bad duration, missing file, bad name)."""

    kind = "input"


class CertificateError(CertsError):
    """A certificate, key or chain is unusable (corrupt, mismatched, expired, untrusted)."""

    kind = "certificate"


class ProtocolError(CertsError):
    """The ACME server answered with an error or not at all."""

    kind = "protocol"


class DNSProviderError(CertsError):
    """The DNS provider refused or failed a record change."""

    kind = "dns_provider"


class PropagationTimeout(CertsError):
    """A TXT record did not become visible on every authoritative server in time."""

    kind = "propagation_timeout"


class ValidationError(CertsError):
    """The CA tried the challenge and found it wrong."""

    kind = "validation"


class FileSystemError(CertsError):
    """Writing, renaming or reading an installed file failed."""

    kind = "filesystem"


class ProbeError(CertsError):
    """A TLS endpoint could not be probed."""

    kind = "probe"


class MissingLibraryError(CertsError):
    """A Python library the requested work needs is not installed for this interpreter.

    Raised only by :func:`._deps.require`; the message names each missing distribution and the
    exact ``pip install`` line for the interpreter that runs the code.
    """

    kind = "missing_library"
