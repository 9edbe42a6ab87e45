# SPDX-License-Identifier: GPL-3.0-or-later
"""acme_dns01's engine without a network: names, allowlist, the renewal decision, all-or-nothing writes."""

from __future__ import annotations

import datetime as dt
import pathlib

import pytest
from certgen import TestCA, now

from ansible_collections.ghostguard.certs.plugins.module_utils import _policy
from ansible_collections.ghostguard.certs.plugins.module_utils._acme import renew
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import FileSystemError, InputError


@pytest.mark.parametrize(("given", "expected"), [
    (["WWW.Example.Test.", "www.example.test"], ["www.example.test"]),
    (["*.example.test", "example.test"], ["*.example.test", "example.test"]),
    (["bücher.example.test"], ["xn--bcher-kva.example.test"]),
    (["", "a.b"], ["a.b"]),
])
def test_normalize_names(given: list[str], expected: list[str]) -> None:
    assert renew.normalize_names(given) == expected


@pytest.mark.parametrize("bad", ["foo", "a.*.example.test", "-bad.example.test", "exa mple.test", "a..b"])
def test_normalize_names_rejects(bad: str) -> None:
    with pytest.raises(InputError):
        renew.normalize_names([bad])


@pytest.mark.parametrize(("name", "patterns", "ok"), [
    ("example.test", ["example.test"], True),
    ("www.example.test", ["example.test"], False),
    ("www.example.test", ["*.example.test"], True),
    ("a.b.example.test", ["*.example.test"], True),
    ("*.example.test", ["*.example.test"], True),
    ("example.test", ["*.example.test"], False),
    ("evilexample.test", ["*.example.test"], False),
    ("shop-1.example.test", ["shop-*.example.test"], True),
    ("shop.example.test", ["shop-*.example.test"], False),
    ("x.test", [], False),
])
def test_allowed(name: str, patterns: list[str], ok: bool) -> None:
    assert renew.allowed(name, patterns) is ok


def test_check_allowed_names_every_refusal() -> None:
    renew.check_allowed(["a.example.test"], None)  # unset: everything allowed
    with pytest.raises(InputError, match=r"b\.other\.test, c\.other\.test: not in allowed_domains") as err:
        renew.check_allowed(["a.example.test", "b.other.test", "c.other.test"], ["*.example.test"])
    assert err.value.details["refused"] == ["b.other.test", "c.other.test"]


def _params(tmp: pathlib.Path, **extra: object) -> dict:
    params = {"cert_path": str(tmp / "cert.pem"), "key_path": str(tmp / "key.pem"), "renew_before": None,
              "renew_fraction": None, "leeway": "0", "now": None, "force": False}
    params.update(extra)
    return params


def test_existing_state(tmp_path: pathlib.Path) -> None:
    ca = TestCA()
    params = _params(tmp_path)
    assert renew.existing_state(params, ["www.example.test"], _policy.Policy())["reason"] == "no_certificate"

    fresh = ca.issue(["www.example.test"], days=90)
    (tmp_path / "cert.pem").write_bytes(fresh.cert_pem)
    (tmp_path / "key.pem").write_bytes(fresh.key_pem)
    state = renew.existing_state(params, ["www.example.test"], _policy.Policy())
    assert (state["due"], state["reason"]) == (False, "not_due")
    assert renew.existing_state(params, ["www.example.test", "example.test"], _policy.Policy())["reason"] == "names_changed"
    assert renew.existing_state(params, ["www.example.test"], _policy.Policy(force=True))["reason"] == "forced"
    later = _policy.Policy(now=now() + dt.timedelta(days=70))
    assert renew.existing_state(params, ["www.example.test"], later)["reason"] == "renewal_window"

    (tmp_path / "key.pem").write_bytes(ca.issue(["other.test"]).key_pem)
    assert renew.existing_state(params, ["www.example.test"], _policy.Policy())["reason"] == "key_mismatch"

    (tmp_path / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n")
    assert renew.existing_state(params, ["www.example.test"], _policy.Policy())["reason"] == "unreadable_certificate"


def test_write_files_all_or_nothing(tmp_path: pathlib.Path) -> None:
    (tmp_path / "key.pem").write_bytes(b"old key")
    (tmp_path / "blocker").write_text("a file where a directory should be")
    files = [(str(tmp_path / "key.pem"), b"new key", 0o600), (str(tmp_path / "chain.pem"), b"new chain", 0o644),
             (str(tmp_path / "blocker" / "cert.pem"), b"new cert", 0o644)]
    with pytest.raises(FileSystemError):
        renew.write_files(files)
    assert (tmp_path / "key.pem").read_bytes() == b"old key"  # put back
    assert not (tmp_path / "chain.pem").exists()  # removed again
    renew.write_files(files[:2])
    assert (tmp_path / "key.pem").read_bytes() == b"new key"
    assert (tmp_path / "key.pem").stat().st_mode & 0o777 == 0o600


def test_run_refuses_before_anything(tmp_path: pathlib.Path) -> None:
    params = _params(tmp_path, names=["www.evil.test"], allowed_domains=["*.example.test"], dns_provider="rfc2136",
                     rfc2136={"server": "192.0.2.1"}, acme_directory="https://192.0.2.1/dir",
                     account_key_path=str(tmp_path / "account.key"))
    with pytest.raises(InputError, match="No ACME or DNS request was made"):
        renew.run(params)
    assert list(tmp_path.iterdir()) == []  # not even an account key
