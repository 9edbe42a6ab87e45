# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One DNS-01 order: publish every TXT value, wait for every authoritative server, answer, finalize.

TXT values this run wrote are removed in a ``finally`` whatever happened; failures to remove them
are reported with the original error, never instead of it.
"""

from __future__ import annotations

import dataclasses
import time
import typing as t

from .._dns.base import DNSProvider, TxtRecord
from .._dns.propagation import wait_for_txt
from .._dns.zone import Lookup, Server, challenge_name
from .._errors import CertsError, ProtocolError, ValidationError
from .client import AcmeClient

try:
    from cryptography import x509
except ImportError:  # pragma: no cover - callers run _deps.require("cryptography") first
    pass


@dataclasses.dataclass
class Challenge:
    name: str  # the identifier as ordered (``*.example.com`` for a wildcard)
    authz_url: str
    challb: t.Any
    record_name: str  # where the TXT value goes, after CNAME following
    value: str


@dataclasses.dataclass
class Issued:
    fullchain_pem: str
    leaf_pem: str
    chain_pem: str
    order_url: str | None
    chain_issuer: str | None
    records: list[dict[str, t.Any]]
    warnings: list[str]


def split_chain(fullchain_pem: str) -> list[str]:
    marker = "-----END CERTIFICATE-----"
    parts = [p.strip() + "\n" + marker + "\n" for p in fullchain_pem.split(marker) if p.strip()]
    return [p.lstrip() for p in parts]


def top_issuer_cn(fullchain_pem: str) -> str | None:
    pems = split_chain(fullchain_pem)
    if not pems:
        return None
    top = x509.load_pem_x509_certificate(pems[-1].encode())
    cns = top.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else top.issuer.rfc4514_string()


def choose_chain(default: str, alternates: t.Sequence[str], preferred: str | None) -> tuple[str, bool]:
    """The chain whose topmost certificate was issued by *preferred* (CN), else the default.

    Returns the chosen full chain and whether the preference matched.
    """
    if not preferred:
        return default, True
    for candidate in [default, *alternates]:
        pems = split_chain(candidate)
        names: set[str] = set()
        for pem in pems:
            cert = x509.load_pem_x509_certificate(pem.encode())
            names.update(str(a.value) for a in cert.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME))
        top = top_issuer_cn(candidate)
        if top == preferred or (top is None and preferred in names):
            return candidate, True
    return default, False


def obtain(
    client: AcmeClient,
    provider: DNSProvider,
    lookup: Lookup,
    names: t.Sequence[str],
    csr_der: bytes,
    timings: dict[str, float],
    propagation_timeout: float = 120.0,
    profile: str | None = None,
    replaces: str | None = None,
    preferred_chain: str | None = None,
) -> Issued:
    warnings: list[str] = []
    mark = time.monotonic()
    orderr = client.new_order(names, profile=profile, replaces=replaces)
    timings["order"] = round(time.monotonic() - mark, 3)

    work: list[Challenge] = []
    for authzr in orderr.authorizations:
        status = str(authzr.body.status)
        if status == "valid":
            continue  # reused authorization
        ident = authzr.body.identifier.value
        name = "*." + ident if authzr.body.wildcard else ident
        challb = client.dns01(authzr)
        work.append(Challenge(name=name, authz_url=authzr.uri, challb=challb,
                              record_name=lookup.follow_cname(challenge_name(ident)),
                              value=client.key_authorization(challb)))

    written: list[TxtRecord] = []
    failure: BaseException | None = None
    try:
        mark = time.monotonic()
        for item in work:
            written.append(provider.add_txt(item.record_name, item.value))
        timings["dns_publish"] = round(time.monotonic() - mark, 3)

        expected: dict[str, set[str]] = {}
        for item in work:
            expected.setdefault(item.record_name, set()).add(item.value)
        zones = {rec.fqdn: rec.zone for rec in written}
        servers: dict[str, list[Server]] = {}
        for fqdn in expected:
            servers[fqdn] = lookup.authoritative_servers(zones[fqdn])
        timings["propagation_wait"] = round(wait_for_txt(lookup, expected, servers, propagation_timeout), 3)

        mark = time.monotonic()
        for item in work:
            client.answer(item.challb, item.authz_url)
        client.wait_authorizations([w.authz_url for w in work], {w.authz_url: w.name for w in work})
        timings["validation"] = round(time.monotonic() - mark, 3)
    except BaseException as exc:
        failure = exc
        if isinstance(exc, CertsError) and not isinstance(exc, ValidationError):
            exc.details["authorizations_deactivated"] = client.deactivate([w.authz_url for w in work])
        raise
    finally:
        mark = time.monotonic()
        problems = []
        for rec in written:
            try:
                provider.remove_txt(rec)
            except CertsError as exc:
                problems.append("%s: %s" % (rec.fqdn, exc))
        timings["dns_cleanup"] = round(time.monotonic() - mark, 3)
        if problems:
            text = ("the TXT records this run wrote could not all be removed; remove them by hand: "
                    + " | ".join(problems))
            if isinstance(failure, CertsError):
                failure.message = failure.message + " (also: " + text + ")"
                failure.args = (failure.message,)
                failure.details["cleanup_errors"] = problems
            elif failure is None:
                warnings.append(text)

    mark = time.monotonic()
    fullchain, alternates = client.finalize(orderr, csr_der)
    chosen, matched = choose_chain(fullchain, alternates, preferred_chain)
    if not matched:
        warnings.append("no chain issued by %r was offered (offered: %s); kept the default chain"
                        % (preferred_chain, ", ".join(str(top_issuer_cn(c)) for c in [fullchain, *alternates])))
    timings["finalize"] = round(time.monotonic() - mark, 3)
    pems = split_chain(chosen)
    if not pems:
        raise ProtocolError("the CA returned no certificate")  # pragma: no cover - defensive
    return Issued(
        fullchain_pem="".join(pems),
        leaf_pem=pems[0],
        chain_pem="".join(pems[1:]),
        order_url=orderr.uri,
        chain_issuer=top_issuer_cn(chosen),
        records=[rec.public() for rec in written],
        warnings=warnings,
    )
