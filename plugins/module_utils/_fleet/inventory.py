# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The inventory model shared by renew.yml, rollback.yml and the certwatch role: validation (every
problem names host, certificate and field) and the certificates with their defaults filled in."""

from __future__ import annotations

import hashlib
import os
import re
import typing as t

from .._acme import cas as _cas

# ----------------------------------------------------------------------------- the inventory model
# One schema of certwatch_certificates for renew.yml, rollback.yml, the converge module, the agent and the role
# (checked against its meta/argument_specs.yml by a test); "default" is what normalize_certificate() fills in.

CERT_SCHEMA: dict[str, dict[str, t.Any]] = {
    "name": {"type": "str", "required": True},
    "domains": {"type": "list", "elements": "str", "required": True},
    "cert_path": {"type": "path"},        # default <certwatch_cert_dir>/<name>/<DEFAULT_FILES[field]>
    "key_path": {"type": "path"},
    "chain_path": {"type": "path"},
    "fullchain_path": {"type": "path"},
    "owner": {"type": "str"},
    "group": {"type": "str"},
    "mode": {"type": "str"},
    "reload": {"type": "dict"},
    "probe": {"type": "raw"},             # one endpoint (dict) or a list; normalised as "probes"
    "issue_on": {"type": "str", "choices": ["controller", "host"], "default": "controller"},
    "in_place": {"type": "bool", "default": False},
    "keep": {"type": "int", "default": 3},
}
# The file a path defaults to, in <certwatch_cert_dir>/<name>/ (the same for renew.yml and the agent).
DEFAULT_FILES = {"cert_path": "cert.pem", "key_path": "privkey.pem", "chain_path": "chain.pem",
                 "fullchain_path": "fullchain.pem"}
# A probe: endpoint_info's options of one endpoint. host defaults to 127.0.0.1, port to 443, server_name to
# the first non-wildcard domain of the certificate.
PROBE_SCHEMA: dict[str, dict[str, t.Any]] = {
    "host": {"type": "str", "default": "127.0.0.1"},
    "port": {"type": "int", "default": 443},
    "server_name": {"type": "str"},
    "alpn": {"type": "list", "elements": "str"},
    "ca_bundle": {"type": "path"},
    "validate_certs": {"type": "bool"},
    "client_cert": {"type": "path"},
    "client_key": {"type": "path"},
    "timeout": {"type": "float"},
    "retries": {"type": "int"},
    "retry_delay": {"type": "float"},
    "name": {"type": "str"},
}
# How a service is proved after an install, a repair or a rollback: the one default set of renew.yml,
# rollback.yml, the converge module and the agent (constant waits after a signal, systemd or command reload; for
# reload {watch: true} growing waits, delay x backoff^(n-1) capped at max_delay, before it is called a ghost).
PROVE_DEFAULTS: dict[str, t.Any] = {"retries": 20, "retry_delay": 0.5, "watch_retries": 10, "watch_retry_delay": 0.5,
                                    "watch_backoff": 2.0, "watch_max_delay": 8.0}
CERT_FIELDS = tuple(CERT_SCHEMA)
PROBE_FIELDS = tuple(PROBE_SCHEMA)
ACME_FIELDS = ("name", "directory", "ca_bundle", "email", "terms_agreed", "account_key_content", "account_key_path",
               "eab_kid", "eab_hmac_key", "profile", "preferred_chain", "ari", "key_type", "timeout", "limits")
LIMIT_NAMES = ("per_registered_domain_week", "per_name_set_week", "orders_per_3h")   # _ledger.DEFAULT_LIMITS
DNS_FIELDS = ("provider", "alidns", "rfc2136", "nameservers", "propagation_timeout")
POLICY_FIELDS = ("renew_before", "renew_fraction", "leeway", "alert_before", "max_connection_age", "revocation_check")
RELOAD_KINDS = ("systemd", "signal", "command", "watch")
PROVIDERS = ("alidns", "rfc2136")
_CERT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_PERCENT_RE = re.compile(r"^\s*(\d+(\.\d+)?)\s*%\s*$")


def set_key(domains: t.Iterable[str]) -> str:
    """The name set of a certificate: its names lowercased, without trailing dot, sorted, unique."""
    return ",".join(sorted({d.lower().rstrip(".") for d in domains}))


def _where(host: str, cert: str | None, field: str) -> str:
    if cert is None:
        return "host %s, field %s" % (host, field)
    return "host %s, certificate %s, field %s" % (host, cert, field)


def _unknown(keys: t.Iterable[str], known: t.Sequence[str]) -> list[tuple[str, str]]:
    """(unknown key, hint) for every key not in *known*."""
    out = []
    for key in keys:
        if key not in known:
            import difflib  # only when something is wrong

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
        import signal  # only for a certificate reloaded by a signal

        name = str(value["signal"]).upper()
        if not _is_str(value["signal"]) or not hasattr(signal, name if name.startswith("SIG") else "SIG" + name):
            problems.append("%s.signal: %r is not a signal name such as HUP or USR1" % (where, value["signal"]))
        if not _is_str(value.get("pidfile")):
            problems.append("%s.pidfile: signal needs the pidfile of the process to signal" % where)
    if kind == "command" and (not isinstance(value["command"], list) or not value["command"]
                              or not all(_is_str(a) for a in value["command"])):
        problems.append("%s.command: must be a non-empty list of arguments (argv), not a shell string" % where)
    if kind == "watch" and value["watch"] is not True:
        problems.append("%s.watch: must be true (the service watches its own files)" % where)


_SCALARS: dict[str, t.Callable[[t.Any], bool]] = {
    "str": _is_str,
    "path": lambda v: _is_str(v) and str(v).startswith("/"),
    "int": _is_int,
    "bool": lambda v: isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
    "list": lambda v: isinstance(v, list) and all(_is_str(e) for e in v),
}
_EXPECTED = {"str": "a string", "path": "an absolute path", "int": "a whole number", "bool": "true or false",
             "float": "a number of seconds", "list": "a list of strings"}


def _check_probe(host: str, name: str, value: t.Any, problems: list[str]) -> None:
    where = _where(host, name, "probe")
    probes = value if isinstance(value, list) else [value]
    if not probes:
        problems.append("%s: an empty list; omit probe to skip the proof" % where)
    for probe in probes:
        if not isinstance(probe, t.Mapping):
            problems.append("%s: each probe must be a dict such as {port: 443}, got %s" % (where, type(probe).__name__))
            continue
        for key, hint in _unknown(probe, PROBE_FIELDS):
            problems.append("%s: unknown key %r%s; known keys: %s" % (where, key, hint, ", ".join(PROBE_FIELDS)))
        for key, spec in PROBE_SCHEMA.items():
            if key != "port" and probe.get(key) is not None and not _SCALARS[spec["type"]](probe[key]):
                problems.append("%s.%s: must be %s, got %r" % (where, key, _EXPECTED[spec["type"]], probe[key]))
            elif key == "server_name" and str(probe.get(key) or "").startswith("*"):
                problems.append("%s.server_name: %r is a wildcard; give a name it covers" % (where, probe[key]))
        port = probe.get("port", 443)
        if not _is_int(port) or not 0 < t.cast(int, port) < 65536:
            problems.append("%s.port: must be a port number (1-65535), got %r" % (where, port))


def validate_host(host: str, hv: t.Mapping[str, t.Any], shared: bool = True) -> list[str]:
    """Problems in one host's certwatch_* variables; each names host, certificate and field."""
    certs = hv.get("certwatch_certificates")
    if certs is None:
        return []
    problems = certificate_problems(host, certs, hv.get("certwatch_cert_dir"), hv.get("certwatch_allowed_domains"))
    needs_controller = isinstance(certs, list) and any(
        isinstance(c, t.Mapping) and c.get("issue_on", "controller") == "controller" for c in certs)
    if needs_controller and shared:
        problems.extend(_validate_shared(host, hv))
    return problems


def certificate_problems(host: str, certs: t.Any, cert_dir: t.Any = None, patterns: t.Any = None) -> list[str]:
    """Problems of a certwatch_certificates list (with certwatch_cert_dir and certwatch_allowed_domains): the
    one validation of the inventory model, for renew.yml, rollback.yml, the converge module and the agent."""
    if not isinstance(certs, list):
        return ["%s: must be a list of certificates, got %s" % (_where(host, None, "certwatch_certificates"),
                                                                type(certs).__name__)]
    problems: list[str] = []
    if cert_dir is not None and not (_is_str(cert_dir) and str(cert_dir).startswith("/")):
        problems.append("%s: must be an absolute directory, got %r" % (_where(host, None, "certwatch_cert_dir"), cert_dir))
    if patterns is not None and not (isinstance(patterns, list) and all(_is_str(p) for p in patterns)):
        problems.append("%s: must be a list of name patterns" % _where(host, None, "certwatch_allowed_domains"))
        patterns = None
    seen: set[str] = set()
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
        _check_certificate(host, label, as_entered(cert), cert_dir, patterns, problems)
    return problems


def as_entered(cert: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
    """A normalised certificate (the agent's configuration holds them) as the inventory would give it."""
    if "probes" not in cert:
        return cert
    out = {k: v for k, v in cert.items() if k not in ("probes", "set", "staging") and v is not None}
    if cert["probes"]:
        out["probe"] = cert["probes"]
    return out


# simple fields of a certificate: (field, its check, the problem when the check fails; %s the place, %r the value)
_FILE_RULES: tuple[tuple[str, t.Callable[[t.Any], bool], str], ...] = (
    ("owner", lambda v: _is_str(v) or _is_int(v), "%s: must be a user/group name or id, got %r"),
    ("group", lambda v: _is_str(v) or _is_int(v), "%s: must be a user/group name or id, got %r"),
    ("mode", lambda v: isinstance(v, str) and bool(re.match(r"^0?[0-7]{3}$", v)),
     "%s: must be an octal string such as \"0644\" (quoted), got %r"),
)
_OPTION_RULES: tuple[tuple[str, t.Callable[[t.Any], bool], str], ...] = (
    ("in_place", lambda v: isinstance(v, bool),
     "%s: must be true or false (true: deploy rewrites the files in place, for a service watching the files "
     "themselves), got %r"),
    ("keep", lambda v: _is_int(v) and 1 <= v <= 100, "%s: must be the number of generations to keep (1-100), got %r"),
    ("issue_on", lambda v: v in ("controller", "host"), "%s: must be controller or host, got %r"),
)


def _apply_rules(host: str, label: str, cert: t.Mapping[str, t.Any],
                 rules: tuple[tuple[str, t.Callable[[t.Any], bool], str], ...], problems: list[str]) -> None:
    """One problem per field of *rules* that *cert* sets to a value its check refuses."""
    for field, ok, message in rules:
        if field in cert and not ok(cert[field]):
            problems.append(message % (_where(host, label, field), cert[field]))


def _check_domains(host: str, label: str, domains: t.Any, patterns: t.Any, problems: list[str]) -> None:
    """The names of a certificate: a non-empty list, each one a CA issues for and inside allowed_domains."""
    if not isinstance(domains, list) or not domains or not all(_is_str(d) for d in domains):
        problems.append("%s: must be a non-empty list of DNS names, got %r" % (_where(host, label, "domains"), domains))
        return
    from .._domains import allowed, name_problem  # acme_dns01's rules: what a CA issues for, allowed_domains

    for domain in domains:
        if why := name_problem(domain, suffixes=None):
            problems.append("%s: %s" % (_where(host, label, "domains"), why))
        elif patterns is not None and not allowed(domain, patterns):
            problems.append("%s: %r is outside certwatch_allowed_domains (%s)"
                            % (_where(host, label, "domains"), domain, ", ".join(patterns)))


def _check_files(host: str, label: str, cert: t.Mapping[str, t.Any], cert_dir: t.Any, problems: list[str]) -> None:
    """Where the files go (absolute paths, or certwatch_cert_dir to place them under) and who owns them."""
    for field in DEFAULT_FILES:
        value = cert.get(field)
        if value is not None and not _SCALARS["path"](value):
            problems.append("%s: must be an absolute path, got %r" % (_where(host, label, field), value))
    if cert.get("cert_path") is None and cert.get("fullchain_path") is None and cert_dir is None:
        problems.append("%s: not set and no certwatch_cert_dir to place it under" % _where(host, label, "cert_path"))
    _apply_rules(host, label, cert, _FILE_RULES, problems)


def _check_certificate(host: str, label: str, cert: t.Mapping[str, t.Any], cert_dir: t.Any, patterns: t.Any,
                       problems: list[str]) -> None:
    """Every problem of one certificate entry, in the order of its fields' documentation."""
    for key, hint in _unknown(cert, CERT_FIELDS):
        problems.append("%s: unknown field%s; known fields: %s" % (_where(host, label, key), hint, ", ".join(CERT_FIELDS)))
    _check_domains(host, label, cert.get("domains"), patterns, problems)
    _check_files(host, label, cert, cert_dir, problems)
    if cert.get("reload") is not None:
        _check_reload(host, label, cert["reload"], problems)
    if cert.get("probe") is not None:
        _check_probe(host, label, cert["probe"], problems)
    _apply_rules(host, label, cert, _OPTION_RULES, problems)


def _acme_problems(host: str, acme: t.Any) -> list[str]:
    """certwatch_acme: one CA (a mapping) or the CAs in order, primary first; each with its directory."""
    problems: list[str] = []

    def check_ca(field: str, ca: t.Any) -> bool:
        if not _check_dict(host, field, ca, ACME_FIELDS, problems):
            return False
        if not _is_str(ca.get("directory")):
            problems.append("%s: must be the ACME directory URL" % _where(host, None, field + ".directory"))
        for flag in ("terms_agreed", "ari"):
            if flag in ca and not isinstance(ca[flag], bool):
                problems.append("%s: must be true or false, got %r" % (_where(host, None, "%s.%s" % (field, flag)), ca[flag]))
        return True

    if acme is None:
        problems.append("%s: not set; renew.yml needs at least directory" % _where(host, None, "certwatch_acme"))
    elif isinstance(acme, list):   # the CAs in order, primary first
        problems.extend(_cas.problems(lambda field: _where(host, None, field), acme, check_ca, LIMIT_NAMES))
    elif check_ca("certwatch_acme", acme) and "limits" in acme:
        problems.extend(_cas.limit_problems(_where(host, None, "certwatch_acme.limits"), acme["limits"], LIMIT_NAMES))
    return problems


def _dns_problems(host: str, dns: t.Any) -> list[str]:
    """certwatch_dns: a known provider with its settings, nameservers, propagation_timeout."""
    problems: list[str] = []
    if dns is None:
        problems.append("%s: not set; renew.yml needs provider and its settings" % _where(host, None, "certwatch_dns"))
        return problems
    if not _check_dict(host, "certwatch_dns", dns, DNS_FIELDS, problems):
        return problems
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
    return problems


def _validate_shared(host: str, hv: t.Mapping[str, t.Any]) -> list[str]:
    """The variables every host that renews from the controller shares: certwatch_acme, _dns and _policy."""
    problems = _acme_problems(host, hv.get("certwatch_acme")) + _dns_problems(host, hv.get("certwatch_dns"))
    policy = hv.get("certwatch_policy")
    if policy is not None:
        _check_dict(host, "certwatch_policy", policy, POLICY_FIELDS, problems)
    return problems


def validate_inventory(hosts: t.Mapping[str, t.Mapping[str, t.Any]], options: t.Mapping[str, t.Any] | None = None) -> list[str]:
    """Every problem of the run variables and of every host's certificates (empty: the run may start)."""
    from .run_vars import key_type_problems, validate_run  # renew.yml's run variables only

    problems = validate_run(options or {})
    for host in hosts:
        problems.extend(validate_host(host, hosts[host]))
        problems.extend(key_type_problems(host, hosts[host]))
    return problems


# ----------------------------------------------------------------------------- normalisation


def set_slug(key: str) -> str:
    """A directory name for a name set: its first name and a short hash of the whole set."""
    first = key.split(",")[0].replace("*", "_wildcard")
    return "%s-%s" % (first[:60], hashlib.sha256(key.encode()).hexdigest()[:10])


def probe_server_name(domains: t.Sequence[str]) -> str:
    """The SNI a probe sends when none is given (A-label form): the first non-wildcard domain; for a certificate of
    wildcards only, a name its first wildcard covers (``*.example.com`` -> ``ghostguard-probe.example.com``)."""
    from .._domains import ascii_form

    names = [ascii_form(d) for d in domains]
    plain = [n for n in names if not n.startswith("*")]
    return plain[0] if plain else "ghostguard-probe." + names[0][2:]


def _probe(probe: t.Mapping[str, t.Any], name: str, domains: t.Sequence[str]) -> dict[str, t.Any]:
    """One endpoint_info endpoint: host 127.0.0.1, port 443, SNI :func:`probe_server_name` unless given."""
    out = {k: v for k, v in probe.items() if v is not None}
    out.setdefault("host", PROBE_SCHEMA["host"]["default"])
    out.setdefault("port", PROBE_SCHEMA["port"]["default"])
    out["server_name"] = probe_server_name([out["server_name"]] if out.get("server_name") else domains)
    out.setdefault("name", "%s@%s:%s" % (name, out["host"], out["port"]))
    return out


def normalize_certificate(cert: t.Mapping[str, t.Any], cert_dir: str | None = None) -> dict[str, t.Any]:
    """One certificate of the inventory model with every default filled in (validate first). Idempotent: a
    normalised entry (with ``probes`` instead of ``probe``) normalises to itself."""
    name = str(cert["name"])
    anchor = cert.get("cert_path") or cert.get("fullchain_path")
    folder = os.path.join(str(cert_dir), name) if cert_dir else os.path.dirname(str(anchor))
    raw = cert.get("probes") if "probes" in cert else cert.get("probe")
    probes = [] if raw is None else (list(raw) if isinstance(raw, list) else [raw])
    from .._domains import ascii_form  # the names in A-label form (validated first)

    entry: dict[str, t.Any] = {"name": name, "domains": sorted({ascii_form(d) for d in cert["domains"]})}
    entry["set"] = set_key(entry["domains"])
    for field, file_name in DEFAULT_FILES.items():
        entry[field] = cert.get(field) or os.path.join(folder, file_name)
    entry.update({
        "owner": cert.get("owner"),
        "group": cert.get("group"),
        "mode": cert.get("mode"),
        "reload": dict(cert["reload"]) if cert.get("reload") else None,
        "probes": [_probe(p, name, list(cert["domains"])) for p in probes],
        "issue_on": cert.get("issue_on") or CERT_SCHEMA["issue_on"]["default"],
        "in_place": bool(cert.get("in_place", CERT_SCHEMA["in_place"]["default"])),
        "keep": int(cert.get("keep") or CERT_SCHEMA["keep"]["default"]),
    })
    entry["staging"] = os.path.join(os.path.dirname(entry["cert_path"]), ".ghostguard-next", name)
    return entry


def normalize_certificates(host: str, hv: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """The host's certificates (``certwatch_certificates`` of *hv*) with every default filled in (validate first)."""
    del host  # the same defaults on every host
    base = hv.get("certwatch_cert_dir")
    return [normalize_certificate(cert, base) for cert in hv.get("certwatch_certificates") or []]
