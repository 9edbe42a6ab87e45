# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""An ACME proxy in front of Pebble 2.4 that adds what Pebble lacks and injects faults.

- The directory gains ``renewalInfo`` (RFC 9773 ARI) and ``meta.profiles``.
- ``GET /renewal-info/<certID>`` answers for every certificate the proxy has seen downloaded:
  the suggested window is the last third of its life, or (control ``ari_due``) a window that has
  already started; ``Retry-After`` is set.
- newOrder payloads are read (not changed: they are signed) and their ``profile`` and ``replaces``
  are recorded in the stats file, with a count of requests per ACME resource.
- Faults from the JSON control file, re-read per request::

    {"faults": [{"id": "f1", "match": "new-order", "status": 503, "times": 2, "retry_after": 1, "after": 0}],
     "ari_due": false, "ari_retry_after": 21600}

  ``ari_due`` is the revocation drill: every window starts an hour ago. ``ari_retry_after`` (seconds, default
  21600) is the ``Retry-After`` of the ARI answers (how long a client keeps one).
- The profiles the directory offers are ``classic`` and ``shortlived`` unless the config's ``profiles`` says
  otherwise (a proxy in front of a Pebble whose ``certificateValidityPeriod`` is 6 days offers ``shortlived``);
  Pebble 2.4 knows no profiles: the lifetime is that Pebble's.

  ``status`` may be an HTTP code (429 and 5xx get a problem document and ``Retry-After``) or
  ``"drop"`` (the connection is closed without an answer).
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import os
import ssl
import sys
import threading
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def cert_id(cert: x509.Certificate) -> str:
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier or b""
    serial = cert.serial_number
    raw = serial.to_bytes((serial.bit_length() + 8) // 8, "big")  # keeps a leading 0x00 when the top bit is set
    return b64u(aki) + "." + b64u(raw)


class Proxy:
    def __init__(self, conf: dict[str, t.Any]) -> None:
        self.conf = conf
        self.upstream = conf["upstream"].rstrip("/")
        self.base = "https://127.0.0.1:%d" % int(conf["port"])
        host, port = self.upstream.split("//", 1)[1].split(":")
        self.host, self.port = host, int(port)
        self.ctx = ssl.create_default_context(cafile=conf["upstream_ca"])
        self.lock = threading.Lock()
        self.save_lock = threading.Lock()
        self.applied: dict[str, int] = {}
        self.passed: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        self.orders: list[dict[str, t.Any]] = []
        self.certs: dict[str, tuple[str, str]] = {}

    def control(self) -> dict[str, t.Any]:
        try:
            with open(self.conf["control_file"]) as handle:
                data: dict[str, t.Any] = json.load(handle)
                return data
        except (OSError, ValueError):
            return {}

    def record(self, kind: str, order: dict[str, t.Any] | None = None) -> None:
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            self.counts["total"] = self.counts.get("total", 0) + 1
            if order is not None:
                self.orders.append(order)
        self.save()

    def answered(self, order: dict[str, t.Any], status: int) -> None:
        """Note the CA's answer to a newOrder (201 = an order was created; a badNonce retry is not one)."""
        with self.lock:
            order["status"] = status
        self.save()

    def save(self) -> None:
        # one writer at a time, each writing the counters as they are when it writes: a snapshot taken before
        # another thread's newer one must never replace it (a test reads the counters right after its requests)
        with self.save_lock:
            with self.lock:
                data = json.dumps({"counts": self.counts, "orders": self.orders, "faults_applied": self.applied,
                                   "cert_ids": sorted(self.certs)})
            tmp = "%s.tmp" % self.conf["stats_file"]
            with open(tmp, "w") as handle:
                handle.write(data)
            os.replace(tmp, self.conf["stats_file"])

    def fault_for(self, path: str) -> dict[str, t.Any] | None:
        for fault in self.control().get("faults", []):
            if fault.get("match", "") not in path:
                continue
            with self.lock:
                passed = self.passed.get(fault["id"], 0)
                if passed < int(fault.get("after", 0)):  # let the first *after* matching requests through
                    self.passed[fault["id"]] = passed + 1
                    continue
                used = self.applied.get(fault["id"], 0)
                if used >= int(fault.get("times", 1)):
                    continue
                self.applied[fault["id"]] = used + 1
            self.save()  # counted now, not at the next request (a test reads the counters right after its run)
            return dict(fault)
        return None

    def rewrite(self, data: bytes) -> bytes:
        return data.replace(self.upstream.encode(), self.base.encode())

    def upstream_url(self, value: str) -> str:
        return value.replace(self.base, self.upstream)


def kind_of(path: str) -> str:
    for key in ("dir", "nonce-plz", "sign-me-up", "order-plz", "authZ", "chalZ", "finalize-order",
                "my-order", "certZ", "renewal-info", "revoke-cert", "rollover-account-key", "my-account"):
        if path.startswith("/" + key):
            return {"dir": "directory", "nonce-plz": "newNonce", "sign-me-up": "newAccount", "order-plz": "newOrder",
                    "authZ": "authz", "chalZ": "challenge", "finalize-order": "finalize", "my-order": "order",
                    "certZ": "certificate", "renewal-info": "renewalInfo"}.get(key, key)
    return "other"


def new_order(body: bytes) -> dict[str, t.Any]:
    """What a newOrder request asks for (read from its JWS payload, which stays as signed): names, profile, replaces."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(json.loads(body)["payload"] + "=="))
        return {"identifiers": [i["value"] for i in payload.get("identifiers", [])],
                "profile": payload.get("profile"), "replaces": payload.get("replaces")}
    except (ValueError, KeyError, TypeError):
        return {"unreadable": True}


class Handler(BaseHTTPRequestHandler):
    proxy: Proxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: t.Any) -> None:
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), format % args))

    def do_GET(self) -> None:
        self.forward("GET")

    def do_HEAD(self) -> None:
        self.forward("HEAD")

    def do_POST(self) -> None:
        self.forward("POST")

    def send_body(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def forward(self, method: str) -> None:
        proxy = self.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        kind = kind_of(self.path)
        order = new_order(body) if kind == "newOrder" and body else None
        proxy.record(kind, order)
        fault = proxy.fault_for(self.path)
        if fault is not None:
            self.send_fault(fault)
            return
        if kind == "renewalInfo":
            self.renewal_info()
            return
        conn = http.client.HTTPSConnection(proxy.host, proxy.port, context=proxy.ctx, timeout=30)
        try:
            # The Host header goes through: Pebble checks each JWS "url" against it and builds its URLs from it.
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            conn.request(method, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            if order is not None:
                proxy.answered(order, resp.status)
        except OSError as exc:
            self.send_body(502, json.dumps({"type": "urn:ietf:params:acme:error:serverInternal",
                                            "detail": "lab proxy: upstream failed: %s" % exc, "status": 502}).encode(),
                           {"Content-Type": "application/problem+json"})
            return
        finally:
            conn.close()
        self.relay(kind, resp, data)

    def send_fault(self, fault: dict[str, t.Any]) -> None:
        """Answer with an injected fault: the connection dropped, or a problem document with its status."""
        status = fault.get("status")
        if status == "drop":
            self.close_connection = True
            self.connection.close()
            return
        code = int(t.cast(int, status))
        problem = {"type": "urn:ietf:params:acme:error:%s" % ("rateLimited" if code == 429 else "serverInternal"),
                   "detail": "injected by the ghostguard lab proxy (fault %s)" % fault["id"], "status": code}
        headers = {"Content-Type": "application/problem+json"}
        if fault.get("retry_after") is not None:
            headers["Retry-After"] = str(fault["retry_after"])
        self.send_body(code, json.dumps(problem).encode(), headers)

    def relay(self, kind: str, resp: http.client.HTTPResponse, data: bytes) -> None:
        """Pass Pebble's answer on, its URLs rewritten to the proxy's (the directory with ARI and profiles added)."""
        proxy = self.proxy
        out_headers = {k: proxy.rewrite(v.encode()).decode() for k, v in resp.getheaders() if k.lower() not in HOP}
        if kind == "directory" and resp.status == 200:
            directory = json.loads(data)
            directory["renewalInfo"] = proxy.base + "/renewal-info"
            directory.setdefault("meta", {})["profiles"] = proxy.conf.get("profiles") or {
                "classic": "the default 90-day profile", "shortlived": "160-hour certificates"}
            data = json.dumps(directory).encode()
        if kind == "certificate" and resp.status == 200:
            self.remember(data)
        self.send_body(resp.status, proxy.rewrite(data), out_headers)

    def remember(self, data: bytes) -> None:
        try:
            leaf = x509.load_pem_x509_certificates(data)[0]
        except ValueError:
            return
        with self.proxy.lock:
            start = leaf.not_valid_before_utc
            end = leaf.not_valid_after_utc
            self.proxy.certs[cert_id(leaf)] = (start.isoformat(), end.isoformat())

    def renewal_info(self) -> None:
        ident = self.path.rstrip("/").rsplit("/", 1)[-1]
        with self.proxy.lock:
            known = self.proxy.certs.get(ident)
        if known is None:
            self.send_body(404, json.dumps({"type": "urn:ietf:params:acme:error:malformed",
                                            "detail": "unknown certificate %s" % ident, "status": 404}).encode(),
                           {"Content-Type": "application/problem+json"})
            return
        start, end = dt.datetime.fromisoformat(known[0]), dt.datetime.fromisoformat(known[1])
        life = end - start
        control = self.proxy.control()
        if control.get("ari_due"):
            now = dt.datetime.now(dt.timezone.utc)
            w_start, w_end = now - dt.timedelta(hours=1), now + dt.timedelta(hours=1)
        else:
            w_start = end - life / 3
            w_end = w_start + life / 6
        body = {"suggestedWindow": {"start": w_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                    "end": w_end.strftime("%Y-%m-%dT%H:%M:%SZ")}}
        retry_after = str(int(control.get("ari_retry_after", 21600)))
        self.send_body(200, json.dumps(body).encode(), {"Content-Type": "application/json", "Retry-After": retry_after})


def main() -> None:
    with open(sys.argv[1]) as handle:
        conf = json.load(handle)
    Handler.proxy = Proxy(conf)
    server = ThreadingHTTPServer(("127.0.0.1", int(conf["port"])), Handler)
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(conf["cert"], conf["key"])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
