# SPDX-License-Identifier: GPL-3.0-or-later
"""The converge module's bundles (plugins/module_utils/_install/converge_bundles.py): validated from options; a staged
host key's directory removed once the files hold its certificate."""

from __future__ import annotations

import pathlib
import typing as t

import pytest
from certgen import TestCA

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertificateError, InputError
from ansible_collections.ghostguard.certs.plugins.module_utils._install import converge_bundles as _converge_bundles


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA("converge bundles unit root")


def test_bundle_from_contents_or_a_staged_key(tmp_path: pathlib.Path, ca: TestCA) -> None:
    issued = ca.issue(["web.test"])
    options = {"cert_content": issued.cert_pem.decode(), "chain_content": issued.chain_pem.decode(),
               "key_content": issued.key_pem.decode()}
    bundle = _converge_bundles.bundle_from_options("web", options, ["web.test"])
    assert _x509.fingerprint(bundle.cert) == _x509.fingerprint(issued.cert) and bundle.has_key
    staged = tmp_path / "privkey.pem"
    staged.write_bytes(issued.key_pem)
    remote = dict(options, key_content=None, key_src_remote=str(staged))
    assert _converge_bundles.bundle_from_options("web", remote, ["web.test"]).has_key


@pytest.mark.parametrize("change, error, message", [
    ({"cert_content": None}, InputError, "bundles.web has no cert_content"),
    ({"key_src_remote": "/k.pem"}, InputError, "give key_content .key_src. or key_src_remote, not both"),
    ({"domains": ["other.test"]}, CertificateError, "other.test"),
])
def test_bad_bundles_are_refused(ca: TestCA, change: dict[str, t.Any], error: type, message: str) -> None:
    issued = ca.issue(["web.test"])
    options = {"cert_content": issued.cert_pem.decode(), "chain_content": issued.chain_pem.decode(),
               "key_content": issued.key_pem.decode(), **change}
    with pytest.raises(error, match=message):
        _converge_bundles.bundle_from_options("web", options, options.pop("domains", ["web.test"]))


def test_discard_staging_only_once_installed(tmp_path: pathlib.Path) -> None:
    staged = {}
    for name in ("done", "pending", "elsewhere"):
        folder = tmp_path / (".ghostguard-next" if name != "elsewhere" else "keep") / name
        folder.mkdir(parents=True)
        (folder / "privkey.pem").write_text("key")
        staged[name] = {"key_src_remote": str(folder / "privkey.pem")}
    results = [{"name": "done", "attempted_fingerprint": "aa", "fingerprint": "aa"},
               {"name": "pending", "attempted_fingerprint": "bb", "fingerprint": "cc"},
               {"name": "elsewhere", "attempted_fingerprint": "dd", "fingerprint": "dd"}]
    assert _converge_bundles.discard_staging(staged, results) == [str(tmp_path / ".ghostguard-next" / "done")]
    assert not (tmp_path / ".ghostguard-next" / "done").exists()
    assert (tmp_path / ".ghostguard-next" / "pending" / "privkey.pem").exists()
    assert (tmp_path / "keep" / "elsewhere" / "privkey.pem").exists()


def test_a_staged_key_removed_by_the_run_that_installed_its_certificate_leaves_nothing_to_install(
        tmp_path: pathlib.Path, ca: TestCA) -> None:
    current = ca.issue(["web.test"])
    installed = current.write(str(tmp_path / "tls"), "cert")       # another run installed it, then removed its key
    options = {"cert_content": current.cert_pem.decode(), "chain_content": current.chain_pem.decode(),
               "key_src_remote": str(tmp_path / "gone" / "privkey.pem")}
    assert _converge_bundles.bundle_from_options("web", options, ["web.test"], None, installed) is None
    # a certificate the files do not hold yet still needs its key: the missing file is the error it was
    other = ca.issue(["web.test"])
    with pytest.raises(InputError, match=r"key_src_remote .* cannot be read"):
        _converge_bundles.bundle_from_options("web", dict(options, cert_content=other.cert_pem.decode()), ["web.test"],
                                              None, installed)
    with pytest.raises(InputError, match=r"key_src_remote .* cannot be read"):   # nothing installed to compare
        _converge_bundles.bundle_from_options("web", options, ["web.test"], None, str(tmp_path / "none.pem"))
