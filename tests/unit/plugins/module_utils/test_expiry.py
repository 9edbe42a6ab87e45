# SPDX-License-Identifier: GPL-3.0-or-later
"""Batch scanning (plugins/module_utils/_expiry.py) on real files made in the test."""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import pathlib
import shutil
import tempfile
import typing as t

import pytest
from certgen import TestCA, now
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

from ansible_collections.ghostguard.certs.plugins.module_utils import _expiry
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertificateError, InputError


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


def run(paths: list[str], **kw: object) -> dict:
    return _expiry.scan(_expiry.ScanRequest(paths=paths, **kw)).facts()  # type: ignore[arg-type]


def by_name(result: dict) -> dict[str, dict]:
    return {os.path.basename(c["path"]): c for c in result["certificates"]}


def test_directory_statuses_and_summary(ca: TestCA, tmp_path: pathlib.Path) -> None:
    d = str(tmp_path)
    ca.issue(["fine.test"], days=90).write(d, "fine")
    ca.issue(["due.test"], days=90, not_before=now() - dt.timedelta(days=70)).write(d, "due")
    ca.issue(["crit.test"], days=90, not_before=now() - dt.timedelta(days=88)).write(d, "crit")
    ca.issue(["gone.test"], days=30, not_before=now() - dt.timedelta(days=31)).write(d, "gone")
    ca.issue(["future.test"], days=30, not_before=now() + dt.timedelta(days=2)).write(d, "future")
    res = run([d])
    names = by_name(res)
    assert {k: v["status"] for k, v in names.items()} == {
        "fine.pem": "ok", "due.pem": "due", "crit.pem": "critical", "gone.pem": "expired", "future.pem": "not_yet_valid",
    }
    # soonest expiry first
    assert [os.path.basename(c["path"]) for c in res["certificates"]][:2] == ["gone.pem", "crit.pem"]
    assert res["summary"]["counts"] == {
        "ok": 1, "due": 1, "critical": 1, "expired": 1, "not_yet_valid": 1, "invalid": 0, "revoked": 0}
    assert res["summary"]["soonest"]["path"].endswith("gone.pem")
    assert res["summary"]["worst"] == "not_yet_valid"
    assert sorted(os.path.basename(p) for p in res["due"]) == ["crit.pem", "due.pem", "future.pem", "gone.pem"]
    # the key files beside them are skipped, not reported as errors
    assert res["errors"] == []
    assert set(res["clock"]) >= {"synchronized", "state", "estimated_error_seconds"}
    json.dumps(res)  # the whole result is JSON-serialisable


def test_bundle_reports_leaf_and_describes_chain(ca: TestCA, tmp_path: pathlib.Path) -> None:
    path = ca.issue(["b.test"]).write(str(tmp_path), "b")
    res = run([path])
    (cert,) = res["certificates"]
    assert cert["subject"] == "CN=b.test"
    assert [c["subject"] for c in cert["chain"]] == ["CN=ghostguard test root intermediate"]
    assert cert["chain"][0]["path"] is None and cert["chain"][0]["status"] == "ok"


def test_der_file(ca: TestCA, tmp_path: pathlib.Path) -> None:
    issued = ca.issue(["der.test"])
    (tmp_path / "der.der").write_bytes(issued.cert.public_bytes(serialization.Encoding.DER))
    (cert,) = run([str(tmp_path)])["certificates"]
    assert cert["format"] == "der" and cert["sans"] == ["DNS:der.test"]


def test_key_match_and_mismatch(ca: TestCA, tmp_path: pathlib.Path) -> None:
    d = str(tmp_path)
    ca.issue(["good.test"]).write(d, "good")
    bad = ca.issue(["bad.test"]).write(d, "bad")
    (tmp_path / "bad.key").write_bytes(ca.issue(["other.test"]).key_pem)
    ca.issue(["nokey.test"]).write(d, "nokey", key=False)
    names = by_name(run([d], key_match=True))
    assert names["good.pem"]["key_match"] is True and names["good.pem"]["status"] == "ok"
    assert names["bad.pem"]["key_match"] is False and names["bad.pem"]["status"] == "invalid"
    assert "key_mismatch" in names["bad.pem"]["reasons"] and names["bad.pem"]["due"] is True
    assert bad in names["bad.pem"]["key_error"] or "bad.key" in names["bad.pem"]["key_error"]
    assert names["nokey.pem"]["key_match"] is None and names["nokey.pem"]["key_path"] is None


def test_certbot_layout_privkey(ca: TestCA, tmp_path: pathlib.Path) -> None:
    issued = ca.issue(["cb.test"])
    (tmp_path / "cert.pem").write_bytes(issued.cert_pem)
    (tmp_path / "chain.pem").write_bytes(issued.chain_pem)
    (tmp_path / "fullchain.pem").write_bytes(issued.fullchain_pem)
    (tmp_path / "privkey.pem").write_bytes(issued.key_pem)
    names = by_name(run([str(tmp_path)], key_match=True))
    # chain.pem holds a CA certificate: skipped in a directory walk unless include_ca
    assert sorted(names) == ["cert.pem", "fullchain.pem"]
    assert all(c["key_match"] is True for c in names.values())
    assert "chain.pem" in by_name(run([str(tmp_path)], include_ca=True))


def test_ca_bundle_verification(ca: TestCA, tmp_path: pathlib.Path) -> None:
    good = ca.issue(["v.test"]).write(str(tmp_path), "v")
    other = TestCA("another root").issue(["x.test"]).write(str(tmp_path), "x")
    bundle = tmp_path / "roots.crt"
    bundle.write_bytes(ca.root_pem)
    names = by_name(run([good, other], ca_bundle=str(bundle)))
    assert names["v.pem"]["chain_valid"] is True
    assert names["x.pem"]["chain_valid"] is False and names["x.pem"]["status"] == "invalid"
    assert "no certificate" in names["x.pem"]["chain_error"]


def test_bad_ca_bundle_is_an_input_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(InputError, match="ca_bundle"):
        run([str(tmp_path)], ca_bundle=str(tmp_path / "missing.pem"))


def test_corrupt_missing_and_broken_symlink(ca: TestCA, tmp_path: pathlib.Path) -> None:
    d = tmp_path
    (d / "corrupt.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    (d / "empty.crt").write_bytes(b"")
    os.symlink(str(d / "nowhere.pem"), str(d / "dangling.pem"))
    res = run([str(d), str(d / "absent.pem")])
    errors = {os.path.basename(e["path"]): e["error"] for e in res["errors"]}
    assert "corrupt" in errors["corrupt.pem"]
    assert "empty" in errors["empty.crt"]
    assert "broken symlink" in errors["dangling.pem"]
    assert "no such file" in errors["absent.pem"]
    assert res["certificates"] == [] and res["summary"]["errors"] == 4


def test_symlink_is_followed_and_reported_by_its_path(ca: TestCA, tmp_path: pathlib.Path) -> None:
    target = ca.issue(["link.test"]).write(str(tmp_path / "archive"), "cert1")
    live = tmp_path / "live"
    live.mkdir()
    os.symlink(target, str(live / "cert.pem"))
    (cert,) = run([str(live)])["certificates"]
    assert cert["path"] == str(live / "cert.pem") and cert["sans"] == ["DNS:link.test"]


def test_globs_recurse_and_dedup(ca: TestCA, tmp_path: pathlib.Path) -> None:
    for i in range(3):
        ca.issue(["s%d.test" % i]).write(str(tmp_path / ("svc%d" % i) / "tls"), "server")
    pattern = str(tmp_path / "svc*" / "tls" / "server.pem")
    assert len(run([pattern, pattern])["certificates"]) == 3
    assert run([str(tmp_path)])["certificates"] == []
    assert len(run([str(tmp_path)], recurse=True)["certificates"]) == 3
    res = run([str(tmp_path / "nothing*")])
    assert res["errors"][0]["error"] == "no file matches this pattern"


def scan_as_nobody(paths: list[str], **kw: t.Any) -> dict:
    """Run a scan with real, unprivileged permissions (root reads everything: drop to nobody in a fork)."""
    if os.geteuid() != 0:
        return run(paths, **kw)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(read_fd)
        os.setgid(65534)
        os.setuid(65534)
        os.write(write_fd, json.dumps(run(paths, **kw)).encode())
        os._exit(0)
    os.close(write_fd)
    chunks = []
    while True:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks))


@pytest.fixture
def open_dir() -> t.Iterator[pathlib.Path]:
    """A directory everybody may enter (pytest's tmp_path is 0700)."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="gg-open-"))
    os.chmod(str(path), 0o755)
    yield path
    shutil.rmtree(str(path))


def test_unreadable_file_as_unprivileged_user(ca: TestCA, open_dir: pathlib.Path) -> None:
    """A file the scanning user may not read is an error entry, not a crash."""
    path = ca.issue(["secret.test"]).write(str(open_dir), "locked")
    ok = ca.issue(["public.test"]).write(str(open_dir), "public")
    os.chmod(path, 0o600)
    os.chmod(ok, 0o644)
    result = scan_as_nobody([path, ok])
    assert [c["path"] for c in result["certificates"]] == [ok]
    assert result["errors"] == [{"path": path, "error": "cannot read: Permission denied"}]


def test_unreachable_directory_is_not_reported_missing(ca: TestCA, open_dir: pathlib.Path) -> None:
    private = open_dir / "private"
    path = ca.issue(["hidden.test"]).write(str(private), "hidden")
    os.chmod(str(private), 0o700)
    result = scan_as_nobody([path])
    assert result["errors"] == [{"path": path, "error": "cannot reach: Permission denied"}]


def test_key_candidates() -> None:
    assert _expiry.key_candidates("/x/fullchain.pem")[0] == "/x/privkey.pem"
    assert _expiry.key_candidates("/x/site.crt")[0] == "/x/site.key"


def test_two_hundred_files_fast(ca: TestCA, tmp_path: pathlib.Path) -> None:
    """Hundreds of files in one call (the speed target itself lives in bench/, not here)."""
    issued = [ca.issue(["h%d.test" % i]) for i in range(10)]
    for i in range(200):
        issued[i % 10].write(str(tmp_path), "h%03d" % i)
    res = run([str(tmp_path)], key_match=True)
    assert res["summary"]["total"] == 200 and all(c["key_match"] for c in res["certificates"])
    assert len({c["fingerprint_sha256"] for c in res["certificates"]}) == 10


# ---------------------------------------------------------------- typed entry point and fail decision


def test_request_from_options_maps_module_options(tmp_path: pathlib.Path) -> None:
    req = _expiry.ScanRequest.from_options({
        "paths": str(tmp_path), "recurse": True, "patterns": None, "renew_before": "30d",
        "now": "2026-01-01T00:00:00Z", "alert_before": "1d", "fail_on_invalid": True,
    })
    assert req.paths == [str(tmp_path)] and req.recurse is True and req.fail_on_invalid is True
    assert list(req.patterns) == list(_expiry.DEFAULT_PATTERNS) and req.key_match is False
    assert (req.policy.renew_before, req.policy.alert_before) == (30 * 86400, 86400)
    assert req.policy.now == dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    with pytest.raises(InputError, match="paths is missing"):
        _expiry.ScanRequest.from_options({})
    with pytest.raises(InputError, match="renew_before"):
        _expiry.ScanRequest.from_options({"paths": [], "renew_before": "soon"})


def test_scan_result_is_typed_and_plain(ca: TestCA, tmp_path: pathlib.Path) -> None:
    ca.issue(["typed.test"]).write(str(tmp_path), "typed")
    result = _expiry.scan(_expiry.ScanRequest(paths=[str(tmp_path)]))
    assert isinstance(result, _expiry.ScanResult)
    assert [c["subject"] for c in result.certificates] == ["CN=typed.test"] and result.due == []
    assert set(result.facts()) == {"certificates", "due", "summary", "errors", "clock", "now"}
    assert result.summary["worst"] == "ok"
    assert _expiry.scan(_expiry.ScanRequest(paths=[])).summary["worst"] is None


def test_require_valid_fails_on_unreadable_or_invalid(ca: TestCA, tmp_path: pathlib.Path) -> None:
    good = ca.issue(["v.test"]).write(str(tmp_path), "v")
    (tmp_path / "junk.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n")
    mismatched = ca.issue(["m.test"]).write(str(tmp_path), "m")
    (tmp_path / "m.key").write_bytes(ca.issue(["other.test"]).key_pem)
    paths = [good, str(tmp_path / "junk.pem"), mismatched]
    lenient = _expiry.ScanRequest(paths=paths, key_match=True)
    _expiry.require_valid(lenient, _expiry.scan(lenient))  # fail_on_invalid=false: no failure
    strict = _expiry.ScanRequest(paths=paths, key_match=True, fail_on_invalid=True)
    result = _expiry.scan(strict)
    with pytest.raises(CertificateError) as err:
        _expiry.require_valid(strict, result)
    assert str(err.value).startswith("2 certificate file(s) or directories are unreadable, corrupt or invalid: ")
    assert "junk.pem" in str(err.value) and "m.pem" in str(err.value) and "v.pem" not in str(err.value)
    # the failure carries the whole result, so a failed task still shows the report
    assert err.value.details["certificates"] == result.certificates and err.value.details["summary"]["worst"] == "invalid"
    only_good = _expiry.ScanRequest(paths=[good], fail_on_invalid=True)
    _expiry.require_valid(only_good, _expiry.scan(only_good))


# ---------------------------------------------------------------- issue 10: what a client is served, containers, blind spots


def ca_with_intermediate_until(days_left: float) -> TestCA:
    """A CA whose intermediate ends *days_left* days from now (negative: already expired)."""
    ca = TestCA("short-lived intermediate")
    start = now() - dt.timedelta(days=30)
    ca.signer = TestCA._ca_cert("short-lived intermediate intermediate", ca.signer_key, ca.root, ca.root_key,
                                start, 30 + days_left)  # type: ignore[arg-type]
    ca.chain = [ca.signer]
    return ca


@pytest.mark.parametrize(("days_left", "status", "reason"), [(-2, "expired", "chain_expired"),
                                                             (1, "critical", "chain_critical")])
def test_intermediate_expiring_before_the_leaf_sets_the_file_status(
        tmp_path: pathlib.Path, days_left: int, status: str, reason: str) -> None:
    """No ca_bundle needed: the file's status is the worst of what a client is served."""
    path = ca_with_intermediate_until(days_left).issue(["svc.test"], days=90).write(str(tmp_path), "svc")
    (cert,) = run([path])["certificates"]
    assert cert["status"] == status and cert["due"] is True and reason in cert["reasons"]
    assert cert["chain"][0]["status"] == status
    # the leaf's own dates are still its own
    assert cert["seconds_remaining"] > 80 * 86400


def test_second_unrelated_leaf_makes_the_file_invalid_and_is_described(ca: TestCA, tmp_path: pathlib.Path) -> None:
    first = ca.issue(["one.test"], days=90)
    second = ca.issue(["two.test"], days=30, not_before=now() - dt.timedelta(days=28))  # 48 h left
    path = tmp_path / "two-leaves.pem"
    path.write_bytes(first.cert_pem + first.chain_pem + second.cert_pem)
    (cert,) = run([str(path)])["certificates"]
    assert cert["subject"] == "CN=one.test"
    assert cert["status"] == "invalid" and "second_leaf" in cert["reasons"] and "chain_critical" in cert["reasons"]
    assert "certificate #3 (CN=two.test" in cert["chain_error"] and "second leaf" in cert["chain_error"]
    assert [c["status"] for c in cert["chain"]] == ["ok", "critical"]
    # a normal bundle and a bundle of CA certificates are not flagged
    (normal,) = run([first.write(str(tmp_path), "normal")])["certificates"]
    assert normal["status"] == "ok" and "chain_error" not in normal


def test_pkcs7_and_pkcs12_say_what_they_are_and_how_to_convert(ca: TestCA, tmp_path: pathlib.Path) -> None:
    issued = ca.issue(["p7.test"])
    certs = [issued.cert, *issued.chain]
    (tmp_path / "pem.p7b.pem").write_bytes(pkcs7.serialize_certificates(certs, serialization.Encoding.PEM))
    (tmp_path / "der.p7b.der").write_bytes(pkcs7.serialize_certificates(certs, serialization.Encoding.DER))
    (tmp_path / "bundle.p12.der").write_bytes(pkcs12.serialize_key_and_certificates(
        b"site", issued.key, issued.cert, issued.chain, serialization.BestAvailableEncryption(b"pw")))
    res = run([str(tmp_path)])
    errors = {os.path.basename(e["path"]): e["error"] for e in res["errors"]}
    assert "is a PKCS#7 certificate bundle (PEM, .p7b)" in errors["pem.p7b.pem"]
    assert "openssl pkcs7 -print_certs" in errors["pem.p7b.pem"]
    assert "openssl pkcs7 -inform DER -print_certs" in errors["der.p7b.der"]
    assert "is a PKCS#12 archive" in errors["bundle.p12.der"] and "openssl pkcs12" in errors["bundle.p12.der"]
    assert "-nokeys" in errors["bundle.p12.der"]


def test_symlink_loop_is_called_a_loop(tmp_path: pathlib.Path) -> None:
    os.symlink(str(tmp_path / "b.pem"), str(tmp_path / "a.pem"))
    os.symlink(str(tmp_path / "a.pem"), str(tmp_path / "b.pem"))
    os.symlink(str(tmp_path / "self.pem"), str(tmp_path / "self.pem"))
    errors = {os.path.basename(e["path"]): e["error"] for e in run([str(tmp_path)])["errors"]}
    assert set(errors) == {"a.pem", "b.pem", "self.pem"}
    assert all(e.startswith("symlink loop: ") and "broken" not in e for e in errors.values())


def test_unreadable_directories_are_errors_not_empty(ca: TestCA, open_dir: pathlib.Path) -> None:
    """Without become an audit of a private directory must not look clean: every directory the scan
    cannot list is an error, in a plain directory entry, a recursive walk and a glob."""
    ca.issue(["pub.test"]).write(str(open_dir / "public"), "pub")
    ca.issue(["hidden.test"]).write(str(open_dir / "private"), "hidden")
    ca.issue(["deep.test"]).write(str(open_dir / "public" / "sub" / "locked"), "deep")
    os.chmod(str(open_dir / "private"), 0o700)
    os.chmod(str(open_dir / "public" / "sub" / "locked"), 0o700)
    for sub in ("public", "public/sub"):
        os.chmod(str(open_dir / sub), 0o755)
    for path in (open_dir / "public" / "pub.pem",):
        os.chmod(str(path), 0o644)

    direct = scan_as_nobody([str(open_dir / "private")])
    assert direct["certificates"] == []
    assert direct["errors"] == [{"path": str(open_dir / "private"), "kind": "directory", "error":
                                 "cannot list directory: Permission denied; certificates in it were not read (run "
                                 "with become, or grant read and search access)"}]
    walked = scan_as_nobody([str(open_dir)], recurse=True)
    assert [c["subject"] for c in walked["certificates"]] == ["CN=pub.test"]
    assert sorted(e["path"] for e in walked["errors"]) == [
        str(open_dir / "private"), str(open_dir / "public" / "sub" / "locked")]
    assert walked["summary"]["errors"] == 2
    globbed = scan_as_nobody([str(open_dir / "private" / "*.pem")], ignore_missing=True)
    assert [e["path"] for e in globbed["errors"]] == [str(open_dir / "private")]


def test_deploy_stores_are_never_walked_into(ca: TestCA, tmp_path: pathlib.Path) -> None:
    """Each service path once, read through its link into the current generation; no store internals."""
    from ansible_collections.ghostguard.certs.plugins.module_utils._install import bundle as _bundle
    from ansible_collections.ghostguard.certs.plugins.module_utils._install import deploy as _deploy

    tls = tmp_path / "tls"
    for names in (["v1.test"], ["v2.test"], ["v3.test"]):
        issued = ca.issue(names)
        targets = _deploy.Targets(cert=str(tls / "site.crt"), key=str(tls / "site.key"),
                                  chain=str(tls / "chain.pem"), fullchain=str(tls / "fullchain.pem"))
        bundle = _bundle.build_bundle(issued.cert_pem, issued.key_pem, b"")  # no intermediates: empty chain file
        _deploy.deploy(_deploy.DeployRequest(targets=targets, bundle=bundle))
    assert (tls / ".ghostguard").is_dir()
    os.symlink(str(tls / ".ghostguard"), str(tls / "..data"))  # a ..data-style switching link
    res = run([str(tmp_path)], recurse=True, include_ca=True)
    assert sorted(os.path.relpath(c["path"], str(tmp_path)) for c in res["certificates"]) == [
        "tls/fullchain.pem", "tls/site.crt"]
    assert {c["subject"] for c in res["certificates"]} == {"CN=v3.test"}
    assert res["errors"] == []
    # named explicitly, a store file is still read
    store_files = glob.glob(str(tls / ".ghostguard" / "*" / "gen-1" / "cert.pem"))
    assert store_files and run(store_files)["certificates"][0]["subject"] == "CN=v1.test"
