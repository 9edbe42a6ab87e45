# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Live TLS handshakes: what an endpoint really serves, and how the handshake went.

``probe`` connects to one endpoint (with retries, to wait for a reload to take effect),
``probe_many`` probes many concurrently with threads.  Each result carries the served leaf and
chain described with the collection's certificate keys, the negotiated TLS version, cipher and
ALPN protocol, timings, whether the chain verified, an error class, the embedded SCTs, and whether
the served fingerprint matches the expected one.

The served chain comes from ``get_unverified_chain`` (Python 3.10 and later); on Python 3.9 only
the leaf is available and ``chain`` is empty.

Plain Python, no Ansible import.
"""

from __future__ import annotations

import base64
import concurrent.futures
import dataclasses
import datetime as _dt
import http.client
import json
import socket
import ssl
import struct
import time
import typing as t
import urllib.parse

from . import _x509
from ._errors import InputError, ProbeError

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
except ImportError:  # pragma: no cover - reported by _deps.require("cryptography")
    pass

if t.TYPE_CHECKING:  # pragma: no cover
    from cryptography.x509 import Certificate

ERROR_CLASSES = ("refused", "timeout", "unreachable", "handshake_failure", "expired", "unknown_ca", "hostname_mismatch")
RETRYABLE = ("refused", "timeout", "unreachable", "handshake_failure")

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


@dataclasses.dataclass
class Endpoint:
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
    timeout: float = 10.0
    name: str | None = None

    def check(self) -> None:
        if not self.host:
            raise InputError("an endpoint has no host; give host (and port) for every endpoint")
        if not 0 < int(self.port) < 65536:
            raise InputError("port %s of %s is not a TCP port (1-65535)" % (self.port, self.host))
        if self.retries < 0 or self.retry_delay < 0 or self.timeout <= 0:
            raise InputError("%s:%s: retries and retry_delay must not be negative, timeout must be positive"
                             % (self.host, self.port))
        if bool(self.client_key) and not self.client_cert:
            raise InputError("%s:%s: client_key needs client_cert" % (self.host, self.port))
        if self.expected_fingerprint:
            self.expected_fingerprint = _x509.normalize_fingerprint(self.expected_fingerprint)

    @property
    def sni(self) -> str:
        return self.server_name or self.host

    @property
    def label(self) -> str:
        return self.name or "%s:%s" % (self.host, self.port)


class _Failure(Exception):
    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


@dataclasses.dataclass
class CTLog:
    log_id: bytes
    key: t.Any
    description: str


def load_log_list(path: str) -> dict[bytes, CTLog]:
    """Read a CT log list (the Google/Chrome ``log_list.json`` v3 format, or a flat ``{"logs": [...]}``)."""
    try:
        with open(path, "rb") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise InputError("ct_log_list %s cannot be read as JSON (%s); give a log_list.json file" % (path, exc)) from None
    logs: list[dict[str, t.Any]] = list(data.get("logs", []))
    for operator in data.get("operators", []):
        logs.extend(operator.get("logs", []))
    out: dict[bytes, CTLog] = {}
    for entry in logs:
        try:
            der = base64.b64decode(entry["key"])
            key = serialization.load_der_public_key(der)
            log_id = base64.b64decode(entry["log_id"]) if entry.get("log_id") else _sha256(der)
        except (KeyError, ValueError, TypeError, UnsupportedAlgorithm):
            continue
        out[log_id] = CTLog(log_id, key, str(entry.get("description", "")))
    if not out:
        raise InputError("ct_log_list %s holds no usable log (each needs a base64 'key')" % path)
    return out


def _sha256(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return bytes(digest.finalize())


# --------------------------------------------------------------------------- SCTs


def _sct_millis(moment: _dt.datetime) -> int:
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return (moment - _dt.datetime(1970, 1, 1)) // _dt.timedelta(milliseconds=1)


def sct_signed_data(sct: t.Any, leaf: Certificate, issuer: Certificate) -> bytes:
    """The RFC 6962 section 3.2 ``digitally-signed`` input of an embedded (precertificate) SCT."""
    tbs = leaf.tbs_precertificate_bytes
    issuer_key_hash = _sha256(issuer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    extensions = getattr(sct, "extension_bytes", b"") or b""
    return (
        struct.pack(">BBQH", 0, 0, _sct_millis(sct.timestamp), 1)
        + issuer_key_hash
        + len(tbs).to_bytes(3, "big") + tbs
        + len(extensions).to_bytes(2, "big") + extensions
    )


def _verify_signature(key: t.Any, signature: bytes, data: bytes, hash_algorithm: t.Any) -> bool:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hash_algorithm))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hash_algorithm)
        else:
            return False
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def describe_scts(leaf: Certificate, issuer: Certificate | None,
                  logs: t.Mapping[bytes, CTLog] | None = None) -> list[dict[str, t.Any]]:
    """The SCTs embedded in *leaf*; with *logs* (and the issuer) each signature is verified."""
    try:
        ext = leaf.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps)
    except x509.ExtensionNotFound:
        return []
    out = []
    for sct in ext.value:
        entry: dict[str, t.Any] = {
            "version": getattr(sct.version, "name", str(sct.version)),
            "log_id": base64.b64encode(sct.log_id).decode("ascii"),
            "log_id_hex": ":".join("%02x" % b for b in sct.log_id),
            "timestamp": _x509.iso(sct.timestamp.replace(tzinfo=_dt.timezone.utc)),
            "entry_type": getattr(sct.entry_type, "name", str(sct.entry_type)).lower(),
            "hash_algorithm": getattr(getattr(sct, "signature_hash_algorithm", None), "name", None),
            "signature_algorithm": getattr(getattr(sct, "signature_algorithm", None), "name", None),
            "log_description": None,
            "signature_valid": None,
        }
        if logs is not None:
            log = logs.get(bytes(sct.log_id))
            if log is not None:
                entry["log_description"] = log.description
                if issuer is not None and hasattr(sct, "signature"):
                    entry["signature_valid"] = _verify_signature(
                        log.key, sct.signature, sct_signed_data(sct, leaf, issuer), sct.signature_hash_algorithm)
        out.append(entry)
    return out


# --------------------------------------------------------------------------- OCSP


def ocsp_urls(leaf: Certificate) -> list[str]:
    try:
        aia = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [str(d.access_location.value) for d in aia
            if d.access_method == x509.oid.AuthorityInformationAccessOID.OCSP]


def _ocsp_signer_ok(response: t.Any, issuer: Certificate) -> t.Any:
    """The key that may sign this response: the issuer's, or a delegated responder the issuer signed."""
    for candidate in getattr(response, "certificates", []) or []:
        if not _x509._issued_by(candidate, issuer):
            continue
        try:
            eku = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING in eku:
            return candidate.public_key()
    return issuer.public_key()


def _http_post(url: str, body: bytes, timeout: float) -> bytes:
    """POST an OCSP request (plain http.client: the engine imports nothing from Ansible)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("unsupported OCSP URL %s" % url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("POST", parts.path or "/", body=body, headers={"Content-Type": "application/ocsp-request"})
        answer = conn.getresponse()
        data = answer.read(1 << 20)
        if answer.status != 200:
            raise ValueError("HTTP %d" % answer.status)
        return data
    finally:
        conn.close()


def _utc_attr(obj: t.Any, name: str) -> _dt.datetime | None:
    """``name_utc`` on cryptography >= 43, else the naive ``name`` taken as UTC."""
    if hasattr(type(obj), name + "_utc") or hasattr(obj, name + "_utc"):
        value = getattr(obj, name + "_utc")
    else:
        value = getattr(obj, name)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return t.cast("_dt.datetime | None", value)


def ocsp_status(leaf: Certificate, issuer: Certificate | None, timeout: float = 10.0) -> dict[str, t.Any] | None:
    """Ask the OCSP responder the certificate names; None when it names none (normal for Let's Encrypt)."""
    urls = ocsp_urls(leaf)
    if not urls:
        return None
    result: dict[str, t.Any] = {"url": urls[0], "status": None, "this_update": None, "next_update": None,
                                "revocation_time": None, "signature_valid": None, "error": None}
    if issuer is None:
        result["error"] = "the issuer certificate was not served, so no OCSP request can be built"
        return result
    from cryptography.x509 import ocsp

    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()  # SHA-1: the RFC 6960 CertID default
    try:
        data = _http_post(urls[0], request.public_bytes(serialization.Encoding.DER), timeout)
        response = ocsp.load_der_ocsp_response(data)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        result["error"] = "OCSP responder %s did not answer usefully (%s)" % (urls[0], exc)
        return result
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        result["error"] = "OCSP responder %s answered %s" % (urls[0], response.response_status.name.lower())
        return result
    result["status"] = response.certificate_status.name.lower()
    for key, attr in (("this_update", "this_update"), ("next_update", "next_update"),
                      ("revocation_time", "revocation_time")):
        moment = _utc_attr(response, attr)
        if moment is not None:
            result[key] = _x509.iso(moment)
    result["signature_valid"] = _verify_signature(
        _ocsp_signer_ok(response, issuer), response.signature, response.tbs_response_bytes,
        response.signature_hash_algorithm)
    if response.serial_number != leaf.serial_number:
        result["error"] = "OCSP response is about another certificate"
    return result


# --------------------------------------------------------------------------- the handshake


def _context(ep: Endpoint, verify: bool) -> ssl.SSLContext:
    if verify:
        ctx = ssl.create_default_context(cafile=ep.ca_bundle) if ep.ca_bundle else ssl.create_default_context()
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
            raise InputError("client_cert %s / client_key cannot be loaded (%s); give a matching PEM pair"
                             % (ep.client_cert, getattr(exc, "strerror", None) or exc)) from None
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
        raise _Failure("handshake_failure", "%s refused the client certificate %s (%s); give a certificate its CA "
                       "trusts, with the clientAuth usage" % (ep.label, ep.client_cert, exc.reason or exc)) from None
    finally:
        sock.settimeout(ep.timeout)


@dataclasses.dataclass
class _Handshake:
    chain_der: list[bytes]
    tls_version: str | None
    cipher: str | None
    alpn_protocol: str | None
    connect_ms: float
    handshake_ms: float


def _handshake(ep: Endpoint, verify: bool) -> _Handshake:
    ctx = _context(ep, verify)
    start = time.monotonic()
    try:
        raw = socket.create_connection((ep.host, int(ep.port)), timeout=ep.timeout)
    except ConnectionRefusedError:
        raise _Failure("refused", "%s refused the connection: nothing listens there, or the service is down"
                       % ep.label) from None
    except socket.timeout:
        raise _Failure("timeout", "%s did not accept a TCP connection within %ss" % (ep.label, ep.timeout)) from None
    except OSError as exc:
        raise _Failure("unreachable", "%s cannot be reached (%s)" % (ep.label, exc.strerror or exc)) from None
    connected = time.monotonic()
    try:
        with ctx.wrap_socket(raw, server_hostname=ep.sni, do_handshake_on_connect=False) as sock:
            sock.do_handshake()
            done = time.monotonic()
            if ep.client_cert:
                _check_client_accepted(sock, ep)
            cipher = sock.cipher()
            return _Handshake(
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
        raise _Failure(error, "%s: certificate verification failed: %s" % (
            ep.label, getattr(exc, "verify_message", None) or exc.reason or exc)) from None
    except socket.timeout:
        raise _Failure("timeout", "%s accepted TCP but did not finish the TLS handshake within %ss"
                       % (ep.label, ep.timeout)) from None
    except (ssl.SSLError, ConnectionError) as exc:
        raise _Failure("handshake_failure", "%s: TLS handshake failed (%s)" % (
            ep.label, getattr(exc, "reason", None) or exc)) from None
    except OSError as exc:
        raise _Failure("handshake_failure", "%s: TLS handshake failed (%s)" % (ep.label, exc.strerror or exc)) from None
    finally:
        raw.close()


def probe_once(ep: Endpoint, policy: _x509.Policy | None = None,
               logs: t.Mapping[bytes, CTLog] | None = None, ocsp: bool = False) -> dict[str, t.Any]:
    """One attempt: handshake (verifying when asked), then describe what was served."""
    policy = policy or _x509.Policy()
    result: dict[str, t.Any] = {
        "name": ep.label,
        "host": ep.host,
        "port": int(ep.port),
        "server_name": ep.sni,
        "ok": False,
        "certificate": None,
        "chain": [],
        "expected_fingerprint": ep.expected_fingerprint,
        "matches_expected": None,
        "tls_version": None,
        "cipher": None,
        "alpn_protocol": None,
        "connect_ms": None,
        "handshake_ms": None,
        "verified": None,
        "error": None,
        "error_message": None,
        "scts": [],
        "ocsp": None,
    }
    shake: _Handshake | None = None
    try:
        shake = _handshake(ep, ep.validate_certs)
        result["verified"] = True if ep.validate_certs else None
    except _Failure as failure:
        result["error"], result["error_message"] = failure.error, failure.message
        if failure.error in ("expired", "unknown_ca", "hostname_mismatch", "handshake_failure") and ep.validate_certs:
            result["verified"] = False
            if failure.error != "handshake_failure":
                # Look at what is served anyway, without verification.
                try:
                    shake = _handshake(ep, False)
                except _Failure:
                    shake = None
    if shake is not None:
        result.update(
            tls_version=shake.tls_version,
            cipher=shake.cipher,
            alpn_protocol=shake.alpn_protocol,
            connect_ms=shake.connect_ms,
            handshake_ms=shake.handshake_ms,
        )
        certs = []
        for der in shake.chain_der:
            try:
                certs.append(x509.load_der_x509_certificate(der))
            except ValueError:
                break
        if certs:
            leaf = certs[0]
            result["certificate"] = _x509.describe(leaf, None, policy)
            result["chain"] = [_x509.describe(c, None, policy) for c in certs[1:]]
            issuer = next((c for c in certs[1:] if _x509._issued_by(leaf, c)), None)
            result["scts"] = describe_scts(leaf, issuer, logs)
            if ocsp:
                result["ocsp"] = ocsp_status(leaf, issuer, ep.timeout)
            if ep.expected_fingerprint:
                result["matches_expected"] = _x509.fingerprint(leaf) == ep.expected_fingerprint
    result["ok"] = result["error"] is None and result["matches_expected"] is not False
    return result


def probe(ep: Endpoint, policy: _x509.Policy | None = None, logs: t.Mapping[bytes, CTLog] | None = None,
          sleep: t.Callable[[float], None] = time.sleep, ocsp: bool = False) -> dict[str, t.Any]:
    """Probe with retries: retry connection failures, and a fingerprint mismatch while waiting for a reload."""
    ep.check()
    attempts = 0
    while True:
        attempts += 1
        result = probe_once(ep, policy, logs, ocsp)
        retry = result["error"] in RETRYABLE or result["matches_expected"] is False
        if ep.expected_fingerprint and result["matches_expected"] is not True:
            retry = True
        if not retry or attempts > ep.retries:
            result["attempts"] = attempts
            if result["matches_expected"] is False and result["error"] is None:
                result["error_message"] = (
                    "%s serves %s, expected %s: the service still serves another certificate (reload it, or "
                    "roll back)" % (ep.label, result["certificate"]["fingerprint_sha256"], ep.expected_fingerprint)
                )
            return result
        sleep(ep.retry_delay)


def probe_many(endpoints: t.Sequence[Endpoint], policy: _x509.Policy | None = None,
               logs: t.Mapping[bytes, CTLog] | None = None, workers: int = 32,
               ocsp: bool = False) -> list[dict[str, t.Any]]:
    """Probe every endpoint concurrently; results in the order given."""
    for ep in endpoints:
        ep.check()
    if not endpoints:
        return []
    if len(endpoints) == 1:
        return [probe(endpoints[0], policy, logs, ocsp=ocsp)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(workers, len(endpoints)))) as pool:
        return list(pool.map(lambda ep: probe(ep, policy, logs, ocsp=ocsp), endpoints))


def summarize(results: t.Sequence[t.Mapping[str, t.Any]]) -> dict[str, t.Any]:
    errors: dict[str, int] = {}
    for res in results:
        if res["error"]:
            errors[res["error"]] = errors.get(res["error"], 0) + 1
    return {
        "total": len(results),
        "ok": sum(1 for r in results if r["ok"]),
        "mismatched": sum(1 for r in results if r["matches_expected"] is False),
        "errors": errors,
    }


def endpoint_from_options(options: t.Mapping[str, t.Any], defaults: t.Mapping[str, t.Any] | None = None) -> Endpoint:
    """Build an :class:`Endpoint` from module-style options; unset keys fall back to *defaults*."""
    merged = dict(defaults or {})
    merged.update({k: v for k, v in options.items() if v is not None})
    unknown = set(options) - {f.name for f in dataclasses.fields(Endpoint)}
    if unknown:
        raise InputError("unknown endpoint option(s) %s; see ansible-doc ghostguard.certs.endpoint_info"
                         % ", ".join(sorted(unknown)))
    if not merged.get("host"):
        raise InputError("every endpoint needs a host")
    try:
        return Endpoint(
            host=str(merged["host"]),
            port=int(merged.get("port") or 443),
            server_name=merged.get("server_name"),
            alpn=list(merged.get("alpn") or []),
            ca_bundle=merged.get("ca_bundle"),
            validate_certs=bool(merged.get("validate_certs", True)),
            client_cert=merged.get("client_cert"),
            client_key=merged.get("client_key"),
            expected_fingerprint=merged.get("expected_fingerprint"),
            retries=int(merged.get("retries") or 0),
            retry_delay=float(merged.get("retry_delay", 1.0)),
            timeout=float(merged.get("timeout") or 10.0),
            name=merged.get("name"),
        )
    except (TypeError, ValueError) as exc:
        raise InputError("endpoint %s: %s" % (merged.get("host"), exc)) from None


def require_ok(results: t.Sequence[t.Mapping[str, t.Any]]) -> None:
    bad = [r for r in results if not r["ok"]]
    if bad:
        raise ProbeError("; ".join(str(r["error_message"]) for r in bad[:5]), failed=[r["name"] for r in bad])
