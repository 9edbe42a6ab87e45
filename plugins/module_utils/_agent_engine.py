# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The certwatch agent's adapter to the engine: every call the agent makes into the rest of the engine.

It maps the agent's configuration onto the engine's typed entry points (``_policy.Policy``,
``_expiry.scan``, ``_tls_probe.probe_endpoints``, ``_acme.issue.issue``, ``_deploy.deploy`` and
``rollback``).  Imports are made inside the functions: a run with nothing due imports none of them
(see ``_agent_fast``).
"""

from __future__ import annotations

import typing as t


def engine_policy(options: t.Mapping[str, t.Any], now: str | None = None) -> t.Any:
    from ._policy import Policy

    return Policy.from_options({**options, "now": now})


def engine_scan(paths: list[str], policy: t.Any) -> tuple[dict[str, dict[str, t.Any]], dict[str, str]]:
    """Describe the certificate files: ({path: description}, {path: error})."""
    from ._expiry import ScanRequest, scan

    result = scan(ScanRequest(paths=paths, policy=policy, include_ca=True))
    described = {d["path"]: d for d in result.certificates}
    errors = {e["path"]: str(e["error"]) for e in result.errors}
    return described, errors


def engine_clock() -> dict[str, t.Any]:
    from ._clock import clock_state

    return clock_state()


def engine_probe(endpoints: list[dict[str, t.Any]], expected: str | None) -> list[dict[str, t.Any]]:
    """Handshake with every endpoint; each result has error, certificate, matches_expected, handshake_ms."""
    from ._handshake import Endpoint
    from ._tls_probe import ProbeRequest, probe_endpoints

    eps = [Endpoint.from_options({**ep, "expected_fingerprint": expected}) for ep in endpoints]
    return probe_endpoints(ProbeRequest(endpoints=eps)).endpoints


def engine_issue_and_install(cert: dict[str, t.Any], config: dict[str, t.Any],
                             secrets: dict[str, t.Any]) -> dict[str, t.Any]:
    """Order a new certificate over DNS-01 (the bundle stays in memory) and install it as a new generation."""
    from ._acme.issue import AcmeAccount, DnsChallenge, IssueRequest, issue

    acme = config["acme"]
    dns = config["dns"]
    provider = dns["provider"]
    account = AcmeAccount(
        directory=acme["directory"], ca_bundle=acme.get("ca_bundle"), key_path=config["secrets"]["account_key"],
        email=acme.get("email"), terms_agreed=bool(acme.get("terms_agreed")), eab_kid=acme.get("eab_kid"),
        eab_hmac_key=secrets.get("eab_hmac_key"),
    )
    challenge = DnsChallenge(
        provider=provider, settings={**(dns.get(provider) or {}), **(secrets.get(provider) or {})},
        nameservers=dns.get("nameservers") or None, propagation_timeout=float(dns.get("propagation_timeout") or 120),
    )
    issued = issue(IssueRequest(
        names=list(cert["domains"]), account=account, dns=challenge, key_type=cert.get("key_type") or "ec-p256",
        profile=acme.get("profile"), preferred_chain=acme.get("preferred_chain"),
        allowed_domains=config.get("allowed_domains") or None,
    ))
    return engine_install(cert, issued.bundle)


def engine_install(cert: dict[str, t.Any], bundle: t.Any) -> dict[str, t.Any]:
    """Install a bundle as the certificate's new generation (atomic switch, or in place for file watchers)."""
    from ._deploy import DeployRequest, Targets, deploy
    from ._store import resolve_attrs

    result = deploy(DeployRequest(
        targets=_targets(Targets, cert), bundle=bundle,
        attrs=resolve_attrs(cert.get("owner"), cert.get("group"), cert.get("mode")),
        keep=int(cert.get("keep") or 3), in_place=bool(cert.get("in_place")),
    ))
    return result.facts()


def engine_rollback(cert: dict[str, t.Any], from_fingerprint: str) -> dict[str, t.Any]:
    from ._deploy import DeployRequest, Targets, rollback

    return rollback(DeployRequest(targets=_targets(Targets, cert), from_fingerprint=from_fingerprint,
                                  in_place=bool(cert.get("in_place")))).facts()


def engine_thresholds(policy: t.Any) -> dict[str, float | None]:
    """The policy's resolved durations (seconds), remembered with each decision."""
    return {"leeway": float(policy.leeway), "alert_before": float(policy.alert_before),
            "max_connection_age": None if policy.max_connection_age is None else float(policy.max_connection_age),
            "connection_margin": float(policy.connection_margin)}


def _targets(cls: t.Any, cert: t.Mapping[str, t.Any]) -> t.Any:
    return cls(cert=cert.get("cert_path"), key=cert.get("key_path"), chain=cert.get("chain_path"),
               fullchain=cert.get("fullchain_path"), store=cert.get("store"), name=cert["name"])
