# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real TLS services on loopback for tests, the demo and benchmarks.

    port = free_port()
    with TLSServer(cert_file, key_file) as srv:          # in-process, threads; srv.reload()
        ...
    with Nginx(workdir, [Site(cert_file, key_file)]) as ngx:   # private nginx: own prefix/conf/pid
        ngx.sites[0].port; ngx.reload()
    with GrpcServer(workdir, cert_file, key_file, ghost=False) as g:   # grpcio, reloads on SIGHUP
        g.port; g.reload(); g.ping()

Every service binds 127.0.0.1 on a free port and is stopped (by its own PID) on exit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import typing as t

HERE = os.path.dirname(os.path.abspath(__file__))
LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free a moment ago (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, host: str = LOOPBACK, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError("nothing listens on %s:%d after %ss" % (host, port, timeout)) from None
            time.sleep(0.02)


def stop_process(proc: subprocess.Popen[t.Any], sig: int = signal.SIGTERM) -> None:
    """Stop *proc* with *sig*, kill it after 10 s, and close its pipes."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


# --------------------------------------------------------------------------- in-process TLS server


class TLSServer:
    """A threaded TLS server that completes handshakes (optionally with ALPN and client auth)."""

    def __init__(self, cert_file: str, key_file: str, host: str = LOOPBACK, port: int = 0,
                 alpn: t.Sequence[str] | None = None, client_ca: str | None = None,
                 handshake_delay: float = 0.0) -> None:
        self.cert_file, self.key_file = cert_file, key_file
        self.alpn, self.client_ca, self.handshake_delay = alpn, client_ca, handshake_delay
        self.host = host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(128)
        self.port = int(self._sock.getsockname()[1])
        self.ctx = self._make_context()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.handshakes = 0

    def _make_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        if self.alpn:
            ctx.set_alpn_protocols(list(self.alpn))
        if self.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(self.client_ca)
        return ctx

    def reload(self) -> None:
        """Re-read the certificate and key (what SIGHUP does to a well-behaved service)."""
        self.ctx = self._make_context()

    def start(self) -> TLSServer:
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _w, _x = select.select([self._sock], [], [], 0.1)
            if not ready:
                continue
            try:
                conn, _addr = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        if self.handshake_delay:
            time.sleep(self.handshake_delay)
        try:
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                self.handshakes += 1
                with contextlib.suppress(OSError):
                    tls.recv(1)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._sock.close()

    def __enter__(self) -> TLSServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- nginx


@dataclasses.dataclass
class Site:
    cert_file: str
    key_file: str
    server_name: str = "_"
    port: int = 0
    http2: bool = False


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
{servers}
}}
"""

NGINX_SERVER = """\
    server {{
        listen 127.0.0.1:{port} ssl{http2};
        server_name {server_name};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{ return 200 "ghostguard\\n"; }}
    }}
"""


class Nginx:
    """A private nginx (own prefix, conf, pid, logs in *workdir*) serving *sites* on loopback."""

    def __init__(self, workdir: str, sites: t.Sequence[Site], binary: str | None = None) -> None:
        self.prefix = os.path.abspath(workdir)
        self.sites = list(sites)
        self.binary = binary or shutil.which("nginx") or "/usr/sbin/nginx"
        self.conf = os.path.join(self.prefix, "nginx.conf")
        self.proc: subprocess.Popen[bytes] | None = None
        for site in self.sites:
            if not site.port:
                site.port = free_port()

    def write_conf(self) -> None:
        os.makedirs(os.path.join(self.prefix, "tmp"), exist_ok=True)
        os.makedirs(os.path.join(self.prefix, "logs"), exist_ok=True)
        servers = "".join(
            NGINX_SERVER.format(port=s.port, http2=" http2" if s.http2 else "", server_name=s.server_name,
                                cert=s.cert_file, key=s.key_file)
            for s in self.sites
        )
        with open(self.conf, "w", encoding="utf-8") as handle:
            handle.write(NGINX_CONF.format(prefix=self.prefix, servers=servers))

    def _cmd(self, *args: str) -> list[str]:
        return [self.binary, "-p", self.prefix + "/", "-c", self.conf, *args]

    def start(self, timeout: float = 15.0) -> Nginx:
        self.write_conf()
        test = subprocess.run(self._cmd("-t"), capture_output=True, text=True, check=False)
        if test.returncode != 0:
            raise RuntimeError("nginx -t failed: %s" % test.stderr.strip())
        self.proc = subprocess.Popen(self._cmd(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        for site in self.sites:
            try:
                wait_port(site.port, timeout=timeout)
            except TimeoutError:
                self.stop()
                raise RuntimeError("nginx did not listen on %d: %s" % (site.port, self.log_tail())) from None
        return self

    def reload(self) -> subprocess.CompletedProcess[str]:
        """``nginx -s reload`` (SIGHUP to the master through the pid file)."""
        return subprocess.run(self._cmd("-s", "reload"), capture_output=True, text=True, check=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            with open(os.path.join(self.prefix, "error.log"), encoding="utf-8", errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, signal.SIGQUIT)
        self.proc = None

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- gRPC


class GrpcServer:
    """A grpcio server over TLS in a child process (``grpc_tls_server.py``).

    It re-reads *cert_file* / *key_file* on SIGHUP, unless *ghost* (then it ignores the reload and
    keeps serving the certificate it started with, like the services of the original incident).
    """

    def __init__(self, workdir: str, cert_file: str, key_file: str, ghost: bool = False,
                 python: str | None = None, port: int = 0) -> None:
        self.workdir = workdir
        self.cert_file, self.key_file, self.ghost = cert_file, key_file, ghost
        self.python = python or sys.executable
        self.proc: subprocess.Popen[str] | None = None
        self.port = port

    def start(self, timeout: float = 20.0) -> GrpcServer:
        os.makedirs(self.workdir, exist_ok=True)
        cmd = [self.python, os.path.join(HERE, "grpc_tls_server.py"), "--cert", self.cert_file,
               "--key", self.key_file]
        if self.ghost:
            cmd.append("--ghost")
        if self.port:
            cmd += ["--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True, cwd=self.workdir)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _w, _x = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline()
                if line.startswith("READY "):
                    self.port = int(line.split()[1])
                    return self
                if not line and self.proc.poll() is not None:
                    break
        self.stop()
        raise RuntimeError("gRPC server did not start")

    def reload(self, wait: float = 5.0) -> None:
        """Send SIGHUP and wait until the server says it handled it."""
        assert self.proc is not None and self.proc.stdout is not None
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            ready, _w, _x = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline()
                if line.startswith(("RELOADED", "IGNORED")):
                    return
        raise RuntimeError("gRPC server did not acknowledge SIGHUP")

    def ping(self, ca_file: str, server_name: str) -> str:
        """Make one real unary call over TLS; return the reply."""
        import grpc

        with open(ca_file, "rb") as handle:
            creds = grpc.ssl_channel_credentials(root_certificates=handle.read())
        options = (("grpc.ssl_target_name_override", server_name),)
        with grpc.secure_channel("%s:%d" % (LOOPBACK, self.port), creds, options=options) as channel:
            call = channel.unary_unary("/ghostguard.Probe/Ping", request_serializer=None, response_deserializer=None)
            return bytes(call(b"ping", timeout=5)).decode()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        self.proc = None

    def __enter__(self) -> GrpcServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
