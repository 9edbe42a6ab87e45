# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One TLS handshake with an :class:`Endpoint`: SNI, ALPN, client certificate, served chain, timings.

A failure is a :class:`HandshakeFailure` with an error class (``refused``, ``timeout``,
``unreachable``, ``handshake_failure``, ``expired``, ``unknown_ca``, ``hostname_mismatch``) and a
message saying what to do.  ``probe`` builds the probe (retries, description) on it.

The served chain comes from ``get_unverified_chain`` (Python 3.10 and later); on Python 3.9 only
the leaf is available.  Plain Python, no Ansible import.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import ssl
import time
import typing as t

from .. import _x509
from .._errors import CertsError, InputError
from .._time import parse_duration, parse_number

ERROR_CLASSES = ("refused", "timeout", "unreachable", "handshake_failure", "expired", "unknown_ca", "hostname_mismatch")

# OpenSSL X509_V_ERR_* codes -> error class
_VERIFY_CLASSES = {
    9: "expired",  # not yet valid: the validity window, like expiry
    10: "expired",
    2: "unknown_ca",
    18: "unknown_ca",
    19: "unknown_ca",
    20: "unknown_ca",
    21: "unknown_ca",
    27: "unknown_ca",
    62: "hostname_mismatch",
    64: "hostname_mismatch",
}

# What to do about a verification failure, appended to its message.
_VERIFY_HINTS = {
    "unknown_ca": "; the served chain does not lead to a CA this host trusts: give ca_bundle (a private CA's root), "
                  "or make the service send its intermediate certificates",
    "hostname_mismatch": "; set server_name to a name the certificate holds, or install a certificate for this name",
    "expired": "; the served certificate (or one of its chain) is outside its validity window: renew and reload, "
               "or check this host's clock",
}
# OpenSSL's reasons when the peer answers a ClientHello with something that is not TLS (HTTP, SSH...).
_NOT_TLS_REASONS = ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "HTTPS_PROXY_REQUEST", "UNKNOWN_PROTOCOL",
                    "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE")


@dataclasses.dataclass
class Endpoint:
    """A TLS service to probe, with how to reach and verify it (``endpoint_info``'s endpoint options)."""

    host: str
    port: int = 443
    server_name: str | None = None
    alpn: t.Sequence[str] = ()
    ca_bundle: str | None = None
    validate_certs: bool = True
    client_cert: str | None = None
    client_key: str | None = None
    expected_fingerprint: str | None = None
    retries: int = 0
    retry_delay: float = 1.0
    retry_backoff: float = 1.0  # each wait is the previous one times this (1.0: constant)
    retry_max_delay: float | None = None  # cap on any single wait (None: up to 1h, the range's top)
    timeout: float = 10.0
    name: str | None = None
    index: int | None = None  # position in ``endpoints`` (None for the single ``host``)

    @property
    def entry(self) -> str:
        """How messages name this endpoint: ``endpoints[2] (db1:443)``, or ``db1:443`` for a single host."""
        return self.label if self.index is None else "endpoints[%d] (%s)" % (self.index, self.label)

    def _option(self, name: str) -> str:
        return name if self.index is None else "endpoints[%d].%s" % (self.index, name)

    def check(self) -> None:
        """Refuse values that cannot work, naming the entry; normalise ``expected_fingerprint``."""
        if not self.host:
            raise InputError("%s has no host; give host (and port) for every endpoint"
                             % ("the endpoint" if self.index is None else "endpoints[%d]" % self.index))
        if self.host.startswith("[") and self.host.endswith("]"):  # [::1] as written in a URL
            self.host = self.host[1:-1]
        try:
            port = int(self.port)
        except (TypeError, ValueError):
            port = 0
        if not 0 < port < 65536:
            raise InputError("%s: port %r is not a TCP port (1-65535)" % (self.entry, self.port))
        if self.retries < 0:
            raise InputError("%s: retries must not be negative (got %s)" % (self.entry, self.retries))
        self.retry_delay = parse_duration(self.retry_delay, self._option("retry_delay"))
        self.retry_backoff = parse_number(self.retry_backoff, self._option("retry_backoff"))
        if self.retry_max_delay is not None:
            self.retry_max_delay = parse_duration(self.retry_max_delay, self._option("retry_max_delay"))
        self.timeout = parse_duration(self.timeout, self._option("timeout"))
        if bool(self.client_key) and not self.client_cert:
            raise InputError("%s: client_key needs client_cert" % self.entry)
        if self.expected_fingerprint:
            try:
                self.expected_fingerprint = _x509.normalize_fingerprint(self.expected_fingerprint)
            except InputError as exc:
                raise InputError("%s: expected_%s" % (self.entry, exc)) from None

    def check_files(self) -> None:
        """Refuse a ``ca_bundle``/``client_cert``/``client_key`` that is missing, unreadable or holds no
        certificate, naming the entry and the file (``probe`` reports it on this endpoint alone)."""
        for option in ("ca_bundle", "client_cert", "client_key"):
            path = getattr(self, option)
            if not path:
                continue
            if not os.path.isfile(path) or not os.access(path, os.R_OK):
                why = "does not exist" if not os.path.lexists(path) else (
                    "is not a regular file" if not os.path.isfile(path) else "cannot be read (permission denied)")
                raise InputError("%s: %s %s %s; give a readable PEM file" % (self.entry, option, path, why), path=path)
        if self.ca_bundle:
            try:
                with open(self.ca_bundle, "rb") as handle:
                    _x509.load_certificates(handle.read(), "ca_bundle " + self.ca_bundle)
            except (OSError, CertsError) as exc:
                raise InputError("%s: %s; give a PEM file of CA certificates" % (
                    self.entry, getattr(exc, "strerror", None) or exc), path=self.ca_bundle) from None

    @classmethod
    def from_options(cls, options: t.Mapping[str, t.Any], defaults: t.Mapping[str, t.Any] | None = None,
                     index: int | None = None) -> Endpoint:
        """Build from module-style options; unset (None) keys fall back to *defaults*.

        *index* is the entry's position in ``endpoints``: every message names it.
        """
        merged = {k: v for k, v in (defaults or {}).items() if v is not None}
        merged.update({k: v for k, v in options.items() if v is not None})
        where = "endpoints[%d]" % index if index is not None else "the endpoint"
        unknown = set(options) - ({f.name for f in dataclasses.fields(cls)} - {"index"})
        if unknown:
            raise InputError("%s: unknown endpoint option(s) %s; see ansible-doc ghostguard.certs.endpoint_info"
                             % (where, ", ".join(sorted(unknown))))
        if not merged.get("host"):
            raise InputError("%s has no host: every endpoint needs a host" % where)
        where = "%s (host %s)" % (where, merged["host"]) if index is not None else "endpoint %s" % merged["host"]
        numbers = {}
        for key, default, what in (("port", 443, "a TCP port (1-65535)"), ("retries", 0, "a number of attempts")):
            try:
                numbers[key] = int(merged.get(key) or default)
            except (TypeError, ValueError, OverflowError):
                raise InputError("%s: %s %r is not %s" % (where, key, merged.get(key), what)) from None
        endpoint = cls(
            host=str(merged["host"]),
            port=numbers["port"],
            server_name=merged.get("server_name"),
            alpn=list(merged.get("alpn") or []),
            ca_bundle=merged.get("ca_bundle"),
            validate_certs=bool(merged.get("validate_certs", True)),
            client_cert=merged.get("client_cert"),
            client_key=merged.get("client_key"),
            expected_fingerprint=merged.get("expected_fingerprint"),
            retries=numbers["retries"],
            retry_delay=merged.get("retry_delay", 1.0),
            retry_backoff=merged.get("retry_backoff", 1.0),
            retry_max_delay=merged.get("retry_max_delay"),
            timeout=merged.get("timeout", 10.0),
            name=merged.get("name"),
            index=index,
        )
        endpoint.check()
        return endpoint

    def waits(self) -> t.Iterator[float]:
        """The waits between attempts, in order (``retries`` of them): ``retry_delay``, then each the previous
        one times ``retry_backoff``, none above ``retry_max_delay`` (without it, none above 1h)."""
        cap = 3600.0 if self.retry_max_delay is None else min(float(self.retry_max_delay), 3600.0)
        wait = float(self.retry_delay)
        for _wait in range(int(self.retries)):
            yield min(wait, cap)
            wait = min(wait * float(self.retry_backoff), cap)

    @property
    def sni(self) -> str:
        if self.server_name and not self.server_name.isascii():
            from .._domains import ascii_form  # an IDN is sent as its A-label (RFC 6066), by IDNA 2008

            return ascii_form(self.server_name)
        return self.server_name or self.host

    @property
    def label(self) -> str:
        """``name``, else ``host:port`` (an IPv6 address in brackets: ``[::1]:443``)."""
        if self.name:
            return self.name
        host = "[%s]" % self.host if ":" in self.host and not self.host.startswith("[") else self.host
        return "%s:%s" % (host, self.port)


class HandshakeFailure(Exception):
    """A failed connection or handshake: ``error`` is the error class, ``message`` says what to do."""

    def __init__(self, error: str, message: str, certificate_refused: bool = False) -> None:
        super().__init__(message)
        self.error = error
        self.message = message
        self.certificate_refused = certificate_refused  # the handshake happened and verification refused the chain


# --------------------------------------------------------------------------- the handshake


def _context(ep: Endpoint, verify: bool) -> ssl.SSLContext:
    if verify:
        try:
            ctx = ssl.create_default_context(cafile=ep.ca_bundle) if ep.ca_bundle else ssl.create_default_context()
        except (OSError, ssl.SSLError) as exc:
            raise InputError("%s: ca_bundle %s cannot be loaded (%s); give a PEM file of CA certificates"
                             % (ep.entry, ep.ca_bundle, getattr(exc, "strerror", None) or exc), path=ep.ca_bundle) from None
        # Python 3.13 turns on X509_STRICT by default (e.g. an Authority Key Identifier becomes
        # mandatory).  Clients of the probed services (OpenSSL, Go, gRPC C-core) do not apply it,
        # and a verdict must not depend on the managed host's Python version: verify as they do.
        ctx.verify_flags &= ~getattr(ssl, "VERIFY_X509_STRICT", 0)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if ep.alpn:
        ctx.set_alpn_protocols(list(ep.alpn))
    if ep.client_cert:
        try:
            ctx.load_cert_chain(ep.client_cert, ep.client_key)
        except (OSError, ssl.SSLError) as exc:
            raise InputError("%s: client_cert %s / client_key cannot be loaded (%s); give a matching PEM pair"
                             % (ep.entry, ep.client_cert, getattr(exc, "strerror", None) or exc)) from None
    return ctx


def _served_chain(sock: ssl.SSLSocket) -> list[bytes]:
    getter = getattr(sock, "get_unverified_chain", None)
    if getter is None:
        sslobj = getattr(sock, "_sslobj", None)
        getter = getattr(sslobj, "get_unverified_chain", None)
    items: list[t.Any] = []
    if getter is not None:
        try:
            items = list(getter() or [])
        except (ssl.SSLError, ValueError):
            items = []
    out = []
    for item in items:
        if isinstance(item, (bytes, bytearray)):
            out.append(bytes(item))
        else:
            out.append(bytes(item.public_bytes(ssl._ssl.ENCODING_DER)))  # type: ignore[attr-defined]
    if not out:
        leaf = sock.getpeercert(binary_form=True)
        if leaf:
            out = [leaf]
    return out


def _check_client_accepted(sock: ssl.SSLSocket, ep: Endpoint) -> None:
    """With TLS 1.3 a server rejects a client certificate after the client's handshake is done.

    Read briefly: an alert now means the certificate was refused; silence means it was accepted.
    """
    sock.settimeout(min(0.25, ep.timeout))
    try:
        sock.recv(1)
    except (socket.timeout, ssl.SSLWantReadError):
        pass
    except ssl.SSLError as exc:
        raise HandshakeFailure("handshake_failure", "%s refused the client certificate %s (%s); give a certificate its CA "
                               "trusts, with the clientAuth usage" % (ep.label, ep.client_cert, exc.reason or exc)) from None
    finally:
        sock.settimeout(ep.timeout)


@dataclasses.dataclass
class Handshake:
    """What one handshake saw: the served chain (DER, leaf first) and the negotiated parameters."""

    chain_der: list[bytes]
    tls_version: str | None
    cipher: str | None
    alpn_protocol: str | None
    connect_ms: float
    handshake_ms: float


def _connect(ep: Endpoint) -> socket.socket:
    """Open the TCP connection; refused, timed out and unreachable are told apart."""
    try:
        return socket.create_connection((ep.host, int(ep.port)), timeout=ep.timeout)
    except ConnectionRefusedError:
        raise HandshakeFailure("refused", "%s refused the connection: nothing listens there, or the service is down"
                               % ep.label) from None
    except socket.timeout:
        raise HandshakeFailure("timeout", "%s did not accept a TCP connection within %ss" % (ep.label, ep.timeout)) from None
    except OSError as exc:
        raise HandshakeFailure("unreachable", "%s cannot be reached (%s)" % (ep.label, exc.strerror or exc)) from None


def handshake(ep: Endpoint, verify: bool) -> Handshake:
    """Connect and complete one TLS handshake; :class:`HandshakeFailure` says what went wrong."""
    ctx = _context(ep, verify)
    start = time.monotonic()
    raw = _connect(ep)
    connected = time.monotonic()
    try:
        with ctx.wrap_socket(raw, server_hostname=ep.sni, do_handshake_on_connect=False) as sock:
            sock.do_handshake()
            done = time.monotonic()
            if ep.client_cert:
                _check_client_accepted(sock, ep)
            cipher = sock.cipher()
            return Handshake(
                chain_der=_served_chain(sock),
                tls_version=sock.version(),
                cipher=cipher[0] if cipher else None,
                alpn_protocol=sock.selected_alpn_protocol(),
                connect_ms=round((connected - start) * 1000, 3),
                handshake_ms=round((done - connected) * 1000, 3),
            )
    except ssl.SSLCertVerificationError as exc:
        code = getattr(exc, "verify_code", 0)
        error = _VERIFY_CLASSES.get(code, "handshake_failure")
        raise HandshakeFailure(error, "%s: certificate verification failed: %s%s" % (
            ep.label, getattr(exc, "verify_message", None) or exc.reason or exc, _VERIFY_HINTS.get(error, "")),
            certificate_refused=True) from None
    except socket.timeout:
        raise HandshakeFailure("timeout", "%s accepted TCP but did not finish the TLS handshake within %ss"
                               % (ep.label, ep.timeout)) from None
    except ssl.SSLError as exc:
        if exc.reason in _NOT_TLS_REASONS:
            raise HandshakeFailure("handshake_failure", "%s answered, but not with TLS (%s): not a TLS endpoint - a "
                                   "plain-HTTP port or another protocol listens there; check the port" % (
                                       ep.label, exc.reason)) from None
        raise HandshakeFailure("handshake_failure", "%s: TLS handshake failed (%s)" % (
            ep.label, exc.reason or exc)) from None
    except ConnectionError as exc:
        raise HandshakeFailure("handshake_failure", "%s: TLS handshake failed (%s)" % (ep.label, exc)) from None
    except OSError as exc:
        raise HandshakeFailure("handshake_failure", "%s: TLS handshake failed (%s)" % (ep.label, exc.strerror or exc)) from None
    finally:
        raw.close()
