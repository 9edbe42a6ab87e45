# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Short-lived certificates and the revocation drill: a certwatch agent host whose certificates are served by one
nginx (a site per certificate, reloaded by command, proved by a probe each), and the lab's view of a second CA.

    ca = lab.short_lived_ca("drill", validity=6 * 86400)     # Pebble issuing 6-day certificates behind a proxy
    host = AgentHost(tmp, lab.info, ca, ["a.example.test", "b.example.test"], profile="shortlived").start()
    host.tick()                                               # `certwatch renew`, as the timer runs it
    fleet = Fleet(root, fleet_lab(lab.info, ca), spec)        # renew.yml's fleet against that CA

Used by tests/integration/test_short_lived.py, tests/integration/test_drill.py and bench/drill.py.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import subprocess
import typing as t

from agent_lab import Host
from certgen import TestCA, now
from services import Nginx, Site, free_port

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509
from ansible_collections.ghostguard.certs.plugins.module_utils._acme.ari import cert_id


def fleet_lab(info: t.Mapping[str, t.Any], ca: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The lab info with *ca* (lab.short_lived_ca) as the CA behind the proxy: what Fleet orders from and trusts."""
    return dict(info, proxy=ca["proxy"], ca_bundle=ca["ca_bundle"], issuer_roots=ca["issuer_roots"])


def accepted(stats: t.Mapping[str, t.Any], since: int = 0) -> list[dict[str, t.Any]]:
    """The newOrders the CA accepted (201) among the proxy's recorded orders from index *since*."""
    return [o for o in (stats.get("orders") or [])[since:] if o.get("status") == 201]


def leaf_of(path: str | os.PathLike[str]) -> t.Any:
    return _x509.load_certificates(pathlib.Path(path).read_bytes(), str(path))[0][0]


class AgentHost:
    """A host of the certwatch agent in renew mode: one certificate per name (``c0``, ``c1``, ...), all due at
    first (issued by an old CA, 1.5 of 30 days left), each served by its own nginx site."""

    def __init__(self, root: pathlib.Path, info: t.Mapping[str, t.Any], ca: t.Mapping[str, t.Any],
                 names: t.Sequence[str], profile: str | None = None, policy: dict[str, t.Any] | None = None) -> None:
        self.root = root
        self.info = info
        self.ca = ca
        self.names = list(names)
        self.profile = profile
        self.policy = policy or {"alert_before": "72h", "leeway": "2s"}
        self.host = Host(root)
        self.old = TestCA("ghostguard old agent CA")
        self.trust = root / "trust.pem"
        self.nginx: Nginx | None = None
        self.ports: dict[str, int] = {}

    @property
    def certs(self) -> list[str]:
        return ["c%d" % i for i in range(len(self.names))]

    def cert_path(self, name: str) -> pathlib.Path:
        return self.host.certs / name / "cert.pem"

    def start(self) -> AgentHost:
        self.trust.write_bytes(self.old.root_pem + b"\n" + pathlib.Path(self.ca["issuer_roots"]).read_bytes())
        sites = []
        for cname, domain in zip(self.certs, self.names):
            issued = self.old.issue([domain], days=30.0, not_before=now() - dt.timedelta(days=28.5))
            self.host.install(cname, issued)
            self.ports[cname] = free_port()
            sites.append(Site(str(self.host.certs / cname / "fullchain.pem"), str(self.host.certs / cname / "privkey.pem"),
                              server_name=domain, port=self.ports[cname]))
        self.nginx = Nginx(str(self.root / "nginx"), sites).start()
        self.configure()
        return self

    def configure(self, **extra: t.Any) -> None:
        info = self.info
        secrets = self.root / "secrets"
        secrets.mkdir(exist_ok=True)
        (secrets / "credentials.json").write_text(json.dumps({"rfc2136": {"key_secret": info["tsig"]["secret"]}}))
        account = secrets / "account.key"
        if not account.exists():
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import ec

            key = ec.generate_private_key(ec.SECP256R1())
            account.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
        assert self.nginx is not None
        reload = {"command": [self.nginx.binary, "-p", self.nginx.prefix + "/", "-c", self.nginx.conf, "-s", "reload"]}
        certificates = [{"name": cname, "domains": [domain], "issue_on": "host", "reload": reload,
                         "probe": {"host": "127.0.0.1", "port": self.ports[cname], "server_name": domain,
                                   "ca_bundle": str(self.trust)}}
                        for cname, domain in zip(self.certs, self.names)]
        acme: dict[str, t.Any] = {"directory": self.ca["directory"], "ca_bundle": self.ca["ca_bundle"],
                                  "terms_agreed": True, "email": "ops@example.test"}
        if self.profile:
            acme["profile"] = self.profile
        ns = info["dns"]["nameserver"]
        self.host.config(certificates, mode="renew", policy=self.policy, acme=acme,
                         dns={"provider": "rfc2136", "nameservers": [ns], "propagation_timeout": 20,
                              "rfc2136": {"server": ns, "key_name": info["tsig"]["name"], "key_algorithm": "hmac-sha256"}},
                         secrets={"account_key": str(account), "credentials": str(secrets / "credentials.json")},
                         prove={"retries": 10, "retry_delay": 0.2}, **extra)

    def tick(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """One timer run: the certwatch command as the role installs it (default ``renew``)."""
        return self.host.cli(*(argv or ("renew",)))

    def records(self, proc: subprocess.CompletedProcess[str]) -> dict[str, dict[str, t.Any]]:
        """The run's JSON line per certificate, by name."""
        out = {}
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                out[record["cert_id"]] = record
        return out

    def leaves(self) -> dict[str, t.Any]:
        return {c: leaf_of(self.cert_path(c)) for c in self.certs}

    def ari_ids(self) -> dict[str, str]:
        return {c: cert_id(leaf) for c, leaf in self.leaves().items()}

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
            self.nginx = None
