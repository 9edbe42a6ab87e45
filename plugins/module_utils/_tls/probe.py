# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Probe TLS endpoints: what a service really serves, and whether it is the expected certificate.

The typed entry point is :func:`probe_endpoints`: a :class:`ProbeRequest` (built from plain
options by ``ProbeRequest.from_options``) in, a :class:`ProbeResult` out; :func:`require_ok` is the
fail decision.  Below it, :func:`probe` handshakes with one endpoint (``handshake``), retrying to
wait for a reload to take effect, and :func:`probe_many` probes many concurrently with threads.
Each result carries the served leaf and chain described with the collection's certificate keys,
the negotiated TLS version, cipher and ALPN protocol, timings, whether the chain verified, an
error class, the embedded SCTs (``ct``), OCSP (``ocsp``, when asked) and whether the served
fingerprint matches the expected one.

Plain Python, no Ansible import.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import time
import typing as t

from .. import _x509
from .._errors import InputError, ProbeError
from .._policy import Policy
from . import ct as _ct
from . import handshake as _handshake
from . import ocsp as _ocsp

try:
    from cryptography import x509
except ImportError:  # pragma: no cover - reported by _deps.require("cryptography")
    pass

# Error classes worth another attempt (a reload in progress); certificate verdicts are final.
RETRYABLE = ("refused", "timeout", "unreachable", "handshake_failure")


def _attempt(ep: _handshake.Endpoint, result: dict[str, t.Any]) -> _handshake.Handshake | None:
    """The handshake, verifying when asked; a refused certificate is looked at again without verification.
    Records the error (and whether the chain verified) in *result*; None when nothing was served."""
    shake: _handshake.Handshake | None = None
    try:
        ep.check_files()
        shake = _handshake.handshake(ep, ep.validate_certs)
        result["verified"] = True if ep.validate_certs else None
    except InputError as exc:  # this entry's files: reported on it, the other endpoints are probed
        result["error"], result["error_message"] = "invalid_input", str(exc)
    except _handshake.HandshakeFailure as failure:
        result["error"], result["error_message"] = failure.error, failure.message
        # verified stays null when no certificate was checked (refused, timeout, not TLS...)
        if failure.certificate_refused and ep.validate_certs:
            result["verified"] = False
            # Look at what is served anyway, without verification.
            try:
                shake = _handshake.handshake(ep, False)
            except _handshake.HandshakeFailure:
                shake = None
    return shake


def _load_chain(chain_der: list[bytes]) -> list[x509.Certificate]:
    """The served chain parsed, leaf first, up to the first certificate that does not parse."""
    certs = []
    for der in chain_der:
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except ValueError:
            break
    return certs


def _describe_served(ep: _handshake.Endpoint, shake: _handshake.Handshake, result: dict[str, t.Any], policy: Policy,
                     logs: t.Mapping[bytes, _ct.CTLog] | None, ocsp: bool) -> None:
    """Fill *result* from what was served: the negotiated parameters, the leaf and chain, SCTs, OCSP, the match."""
    result.update(
        tls_version=shake.tls_version,
        cipher=shake.cipher,
        alpn_protocol=shake.alpn_protocol,
        connect_ms=shake.connect_ms,
        handshake_ms=shake.handshake_ms,
    )
    certs = _load_chain(shake.chain_der)
    if not certs:
        return
    leaf = certs[0]
    result["certificate"] = _x509.describe(leaf, None, policy)
    result["chain"] = [_x509.describe(c, None, policy) for c in certs[1:]]
    issuer = next((c for c in certs[1:] if _x509.issued_by(leaf, c)), None)
    result["scts"] = _ct.describe_scts(leaf, issuer, logs)
    if ocsp:
        result["ocsp"] = _ocsp.ocsp_status(leaf, issuer, ep.timeout)
    if ep.expected_fingerprint:
        result["matches_expected"] = _x509.fingerprint(leaf) == ep.expected_fingerprint


def probe_once(ep: _handshake.Endpoint, policy: Policy | None = None,
               logs: t.Mapping[bytes, _ct.CTLog] | None = None, ocsp: bool = False) -> dict[str, t.Any]:
    """One attempt: handshake (verifying when asked), then describe what was served."""
    policy = policy or Policy()
    result: dict[str, t.Any] = {
        "name": ep.label,
        "host": ep.host,
        "port": int(ep.port),
        "server_name": ep.sni,
        "ok": False,
        "certificate": None,
        "chain": [],
        "expected_fingerprint": ep.expected_fingerprint,
        "matches_expected": None,
        "tls_version": None,
        "cipher": None,
        "alpn_protocol": None,
        "connect_ms": None,
        "handshake_ms": None,
        "verified": None,
        "error": None,
        "error_message": None,
        "scts": [],
        "ocsp": None,
    }
    shake = _attempt(ep, result)
    if shake is not None:
        _describe_served(ep, shake, result, policy, logs, ocsp)
    result["ok"] = result["error"] is None and result["matches_expected"] is not False
    return result


def probe(ep: _handshake.Endpoint, policy: Policy | None = None, logs: t.Mapping[bytes, _ct.CTLog] | None = None,
          sleep: t.Callable[[float], None] = time.sleep, ocsp: bool = False) -> dict[str, t.Any]:
    """Probe with retries: retry connection failures, and a fingerprint mismatch while waiting for a reload.

    At most ``1 + retries`` attempts; the waits between them are :meth:`_handshake.Endpoint.waits`
    (constant, or growing by ``retry_backoff`` up to ``retry_max_delay``).  The result has ``attempts``
    and ``waited`` (seconds slept between attempts)."""
    ep.check()
    attempts, waited, waits = 0, 0.0, ep.waits()
    while True:
        attempts += 1
        result = probe_once(ep, policy, logs, ocsp)
        retry = result["error"] in RETRYABLE or result["matches_expected"] is False
        if ep.expected_fingerprint and result["matches_expected"] is not True:
            retry = True
        if result["error"] == "invalid_input":  # a missing file does not appear by waiting
            retry = False
        if not retry or attempts > ep.retries:
            result["attempts"], result["waited"] = attempts, round(waited, 3)
            if result["matches_expected"] is False and result["error"] is None:
                result["error_message"] = (
                    "%s serves %s, expected %s: the service still serves another certificate (reload it, or "
                    "roll back)" % (ep.label, result["certificate"]["fingerprint_sha256"], ep.expected_fingerprint)
                )
            return result
        wait = next(waits)
        sleep(wait)
        waited += wait


def probe_many(endpoints: t.Sequence[_handshake.Endpoint], policy: Policy | None = None,
               logs: t.Mapping[bytes, _ct.CTLog] | None = None, workers: int = 32,
               ocsp: bool = False) -> list[dict[str, t.Any]]:
    """Probe every endpoint concurrently; results in the order given."""
    for ep in endpoints:
        ep.check()
    if not endpoints:
        return []
    if len(endpoints) == 1:
        return [probe(endpoints[0], policy, logs, ocsp=ocsp)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(workers, len(endpoints)))) as pool:
        return list(pool.map(lambda ep: probe(ep, policy, logs, ocsp=ocsp), endpoints))


def summarize(results: t.Sequence[t.Mapping[str, t.Any]]) -> dict[str, t.Any]:
    errors: dict[str, int] = {}
    for res in results:
        if res["error"]:
            errors[res["error"]] = errors.get(res["error"], 0) + 1
    return {
        "total": len(results),
        "ok": sum(1 for r in results if r["ok"]),
        "mismatched": sum(1 for r in results if r["matches_expected"] is False),
        "errors": errors,
    }


# --------------------------------------------------------------------------- typed entry point

# Top-level options of endpoint_info that are defaults for every entry of ``endpoints``.
ENDPOINT_DEFAULT_KEYS = ("host", "port", "server_name", "alpn", "ca_bundle", "validate_certs", "client_cert",
                         "client_key", "expected_fingerprint", "retries", "retry_delay", "retry_backoff",
                         "retry_max_delay", "timeout")


@dataclasses.dataclass
class ProbeRequest:
    """What to probe and when the probe counts as failed (the options of ``endpoint_info``)."""

    endpoints: list[_handshake.Endpoint]
    policy: Policy = dataclasses.field(default_factory=Policy)
    ct_log_list: str | None = None
    ocsp: bool = False
    concurrency: int = 32
    fail_on_mismatch: bool = True
    fail_on_error: bool = False
    single: bool = False  # one endpoint given by ``host``: its keys are also returned at the top level

    @classmethod
    def from_options(cls, options: t.Mapping[str, t.Any]) -> ProbeRequest:
        """Build from ``endpoint_info``'s options: ``host`` (one endpoint) or ``endpoints`` (a list of
        dicts, the top-level endpoint options being defaults for each), plus the policy options."""
        defaults = {key: options.get(key) for key in ENDPOINT_DEFAULT_KEYS}
        entries = options.get("endpoints")
        if entries is not None and options.get("host") is not None:
            raise InputError("give host or endpoints, not both")
        if entries is None and options.get("host") is None:
            raise InputError("give host (one endpoint) or endpoints (a list of them)")
        if entries is None:
            endpoints = [_handshake.Endpoint.from_options({}, defaults)]
        else:
            endpoints = [_handshake.Endpoint.from_options(entry or {}, defaults, index)
                         for index, entry in enumerate(entries)]
        return cls(
            endpoints=endpoints,
            policy=Policy.from_options(options),
            ct_log_list=options.get("ct_log_list"),
            ocsp=bool(options.get("ocsp", False)),
            concurrency=int(32 if options.get("concurrency") is None else options["concurrency"]),
            fail_on_mismatch=bool(options.get("fail_on_mismatch", True)),
            fail_on_error=bool(options.get("fail_on_error", False)),
            single=entries is None,
        )


@dataclasses.dataclass
class ProbeResult:
    endpoints: list[dict[str, t.Any]]
    summary: dict[str, t.Any]
    single: bool = False

    def facts(self) -> dict[str, t.Any]:
        """The ``endpoint_info`` return values."""
        out: dict[str, t.Any] = {"endpoints": self.endpoints, "summary": self.summary}
        if self.single and self.endpoints:
            first = dict(self.endpoints[0])
            first.pop("name", None)
            out.update(first)
        return out


def probe_endpoints(request: ProbeRequest) -> ProbeResult:
    """Probe every endpoint of *request*: the typed entry point for modules and the host agent."""
    logs = _ct.load_log_list(request.ct_log_list) if request.ct_log_list else None
    results = probe_many(request.endpoints, request.policy, logs, workers=request.concurrency, ocsp=request.ocsp)
    return ProbeResult(endpoints=results, summary=summarize(results), single=request.single)


def failed_endpoints(request: ProbeRequest, result: ProbeResult) -> list[dict[str, t.Any]]:
    """The endpoints that fail *request*: a mismatch (with ``fail_on_mismatch``), an error (``fail_on_error``)."""
    bad: list[dict[str, t.Any]] = []
    if request.fail_on_mismatch:
        bad += [r for r in result.endpoints if r["expected_fingerprint"] and r["matches_expected"] is not True]
    if request.fail_on_error:
        bad += [r for r in result.endpoints if r["error"] and r not in bad]
    return bad


def require_ok(request: ProbeRequest, result: ProbeResult) -> None:
    """The fail decision: raise :class:`ProbeError` (carrying the result's facts) when endpoints fail."""
    bad = failed_endpoints(request, result)
    if bad:
        raise ProbeError(
            "%d of %d endpoint(s) failed: %s" % (
                len(bad), len(result.endpoints), "; ".join(str(r["error_message"]) for r in bad[:5])),
            **result.facts(),
        )
