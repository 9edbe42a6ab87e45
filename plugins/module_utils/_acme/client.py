# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ACME v2 (RFC 8555) client steps on the ``acme`` and ``josepy`` libraries, every request retried.

The ``acme`` library signs (JWS) and parses; this module adds what it lacks: many badNonce
retries, Retry-After on 429/5xx, one deadline, ``replaces`` on newOrder (RFC 9773), fast polling,
and error messages that say what to do.
"""

from __future__ import annotations

import re
import time
import typing as t

from .._deps import require
from .._errors import CertsError, InputError, ProtocolError, ValidationError
from . import retry as _retry
from .ari import cert_id, parse_window

try:
    import josepy as jose
    import requests
    from acme import challenges, messages
    from acme import errors as acme_errors
    from acme.client import ClientNetwork, ClientV2
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
except ImportError:  # pragma: no cover - AcmeClient() reports it through _deps.require
    ClientNetwork = object  # type: ignore[assignment,misc]
else:

    class _NewOrder(messages.NewOrder):
        """newOrder with RFC 9773 ``replaces`` (the ``acme`` library lacks it)."""

        replaces: str | None = jose.field("replaces", omitempty=True)

USER_AGENT = "ghostguard.certs acme_dns01"
FINAL_STATES = ("valid", "invalid", "deactivated", "expired", "revoked")


class _Network(ClientNetwork):
    """ClientNetwork that remembers the last response (for Retry-After) and counts requests."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_response: t.Any = None
        self.requests_sent = 0

    def _send_request(self, method: str, url: str, *args: t.Any, **kwargs: t.Any) -> t.Any:
        self.requests_sent += 1
        self.last_response = None
        response = super()._send_request(method, url, *args, **kwargs)
        self.last_response = response
        return response


def jwk_from_pem(pem: bytes) -> tuple[t.Any, t.Any]:
    """The JWK and JWS algorithm for a PEM account key (RSA, EC P-256/P-384/P-521)."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise InputError("the ACME account key is not a readable unencrypted PEM private key (%s)"
                         % str(exc).splitlines()[0][:120]) from None
    if isinstance(key, rsa.RSAPrivateKey):
        return jose.JWKRSA(key=key), jose.RS256
    if isinstance(key, ec.EllipticCurvePrivateKey):
        alg = {"secp256r1": jose.ES256, "secp384r1": jose.ES384, "secp521r1": jose.ES512}.get(key.curve.name)
        if alg is None:
            raise InputError("ACME account keys on curve %s are not supported; use P-256 or P-384" % key.curve.name)
        return jose.JWKEC(key=key), alg
    raise InputError("ACME account keys must be RSA or EC; %s is not supported" % key.__class__.__name__)


class AcmeClient:
    """One ACME server, one account key, one deadline."""

    def __init__(self, directory_url: str, account_key_pem: bytes, ca_bundle: str | None,
                 policy: _retry.RetryPolicy, request_timeout: int = 30) -> None:
        require("cryptography", "acme")
        self.url = directory_url
        self.jwk, alg = jwk_from_pem(account_key_pem)
        self.policy = policy
        self.net = _Network(self.jwk, alg=alg, verify_ssl=ca_bundle or True, user_agent=USER_AGENT,
                            timeout=request_timeout)
        self._client: t.Any = None
        self.account_uri: str | None = None
        # called with {order_url, names, replaces, profile} as soon as the CA accepted a newOrder (write-ahead)
        self.on_order: t.Callable[[dict[str, t.Any]], None] | None = None

    # ------------------------------------------------------------------ plumbing

    def _classify(self, exc: BaseException) -> _retry.Failure | None:
        resp = self.net.last_response
        status = resp.status_code if resp is not None else None
        retry_after = _retry.parse_retry_after(resp.headers.get("Retry-After")) if resp is not None else None
        if isinstance(exc, messages.Error):
            code = exc.code or ""
            desc = "%s%s (HTTP %s)" % (code or exc.typ, ": " + exc.detail if exc.detail else "", status)
            if code == "badNonce":
                return _retry.Failure(True, desc, nonce=True)
            transient = code in _retry.TRANSIENT_PROBLEMS or (status is not None and (status == 429 or status >= 500))
            down = code == "serverInternal" or (status is not None and status >= 500)
            return _retry.Failure(transient, desc, retry_after=retry_after, unreachable=down)
        if isinstance(exc, (acme_errors.BadNonce, acme_errors.MissingNonce)):
            return _retry.Failure(True, "nonce problem: %s" % exc.__class__.__name__, nonce=True)
        if isinstance(exc, acme_errors.ConflictError):
            return None
        if isinstance(exc, acme_errors.ClientError):
            transient = status is not None and (status == 429 or status >= 500)
            where = getattr(resp, "url", self.url)
            return _retry.Failure(transient, "HTTP %s from %s" % (status, where), retry_after=retry_after,
                                  unreachable=status is not None and status >= 500)
        if isinstance(exc, requests.exceptions.SSLError):
            return _retry.Failure(False, "TLS to %s failed (%s); set acme_ca_bundle to the CA that signed the ACME "
                                  "server's certificate" % (self.url, _short(exc)))
        if isinstance(exc, requests.exceptions.RequestException):
            return _retry.Failure(True, "connection to %s failed (%s)" % (self.url, _network_reason(exc)), unreachable=True)
        return None

    def _do(self, fn: t.Callable[[], t.Any], what: str) -> t.Any:
        return _retry.call(fn, what, self.policy, self._classify)

    @property
    def client(self) -> t.Any:
        if self._client is None:
            directory = self._do(lambda: ClientV2.get_directory(self.url, self.net), "directory fetch from " + self.url)
            self._client = ClientV2(directory, self.net)
        return self._client

    @property
    def directory(self) -> t.Any:
        return self.client.directory

    def has(self, resource: str) -> bool:
        try:
            return bool(self.directory[resource])
        except KeyError:
            return False

    def profiles(self) -> dict[str, str]:
        return dict(getattr(self.directory.meta, "profiles", None) or {})

    def post(self, url: str, obj: t.Any, what: str) -> t.Any:
        nonce_url = self.directory["newNonce"]
        return self._do(lambda: self.net.post(url, obj, new_nonce_url=nonce_url), what)

    # ------------------------------------------------------------------ account

    def ensure_account(self, email: str | None, terms_agreed: bool, eab_kid: str | None = None,
                       eab_hmac_key: str | None = None) -> str:
        """Find the account of the key, or register it.  Returns the account URL."""
        meta = self.directory.meta
        eab = self._eab_binding(eab_kid, eab_hmac_key)
        need_eab = eab is None and bool(getattr(meta, "external_account_required", False))
        need_terms = bool(getattr(meta, "terms_of_service", None)) and not terms_agreed
        if need_eab or need_terms:
            # Creating an account is not possible as asked: an existing account of this key is fine.
            return self._existing_account(need_eab)
        return self._register(email, terms_agreed, eab, eab_kid)

    def _eab_binding(self, eab_kid: str | None, eab_hmac_key: str | None) -> t.Any:
        """The external account binding of *eab_kid* signed with *eab_hmac_key*, or None without a kid."""
        if not eab_kid:
            return None
        if not eab_hmac_key:
            raise InputError("eab_hmac_key is required with eab_kid: set it to the HMAC key the CA shows with this "
                             "kid (keep it in a vault variable); nothing was created")
        try:
            return messages.ExternalAccountBinding.from_data(self.jwk.public_key(), eab_kid, eab_hmac_key,
                                                             self.directory)
        except (ValueError, TypeError):
            raise InputError("eab_hmac_key is not valid base64url; paste it exactly as the CA shows it") from None

    def _existing_account(self, need_eab: bool) -> str:
        """The URL of the existing account of the key; refused (saying what is missing) when there is none."""
        directory = self.directory
        lookup = messages.NewRegistration(only_return_existing=True)
        try:
            response = self.post(directory["newAccount"], lookup, "account lookup")
        except ProtocolError as exc:
            if "accountDoesNotExist" not in str(exc):
                raise
            if need_eab:
                raise InputError("the CA at %s requires external account binding to create an account for this "
                                 "key: set eab_kid and eab_hmac_key from the CA's account page (the HMAC key in a "
                                 "vault variable); nothing was created" % self.url) from None
            raise InputError("no ACME account exists yet for this account key at %s, and creating one needs "
                             "agreement to the terms of service (%s): read them and set terms_agreed=true"
                             % (self.url, directory.meta.terms_of_service)) from None
        self._set_account(response.headers.get("Location"))
        return t.cast(str, self.account_uri)

    def _register(self, email: str | None, terms_agreed: bool, eab: t.Any, eab_kid: str | None) -> str:
        """Register the key (newAccount), or take the account the CA says it already has."""
        kwargs: dict[str, t.Any] = {"terms_of_service_agreed": bool(terms_agreed)}
        if eab is not None:
            kwargs["external_account_binding"] = eab
        registration = messages.NewRegistration.from_data(email=email or None, **kwargs)
        try:
            regr = self._do(lambda: self.client.new_account(registration), "newAccount")
            self.account_uri = regr.uri
        except acme_errors.ConflictError as conflict:
            self._set_account(conflict.location)
        except ProtocolError as exc:
            if eab is None or not any(w in str(exc) for w in ("external account", "externalAccount", "unauthorized")):
                raise
            raise InputError("the CA at %s refused the external account binding of eab_kid %r (%s): eab_kid and "
                             "eab_hmac_key must be the pair the CA shows (the HMAC key as base64url, exactly); "
                             "nothing was created" % (self.url, eab_kid, exc)) from None
        return t.cast(str, self.account_uri)

    def _set_account(self, location: str | None) -> None:
        if not location:
            raise ProtocolError("the CA found the account but sent no account URL (Location header)")
        self.account_uri = location
        self.net.account = messages.RegistrationResource(body=messages.Registration(), uri=location)

    # ------------------------------------------------------------------ orders

    def new_order(self, names: t.Sequence[str], profile: str | None = None, replaces: str | None = None) -> t.Any:
        identifiers = [messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=n) for n in names]
        fields: dict[str, t.Any] = {"identifiers": identifiers}
        if profile:
            fields["profile"] = profile
        if replaces:
            fields["replaces"] = replaces
        response = self.post(self.directory["newOrder"], _NewOrder(**fields), "newOrder for %s" % ", ".join(names))
        if self.on_order is not None:
            self.on_order({"order_url": response.headers.get("Location"), "names": list(names),
                           "replaces": replaces or None, "profile": profile or None})
        body = messages.Order.from_json(response.json())
        authorizations = [self.authorization(url) for url in body.authorizations]
        return messages.OrderResource(body=body, uri=response.headers.get("Location"), authorizations=authorizations)

    def authorization(self, url: str) -> t.Any:
        response = self.post(url, None, "authorization fetch")
        return messages.AuthorizationResource(body=messages.Authorization.from_json(response.json()), uri=url)

    @staticmethod
    def dns01(authzr: t.Any) -> t.Any:
        for challb in authzr.body.challenges:
            if isinstance(challb.chall, challenges.DNS01):
                return challb
        offered = ", ".join(sorted({c.chall.typ for c in authzr.body.challenges}))
        raise ProtocolError("the CA offers no dns-01 challenge for %s (only: %s); use another method or CA"
                            % (authzr.body.identifier.value, offered))

    def key_authorization(self, challb: t.Any) -> str:
        return t.cast(str, challb.chall.validation(self.jwk))

    def answer(self, challb: t.Any, authz_url: str | None = None) -> None:
        """Tell the CA to validate; an answer the CA already took (a retry after a lost reply) is fine."""
        try:
            self.post(challb.uri, challb.response(self.jwk), "challenge answer")
        except ProtocolError:
            if authz_url is None:
                raise
            authzr = self.authorization(authz_url)
            states = {_status(c.status) for c in authzr.body.challenges if c.uri == challb.uri}
            if _status(authzr.body.status) == "valid" or states & {"processing", "valid"}:
                return
            raise

    def deactivate(self, urls: t.Sequence[str]) -> int:
        """Best effort after a failure: give up pending authorizations (CAs limit how many may pend).

        Bounded on its own (two attempts within a few seconds each), so a dead CA cannot stretch a failure;
        nothing is sent once the run's breaker found the CA unreachable.
        Returns how many were deactivated.
        """
        saved = self.policy
        done = 0
        try:
            for url in urls:
                self.policy = _retry.RetryPolicy.within(5, max_attempts=2, breaker=saved.breaker)
                try:
                    self.post(url, messages.UpdateAuthorization(status=messages.STATUS_DEACTIVATED),
                              "authorization deactivation")
                    done += 1
                except CertsError:
                    continue
        finally:
            self.policy = saved
        return done

    def wait_authorizations(self, urls: t.Sequence[str], names: t.Mapping[str, str]) -> None:
        """Poll until every authorization is valid; the first invalid one raises ValidationError."""
        pending = list(urls)
        delay = 0.1
        while pending:
            for url in list(pending):
                authzr = self.authorization(url)
                status = _status(authzr.body.status)
                if status == "valid":
                    pending.remove(url)
                elif status in FINAL_STATES:
                    problems = [c.error for c in authzr.body.challenges if c.error is not None]
                    detail = "; ".join("%s: %s" % (p.code or p.typ, p.detail) for p in problems) or status
                    name = names.get(url, authzr.body.identifier.value)
                    raise ValidationError(
                        "the CA could not validate %s over DNS-01: %s. Check that the TXT record at %s is served by "
                        "every authoritative server the CA asks (public DNS, not only nameservers)"
                        % (name, detail, "_acme-challenge." + authzr.body.identifier.value), name=name)
            if not pending:
                return
            if time.monotonic() + delay > self.policy.deadline:
                raise ProtocolError("the CA had not finished validating %s before the deadline; raise timeout"
                                    % ", ".join(names.get(u, u) for u in pending))
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)

    def finalize(self, orderr: t.Any, csr_der: bytes) -> tuple[str, list[str]]:
        """Finalize, wait for the certificate, download it and the alternate chains."""
        csr = x509.load_der_x509_csr(csr_der)
        try:
            response = self.post(orderr.body.finalize, messages.CertificateRequest(csr=csr), "finalize")
            body = messages.Order.from_json(response.json())
        except ProtocolError:
            # A finalize retried after a lost answer meets an order already processing: look at the order.
            body = messages.Order.from_json(self.post(orderr.uri, None, "order fetch").json())
            if _status(body.status) not in ("processing", "valid"):
                raise
        delay = 0.1
        while _status(body.status) not in ("valid", "invalid"):
            if time.monotonic() + delay > self.policy.deadline:
                raise ProtocolError("the CA had not issued the certificate before the deadline (order %s is %s)"
                                    % (orderr.uri, body.status))
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)
            body = messages.Order.from_json(self.post(orderr.uri, None, "order fetch").json())
        if _status(body.status) == "invalid":
            problem = body.error
            raise ProtocolError("the CA refused to issue the certificate (order %s): %s"
                                % (orderr.uri, "%s: %s" % (problem.code, problem.detail) if problem else "no reason given"))
        if not body.certificate:
            raise ProtocolError("the CA marked order %s valid but gave no certificate URL" % orderr.uri)
        cert_response = self.post(body.certificate, None, "certificate download")
        alternates = []
        for url in _alternate_links(cert_response.headers.get("Link", "")):
            alternates.append(self.post(url, None, "alternate chain download").text)
        return cert_response.text, alternates

    # ------------------------------------------------------------------ ARI (RFC 9773)

    def renewal_info(self, cert: t.Any) -> dict[str, t.Any] | None:
        """The CA's suggested renewal window for *cert*, or None when the CA has no ARI."""
        if not self.has("renewalInfo"):
            return None
        ident = cert_id(cert)
        url = self.directory["renewalInfo"].rstrip("/") + "/" + ident
        response = self._do(lambda: self.net.get(url), "renewalInfo")
        info = parse_window(response.json())
        info["cert_id"] = ident
        info["retry_after"] = _retry.parse_retry_after(response.headers.get("Retry-After"))
        return info


def _status(value: t.Any) -> str:
    return str(getattr(value, "name", value))


def _alternate_links(header: str) -> list[str]:
    return re.findall(r'<([^>]+)>\s*;\s*rel="?alternate"?', header or "")


def _network_reason(exc: BaseException) -> str:
    """What went wrong on the wire, in a few words ("Connection refused", "timed out"), not the nested reprs."""
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if found:
        return found.group(1).strip()
    if isinstance(exc, requests.exceptions.Timeout) or "timed out" in text:
        return "timed out"
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "the server closed the connection without an answer"
    return _short(exc)


def _short(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return text.splitlines()[0][:200]
