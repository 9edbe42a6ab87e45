# SPDX-License-Identifier: GPL-3.0-or-later
"""A host for the certwatch agent's tests: certificate files, TLS services, configuration, runs."""

from __future__ import annotations

import io
import json
import os
import pathlib
import subprocess
import sys
import typing as t

from certgen import Issued, TestCA
from services import TLSServer

from ansible_collections.ghostguard.certs.plugins.module_utils._agent import main as _agent

ROOT = pathlib.Path(__file__).resolve().parents[2]


class Host:
    """A host's certificate files, TLS services and agent configuration in a temp directory."""

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root
        self.ca = TestCA("agent unit root")
        self.certs = root / "certs"
        self.state = root / "state"
        self.metrics = root / "metrics"
        self.metrics.mkdir()
        self.config_path = root / "certwatch.json"

    def install(self, name: str, issued: Issued) -> str:
        folder = self.certs / name
        issued.write(str(folder), "cert", bundle=False)
        os.replace(folder / "cert.key", folder / "privkey.pem")
        (folder / "chain.pem").write_bytes(issued.chain_pem)
        (folder / "fullchain.pem").write_bytes(issued.fullchain_pem)
        return str(folder / "cert.pem")

    def config(self, certificates: list[dict[str, t.Any]], **extra: t.Any) -> dict[str, t.Any]:
        cfg = {
            "version": 1, "host": "unit", "mode": "report", "state_dir": str(self.state),
            "metrics_dir": str(self.metrics), "cert_dir": str(self.certs),
            "policy": {"renew_before": "30d", "alert_before": "7d"},
            "certificates": certificates, "prove": {"retries": 3, "retry_delay": 0.2},
        }
        cfg.update(extra)
        self.config_path.write_text(json.dumps(cfg))
        return cfg

    def main(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = _agent.main(["--config", str(self.config_path), *argv], out=out, err=err)
        return code, out.getvalue(), err.getvalue()

    def prom(self) -> str:
        return (self.metrics / "ghostguard_certwatch.prom").read_text()

    def cli(self, *argv: str, config: bool = True) -> subprocess.CompletedProcess[str]:
        """The certwatch command as the role installs it (``python -I -S``, the engine on sys.path), in its own
        process: exit code, standard output and error as systemd or cron see them."""
        launcher = (
            "import sys\n"
            "sys.path.insert(0, %r)\n"
            "sys.path.append(%r)\n"
            "from ansible_collections.ghostguard.certs.plugins.module_utils._agent.main import main\n"
            "sys.exit(main())\n" % (str(ROOT / ".build" / "collections"), _site_packages())
        )
        args = ["--config", str(self.config_path), *argv] if config else list(argv)
        return subprocess.run([sys.executable, "-I", "-S", "-c", launcher, *args], capture_output=True, text=True,
                              check=False, timeout=120)

    def snapshot(self) -> dict[str, bytes | None]:
        """Every file and directory under the host's root (None for a directory): a run that writes nothing leaves
        it equal."""
        found: dict[str, bytes | None] = {}
        for path in sorted(self.root.rglob("*")):
            key = str(path.relative_to(self.root))
            found[key] = None if path.is_dir() else path.read_bytes()
        return found


def _site_packages() -> str:
    import sysconfig

    return sysconfig.get_paths()["purelib"]


def served_by(host: Host, issued: Issued, stem: str) -> TLSServer:
    """A TLS service serving *issued* from its own copy of the files (what a service has in memory)."""
    cert = issued.write(str(host.root / "served"), stem)
    return TLSServer(cert, str(host.root / "served" / (stem + ".key")))


def probe_of(srv: TLSServer) -> dict[str, t.Any]:
    return {"host": "127.0.0.1", "port": srv.port, "server_name": "web.test", "validate_certs": False, "timeout": 3}


def samples(text: str, metric: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line.startswith(metric + "{") or line.startswith(metric + " "):
            key, value = line.rsplit(" ", 1)
            out[key[len(metric):]] = float(value)
    return out


def run_isolated(host: Host) -> tuple[int, list[str], list[str], list[dict[str, t.Any]]]:
    """One `certwatch check` in a fresh interpreter: exit code, heavy modules, all modules, its log lines."""
    code = (
        "import json, sys\n"
        "from ansible_collections.ghostguard.certs.plugins.module_utils._agent.main import main\n"
        "rc = main(['--config', %r, 'check'])\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
        "sys.exit(rc)\n" % str(host.config_path)
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT / ".build" / "collections")})
    modules = json.loads(proc.stderr.strip().splitlines()[-1])
    heavy = [m for m in modules if m.split(".")[0] == "cryptography" or m.endswith(("._x509", "._tls.probe"))]
    return proc.returncode, heavy, modules, [json.loads(line) for line in proc.stdout.splitlines()]
