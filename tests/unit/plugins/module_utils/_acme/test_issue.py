# SPDX-License-Identifier: GPL-3.0-or-later
"""acme_dns01's engine without a network: refusals, the account key, decisions through the store."""

from __future__ import annotations

import json
import os
import pathlib
import stat
import typing as t

import pytest
from certgen import TestCA

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._acme import issue
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import InputError
from ansible_collections.ghostguard.certs.plugins.module_utils._install import bundle as _bundle
from ansible_collections.ghostguard.certs.plugins.module_utils._install import deploy as _deploy


def _request(tmp: pathlib.Path, names: list[str], allowed_domains: list[str] | None = None,
             **extra: t.Any) -> issue.RenewRequest:
    issue_req = issue.IssueRequest(
        names=names,
        account=issue.AcmeAccount(directory="https://192.0.2.1/dir", key_path=str(tmp / "account.key")),
        dns=issue.DnsChallenge(provider="rfc2136", settings={"server": "192.0.2.1"}),
        allowed_domains=allowed_domains,
    )
    targets = _deploy.Targets(cert=str(tmp / "cert.pem"), key=str(tmp / "key.pem"), chain=str(tmp / "chain.pem"),
                              fullchain=str(tmp / "fullchain.pem"))
    return issue.RenewRequest(issue=issue_req, targets=targets, **extra)


def test_run_refuses_before_anything(tmp_path: pathlib.Path) -> None:
    req = _request(tmp_path, ["www.evil.test"], allowed_domains=["*.example.test"])
    with pytest.raises(InputError, match="No ACME or DNS request was made"):
        issue.renew(req)
    assert list(tmp_path.iterdir()) == []  # not even an account key


def test_key_path_required_without_csr(tmp_path: pathlib.Path) -> None:
    req = _request(tmp_path, ["www.example.test"], ari=False)
    req.targets.key = None
    with pytest.raises(InputError, match="key_path is required unless a CSR is given"):
        issue.renew(req)
    assert list(tmp_path.iterdir()) == []


def test_unknown_provider_refused(tmp_path: pathlib.Path) -> None:
    req = _request(tmp_path, ["www.example.test"])
    req.issue.dns.provider = "route53"
    with pytest.raises(InputError, match="dns_provider must be one of alidns, rfc2136"):
        issue.renew(req)


def test_csr_names_must_match(tmp_path: pathlib.Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    from ansible_collections.ghostguard.certs.plugins.module_utils._acme import keys

    csr = keys.build_csr(ec.generate_private_key(ec.SECP256R1()), ["www.example.test"])
    req = issue.IssueRequest(names=[], account=issue.AcmeAccount(directory="https://192.0.2.1/dir"),
                             dns=issue.DnsChallenge(provider="rfc2136"), csr=csr)
    assert issue.request_names(req)[0] == ["www.example.test"]
    req.names = ["WWW.example.test."]
    assert issue.request_names(req)[0] == ["www.example.test"]
    req.names = ["other.example.test"]
    with pytest.raises(InputError, match="differ from the names in the CSR"):
        issue.request_names(req)


def test_account_key_created_durably_once(tmp_path: pathlib.Path) -> None:
    account = issue.AcmeAccount(directory="https://192.0.2.1/dir", key_path=str(tmp_path / "account.key"))
    assert issue.account_key(account, create=False) is None  # check mode: nothing created
    assert list(tmp_path.iterdir()) == []
    pem = issue.account_key(account)
    assert pem is not None and b"PRIVATE KEY" in pem
    assert stat.S_IMODE(os.stat(tmp_path / "account.key").st_mode) == 0o600
    assert issue.account_key(account) == pem  # read again, not replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["account.key"]
    given = issue.AcmeAccount(directory="x", key_content=b"-----BEGIN PRIVATE KEY-----\n")
    assert issue.account_key(given) == b"-----BEGIN PRIVATE KEY-----\n"
    with pytest.raises(InputError, match="account_key_content or account_key_path"):
        issue.account_key(issue.AcmeAccount(directory="x"))


def test_check_mode_plans_without_writing(tmp_path: pathlib.Path) -> None:
    result = issue.renew(_request(tmp_path, ["www.example.test"], check_mode=True))
    assert (result.changed, result.renewed, result.reason) == (True, False, "no_certificate")
    assert result.store == str(tmp_path / ".ghostguard" / "cert") and result.generation is None
    assert list(tmp_path.iterdir()) == []
    assert issue.log_line(result) == ""
    assert "renewal_log" not in result.facts() and "warnings" not in result.facts()


def test_not_due_reads_through_the_store(tmp_path: pathlib.Path) -> None:
    issued = TestCA().issue(["www.example.test"], days=90)
    req = _request(tmp_path, ["www.example.test"], ari=False)
    bundle = _bundle.build_bundle(issued.cert_pem, issued.key_pem, issued.chain_pem)
    _deploy.deploy(_deploy.DeployRequest(targets=req.targets, bundle=bundle))
    result = issue.renew(req)
    assert (result.changed, result.reason, result.generation) == (False, "not_due", 1)
    assert result.certificate is not None
    assert result.certificate["fingerprint_sha256"] == _x509.fingerprint(issued.cert)
    assert result.previous == result.certificate
    assert set(result.facts()) >= {"store", "generation", "timings", "dns_records", "ari"}


def test_log_line_is_one_json_line() -> None:
    result = issue.RenewResult(changed=True, renewed=True, reason="forced", names=["a.test"], certificate=None,
                               previous=None, ari=None, timings={"total": 1.0}, store="/s", generation=2,
                               warnings=[], renewal_log={"event": "certificate_renewed", "serial": "01"})
    line = issue.log_line(result)
    assert "\n" not in line and json.loads(line) == {"event": "certificate_renewed", "serial": "01"}
