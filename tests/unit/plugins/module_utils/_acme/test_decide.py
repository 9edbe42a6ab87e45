# SPDX-License-Identifier: GPL-3.0-or-later
"""The renewal decision without a network: local policy, then an ARI window given as a callable."""

from __future__ import annotations

import datetime as dt
import pathlib
import typing as t

import pytest
from certgen import TestCA, now

from ansible_collections.ghostguard.certs.plugins.module_utils import _policy
from ansible_collections.ghostguard.certs.plugins.module_utils._acme import decide
from ansible_collections.ghostguard.certs.plugins.module_utils._acme.ari import cert_id
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import ProtocolError


def test_assess(tmp_path: pathlib.Path) -> None:
    ca = TestCA()
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    assert decide.assess(cert, key, ["www.example.test"], _policy.Policy()).reason == "no_certificate"

    fresh = ca.issue(["www.example.test"], days=90)
    (tmp_path / "cert.pem").write_bytes(fresh.cert_pem)
    (tmp_path / "key.pem").write_bytes(fresh.key_pem)
    state = decide.assess(cert, key, ["www.example.test"], _policy.Policy())
    assert (state.due, state.reason) == (False, "not_due")
    assert decide.assess(cert, key, ["www.example.test", "example.test"], _policy.Policy()).reason == "names_changed"
    assert decide.assess(cert, key, ["www.example.test"], _policy.Policy(force=True)).reason == "forced"
    later = _policy.Policy(now=now() + dt.timedelta(days=70))
    assert decide.assess(cert, key, ["www.example.test"], later).reason == "renewal_window"

    (tmp_path / "key.pem").write_bytes(ca.issue(["other.test"]).key_pem)
    assert decide.assess(cert, key, ["www.example.test"], _policy.Policy()).reason == "key_mismatch"
    assert decide.assess(cert, None, ["www.example.test"], _policy.Policy()).reason == "not_due"  # CSR: no key here

    (tmp_path / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n")
    unreadable = decide.assess(cert, key, ["www.example.test"], _policy.Policy())
    assert unreadable.reason == "unreadable_certificate" and unreadable.error


def _window(base: dt.datetime, start_days: float, end_days: float) -> t.Callable[[t.Any], dict[str, t.Any]]:
    """A renewalInfo answer whose window is given in days from *base* (the policy's now)."""
    def info(cert: t.Any) -> dict[str, t.Any]:
        return {"cert_id": cert_id(cert), "start": base + dt.timedelta(days=start_days),
                "end": base + dt.timedelta(days=end_days), "explanation_url": None}
    return info


@pytest.mark.parametrize(("policy_days", "window", "due", "reason"), [
    (0, (-1, 1), True, "ari_window"),  # the CA's window is open: due although the policy is not
    (0, (5, 6), False, "not_due"),
    (70, (5, 6), False, "ari_window_not_started"),  # the policy would renew, the CA says wait
    (88, (5, 6), True, "renewal_window"),  # critical (less than the alert time left): never postponed
])
def test_decide_with_ari(tmp_path: pathlib.Path, policy_days: int, window: tuple[float, float], due: bool,
                         reason: str) -> None:
    issued = TestCA().issue(["www.example.test"], days=90)
    (tmp_path / "cert.pem").write_bytes(issued.cert_pem)
    policy = _policy.Policy(now=now() + dt.timedelta(days=policy_days))
    got = decide.decide(str(tmp_path / "cert.pem"), None, ["www.example.test"], policy, _window(policy.now, *window))
    assert (got.due, got.reason) == (due, reason)
    assert got.replaces == cert_id(issued.cert)
    assert got.ari is not None and got.ari["cert_id"] == got.replaces


def test_decide_without_ari_or_when_it_fails(tmp_path: pathlib.Path) -> None:
    issued = TestCA().issue(["www.example.test"], days=90)
    (tmp_path / "cert.pem").write_bytes(issued.cert_pem)
    path = str(tmp_path / "cert.pem")
    plain = decide.decide(path, None, ["www.example.test"], _policy.Policy())
    assert plain.ari is None and plain.replaces == cert_id(issued.cert)

    def broken(cert: t.Any) -> dict[str, t.Any]:
        raise ProtocolError("renewalInfo answered 500")

    failed = decide.decide(path, None, ["www.example.test"], _policy.Policy(), broken)
    assert (failed.due, failed.reason, failed.ari) == (False, "not_due", None)
    assert failed.warnings == ["ARI (renewalInfo) was not usable, the local policy decided: renewalInfo answered 500"]
    assert decide.decide(path, None, ["www.example.test"], _policy.Policy(), lambda cert: None).replaces is None
