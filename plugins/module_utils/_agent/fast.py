# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The certwatch agent's fast path: a run with nothing due stays small.

It reuses the engine's last decision for a certificate file whose bytes have not changed, as long as
that decision cannot have changed yet (before renew_at, before the alert and connection-age
thresholds), and proves a probe endpoint with one plain handshake when it serves exactly the file's
certificate.  Anything else (a new or changed file, a decision near a threshold, a probe error or
mismatch, --now) goes through the engine itself.  Nothing here imports cryptography.  The timer's and
cron's own command lines are read here too, without argparse.
"""

from __future__ import annotations

import json
import os
import time
import typing as t

from .config import DEFAULT_CONFIG
from .engine import engine_thresholds
from .results import CertResult, _epoch

# A run with nothing due must stay small: it reuses the engine's last decision for a certificate file
# whose bytes have not changed, as long as that decision cannot have changed yet (before renew_at,
# before the alert and connection-age thresholds), and proves a probe endpoint with one plain
# handshake when it serves exactly the file's certificate.  Anything else (a new or changed file, a
# decision near a threshold, a probe error or mismatch, --now) goes through the engine itself.

MEMO_FILE = "decisions.json"


def _file_digest(path: str) -> str | None:
    import hashlib

    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def _policy_key(cfg: t.Mapping[str, t.Any]) -> str:
    return json.dumps(cfg.get("policy") or {}, sort_keys=True, default=str)


def _valid_until(desc: t.Mapping[str, t.Any], limits: t.Mapping[str, float | None]) -> float:
    """Until when an ``ok`` decision cannot change: renew_at, and the alert / connection-age thresholds."""
    end = _epoch(desc["not_after"]) - float(limits["leeway"] or 0)
    moments = [_epoch(desc["renew_at"]), end - float(limits["alert_before"] or 0)]
    if limits.get("max_connection_age") is not None:
        moments.append(end - float(limits["max_connection_age"] or 0) - float(limits["connection_margin"] or 0))
    revocation = desc.get("revocation") or {}
    if revocation.get("method"):  # ask OCSP / the CRL again once the answer is stale (its nextUpdate, else an hour)
        fresh = revocation.get("next_update")
        moments.append(_epoch(fresh) if fresh else time.time() + 3600)
    return min(moments)


def _memo_results(cfg: dict[str, t.Any]) -> list[CertResult] | None:
    """Every certificate from the remembered decisions, or None when one of them needs the engine."""
    try:
        with open(os.path.join(cfg["state_dir"], MEMO_FILE), encoding="utf-8") as handle:
            memo = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(memo, dict) or memo.get("policy") != _policy_key(cfg):
        return None
    entries = memo.get("certificates") or {}
    now = time.time()
    results = []
    for cert in cfg["certificates"]:
        path = cert.get("cert_path") or cert["fullchain_path"]
        entry = entries.get(path)
        if not isinstance(entry, dict) or entry.get("digest") != _file_digest(path) or now >= entry.get("valid_until", 0):
            return None
        desc = dict(entry["description"])
        desc["seconds_remaining"] = int(_epoch(desc["not_after"]) - now)
        results.append(CertResult(cert["name"], path, "ok", description=desc))
    return results


def _remember(cfg: dict[str, t.Any], results: list[CertResult], policy: t.Any) -> None:
    limits = engine_thresholds(policy)
    entries = {}
    for res in results:
        desc = res.description
        if desc is None or res.status != "ok" or desc.get("due") or res.unproved or desc.get("revocation_error"):
            continue
        digest = _file_digest(res.path)
        if digest is not None:
            keep = {k: v for k, v in desc.items() if k not in ("chain", "reasons")}
            entries[res.path] = {"digest": digest, "valid_until": _valid_until(desc, limits), "description": keep}
    data = {"policy": _policy_key(cfg), "certificates": entries}
    from .._durable import write_atomic

    write_atomic(os.path.join(cfg["state_dir"], MEMO_FILE), (json.dumps(data, sort_keys=True) + "\n").encode(), 0o600)


def _plain_handshake(ep: t.Mapping[str, t.Any], expected: str) -> dict[str, t.Any] | None:
    """One handshake that only confirms the happy case: the endpoint serves *expected*.  None otherwise."""
    import hashlib
    import socket
    import ssl

    if ep.get("client_cert") or not expected:
        return None
    sni: str | bytes = ep.get("server_name") or ep["host"]
    if isinstance(sni, str) and sni.isascii():
        sni = sni.encode("ascii")  # ssl encodes a str name with the idna codec (importing it); ASCII is its own encoding
    host: t.Any = ep["host"]  # str or bytes: getaddrinfo takes both (typeshed says str)
    if isinstance(host, str) and host.isascii():
        host = host.encode("ascii")  # getaddrinfo encodes a str host with the idna codec (a literal IP too)
    try:
        if ep.get("validate_certs", True):
            ctx = ssl.create_default_context(cafile=ep.get("ca_bundle")) if ep.get("ca_bundle") \
                else ssl.create_default_context()
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if ep.get("alpn"):
            ctx.set_alpn_protocols(list(ep["alpn"]))
        started = time.monotonic()
        with socket.create_connection((host, int(ep.get("port", 443))), timeout=float(ep.get("timeout") or 5)) as raw, \
                ctx.wrap_socket(raw, server_hostname=sni) as tls:
            der = tls.getpeercert(binary_form=True)
            elapsed = round((time.monotonic() - started) * 1000, 3)
    except (OSError, ValueError):
        return None
    digest = hashlib.sha256(der or b"").hexdigest()
    served = ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
    if served != expected:
        return None
    return {"error": None, "error_message": None, "handshake_ms": elapsed,
            "certificate": {"fingerprint_sha256": served}}


class _Args:
    """The parsed command line (argparse's namespace, or :func:`_timer_args`' for the timer's own commands)."""

    def __init__(self, config: str, command: str, random_delay: int = 0) -> None:
        self.config = config
        self.command = command
        self.random_delay = random_delay
        self.now: str | None = None


def _timer_args(argv: list[str]) -> _Args | None:
    """The command lines the timer and cron run (``[--config PATH] [--random-delay N] check|renew``), read
    without argparse (its import and parser cost more than the rest of a run with nothing due); None for
    anything else, which argparse reads (help, errors, the other commands and options)."""
    args = _Args(os.environ.get("CERTWATCH_CONFIG", DEFAULT_CONFIG), "")
    rest = list(argv)
    while len(rest) > 1:
        option, value = rest[0], rest[1]
        if option == "--config" and value and not value.startswith("-"):
            args.config = value
        elif option == "--random-delay" and value.isascii() and value.isdigit():
            args.random_delay = int(value)
        else:
            return None
        del rest[:2]
    if rest not in (["check"], ["renew"]):
        return None
    args.command = rest[0]
    return args
