# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The certwatch agent's adapter to the engine: every call the agent makes into the rest of the engine.

It maps the agent's configuration onto the engine's entry points (``_policy.Policy``, ``_expiry.scan``,
``_converge.observe`` and ``converge``, ``_acme.issue.issue``).  Imports are made inside the functions: a
run with nothing due imports none of them (see ``_agent_fast``).
"""

from __future__ import annotations

import typing as t


def engine_policy(options: t.Mapping[str, t.Any], now: str | None = None) -> t.Any:
    from .._policy import Policy

    return Policy.from_options({**options, "now": now})


def engine_scan(paths: list[str], policy: t.Any) -> tuple[dict[str, dict[str, t.Any]], dict[str, str]]:
    """Describe the certificate files: ({path: description}, {path: error})."""
    from .._expiry import ScanRequest, scan

    result = scan(ScanRequest(paths=paths, policy=policy, include_ca=True))
    described = {d["path"]: d for d in result.certificates}
    errors = {e["path"]: str(e["error"]) for e in result.errors}
    return described, errors


def engine_clock() -> dict[str, t.Any]:
    from .._clock import clock_state

    return clock_state()


def engine_observe(certs: list[dict[str, t.Any]], policy: t.Any, probe: bool,
                   state_dir: str | None = None) -> list[dict[str, t.Any]]:
    """The engine's observation of every certificate (``_converge.observe``); CRLs are cached in
    ``<state_dir>/crl`` until their nextUpdate."""
    import os

    from .._install.converge import observe

    cache = os.path.join(state_dir, "crl") if state_dir else None
    return observe(certs, policy, probe=probe, ari=False, revocation_cache_dir=cache)


def engine_probe(cert: dict[str, t.Any], expected: str | None) -> list[dict[str, t.Any]]:
    """Handshake with every probe of *cert* once; one probe dict each (``_observe.probe_entry``)."""
    from .._install.observe import probe_cert

    return probe_cert(cert, expected)


def engine_converge(config: dict[str, t.Any], certs: list[dict[str, t.Any]], bundles: dict[str, t.Any],
                    log: t.Callable[[str], None]) -> list[dict[str, t.Any]]:
    """Install, reload what is stale, prove, roll back (``_converge.converge``), with the agent's proof settings."""
    from .._install.converge import converge

    return converge(certs, bundles, prove=config["prove"], log=lambda line: log("certwatch: " + line),
                    policy=engine_policy(config["policy"]))


def engine_prove(config: dict[str, t.Any], cert: dict[str, t.Any], expected: str | None) -> list[dict[str, t.Any]]:
    """Wait until every probe serves *expected*; mark the generation proved when they do."""
    from .._install.converge import prove_served, record_proof

    probes = prove_served(cert, expected, config["prove"])
    if probes and all(p["served_matches"] is True for p in probes):
        record_proof(cert)
    return probes


def engine_record_proof(cert: dict[str, t.Any]) -> None:
    from .._install.converge import record_proof

    record_proof(cert)


def _cas_of(config: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """The agent's CAs in order: the primary (``acme``, its account key in ``secrets.account_key``), then
    ``acme_fallbacks`` (each with its own ``account_key``), each with its ``name``."""
    from .._acme.cas import default_name

    acme = dict(config.get("acme") or {})
    if not acme.get("directory"):
        return []
    acme.setdefault("account_key", (config.get("secrets") or {}).get("account_key"))
    acme["name"] = acme.get("name") or default_name(acme["directory"])
    return [acme] + [dict(ca) for ca in config.get("acme_fallbacks") or []]


def engine_ari(config: t.Mapping[str, t.Any], paths: t.Mapping[str, str]) -> dict[str, dict[str, t.Any]]:
    """The CA's renewal windows (RFC 9773 ARI) of the host's own certificates (*paths*: name -> certificate
    file), by name, each with its ``cert_id`` and the ``directory`` of the CA asked: the CA that issued it (as
    ``issuers.json`` in the state directory remembers it; the primary when unknown). Cached in the state
    directory until the CA's Retry-After, so a timer run asks the CA at most a few times a day. A certificate
    of a CA with ``ari: false`` is left out."""
    cas = _cas_of(config)
    if not paths or not cas:
        return {}
    import os

    from .._acme.ari import cert_id
    from .._acme.cas import issuing_ca, load_issuers
    from .._errors import CertsError
    from .._fleet.ari_windows import windows
    from .._x509 import load_certificates

    ids: dict[str, str] = {}
    for name, path in paths.items():
        try:
            with open(path, "rb") as handle:
                ids[name] = cert_id(load_certificates(handle.read(), path)[0][0])
        except (OSError, IndexError, CertsError):
            continue  # no certificate to ask about: the local policy decides
    issuers = load_issuers(config["state_dir"])
    groups: dict[str, tuple[dict[str, t.Any], set[str]]] = {}
    for ident in ids.values():
        ca = issuing_ca(ident, cas, issuers) or {}
        if ca.get("ari") is not False:
            groups.setdefault(str(ca["directory"]), (ca, set()))[1].add(ident)
    got: dict[str, dict[str, t.Any]] = {}
    for directory, (ca, idents) in groups.items():
        for ident, window in windows(sorted(idents), directory, ca.get("ca_bundle"),
                                     os.path.join(config["state_dir"], "ari-cache.json")).items():
            got[ident] = {**window, "directory": directory}
    return {name: {**got[ident], "cert_id": ident} for name, ident in ids.items() if ident in got}


def engine_issue(cert: dict[str, t.Any], config: dict[str, t.Any], secrets: dict[str, t.Any],
                 replaces: str | None = None, replaces_directory: str | None = None,
                 log: t.Callable[[str], None] | None = None) -> t.Any:
    """Order a new certificate over DNS-01; the bundle stays in memory (``engine_converge`` installs it).

    The primary CA first; an order it fails because of the CA (unreachable, 5xx/429 past the retries) goes to
    the next CA of ``acme_fallbacks`` at once. ``replaces`` goes only to the CA at *replaces_directory* (the one
    that issued the certificate). The CA that issued is remembered for the new certificate's issuer."""
    from .._acme.ari import cert_id
    from .._acme.cas import ca_failure, remember_issuer
    from .._acme.issue import AcmeAccount, DnsChallenge, IssueRequest, issue

    dns = config["dns"]
    provider = dns["provider"]
    challenge = DnsChallenge(
        provider=provider, settings={**(dns.get(provider) or {}), **(secrets.get(provider) or {})},
        nameservers=dns.get("nameservers") or None, propagation_timeout=float(dns.get("propagation_timeout") or 120),
    )
    cas = _cas_of(config)
    for index, ca in enumerate(cas):
        hmac = secrets.get("eab_hmac_key") if index == 0 else (secrets.get("eab_hmac_keys") or {}).get(ca["name"])
        account = AcmeAccount(
            directory=ca["directory"], ca_bundle=ca.get("ca_bundle"), key_path=ca["account_key"],
            email=ca.get("email"), terms_agreed=bool(ca.get("terms_agreed")), eab_kid=ca.get("eab_kid"), eab_hmac_key=hmac,
        )
        try:
            issued = issue(IssueRequest(
                names=list(cert["domains"]), account=account, dns=challenge, key_type=cert.get("key_type") or "ec-p256",
                profile=ca.get("profile"), preferred_chain=ca.get("preferred_chain"),
                allowed_domains=config.get("allowed_domains") or None, timeout=float(ca.get("timeout") or 300),
                replaces=replaces if replaces_directory in (None, ca["directory"]) else None,
            ))
        except Exception as exc:
            if not ca_failure(exc) or index + 1 == len(cas):
                raise
            if log is not None:
                log("certwatch: %s: CA %s failed (%s); the order goes to CA %s" % (cert["name"], ca["name"], exc,
                                                                                   cas[index + 1]["name"]))
            continue
        remember_issuer(config["state_dir"], cert_id(issued.bundle.cert), ca)
        if index and log is not None:
            log("certwatch: %s: issued by CA %s" % (cert["name"], ca["name"]))
        return issued.bundle
    raise ValueError("no CA configured (acme.directory)")  # the configuration's validation makes this unreachable


def engine_thresholds(policy: t.Any) -> dict[str, float | None]:
    """The policy's resolved durations (seconds), remembered with each decision."""
    return {"leeway": float(policy.leeway), "alert_before": float(policy.alert_before),
            "max_connection_age": None if policy.max_connection_age is None else float(policy.max_connection_age),
            "connection_margin": float(policy.connection_margin)}
