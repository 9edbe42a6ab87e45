# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The options of one ACME order, defined once: acme_dns01's argument spec, renew_orders' orders (the same
options plus ``id``, ``store``, ``replaces``, the fallback CAs), and :func:`renew_request`, which turns them into
the engine's typed :class:`~.issue.RenewRequest`.  Plain Python, no Ansible import."""

from __future__ import annotations

import typing as t

from .._argspec import policy_argspec
from .._dns import registry
from .._durable import read_file
from .._errors import InputError
from .._install.deploy import Targets
from .._policy import Policy
from . import cas as _cas
from .issue import AcmeAccount, DnsChallenge, IssueRequest, RenewRequest
from .keys import KEY_TYPES

__all__ = ["acme_argspec", "fallback_argspec", "order_argspec", "renew_request"]


def acme_argspec() -> dict[str, t.Any]:
    """acme_dns01's options (and each order's in renew_orders): the policy, the files, the ACME account, the
    order and the DNS provider."""
    spec: dict[str, t.Any] = policy_argspec()
    spec.update(
        names={"type": "list", "elements": "str", "aliases": ["domains"]},
        cert_path={"type": "path", "required": True},
        key_path={"type": "path", "no_log": False},
        chain_path={"type": "path"},
        fullchain_path={"type": "path"},
        acme_directory={"type": "str", "required": True},
        acme_ca_bundle={"type": "path"},
        account_key_content={"type": "str", "no_log": True},
        account_key_path={"type": "path", "no_log": False},
        account_email={"type": "str"},
        terms_agreed={"type": "bool", "default": False},
        eab_kid={"type": "str"},
        eab_hmac_key={"type": "str", "no_log": True},
        profile={"type": "str"},
        preferred_chain={"type": "str"},
        ari={"type": "bool", "default": True},
        csr_content={"type": "str"},
        csr_path={"type": "path"},
        key_type={"type": "str", "default": "ec-p256", "choices": list(KEY_TYPES), "no_log": False},
        reuse_key={"type": "bool", "default": False, "no_log": False},
        **registry.argument_spec(),
        nameservers={"type": "list", "elements": "str"},
        propagation_timeout={"type": "int", "default": 120},
        timeout={"type": "int", "default": 300},
        allowed_domains={"type": "list", "elements": "str"},
    )
    return spec


def order_argspec() -> dict[str, t.Any]:
    """One order's options: acme_dns01's options plus ``id``, ``replaces`` (ARI cert id), ``ari_exempt`` (the plan
    counted it exempt) and ``store``."""
    spec = acme_argspec()
    spec.update(id={"type": "str", "required": True}, replaces={"type": "str"},
                ari_exempt={"type": "bool", "default": False}, store={"type": "path"},
                ca={"type": "str"}, replaces_directory={"type": "str"},
                fallback_cas={"type": "list", "elements": "dict", "options": fallback_argspec()})
    return spec


def fallback_argspec() -> dict[str, t.Any]:
    """One fallback CA of an order: its ``name`` and its ACME options (as in acme_dns01)."""
    acme = acme_argspec()
    spec: dict[str, t.Any] = {"name": {"type": "str", "required": True}}
    for option in _cas.ACME_OPTIONS.values():
        spec[option] = {k: v for k, v in acme[option].items() if k not in ("required", "default")}
    return spec


def _text(value: t.Any) -> bytes | None:
    """An option's text as UTF-8 bytes (None stays None)."""
    return None if value is None else str(value).encode("utf-8")


def renew_request(params: t.Mapping[str, t.Any], check_mode: bool = False) -> RenewRequest:
    """acme_dns01's options (missing ones take acme_dns01's defaults) as the engine's typed request."""
    p = params.get
    csr, csr_source = _text(p("csr_content")), "csr_content"
    if csr is None and p("csr_path"):
        csr, csr_source = read_file(p("csr_path")), "csr_path %s" % p("csr_path")
        if csr is None:
            raise InputError("csr_path %s does not exist" % p("csr_path"))
    if not p("cert_path") or not p("acme_directory") or not p("dns_provider"):
        raise InputError("every order needs cert_path, acme_directory and dns_provider")
    policy = Policy.from_options(params)
    provider = str(p("dns_provider"))
    return RenewRequest(
        issue=IssueRequest(
            names=list(p("names") or p("domains") or []),
            account=AcmeAccount(
                directory=str(p("acme_directory")), ca_bundle=p("acme_ca_bundle"),
                key_content=_text(p("account_key_content")), key_path=p("account_key_path"),
                email=p("account_email"), terms_agreed=bool(p("terms_agreed")), eab_kid=p("eab_kid"),
                eab_hmac_key=p("eab_hmac_key"),
            ),
            dns=DnsChallenge(provider=provider, settings=p(provider) or {}, nameservers=p("nameservers") or None,
                             propagation_timeout=p("propagation_timeout") or 120),
            csr=csr, csr_source=csr_source, key_type=p("key_type") or "ec-p256", profile=p("profile"),
            preferred_chain=p("preferred_chain"), replaces=p("replaces") or None,
            allowed_domains=p("allowed_domains"), timeout=p("timeout") or 300, leeway=policy.leeway,
        ),
        targets=Targets(cert=p("cert_path"), key=p("key_path"), chain=p("chain_path"), fullchain=p("fullchain_path")),
        policy=policy, ari=p("ari") is not False, reuse_key=bool(p("reuse_key")), check_mode=check_mode,
    )
