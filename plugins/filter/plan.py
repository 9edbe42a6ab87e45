# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the renew and rollback playbooks: inventory validation, the fleet plan, acme_dns01
arguments per order, and the run report. The logic is in module_utils/_plan.py."""

from __future__ import annotations

import os
import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.ghostguard.certs.plugins.module_utils import _inventory, _ledger, _plan, _renew_report
from ansible_collections.ghostguard.certs.plugins.module_utils._errors import CertsError

HOST_KEYS = ("certwatch_certificates", "certwatch_cert_dir", "certwatch_allowed_domains", "certwatch_acme",
             "certwatch_dns", "certwatch_policy")
TRUE = ("1", "true", "yes", "on", "y")


def _plain(value: t.Any) -> t.Any:
    """Templated inventory data as plain dicts, lists and scalars."""
    if isinstance(value, t.Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


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
        value = opts.get(flag, flag == "host_keys")
        opts[flag] = str(value).lower() in TRUE if isinstance(value, str) else bool(value)
    if isinstance(opts.get("names"), str):
        opts["names"] = [n.strip() for n in opts["names"].split(",") if n.strip()]
    if opts.get("names") == []:
        opts["names"] = None
    limits = opts.get("limits")
    if isinstance(limits, t.Mapping):
        opts["limits"] = {k: _int(v, v) for k, v in limits.items()}
    return opts


def renew_validate(hosts: t.Any, options: t.Any = None) -> list[str]:
    return _inventory.validate_inventory(_host_vars(hosts), _options(options))


def renew_options(options: t.Any) -> dict[str, t.Any]:
    return _options(options)


def renew_certificates(certificates: t.Any, cert_dir: t.Any = None, host: str = "this host") -> list[dict[str, t.Any]]:
    hv = {"certwatch_certificates": _plain(certificates or []), "certwatch_cert_dir": _plain(cert_dir)}
    problems = _inventory.validate_host(host, {k: v for k, v in hv.items() if v is not None}, shared=False)
    if problems:
        raise AnsibleFilterError("; ".join(problems))
    return _inventory.normalize_certificates(host, hv)


def renew_plan(hosts: t.Any, options: t.Any, ledger: str | None = None, expiry_var: str = "renew_expiry") -> dict[str, t.Any]:
    opts = _options(options)
    data: dict[str, dict[str, t.Any]] = {}
    for host, hv in _host_vars(hosts, (expiry_var,)).items():
        expiry = hv.get(expiry_var) or {}
        unreachable = bool(expiry.get("unreachable"))
        data[host] = {
            "certificates": _inventory.normalize_certificates(host, hv),
            "expiry": None if unreachable else expiry,
            "unreachable": unreachable,
            "msg": expiry.get("msg"),
        }
    try:
        entries = _ledger.load_ledger(ledger) if ledger else []
    except CertsError as exc:
        raise AnsibleFilterError(str(exc)) from None
    plan = _plan.build_plan(data, opts, entries)
    plan["options"] = {k: opts.get(k) for k in ("canary", "batch", "max_fail_percentage", "force", "key_per_host",
                                                "host_keys", "dry_run", "names", "limits")}
    # what each host deploys, with its certificate's paths, reload and probes
    certs = {h: {c["name"]: c for c in d["certificates"]} for h, d in data.items()}
    for host, items in plan["deploys"].items():
        for item in items:
            item["cert"] = certs[host][item["name"]]
    return plan


def renew_plan_table(plan: t.Any) -> str:
    return _plan.plan_table(plan)


def renew_acme_args(order: t.Mapping[str, t.Any], hv: t.Any, store: str, csr: str | None = None) -> dict[str, t.Any]:
    """acme_dns01 options for one order of the plan, from the inventory of the order's first host."""
    acme = _plain(hv.get("certwatch_acme") or {})
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
    renames = {"ca_bundle": "acme_ca_bundle", "email": "account_email"}
    for key in ("ca_bundle", "email", "terms_agreed", "account_key_content", "account_key_path", "eab_kid",
                "eab_hmac_key", "profile", "preferred_chain", "ari", "key_type", "timeout"):
        if acme.get(key) is not None:
            args[renames.get(key, key)] = acme[key]
    if not args.get("account_key_content") and not args.get("account_key_path"):
        args["account_key_path"] = os.path.join(store, "account.key")
    provider = dns.get("provider")
    if provider and dns.get(provider) is not None:
        args[provider] = dns[provider]
    for key in ("nameservers", "propagation_timeout"):
        if dns.get(key) is not None:
            args[key] = dns[key]
    if hv.get("certwatch_allowed_domains") is not None:
        args["allowed_domains"] = _plain(hv["certwatch_allowed_domains"])
    for key in ("renew_before", "renew_fraction", "leeway"):
        if policy.get(key) is not None:
            args[key] = policy[key]
    return args


def renew_issued(results: t.Any, orders: t.Any) -> dict[str, dict[str, t.Any]]:
    """Per order id: whether a certificate is ready (ok), was ordered now or reused, and why not."""
    out: dict[str, dict[str, t.Any]] = {}
    by_id = {o["id"]: o for o in orders or []}
    for result in results or []:
        order = result.get("item") or {}
        oid = order.get("id")
        if oid is None:
            continue
        cert = result.get("certificate") or {}
        ok = not result.get("failed") and not result.get("skipped") and bool(cert)
        out[oid] = {
            "ok": ok,
            "ordered": bool(result.get("renewed")),
            "reused": ok and not result.get("renewed"),
            "replaces": bool(result.get("renewed") and result.get("ari")),
            "reason": result.get("reason"),
            "msg": None if ok else (result.get("msg") or "skipped"),
            "fingerprint": cert.get("fingerprint_sha256"),
            "not_after": cert.get("not_after"),
            "store": order.get("store"),
            "domains": order.get("domains"),
            "order_url": result.get("order_url"),
        }
    for oid, order in by_id.items():
        out.setdefault(oid, {"ok": False, "ordered": False, "reused": False, "msg": "not issued",
                             "store": order.get("store"), "domains": order.get("domains")})
    return out


def renew_ledger_entries(issued: t.Mapping[str, t.Mapping[str, t.Any]]) -> list[dict[str, t.Any]]:
    return [{"domains": list(o["domains"]), "replaces": bool(o.get("replaces")), "order_url": o.get("order_url")}
            for o in issued.values() if o.get("ordered")]


def renew_should_stop(hosts: t.Any, max_fail_percentage: t.Any, outcomes_var: str = "renew_outcomes") -> bool:
    """Whether hosts of earlier batches failed more than the allowed percentage (roll failures only)."""
    done = failed = 0
    for host in hosts:
        hv = hosts[host]
        outcomes = _plain(hv[outcomes_var]) if outcomes_var in hv else None
        if not outcomes:
            continue
        rolled = [o for o in outcomes if o.get("stage") != "issue"]
        if not rolled:
            continue
        done += 1
        if any(o.get("outcome") in ("failed", "rolled_back") for o in rolled):
            failed += 1
    limit = float(_options({"max_fail_percentage": max_fail_percentage})["max_fail_percentage"])
    return failed > 0 and _renew_report.percent_failed(done, failed) > limit


def renew_report(plan: t.Any, hosts: t.Any, issued: t.Any = None, outcomes_var: str = "renew_outcomes") -> dict[str, t.Any]:
    outcomes = {}
    for host in hosts:
        hv = hosts[host]
        if outcomes_var in hv:
            outcomes[str(host)] = _plain(hv[outcomes_var]) or []
    return _renew_report.build_report(_plain(plan), outcomes, _plain(issued or {}))


def renew_select(certificates: t.Any, names: t.Any = None) -> list[dict[str, t.Any]]:
    """The certificates whose name is in *names* (a list or a comma-separated string); all when empty."""
    wanted = _options({"names": names}).get("names")
    certs = _plain(certificates or [])
    return [c for c in certs if not wanted or c["name"] in wanted]


def rollback_report(hosts: t.Any, outcomes_var: str = "renew_outcomes") -> dict[str, t.Any]:
    outcomes = {}
    for host in hosts:
        hv = hosts[host]
        if outcomes_var in hv:
            outcomes[str(host)] = _plain(hv[outcomes_var]) or []
    return _renew_report.build_rollback_report(outcomes)


def renew_report_table(report: t.Any) -> str:
    return _renew_report.report_table(report)


class FilterModule:
    """ghostguard.certs renew/rollback plan filters."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {
            "renew_validate": renew_validate,
            "renew_options": renew_options,
            "renew_certificates": renew_certificates,
            "renew_plan": renew_plan,
            "renew_plan_table": renew_plan_table,
            "renew_acme_args": renew_acme_args,
            "renew_issued": renew_issued,
            "renew_ledger_entries": renew_ledger_entries,
            "renew_should_stop": renew_should_stop,
            "renew_report": renew_report,
            "renew_report_table": renew_report_table,
            "renew_select": renew_select,
            "rollback_report": rollback_report,
        }
