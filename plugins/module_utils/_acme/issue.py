# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue and renew one certificate over ACME DNS-01: the engine behind ``acme_dns01`` and the agent.

Typed entry points, usable from plain Python:

* :func:`issue` - :class:`IssueRequest` -> :class:`IssueResult`: key and CSR (or the given CSR),
  account, one order over DNS-01, and the new :class:`~.._bundle.Bundle` **in memory**, checked by
  :func:`~.._bundle.validate_bundle` (key match, chain, names, validity).  Writes nothing but the
  ACME account key when it is created.
* :func:`renew` - :class:`RenewRequest` -> :class:`RenewResult`: :func:`.decide.decide` (installed
  certificate + policy + ARI), then :func:`issue`, then install through the generation store with
  :func:`~.._deploy.deploy`, so the service paths (``cert_path``, ``key_path``, ...) are links to the
  store's current generation, as the ``deploy`` module makes them.

Order of work, so that a refusal costs nothing and a failure leaves nothing half-written: check the
names and ``allowed_domains`` (no network), decide, stop when not due or in check mode, order, check
the bundle, install it as one generation.

A certificate issued for a CSR has no key on this host: its generation holds ``cert``, ``chain`` and
``fullchain`` only, and ``key_path`` is left alone (the key stays where the CSR was made).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import time
import typing as t

from .. import _policy, _x509
from .._deps import require
from .._dns.registry import make_provider
from .._dns.zone import Lookup
from .._durable import read_file, write_atomic
from .._errors import CertificateError, CertsError, FileSystemError, InputError
from .._install.bundle import Bundle, build_bundle, validate_bundle
from .._install.deploy import DeployRequest, DeployResult, Targets, deploy
from .._install.store import Attrs, Store
from .._time import iso, parse_duration, utcnow
from . import keys as _keys
from .ari import cert_id
from .client import AcmeClient
from .decide import RenewDecision, decide
from .names import check_allowed, normalize_names
from .orders import obtain
from .retry import Breaker, RetryPolicy


@dataclasses.dataclass
class AcmeAccount:
    """The ACME server and the account used on it."""

    directory: str
    ca_bundle: str | None = None
    key_content: bytes | None = dataclasses.field(default=None, repr=False)
    key_path: str | None = None
    email: str | None = None
    terms_agreed: bool = False
    eab_kid: str | None = None
    eab_hmac_key: str | None = dataclasses.field(default=None, repr=False)


@dataclasses.dataclass
class DnsChallenge:
    """Where the DNS-01 TXT records are written and where their propagation is checked."""

    provider: str
    settings: t.Mapping[str, t.Any] = dataclasses.field(default_factory=dict, repr=False)
    nameservers: list[str] | None = None
    propagation_timeout: float = 120.0

    def __post_init__(self) -> None:
        self.propagation_timeout = parse_duration(self.propagation_timeout, "propagation_timeout")


@dataclasses.dataclass
class IssueRequest:
    """One certificate to order.  ``names`` may be empty when ``csr`` is given (the CSR's names count)."""

    names: list[str]
    account: AcmeAccount
    dns: DnsChallenge
    csr: bytes | None = None
    csr_source: str = "csr_content"
    key_type: str = "ec-p256"
    key_pem: bytes | None = dataclasses.field(default=None, repr=False)
    profile: str | None = None
    preferred_chain: str | None = None
    replaces: str | None = None
    allowed_domains: list[str] | None = None
    timeout: float = 300.0
    leeway: float = 0.0
    # called with {order_url, names, replaces, profile} right after the CA accepted the order (write-ahead ledger)
    on_order: t.Callable[[dict[str, t.Any]], None] | None = dataclasses.field(default=None, repr=False, compare=False)
    # shared by the orders of one run: once the CA is found unreachable, the others fail at once (no new retries)
    breaker: Breaker | None = dataclasses.field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.timeout = parse_duration(self.timeout, "timeout")
        self.leeway = parse_duration(self.leeway, "leeway")


@dataclasses.dataclass
class IssueResult:
    bundle: Bundle
    names: list[str]
    account_uri: str | None
    order_url: str | None
    chain_issuer: str | None
    dns_records: list[dict[str, t.Any]]
    timings: dict[str, float]
    warnings: list[str]


@dataclasses.dataclass
class RenewRequest:
    """Renew the certificate installed at ``targets`` when due; install the new one there."""

    issue: IssueRequest
    targets: Targets
    policy: _policy.Policy = dataclasses.field(default_factory=_policy.Policy)
    ari: bool = True
    reuse_key: bool = False
    attrs: Attrs = dataclasses.field(default_factory=Attrs)
    check_mode: bool = False


@dataclasses.dataclass
class RenewResult:
    changed: bool
    renewed: bool
    reason: str
    names: list[str]
    certificate: dict[str, t.Any] | None
    previous: dict[str, t.Any] | None
    ari: dict[str, t.Any] | None
    timings: dict[str, float]
    store: str
    generation: int | None
    warnings: list[str]
    account_uri: str | None = None
    order_url: str | None = None
    chain_issuer: str | None = None
    dns_records: list[dict[str, t.Any]] = dataclasses.field(default_factory=list)
    renewal_log: dict[str, t.Any] | None = None

    def facts(self) -> dict[str, t.Any]:
        """The module's return values (everything but ``warnings``; ``renewal_log`` only when renewed)."""
        out = dataclasses.asdict(self)
        out.pop("warnings")
        if self.renewal_log is None:
            out.pop("renewal_log")
        return out


# --------------------------------------------------------------------------- inputs


def request_names(req: IssueRequest) -> tuple[list[str], bytes | None]:
    """The normalised, allowed names and the CSR in DER (``None`` without CSR); no network."""
    names = normalize_names(req.names or [])
    csr_der = None
    if req.csr is not None:
        csr_der, csr_names = _keys.load_csr(req.csr, req.csr_source)
        csr_names = normalize_names(csr_names)
        if names and set(names) != set(csr_names):
            raise InputError("names (%s) differ from the names in the CSR (%s); drop names or fix the CSR"
                             % (", ".join(names), ", ".join(csr_names)))
        names = csr_names
    if not names:
        raise InputError("give the certificate's names in names (or a CSR in csr_content / csr_path)")
    check_allowed(names, req.allowed_domains)
    return names, csr_der


def account_key(account: AcmeAccount, create: bool = True) -> bytes | None:
    """The account key PEM: given, read from ``key_path``, or created there (EC P-256, mode 0600).

    ``None`` when the file does not exist and *create* is false (check mode).
    """
    if account.key_content:
        return account.key_content
    path = account.key_path
    if not path:
        raise InputError("give account_key_content or account_key_path (a new key is created at the path if missing)")
    data = read_file(path)
    if data is not None or not create:
        return data
    check_dir(path, "account_key_path")
    write_atomic(path, _keys.key_to_pem(_keys.generate_key("ec-p256")), 0o600)
    return read_file(path)


def check_dir(path: str | None, option: str) -> None:
    if not path:
        return
    directory = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(directory):
        raise FileSystemError("the directory of %s %s does not exist; create it first" % (option, path), path=path)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise FileSystemError("the directory of %s %s is not writable by this user" % (option, path), path=path)


def _client(account: AcmeAccount, account_pem: bytes, deadline: float, breaker: Breaker | None = None) -> AcmeClient:
    return AcmeClient(account.directory, account_pem, account.ca_bundle, RetryPolicy(deadline=deadline, breaker=breaker))


# --------------------------------------------------------------------------- issue


def issue(req: IssueRequest, client: AcmeClient | None = None, deadline: float | None = None) -> IssueResult:
    """Order one certificate over DNS-01 and return it as a checked bundle in memory."""
    require("cryptography")
    deadline = deadline if deadline is not None else time.monotonic() + req.timeout
    names, csr_der = request_names(req)
    provider = make_provider(req.dns.provider, req.dns.settings, deadline)  # validates settings; no network
    lookup = Lookup(req.dns.nameservers or None)
    timings: dict[str, float] = {}
    warnings: list[str] = []

    key_pem = None
    if csr_der is None:
        if req.key_pem is not None:
            key = _x509.load_private_key(req.key_pem, "the reused key")
        else:
            key = _keys.generate_key(req.key_type or "ec-p256")
        key_pem = _keys.key_to_pem(key)
        csr_der = _keys.build_csr(key, names)

    if client is None:
        client = _client(req.account, t.cast(bytes, account_key(req.account)), deadline, req.breaker)
    if req.on_order is not None:
        client.on_order = req.on_order
    account_uri = client.ensure_account(req.account.email, req.account.terms_agreed, req.account.eab_kid,
                                        req.account.eab_hmac_key)
    profile = req.profile
    if profile:
        offered = client.profiles()
        if not offered:
            warnings.append("the CA offers no profiles; ordered without profile %r" % profile)
            profile = None
        elif profile not in offered:
            raise InputError("the CA offers no profile %r (offered: %s)" % (profile, ", ".join(sorted(offered))))
    replaces = req.replaces if req.replaces and client.has("renewalInfo") else None
    issued = obtain(client, provider, lookup, names, csr_der, timings,
                    propagation_timeout=req.dns.propagation_timeout, profile=profile, replaces=replaces,
                    preferred_chain=req.preferred_chain)
    warnings.extend(issued.warnings)
    try:
        bundle = build_bundle(issued.leaf_pem.encode(), key_pem, issued.chain_pem.encode(),
                              {"cert": "the issued certificate", "key": "the new key", "chain": "the issued chain"})
        validate_bundle(bundle, expected_names=names, leeway=req.leeway)
    except CertificateError as exc:
        raise CertificateError("the CA's answer was refused, nothing was installed: %s" % exc,
                               order_url=issued.order_url) from None
    return IssueResult(bundle, names, account_uri, issued.order_url, issued.chain_issuer, issued.records, timings,
                       warnings)


# --------------------------------------------------------------------------- renew


def renew(req: RenewRequest) -> RenewResult:
    """Decide, and when due issue and install through the generation store (see the module docstring)."""
    require("cryptography")
    started = time.monotonic()
    names, csr_der = request_names(req.issue)
    make_provider(req.issue.dns.provider, req.issue.dns.settings, started + req.issue.timeout)  # settings, early
    targets = req.targets
    cert_path = targets.anchor()
    for role, path in targets.paths().items():
        check_dir(path, role + "_path")
    if csr_der is None and not targets.key:
        raise InputError("key_path is required unless a CSR is given (the key is generated there)")
    if csr_der is not None:
        targets = dataclasses.replace(targets, key=None, combined=None)
    deadline = started + req.issue.timeout
    policy = req.policy

    account_pem = account_key(req.issue.account, create=not req.check_mode)
    client = None
    renewal_info = None
    if req.ari and account_pem is not None:
        client = _client(req.issue.account, account_pem, deadline, req.issue.breaker)
        renewal_info = client.renewal_info
    decision = decide(cert_path, targets.key if csr_der is None else None, names, policy, renewal_info)
    if csr_der is not None and not decision.due and not _csr_key_matches(csr_der, decision.cert):
        # a key made elsewhere (on a host: only its CSR travels) that the stored certificate was not issued for
        decision.due, decision.reason = True, "key_mismatch"
    store = targets.store_dir()
    result = _result(decision, names, store)
    if not decision.due or req.check_mode:
        result.changed = decision.due
        result.timings["total"] = round(time.monotonic() - started, 3)
        return result

    key_pem = read_file(targets.key) if req.reuse_key and csr_der is None else None
    issue_req = dataclasses.replace(req.issue, names=names, replaces=req.issue.replaces or decision.replaces,
                                    key_pem=key_pem)
    if client is None:
        client = _client(req.issue.account, t.cast(bytes, account_pem), deadline, req.issue.breaker)
    issued = issue(issue_req, client=client, deadline=deadline)
    result.warnings.extend(issued.warnings)
    result.timings.update(issued.timings)
    result.account_uri = issued.account_uri

    shown = dataclasses.replace(policy, force=False, now=utcnow())
    installed = deploy(DeployRequest(targets=targets, bundle=issued.bundle, attrs=req.attrs, policy=shown))
    result.timings["total"] = round(time.monotonic() - started, 3)
    result.changed = result.renewed = True
    result.certificate = installed.certificate
    result.generation = installed.generation
    result.order_url, result.chain_issuer, result.dns_records = issued.order_url, issued.chain_issuer, issued.dns_records
    result.renewal_log = _renewal_log(issued.bundle, installed, names, result)
    return result


def _csr_key_matches(csr_der: bytes, leaf: t.Any) -> bool:
    """Whether the certificate *leaf* (None: no certificate) was issued for the key of the CSR."""
    if leaf is None:
        return False
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    try:
        requested = x509.load_der_x509_csr(csr_der).public_key().public_bytes(*spki)
    except ValueError:
        return False
    return bool(leaf.public_key().public_bytes(*spki) == requested)


def _result(decision: RenewDecision, names: list[str], store: str) -> RenewResult:
    return RenewResult(
        changed=False, renewed=False, reason=decision.reason, names=names, certificate=decision.description,
        previous=decision.description, ari=decision.ari, timings={}, store=store,
        generation=Store(store).current(), warnings=list(decision.warnings),
    )


def _renewal_log(bundle: Bundle, installed: DeployResult, names: list[str], result: RenewResult) -> dict[str, t.Any]:
    description = installed.certificate or {}
    return {
        "event": "certificate_renewed",
        "cert_id": _safe_cert_id(bundle.cert),
        "names": names,
        "renewal_time": iso(_dt.datetime.now(_dt.timezone.utc)),
        "next_expiry": description.get("not_after"),
        "serial": description.get("serial"),
        "duration": result.timings["total"],
        "reason": result.reason,
    }


def _safe_cert_id(cert: t.Any) -> str | None:
    try:
        return cert_id(cert)
    except CertsError:
        return None


def log_line(result: RenewResult) -> str:
    """The one structured JSON line logged per renewal ("" when nothing was renewed)."""
    return json.dumps(result.renewal_log, sort_keys=True) if result.renewal_log else ""
