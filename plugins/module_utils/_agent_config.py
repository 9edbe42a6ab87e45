# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The certwatch agent's configuration: its schema, validated before any work, and the secret files."""

from __future__ import annotations

import json
import os
import typing as t

from ._errors import CertsError, InputError
from ._time import parse_duration, parse_number

DEFAULT_CONFIG = "/etc/ghostguard/certwatch.json"
CONFIG_VERSION = 1
MODES = ("report", "renew")
ISSUE_ON = ("controller", "host")
RELOAD_KINDS = ("systemd", "signal", "command", "watch")
PROBE_KEYS = ("host", "port", "server_name", "alpn", "ca_bundle", "validate_certs", "timeout", "retries",
              "retry_delay", "name", "client_cert", "client_key")
CERT_KEYS = ("name", "domains", "cert_path", "key_path", "chain_path", "fullchain_path", "owner", "group", "mode",
             "reload", "probe", "probes", "issue_on", "store", "keep", "in_place")
TOP_KEYS = ("version", "host", "mode", "state_dir", "metrics_dir", "metrics_name", "cert_dir", "policy",
            "allowed_domains", "acme", "dns", "secrets", "prove", "certificates")
# How a renewal is proved: after a reload (constant waits), and for a service that watches its own files
# (reload {watch: true}: no signal; growing waits, bounded, before it is called a ghost and rolled back).
PROVE_DEFAULTS: dict[str, t.Any] = {"retries": 10, "retry_delay": 1.0, "watch_retries": 10, "watch_retry_delay": 0.5,
                                    "watch_backoff": 2.0, "watch_max_delay": 8.0}
POLICY_KEYS = ("renew_before", "renew_fraction", "leeway", "alert_before", "max_connection_age", "connection_margin")


class ConfigError(CertsError):
    """The agent's configuration file is unusable."""

    kind = "config"


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


def _check_prove(prove: t.Any) -> dict[str, t.Any]:
    """The ``prove`` section with its defaults (:data:`PROVE_DEFAULTS`); each value checked and named."""
    _require(isinstance(prove, dict), "prove must be a mapping (retries, retry_delay, watch_retries, ...)")
    unknown = sorted(set(prove) - set(PROVE_DEFAULTS))
    _require(not unknown, "prove: unknown key(s) %s; allowed: %s" % (", ".join(unknown), ", ".join(PROVE_DEFAULTS)))
    out = {**PROVE_DEFAULTS, **{k: v for k, v in prove.items() if v is not None}}
    for key in ("retries", "watch_retries"):
        value = out[key]
        _require(isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1000,
                 "prove.%s: %r is not a number of extra probes; give a whole number from 0 to 1000" % (key, value))
    try:
        for key in ("retry_delay", "watch_retry_delay", "watch_max_delay"):
            out[key] = parse_duration(out[key], "prove." + key)
        out["watch_backoff"] = parse_number(out["watch_backoff"], "prove.watch_backoff")
    except InputError as exc:
        raise ConfigError(str(exc)) from None
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
        import signal  # only for a configuration with a signal reload

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
        _require(isinstance(cert.setdefault("in_place", False), bool), "%s: in_place must be true or false" % where)
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
        probes = cert.pop("probes", None) or cert.pop("probe", None)  # the inventory model's `probes` (`probe` before)
        cert["probes"] = _check_probe(probes, where) if probes else []
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
    cfg["prove"] = _check_prove(cfg.get("prove") or {})
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
