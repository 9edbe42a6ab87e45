# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet plan of renew.yml: inventory validation, name sets, batches, the rate-limit budget
against the order ledger, and the run report.

Plain Python (no Ansible import): the filters in ``plugins/filter/plan.py`` call it, the
``renew_store`` module keeps the ledger and the lock, the benchmarks call it directly.

    problems = validate_inventory({host: hostvars}, run_options)     # [] when the run may start
    certs = normalize_certificates(host, hostvars)                    # defaults filled in
    plan = build_plan(hosts, options, ledger_entries)                 # one entry per name set
    report = build_report(plan, outcomes)                             # renewed/unchanged/failed...
"""

from __future__ import annotations

import datetime as _dt
import difflib
import errno
import hashlib
import json
import math
import os
import re
import time
import typing as t

from ._errors import FileSystemError, InputError

# ----------------------------------------------------------------------------- the inventory model

CERT_FIELDS = ("name", "domains", "cert_path", "key_path", "chain_path", "fullchain_path", "owner", "group",
               "mode", "reload", "probe", "issue_on")
ACME_FIELDS = ("directory", "ca_bundle", "email", "terms_agreed", "account_key_content", "account_key_path",
               "eab_kid", "eab_hmac_key", "profile", "preferred_chain", "ari", "key_type", "timeout")
DNS_FIELDS = ("provider", "alidns", "rfc2136", "nameservers", "propagation_timeout")
POLICY_FIELDS = ("renew_before", "renew_fraction", "leeway", "alert_before", "max_connection_age")
PROBE_FIELDS = ("host", "port", "server_name", "alpn", "ca_bundle", "timeout", "retries", "retry_delay")
RELOAD_KINDS = ("systemd", "signal", "command", "watch")
PROVIDERS = ("alidns", "rfc2136")
DEFAULT_LIMITS = {"per_registered_domain_week": 50, "per_name_set_week": 5, "orders_per_3h": 300}
WEEK = 7 * 86400
THREE_HOURS = 3 * 3600
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


def set_key(domains: t.Iterable[str]) -> str:
    """The name set of a certificate: its names lowercased, without trailing dot, sorted, unique."""
    return ",".join(sorted({d.lower().rstrip(".") for d in domains}))


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
        }
        entry["staging"] = os.path.join(os.path.dirname(entry["cert_path"]), ".ghostguard-next", name)
        out.append(entry)
    return out


# ----------------------------------------------------------------------------- batches


def _count(spec: t.Any, total: int) -> int:
    """A serial value as Ansible resolves it: a number, or a percentage of *total* (at least 1)."""
    if isinstance(spec, str):
        match = _PERCENT_RE.match(spec)
        if match:
            return int(float(match.group(1)) / 100.0 * total) or 1
        return int(spec)
    return int(spec)


def serial_list(canary: int, batch: t.Any) -> list[t.Any]:
    """The play's ``serial`` list: the canary batch (when > 0), then the batch size."""
    return ([canary] if canary > 0 else []) + [batch]


def batches(hosts: t.Sequence[str], canary: int, batch: t.Any) -> list[list[str]]:
    """Split *hosts* the way ``serial: serial_list(canary, batch)`` does."""
    specs = serial_list(canary, batch)
    out: list[list[str]] = []
    rest = list(hosts)
    index = 0
    while rest:
        size = _count(specs[min(index, len(specs) - 1)], len(hosts))
        if size <= 0:
            size = len(rest)
        out.append(rest[:size])
        rest = rest[size:]
        index += 1
    return out


# ----------------------------------------------------------------------------- the ledger and the budget


def registered_domain(name: str) -> str:
    """The registered domain of a name, approximated by its last two labels (no public suffix list)."""
    labels = name.lower().rstrip(".").lstrip("*.").split(".")
    return ".".join(labels[-2:])


def parse_time(value: str) -> float:
    moment = _dt.datetime.strptime(value.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z")
    return moment.timestamp()


def iso(epoch: float) -> str:
    return _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_ledger(path: str) -> list[dict[str, t.Any]]:
    """The order ledger (a JSON list); empty when the file does not exist yet."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise InputError("the order ledger %s is unreadable (%s); fix or move it away (it only feeds the "
                         "rate-limit budget)" % (path, exc)) from None
    if not isinstance(data, list):
        raise InputError("the order ledger %s is not a JSON list; fix or move it away" % path)
    return [e for e in data if isinstance(e, dict)]


def budget(planned: t.Sequence[t.Sequence[str]], ledger: t.Sequence[t.Mapping[str, t.Any]],
           limits: t.Mapping[str, t.Any] | None = None, now: float | None = None) -> dict[str, t.Any]:
    """Check the planned orders (each a list of names) against the CA's limits and the ledger.

    Ledger entries that carried ARI ``replaces`` are exempt, as at Let's Encrypt. Planned orders
    count in full (whether the CA will accept ``replaces`` is known only when ordering).
    """
    now = time.time() if now is None else now
    lim = dict(DEFAULT_LIMITS)
    lim.update({k: int(v) for k, v in (limits or {}).items() if k in DEFAULT_LIMITS})
    week: list[t.Mapping[str, t.Any]] = []
    recent = 0
    exempt = 0
    for entry in ledger:
        try:
            age = now - parse_time(str(entry["time"]))
        except (KeyError, ValueError):
            continue
        if entry.get("replaces"):
            if age < WEEK:
                exempt += 1
            continue
        if age < WEEK:
            week.append(entry)
        if age < THREE_HOURS:
            recent += 1
    checks: list[dict[str, t.Any]] = []
    orders_total = recent + len(planned)
    checks.append({"limit": "orders_per_3h", "scope": "account", "used": recent, "planned": len(planned),
                   "max": lim["orders_per_3h"], "ok": orders_total <= lim["orders_per_3h"]})
    per_set: dict[str, int] = {}
    for names in planned:
        key = set_key(names)
        per_set[key] = per_set.get(key, 0) + 1
    for key, count in sorted(per_set.items()):
        used = sum(1 for e in week if set_key(e.get("domains", [])) == key)
        checks.append({"limit": "per_name_set_week", "scope": key, "used": used, "planned": count,
                       "max": lim["per_name_set_week"], "ok": used + count <= lim["per_name_set_week"]})
    per_domain: dict[str, int] = {}
    for names in planned:
        for reg in sorted({registered_domain(n) for n in names}):
            per_domain[reg] = per_domain.get(reg, 0) + 1
    for reg, count in sorted(per_domain.items()):
        used = sum(1 for e in week if reg in {registered_domain(n) for n in e.get("domains", [])})
        checks.append({"limit": "per_registered_domain_week", "scope": reg, "used": used, "planned": count,
                       "max": lim["per_registered_domain_week"], "ok": used + count <= lim["per_registered_domain_week"]})
    over = [c for c in checks if not c["ok"]]
    return {
        "ok": not over,
        "limits": lim,
        "checks": checks,
        "exempt_orders_week": exempt,
        "refused": ["%s for %s: %d used + %d planned > %d allowed" % (c["limit"], c["scope"], c["used"], c["planned"],
                                                                      c["max"]) for c in over],
    }


def record_orders(path: str, entries: t.Sequence[t.Mapping[str, t.Any]]) -> list[dict[str, t.Any]]:
    """Append *entries* to the ledger under an exclusive lock (concurrent slices); drop entries older than a week."""
    import fcntl

    folder = os.path.dirname(path) or "."
    os.makedirs(folder, mode=0o700, exist_ok=True)
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        current = load_ledger(path)
        now = time.time()
        kept = []
        for entry in current:
            try:
                if now - parse_time(str(entry["time"])) < WEEK:
                    kept.append(entry)
            except (KeyError, ValueError):
                continue
        kept.extend(dict(e) for e in entries)
        tmp = "%s.%d.tmp" % (path, os.getpid())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(kept, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    return kept


# ----------------------------------------------------------------------------- the issue lock


def acquire_lock(path: str, owner: str, wait: float, stale_after: float) -> dict[str, t.Any]:
    """Take the store's issue lock (a file created with O_EXCL). Waits up to *wait* seconds; a lock older
    than *stale_after* seconds is taken over (its holder died). Returns what happened."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, mode=0o700, exist_ok=True)
    deadline = time.monotonic() + wait
    waited = 0.0
    started = time.monotonic()
    broke = None
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise FileSystemError("cannot create the lock %s: %s" % (path, exc.strerror)) from None
            holder = _read_lock(path)
            if holder.get("owner") == owner:
                return {"acquired": True, "waited": 0.0, "holder": owner, "broke_stale": None}
            try:
                age = time.time() - os.stat(path).st_mtime
            except FileNotFoundError:
                continue
            if age > stale_after:
                broke = holder.get("owner", "unknown")
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
                continue
            if time.monotonic() >= deadline:
                raise FileSystemError(
                    "the renew_store lock %s is held by %s (for %.0f s); another renewal run (or AWX slice) is "
                    "issuing. Wait for it, or remove the file if that run is dead" % (path, holder.get("owner", "?"), age)
                ) from None
            time.sleep(0.2)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"owner": owner, "pid": os.getpid(), "time": iso(time.time())}, handle)
        waited = time.monotonic() - started
        return {"acquired": True, "waited": round(waited, 3), "holder": owner, "broke_stale": broke}


def _read_lock(path: str) -> dict[str, t.Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def release_lock(path: str, owner: str) -> bool:
    """Remove the lock when *owner* holds it; returns whether it was removed."""
    if _read_lock(path).get("owner") != owner:
        return False
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


# ----------------------------------------------------------------------------- the plan


def _expiry_index(result: t.Mapping[str, t.Any] | None) -> tuple[dict[str, t.Any], dict[str, str]]:
    certs: dict[str, t.Any] = {}
    errors: dict[str, str] = {}
    if not result:
        return certs, errors
    for desc in result.get("certificates") or []:
        certs[desc.get("path")] = desc
    for err in result.get("errors") or []:
        errors[err.get("path")] = err.get("error", "unreadable")
    return certs, errors


def _why(cert: t.Mapping[str, t.Any], certs: t.Mapping[str, t.Any], errors: t.Mapping[str, str],
         force: bool) -> tuple[bool, str, dict[str, t.Any] | None]:
    """(due, why, description) of one certificate from its host's expiry_info result."""
    desc = certs.get(cert["cert_path"])
    if force:
        return True, "forced", desc
    if desc is None:
        error = errors.get(cert["cert_path"], "not found")
        return True, "missing or unreadable (%s)" % error, None
    names = {s[4:].lower() for s in desc.get("sans", []) if str(s).startswith("DNS:")}
    if names and names != set(cert["domains"]):
        return True, "names changed", desc
    if desc.get("due") or desc.get("status") in ("expired", "critical", "invalid", "not_yet_valid"):
        reasons = ",".join(desc.get("reasons") or []) or desc.get("status", "due")
        return True, "%s, not_after %s" % (reasons, desc.get("not_after")), desc
    return False, "ok until %s (renew at %s)" % (desc.get("not_after"), desc.get("renew_at")), desc


def build_plan(hosts: t.Mapping[str, t.Mapping[str, t.Any]], options: t.Mapping[str, t.Any],
               ledger: t.Sequence[t.Mapping[str, t.Any]] = (), now: float | None = None) -> dict[str, t.Any]:
    """Plan one run.

    *hosts* maps host name (in inventory order) to ``{"certificates": normalize_certificates(...),
    "expiry": expiry_info result, "unreachable": bool}``; *options*: ``names``, ``force``,
    ``key_per_host``, ``host_keys`` (default true: a name set held by one host gets its key on that host;
    false: every key is made on the controller, as AWX job slicing needs), ``canary``, ``batch``, ``limits``,
    ``store``.
    """
    now = time.time() if now is None else now
    only = set(options.get("names") or [])
    force = bool(options.get("force"))
    per_host = bool(options.get("key_per_host"))
    host_keys = options.get("host_keys", True) is not False
    store = str(options.get("store") or ".")
    skipped: list[dict[str, t.Any]] = []
    sets: dict[str, dict[str, t.Any]] = {}
    for host, data in hosts.items():
        certs, errors = _expiry_index(data.get("expiry"))
        for cert in data.get("certificates") or []:
            if only and cert["name"] not in only:
                continue
            if cert["issue_on"] != "controller":
                skipped.append({"host": host, "name": cert["name"], "domains": cert["domains"],
                                "reason": "issue_on: host (renewed by the certwatch agent)"})
                continue
            if data.get("unreachable"):
                skipped.append({"host": host, "name": cert["name"], "domains": cert["domains"],
                                "reason": "unreachable: %s" % data.get("msg", "no connection")})
                continue
            due, why, desc = _why(cert, certs, errors, force)
            entry = sets.setdefault(cert["set"], {"set": cert["set"], "domains": cert["domains"], "holders": [],
                                                  "due": False, "why": []})
            entry["holders"].append({"host": host, "name": cert["name"], "due": due, "why": why,
                                     "fingerprint": (desc or {}).get("fingerprint_sha256"),
                                     "not_after": (desc or {}).get("not_after")})
            if due:
                entry["due"] = True
                entry["why"].append("%s/%s: %s" % (host, cert["name"], why))
    orders: list[dict[str, t.Any]] = []
    deploys: dict[str, list[dict[str, t.Any]]] = {}
    unchanged: list[dict[str, t.Any]] = []
    for key in sorted(sets):
        entry = sets[key]
        holders = entry["holders"]
        if not entry["due"]:
            entry["mode"] = "none"
            unchanged.extend({"host": h["host"], "name": h["name"], "domains": entry["domains"],
                              "not_after": h["not_after"], "why": h["why"]} for h in holders)
            continue
        single = len(holders) == 1
        if per_host:
            entry["mode"] = "per_host"
        elif single and host_keys:
            entry["mode"] = "host_key"
        else:
            entry["mode"] = "shared_key"
        if entry["mode"] == "shared_key":
            order_ids = ["set:" + key]
            orders.append({"id": order_ids[0], "set": key, "domains": entry["domains"], "mode": "shared_key",
                           "hosts": [h["host"] for h in holders], "source_host": holders[0]["host"],
                           "store": os.path.join(store, "sets", set_slug(key)), "force": force})
            for holder in holders:
                deploys.setdefault(holder["host"], []).append({"name": holder["name"], "order": order_ids[0],
                                                               "mode": "shared_key"})
        else:
            for holder in holders:
                oid = "host:%s:%s" % (holder["host"], holder["name"])
                orders.append({"id": oid, "set": key, "domains": entry["domains"], "mode": entry["mode"],
                               "hosts": [holder["host"]], "host": holder["host"], "name": holder["name"],
                               "source_host": holder["host"],
                               "store": os.path.join(store, "hosts", holder["host"], holder["name"]),
                               "force": force or entry["mode"] == "host_key"})
                deploys.setdefault(holder["host"], []).append({"name": holder["name"], "order": oid,
                                                               "mode": entry["mode"]})
    canary = int(options.get("canary", 1))
    batch = options.get("batch", "25%")
    roll = [h for h in hosts if h in deploys]
    plan_batches = batches(roll, canary, batch)
    host_batch = {h: i + 1 for i, b in enumerate(plan_batches) for h in b}
    for entry in sets.values():
        entry["batches"] = sorted({host_batch[h["host"]] for h in entry["holders"] if h["host"] in host_batch})
    verdict = budget([o["domains"] for o in orders], ledger, options.get("limits"), now)
    return {
        "generated_at": iso(now),
        "sets": [sets[k] for k in sorted(sets)],
        "orders": orders,
        "deploys": deploys,
        "roll": roll,
        "batches": plan_batches,
        "host_batch": host_batch,
        "serial": serial_list(canary, batch),
        "unchanged": unchanged,
        "skipped": skipped,
        "budget": verdict,
        "summary": {"name_sets": len(sets), "due_sets": sum(1 for s in sets.values() if s["due"]),
                    "orders": len(orders), "hosts_to_roll": len(roll), "batches": len(plan_batches),
                    "skipped": len(skipped)},
    }


def _table(rows: t.Sequence[t.Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def plan_table(plan: t.Mapping[str, t.Any]) -> str:
    """The plan as text: one row per name set (hosts, why due, batch), then the budget verdict."""
    rows: list[tuple[str, ...]] = [("NAME SET", "HOSTS", "ACTION", "BATCH", "WHY")]
    for entry in plan["sets"]:
        hosts = ",".join(sorted({h["host"] for h in entry["holders"]}))
        action = {"none": "unchanged", "shared_key": "1 order, shared key", "host_key": "1 order, key on host",
                  "per_host": "%d orders, key per host" % len(entry["holders"])}[entry["mode"]]
        why = "; ".join(entry["why"]) if entry["due"] else entry["holders"][0]["why"]
        batches_ = ",".join(str(b) for b in entry.get("batches", [])) or "-"
        rows.append((entry["set"], hosts, action, batches_, why))
    lines = _table(rows)
    for skip in plan["skipped"]:
        lines.append("skipped: %s/%s (%s)" % (skip["host"], skip["name"], skip["reason"]))
    summary = plan["summary"]
    lines.append("%d name sets, %d due, %d orders, %d hosts to roll in %d batches %s"
                 % (summary["name_sets"], summary["due_sets"], summary["orders"], summary["hosts_to_roll"],
                    summary["batches"], " | ".join("[%s]" % ",".join(b) for b in plan["batches"])))
    verdict = plan["budget"]
    if verdict["ok"]:
        lines.append("rate limits: ok (%s)" % ", ".join(
            "%s %s %d+%d/%d" % (c["limit"], c["scope"], c["used"], c["planned"], c["max"]) for c in verdict["checks"][:4]))
    else:
        lines.append("rate limits: REFUSED - " + "; ".join(verdict["refused"]))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the report


def build_report(plan: t.Mapping[str, t.Any], outcomes: t.Mapping[str, t.Sequence[t.Mapping[str, t.Any]]],
                 issued: t.Mapping[str, t.Mapping[str, t.Any]] | None = None,
                 generated_at: str | None = None) -> dict[str, t.Any]:
    """One row per (host, certificate): renewed, unchanged, failed, rolled_back, skipped or stopped."""
    issued = issued or {}
    rows: list[dict[str, t.Any]] = []
    for host, items in plan["deploys"].items():
        done = {o.get("name"): o for o in outcomes.get(host) or []}
        for item in items:
            outcome = done.get(item["name"])
            order = issued.get(item["order"], {})
            if outcome is None:
                if order and not order.get("ok", False):
                    outcome = {"outcome": "failed", "reason": "issue failed: %s" % order.get("msg", "unknown error")}
                else:
                    outcome = {"outcome": "stopped", "reason": "not attempted: an earlier batch failed"}
            row = {"host": host, "name": item["name"], "batch": plan["host_batch"].get(host), "order": item["order"],
                   "mode": item["mode"]}
            row.update({k: v for k, v in outcome.items() if k not in ("key", "key_content")})
            rows.append(row)
    for entry in plan["unchanged"]:
        rows.append({"host": entry["host"], "name": entry["name"], "outcome": "unchanged", "reason": entry["why"],
                     "not_after": entry["not_after"]})
    for entry in plan["skipped"]:
        kind = "failed" if entry["reason"].startswith("unreachable") else "skipped"
        rows.append({"host": entry["host"], "name": entry["name"], "outcome": kind, "reason": entry["reason"]})
    rows.sort(key=lambda r: (["failed", "rolled_back", "stopped", "renewed", "skipped", "unchanged"].index(r["outcome"])
                             if r["outcome"] in ("failed", "rolled_back", "stopped", "renewed", "skipped", "unchanged")
                             else 9, r["host"], r["name"]))
    counts: dict[str, int] = {k: 0 for k in ("renewed", "unchanged", "failed", "rolled_back", "stopped", "skipped")}
    for row in rows:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    orders = [{"id": oid, "ok": o.get("ok"), "ordered": o.get("ordered"), "reused": o.get("reused"),
               "msg": o.get("msg"), "not_after": o.get("not_after")} for oid, o in issued.items()]
    failed_hosts = sorted({r["host"] for r in rows if r["outcome"] in ("failed", "rolled_back")})
    return {
        "generated_at": generated_at or iso(time.time()),
        "rows": rows,
        "counts": counts,
        "orders": orders,
        "orders_placed": sum(1 for o in issued.values() if o.get("ordered")),
        "failed_hosts": failed_hosts,
        "ok": not failed_hosts,
        "batches": plan["batches"],
    }


def build_rollback_report(outcomes: t.Mapping[str, t.Sequence[t.Mapping[str, t.Any]]],
                          generated_at: str | None = None) -> dict[str, t.Any]:
    """The rollback playbook's report: one row per (host, certificate); a rollback is the wanted outcome here."""
    rows = [dict(o, host=host) for host, items in outcomes.items() for o in items]
    rows.sort(key=lambda r: (r["outcome"] != "failed", r["host"], r["name"]))
    counts = {k: 0 for k in ("renewed", "unchanged", "failed", "rolled_back", "stopped", "skipped")}
    for row in rows:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    failed_hosts = sorted({r["host"] for r in rows if r["outcome"] == "failed"})
    return {"generated_at": generated_at or iso(time.time()), "rows": rows, "counts": counts, "orders": [],
            "orders_placed": 0, "failed_hosts": failed_hosts, "ok": not failed_hosts, "batches": []}


def report_table(report: t.Mapping[str, t.Any]) -> str:
    rows: list[tuple[str, ...]] = [("OUTCOME", "HOST", "CERTIFICATE", "BATCH", "NOT AFTER", "SERVED", "REASON")]
    for row in report["rows"]:
        served = "-"
        if row.get("proved") is True:
            served = "proved"
        elif row.get("proved") is False:
            served = "NOT proved"
        rows.append((row["outcome"].upper(), row["host"], row["name"], str(row.get("batch") or "-"),
                     str(row.get("not_after") or "-"), served, str(row.get("reason") or "")))
    lines = _table(rows)
    counts = report["counts"]
    lines.append("%d renewed, %d unchanged, %d failed, %d rolled back, %d stopped, %d skipped; %d orders placed"
                 % (counts["renewed"], counts["unchanged"], counts["failed"], counts["rolled_back"], counts["stopped"],
                    counts["skipped"], report["orders_placed"]))
    return "\n".join(lines)


def percent_failed(done: int, failed: int) -> float:
    return 0.0 if done == 0 else math.floor(failed * 10000.0 / done) / 100.0
