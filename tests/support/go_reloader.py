# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's self-reloading Go gRPC service (``tests/lab/reloader/main.go``) for tests and the demo.

    with GoReloader(workdir, cert_file, key_file, watch="dir") as svc:   # or watch="file"
        svc.port; svc.events(); svc.wait_for("reloaded", fingerprint=fp)

The binary is built once from Debian's Go packages (golang-go, golang-github-fsnotify-fsnotify-dev,
golang-google-grpc-dev) in GOPATH mode, offline, and cached by the hash of its source.  The service
never gets a signal: it watches its files and logs each reload and each refused pair as JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import typing as t

from services import stop_process

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.join(os.path.dirname(HERE), "lab", "reloader")
CACHE = os.environ.get("GHOSTGUARD_BUILD_CACHE", "/var/cache/ghostguard-certs")
GOPATH = "/usr/share/gocode"


def build(cache_dir: str = CACHE) -> str:
    """Path of the built service, building it when its source changed (about 10 s the first time)."""
    with open(os.path.join(SOURCE_DIR, "main.go"), "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()[:16]
    binary = os.path.join(cache_dir, "reloader-" + digest)
    if os.path.exists(binary):
        return binary
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("go is not installed: run scripts/apt-deps.sh (golang-go and the Go packages it lists)")
    os.makedirs(cache_dir, exist_ok=True)
    env = dict(os.environ, GO111MODULE="off", GOPATH=GOPATH, GOFLAGS="",
               GOCACHE=os.path.join(cache_dir, "go-build"))
    fd, tmp = tempfile.mkstemp(prefix=".reloader-", dir=cache_dir)
    os.close(fd)
    proc = subprocess.run([go, "build", "-o", tmp, "."], cwd=SOURCE_DIR, env=env, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        os.unlink(tmp)
        raise RuntimeError("building the Go reloader failed:\n" + proc.stderr)
    os.chmod(tmp, 0o755)
    os.replace(tmp, binary)
    return binary


class GoReloader:
    """One running reloader on 127.0.0.1 (free port), stopped by its own PID."""

    def __init__(self, workdir: str, cert_file: str, key_file: str, watch: str = "dir") -> None:
        if watch not in ("dir", "file"):
            raise ValueError("watch is 'dir' or 'file'")
        self.workdir, self.cert_file, self.key_file, self.watch = workdir, cert_file, key_file, watch
        self.log_file = os.path.join(workdir, "reloader-%s.log" % watch)
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def pid(self) -> int:
        """The running service's process id."""
        if self.proc is None:
            raise RuntimeError("the Go reloader is not started")
        return self.proc.pid

    def start(self, timeout: float = 20.0) -> GoReloader:
        os.makedirs(self.workdir, exist_ok=True)
        port_file = os.path.join(self.workdir, "reloader-%s.port" % self.watch)
        for stale in (port_file, self.log_file):
            if os.path.exists(stale):
                os.unlink(stale)
        cmd = [build(), "-cert", self.cert_file, "-key", self.key_file, "-watch", self.watch,
               "-log", self.log_file, "-port-file", port_file]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True, cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(port_file):
                with open(port_file) as handle:
                    self.port = int(handle.read().strip())
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr and self.proc.poll() is not None else ""
        self.stop()
        raise RuntimeError("the Go reloader did not start: " + err.strip())

    def events(self) -> list[dict[str, t.Any]]:
        """Every JSON event line logged so far."""
        try:
            with open(self.log_file) as handle:
                return [json.loads(line) for line in handle if line.strip()]
        except FileNotFoundError:
            return []

    def wait_for(self, event: str, timeout: float = 10.0, **fields: t.Any) -> dict[str, t.Any]:
        """The first *event* with *fields* (e.g. fingerprint=...), waiting up to *timeout* seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for item in self.events():
                if item.get("event") == event and all(item.get(k) == v for k, v in fields.items()):
                    return item
            if time.monotonic() > deadline:
                raise TimeoutError("the Go reloader logged no %s %s within %ss; events: %s"
                                   % (event, fields, timeout, self.events()))
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        self.proc = None

    def __enter__(self) -> GoReloader:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
