# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one exception hierarchy: every kind is a CertsError, details carry error_kind, no kind repeats."""

from __future__ import annotations

import pytest

from ansible_collections.ghostguard.certs.plugins.module_utils import _errors

KINDS = [
    (_errors.InputError, "input"),
    (_errors.CertificateError, "certificate"),
    (_errors.ProtocolError, "protocol"),
    (_errors.DNSProviderError, "dns_provider"),
    (_errors.PropagationTimeout, "propagation_timeout"),
    (_errors.ValidationError, "validation"),
    (_errors.FileSystemError, "filesystem"),
    (_errors.ProbeError, "probe"),
    (_errors.MissingLibraryError, "missing_library"),
]


@pytest.mark.parametrize(("cls", "kind"), KINDS)
def test_each_kind_is_a_certs_error_with_its_kind(cls: type[_errors.CertsError], kind: str) -> None:
    exc = cls("zone example.test refused the update; allow updates for key acme", name="example.test")
    assert isinstance(exc, _errors.CertsError)
    assert str(exc) == exc.message == "zone example.test refused the update; allow updates for key acme"
    assert exc.details == {"name": "example.test", "error_kind": kind}


def test_every_subclass_is_listed_and_kinds_are_unique() -> None:
    subclasses = {c for c in vars(_errors).values() if isinstance(c, type) and issubclass(c, _errors.CertsError)}
    assert subclasses - {_errors.CertsError} == {cls for cls, _kind in KINDS}
    kinds = [cls.kind for cls, _kind in KINDS]
    assert len(set(kinds)) == len(kinds)


def test_explicit_error_kind_is_kept_and_details_are_a_copy() -> None:
    facts = {"path": "/etc/x.pem"}
    exc = _errors.FileSystemError("x", **facts)
    exc.details["path"] = "changed"
    assert facts == {"path": "/etc/x.pem"}
    assert _errors.CertsError("x", error_kind="custom").details["error_kind"] == "custom"
    assert _errors.CertsError("x").details == {"error_kind": "error"}


def test_raised_and_caught_by_the_base() -> None:
    with pytest.raises(_errors.CertsError) as info:
        raise _errors.PropagationTimeout("late", pending=["a@b"])
    assert info.value.details["pending"] == ["a@b"]
    assert info.value.kind == "propagation_timeout"
