# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Observe certificates of the inventory model on this host: the files, what each probe serves, the
generation store and its ``proved.json`` marker.  :func:`observe` is re-exported by :mod:`.converge`.

A certificate is a ``ghost`` when a probe serves another certificate than its files, and ``unproved``
when the store's current generation was installed but no proof of it was ever recorded (the marker
``<store>/proved.json`` holds ``{generation, fingerprint, time}``, written atomically).  Plain Python,
no Ansible import.
"""

from __future__ import annotations

import json
import os
import time
import typing as t

from .. import _x509
from .._durable import write_atomic
from .._errors import CertsError
from .._policy import Policy

MARKER = "proved.json"
PENDING = "rollback.json"
ENDPOINT_KEYS = ("host", "port", "server_name", "alpn", "ca_bundle", "validate_certs", "client_cert", "client_key",
                 "timeout", "retries", "retry_delay", "name")


def cert_path(cert: t.Mapping[str, t.Any]) -> str:
    return t.cast(str, cert.get("cert_path") or cert["fullchain_path"])


def targets(cert: t.Mapping[str, t.Any]) -> t.Any:
    from .deploy import Targets

    return Targets(cert=cert.get("cert_path"), key=cert.get("key_path"), chain=cert.get("chain_path"),
                   fullchain=cert.get("fullchain_path"), store=cert.get("store"), name=cert["name"])


def policy_of(policy: t.Any, now: t.Any = None) -> Policy:
    """A :class:`Policy` from a policy or its options, evaluated at *now* (ISO 8601) when given."""
    if not isinstance(policy, Policy):
        return Policy.from_options({**dict(policy or {}), "now": now})
    if now is None:
        return policy
    import dataclasses

    return dataclasses.replace(policy, now=Policy.from_options({"now": now}).now)


# --------------------------------------------------------------------------- the store's markers


def store_state(cert: t.Mapping[str, t.Any]) -> tuple[t.Any, int | None, str | None]:
    """(store, current generation or None, the current generation's leaf fingerprint or None)."""
    try:
        store = targets(cert).new_store()
    except CertsError:
        return None, None, None
    current = store.current()
    leaf = store.certificate(current)
    return store, current, None if leaf is None else _x509.fingerprint(leaf)


def read_json(store: t.Any, name: str) -> dict[str, t.Any] | None:
    if store is None:
        return None
    try:
        with open(os.path.join(store.root, name), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(store: t.Any, name: str, data: dict[str, t.Any] | None) -> None:
    """Write (or with None remove) a marker of the store, atomically and durably."""
    path = os.path.join(store.root, name)
    if data is None:
        if os.path.lexists(path):
            os.unlink(path)
        return
    write_atomic(path, (json.dumps(data, sort_keys=True) + "\n").encode(), 0o644)


def is_proved(store: t.Any, generation: int | None, fingerprint: str | None) -> bool:
    marker = read_json(store, MARKER) or {}
    return generation is not None and marker.get("generation") == generation and marker.get("fingerprint") == fingerprint


def mark_proved(store: t.Any, generation: int | None, fingerprint: str | None) -> None:
    if store is None or generation is None or not store.exists():
        return
    write_json(store, MARKER, {"generation": generation, "fingerprint": fingerprint, "time": time.time()})


# --------------------------------------------------------------------------- probes


def endpoints(cert: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    return [dict(p) for p in cert.get("probes") or []]


def probe_cert(cert: t.Mapping[str, t.Any], expected: str | None, retries: int = 0, delay: float = 1.0,
               backoff: float = 1.0, max_delay: float | None = None) -> list[dict[str, t.Any]]:
    """Handshake with every probe of *cert* (waiting for *expected* with *retries*); one dict per probe."""
    from .._tls.handshake import Endpoint
    from .._tls.probe import ProbeRequest, probe_endpoints

    entries = endpoints(cert)
    eps = []
    for entry in entries:
        options = {k: v for k, v in entry.items() if k in ENDPOINT_KEYS}
        options.setdefault("timeout", 5.0)
        if retries:
            options.update(retries=max(int(options.get("retries") or 0), retries), retry_delay=delay)
            options.update(retry_backoff=backoff, retry_max_delay=max_delay)
        eps.append(Endpoint.from_options({**options, "expected_fingerprint": expected}))
    answers = probe_endpoints(ProbeRequest(endpoints=eps)).endpoints if eps else []
    return [probe_entry(entry, res, expected) for entry, res in zip(entries, answers)]


def probe_entry(ep: t.Mapping[str, t.Any], res: t.Mapping[str, t.Any], expected: str | None) -> dict[str, t.Any]:
    served = (res.get("certificate") or {}).get("fingerprint_sha256")
    return {
        "endpoint": "%s:%s" % (ep.get("host", "127.0.0.1"), ep.get("port", 443)),
        "server_name": ep.get("server_name") or ep.get("host"),
        "served_fingerprint": served,
        "served_matches": None if served is None or expected is None else served == expected,
        "error": res.get("error"),
        "error_message": res.get("error_message"),
        "handshake_ms": res.get("handshake_ms"),
        "attempts": res.get("attempts", 1),
        "waited": res.get("waited", 0.0),
    }


# --------------------------------------------------------------------------- observe


def _key_match(cert: t.Mapping[str, t.Any], leaf: t.Any) -> bool | None:
    path = cert.get("key_path")
    if leaf is None or not path or not os.path.exists(path):
        return None
    try:
        with open(path, "rb") as handle:
            return _x509.public_key_matches(leaf, _x509.load_private_key(handle.read(), path))
    except (OSError, CertsError):
        return False


def _ari_id(leaf: t.Any) -> str | None:
    from .._acme.ari import cert_id

    try:
        return None if leaf is None else cert_id(leaf)
    except CertsError:
        return None


def _leaf(path: str) -> t.Any:
    try:
        with open(path, "rb") as handle:
            return _x509.load_certificates(handle.read(), path)[0][0]
    except (OSError, CertsError, IndexError):
        return None


def describe_files(certs: t.Sequence[t.Mapping[str, t.Any]], policy: Policy,
                   revocation_cache_dir: str | None = None) -> list[dict[str, t.Any]]:
    """Each certificate's files: {name, path, status, description, error} (one scan for all); CRLs are
    cached in *revocation_cache_dir* until their nextUpdate when given (the agent's state directory)."""
    from .._expiry import ScanRequest, scan

    paths = [cert_path(c) for c in certs]
    present = sorted({p for p in paths if os.path.exists(p)})
    request = ScanRequest(paths=present, policy=policy, include_ca=True, revocation_cache_dir=revocation_cache_dir)
    result = scan(request) if present else None
    described = {d["path"]: d for d in result.certificates} if result else {}
    errors = {e["path"]: str(e["error"]) for e in result.errors} if result else {}
    out = []
    for cert, path in zip(certs, paths):
        entry: dict[str, t.Any] = {"name": cert["name"], "path": path, "status": "missing", "description": None,
                                   "error": "%s does not exist" % path}
        if path in described:
            entry.update(status=described[path]["status"], description=described[path], error=None)
        elif os.path.exists(path):
            entry.update(status="invalid", error=errors.get(path, "not a certificate"))
        out.append(entry)
    return out


def complete(cert: t.Mapping[str, t.Any], entry: dict[str, t.Any], probes: list[dict[str, t.Any]] | None,
             ari: bool = True) -> dict[str, t.Any]:
    """Add what the store and the probes say to a :func:`describe_files` entry."""
    desc = entry["description"] or {}
    fingerprint = desc.get("fingerprint_sha256")
    leaf = _leaf(entry["path"]) if desc else None
    store, generation, store_fp = store_state(cert)
    probes = probes or []
    ghost = any(p["served_matches"] is False for p in probes)
    in_store = generation is not None and store_fp == fingerprint
    unproved = bool(in_store and endpoints(cert) and not is_proved(store, generation, store_fp))
    states = [entry["status"]] + (["ghost"] if ghost else []) + (["unproved"] if unproved else [])
    return {**entry, "fingerprint": fingerprint, "key_match": _key_match(cert, leaf), "ari_cert_id": _ari_id(leaf) if ari else None,
            "probes": probes, "ghost": ghost, "unproved": unproved, "generation": generation if in_store else None,
            "states": states}


def observe(certs: t.Sequence[t.Mapping[str, t.Any]], policy: t.Any, probe: bool = True,
            now: t.Any = None, ari: bool = True, revocation_cache_dir: str | None = None) -> list[dict[str, t.Any]]:
    """One observation per certificate, in order: the files, what each probe serves, the store.

    *policy* is a :class:`._policy.Policy` or its options (renew_before, ...); *now* an ISO 8601 time to
    evaluate at.  With ``probe=False`` no endpoint is contacted (``probes`` is empty); with ``ari=False``
    ``ari_cert_id`` is None and ``_acme`` is not imported (the agent, until it asks the CA for ARI)."""
    pol = policy_of(policy, now)
    entries = describe_files(certs, pol, revocation_cache_dir)
    out = []
    for cert, entry in zip(certs, entries):
        fingerprint = (entry["description"] or {}).get("fingerprint_sha256")
        served = probe_cert(cert, fingerprint) if probe else []
        out.append(complete(cert, entry, served, ari))
    return out
