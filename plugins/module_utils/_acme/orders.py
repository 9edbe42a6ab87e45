# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One DNS-01 order: publish every TXT value, wait for every authoritative server, answer, finalize.

TXT values this run wrote are removed in a ``finally`` whatever happened; failures to remove them
are reported with the original error, never instead of it.
"""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def _timed(timings: dict[str, float], phase: str) -> t.Iterator[None]:
    """Record the seconds the block took as ``timings[phase]`` (not when it raises)."""
    mark = time.monotonic()
    yield
    timings[phase] = round(time.monotonic() - mark, 3)


def _challenges(client: AcmeClient, lookup: Lookup, orderr: t.Any) -> list[Challenge]:
    """The dns-01 challenges of the order's authorizations that are not valid already."""
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
    return work


def _publish(provider: DNSProvider, work: t.Sequence[Challenge], written: list[TxtRecord]) -> None:
    """Write every TXT value, appending each record to *written* as soon as it exists."""
    for item in work:
        written.append(provider.add_txt(item.record_name, item.value))


def _await_propagation(lookup: Lookup, work: t.Sequence[Challenge], written: t.Sequence[TxtRecord],
                       timeout: float) -> float:
    """Wait until every authoritative server of each record's zone serves its values; the seconds waited."""
    expected: dict[str, set[str]] = {}
    for item in work:
        expected.setdefault(item.record_name, set()).add(item.value)
    zones = {rec.fqdn: rec.zone for rec in written}
    servers: dict[str, list[Server]] = {}
    for fqdn in expected:
        servers[fqdn] = lookup.authoritative_servers(zones[fqdn])
    return wait_for_txt(lookup, expected, servers, timeout)


def _validate(client: AcmeClient, work: t.Sequence[Challenge]) -> None:
    """Answer every challenge and wait until the CA has validated every authorization."""
    for item in work:
        client.answer(item.challb, item.authz_url)
    client.wait_authorizations([w.authz_url for w in work], {w.authz_url: w.name for w in work})


def _deactivate_on_failure(client: AcmeClient, work: t.Sequence[Challenge], exc: BaseException) -> None:
    """Deactivate the pending authorizations after a failure other than the CA's refusal (noted in details)."""
    if isinstance(exc, CertsError) and not isinstance(exc, ValidationError):
        exc.details["authorizations_deactivated"] = client.deactivate([w.authz_url for w in work])


def _remove_records(provider: DNSProvider, written: t.Sequence[TxtRecord]) -> list[str]:
    """Remove every TXT record this run wrote; the ones that could not be removed, as messages."""
    problems = []
    for rec in written:
        try:
            provider.remove_txt(rec)
        except CertsError as exc:
            problems.append("%s: %s" % (rec.fqdn, exc))
    return problems


def _report_cleanup(problems: list[str], failure: BaseException | None, warnings: list[str]) -> None:
    """Add cleanup problems to the original error (never instead of it), or to *warnings* on success."""
    if not problems:
        return
    text = ("the TXT records this run wrote could not all be removed; remove them by hand: "
            + " | ".join(problems))
    if isinstance(failure, CertsError):
        failure.message = failure.message + " (also: " + text + ")"
        failure.args = (failure.message,)
        failure.details["cleanup_errors"] = problems
    elif failure is None:
        warnings.append(text)


def _finalize(client: AcmeClient, orderr: t.Any, csr_der: bytes, preferred_chain: str | None,
              warnings: list[str]) -> str:
    """Finalize the order; the full chain chosen by *preferred_chain* (a warning when none matched)."""
    fullchain, alternates = client.finalize(orderr, csr_der)
    chosen, matched = choose_chain(fullchain, alternates, preferred_chain)
    if not matched:
        warnings.append("no chain issued by %r was offered (offered: %s); kept the default chain"
                        % (preferred_chain, ", ".join(str(top_issuer_cn(c)) for c in [fullchain, *alternates])))
    return chosen


def _issued(orderr: t.Any, chosen: str, written: t.Sequence[TxtRecord], warnings: list[str]) -> Issued:
    """The :class:`Issued` result of the chosen full chain."""
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
    """Order *names*, prove control of each through DNS-01, finalize with *csr_der*.

    Phase durations go into *timings*; the TXT records written are removed whatever happened.
    """
    warnings: list[str] = []
    with _timed(timings, "order"):
        orderr = client.new_order(names, profile=profile, replaces=replaces)
    work = _challenges(client, lookup, orderr)

    written: list[TxtRecord] = []
    failure: BaseException | None = None
    try:
        with _timed(timings, "dns_publish"):
            _publish(provider, work, written)
        timings["propagation_wait"] = round(_await_propagation(lookup, work, written, propagation_timeout), 3)
        with _timed(timings, "validation"):
            _validate(client, work)
    except BaseException as exc:
        failure = exc
        _deactivate_on_failure(client, work, exc)
        raise
    finally:
        with _timed(timings, "dns_cleanup"):
            problems = _remove_records(provider, written)
        _report_cleanup(problems, failure, warnings)

    with _timed(timings, "finalize"):
        chosen = _finalize(client, orderr, csr_der, preferred_chain, warnings)
    return _issued(orderr, chosen, written, warnings)
