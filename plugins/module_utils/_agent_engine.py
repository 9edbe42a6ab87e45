# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The certwatch agent's adapter to the engine: every call the agent makes into the rest of the engine.

Re-pointing the agent at other engine entry points is a change in this file only.  Imports are made
inside the functions: a run with nothing due imports none of them (see ``_agent_fast``).
"""

from __future__ import annotations

import contextlib
import os
import typing as t


def engine_policy(options: t.Mapping[str, t.Any], now: str | None = None) -> t.Any:
    from ._x509 import Policy

    return Policy.from_options({**options, "now": now})


def engine_scan(paths: list[str], policy: t.Any) -> tuple[dict[str, dict[str, t.Any]], dict[str, str]]:
    """Describe the certificate files: ({path: description}, {path: error})."""
    from ._expiry import ScanOptions, scan

    result = scan(ScanOptions(paths=paths, include_ca=True), policy)
    described = {d["path"]: d for d in result["certificates"]}
    errors = {e["path"]: str(e["error"]) for e in result["errors"]}
    return described, errors


def engine_clock() -> dict[str, t.Any]:
    from ._clock import clock_state

    return clock_state()


def engine_probe(endpoints: list[dict[str, t.Any]], expected: str | None) -> list[dict[str, t.Any]]:
    """Handshake with every endpoint; each result has error, certificate, matches_expected, handshake_ms."""
    from ._tls_probe import endpoint_from_options, probe_many

    eps = [endpoint_from_options({**ep, "expected_fingerprint": expected}) for ep in endpoints]
    return probe_many(eps)


def engine_issue_and_install(cert: dict[str, t.Any], config: dict[str, t.Any], secrets: dict[str, t.Any],
                             staging: str) -> dict[str, t.Any]:
    """Order a new certificate over DNS-01 and install it as a new generation; return the deploy facts."""
    from ._acme.renew import run as acme_run
    from ._files import DeployRequest, Targets, build_bundle, deploy, resolve_attrs, validate_bundle

    acme = config["acme"]
    dns = config["dns"]
    provider = dns["provider"]
    settings = {**(dns.get(provider) or {}), **(secrets.get(provider) or {})}
    files = {role: os.path.join(staging, role + ".pem") for role in ("cert", "key", "chain", "fullchain")}
    params: dict[str, t.Any] = {
        "names": cert["domains"],
        "acme_directory": acme["directory"],
        "acme_ca_bundle": acme.get("ca_bundle"),
        "account_key_path": config["secrets"]["account_key"],
        "account_email": acme.get("email"),
        "terms_agreed": bool(acme.get("terms_agreed")),
        "eab_kid": acme.get("eab_kid"),
        "eab_hmac_key": secrets.get("eab_hmac_key"),
        "profile": acme.get("profile"),
        "preferred_chain": acme.get("preferred_chain"),
        "ari": False,
        "dns_provider": provider,
        provider: settings,
        "nameservers": dns.get("nameservers"),
        "propagation_timeout": dns.get("propagation_timeout"),
        "allowed_domains": config.get("allowed_domains") or None,
        "key_type": cert.get("key_type"),
        "force": True,
        "cert_path": files["cert"],
        "key_path": files["key"],
        "chain_path": files["chain"],
        "fullchain_path": files["fullchain"],
    }
    acme_run(params)
    try:
        data = {role: _read_bytes(path) for role, path in files.items()}
        bundle = build_bundle(data["cert"], data["key"], data["chain"])
        validate_bundle(bundle, expected_names=cert["domains"])
        result = deploy(DeployRequest(
            targets=_targets(Targets, cert), bundle=bundle,
            attrs=resolve_attrs(cert.get("owner"), cert.get("group"), cert.get("mode")),
            keep=int(cert.get("keep") or 3),
        ))
    finally:
        for path in files.values():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    return result.facts()


def engine_rollback(cert: dict[str, t.Any], from_fingerprint: str) -> dict[str, t.Any]:
    from ._files import DeployRequest, Targets, rollback

    return rollback(DeployRequest(targets=_targets(Targets, cert), from_fingerprint=from_fingerprint)).facts()


def engine_thresholds(policy: t.Any) -> dict[str, float | None]:
    """The policy's resolved durations (seconds), remembered with each decision."""
    return {"leeway": float(policy.leeway), "alert_before": float(policy.alert_before),
            "max_connection_age": None if policy.max_connection_age is None else float(policy.max_connection_age),
            "connection_margin": float(policy.connection_margin)}


def _targets(cls: t.Any, cert: t.Mapping[str, t.Any]) -> t.Any:
    return cls(cert=cert.get("cert_path"), key=cert.get("key_path"), chain=cert.get("chain_path"),
               fullchain=cert.get("fullchain_path"), store=cert.get("store"), name=cert["name"])


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()
