# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fleet of local hosts for renew.yml: each host has its own directories and its own nginx,
gRPC (reloaded by SIGHUP) or self-reloading Go gRPC service (fsnotify, ``reload: {watch: true}``) on
its own loopback port, certificates from an old CA, and an inventory in the documented model
(groups, host_vars, a group_vars vault file).

    fleet = Fleet(root, lab_info, default_spec()).start()
    fleet.inventory                       # directory to pass to ansible-playbook -i
    fleet.vault_args                      # ["--vault-password-file", ...]
    fleet.served("edge-1")                # fingerprint the service serves now
    fleet.set_ghost("edge-2", True)       # the service ignores its reloads from now on
    fleet.stop()

Used by the integration tests, `make demo` and the benchmarks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import typing as t

import yaml
from certgen import TestCA, now
from cryptography import x509
from deploy_lab import fp
from go_reloader import GoReloader
from services import GrpcServer, Nginx, Site, free_port

BIN = os.path.dirname(sys.executable)


@dataclasses.dataclass
class CertSpec:
    name: str
    domains: list[str]
    days: float = 90.0          # lifetime of the current certificate
    age: float = 1.0            # days since it started


@dataclasses.dataclass
class HostSpec:
    name: str
    group: str
    service: str                # nginx | grpc | go (the lab's Go fsnotify service: no signal, reload "watch")
    cert: CertSpec
    reload: str = "signal"      # signal | command | watch
    ghost: bool = False
    watch: str = "dir"          # go only: dir (watches the directory) | file (Write on the two files)
    in_place: bool = False      # the certificate entry asks deploy to rewrite the files in place


def go_host(name: str, group: str, cert: CertSpec, watch: str = "dir", in_place: bool = False) -> HostSpec:
    """A host whose service is the lab's self-reloading Go gRPC service, ``reload: {watch: true}``."""
    return HostSpec(name, group, "go", cert, reload="watch", watch=watch, in_place=in_place)


DUE = {"days": 30.0, "age": 28.5}        # 1.5 days left: critical
FRESH = {"days": 90.0, "age": 1.0}


def default_spec(prefix: str = "", self_reloading: bool = False) -> list[HostSpec]:
    """6 hosts in 2 groups: 3 gRPC edge hosts with their own names (2 due, 1 fresh), then 3 nginx
    replicas sharing one name set (all due). *self_reloading* adds a 7th, due edge host whose Go
    service watches its certificate directory (``reload: {watch: true}``, never signalled)."""
    due, fresh = DUE, FRESH
    extra = [go_host(prefix + "edge-4", "edge", CertSpec("edge", [prefix + "edge4.example.test"], **due))] \
        if self_reloading else []
    return [
        HostSpec(prefix + "edge-1", "edge", "grpc", CertSpec("edge", [prefix + "edge1.example.test"], **due)),
        HostSpec(prefix + "edge-2", "edge", "grpc", CertSpec("edge", [prefix + "edge2.example.test"], **due)),
        HostSpec(prefix + "edge-3", "edge", "grpc", CertSpec("edge", [prefix + "edge3.example.test"], **fresh)),
        HostSpec(prefix + "api-1", "api", "nginx", CertSpec("api", [prefix + "api.example.test"], **due)),
        HostSpec(prefix + "api-2", "api", "nginx", CertSpec("api", [prefix + "api.example.test"], **due)),
        HostSpec(prefix + "api-3", "api", "nginx", CertSpec("api", [prefix + "api.example.test"], **due),
                 reload="command"),
        *extra,
    ]


def write_yaml(path: str, data: t.Any) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(data, handle, sort_keys=False, default_flow_style=False)


class Fleet:
    """Local hosts with real services, and their inventory."""

    def __init__(self, root: str, lab: t.Mapping[str, t.Any], spec: t.Sequence[HostSpec],
                 acme_via_proxy: bool = True, services: bool = True) -> None:
        self.root = os.path.abspath(root)
        self.lab = lab
        self.spec = list(spec)
        self.acme_via_proxy = acme_via_proxy
        self.with_services = services      # False: certificate files only (benchmarks), no reload, no probe
        self.ca = TestCA("ghostguard old CA")
        self.inventory = os.path.join(self.root, "inventory")
        self.store = os.path.join(self.root, "renew-store")
        self.trust = os.path.join(self.root, "trust.pem")
        self.vault_password_file = os.path.join(self.root, "vault-password")
        self.services: dict[str, Nginx | GrpcServer | GoReloader] = {}
        self.ports: dict[str, int] = {}

    # ------------------------------------------------------------------ paths

    def host_dir(self, host: str) -> str:
        return os.path.join(self.root, "hosts", host)

    def cert_dir(self, host: str) -> str:
        return os.path.join(self.host_dir(host), "tls")

    def files(self, host: str) -> dict[str, str]:
        name = self.host(host).cert.name
        folder = os.path.join(self.cert_dir(host), name)
        return {k: os.path.join(folder, f) for k, f in (("cert", "cert.pem"), ("key", "privkey.pem"),
                                                        ("chain", "chain.pem"), ("fullchain", "fullchain.pem"))}

    def host(self, name: str) -> HostSpec:
        return next(h for h in self.spec if h.name == name)

    @property
    def vault_args(self) -> list[str]:
        return ["--vault-password-file", self.vault_password_file]

    # ------------------------------------------------------------------ set-up

    def start(self) -> Fleet:
        os.makedirs(self.root, exist_ok=True)
        with open(self.trust, "wb") as handle:
            handle.write(self.ca.root_pem)
            with open(self.lab["issuer_roots"], "rb") as roots:
                handle.write(b"\n" + roots.read())
        for host in self.spec:
            self._write_old_cert(host)
            self.ports[host.name] = free_port()
            if self.with_services:
                self._start_service(host)
        self.write_inventory()
        return self

    def _write_old_cert(self, host: HostSpec) -> None:
        issued = self.ca.issue(host.cert.domains, days=host.cert.days,
                               not_before=now() - dt.timedelta(days=host.cert.age))
        files = self.files(host.name)
        os.makedirs(os.path.dirname(files["cert"]), exist_ok=True)
        for role, data, mode in (("cert", issued.cert_pem, 0o644), ("chain", issued.chain_pem, 0o644),
                                 ("fullchain", issued.fullchain_pem, 0o644), ("key", issued.key_pem, 0o600)):
            fd = os.open(files[role], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)

    def _start_service(self, host: HostSpec) -> None:
        files = self.files(host.name)
        work = os.path.join(self.host_dir(host.name), "service")
        if host.service == "nginx":
            site = Site(files["fullchain"], files["key"], server_name=host.cert.domains[0], port=self.ports[host.name])
            service: Nginx | GrpcServer | GoReloader = Nginx(work, [site]).start()
        elif host.service == "go":
            # never signalled: it watches its files and logs each reload (reloader-<watch>.log in work)
            service = GoReloader(work, files["fullchain"], files["key"], watch=host.watch).start()
            self.ports[host.name] = service.port
        else:
            service = GrpcServer(work, files["fullchain"], files["key"], ghost=host.ghost,
                                 port=self.ports[host.name]).start()
            assert service.proc is not None
            with open(os.path.join(work, "grpc.pid"), "w") as handle:
                handle.write("%d\n" % service.proc.pid)
        self.services[host.name] = service

    def go(self, name: str) -> GoReloader:
        """The Go service of a ``go`` host (its log: ``.events()``, ``.log_file``; its process: ``.proc``)."""
        service = self.services[name]
        assert isinstance(service, GoReloader), "%s does not run the Go service" % name
        return service

    def pidfile(self, host: HostSpec) -> str:
        work = os.path.join(self.host_dir(host.name), "service")
        return os.path.join(work, "nginx.pid" if host.service == "nginx" else "grpc.pid")

    def set_ghost(self, name: str, ghost: bool) -> None:
        """Restart a gRPC host's service, ignoring its reloads (ghost) or not, on the same port and files."""
        host = self.host(name)
        assert host.service == "grpc", "only the gRPC service can be a ghost"
        self.services[name].stop()
        host.ghost = ghost
        self._start_service(host)

    def stop_service(self, name: str) -> None:
        """Stop a host's service (a crash, an operator): nothing listens on its port until start_service."""
        service = self.services.pop(name, None)
        if service is not None:
            service.stop()

    def start_service(self, name: str) -> None:
        """Start a host's stopped service again, on the same port and files (it loads what the files hold now)."""
        assert name not in self.services, "%s's service is running" % name
        self._start_service(self.host(name))

    def reload_of(self, name: str) -> str:
        """How the host's service is told about a new certificate, as the inventory says it (for printing)."""
        host = self.host(name)
        if not self.with_services:
            return "none"
        kind = next(iter(self._reload(host)))
        return "watch (%s watcher%s)" % (host.watch, ", in_place" if host.in_place else "") if kind == "watch" else kind

    def _reload(self, host: HostSpec) -> dict[str, t.Any]:
        if host.reload == "watch":
            return {"watch": True}
        if host.reload == "command" and host.service == "nginx":
            nginx = t.cast(Nginx, self.services[host.name])
            return {"command": [nginx.binary, "-p", nginx.prefix + "/", "-c", nginx.conf, "-s", "reload"]}
        return {"signal": "HUP", "pidfile": self.pidfile(host)}

    def host_vars(self, host: HostSpec) -> dict[str, t.Any]:
        probe: dict[str, t.Any] = {"host": "127.0.0.1", "port": self.ports[host.name], "ca_bundle": self.trust}
        if host.service in ("grpc", "go"):
            probe["alpn"] = ["h2"]
        cert: dict[str, t.Any] = {"name": host.cert.name, "domains": host.cert.domains}
        if host.in_place:
            cert["in_place"] = True
        if self.with_services:
            cert.update(reload=self._reload(host), probe=probe)
        return {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "certwatch_cert_dir": self.cert_dir(host.name),
            "certwatch_certificates": [cert],
        }

    def write_inventory(self, mutate: t.Callable[[dict[str, dict[str, t.Any]]], None] | None = None,
                        directory: str | None = None, acme_extra: dict[str, t.Any] | None = None,
                        only: t.Sequence[str] | None = None,
                        extra_hosts: dict[str, dict[str, t.Any]] | None = None,
                        vault_extra: dict[str, t.Any] | None = None) -> str:
        """Write the inventory (hosts.yml, group_vars with a vault file, host_vars); *mutate* may edit the
        host_vars first (to plant a mistake); *only* keeps these hosts (an AWX job slice); *vault_extra* adds
        variables to the encrypted vault file (vault_eab_hmac_key). Returns the directory."""
        inv = directory or self.inventory
        if os.path.isdir(inv):
            shutil.rmtree(inv)
        lab = self.lab
        groups: dict[str, dict[str, t.Any]] = {}
        for host in self.spec:
            if only is None or host.name in only:
                groups.setdefault(host.group, {"hosts": {}})["hosts"][host.name] = None
        for name, data in (extra_hosts or {}).items():
            groups.setdefault("edge", {"hosts": {}})["hosts"][name] = data
        write_yaml(os.path.join(inv, "hosts.yml"), {"all": {"children": groups}})
        directory_url = lab["proxy"]["directory"] if self.acme_via_proxy else lab["directory"]
        write_yaml(os.path.join(inv, "group_vars", "all", "main.yml"), {
            "certwatch_acme": {"directory": directory_url, "ca_bundle": lab["ca_bundle"], "email": "ops@example.test",
                               "terms_agreed": True, "account_key_path": os.path.join(self.root, "account.key"),
                               **(acme_extra or {})},
            "certwatch_allowed_domains": ["*.example.test"],
            "certwatch_policy": {"renew_fraction": 0.34, "alert_before": "72h"},
        })
        ns = lab["dns"]["nameserver"]
        write_yaml(os.path.join(inv, "group_vars", "api.yml"), {
            "certwatch_dns": {"provider": "rfc2136", "nameservers": [ns], "propagation_timeout": 30,
                              "rfc2136": {"server": ns, "key_name": lab["tsig"]["name"],
                                          "key_secret": "{{ vault_tsig_secret }}", "key_algorithm": "hmac-sha256"}},
        })
        write_yaml(os.path.join(inv, "group_vars", "edge.yml"), {
            "certwatch_dns": {"provider": "alidns", "nameservers": [ns], "propagation_timeout": 30,
                              "alidns": {"access_key_id": lab["alidns"]["access_key_id"],
                                         "access_key_secret": "{{ vault_alidns_access_key_secret }}",
                                         "endpoint": lab["alidns"]["endpoint"], "protocol": "http"}},
        })
        with open(self.vault_password_file, "w") as handle:
            handle.write("ghostguard-test-vault\n")
        os.chmod(self.vault_password_file, 0o600)
        vault = os.path.join(inv, "group_vars", "all", "vault.yml")
        write_yaml(vault, {"vault_tsig_secret": lab["tsig"]["secret"],
                           "vault_alidns_access_key_secret": lab["alidns"]["access_key_secret"], **(vault_extra or {})})
        subprocess.run([os.path.join(BIN, "ansible-vault"), "encrypt", "--vault-password-file", self.vault_password_file,
                        vault], check=True, capture_output=True)
        host_vars = {h.name: self.host_vars(h) for h in self.spec}
        if mutate is not None:
            mutate(host_vars)
        for name, data in host_vars.items():
            write_yaml(os.path.join(inv, "host_vars", name + ".yml"), data)
        return inv

    # ------------------------------------------------------------------ observation

    def served_cert(self, name: str) -> x509.Certificate:
        """The leaf the host's service serves now (no verification: only what is served)."""
        host = self.host(name)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if host.service in ("grpc", "go"):
            ctx.set_alpn_protocols(["h2"])
        with socket.create_connection(("127.0.0.1", self.ports[name]), timeout=5) as sock, \
                ctx.wrap_socket(sock, server_hostname=host.cert.domains[0]) as tls:
            der = tls.getpeercert(binary_form=True)
        assert der is not None
        return x509.load_der_x509_certificate(der)

    def served(self, name: str) -> str:
        return fp(self.served_cert(name))

    def served_valid(self, name: str) -> bool:
        """Whether the served chain verifies to the fleet's trust (old CA or the lab's CA) now, for its name."""
        host = self.host(name)
        ctx = ssl.create_default_context(cafile=self.trust)
        if host.service in ("grpc", "go"):
            ctx.set_alpn_protocols(["h2"])
        try:
            with socket.create_connection(("127.0.0.1", self.ports[name]), timeout=5) as sock, \
                    ctx.wrap_socket(sock, server_hostname=host.cert.domains[0]):
                return True
        except (ssl.SSLError, OSError):
            return False

    def issuer(self, name: str) -> str:
        return self.served_cert(name).issuer.rfc4514_string()

    def snapshot(self) -> dict[str, str]:
        return {h.name: self.served(h.name) for h in self.spec}

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()
        self.services.clear()


def read_json(path: str) -> t.Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
