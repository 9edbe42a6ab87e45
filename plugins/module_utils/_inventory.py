# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The inventory model shared by renew.yml, rollback.yml and the certwatch role: validation (every
problem names host, certificate and field) and the certificates with their defaults filled in."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import typing as t

from ._ledger import DEFAULT_LIMITS, set_key

# ----------------------------------------------------------------------------- the inventory model

CERT_FIELDS = ("name", "domains", "cert_path", "key_path", "chain_path", "fullchain_path", "owner", "group",
               "mode", "reload", "probe", "issue_on", "in_place")
ACME_FIELDS = ("directory", "ca_bundle", "email", "terms_agreed", "account_key_content", "account_key_path",
               "eab_kid", "eab_hmac_key", "profile", "preferred_chain", "ari", "key_type", "timeout")
DNS_FIELDS = ("provider", "alidns", "rfc2136", "nameservers", "propagation_timeout")
POLICY_FIELDS = ("renew_before", "renew_fraction", "leeway", "alert_before", "max_connection_age")
PROBE_FIELDS = ("host", "port", "server_name", "alpn", "ca_bundle", "timeout", "retries", "retry_delay")
RELOAD_KINDS = ("systemd", "signal", "command", "watch")
PROVIDERS = ("alidns", "rfc2136")
_NAME_RE = re.compile(r"^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9-]{0,61}[a-z0-9])?\.?$")
_CERT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_PERCENT_RE = re.compile(r"^\s*(\d+(\.\d+)?)\s*%\s*$")


def _where(host: str, cert: str | None, field: str) -> str:
    if cert is None:
        return "host %s, field %s" % (host, field)
    return "host %s, certificate %s, field %s" % (host, cert, field)


def _unknown(keys: t.Iterable[str], known: t.Sequence[str]) -> list[tuple[str, str]]:
    """(unknown key, hint) for every key not in *known*."""
    out = []
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            out.append((str(key), " (did you mean %r?)" % close[0] if close else ""))
    return out


def _is_str(value: t.Any) -> bool:
    return isinstance(value, str) and value != ""


def _is_int(value: t.Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_dict(host: str, field: str, value: t.Any, known: t.Sequence[str], problems: list[str]) -> bool:
    if not isinstance(value, t.Mapping):
        problems.append("%s: must be a dict, got %s" % (_where(host, None, field), type(value).__name__))
        return False
    for key, hint in _unknown(value, known):
        where = _where(host, None, field)
        problems.append("%s: unknown key %r%s; known keys: %s" % (where, key, hint, ", ".join(known)))
    return True


def _check_reload(host: str, name: str, value: t.Any, problems: list[str]) -> None:
    where = _where(host, name, "reload")
    if not isinstance(value, t.Mapping):
        problems.append("%s: must be a dict such as {systemd: nginx.service}, got %s" % (where, type(value).__name__))
        return
    kinds = [k for k in RELOAD_KINDS if k in value]
    for key, hint in _unknown(value, (*RELOAD_KINDS, "pidfile")):
        problems.append("%s: unknown key %r%s" % (where, key, hint))
    if len(kinds) != 1:
        problems.append("%s: give exactly one of systemd, signal (with pidfile), command or watch" % where)
        return
    kind = kinds[0]
    if kind == "systemd" and not _is_str(value["systemd"]):
        problems.append("%s.systemd: must be a unit name such as nginx.service" % where)
    if kind == "signal":
        if not _is_str(value["signal"]):
            problems.append("%s.signal: must be a signal name such as HUP" % where)
        if not _is_str(value.get("pidfile")):
            problems.append("%s.pidfile: signal needs the pidfile of the process to signal" % where)
    if kind == "command" and (not isinstance(value["command"], list) or not value["command"]
                              or not all(_is_str(a) for a in value["command"])):
        problems.append("%s.command: must be a non-empty list of arguments (argv), not a shell string" % where)
    if kind == "watch" and value["watch"] is not True:
        problems.append("%s.watch: must be true (the service watches its own files)" % where)


def _check_probe(host: str, name: str, value: t.Any, problems: list[str]) -> None:
    where = _where(host, name, "probe")
    probes = value if isinstance(value, list) else [value]
    if not probes:
        problems.append("%s: an empty list; omit probe to skip the proof" % where)
    for probe in probes:
        if not isinstance(probe, t.Mapping):
            problems.append("%s: each probe must be a dict with at least port, got %s" % (where, type(probe).__name__))
            continue
        for key, hint in _unknown(probe, PROBE_FIELDS):
            problems.append("%s: unknown key %r%s" % (where, key, hint))
        port = probe.get("port")
        if not _is_int(port) or not 0 < t.cast(int, port) < 65536:
            problems.append("%s.port: must be a port number (1-65535), got %r" % (where, port))
        if "alpn" in probe and not (isinstance(probe["alpn"], list) and all(_is_str(a) for a in probe["alpn"])):
            problems.append("%s.alpn: must be a list of protocol names such as [h2]" % where)


def allowed(name: str, patterns: t.Sequence[str]) -> bool:
    """Whether *name* fits the allowlist (same rules as acme_dns01's allowed_domains)."""
    import fnmatch

    name = name.lower().rstrip(".")
    for pattern in patterns:
        pattern = str(pattern).lower().rstrip(".")
        if pattern.startswith("*.") and (name.endswith(pattern[1:]) or name == pattern):
            return True
        if name == pattern or fnmatch.fnmatchcase(name, pattern):
            return True
    return False


def validate_host(host: str, hv: t.Mapping[str, t.Any], shared: bool = True) -> list[str]:
    """Problems in one host's certwatch_* variables; each names host, certificate and field."""
    problems: list[str] = []
    certs = hv.get("certwatch_certificates")
    if certs is None:
        return problems
    if not isinstance(certs, list):
        return ["%s: must be a list of certificates, got %s" % (_where(host, None, "certwatch_certificates"),
                                                                type(certs).__name__)]
    cert_dir = hv.get("certwatch_cert_dir")
    if cert_dir is not None and not (_is_str(cert_dir) and str(cert_dir).startswith("/")):
        problems.append("%s: must be an absolute directory, got %r" % (_where(host, None, "certwatch_cert_dir"), cert_dir))
    patterns = hv.get("certwatch_allowed_domains")
    if patterns is not None and not (isinstance(patterns, list) and all(_is_str(p) for p in patterns)):
        problems.append("%s: must be a list of name patterns" % _where(host, None, "certwatch_allowed_domains"))
        patterns = None
    seen: set[str] = set()
    needs_controller = False
    for index, cert in enumerate(certs):
        if not isinstance(cert, t.Mapping):
            problems.append("%s: entry #%d must be a dict, got %s" % (_where(host, None, "certwatch_certificates"),
                                                                      index + 1, type(cert).__name__))
            continue
        name = cert.get("name")
        label = str(name) if _is_str(name) else "#%d" % (index + 1)
        if not _is_str(name) or not _CERT_NAME_RE.match(str(name)):
            problems.append("%s: must be a short name (letters, digits, . _ -), got %r" % (_where(host, label, "name"), name))
        elif name in seen:
            problems.append("%s: %r is used twice on this host; names must be unique" % (_where(host, label, "name"), name))
        seen.add(str(name))
        for key, hint in _unknown(cert, CERT_FIELDS):
            problems.append("%s: unknown field%s; known fields: %s" % (_where(host, label, key), hint, ", ".join(CERT_FIELDS)))
        domains = cert.get("domains")
        if not isinstance(domains, list) or not domains or not all(_is_str(d) for d in domains):
            problems.append("%s: must be a non-empty list of DNS names, got %r" % (_where(host, label, "domains"), domains))
        else:
            for domain in domains:
                if not _NAME_RE.match(domain.lower()):
                    problems.append("%s: %r is not a DNS name" % (_where(host, label, "domains"), domain))
                elif patterns is not None and not allowed(domain, patterns):
                    problems.append("%s: %r is outside certwatch_allowed_domains (%s)"
                                    % (_where(host, label, "domains"), domain, ", ".join(patterns)))
        for field in ("cert_path", "key_path", "chain_path", "fullchain_path"):
            value = cert.get(field)
            if value is not None and not (_is_str(value) and str(value).startswith("/")):
                problems.append("%s: must be an absolute path, got %r" % (_where(host, label, field), value))
        if cert.get("cert_path") is None and cert_dir is None:
            problems.append("%s: not set and no certwatch_cert_dir to place it under" % _where(host, label, "cert_path"))
        for field in ("owner", "group"):
            if field in cert and not (_is_str(cert[field]) or _is_int(cert[field])):
                problems.append("%s: must be a user/group name or id, got %r" % (_where(host, label, field), cert[field]))
        if "mode" in cert and not (isinstance(cert["mode"], str) and re.match(r"^0?[0-7]{3}$", cert["mode"])):
            problems.append("%s: must be an octal string such as \"0644\" (quoted), got %r" % (_where(host, label, "mode"),
                                                                                               cert["mode"]))
        if "reload" in cert:
            _check_reload(host, label, cert["reload"], problems)
        if "probe" in cert:
            _check_probe(host, label, cert["probe"], problems)
        if "in_place" in cert and not isinstance(cert["in_place"], bool):
            problems.append("%s: must be true or false (true: deploy rewrites the files in place, for a service "
                            "watching the files themselves), got %r" % (_where(host, label, "in_place"), cert["in_place"]))
        issue_on = cert.get("issue_on", "controller")
        if issue_on not in ("controller", "host"):
            problems.append("%s: must be controller or host, got %r" % (_where(host, label, "issue_on"), issue_on))
        needs_controller = needs_controller or issue_on == "controller"
    if needs_controller and shared:
        problems.extend(_validate_shared(host, hv))
    return problems


def _validate_shared(host: str, hv: t.Mapping[str, t.Any]) -> list[str]:
    problems: list[str] = []
    acme = hv.get("certwatch_acme")
    if acme is None:
        problems.append("%s: not set; renew.yml needs at least directory" % _where(host, None, "certwatch_acme"))
    elif _check_dict(host, "certwatch_acme", acme, ACME_FIELDS, problems):
        if not _is_str(acme.get("directory")):
            problems.append("%s: must be the ACME directory URL" % _where(host, None, "certwatch_acme.directory"))
        for flag in ("terms_agreed", "ari"):
            if flag in acme and not isinstance(acme[flag], bool):
                problems.append("%s: must be true or false, got %r" % (_where(host, None, "certwatch_acme." + flag),
                                                                       acme[flag]))
    dns = hv.get("certwatch_dns")
    if dns is None:
        problems.append("%s: not set; renew.yml needs provider and its settings" % _where(host, None, "certwatch_dns"))
    elif _check_dict(host, "certwatch_dns", dns, DNS_FIELDS, problems):
        provider = dns.get("provider")
        if provider not in PROVIDERS:
            where = _where(host, None, "certwatch_dns.provider")
            problems.append("%s: must be one of %s, got %r" % (where, ", ".join(PROVIDERS), provider))
        elif not isinstance(dns.get(provider), t.Mapping):
            where = _where(host, None, "certwatch_dns." + provider)
            problems.append("%s: the settings of provider %s are missing" % (where, provider))
        if "nameservers" in dns and not (isinstance(dns["nameservers"], list) and all(_is_str(n) for n in dns["nameservers"])):
            problems.append("%s: must be a list of host[:port]" % _where(host, None, "certwatch_dns.nameservers"))
        if "propagation_timeout" in dns and not _is_int(dns["propagation_timeout"]):
            problems.append("%s: must be a number of seconds" % _where(host, None, "certwatch_dns.propagation_timeout"))
    policy = hv.get("certwatch_policy")
    if policy is not None:
        _check_dict(host, "certwatch_policy", policy, POLICY_FIELDS, problems)
    return problems


def validate_run(options: t.Mapping[str, t.Any]) -> list[str]:
    """Problems in the renew_* run variables."""
    problems: list[str] = []
    canary = options.get("canary", 1)
    if not _is_int(canary) or canary < 0:
        problems.append("renew_canary: must be a number of hosts (0 for no canary), got %r" % (canary,))
    batch = options.get("batch", "25%")
    if not (_is_int(batch) and batch > 0) and not (isinstance(batch, str) and _PERCENT_RE.match(batch)):
        problems.append("renew_batch: must be a number of hosts or a percentage such as \"25%%\", got %r" % (batch,))
    mfp = options.get("max_fail_percentage", 0)
    if not isinstance(mfp, (int, float)) or isinstance(mfp, bool) or not 0 <= mfp <= 100:
        problems.append("renew_max_fail_percentage: must be a number from 0 to 100, got %r" % (mfp,))
    limits = options.get("limits") or {}
    if not isinstance(limits, t.Mapping):
        problems.append("renew_limits: must be a dict such as %s" % json.dumps(DEFAULT_LIMITS))
    else:
        for key, hint in _unknown(limits, tuple(DEFAULT_LIMITS)):
            problems.append("renew_limits: unknown key %r%s" % (key, hint))
        for key, value in limits.items():
            if key in DEFAULT_LIMITS and (not _is_int(value) or value < 0):
                problems.append("renew_limits.%s: must be a whole number, got %r" % (key, value))
    names = options.get("names")
    if names is not None and not (isinstance(names, list) and all(_is_str(n) for n in names)):
        problems.append("renew_names: must be a list of certificate names, got %r" % (names,))
    return problems


def validate_inventory(hosts: t.Mapping[str, t.Mapping[str, t.Any]], options: t.Mapping[str, t.Any] | None = None) -> list[str]:
    """Every problem of the run variables and of every host's certificates (empty: the run may start)."""
    problems = validate_run(options or {})
    for host in hosts:
        problems.extend(validate_host(host, hosts[host]))
    return problems


# ----------------------------------------------------------------------------- normalisation


def set_slug(key: str) -> str:
    """A directory name for a name set: its first name and a short hash of the whole set."""
    first = key.split(",")[0].replace("*", "_wildcard")
    return "%s-%s" % (first[:60], hashlib.sha256(key.encode()).hexdigest()[:10])


def _probe(probe: t.Mapping[str, t.Any], name: str, domains: t.Sequence[str]) -> dict[str, t.Any]:
    """endpoint_info endpoint for a probe: host 127.0.0.1 and the first domain as SNI unless given."""
    out = dict(probe)
    out.setdefault("host", "127.0.0.1")
    out.setdefault("server_name", str(domains[0]).lower().rstrip("."))
    out.setdefault("name", "%s@%s:%s" % (name, out["host"], out.get("port")))
    return out


def normalize_certificates(host: str, hv: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """The host's certificates with every default filled in (validate first)."""
    out = []
    base = hv.get("certwatch_cert_dir")
    for cert in hv.get("certwatch_certificates") or []:
        name = cert["name"]
        folder = os.path.join(str(base), name) if base else os.path.dirname(str(cert["cert_path"]))
        probes = cert.get("probe")
        probes = [] if probes is None else (list(probes) if isinstance(probes, list) else [probes])
        entry = {
            "name": name,
            "domains": sorted({d.lower().rstrip(".") for d in cert["domains"]}),
            "set": set_key(cert["domains"]),
            "cert_path": cert.get("cert_path") or os.path.join(folder, "cert.pem"),
            "key_path": cert.get("key_path") or os.path.join(folder, "privkey.pem"),
            "chain_path": cert.get("chain_path") or os.path.join(folder, "chain.pem"),
            "fullchain_path": cert.get("fullchain_path") or os.path.join(folder, "fullchain.pem"),
            "owner": cert.get("owner"),
            "group": cert.get("group"),
            "mode": cert.get("mode"),
            "reload": dict(cert["reload"]) if cert.get("reload") else None,
            "probes": [_probe(p, name, cert["domains"]) for p in probes],
            "issue_on": cert.get("issue_on", "controller"),
            "in_place": bool(cert.get("in_place", False)),
        }
        entry["staging"] = os.path.join(os.path.dirname(entry["cert_path"]), ".ghostguard-next", name)
        out.append(entry)
    return out
