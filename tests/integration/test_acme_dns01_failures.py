# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""acme_dns01 failure paths on the lab: clear errors, nothing written, no TXT record left, no secret shown."""

from __future__ import annotations

import json
import pathlib
import threading
import time
import typing as t

from ansible_run import ModuleRun, run_module
from conftest import LabHandle

MODULE = "ghostguard.certs.acme_dns01"
OUTPUTS = ("cert.pem", "key.pem", "chain.pem", "fullchain.pem")


def assert_nothing_written(tmp: pathlib.Path) -> None:
    assert [f for f in OUTPUTS if (tmp / f).exists()] == []
    assert [p.name for p in tmp.iterdir() if p.name.endswith(".tmp")] == []


def test_wrong_alidns_secret(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    args = lab.args(tmp_path, ["www.example.test"], provider="alidns")
    args["alidns"]["access_key_secret"] = "not-the-secret-0123456789"
    run = run_module(MODULE, args)
    assert run.rc != 0 and run.result["failed"] is True
    msg = run.result["msg"]
    assert lab.info["alidns"]["access_key_id"] in msg and "InvalidAccessKeySecret" in msg
    assert "access_key_secret" in msg  # the next step
    assert run.result["error_kind"] == "dns_provider"
    assert "not-the-secret-0123456789" not in run.stdout + run.stderr
    assert_nothing_written(tmp_path)
    assert lab.alidns_stats()["records"] == []
    assert lab.challenge_txt_everywhere() == {}


def test_allowed_domains_refuses_before_any_request(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    acme_before = lab.proxy_count()
    alidns_before = lab.alidns_stats().get("counts", {})
    args = lab.args(tmp_path, ["www.example.test", "shop.evil.test"], provider="alidns", via_proxy=True,
                    allowed_domains=["*.example.test", "example.test"])
    run = run_module(MODULE, args)
    assert run.rc != 0
    assert "shop.evil.test" in run.result["msg"] and "allowed_domains" in run.result["msg"]
    assert "www.example.test" not in run.result["refused"]
    assert lab.proxy_count() == acme_before  # zero ACME requests
    assert lab.alidns_stats().get("counts", {}) == alidns_before  # zero DNS API calls
    assert not (tmp_path / "account.key").exists()
    assert_nothing_written(tmp_path)


def test_propagation_timeout_cleans_up(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    # the stale server serves the zone but never gets the update, like a secondary that missed NOTIFY
    stale = lab.info["dns_stale"]["nameserver"]
    args = lab.args(tmp_path, ["www.example.test"], propagation_timeout=2,
                    nameservers=[lab.info["dns"]["nameserver"], stale])
    started = time.monotonic()
    run = run_module(MODULE, args)
    assert run.rc != 0
    assert run.result["error_kind"] == "propagation_timeout"
    assert stale in run.result["msg"] and "_acme-challenge.www.example.test" in run.result["msg"]
    assert "removed" in run.result["msg"]
    assert run.result["authorizations_deactivated"] == 1  # nothing left pending at the CA
    assert time.monotonic() - started < 20
    assert lab.challenge_txt_everywhere() == {}
    assert_nothing_written(tmp_path)


def test_failure_keeps_previous_files(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    args = lab.args(tmp_path, ["www.example.test"], ari=False)
    assert run_module(MODULE, args).rc == 0
    before = {f: (tmp_path / f).read_bytes() for f in OUTPUTS}
    stale = lab.info["dns_stale"]["nameserver"]
    failed = run_module(MODULE, {**args, "force": True, "propagation_timeout": 1,
                                 "nameservers": [lab.info["dns"]["nameserver"], stale]})
    assert failed.rc != 0 and failed.result["error_kind"] == "propagation_timeout"
    assert {f: (tmp_path / f).read_bytes() for f in OUTPUTS} == before


def test_pebble_killed_mid_order(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    pebble = lab.extra_pebble("pebble-doomed")
    try:
        args = lab.args(tmp_path, ["www.example.test"], provider="alidns", timeout=6,
                        acme_directory=pebble["directory"], acme_ca_bundle=pebble["ca_bundle"])
        adds_before = lab.alidns_stats().get("counts", {}).get("AddDomainRecord", 0)
        lab.alidns_control(delay={"AddDomainRecord": 1.5})
        box: dict[str, ModuleRun] = {}
        worker = threading.Thread(target=lambda: box.setdefault("run", run_module(MODULE, args)))
        worker.start()
        deadline = time.monotonic() + 30
        while lab.alidns_stats().get("counts", {}).get("AddDomainRecord", 0) == adds_before:
            assert time.monotonic() < deadline, "the module never reached the DNS step"
            time.sleep(0.05)
        lab.stop_pebble("pebble-doomed")  # the order exists, the TXT record is being written
        worker.join(60)
        run = box["run"]
    finally:
        lab.stop_pebble("pebble-doomed")
        lab.alidns_control()
    assert run.rc != 0
    msg = run.result["msg"]
    assert run.result["error_kind"] == "protocol"
    assert "connection to %s failed" % pebble["directory"] in msg
    assert run.result["authorizations_deactivated"] == 0  # tried, bounded, the CA is gone
    assert_nothing_written(tmp_path)
    assert lab.alidns_stats()["records"] == []
    assert lab.challenge_txt_everywhere() == {}


def _secrets(lab: LabHandle) -> dict[str, str]:
    return {"tsig": lab.info["tsig"]["secret"], "alidns": lab.info["alidns"]["access_key_secret"]}


def _pem_body(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def test_vvv_shows_no_secret(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    account_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    outputs: list[str] = []
    for provider in ("rfc2136", "alidns"):
        workdir = tmp_path / provider
        workdir.mkdir()
        args: dict[str, t.Any] = lab.args(workdir, ["www.example.test"], provider=provider)
        del args["account_key_path"]
        args["account_key_content"] = account_pem
        run = run_module(MODULE, args, verbosity=3)
        assert run.rc == 0, run.stdout[-3000:]
        outputs.append(run.stdout + run.stderr)
        outputs.append(json.dumps(run.result))
        # ansible-core 2.19 returns the invocation at -vvv (newer cores do not): the secrets there are masked
        shown = run.result.get("invocation", {}).get("module_args")
        if shown is not None:
            assert shown["account_key_content"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
            secret_option = (shown["rfc2136"]["key_secret"] if provider == "rfc2136"
                             else shown["alidns"]["access_key_secret"])
            assert secret_option == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
        key_lines = _pem_body((workdir / "key.pem").read_text())
        assert all(line not in outputs[-2] for line in key_lines)
    text = "\n".join(outputs)
    for name, secret in _secrets(lab).items():
        assert secret not in text, name
    for line in _pem_body(account_pem):
        assert line not in text


def test_external_account_binding_and_terms(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    from lab import start_pebble

    hmac_key = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
    pebble = start_pebble(lab.state_dir, "pebble-eab", int(lab.info["dns"]["port"]), eab_keys={"kid-1": hmac_key})
    try:
        base = lab.args(tmp_path, ["www.example.test"], acme_directory=pebble["directory"],
                        acme_ca_bundle=pebble["ca_bundle"])
        missing = run_module(MODULE, base)
        assert missing.rc != 0 and "eab_kid and eab_hmac_key" in missing.result["msg"]

        no_terms = run_module(MODULE, {**base, "terms_agreed": False, "eab_kid": "kid-1", "eab_hmac_key": hmac_key})
        assert no_terms.rc != 0 and "terms_agreed=true" in no_terms.result["msg"]

        run = run_module(MODULE, {**base, "eab_kid": "kid-1", "eab_hmac_key": hmac_key}, verbosity=3)
        assert run.rc == 0, run.stdout[-3000:]
        assert hmac_key not in run.stdout + run.stderr
        shown = run.result.get("invocation", {}).get("module_args", {})  # only ansible-core 2.19 returns it
        assert shown.get("eab_hmac_key", "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER") == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
        # the account exists now: found again without agreeing to anything
        again = run_module(MODULE, {**base, "terms_agreed": False, "force": True, "ari": False})
        assert again.rc == 0, again.stdout
        assert again.result["account_uri"] == run.result["account_uri"]
    finally:
        lab.stop_pebble("pebble-eab")
    assert lab.challenge_txt_everywhere() == {}


def test_wrong_tsig_secret_and_untrusted_ca(quiet_lab: LabHandle, tmp_path: pathlib.Path) -> None:
    lab = quiet_lab
    args = lab.args(tmp_path, ["www.example.test"])
    wrong = "c2VjcmV0LWJ1dC1ub3QtdGhlLXJpZ2h0LW9uZS0xMjM0NTY3ODk="
    args["rfc2136"]["key_secret"] = wrong
    run = run_module(MODULE, args)
    assert run.rc != 0 and run.result["error_kind"] == "dns_provider"
    msg = run.result["msg"]
    assert "TSIG" in msg and lab.info["tsig"]["name"] in msg and "key_secret" in msg
    assert wrong not in run.stdout + run.stderr
    assert_nothing_written(tmp_path)

    # the ACME server's TLS certificate is not signed by acme_ca_bundle: say so, do not retry forever
    untrusted = run_module(MODULE, {**lab.args(tmp_path, ["www.example.test"]), "acme_ca_bundle": lab.info["issuer_roots"]})
    assert untrusted.rc != 0 and untrusted.result["error_kind"] == "protocol"
    assert "acme_ca_bundle" in untrusted.result["msg"]
    assert lab.challenge_txt_everywhere() == {}
