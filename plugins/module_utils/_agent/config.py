# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The certwatch agent's configuration: its schema, validated before any work, and the secret files."""

from __future__ import annotations

import json
import os
import typing as t

from .._errors import CertsError, InputError
from .._fleet import inventory as _inventory
from .._time import parse_duration, parse_number

DEFAULT_CONFIG = "/etc/ghostguard/certwatch.json"
CONFIG_VERSION = 1
MODES = ("report", "renew")
RELOAD_KINDS = _inventory.RELOAD_KINDS
TOP_KEYS = ("version", "host", "mode", "state_dir", "metrics_dir", "metrics_name", "cert_dir", "policy",
            "allowed_domains", "acme", "acme_fallbacks", "dns", "secrets", "prove", "schedule", "certificates")
# one fallback CA (certwatch_acme as a list: the entries after the primary), its secrets in their own files
FALLBACK_KEYS = ("name", "directory", "ca_bundle", "email", "terms_agreed", "eab_kid", "profile", "preferred_chain", "ari",
                 "timeout", "account_key")
# How a renewal is proved: after a reload (constant waits), and for a service that watches its own files
# (reload {watch: true}: no signal; growing waits, bounded, before it is called a ghost and rolled back).
PROVE_DEFAULTS = _inventory.PROVE_DEFAULTS
POLICY_KEYS = ("renew_before", "renew_fraction", "leeway", "alert_before", "max_connection_age", "connection_margin",
               "revocation_check")


class ConfigError(CertsError):
    """The agent's configuration file is unusable."""

    kind = "config"


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


def _check_fallbacks(fallbacks: t.Any, check_files: bool) -> None:
    """``acme_fallbacks``: the CAs after the primary, in order, each with a name, a directory and its account key file."""
    _require(isinstance(fallbacks, list), "acme_fallbacks must be a list of CAs (certwatch_acme as a list)")
    names = set()
    for index, ca in enumerate(fallbacks):
        where = "acme_fallbacks[%d]" % index
        _require(isinstance(ca, dict), "%s must be a mapping" % where)
        unknown = sorted(set(ca) - set(FALLBACK_KEYS))
        _require(not unknown, "%s: unknown key(s) %s; allowed: %s" % (where, ", ".join(unknown), ", ".join(FALLBACK_KEYS)))
        for key in ("name", "directory", "account_key"):
            _require(isinstance(ca.get(key), str) and bool(ca[key]), "%s: %s is missing (certwatch_acme[%d].%s)"
                     % (where, key, index + 1, "account_key_content" if key == "account_key" else key))
        _require(ca["name"] not in names, "%s: the CA name %s is used twice" % (where, ca["name"]))
        names.add(ca["name"])
        if check_files:
            _require(os.path.isfile(ca["account_key"]), "secret file %s (the account key of CA %s) does not exist; run "
                                                        "the certwatch role with the vault variables set"
                     % (ca["account_key"], ca["name"]))


def _duration_ok(value: t.Any, where: str) -> None:
    if value in (None, ""):
        return
    try:
        parse_duration(value, where)
    except InputError as exc:
        raise ConfigError(str(exc)) from None


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


def _check_schedule(schedule: t.Any) -> dict[str, int]:
    """How often the timer (or cron) runs the agent, in seconds: exported as metrics, so that the silent-agent alert
    derives its threshold from the host's own interval.  Written by the role; empty when run by hand."""
    _require(isinstance(schedule, dict), "schedule must be a mapping (interval, randomized_delay; seconds)")
    unknown = sorted(set(schedule) - {"interval", "randomized_delay"})
    _require(not unknown, "schedule: unknown key(s) %s; allowed: interval, randomized_delay" % ", ".join(unknown))
    out = {}
    for key, low in (("interval", 60), ("randomized_delay", 0)):
        value = schedule.get(key)
        if value is None:
            continue
        _require(isinstance(value, int) and not isinstance(value, bool) and low <= value <= 7 * 86400,
                 "schedule.%s: %r is not a number of seconds from %d to 604800 (certwatch_interval is in minutes, "
                 "certwatch_randomized_delay in seconds)" % (key, value, low))
        out[key] = value
    _require("interval" in out or not out, "schedule.randomized_delay needs schedule.interval")
    return out


def _check_top(config: t.Any) -> None:
    """The file as a whole: a JSON object with known top-level keys, of this configuration version."""
    _require(isinstance(config, dict), "the configuration must be a JSON object")
    unknown = sorted(set(config) - set(TOP_KEYS))
    _require(not unknown, "unknown top-level key(s) %s; regenerate the file with the certwatch role" % ", ".join(unknown))
    _require(config.get("version") == CONFIG_VERSION,
             "configuration version %r is not %d; run the certwatch role again to regenerate it"
             % (config.get("version"), CONFIG_VERSION))


def _check_policy(policy: t.Any) -> None:
    """The ``policy`` section: known keys, durations that parse, a boolean revocation check, a fraction in (0, 1)."""
    _require(isinstance(policy, dict), "policy must be a mapping (renew_before, renew_fraction, leeway, ...)")
    unknown = sorted(set(policy) - set(POLICY_KEYS))
    _require(not unknown, "policy: unknown key(s) %s; allowed: %s" % (", ".join(unknown), ", ".join(POLICY_KEYS)))
    _require(policy.get("revocation_check") in (None, True, False),
             "policy: revocation_check must be true or false (got %r)" % (policy.get("revocation_check"),))
    for key in POLICY_KEYS:
        if key not in ("renew_fraction", "revocation_check"):
            _duration_ok(policy.get(key), "policy.%s" % key)
    fraction = policy.get("renew_fraction")
    if fraction is not None:
        _require(isinstance(fraction, (int, float)) and not isinstance(fraction, bool) and 0 < fraction < 1,
                 "policy: renew_fraction must be between 0 and 1 (got %r); 0.33 renews with a third of the life left"
                 % (fraction,))


def _check_certificates(cfg: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The ``certificates`` list through the inventory model's checks; returned normalized (defaults filled in)."""
    certs = cfg.get("certificates")
    if not isinstance(certs, list):
        raise ConfigError("certificates must be a list (certwatch_certificates)")
    # the one inventory model (_fleet/inventory.py): the same checks and defaults as renew.yml's
    problems = _inventory.certificate_problems(str(cfg.get("host") or "this host"), certs, cfg.get("cert_dir") or None,
                                               cfg.get("allowed_domains") or None)
    _require(not problems, "; ".join(problems))
    return [_inventory.normalize_certificate(c, cfg.get("cert_dir") or None) for c in certs]


def _check_renew(cfg: dict[str, t.Any], host_certs: list[dict[str, t.Any]], check_files: bool) -> None:
    """Mode renew with certificates the host orders: a CA, a DNS provider, the account key, the fallbacks, the key
    paths, and (with *check_files*) the secret files on disk."""
    acme = cfg.get("acme") or {}
    dns = cfg.get("dns") or {}
    _require(bool(acme.get("directory")), "mode renew: acme.directory is missing (certwatch_acme.directory)")
    _require(dns.get("provider") in ("alidns", "rfc2136"),
             "mode renew: dns.provider must be alidns or rfc2136 (certwatch_dns.provider)")
    secrets = cfg.get("secrets") or {}
    _require(bool(secrets.get("account_key")), "mode renew: secrets.account_key (the ACME account key file) is missing")
    _check_fallbacks(cfg.setdefault("acme_fallbacks", []) or [], check_files)
    for cert in host_certs:
        _require(bool(cert.get("key_path")), "certificate %s: issue_on host needs key_path" % cert["name"])
    if check_files:
        for key in ("account_key", "credentials"):
            path = secrets.get(key)
            if path:
                _require(os.path.isfile(path), "secret file %s (%s) does not exist; run the certwatch role "
                                               "with the vault variables set" % (path, key))


def validate(config: t.Any, check_files: bool = True) -> dict[str, t.Any]:
    """Check the whole configuration before any work; return it with defaults filled in."""
    _check_top(config)
    cfg = dict(config)
    cfg.setdefault("mode", "report")
    _require(cfg["mode"] in MODES, "mode %r must be one of %s" % (cfg["mode"], ", ".join(MODES)))
    for key in ("state_dir", "metrics_dir"):
        _require(isinstance(cfg.get(key), str) and os.path.isabs(cfg[key]), "%s must be an absolute path" % key)
    cfg.setdefault("metrics_name", "ghostguard_certwatch")
    _check_policy(cfg.setdefault("policy", {}) or {})
    certs = _check_certificates(cfg)
    host_certs = [c for c in certs if c["issue_on"] == "host"]
    cfg["certificates"] = certs
    if cfg["mode"] == "renew" and host_certs:
        _check_renew(cfg, host_certs, check_files)
    cfg["prove"] = _check_prove(cfg.get("prove") or {})
    cfg["schedule"] = _check_schedule(cfg.get("schedule") or {})
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
