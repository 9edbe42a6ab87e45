# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The certwatch host agent: ``certwatch check | renew | status | reload | validate``.

Installed by the ``ghostguard.certs.certwatch`` role into a venv on each host and run by
``certwatch.timer`` (or cron).  Plain Python, no Ansible import.

Exit codes (documented in the role's README and ``certwatch --help``):

== =======================================================================================
0  every certificate is fine and every service serves the certificate on disk
1  something needs attention: a certificate is due, critical, expired, not yet valid,
   invalid or missing, a service serves another certificate (a ghost), or a probe failed
2  a renewal, installation, reload or proof failed (a failed proof was rolled back)
3  the configuration is unusable (nothing was done); the message names the problem
== =======================================================================================

Each run writes one JSON line per certificate to standard output (the journal under systemd),
a Prometheus textfile, and its state (counters, last run) under ``state_dir``.  Nothing due means
no ACME or DNS library is imported and no network is used but the probes.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as _dt
import fcntl
import json
import os
import signal
import sys
import time
import typing as t

from . import _metrics
from ._errors import CertsError, InputError
from ._time import iso, parse_duration

EXIT_OK = 0
EXIT_ATTENTION = 1
EXIT_FAILED = 2
EXIT_CONFIG = 3

DEFAULT_CONFIG = "/etc/ghostguard/certwatch.json"
CONFIG_VERSION = 1
MODES = ("report", "renew")
ISSUE_ON = ("controller", "host")
STATUSES = ("ok", "due", "critical", "expired", "not_yet_valid", "invalid", "missing")
ATTENTION = ("due", "critical", "expired", "not_yet_valid", "invalid", "missing")
HANDSHAKE_ERRORS = ("refused", "timeout", "unreachable", "handshake_failure", "expired", "unknown_ca",
                    "hostname_mismatch")
FAIL_REASONS = ("issue", "install", "reload", "proof")
RELOAD_KINDS = ("systemd", "signal", "command", "watch")
PROBE_KEYS = ("host", "port", "server_name", "alpn", "ca_bundle", "validate_certs", "timeout", "retries",
              "retry_delay", "name", "client_cert", "client_key")
CERT_KEYS = ("name", "domains", "cert_path", "key_path", "chain_path", "fullchain_path", "owner", "group", "mode",
             "reload", "probe", "issue_on", "store", "keep")
TOP_KEYS = ("version", "host", "mode", "state_dir", "metrics_dir", "metrics_name", "cert_dir", "policy",
            "allowed_domains", "acme", "dns", "secrets", "prove", "certificates")
POLICY_KEYS = ("renew_before", "renew_fraction", "leeway", "alert_before", "max_connection_age", "connection_margin")


class ConfigError(CertsError):
    """The agent's configuration file is unusable."""

    kind = "config"


# =========================================================================== engine adapter
# Every call into the rest of the engine goes through this section, so that re-pointing the agent
# at new engine entry points is a change here only.


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


# =========================================================================== fast path
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


def _epoch(value: str) -> float:
    return _dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _valid_until(desc: t.Mapping[str, t.Any], limits: t.Mapping[str, float | None]) -> float:
    """Until when an ``ok`` decision cannot change: renew_at, and the alert / connection-age thresholds."""
    end = _epoch(desc["not_after"]) - float(limits["leeway"] or 0)
    moments = [_epoch(desc["renew_at"]), end - float(limits["alert_before"] or 0)]
    if limits.get("max_connection_age") is not None:
        moments.append(end - float(limits["max_connection_age"] or 0) - float(limits["connection_margin"] or 0))
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
        if desc is None or res.status != "ok" or desc.get("due"):
            continue
        digest = _file_digest(res.path)
        if digest is not None:
            keep = {k: v for k, v in desc.items() if k not in ("chain", "reasons")}
            entries[res.path] = {"digest": digest, "valid_until": _valid_until(desc, limits), "description": keep}
    data = {"policy": _policy_key(cfg), "certificates": entries}
    from ._atomic import atomic_write

    atomic_write(os.path.join(cfg["state_dir"], MEMO_FILE), (json.dumps(data, sort_keys=True) + "\n").encode(), 0o600)


def _plain_handshake(ep: t.Mapping[str, t.Any], expected: str) -> dict[str, t.Any] | None:
    """One handshake that only confirms the happy case: the endpoint serves *expected*.  None otherwise."""
    import hashlib
    import socket
    import ssl

    if ep.get("client_cert") or not expected:
        return None
    sni = ep.get("server_name") or ep["host"]
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
        with socket.create_connection((ep["host"], int(ep.get("port", 443))), timeout=float(ep.get("timeout") or 5)) as raw, \
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


# =========================================================================== configuration


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


def _duration_ok(value: t.Any, where: str) -> None:
    if value in (None, ""):
        return
    try:
        parse_duration(value, where)
    except InputError as exc:
        raise ConfigError(str(exc)) from None


def _check_probe(probe: t.Any, where: str) -> list[dict[str, t.Any]]:
    probes = probe if isinstance(probe, list) else [probe]
    out = []
    for i, entry in enumerate(probes):
        here = "%s.probe[%d]" % (where, i)
        _require(isinstance(entry, dict), "%s must be a mapping such as {host: 127.0.0.1, port: 443}" % here)
        unknown = sorted(set(entry) - set(PROBE_KEYS))
        _require(not unknown, "%s: unknown key(s) %s; allowed: %s" % (here, ", ".join(unknown), ", ".join(PROBE_KEYS)))
        _require(bool(entry.get("host")), "%s has no host; give the address the service listens on" % here)
        port = entry.get("port", 443)
        _require(isinstance(port, int) and 0 < port < 65536, "%s: port %r is not a TCP port (1-65535)" % (here, port))
        out.append(dict(entry))
    return out


def _check_reload(reload: t.Any, where: str) -> None:
    if reload in (None, {}):
        return
    _require(isinstance(reload, dict), "%s.reload must be a mapping such as {systemd: nginx.service}" % where)
    kinds = [k for k in RELOAD_KINDS if k in reload]
    _require(len(kinds) == 1, "%s.reload needs exactly one of %s (got %s)" % (where, ", ".join(RELOAD_KINDS),
                                                                              ", ".join(sorted(reload)) or "none"))
    kind = kinds[0]
    if kind == "signal":
        _require(bool(reload.get("pidfile")), "%s.reload: signal needs pidfile (the service's PID file)" % where)
        name = str(reload["signal"]).upper()
        name = name if name.startswith("SIG") else "SIG" + name
        _require(hasattr(signal, name), "%s.reload: %r is not a signal name (HUP, USR1, ...)" % (where, reload["signal"]))
    if kind == "command":
        _require(isinstance(reload["command"], list) and bool(reload["command"]),
                 "%s.reload.command must be a non-empty argv list, such as [/usr/sbin/nginx, -s, reload]" % where)


def validate(config: t.Any, check_files: bool = True) -> dict[str, t.Any]:
    """Check the whole configuration before any work; return it with defaults filled in."""
    _require(isinstance(config, dict), "the configuration must be a JSON object")
    unknown = sorted(set(config) - set(TOP_KEYS))
    _require(not unknown, "unknown top-level key(s) %s; regenerate the file with the certwatch role" % ", ".join(unknown))
    _require(config.get("version") == CONFIG_VERSION,
             "configuration version %r is not %d; run the certwatch role again to regenerate it"
             % (config.get("version"), CONFIG_VERSION))
    cfg = dict(config)
    cfg.setdefault("mode", "report")
    _require(cfg["mode"] in MODES, "mode %r must be one of %s" % (cfg["mode"], ", ".join(MODES)))
    for key in ("state_dir", "metrics_dir"):
        _require(isinstance(cfg.get(key), str) and os.path.isabs(cfg[key]), "%s must be an absolute path" % key)
    cfg.setdefault("metrics_name", "ghostguard_certwatch")
    policy = cfg.setdefault("policy", {}) or {}
    _require(isinstance(policy, dict), "policy must be a mapping (renew_before, renew_fraction, leeway, ...)")
    unknown = sorted(set(policy) - set(POLICY_KEYS))
    _require(not unknown, "policy: unknown key(s) %s; allowed: %s" % (", ".join(unknown), ", ".join(POLICY_KEYS)))
    for key in POLICY_KEYS:
        if key != "renew_fraction":
            _duration_ok(policy.get(key), "policy.%s" % key)
    fraction = policy.get("renew_fraction")
    if fraction is not None:
        _require(isinstance(fraction, (int, float)) and not isinstance(fraction, bool) and 0 < fraction < 1,
                 "policy: renew_fraction must be between 0 and 1 (got %r); 0.33 renews with a third of the life left"
                 % (fraction,))
    certs = cfg.get("certificates")
    if not isinstance(certs, list):
        raise ConfigError("certificates must be a list (certwatch_certificates)")
    certs = list(certs)
    seen: set[str] = set()
    host_certs = []
    for i, raw in enumerate(certs):
        where = "certificates[%d]" % i
        _require(isinstance(raw, dict), "%s must be a mapping" % where)
        cert = dict(raw)
        name = cert.get("name")
        _require(isinstance(name, str) and bool(name) and "/" not in name and not name.startswith("."),
                 "%s needs a name (unique on the host, no '/')" % where)
        where = "certificate %s" % name
        _require(name not in seen, "%s is configured twice; names must be unique on a host" % where)
        seen.add(t.cast(str, name))
        unknown = sorted(set(cert) - set(CERT_KEYS))
        _require(not unknown, "%s: unknown key(s) %s; allowed: %s" % (where, ", ".join(unknown), ", ".join(CERT_KEYS)))
        domains = cert.get("domains")
        _require(isinstance(domains, list) and bool(domains) and all(isinstance(d, str) and d for d in domains),
                 "%s: domains must be a non-empty list of names" % where)
        cert.setdefault("issue_on", "controller")
        _require(cert["issue_on"] in ISSUE_ON, "%s: issue_on must be controller or host" % where)
        if not cert.get("cert_path") and not cert.get("fullchain_path"):
            base = cfg.get("cert_dir")
            _require(isinstance(base, str) and bool(base),
                     "%s has no cert_path and there is no cert_dir to default it from" % where)
            folder = os.path.join(str(base), t.cast(str, name))
            for role in ("cert", "key", "chain", "fullchain"):
                cert.setdefault(role + "_path", os.path.join(folder, role + ".pem"))
        for role in ("cert", "key", "chain", "fullchain"):
            path = cert.get(role + "_path")
            _require(path is None or (isinstance(path, str) and os.path.isabs(path)),
                     "%s: %s_path %r must be an absolute path" % (where, role, path))
        _check_reload(cert.get("reload"), where)
        cert["probe"] = _check_probe(cert["probe"], where) if cert.get("probe") else []
        if cert["issue_on"] == "host":
            host_certs.append(cert)
        certs[i] = cert
    cfg["certificates"] = certs
    if cfg["mode"] == "renew" and host_certs:
        acme = cfg.get("acme") or {}
        dns = cfg.get("dns") or {}
        _require(bool(acme.get("directory")), "mode renew: acme.directory is missing (certwatch_acme.directory)")
        _require(dns.get("provider") in ("alidns", "rfc2136"),
                 "mode renew: dns.provider must be alidns or rfc2136 (certwatch_dns.provider)")
        secrets = cfg.get("secrets") or {}
        _require(bool(secrets.get("account_key")), "mode renew: secrets.account_key (the ACME account key file) is missing")
        for cert in host_certs:
            _require(bool(cert.get("key_path")), "certificate %s: issue_on host needs key_path" % cert["name"])
        if check_files:
            for key in ("account_key", "credentials"):
                path = secrets.get(key)
                if path:
                    _require(os.path.isfile(path), "secret file %s (%s) does not exist; run the certwatch role "
                                                   "with the vault variables set" % (path, key))
    prove = cfg.setdefault("prove", {}) or {}
    prove.setdefault("retries", 10)
    prove.setdefault("retry_delay", 1.0)
    cfg["prove"] = prove
    return cfg


def load_config(path: str, check_files: bool = True) -> dict[str, t.Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise ConfigError("configuration %s does not exist; install the agent with the ghostguard.certs.certwatch "
                          "role, or give --config" % path) from None
    except OSError as exc:
        raise ConfigError("configuration %s cannot be read (%s)" % (path, exc.strerror)) from None
    except ValueError as exc:
        raise ConfigError("configuration %s is not valid JSON (%s)" % (path, exc)) from None
    return validate(data, check_files)


def load_secrets(cfg: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    path = (cfg.get("secrets") or {}).get("credentials")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        # never echo the content
        raise ConfigError("secret file %s is unreadable or not JSON (%s); run the certwatch role again"
                          % (path, type(exc).__name__)) from None
    _require(isinstance(data, dict), "secret file %s must hold a JSON object" % path)
    return data


# =========================================================================== one run


@dataclasses.dataclass
class CertResult:
    name: str
    path: str
    status: str
    description: dict[str, t.Any] | None = None
    error: str | None = None
    probes: list[dict[str, t.Any]] = dataclasses.field(default_factory=list)
    outcome: str = "checked"
    failure: str | None = None
    renewed: bool = False

    @property
    def fingerprint(self) -> str | None:
        return self.description["fingerprint_sha256"] if self.description else None

    @property
    def ghosts(self) -> list[dict[str, t.Any]]:
        return [p for p in self.probes if p.get("served_matches") is False]

    def log_record(self, host: str | None) -> dict[str, t.Any]:
        desc = self.description or {}
        served = [p.get("served_fingerprint") for p in self.probes]
        return {
            "event": "certwatch",
            "host": host,
            "cert_id": self.name,
            "path": self.path,
            "status": self.status,
            "outcome": self.outcome,
            "failure": self.failure,
            "renewal_time": desc.get("renew_at"),
            "next_expiry": desc.get("not_after"),
            "seconds_remaining": desc.get("seconds_remaining"),
            "fingerprint": self.fingerprint,
            "served_fingerprint": served[0] if len(served) == 1 else served,
            "ghost": bool(self.ghosts),
            "probes": [{k: p.get(k) for k in ("endpoint", "served_fingerprint", "served_matches", "error",
                                              "handshake_ms")} for p in self.probes],
            "error": self.error,
        }


def _cn(rfc4514: str | None) -> str:
    for part in (rfc4514 or "").split(","):
        if part.startswith("CN="):
            return part[3:]
    return ""


def _describe_all(cfg: dict[str, t.Any], policy: t.Any) -> list[CertResult]:
    paths = [c.get("cert_path") or c["fullchain_path"] for c in cfg["certificates"]]
    described, errors = engine_scan([p for p in paths if os.path.exists(p)], policy) if paths else ({}, {})
    results = []
    for cert, path in zip(cfg["certificates"], paths):
        if not os.path.exists(path):
            results.append(CertResult(cert["name"], path, "missing", error="%s does not exist" % path))
        elif path in described:
            desc = described[path]
            results.append(CertResult(cert["name"], path, desc["status"], description=desc))
        else:
            results.append(CertResult(cert["name"], path, "invalid", error=errors.get(path, "not a certificate")))
    return results


def _probe(cert: dict[str, t.Any], result: CertResult, retries: int = 0, delay: float = 1.0) -> None:
    if not cert["probe"]:
        result.probes = []
        return
    endpoints = []
    for ep in cert["probe"]:
        entry = dict(ep)
        entry.setdefault("timeout", 5.0)
        if retries:
            entry["retries"] = max(int(entry.get("retries") or 0), retries)
            entry["retry_delay"] = delay
        endpoints.append(entry)
    expected = result.fingerprint
    plain = [] if retries or expected is None else [_plain_handshake(ep, expected) for ep in endpoints]
    found = [p for p in plain if p is not None]
    answers = found if plain and len(found) == len(plain) else engine_probe(endpoints, expected)
    probes = []
    for ep, res in zip(endpoints, answers):
        served = (res.get("certificate") or {}).get("fingerprint_sha256")
        probes.append({
            "endpoint": "%s:%s" % (ep["host"], ep.get("port", 443)),
            "server_name": ep.get("server_name") or ep["host"],
            "served_fingerprint": served,
            "served_matches": None if served is None or expected is None else served == expected,
            "error": res.get("error"),
            "error_message": res.get("error_message"),
            "handshake_ms": res.get("handshake_ms"),
        })
    result.probes = probes


def _reload(cert: t.Mapping[str, t.Any]) -> str | None:
    """Reload the certificate's service; return an error message or None."""
    import subprocess

    spec = cert.get("reload") or {}
    try:
        if "systemd" in spec:
            proc = subprocess.run(["systemctl", "reload", str(spec["systemd"])], capture_output=True, text=True,
                                  timeout=120, check=False)
            if proc.returncode != 0:
                return "systemctl reload %s failed: %s" % (spec["systemd"], (proc.stderr or proc.stdout).strip()[-300:])
        elif "signal" in spec:
            name = str(spec["signal"]).upper()
            signum = getattr(signal, name if name.startswith("SIG") else "SIG" + name)
            with open(spec["pidfile"], encoding="ascii") as handle:
                pid = int(handle.read().split()[0])
            os.kill(pid, signum)
        elif "command" in spec:
            proc = subprocess.run([str(a) for a in spec["command"]], capture_output=True, text=True, timeout=120,
                                  check=False)
            if proc.returncode != 0:
                detail = (proc.stderr or proc.stdout).strip()[-300:]
                return "reload command %s exited %d: %s" % (spec["command"][0], proc.returncode, detail)
    except (OSError, ValueError, IndexError, subprocess.SubprocessError) as exc:
        return "reload of %s failed: %s" % (cert["name"], exc)
    return None


def _counters_declare(counters: _metrics.Counters, cfg: dict[str, t.Any]) -> None:
    for cert in cfg["certificates"]:
        for ep in cert["probe"]:
            endpoint = "%s:%s" % (ep["host"], ep.get("port", 443))
            for error in HANDSHAKE_ERRORS:
                counters.declare("ghostguard_tls_handshake_errors_total",
                                 "TLS handshakes to a probe endpoint that failed, by error class",
                                 name=cert["name"], endpoint=endpoint, error=error)
        if cert["issue_on"] == "host" and cfg["mode"] == "renew":
            counters.declare("ghostguard_renewal_attempts_total", "Renewals the agent started",
                             name=cert["name"])
            for reason in FAIL_REASONS:
                counters.declare("ghostguard_renewal_attempts_failed_total",
                                 "Renewals that failed, by the step that failed (issue, install, reload, proof)",
                                 name=cert["name"], reason=reason)


def build_metrics(cfg: dict[str, t.Any], results: list[CertResult], counters: _metrics.Counters,
                  clock: dict[str, t.Any], last_run: float, last_success: float | None) -> str:
    reg = _metrics.Registry()
    host = cfg.get("host")
    fams = {
        "not_after": reg.gauge("ghostguard_cert_not_after_timestamp_seconds", "Certificate notAfter (Unix time)"),
        "not_before": reg.gauge("ghostguard_cert_not_before_timestamp_seconds", "Certificate notBefore (Unix time)"),
        "renew_at": reg.gauge("ghostguard_cert_renew_at_timestamp_seconds",
                              "When the renewal policy makes the certificate due (Unix time)"),
        "expires": reg.gauge("ghostguard_cert_expires_seconds", "Seconds left before the certificate expires"),
    }
    status = reg.gauge("ghostguard_cert_status", "1 for the certificate's current status, 0 for the others")
    served = reg.gauge("ghostguard_cert_served_matches",
                       "1 when the probe endpoint serves the certificate on disk, 0 when it serves another (a ghost)")
    for res in results:
        desc = res.description or {}
        labels = {
            "name": res.name,
            "filepath": res.path,
            "subject_CN": _cn(desc.get("subject")),
            "issuer_CN": _cn(desc.get("issuer")),
            "serial_number": desc.get("serial") or "",
        }
        if desc:
            for key, field in (("not_after", "not_after"), ("not_before", "not_before"), ("renew_at", "renew_at")):
                fams[key].set(_epoch(desc[field]), **labels)
            fams["expires"].set(desc["seconds_remaining"], **labels)
        for value in STATUSES:
            status.set(1 if res.status == value else 0, name=res.name, filepath=res.path, status=value)
        for probe in res.probes:
            if probe["served_matches"] is not None:
                served.set(1 if probe["served_matches"] else 0, name=res.name, filepath=res.path,
                           endpoint=probe["endpoint"], server_name=probe["server_name"])
    counters.add_to(reg)
    reg.gauge("ghostguard_last_run_timestamp_seconds", "End of the agent's last run (Unix time)").set(last_run)
    if last_success is not None:
        reg.gauge("ghostguard_last_success_timestamp_seconds",
                  "End of the agent's last run in which no renewal, install, reload or proof failed").set(last_success)
    if clock.get("synchronized") is not None:
        reg.gauge("ghostguard_clock_synchronized", "1 when the kernel clock is synchronised (adjtimex)").set(
            1 if clock["synchronized"] else 0)
    if clock.get("estimated_error_seconds") is not None:
        reg.gauge("ghostguard_clock_offset_seconds",
                  "Estimated offset of the kernel clock (adjtimex esterror), seconds").set(clock["estimated_error_seconds"])
    if clock.get("max_error_seconds") is not None:
        reg.gauge("ghostguard_clock_max_error_seconds",
                  "Maximum error of the kernel clock (adjtimex maxerror), seconds").set(clock["max_error_seconds"])
    leeway = (cfg.get("policy") or {}).get("leeway")
    reg.gauge("ghostguard_policy_leeway_seconds", "The renewal policy's clock-skew allowance (leeway), seconds").set(
        parse_duration(leeway, "leeway") if leeway not in (None, "") else 0)
    agent = reg.gauge("ghostguard_agent_info", "The agent's mode and host (value always 1)")
    agent.set(1, mode=cfg["mode"], host=host or "")
    return reg.render()


@contextlib.contextmanager
def _locked(state_dir: str) -> t.Iterator[None]:
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(state_dir, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise CertsError("another certwatch run holds %s/lock for 10 minutes; check it with "
                                     "'systemctl status certwatch.service'" % state_dir) from None
                time.sleep(0.5)
        yield
    finally:
        os.close(fd)


def _load_state(state_dir: str) -> dict[str, t.Any]:
    try:
        with open(os.path.join(state_dir, "last-run.json"), encoding="utf-8") as handle:
            data = json.load(handle)
            return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _renew(cfg: dict[str, t.Any], cert: dict[str, t.Any], res: CertResult, counters: _metrics.Counters,
           secrets: dict[str, t.Any], policy: t.Any, log: t.Callable[[str], None]) -> None:
    counters.inc("ghostguard_renewal_attempts_total", name=cert["name"])
    staging = os.path.join(cfg["state_dir"], "staging", cert["name"])
    os.makedirs(staging, mode=0o700, exist_ok=True)
    old_fingerprint = res.fingerprint
    step = "issue"
    try:
        facts = engine_issue_and_install(cert, cfg, secrets, staging)
        step = "install"
        new = facts["certificate"]
        res.description, res.status, res.renewed, res.error = new, new["status"], True, None
    except CertsError as exc:
        counters.inc("ghostguard_renewal_attempts_failed_total", name=cert["name"], reason=step)
        res.outcome, res.failure, res.error = "renewal_failed", step, str(exc)
        log("certwatch: %s: renewal failed at %s: %s" % (cert["name"], step, exc))
        return
    error = _reload(cert)
    if error is None:
        _probe(cert, res, retries=int(cfg["prove"]["retries"]), delay=float(cfg["prove"]["retry_delay"]))
        bad = [p for p in res.probes if p["served_matches"] is not True]
        if not bad:
            res.outcome = "renewed"
            log("certwatch: %s: renewed, serves %s" % (cert["name"], res.fingerprint))
            return
        step = "proof"
        error = "; ".join("%s serves %s (%s)" % (p["endpoint"], p["served_fingerprint"], p["error_message"] or "mismatch")
                          for p in bad)
    else:
        step = "reload"
    counters.inc("ghostguard_renewal_attempts_failed_total", name=cert["name"], reason=step)
    res.failure, res.error = step, error
    log("certwatch: %s: %s failed after install (%s); rolling back" % (cert["name"], step, error))
    try:
        engine_rollback(cert, t.cast(str, res.fingerprint))
        _reload(cert)
        rescanned = _describe_all({**cfg, "certificates": [cert]}, policy)[0]
        res.description, res.status = rescanned.description, rescanned.status
        _probe(cert, res, retries=int(cfg["prove"]["retries"]), delay=float(cfg["prove"]["retry_delay"]))
        res.outcome = "rolled_back"
        if old_fingerprint and res.fingerprint != old_fingerprint:
            res.outcome = "rollback_incomplete"
    except CertsError as exc:
        res.outcome = "rollback_failed"
        res.error = "%s; rollback failed too: %s" % (error, exc)


def run(cfg: dict[str, t.Any], command: str, now: str | None = None, write: bool = True,
        out: t.TextIO = sys.stdout, err: t.TextIO = sys.stderr) -> tuple[int, list[CertResult], dict[str, t.Any]]:
    """One agent run; returns (exit code, per-certificate results, run summary)."""
    state_dir = cfg["state_dir"]
    policy: t.Any = None

    def log(message: str) -> None:
        err.write(message + "\n")

    lock = _locked(state_dir) if write else contextlib.nullcontext()
    with lock:
        counters = _metrics.Counters(os.path.join(state_dir, "counters.json") if write else None)
        if counters.load_error:
            log("certwatch: " + counters.load_error)
        _counters_declare(counters, cfg)
        results = None if now else _memo_results(cfg)
        if results is None:
            policy = engine_policy(cfg["policy"], now)
            results = _describe_all(cfg, policy)
            if write and not now:
                _remember(cfg, results, policy)
        secrets: dict[str, t.Any] | None = None
        for cert, res in zip(cfg["certificates"], results):
            renewable = command == "renew" and cfg["mode"] == "renew" and cert["issue_on"] == "host"
            if renewable and (res.status in ATTENTION or (res.description or {}).get("due")):
                if secrets is None:
                    secrets = load_secrets(cfg)
                _renew(cfg, cert, res, counters, secrets, policy or engine_policy(cfg["policy"]), log)
            else:
                _probe(cert, res)
                if res.ghosts:
                    res.outcome = "ghost"
            for probe in res.probes:
                if probe["error"]:
                    counters.inc("ghostguard_tls_handshake_errors_total", name=res.name, endpoint=probe["endpoint"],
                                 error=probe["error"])
        clock = engine_clock()
        finished = time.time()
        failed = any(r.failure for r in results)
        state = _load_state(state_dir)
        last_success = finished if write and not failed else state.get("last_success")
        summary = {
            "host": cfg.get("host"),
            "mode": cfg["mode"],
            "command": command,
            "finished": finished,
            "last_success": last_success,
            "clock": clock,
        }
        if write:
            for res in results:
                out.write(json.dumps(res.log_record(cfg.get("host")), sort_keys=True) + "\n")
                out.flush()
            text = build_metrics(cfg, results, counters, clock, finished, last_success)
            _metrics.write_textfile(cfg["metrics_dir"], cfg["metrics_name"], text)
            counters.save()
            state_data = {**summary, "certificates": {r.name: r.log_record(cfg.get("host")) for r in results}}
            from ._atomic import atomic_write

            atomic_write(os.path.join(state_dir, "last-run.json"),
                         (json.dumps(state_data, indent=1, sort_keys=True) + "\n").encode(), 0o600)
        else:
            summary["last_run"] = state.get("finished")
            summary["last_outcomes"] = {k: v.get("outcome") for k, v in (state.get("certificates") or {}).items()}
    return exit_code(results), results, summary


def exit_code(results: list[CertResult]) -> int:
    if any(r.failure for r in results):
        return EXIT_FAILED
    if any(r.status in ATTENTION or r.ghosts or any(p["error"] for p in r.probes) for r in results):
        return EXIT_ATTENTION
    return EXIT_OK


def _left(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else ""
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return "%s%dd%02dh" % (sign, days, hours)
    return "%s%dh%02dm" % (sign, hours, rest // 60)


def _served(res: CertResult) -> str:
    if not res.probes:
        return "no probe"
    parts = []
    for p in res.probes:
        if p["served_matches"] is True:
            parts.append("ok")
        elif p["served_matches"] is False:
            parts.append("GHOST %s" % (p["served_fingerprint"] or "")[:11])
        else:
            parts.append(p["error"] or "?")
    return ",".join(parts)


def status_table(results: list[CertResult], summary: dict[str, t.Any]) -> str:
    header = ("NAME", "STATUS", "LEFT", "RENEW AT", "SERVED", "LAST RUN OUTCOME")
    rows = [header]
    outcomes = summary.get("last_outcomes") or {}
    for res in results:
        desc = res.description or {}
        rows.append((res.name, res.status, _left(desc.get("seconds_remaining")), desc.get("renew_at") or "-",
                     _served(res), outcomes.get(res.name) or "-"))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    last = summary.get("last_run")
    clock = summary.get("clock") or {}
    lines.append("")
    lines.append("mode %s; last run %s; last success %s; clock %s" % (
        summary["mode"],
        iso(_dt.datetime.fromtimestamp(last, _dt.timezone.utc)) if last else "never",
        iso(_dt.datetime.fromtimestamp(summary["last_success"], _dt.timezone.utc)) if summary.get("last_success") else "never",
        {True: "synchronised", False: "NOT synchronised", None: "unknown"}[clock.get("synchronized")],
    ))
    for res in results:
        if res.error:
            lines.append("%s: %s" % (res.name, res.error))
        for p in res.ghosts:
            lines.append("%s: %s serves %s, the file holds %s: reload the service" % (
                res.name, p["endpoint"], p["served_fingerprint"], res.fingerprint))
    return "\n".join(lines) + "\n"


def _reload_command(cfg: dict[str, t.Any], names: list[str], changed: bool, policy: t.Any,
                    err: t.TextIO) -> int:
    unknown = sorted(set(names) - {c["name"] for c in cfg["certificates"]})
    if unknown:
        raise ConfigError("no certificate named %s in the configuration" % ", ".join(unknown))
    chosen = [c for c in cfg["certificates"] if not names or c["name"] in names]
    results = _describe_all({**cfg, "certificates": chosen}, policy)
    code = EXIT_OK
    for cert, res in zip(chosen, results):
        if changed:
            _probe(cert, res)
            if not res.ghosts:
                continue
        error = _reload(cert)
        if error is None:
            _probe(cert, res, retries=int(cfg["prove"]["retries"]), delay=float(cfg["prove"]["retry_delay"]))
            if res.ghosts or any(p["served_matches"] is not True for p in res.probes):
                error = "after the reload %s still does not serve %s" % (cert["name"], res.fingerprint)
        err.write("certwatch: %s: %s\n" % (cert["name"], error or "reloaded"))
        if error is not None:
            code = EXIT_FAILED
    return code


def main(argv: list[str] | None = None, out: t.TextIO = sys.stdout, err: t.TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(
        prog="certwatch",
        description="ghostguard certificate agent: check, renew and prove the certificates of this host.",
        epilog="exit codes: 0 all fine; 1 something due, critical, missing, a ghost or a probe error; "
               "2 a renewal, install, reload or proof failed; 3 configuration error (nothing done)",
    )
    parser.add_argument("--config", default=os.environ.get("CERTWATCH_CONFIG", DEFAULT_CONFIG))
    parser.add_argument("--now", help="ISO 8601 time to evaluate at (what-if; status and check only)")
    parser.add_argument("--random-delay", type=int, default=0, metavar="SECONDS",
                        help="sleep a random time up to SECONDS first (spreads a fleet's runs; cron uses it)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="check, probe, write metrics and log lines; never renews")
    sub.add_parser("renew", help="like check, and renew the due issue_on: host certificates (mode renew)")
    status = sub.add_parser("status", help="show the certificates, what is served, the last run (read-only)")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    reload = sub.add_parser("reload", help="reload the services of the named certificates and prove them")
    reload.add_argument("names", nargs="*")
    reload.add_argument("--changed", action="store_true",
                        help="only the services that serve another certificate than the one on disk")
    sub.add_parser("validate", help="validate the configuration file and exit")
    args = parser.parse_args(argv)
    if args.random_delay > 0 and args.command in ("check", "renew"):
        import random

        time.sleep(random.uniform(0, args.random_delay))
    try:
        cfg = load_config(args.config, check_files=args.command != "validate")
        if args.command == "validate":
            out.write("certwatch: %s is valid (%d certificates, mode %s)\n"
                      % (args.config, len(cfg["certificates"]), cfg["mode"]))
            return EXIT_OK
        if args.now and args.command in ("renew", "reload"):
            raise ConfigError("--now is for check and status (what-if); renew and reload always act on the real time")
        if args.command == "renew" and cfg["mode"] != "renew":
            raise ConfigError("certwatch renew needs mode renew (certwatch_mode: renew); in report mode "
                              "renew.yml renews and the agent only checks")
        if args.command == "reload":
            return _reload_command(cfg, args.names, args.changed, engine_policy(cfg["policy"]), err)
        code, results, summary = run(cfg, args.command, now=args.now, write=args.command != "status",
                                     out=out, err=err)
        if args.command == "status":
            if args.json:
                report = {"summary": summary, "exit_code": code,
                          "certificates": [r.log_record(cfg.get("host")) for r in results]}
                out.write(json.dumps(report, indent=1, sort_keys=True, default=str) + "\n")
            else:
                out.write(status_table(results, summary))
        return code
    except ConfigError as exc:
        err.write("certwatch: configuration error: %s\n" % exc)
        return EXIT_CONFIG
    except CertsError as exc:
        err.write("certwatch: %s\n" % exc)
        return EXIT_FAILED
