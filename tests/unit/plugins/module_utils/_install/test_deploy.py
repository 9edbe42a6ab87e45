# SPDX-License-Identifier: GPL-3.0-or-later
"""Deploy through the generation store: generations, atomic switch, adoption and rollback."""

from __future__ import annotations

import os
import pathlib
import ssl
import stat
import typing as t

import pytest
from certgen import Issued, TestCA

from ansible_collections.ghostguard.certs.plugins.module_utils import _durable, _errors, _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import (
    FileSystemError,
    InputError,
)
from ansible_collections.ghostguard.certs.plugins.module_utils._install import bundle as _bundle
from ansible_collections.ghostguard.certs.plugins.module_utils._install import deploy as _deploy
from ansible_collections.ghostguard.certs.plugins.module_utils._install import store as _store


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA("deploy unit root")


def bundle_of(issued: Issued, with_chain: bool = True) -> _bundle.Bundle:
    return _bundle.build_bundle(issued.cert_pem, issued.key_pem, issued.chain_pem if with_chain else None)


def request(tmp: pathlib.Path, issued: Issued | None, **kw: t.Any) -> _deploy.DeployRequest:
    targets = _deploy.Targets(
        cert=str(tmp / "tls" / "site.crt"),
        key=str(tmp / "tls" / "site.key"),
        chain=str(tmp / "tls" / "chain.pem"),
        fullchain=str(tmp / "tls" / "fullchain.pem"),
        combined=str(tmp / "tls" / "combined.pem"),
    )
    return _deploy.DeployRequest(targets=targets, bundle=bundle_of(issued) if issued else None, **kw)


def served_fingerprint(tmp: pathlib.Path) -> str:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(tmp / "tls" / "fullchain.pem"), str(tmp / "tls" / "site.key"))
    data = (tmp / "tls" / "site.crt").read_bytes()
    return _x509.fingerprint(_x509.load_certificates(data)[0][0])


def plant(directory: pathlib.Path, issued: Issued, names: tuple[str, str, str]) -> pathlib.Path:
    """Plain files someone else wrote: certificate, key and full chain under *names*."""
    directory.mkdir()
    for name, data in zip(names, (issued.cert_pem, issued.key_pem, issued.fullchain_pem)):
        (directory / name).write_bytes(data)
    return directory


def test_first_deploy_writes_generation_and_links(tmp_path: pathlib.Path, ca: TestCA) -> None:
    issued = ca.issue(["site.test"])
    result = _deploy.deploy(request(tmp_path, issued))
    assert result.changed and result.generation == 1 and result.previous is None
    store = tmp_path / "tls" / ".ghostguard" / "site"
    assert result.store == str(store)
    assert os.readlink(store / "current") == "../../..site.data"
    assert os.readlink(tmp_path / "tls" / "..site.data") == ".ghostguard/site/gen-1"
    assert os.readlink(tmp_path / "tls" / "site.key") == "..site.data/key.pem"
    assert (tmp_path / "tls" / "fullchain.pem").read_bytes() == issued.fullchain_pem
    assert (tmp_path / "tls" / "chain.pem").read_bytes() == issued.chain_pem
    assert stat.S_IMODE(os.stat(store / "gen-1" / "key.pem").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store / "gen-1" / "cert.pem").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(store / "gen-1" / "combined.pem").st_mode) == 0o600
    assert (tmp_path / "tls" / "combined.pem").read_bytes() == issued.fullchain_pem + issued.key_pem
    assert served_fingerprint(tmp_path) == _x509.fingerprint(issued.cert)
    assert result.certificate is not None
    assert result.certificate["fingerprint_sha256"] == _x509.fingerprint(issued.cert)
    keys = {"path", "subject", "sans", "issuer", "serial", "fingerprint_sha256", "not_before", "not_after",
            "seconds_remaining", "lifetime_seconds", "renew_at", "due", "status"}
    assert set(result.certificate) >= keys


def test_same_content_is_idempotent(tmp_path: pathlib.Path, ca: TestCA) -> None:
    issued = ca.issue(["site.test"])
    _deploy.deploy(request(tmp_path, issued))
    again = _deploy.deploy(request(tmp_path, issued))
    assert again.changed is False and again.generation == 1
    assert again.diff["before"] == again.diff["after"]


def test_mode_change_alone_fixes_in_place(tmp_path: pathlib.Path, ca: TestCA) -> None:
    issued = ca.issue(["site.test"])
    _deploy.deploy(request(tmp_path, issued))
    res = _deploy.deploy(request(tmp_path, issued, attrs=_store.resolve_attrs(mode="0640")))
    assert res.changed and res.generation == 1
    assert stat.S_IMODE(os.stat(tmp_path / "tls" / "site.crt").st_mode) == 0o640


def test_generations_rotate_and_keep(tmp_path: pathlib.Path, ca: TestCA) -> None:
    fps = []
    for _unused in range(5):
        issued = ca.issue(["site.test"])
        fps.append(_x509.fingerprint(issued.cert))
        res = _deploy.deploy(request(tmp_path, issued, keep=3))
    assert res.generation == 5 and res.generations == [3, 4, 5]
    assert res.previous is not None and res.previous["fingerprint_sha256"] == fps[3]
    assert served_fingerprint(tmp_path) == fps[4]


def test_rollback_restores_previous_and_keeps_the_generation_it_leaves(tmp_path: pathlib.Path, ca: TestCA) -> None:
    first, second = ca.issue(["site.test"]), ca.issue(["site.test"])
    _deploy.deploy(request(tmp_path, first))
    _deploy.deploy(request(tmp_path, second))
    check = _deploy.rollback(request(tmp_path, None, check_mode=True))
    assert check.changed and served_fingerprint(tmp_path) == _x509.fingerprint(second.cert)
    res = _deploy.rollback(request(tmp_path, None))
    assert res.changed and res.generation == 1 and res.previous_generation == 2
    assert served_fingerprint(tmp_path) == _x509.fingerprint(first.cert)
    assert res.generations == [1, 2]
    assert res.actions == ["made generation 1 current again; generation 2 is kept for a roll forward"]
    with pytest.raises(FileSystemError, match=r"nothing to roll back to: generation 1 .* is the oldest kept"):
        _deploy.rollback(request(tmp_path, None))
    # a later run (recover) keeps it: it was current, it is no killed run's left-over
    assert _deploy.deploy(request(tmp_path, first)).changed is False
    assert sorted(os.listdir(tmp_path / "tls" / ".ghostguard" / "site")) == [".lock", "current", "gen-1", "gen-2"]


def test_rollback_from_fingerprint_is_idempotent(tmp_path: pathlib.Path, ca: TestCA) -> None:
    first, second = ca.issue(["site.test"]), ca.issue(["site.test"])
    _deploy.deploy(request(tmp_path, first))
    _deploy.deploy(request(tmp_path, second))
    bad = _x509.fingerprint(second.cert).replace(":", "").upper()
    assert _deploy.rollback(request(tmp_path, None, from_fingerprint=bad)).changed
    again = _deploy.rollback(request(tmp_path, None, from_fingerprint=bad))
    assert again.changed is False
    assert served_fingerprint(tmp_path) == _x509.fingerprint(first.cert)


def test_rollback_without_store_fails(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileSystemError, match="deploy a certificate first"):
        _deploy.rollback(request(tmp_path, None))


def test_existing_plain_files_are_adopted(tmp_path: pathlib.Path, ca: TestCA) -> None:
    old, new = ca.issue(["site.test"]), ca.issue(["site.test"])
    tls = plant(tmp_path / "tls", old, ("site.crt", "site.key", "fullchain.pem"))
    res = _deploy.deploy(request(tmp_path, new))
    assert res.generation == 2 and res.previous is not None
    assert res.previous["fingerprint_sha256"] == _x509.fingerprint(old.cert)
    assert served_fingerprint(tmp_path) == _x509.fingerprint(new.cert)
    _deploy.rollback(request(tmp_path, None))
    assert (tls / "site.key").read_bytes() == old.key_pem
    assert served_fingerprint(tmp_path) == _x509.fingerprint(old.cert)


def test_check_mode_writes_nothing(tmp_path: pathlib.Path, ca: TestCA) -> None:
    res = _deploy.deploy(request(tmp_path, ca.issue(["site.test"]), check_mode=True))
    assert res.changed and res.generation == 1
    assert not (tmp_path / "tls").exists()


def test_recover_removes_leftovers(tmp_path: pathlib.Path, ca: TestCA) -> None:
    _deploy.deploy(request(tmp_path, ca.issue(["site.test"])))
    store = tmp_path / "tls" / ".ghostguard" / "site"
    (store / ".gen-7.partial").mkdir()
    (store / "gen-9").mkdir()
    (store / "current.ghostguard-tmp").symlink_to("gen-9")
    res = _deploy.deploy(request(tmp_path, ca.issue(["site.test"])))
    assert res.generation == 2
    assert sorted(os.listdir(store)) == [".lock", "current", "gen-1", "gen-2"]


def test_step_hook_sees_every_step(tmp_path: pathlib.Path, ca: TestCA) -> None:
    steps: list[str] = []
    _durable.set_step_hook(steps.append)
    try:
        _deploy.deploy(request(tmp_path, ca.issue(["site.test"])))
    finally:
        _durable.set_step_hook(None)
    assert "rename generation" in steps and "link data.tmp" in steps
    assert steps.index("rename generation") < steps.index("link data.tmp") < steps.index("link key")


def test_targets_checked(tmp_path: pathlib.Path) -> None:
    with pytest.raises(InputError, match="give cert_path, fullchain_path or combined_path"):
        _deploy.Targets(key=str(tmp_path / "k")).check()
    with pytest.raises(InputError, match="absolute"):
        _deploy.Targets(cert="rel.pem").check()
    with pytest.raises(InputError, match="same file"):
        _deploy.Targets(cert=str(tmp_path / "a"), key=str(tmp_path / "a")).check()


def test_foreign_symlinks_are_adopted(tmp_path: pathlib.Path, ca: TestCA) -> None:
    """Service paths that link elsewhere (certbot's live/ links) keep their content as a generation."""
    old, new = ca.issue(["site.test"]), ca.issue(["site.test"])
    archive = plant(tmp_path / "archive", old, ("cert1.pem", "privkey1.pem", "fullchain1.pem"))
    tls = tmp_path / "tls"
    tls.mkdir()
    (tls / "site.crt").symlink_to(archive / "cert1.pem")
    (tls / "site.key").symlink_to(archive / "privkey1.pem")
    (tls / "fullchain.pem").symlink_to(archive / "fullchain1.pem")
    res = _deploy.deploy(request(tmp_path, new))
    assert res.previous is not None and res.previous["fingerprint_sha256"] == _x509.fingerprint(old.cert)
    assert (archive / "privkey1.pem").read_bytes() == old.key_pem  # the foreign files are left alone
    _deploy.rollback(request(tmp_path, None))
    assert served_fingerprint(tmp_path) == _x509.fingerprint(old.cert)


def test_missing_link_is_restored_without_new_generation(tmp_path: pathlib.Path, ca: TestCA) -> None:
    issued = ca.issue(["site.test"])
    _deploy.deploy(request(tmp_path, issued))
    (tmp_path / "tls" / "site.key").unlink()
    res = _deploy.deploy(request(tmp_path, issued))
    assert res.changed and res.generation == 1 and res.generations == [1]
    assert served_fingerprint(tmp_path) == _x509.fingerprint(issued.cert)


def test_separate_directories_and_explicit_store(tmp_path: pathlib.Path, ca: TestCA) -> None:
    issued = ca.issue(["site.test"])
    targets = _deploy.Targets(cert=str(tmp_path / "certs" / "site.pem"), key=str(tmp_path / "private" / "site.key"),
                              store=str(tmp_path / "store"))
    res = _deploy.deploy(_deploy.DeployRequest(targets=targets, bundle=bundle_of(issued)))
    assert res.store == str(tmp_path / "store")
    assert (tmp_path / "private" / "site.key").read_bytes() == issued.key_pem
    assert os.readlink(tmp_path / "private" / "site.key") == "../certs/..store.data/key.pem"
    assert os.readlink(tmp_path / "certs" / "..store.data") == "../store/gen-1"


def test_unwritable_directory_names_the_fix(tmp_path: pathlib.Path, ca: TestCA) -> None:
    issued = ca.issue(["site.test"])
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    targets = _deploy.Targets(cert=str(blocker / "site.pem"), key=str(blocker / "site.key"))
    with pytest.raises(FileSystemError, match=r"file/\S* \(Not a directory\); check that the directory exists"):
        _deploy.deploy(_deploy.DeployRequest(targets=targets, bundle=bundle_of(issued)))


def test_plain_file_with_bytes_already_in_the_store_is_not_adopted_again(
        tmp_path: pathlib.Path, ca: TestCA) -> None:
    first, second = ca.issue(["site.test"]), ca.issue(["site.test"])
    _deploy.deploy(request(tmp_path, first))
    key_path = tmp_path / "tls" / "site.key"
    key_path.unlink()
    key_path.write_bytes(first.key_pem)  # someone copied the key back by hand: generation 1 holds it
    res = _deploy.deploy(request(tmp_path, second))
    assert res.generation == 2 and res.generations == [1, 2] and not [a for a in res.actions if "adopt" in a]
    assert os.path.islink(key_path) and served_fingerprint(tmp_path) == _x509.fingerprint(second.cert)
    _deploy.rollback(request(tmp_path, None))
    assert served_fingerprint(tmp_path) == _x509.fingerprint(first.cert)


def snapshot(root: pathlib.Path) -> dict[str, t.Any]:
    out: dict[str, t.Any] = {}
    for path in sorted(root.rglob("*")):
        st = os.lstat(path)
        out[str(path)] = os.readlink(path) if path.is_symlink() else (st.st_mode, st.st_ino, path.is_file()
                                                                      and path.read_bytes())
    return out


@pytest.mark.parametrize("role, name", [("cert", "site.crt"), ("fullchain", "fullchain.pem"), ("key", "site.key")])
def test_hand_replaced_file_of_another_certificate_is_refused_changing_nothing(
        tmp_path: pathlib.Path, ca: TestCA, role: str, name: str) -> None:
    """Issue 10 item 1: never a generation mixing the old cert, a new fullchain and the old key."""
    first, second, third = (ca.issue(["site.test"]) for _unused in range(3))
    _deploy.deploy(request(tmp_path, first))
    path = tmp_path / "tls" / name
    path.unlink()
    path.write_bytes({"cert": second.cert_pem, "fullchain": second.fullchain_pem, "key": second.key_pem}[role])
    before = snapshot(tmp_path / "tls")
    for check_mode in (True, False):
        with pytest.raises(_errors.CertificateError) as info:
            _deploy.deploy(request(tmp_path, third, check_mode=check_mode))
        assert "%s_path %s" % (role, path) in str(info.value) and "nothing was changed" in str(info.value)
    assert snapshot(tmp_path / "tls") == before


def test_hand_replaced_consistent_set_is_adopted_from_disk(tmp_path: pathlib.Path, ca: TestCA) -> None:
    """Every service path replaced by the files of one other certificate: kept as it is on disk."""
    first, second, third = (ca.issue(["site.test"]) for _unused in range(3))
    _deploy.deploy(request(tmp_path, first))
    tls = tmp_path / "tls"
    for name, data in (("site.crt", second.cert_pem), ("site.key", second.key_pem), ("chain.pem", second.chain_pem),
                       ("fullchain.pem", second.fullchain_pem), ("combined.pem", second.fullchain_pem + second.key_pem)):
        (tls / name).unlink()
        (tls / name).write_bytes(data)
    check = _deploy.deploy(request(tmp_path, third, check_mode=True))
    res = _deploy.deploy(request(tmp_path, third))
    assert res.previous is not None and res.previous["fingerprint_sha256"] == _x509.fingerprint(second.cert)
    assert res.diff["before"]["fingerprint_sha256"] == _x509.fingerprint(second.cert)
    assert (check.generation, check.generations, check.previous) == (res.generation, res.generations, res.previous)
    back = _deploy.rollback(request(tmp_path, None))
    assert back.generation == 2 and served_fingerprint(tmp_path) == _x509.fingerprint(second.cert)


def test_rollback_refuses_an_inconsistent_generation(tmp_path: pathlib.Path, ca: TestCA) -> None:
    first, second, other = (ca.issue(["site.test"]) for _unused in range(3))
    _deploy.deploy(request(tmp_path, first))
    _deploy.deploy(request(tmp_path, second))
    gen1 = tmp_path / "tls" / ".ghostguard" / "site" / "gen-1"
    (gen1 / "fullchain.pem").write_bytes(other.fullchain_pem)  # the store of an older release was mixed
    before = snapshot(tmp_path / "tls")
    with pytest.raises(_errors.CertificateError, match=r"generation 1 .* not one consistent certificate"):
        _deploy.rollback(request(tmp_path, None))
    assert snapshot(tmp_path / "tls") == before


def test_check_mode_predicts_first_adoption_exactly(tmp_path: pathlib.Path, ca: TestCA) -> None:
    """Issue 10 item 2: check mode said generation 1, generations []; the run made 2 and [1, 2]."""
    old, new = ca.issue(["site.test"]), ca.issue(["site.test"])
    plant(tmp_path / "tls", old, ("site.crt", "site.key", "fullchain.pem"))
    check = _deploy.deploy(request(tmp_path, new, check_mode=True))
    res = _deploy.deploy(request(tmp_path, new))
    assert (res.generation, res.generations, res.previous_generation) == (2, [1, 2], 1)
    assert (check.generation, check.generations, check.previous_generation) == (2, [1, 2], 1)
    assert check.previous == res.previous and check.diff == res.diff


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_owner_group_and_key_mode(tmp_path: pathlib.Path, ca: TestCA) -> None:
    import grp
    import pwd

    attrs = _store.resolve_attrs(owner="nobody", group="nogroup", mode="0644", key_mode="0640")
    res = _deploy.deploy(request(tmp_path, ca.issue(["site.test"]), attrs=attrs))
    gen = pathlib.Path(res.store) / "gen-1"
    key = os.stat(gen / "key.pem")
    assert (key.st_uid, key.st_gid) == (pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid)
    assert stat.S_IMODE(key.st_mode) == 0o640
    assert stat.S_IMODE(os.stat(gen / "combined.pem").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(gen / "fullchain.pem").st_mode) == 0o644
    assert os.stat(gen).st_uid == pwd.getpwnam("nobody").pw_uid


# ---------------------------------------------------------------- bundles without key (issued for a CSR)


def test_bundle_without_key_installs_cert_chain_fullchain(tmp_path: pathlib.Path, ca: TestCA) -> None:
    issued = ca.issue(["site.test"])
    keyless = _bundle.build_bundle(issued.cert_pem, None, issued.chain_pem)
    tls = tmp_path / "tls"
    targets = _deploy.Targets(cert=str(tls / "site.crt"), chain=str(tls / "chain.pem"),
                              fullchain=str(tls / "fullchain.pem"))
    res = _deploy.deploy(_deploy.DeployRequest(targets=targets, bundle=keyless))
    assert res.generation == 1
    assert sorted(os.listdir(pathlib.Path(res.store) / "gen-1")) == ["cert.pem", "chain.pem", "fullchain.pem"]
    assert (tls / "fullchain.pem").read_bytes() == issued.fullchain_pem
    again = _deploy.deploy(_deploy.DeployRequest(targets=targets, bundle=keyless))
    assert again.changed is False
    with pytest.raises(InputError, match=r"issued for a CSR.*key_path"):
        _deploy.deploy(_deploy.DeployRequest(targets=_deploy.Targets(cert=str(tls / "site.crt"), key=str(tls / "k")),
                                             bundle=keyless))


def test_rollback_to_a_generation_without_key_keeps_key_path(tmp_path: pathlib.Path, ca: TestCA) -> None:
    first, second = ca.issue(["site.test"]), ca.issue(["site.test"])
    tls = tmp_path / "tls"
    keyless = _deploy.Targets(cert=str(tls / "site.crt"), fullchain=str(tls / "fullchain.pem"))
    _deploy.deploy(_deploy.DeployRequest(targets=keyless, bundle=_bundle.build_bundle(first.cert_pem, None, None)))
    _deploy.deploy(request(tmp_path, second))  # later issued with a key on this host
    with pytest.raises(FileSystemError, match=r"generation 1 .* has no key, combined file"):
        _deploy.rollback(request(tmp_path, None))
    assert served_fingerprint(tmp_path) == _x509.fingerprint(second.cert)
    res = _deploy.rollback(_deploy.DeployRequest(targets=keyless))
    assert res.generation == 1
    assert (tls / "site.crt").read_bytes() == first.cert_pem


# ---------------------------------------------------------------- from plain option values


def test_request_from_options_builds_and_validates(tmp_path: pathlib.Path, ca: TestCA) -> None:
    issued = ca.issue(["site.test"])
    options = {"cert_content": issued.cert_pem.decode(), "key_content": issued.key_pem.decode(),
               "chain_content": issued.chain_pem.decode(), "cert_path": str(tmp_path / "tls" / "site.crt"),
               "key_path": str(tmp_path / "tls" / "site.key"), "expected_names": ["site.test"], "keep": 2,
               "mode": "0640"}
    req = _deploy.request_from_options(options, check_mode=True)
    assert req.bundle is not None and req.bundle.cert_pem == issued.cert_pem
    assert (req.keep, req.check_mode, req.attrs.mode) == (2, True, 0o640)
    assert _deploy.deploy(req).changed and not (tmp_path / "tls").exists()
    src = tmp_path / "in.pem"
    src.write_bytes(issued.cert_pem)
    remote = dict(options, cert_content=None, cert_src=str(src), remote_src=True)
    assert _deploy.request_from_options(remote).bundle is not None
    rollback = _deploy.request_from_options({"state": "rollback", "cert_path": options["cert_path"],
                                             "from_fingerprint": "AB"})
    assert rollback.bundle is None and rollback.from_fingerprint == "AB"


@pytest.mark.parametrize(("change", "message"), [
    ({"cert_src": "/x.pem"}, "give cert_content or cert_src, not both"),
    ({"cert_content": None, "cert_src": "/x.pem"}, "the action plugin did not read it"),
    ({"key_content": None}, "state=present needs the certificate and the key"),
    ({"expected_names": ["other.test"]}, r"does not cover other\.test"),
    ({"leeway": "400d"}, "within the leeway of 400d"),
    ({"mode": "rw"}, "not an octal mode"),
    ({"cert_content": None, "cert_src": "/nonexistent/x.pem", "remote_src": True}, "cannot be read"),
])
def test_request_from_options_refuses(tmp_path: pathlib.Path, ca: TestCA, change: dict[str, t.Any],
                                      message: str) -> None:
    issued = ca.issue(["site.test"])
    options = {"cert_content": issued.cert_pem.decode(), "key_content": issued.key_pem.decode(),
               "cert_path": str(tmp_path / "site.crt"), "key_path": str(tmp_path / "site.key")}
    with pytest.raises((InputError, _errors.CertificateError), match=message):
        _deploy.request_from_options({**options, **change})
    assert list(tmp_path.iterdir()) == []


def test_in_place_rewrites_the_same_inodes_and_keeps_generations(tmp_path: pathlib.Path, ca: TestCA) -> None:
    first, second = ca.issue(["site.test"]), ca.issue(["site.test"])
    res = _deploy.deploy(request(tmp_path, first, in_place=True))
    tls = tmp_path / "tls"
    assert res.generation == 1 and not (tls / "site.key").is_symlink()
    assert stat.S_IMODE(os.stat(tls / "site.key").st_mode) == 0o600
    inodes = {name: os.stat(tls / name).st_ino for name in ("site.crt", "site.key", "fullchain.pem")}
    again = _deploy.deploy(request(tmp_path, first, in_place=True))
    assert not again.changed and again.actions == []
    steps: list[str] = []
    _durable.set_step_hook(steps.append)
    try:
        res = _deploy.deploy(request(tmp_path, second, in_place=True))
    finally:
        _durable.set_step_hook(None)
    assert res.generation == 2 and res.generations == [1, 2] and not [a for a in res.actions if "adopt" in a]
    assert {name: os.stat(tls / name).st_ino for name in inodes} == inodes  # same inodes: Write events
    assert served_fingerprint(tmp_path) == _x509.fingerprint(second.cert)
    written = [s for s in steps if s.startswith("in place ")]
    # key first, certificate files last; the chain (the same intermediate) is left alone
    assert written == ["in place key", "in place combined", "in place cert", "in place fullchain"]
    back = _deploy.rollback(request(tmp_path, None, in_place=True))
    assert back.generation == 1 and served_fingerprint(tmp_path) == _x509.fingerprint(first.cert)
    assert {name: os.stat(tls / name).st_ino for name in inodes} == inodes


def test_in_place_and_links_switch_both_ways(tmp_path: pathlib.Path, ca: TestCA) -> None:
    first, second = ca.issue(["site.test"]), ca.issue(["site.test"])
    _deploy.deploy(request(tmp_path, first))
    key = tmp_path / "tls" / "site.key"
    assert key.is_symlink()
    check = _deploy.deploy(request(tmp_path, first, in_place=True, check_mode=True))
    res = _deploy.deploy(request(tmp_path, first, in_place=True))
    assert check.changed and res.changed and res.actions == check.actions and res.generation == 1
    assert not key.is_symlink() and key.read_bytes() == first.key_pem
    assert (tmp_path / "tls" / ".ghostguard" / "site" / "gen-1" / "key.pem").read_bytes() == first.key_pem
    res = _deploy.deploy(request(tmp_path, second))
    assert res.generations == [1, 2] and key.is_symlink() and served_fingerprint(tmp_path) == _x509.fingerprint(second.cert)


def test_older_store_layout_is_migrated_by_the_next_deploy(tmp_path: pathlib.Path, ca: TestCA) -> None:
    first, second = ca.issue(["site.test"]), ca.issue(["site.test"])
    req = request(tmp_path, first)
    old = _store.Store(req.targets.store_dir())  # no switching link: the layout of older releases
    old.ensure_root()
    old.switch(old.write_generation(bundle_of(first).files(), _store.Attrs()))
    old.link_service_paths(req.targets.paths())
    key = tmp_path / "tls" / "site.key"
    assert os.readlink(key) == ".ghostguard/site/current/key.pem"
    res = _deploy.deploy(request(tmp_path, second))
    assert res.generations == [1, 2] and res.previous_generation == 1
    assert os.readlink(key) == "..site.data/key.pem"
    assert os.readlink(tmp_path / "tls" / "..site.data") == ".ghostguard/site/gen-2"
    assert os.readlink(tmp_path / "tls" / ".ghostguard" / "site" / "current") == "../../..site.data"
    assert _store.Store(req.targets.store_dir()).current() == 2  # readers of `current` follow the new link
    _deploy.rollback(request(tmp_path, None))
    assert served_fingerprint(tmp_path) == _x509.fingerprint(first.cert)


def test_paths_in_other_directories_get_an_event_of_their_own(tmp_path: pathlib.Path, ca: TestCA) -> None:
    """A watcher of the key's directory is told too: its link is renamed onto itself after the switch."""
    first, second = ca.issue(["site.test"]), ca.issue(["site.test"])
    targets = _deploy.Targets(cert=str(tmp_path / "certs" / "site.pem"), key=str(tmp_path / "private" / "site.key"))
    _deploy.deploy(_deploy.DeployRequest(targets=targets, bundle=bundle_of(first)))
    key = tmp_path / "private" / "site.key"
    before = os.lstat(key).st_ino
    _deploy.deploy(_deploy.DeployRequest(targets=targets, bundle=bundle_of(second)))
    assert os.readlink(key) == "../certs/..site.data/key.pem" and os.lstat(key).st_ino != before
    assert key.read_bytes() == second.key_pem
