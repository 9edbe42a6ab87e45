# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The variables of renew.yml, rollback.yml and the certwatch role, and the checks that keep a typo from
changing what runs: an unknown ``renew_*``, ``rollback_*`` or ``certwatch_*`` variable (extra vars, group vars,
host vars) is refused with a did-you-mean, the renew_* values are checked, ``renew_names`` /
``rollback_names`` must name certificates of the hosts of the run, and a name set whose hosts ask for different
key types is refused (one name set has one key)."""

from __future__ import annotations

import difflib
import json
import re
import typing as t

from .._acme.cas import primary
from .inventory import _PERCENT_RE, _is_int, _is_str, _unknown, set_key

# The run variables of renew.yml (its header documents each default; README "Run variables").
RENEW_VARS = ("renew_hosts", "renew_names", "renew_canary", "renew_batch", "renew_max_fail_percentage", "renew_force",
              "renew_dry_run", "renew_key_per_host", "renew_host_keys", "renew_limits", "renew_store",
              "renew_store_host", "renew_report_dir", "renew_lock_wait", "renew_concurrency", "renew_probe_retries",
              "renew_probe_retry_delay", "renew_watch_retries", "renew_watch_retry_delay", "renew_watch_backoff",
              "renew_watch_max_delay")
ROLLBACK_VARS = ("rollback_hosts", "rollback_names", "rollback_to", "rollback_report_dir")
# The certwatch role's options (roles/certwatch/meta/argument_specs.yml; a unit test keeps them equal), the
# inventory model's certwatch_certificates, certwatch_acme, ... among them.
CERTWATCH_VARS = (
    "certwatch_acme", "certwatch_dns", "certwatch_policy", "certwatch_allowed_domains", "certwatch_cert_dir",
    "certwatch_certificates", "certwatch_mode", "certwatch_enabled", "certwatch_venv", "certwatch_python",
    "certwatch_venv_system_site_packages", "certwatch_python_packages", "certwatch_renew_python_packages",
    "certwatch_alidns_python_packages", "certwatch_wheelhouse", "certwatch_pip_extra_args",
    "certwatch_manage_os_packages", "certwatch_bin", "certwatch_config_path", "certwatch_secrets_dir",
    "certwatch_state_dir", "certwatch_metrics_dir", "certwatch_metrics_name", "certwatch_prove_retries",
    "certwatch_prove_retry_delay", "certwatch_prove_watch_retries", "certwatch_prove_watch_retry_delay",
    "certwatch_prove_watch_backoff", "certwatch_prove_watch_max_delay", "certwatch_reload_names",
    "certwatch_scheduler", "certwatch_interval", "certwatch_randomized_delay", "certwatch_cron_file",
    "certwatch_run_now", "certwatch_trust_bundle", "certwatch_trust_bundle_name")
# Names the playbooks set themselves (vars files, set_fact, register): an inventory that sets one would be
# overridden or would change the run, so it is refused like a typo.
PLAYBOOK_VARS = ("renew_opts", "renew_dry", "renew_store_dir", "renew_report_path", "renew_host_vars", "renew_members",
                 "renew_agent", "renew_go", "renew_plan", "renew_observed", "renew_lock", "renew_csr", "renew_issue",
                 "renew_store_at", "renew_ledger", "renew_bundles",
                 "renew_converged", "renew_report", "renew_prove", "renew_converge_args", "renew_problems",
                 "renew_mine", "renew_ari", "rollback_dir", "rollback_report", "rollback_problems")
KNOWN = RENEW_VARS + ROLLBACK_VARS + CERTWATCH_VARS
PREFIXES = ("renew_", "rollback_", "certwatch_")
_FAMILY = re.compile(r"^(renew|rollback|certwatch)_[a-z0-9]")  # certwatch__* are the role's internal variables


def _hosts_text(hosts: t.Sequence[str], total: int) -> str:
    if total > 1 and len(hosts) == total:
        return "every host of the run (extra vars or group_vars/all?)"
    shown = ", ".join(hosts[:3])
    return "host %s" % shown if len(hosts) == 1 else "hosts %s%s" % (shown, " and %d more" % (len(hosts) - 3)
                                                                     if len(hosts) > 3 else "")


def unknown_variables(names_by_host: t.Mapping[str, t.Iterable[str]], known: t.Sequence[str] = KNOWN) -> list[str]:
    """One problem per unknown renew_*/rollback_*/certwatch_* variable (with the hosts that have it and a
    did-you-mean), and per playbook-internal name an inventory sets."""
    where: dict[str, list[str]] = {}
    for host, names in names_by_host.items():
        for name in names:
            name = str(name)
            if _FAMILY.match(name) and name not in known:
                where.setdefault(name, []).append(str(host))
    problems = []
    total = len(names_by_host)
    for name in sorted(where):
        hosts = _hosts_text(where[name], total)
        if name in PLAYBOOK_VARS:
            problems.append("%s (set for %s): renew.yml and rollback.yml set this variable themselves; remove it "
                            "from the inventory and extra vars" % (name, hosts))
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        family = name.split("_", 1)[0]
        if close:
            problems.append("%s (set for %s): unknown variable; did you mean %s?" % (name, hosts, close[0]))
            continue
        listed = [k for k in known if k.startswith(family + "_")]
        problems.append("%s (set for %s): unknown variable; the %s_* variables are: %s"
                        % (name, hosts, family, ", ".join(listed)))
    return problems


def validate_run(options: t.Mapping[str, t.Any]) -> list[str]:
    """Problems in the renew_* run variables' values."""
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
    for flag in ("force", "dry_run", "key_per_host", "host_keys"):
        if flag in options and not isinstance(options[flag], bool):
            problems.append("renew_%s: must be true or false, got %r" % (flag, options[flag]))
    problems.extend(_limits_problems(options.get("limits") or {}))
    names = options.get("names")
    if names is not None and not (isinstance(names, list) and all(_is_str(n) for n in names)):
        problems.append("renew_names: must be a list of certificate names, got %r" % (names,))
    problems.extend(store_host_problems(options))
    return problems


def _limits_problems(limits: t.Any) -> list[str]:
    """Problems of ``renew_limits`` (a dict of DEFAULT_LIMITS' keys, each a whole number)."""
    from .ledger import DEFAULT_LIMITS  # renew.yml's run variables only

    if not isinstance(limits, t.Mapping):
        return ["renew_limits: must be a dict such as %s" % json.dumps(DEFAULT_LIMITS)]
    problems = ["renew_limits: unknown key %r%s" % (key, hint) for key, hint in _unknown(limits, tuple(DEFAULT_LIMITS))]
    for key, value in limits.items():
        if key in DEFAULT_LIMITS and (not _is_int(value) or value < 0):
            problems.append("renew_limits.%s: must be a whole number, got %r" % (key, value))
    return problems


_HOST_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:\[\]@-]*$")


def store_host_problems(options: t.Mapping[str, t.Any]) -> list[str]:
    """Problems of ``renew_store_host`` (one inventory host name, not a pattern) and of what it cannot go with."""
    host = options.get("store_host")
    if host is None:
        return []
    if not isinstance(host, str) or not _HOST_NAME.match(host):
        return ["renew_store_host: must be the name of one host (the host that holds the order ledger, the lock and "
                "the shared keys), not a pattern or a list, got %r" % (host,)]
    if options.get("host_keys") is True:
        return ["renew_store_host and renew_host_keys=true do not go together: a key made on a host is checked against "
                "the store on the controller, and with renew_store_host the store is on %s. Leave renew_host_keys "
                "unset (it defaults to false with renew_store_host: every key is made in the store) or set it false"
                % host]
    return []


def unmatched_names(variable: str, names: t.Sequence[str] | None,
                    certificates: t.Mapping[str, t.Sequence[t.Mapping[str, t.Any]]]) -> list[str]:
    """A problem for every name of *names* (renew_names, rollback_names) that no certificate of the run's hosts
    (host -> certwatch_certificates) has: a typo must never look like a run that had nothing to do."""
    if not names:
        return []
    have = sorted({str(c.get("name")) for certs in certificates.values() for c in certs or []
                   if isinstance(c, t.Mapping)})
    missing = [n for n in names if n not in have]
    if not missing:
        return []
    close = {n: difflib.get_close_matches(n, have, n=1) for n in missing}
    hints = "".join("; did you mean %s instead of %s?" % (close[n][0], n) for n in missing if close[n])
    return ["%s: %s matches no certificate of the %d host(s) of this run (their certificates: %s%s); nothing was "
            "changed" % (variable, ", ".join(missing), len(certificates), ", ".join(have) or "none", hints)]


def key_type_of(hv: t.Mapping[str, t.Any]) -> t.Any:
    """The key type of a host's certificates: its primary CA's ``key_type`` (certwatch_acme, a mapping or a list)."""
    return primary(hv.get("certwatch_acme")).get("key_type") or "ec-p256"


def key_type_problems(host: str, hv: t.Mapping[str, t.Any]) -> list[str]:
    from .._acme.keys import KEY_TYPES  # here, not at the top: _acme.keys loads cryptography, which the filter files
    # (imported by every Ansible worker that templates one of them) do not need otherwise

    key_type = key_type_of(hv)
    if key_type not in KEY_TYPES:
        close = difflib.get_close_matches(str(key_type), KEY_TYPES, n=1, cutoff=0.5)
        return ["host %s, field certwatch_acme.key_type: %r is not a key type; use one of %s%s"
                % (host, key_type, ", ".join(KEY_TYPES), " (did you mean %s?)" % close[0] if close else "")]
    return []


def members(hosts: t.Mapping[str, t.Mapping[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
    """Every name set the renew.yml orders (issue_on: controller) held by the hosts of the *whole* inventory
    (host -> its variables): ``{set: {"hosts": [...], "key_types": {host: key_type}}}``. Membership comes from the
    inventory, not from the play, so a --limit run orders a shared name set once, with its shared key."""
    out: dict[str, dict[str, t.Any]] = {}
    for host, hv in hosts.items():
        certs = hv.get("certwatch_certificates")
        if not isinstance(certs, list):
            continue
        for cert in certs:
            if not isinstance(cert, t.Mapping) or cert.get("issue_on", "controller") != "controller":
                continue
            domains = cert.get("domains")
            if not isinstance(domains, list) or not all(_is_str(d) for d in domains):
                continue
            entry = out.setdefault(set_key(domains), {"hosts": [], "key_types": {}})
            if host not in entry["hosts"]:
                entry["hosts"].append(str(host))
                entry["key_types"][str(host)] = key_type_of(hv)
    return out


def key_type_conflicts(sets: t.Mapping[str, t.Mapping[str, t.Any]]) -> list[str]:
    """A problem for every name set whose hosts ask for different key types (certwatch_acme.key_type)."""
    problems = []
    for key in sorted(sets):
        by_type: dict[str, list[str]] = {}
        for host, key_type in sets[key]["key_types"].items():
            by_type.setdefault(str(key_type), []).append(host)
        if len(by_type) > 1:
            asks = "; ".join("%s ask%s for %s" % (", ".join(hosts), "" if len(hosts) > 1 else "s", kt)
                             for kt, hosts in sorted(by_type.items()))
            problems.append("name set %s: its hosts disagree on certwatch_acme.key_type (%s); one name set has one "
                            "key: set the same key_type on all of them, or renew_key_per_host=true for a key per host"
                            % (key, asks))
    return problems
