# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A gRPC server over TLS that re-reads its certificate on SIGHUP (or, with --ghost, ignores it).

Serves ``/ghostguard.Probe/Ping`` with a generic handler (no generated stubs).  Prints
``READY <port>`` once listening, ``RELOADED <n>`` / ``IGNORED <n>`` after each SIGHUP.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import typing as t

import grpc


def read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


class Certs:
    """Hands grpc a new certificate configuration after a SIGHUP (grpc asks on each handshake)."""

    def __init__(self, cert: str, key: str, ghost: bool) -> None:
        self.cert, self.key, self.ghost = cert, key, ghost
        self.lock = threading.Lock()
        self.pending: t.Any = None
        self.reloads = 0

    def config(self) -> t.Any:
        return grpc.ssl_server_certificate_configuration([(read(self.key), read(self.cert))])

    def on_hup(self, _signum: int, _frame: t.Any) -> None:
        self.reloads += 1
        if self.ghost:
            print("IGNORED %d" % self.reloads, flush=True)
            return
        try:
            new = self.config()
        except (OSError, ValueError) as exc:
            print("RELOAD-FAILED %s" % exc, flush=True)
            return
        with self.lock:
            self.pending = new
        print("RELOADED %d" % self.reloads, flush=True)

    def fetch(self) -> t.Any:
        with self.lock:
            new, self.pending = self.pending, None
        return new  # None: keep the current configuration


def ping(request: bytes, _context: t.Any) -> bytes:
    return b"pong"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ghost", action="store_true")
    args = parser.parse_args()
    from concurrent import futures

    certs = Certs(args.cert, args.key, args.ghost)
    creds = grpc.dynamic_ssl_server_credentials(certs.config(), certs.fetch, require_client_authentication=False)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    handler = grpc.method_handlers_generic_handler(
        "ghostguard.Probe", {"Ping": grpc.unary_unary_rpc_method_handler(ping)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_secure_port("127.0.0.1:%d" % args.port, creds)
    server.start()
    signal.signal(signal.SIGHUP, certs.on_hup)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_a: stop.set())
    print("READY %d" % port, flush=True)
    while not stop.wait(0.2):
        pass
    server.stop(grace=0.5).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
