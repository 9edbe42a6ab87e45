# SPDX-License-Identifier: GPL-3.0-or-later
"""deploy -> nginx -s reload -> endpoint_info, through real Ansible and a private nginx on loopback."""

from __future__ import annotations

import datetime as dt
import pathlib
import typing as t

import pytest
from ansible_run import run_module
from certgen import TestCA, now
from deploy_lab import DeployLab, fp
from services import Nginx, Site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[tuple[DeployLab, Nginx, str]]:
    root = tmp_path_factory.mktemp("nginx-deploy")
    lab = DeployLab(str(root))
    first = lab.issue()
    run = run_module("ghostguard.certs.deploy", lab.module_args(first))
    assert run.rc == 0, run.stdout + run.stderr
    with Nginx(str(root / "nginx"), [Site(lab.fullchain_path, lab.key_path, lab.name)]) as ngx:
        yield lab, ngx, fp(first.cert)


def probe(lab: DeployLab, ngx: Nginx, **extra: t.Any) -> dict[str, t.Any]:
    args = {"host": "127.0.0.1", "port": ngx.sites[0].port, "server_name": lab.name, "ca_bundle": lab.root_file,
            "retries": 20, "retry_delay": 0.1, "timeout": 5}
    args.update(extra)
    return run_module("ghostguard.certs.endpoint_info", args).result


def test_deploy_reload_proves_new_fingerprint(site: tuple[DeployLab, Nginx, str]) -> None:
    lab, ngx, first_fp = site
    before = probe(lab, ngx, expected_fingerprint=first_fp)
    assert before["matches_expected"] is True, before
    new = lab.issue()
    run = run_module("ghostguard.certs.deploy", lab.module_args(new))
    assert run.rc == 0 and run.result["changed"] is True, run.stdout
    assert run.result["previous"]["fingerprint_sha256"] == first_fp
    assert run.result["certificate"]["fingerprint_sha256"] == fp(new.cert)
    assert lab.installed().fingerprint == fp(new.cert)
    # files are new, nginx still serves the old certificate until it reloads
    stale = probe(lab, ngx, retries=0)
    assert stale["certificate"]["fingerprint_sha256"] == first_fp
    ngx.reload()
    after = probe(lab, ngx, expected_fingerprint=fp(new.cert).replace(":", "").upper())
    assert after["matches_expected"] is True and after["verified"] is True, after
    assert after["tls_version"] in ("TLSv1.2", "TLSv1.3") and after["handshake_ms"] > 0
    assert [c["subject"] for c in after["chain"]] == ["CN=deploy lab root intermediate"]
    again = run_module("ghostguard.certs.deploy", lab.module_args(new))
    assert again.rc == 0 and again.result["changed"] is False


@pytest.mark.parametrize("case", ["mismatched_key", "expired", "other_ca_chain", "truncated_pem", "missing_name"])
def test_bad_input_refused_and_nothing_changes(site: tuple[DeployLab, Nginx, str], case: str) -> None:
    lab, ngx, _first = site
    served_before = probe(lab, ngx, retries=0)["certificate"]["fingerprint_sha256"]
    snapshot = lab.snapshot()
    installed = lab.installed()
    good = lab.issue()
    args = lab.module_args(good)
    expect = {
        "mismatched_key": "does not belong",
        "expired": "expired",
        "other_ca_chain": "which ca_bundle %s does not hold" % lab.root_file,
        "truncated_pem": "truncated",
        "missing_name": "does not cover",
    }[case]
    if case == "mismatched_key":
        args["key_content"] = lab.issue().key_pem.decode()
    elif case == "expired":
        old = lab.issue(days=1, not_before=now() - dt.timedelta(days=5))
        args = lab.module_args(old)
    elif case == "other_ca_chain":
        other = TestCA("another root").issue([lab.name])
        args = lab.module_args(other)
    elif case == "truncated_pem":
        args["cert_content"] = good.cert_pem.decode()[:300]
    elif case == "missing_name":
        args["expected_names"] = [lab.name, "api.other.test"]
    run = run_module("ghostguard.certs.deploy", args)
    assert run.rc != 0 and run.result["failed"] is True
    assert expect in run.result["msg"], run.result["msg"]
    assert "PRIVATE KEY" not in run.stdout + run.stderr
    assert lab.snapshot() == snapshot
    assert lab.installed() == installed
    ngx.reload()
    assert probe(lab, ngx, expected_fingerprint=served_before)["matches_expected"] is True


def test_check_and_diff_mode_change_nothing_and_show_no_key(site: tuple[DeployLab, Nginx, str],
                                                            tmp_path: pathlib.Path) -> None:
    lab, _ngx, _first = site
    snapshot = lab.snapshot()
    new = lab.issue()
    run = run_module("ghostguard.certs.deploy", lab.module_args(new), check=True, diff=True, verbosity=3)
    assert run.rc == 0, run.stdout + run.stderr
    assert run.result["changed"] is True
    assert lab.snapshot() == snapshot
    diff = run.result["diff"]
    assert diff["after"]["fingerprint_sha256"] == fp(new.cert)
    assert diff["before"]["fingerprint_sha256"] == lab.installed().fingerprint
    assert set(diff["after"]) == {"subject", "sans", "serial", "not_after", "fingerprint_sha256"}
    key_body = new.key_pem.decode().splitlines()[1]
    assert key_body not in run.stdout + run.stderr
    assert "PRIVATE KEY" not in run.stdout + run.stderr


def test_controller_files_through_action_plugin(site: tuple[DeployLab, Nginx, str], tmp_path: pathlib.Path) -> None:
    lab, ngx, _first = site
    new = lab.issue()
    (tmp_path / "leaf.pem").write_bytes(new.cert_pem)
    (tmp_path / "chain.pem").write_bytes(new.chain_pem)
    (tmp_path / "leaf.key").write_bytes(new.key_pem)
    args = {"cert_src": str(tmp_path / "leaf.pem"), "key_src": str(tmp_path / "leaf.key"),
            "chain_src": str(tmp_path / "chain.pem"), "ca_bundle": lab.root_file, "owner": "root", "group": "root",
            "mode": "0640", "key_mode": "0600", **lab.paths()}
    run = run_module("ghostguard.certs.deploy", args, verbosity=3)
    assert run.rc == 0, run.stdout + run.stderr
    assert new.key_pem.decode().splitlines()[1] not in run.stdout + run.stderr
    assert lab.installed().fingerprint == fp(new.cert)
    assert oct(pathlib.Path(lab.cert_path).stat().st_mode & 0o777) == "0o640"
    assert oct(pathlib.Path(lab.key_path).stat().st_mode & 0o777) == "0o600"
    ngx.reload()
    assert probe(lab, ngx, expected_fingerprint=fp(new.cert))["matches_expected"] is True


def test_nginx_reads_the_combined_file(site: tuple[DeployLab, Nginx, str], tmp_path: pathlib.Path) -> None:
    """combined_path works as both ssl_certificate and ssl_certificate_key."""
    lab, _ngx, _first = site
    installed = lab.installed().fingerprint
    with Nginx(str(tmp_path / "nginx-combined"), [Site(lab.combined_path, lab.combined_path, lab.name)]) as other:
        res = probe(lab, other, expected_fingerprint=installed)
    assert res["matches_expected"] is True, res
    assert oct(pathlib.Path(lab.combined_path).stat().st_mode & 0o777) == "0o600"
