# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the renew and rollback playbooks: inventory validation, the fleet plan, acme_dns01
arguments per order, and the run report. The logic is in module_utils/_fleet/plan.py.

Ansible imports every filter file of a collection in every worker process that templates any one of its filters
(renew.yml's per-host tasks use renew_select and renew_converge_args only), so the planning, the ledger and the
report are imported by the filters that use them, when they run."""

from __future__ import annotations

import os
import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.ghostguard.certs.plugins.filter.inventory import name_rules
from ansible_collections.ghostguard.certs.plugins.filter.inventory import plain as _plain
from ansible_collections.ghostguard.certs.plugins.module_utils import _time
from ansible_collections.ghostguard.certs.plugins.module_utils._acme import cas as _cas
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertsError
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import inventory as _inventory
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import reuse as _reuse
from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import run_vars as _run_vars

HOST_KEYS = ("certwatch_certificates", "certwatch_cert_dir", "certwatch_allowed_domains", "certwatch_acme",
             "certwatch_dns", "certwatch_policy")
TRUE = ("1", "true", "yes", "on", "y")
FALSE = ("0", "false", "no", "off", "n", "")


def _host_vars(hosts: t.Any, extra: t.Sequence[str] = ()) -> dict[str, dict[str, t.Any]]:
    if not isinstance(hosts, t.Mapping):
        raise AnsibleFilterError("expects a dict of host name -> hostvars, got %s" % type(hosts).__name__)
    out = {}
    for host in hosts:
        hv = hosts[host]
        out[str(host)] = {k: _plain(hv[k]) for k in (*HOST_KEYS, *extra) if k in hv}
    return out


def _int(value: t.Any, default: t.Any) -> t.Any:
    if value is None:
        return default
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def _flag(value: t.Any) -> t.Any:
    """true/false from a bool, 0/1 or a yes/no string; anything else is returned as it is (validation refuses it)."""
    if value is None:
        return False
    if isinstance(value, str) and value.strip().lower() in TRUE + FALSE:
        return value.strip().lower() in TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return value


def _options(options: t.Any) -> dict[str, t.Any]:
    opts = dict(_plain(options or {}))
    opts["canary"] = _int(opts.get("canary"), 1)
    opts["batch"] = _int(opts.get("batch"), "25%")
    mfp = opts.get("max_fail_percentage")
    if isinstance(mfp, str):
        try:
            mfp = float(mfp)
        except ValueError:
            pass
    opts["max_fail_percentage"] = 0 if mfp is None else mfp
    for flag in ("force", "key_per_host", "dry_run", "host_keys"):
        opts[flag] = _flag(opts.get(flag, flag == "host_keys"))
    if opts.pop("check_mode", False) is True and opts["dry_run"] is False:
        opts["dry_run"] = True   # --check is a dry run
    if isinstance(opts.get("names"), str):
        opts["names"] = [n.strip() for n in opts["names"].split(",") if n.strip()]
    if opts.get("names") == []:
        opts["names"] = None
    limits = opts.get("limits")
    if isinstance(limits, t.Mapping):
        opts["limits"] = {k: _int(v, v) for k, v in limits.items()}
    return opts


def _variable_names(hosts: t.Any) -> dict[str, list[str]]:
    """host -> the names of its variables (inventory, group and extra vars: what hostvars holds)."""
    return {str(host): [str(k) for k in hosts[host]] for host in hosts}


def renew_validate(hosts: t.Any, options: t.Any = None, members: t.Any = None) -> list[str]:
    """Every problem of the run: unknown renew_*/rollback_*/certwatch_* variables, the run variables' values,
    renew_names that name no certificate, each host's inventory model, and name sets whose hosts (of the whole
    inventory when *members* is given, see renew_members) disagree on the key type."""
    name_rules()
    opts = _options(options)
    host_vars = _host_vars(hosts)
    problems = _run_vars.unknown_variables(_variable_names(hosts))
    problems.extend(_inventory.validate_inventory(host_vars, opts))
    certs = {h: hv.get("certwatch_certificates") or [] for h, hv in host_vars.items()}
    problems.extend(_run_vars.unmatched_names("renew_names", opts.get("names"), certs))
    if not opts.get("key_per_host"):
        sets = _plain(members) if members is not None else _run_vars.members(host_vars)
        problems.extend(_run_vars.key_type_conflicts(sets))
    return problems


def renew_members(hosts: t.Any, hostvars: t.Any) -> dict[str, dict[str, t.Any]]:
    """The name sets of the whole inventory (*hosts*: every inventory host name, e.g. groups['all']) and the
    hosts holding each: the plan orders a name set shared by several inventory hosts once, with a shared key,
    even when --limit or renew_hosts leaves some of them out of the run."""
    wanted = ("certwatch_certificates", "certwatch_acme")
    data = {}
    for host in hosts or []:
        hv = hostvars[host]
        data[str(host)] = {k: _plain(hv[k]) for k in wanted if k in hv}
    return _run_vars.members(data)


def rollback_validate(hosts: t.Any, names: t.Any = None) -> list[str]:
    """rollback.yml's checks: unknown variables, each host's certificates, rollback_names that name no certificate."""
    name_rules()
    host_vars = _host_vars(hosts)
    problems = _run_vars.unknown_variables(_variable_names(hosts))
    certs = {}
    for host, hv in host_vars.items():
        certs[host] = hv.get("certwatch_certificates") or []
        problems.extend(_inventory.validate_host(host, hv, shared=False))
    problems.extend(_run_vars.unmatched_names("rollback_names", renew_names(names), certs))
    return problems


def run_targets(matched: t.Any, limited: t.Any, variable: str, pattern: t.Any, groups: t.Any = None) -> list[str]:
    """A problem when the host pattern *pattern* of *variable* (renew_hosts, rollback_hosts) matches no host of
    the inventory (*matched*: query('inventory_hostnames', pattern)) or none within --limit (*limited*: the hosts
    --limit leaves, ansible_play_hosts_all of a play over all)."""
    matched = list(matched or [])
    inside = [h for h in matched if h in set(limited or [])]
    if not matched:
        names = sorted(g for g in (groups or {}) if g not in ("all", "ungrouped"))
        return ["%s=%s matches no host of the inventory (its groups: %s); nothing was changed"
                % (variable, pattern, ", ".join(names) or "none")]
    if not inside:
        return ["%s=%s matches %d host(s) (%s), none of them within --limit; nothing was changed"
                % (variable, pattern, len(matched), ", ".join(matched[:5]))]
    return []


def renew_options(options: t.Any) -> dict[str, t.Any]:
    return _options(options)


def _module_failed(result: t.Mapping[str, t.Any]) -> bool:
    """Whether a registered converge result is a failure: the playbooks register it with failed_when: false, so a
    result that carries a message and no certificates (a module that stopped, such as a host Python without
    cryptography) is one too."""
    return bool(result.get("failed")) or (not result.get("skipped") and "certificates" not in result
                                          and bool(result.get("msg")))


def _observation(result: t.Any) -> tuple[list[dict[str, t.Any]] | None, str | None]:
    """(observations, why not) from a host's registered ``converge`` state=observed result."""
    result = _plain(result or {})
    if result.get("unreachable"):
        return None, "unreachable: %s" % (result.get("msg") or "no connection")
    if _module_failed(result):
        return None, "unreachable: observing failed: %s" % (result.get("msg") or "module failure")
    if result.get("skipped"):
        return [], None
    return list(result.get("certificates") or []), None


def _profile(acme: t.Any) -> str | None:
    """The ACME profile a host's orders use (the primary CA's when certwatch_acme is a list), or None."""
    profile = _cas.primary(_plain(acme or {})).get("profile")
    return str(profile) if profile else None


def _issuers(store: t.Any) -> dict[str, t.Any]:
    """The issuers renew_store remembers: from its directory on the controller, or as ``renew_store`` state=read
    returned them from the renew_store_host."""
    if isinstance(store, t.Mapping):
        return dict(_plain(store.get("issuers") or {}))
    return _cas.load_issuers(str(store)) if store else {}


def renew_plan(hosts: t.Any, options: t.Any, ledger: t.Any = None, ari: t.Any = None,
               observed_var: str = "renew_observed", members: t.Any = None) -> dict[str, t.Any]:
    """The run's plan from every host's observation (``converge`` state=observed, registered as *observed_var*),
    the CA's ARI windows (``renew_orders`` state=observed) and the name sets of the whole inventory (*members*,
    renew_members)."""
    from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import ledger as _ledger
    from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import plan as _plan

    opts = _options(options)
    data: dict[str, dict[str, t.Any]] = {}
    for host, hv in _host_vars(hosts, (observed_var,)).items():
        observed, why_not = _observation(hv.get(observed_var))
        policy = hv.get("certwatch_policy") or {}
        data[host] = {
            "alert_before": _time.parse_duration(policy.get("alert_before", "72h"), "certwatch_policy.alert_before"),
            "certificates": _inventory.normalize_certificates(host, hv),
            "profile": _profile(hv.get("certwatch_acme")),
            "observed": observed or [],
            "unreachable": why_not is not None,
            "msg": (why_not or "")[len("unreachable: "):] or None,
            "cas": _cas.ca_list(_plain(hv.get("certwatch_acme"))),
        }
    try:
        # the ledger's path on the controller, or what renew_store state=read returned on the store host
        if isinstance(ledger, t.Mapping):
            entries = list(_plain(ledger.get("ledger") or []))
        else:
            entries = _ledger.load_ledger(ledger) if ledger else []
    except CertsError as exc:
        raise AnsibleFilterError(str(exc)) from None
    issuers = _issuers(ledger if isinstance(ledger, t.Mapping) else os.path.dirname(ledger) if ledger else None)
    plan = _plan.build_plan(data, opts, entries, ari=_plain(ari or {}), members=_plain(members or {}), issuers=issuers)
    plan["options"] = {k: opts.get(k) for k in ("canary", "batch", "max_fail_percentage", "force", "key_per_host",
                                                "host_keys", "dry_run", "names", "limits")}
    # what each host converges: its certificate (paths, reload, probes) and the order it installs from
    certs = {h: {c["name"]: c for c in d["certificates"]} for h, d in data.items()}
    for host, items in plan["deploys"].items():
        for item in items:
            item["cert"] = certs[host][item["name"]]
    for order in plan["orders"]:
        if order["mode"] == "host_key":   # where the host makes the key and the CSR (only the CSR travels)
            order["staging"] = certs[order["host"]][order["name"]]["staging"]
            order["key_path"] = certs[order["host"]][order["name"]]["key_path"]
            order["key_type"] = _cas.primary(data[order["host"]]["cas"]).get("key_type") or "ec-p256"
    return plan


def renew_reusable(order: t.Any, plan: t.Any, policy: t.Any = None) -> str | None:
    """PEM of the certificate in renew_store that this run may reuse for a planned *order* instead of ordering
    (``_reuse.reusable``: another run ordered it since this plan, or it is fresh and not the one the plan
    saw on the hosts), else None. renew.yml gives it to the CSR step, so a host that holds its key sends a CSR
    for that key (the certificate is then reused, not ordered again)."""
    from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import ledger as _ledger

    order, plan = _plain(order), _plain(plan)
    path = os.path.join(order["store"], "cert.pem")
    seen = [h.get("fingerprint") for s in plan.get("sets") or [] if s.get("set") == order.get("set")
            for h in s.get("holders") or [] if h.get("host") in (order.get("hosts") or [])]
    try:
        since = _ledger.parse_epoch(str(plan["generated_at"])) if plan.get("generated_at") else None
        cert = _reuse.reusable(path, order["domains"], _plain(policy or {}), bool(order.get("force")), since, seen)
    except (CertsError, ValueError) as exc:
        raise AnsibleFilterError("renew_reusable: %s" % exc) from None
    if cert is None:
        return None
    with open(path, "rb") as handle:
        return handle.read().decode("ascii")


def renew_ari_requests(hosts: t.Any, observed_var: str = "renew_observed", store: t.Any = None) -> list[dict[str, t.Any]]:
    """What to ask each CA for (``renew_orders`` state=observed): the ARI ids of the observed certificates,
    grouped by the ACME directory of the CA that issued each (as renew_store *store* remembers it; the host's
    primary CA when unknown); CAs with ``ari: false`` are left out."""
    issuers = _issuers(store)
    groups: dict[tuple[str, str | None], set[str]] = {}
    for _host, hv in _host_vars(hosts, (observed_var,)).items():
        cas = _cas.ca_list(_plain(hv.get("certwatch_acme")))
        observed, _why = _observation(hv.get(observed_var))
        for ident in sorted({o["ari_cert_id"] for o in observed or [] if o.get("ari_cert_id")}):
            ca = _cas.issuing_ca(ident, cas, issuers)
            if ca and ca.get("directory") and ca.get("ari") is not False:
                groups.setdefault((ca["directory"], ca.get("ca_bundle")), set()).add(ident)
    return [{"directory": d, "ca_bundle": b, "cert_ids": sorted(ids)} for (d, b), ids in sorted(groups.items()) if ids]


def renew_orders_args(plan: t.Any, hosts: t.Any, store: str, csr_var: str = "renew_csr") -> list[dict[str, t.Any]]:
    """The plan's orders as ``renew_orders`` state=issued takes them: each with its acme_dns01 options
    (from the inventory of its first host), its id, ``replaces`` and, for a key made on a host, the CSR."""
    plan = _plain(plan)
    hvs = _host_vars(hosts, (csr_var,))
    csrs: dict[str, str] = {}
    for hv in hvs.values():
        for result in (hv.get(csr_var) or {}).get("results") or []:
            if result.get("csr") and (result.get("item") or {}).get("id"):
                csrs[result["item"]["id"]] = result["csr"]
    out = []
    for order in plan["orders"]:
        args = renew_acme_args(order, hvs.get(order["source_host"], {}), store, csr=csrs.get(order["id"]))
        args.update(id=order["id"], store=order["store"], ari_exempt=bool(order.get("ari_exempt")))
        if order.get("replaces"):
            args["replaces"] = order["replaces"]
        out.append(args)
    return out


def renew_converge_args(items: t.Any, issued: t.Any, csr: t.Any = None, read: t.Any = None) -> dict[str, t.Any]:
    """One host's ``converge`` options from its entries of the plan (``deploys[host]``) and what was issued:
    the certificates, and the bundle of each that got a certificate (files of the controller's store, or the
    contents *read* from the store host - ``renew_store`` state=read's ``bundles`` - when renew_store_host holds
    the store; the key of a name set held by this host alone stays on the host: in its staging directory, or
    where the CSR step (*csr*, the registered ``csr`` loop) found it installed already)."""
    items = _plain(items or [])
    issued = _plain(issued or {})
    contents = _plain((read or {}).get("bundles") or {}) if isinstance(read, t.Mapping) else {}
    held = {r["item"]["id"]: r["key_path"] for r in (_plain(csr or {}).get("results") or [])
            if r.get("holds_certificate") and r.get("key_path") and (r.get("item") or {}).get("id")}
    bundles: dict[str, dict[str, str]] = {}
    for item in items:
        order = issued.get(item.get("order")) if item.get("order") else None
        if not order or not order.get("ok"):
            continue
        folder = order["store"]
        if folder in contents:   # read on the store host: the files travel as contents (the key no_log)
            bundles[item["name"]] = dict(contents[folder])
            continue
        bundle = {"cert_src": os.path.join(folder, "cert.pem"), "chain_src": os.path.join(folder, "chain.pem")}
        if item["mode"] == "host_key":
            bundle["key_src_remote"] = held.get(item["order"]) or os.path.join(item["cert"]["staging"], "privkey.pem")
        else:
            bundle["key_src"] = os.path.join(folder, "privkey.pem")
        bundles[item["name"]] = bundle
    failed = {item["name"]: issued.get(item["order"], {}).get("msg") or "not issued" for item in items
              if item.get("order") and not issued.get(item["order"], {}).get("ok")}
    return {"certificates": [i["cert"] for i in items if i["name"] not in failed], "bundles": bundles,
            "not_issued": failed}


def renew_plan_table(plan: t.Any) -> str:
    from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import plan as _plan

    return _plan.plan_table(plan)


def renew_acme_args(order: t.Mapping[str, t.Any], hv: t.Any, store: str, csr: str | None = None) -> dict[str, t.Any]:
    """acme_dns01 options for one order of the plan, from the inventory of the order's first host."""
    cas = _cas.ca_list(_plain(hv.get("certwatch_acme")))
    acme = cas[0] if cas else {}
    dns = _plain(hv.get("certwatch_dns") or {})
    policy = _plain(hv.get("certwatch_policy") or {})
    folder = order["store"]
    args: dict[str, t.Any] = {
        "names": list(order["domains"]),
        "cert_path": os.path.join(folder, "cert.pem"),
        "chain_path": os.path.join(folder, "chain.pem"),
        "fullchain_path": os.path.join(folder, "fullchain.pem"),
        "acme_directory": acme.get("directory"),
        "dns_provider": dns.get("provider"),
        "force": bool(order.get("force")),
    }
    if order["mode"] == "host_key":
        args["csr_content"] = csr
    else:
        args["key_path"] = os.path.join(folder, "privkey.pem")
    args.update(_account_args(acme, store))
    if order.get("replaces_directory"):
        args["replaces_directory"] = order["replaces_directory"]
    fallbacks = _fallback_cas(cas[1:], store)
    if fallbacks:
        args["fallback_cas"] = fallbacks
    args.update(_dns_args(dns))
    if hv.get("certwatch_allowed_domains") is not None:
        args["allowed_domains"] = _plain(hv["certwatch_allowed_domains"])
    args.update(_set_options(policy, ("renew_before", "renew_fraction", "leeway")))
    return args


def _set_options(source: t.Mapping[str, t.Any], keys: t.Sequence[str]) -> dict[str, t.Any]:
    """The *keys* of *source* that are set (not None), in the order of *keys*."""
    return {key: source[key] for key in keys if source.get(key) is not None}


def _account_args(acme: t.Mapping[str, t.Any], store: str) -> dict[str, t.Any]:
    """acme_dns01 options of the order's first CA: its account (default: the store's account.key) and its name."""
    renames = {"ca_bundle": "acme_ca_bundle", "email": "account_email"}
    args: dict[str, t.Any] = {}
    for key in ("ca_bundle", "email", "terms_agreed", "account_key_content", "account_key_path", "eab_kid",
                "eab_hmac_key", "profile", "preferred_chain", "ari", "key_type", "timeout"):
        if acme.get(key) is not None:
            args[renames.get(key, key)] = acme[key]
    if not args.get("account_key_content") and not args.get("account_key_path"):
        args["account_key_path"] = os.path.join(store, "account.key")
    if acme.get("name"):
        args["ca"] = acme["name"]
    return args


def _fallback_cas(cas: t.Sequence[t.Mapping[str, t.Any]], store: str) -> list[dict[str, t.Any]]:
    """The ``fallback_cas`` option: the next CAs, in order, each with its own account (default: one key file per CA)."""
    fallbacks = []
    for ca in cas:
        options = {"name": ca["name"], **_cas.order_options(ca)}
        if not options.get("account_key_content") and not options.get("account_key_path"):
            options["account_key_path"] = os.path.join(store, "account-%s.key" % ca["name"])
        fallbacks.append(options)
    return fallbacks


def _dns_args(dns: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """acme_dns01 options of certwatch_dns: the provider's own options (under its name), nameservers, propagation."""
    args: dict[str, t.Any] = {}
    provider = dns.get("provider")
    if provider and dns.get(provider) is not None:
        args[provider] = dns[provider]
    args.update(_set_options(dns, ("nameservers", "propagation_timeout")))
    return args


def renew_should_stop(hosts: t.Any, max_fail_percentage: t.Any, converged_var: str = "renew_converged") -> bool:
    """Whether hosts of earlier batches failed more than the allowed percentage (roll failures only)."""
    from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import renew_report as _renew_report

    done = failed = 0
    for host in hosts:
        hv = hosts[host]
        result = _plain(hv[converged_var]) if converged_var in hv else None
        if not result or result.get("skipped"):
            continue
        done += 1
        outcomes = result.get("certificates") or []
        bad = any(o.get("outcome") in ("failed", "rolled_back") for o in outcomes)
        if result.get("failed") or result.get("unreachable") or bad:
            failed += 1
    limit = float(_options({"max_fail_percentage": max_fail_percentage})["max_fail_percentage"])
    return failed > 0 and _renew_report.percent_failed(done, failed) > limit


def _outcomes(result: t.Any, not_issued: t.Mapping[str, str]) -> list[dict[str, t.Any]]:
    """One host's outcome rows from its registered converge result (or why it has none)."""
    result = _plain(result or {})
    rows = [{"name": name, "outcome": "failed", "stage": "issue",
             "reason": "issue failed, the host keeps its current certificate: %s" % msg} for name, msg in not_issued.items()]
    if result.get("unreachable") or (_module_failed(result) and not result.get("certificates")):
        lost = {"name": None, "outcome": "failed", "stage": "roll",
                "reason": "%s during the roll: %s; the next run observes it and finishes the roll"
                          % ("unreachable" if result.get("unreachable") else "failed",
                             result.get("msg") or "no connection")}
        return [*rows, lost]
    return rows + list(result.get("certificates") or [])


def renew_report(plan: t.Any, hosts: t.Any, issue: t.Any = None, converged_var: str = "renew_converged") -> dict[str, t.Any]:
    """The run's report from the plan, the issue task's result (``renew_orders`` state=issued, registered) and
    every host's converge result; a run-level failure (the lock could not be taken) is named first."""
    from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import renew_report as _renew_report

    issue = _plain(issue or {})
    plan = _plain(plan)
    problems = []
    issued = issue.get("issued") or {}
    if issue and not issue.get("skipped") and "issued" not in issue:
        problems.append("nothing was ordered: %s" % (issue.get("msg") or "the issue task failed"))
        issued = {o["id"]: {"ok": False, "msg": problems[0], "store": o["store"], "domains": o["domains"]}
                  for o in plan["orders"]}
    outcomes = {}
    for host in hosts:
        hv = hosts[host]
        if converged_var in hv:   # a certificate whose order failed has no row here: the report takes it from issued
            outcomes[str(host)] = _outcomes(hv[converged_var], {})
    report = _renew_report.build_report(plan, outcomes, issued)
    report["problems"] = problems + list(report.get("problems") or [])
    report["ok"] = report["ok"] and not report["problems"]
    return report


def renew_select(certificates: t.Any, names: t.Any = None, cert_dir: t.Any = None) -> list[dict[str, t.Any]]:
    """A host's certificates of the inventory model with every default filled in (``cert_dir``: the host's
    certwatch_cert_dir), those whose name is in *names* (a list or a comma-separated string); all when empty.

    No checks: renew.yml and rollback.yml check every host of the play on the controller first
    (renew_validate, rollback_validate) and stop on a problem. This keeps the per-host tasks from checking every
    name again and loading the Public Suffix List once more on every host."""
    wanted = _options({"names": names}).get("names")
    base = _plain(cert_dir) or None
    certs = [_inventory.normalize_certificate(c, base) for c in _plain(certificates or [])]
    return [c for c in certs if not wanted or c["name"] in wanted]


def rollback_report(hosts: t.Any, converged_var: str = "renew_converged") -> dict[str, t.Any]:
    """rollback.yml's report from every host's converge result (state rolled_back)."""
    from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import rollback_report as _rollback_report

    results = {str(host): _plain(hosts[host][converged_var] or {}) for host in hosts if converged_var in hosts[host]}
    return _rollback_report.build_rollback_report({host: _rollback_report.host_rows(r) for host, r in results.items()})


def renew_names(names: t.Any) -> list[str] | None:
    """renew_names / rollback_names as a list (a list, or a comma-separated string); None for all."""
    return t.cast("list[str] | None", _options({"names": names}).get("names"))


def renew_report_table(report: t.Any) -> str:
    from ansible_collections.ghostguard.certs.plugins.module_utils._fleet import renew_report as _renew_report

    return _renew_report.report_table(report)


class FilterModule:
    """ghostguard.certs renew/rollback plan filters."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {
            "renew_validate": renew_validate,
            "renew_members": renew_members,
            "rollback_validate": rollback_validate,
            "run_targets": run_targets,
            "renew_options": renew_options,
            "renew_plan": renew_plan,
            "renew_plan_table": renew_plan_table,
            "renew_ari_requests": renew_ari_requests,
            "renew_orders_args": renew_orders_args,
            "renew_converge_args": renew_converge_args,
            "renew_reusable": renew_reusable,
            "renew_acme_args": renew_acme_args,
            "renew_should_stop": renew_should_stop,
            "renew_report": renew_report,
            "renew_report_table": renew_report_table,
            "renew_select": renew_select,
            "renew_names": renew_names,
            "rollback_report": rollback_report,
        }
