# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad input through real Ansible (issue 10): a duration option of every module, endpoint entries.

No traceback ever: each bad value fails the task with a message naming the option (and the entry)
and the accepted range; nothing is changed.
"""

from __future__ import annotations

import pathlib
import typing as t

import pytest
from ansible_run import run_module
from certgen import TestCA
from services import TLSServer

BAD = ["nan", "1e300", "soon"]  # the whole class is covered by the unit tests of _time


def assert_clean_failure(run: t.Any, *expected: str) -> None:
    assert run.rc != 0 and run.result.get("failed") is True, run.stdout + run.stderr
    text = run.stdout + run.stderr
    assert "Traceback" not in text and "ValueError" not in text and "OverflowError" not in text, text
    for part in expected:
        assert part in run.result["msg"], run.result["msg"]


@pytest.mark.parametrize("value", BAD)
def test_expiry_info_durations(value: str, tmp_path: pathlib.Path) -> None:
    run = run_module("ghostguard.certs.expiry_info", {"paths": [str(tmp_path)], "alert_before": value})
    assert_clean_failure(run, "alert_before", "give a duration from 0 to 36500d")


@pytest.mark.parametrize(("option", "value", "expected"), [
    ("leeway", "inf", "leeway: 'inf' is not a finite duration"),
    ("renew_before", "800000d", "renew_before: '800000d' is outside the accepted range"),
    ("max_connection_age", "nan", "max_connection_age: 'nan' is not a finite duration"),
])
def test_expiry_info_policy_options(option: str, value: str, expected: str, tmp_path: pathlib.Path) -> None:
    assert_clean_failure(run_module("ghostguard.certs.expiry_info", {"paths": [str(tmp_path)], option: value}), expected)


@pytest.mark.parametrize(("value", "expected"), [
    ("nan", "timeout: nan is not a finite duration"), ("inf", "timeout: inf is not a finite duration"),
    ("1e300", "timeout: 1e+300 is outside the accepted range"),
])
def test_endpoint_info_timeout(value: str, expected: str) -> None:
    run = run_module("ghostguard.certs.endpoint_info", {"host": "127.0.0.1", "port": 9, "timeout": value})
    assert_clean_failure(run, expected, "give a duration from")


def test_endpoint_info_entries_are_named(tmp_path: pathlib.Path) -> None:
    run = run_module("ghostguard.certs.endpoint_info", {"endpoints": [{"host": "127.0.0.1"}, {"port": 443}]})
    assert_clean_failure(run, "endpoints[1] has no host")
    run = run_module("ghostguard.certs.endpoint_info", {"endpoints": [
        {"host": "127.0.0.1"}, {"host": "db1", "expected_fingerprint": "12:34"}]})
    assert_clean_failure(run, "endpoints[1] (db1:443): expected_fingerprint '12:34' is not a SHA-256 fingerprint")
    run = run_module("ghostguard.certs.endpoint_info", {"endpoints": [{"host": "::1", "retry_delay": "inf"}]})
    assert_clean_failure(run, "endpoints[0].retry_delay: inf is not a finite duration")


def test_endpoint_info_bad_ca_bundle_is_that_entrys_error(tmp_path: pathlib.Path) -> None:
    ca = TestCA("input errors root")
    issued = ca.issue(["svc.test"])
    cert = issued.write(str(tmp_path), "svc")
    (tmp_path / "root.pem").write_bytes(ca.root_pem)
    with TLSServer(cert, str(tmp_path / "svc.key")) as srv:
        run = run_module("ghostguard.certs.endpoint_info", {
            "server_name": "svc.test", "timeout": 3, "ca_bundle": str(tmp_path / "root.pem"),
            "endpoints": [{"host": "127.0.0.1", "port": srv.port, "ca_bundle": str(tmp_path / "gone.pem")},
                          {"host": "127.0.0.1", "port": srv.port, "ca_bundle": str(tmp_path / "svc.key")},
                          {"host": "127.0.0.1", "port": srv.port}]})
    assert run.rc == 0, run.stdout + run.stderr
    first, second, third = run.result["endpoints"]
    assert first["error"] == second["error"] == "invalid_input"
    assert first["error_message"].startswith("endpoints[0] (127.0.0.1:%d): ca_bundle %s does not exist"
                                             % (srv.port, tmp_path / "gone.pem"))
    assert "endpoints[1]" in second["error_message"] and str(tmp_path / "svc.key") in second["error_message"]
    assert third["ok"] and third["verified"] is True


def test_acme_dns01_durations(tmp_path: pathlib.Path) -> None:
    """propagation_timeout is an integer option: a huge value is refused by name before any request."""
    run = run_module("ghostguard.certs.acme_dns01", {
        "names": ["a.test"], "cert_path": str(tmp_path / "a.pem"), "acme_directory": "https://127.0.0.1:9/dir",
        "account_key_path": str(tmp_path / "account.key"), "dns_provider": "rfc2136",
        "rfc2136": {"server": "127.0.0.1", "key_name": "k", "key_secret": "c2VjcmV0"},
        "propagation_timeout": 10 ** 30})
    assert_clean_failure(run, "propagation_timeout", "is outside the accepted range", "give a duration from 1s to 1d")
    assert not (tmp_path / "a.pem").exists()


def test_deploy_leeway(tmp_path: pathlib.Path) -> None:
    issued = TestCA("leeway root").issue(["site.test"])
    run = run_module("ghostguard.certs.deploy", {
        "cert_content": issued.cert_pem.decode(), "key_content": issued.key_pem.decode(),
        "cert_path": str(tmp_path / "tls" / "site.crt"), "key_path": str(tmp_path / "tls" / "site.key"),
        "leeway": "inf"})
    assert_clean_failure(run, "leeway: 'inf' is not a finite duration")
    assert not (tmp_path / "tls").exists()
