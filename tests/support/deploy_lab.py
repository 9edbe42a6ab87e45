# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks shared by the deploy/endpoint tests, the crash test and the demo.

    lab = DeployLab(tmpdir)                 # a CA, its root file, service paths under tmpdir/tls
    a = lab.issue()                          # a leaf for lab.name with its key
    lab.module_args(a)                       # deploy options (content form)
    lab.installed()                          # what the service paths hold now: Pair or raises
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import ssl
import typing as t

from certgen import Issued, TestCA
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization


def fp(cert: x509.Certificate) -> str:
    digest = cert.fingerprint(hashes.SHA256())
    return ":".join("%02x" % b for b in digest)


@dataclasses.dataclass
class Pair:
    fingerprint: str
    key_fingerprint: str


class InconsistentPair(AssertionError):
    pass


class DeployLab:
    """A CA and the service paths of one certificate under *root*."""

    def __init__(self, root: str, name: str = "svc.test", ca: TestCA | None = None) -> None:
        self.root = root
        self.name = name
        self.ca = ca or TestCA("deploy lab root")
        self.tls = os.path.join(root, "tls")
        self.root_file = os.path.join(root, "root.pem")
        os.makedirs(root, exist_ok=True)
        with open(self.root_file, "wb") as handle:
            handle.write(self.ca.root_pem)
        self.cert_path = os.path.join(self.tls, "svc.crt")
        self.key_path = os.path.join(self.tls, "svc.key")
        self.chain_path = os.path.join(self.tls, "chain.pem")
        self.fullchain_path = os.path.join(self.tls, "fullchain.pem")
        self.combined_path = os.path.join(self.tls, "combined.pem")

    def issue(self, **kw: t.Any) -> Issued:
        return self.ca.issue([self.name, "127.0.0.1"], **kw)

    def paths(self) -> dict[str, str]:
        return {
            "cert_path": self.cert_path,
            "key_path": self.key_path,
            "chain_path": self.chain_path,
            "fullchain_path": self.fullchain_path,
            "combined_path": self.combined_path,
        }

    def module_args(self, issued: Issued, **extra: t.Any) -> dict[str, t.Any]:
        args: dict[str, t.Any] = {
            "cert_content": issued.cert_pem.decode(),
            "key_content": issued.key_pem.decode(),
            "chain_content": issued.chain_pem.decode(),
            "ca_bundle": self.root_file,
            "expected_names": [self.name],
        }
        args.update(self.paths())
        args.update(extra)
        return args

    def installed(self) -> Pair:
        """Load the pair at the service paths the way a server does; raise when it is mixed or broken."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            ctx.load_cert_chain(self.fullchain_path, self.key_path)
            ctx2 = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx2.load_cert_chain(self.cert_path, self.key_path)
            ctx3 = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx3.load_cert_chain(self.combined_path)
        except (ssl.SSLError, OSError) as exc:
            raise InconsistentPair("service paths do not load: %s" % exc) from None
        with open(self.cert_path, "rb") as handle:
            cert = x509.load_pem_x509_certificate(handle.read())
        with open(self.fullchain_path, "rb") as handle:
            full = x509.load_pem_x509_certificates(handle.read())
        with open(self.chain_path, "rb") as handle:
            chain_data = handle.read()
        with open(self.key_path, "rb") as handle:
            key = serialization.load_pem_private_key(handle.read(), password=None)
        if fp(full[0]) != fp(cert):
            raise InconsistentPair("fullchain leaf %s differs from cert %s" % (fp(full[0]), fp(cert)))
        with open(self.combined_path, "rb") as handle:
            combined = x509.load_pem_x509_certificates(handle.read())
        if [fp(c) for c in combined] != [fp(c) for c in full]:
            raise InconsistentPair("combined file differs from fullchain")
        chain = x509.load_pem_x509_certificates(chain_data) if chain_data.strip() else []
        if [fp(c) for c in full[1:]] != [fp(c) for c in chain]:
            raise InconsistentPair("chain differs from the tail of fullchain")
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        der = serialization.Encoding.DER
        key_pub = key.public_key().public_bytes(der, spki)
        if cert.public_key().public_bytes(der, spki) != key_pub:
            raise InconsistentPair("key does not belong to the certificate")
        return Pair(fp(cert), hashlib.sha256(key_pub).hexdigest())

    def snapshot(self) -> dict[str, t.Any]:
        """Every file, link and mode under tls/ (to prove that a refused deploy changed nothing)."""
        out: dict[str, t.Any] = {}
        for dirpath, dirnames, filenames in os.walk(self.tls):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                if os.path.islink(path):
                    out[path] = ("link", os.readlink(path))
                elif os.path.isfile(path):
                    with open(path, "rb") as handle:
                        out[path] = ("file", st.st_mode, hashlib.sha256(handle.read()).hexdigest())
                else:
                    out[path] = ("dir", st.st_mode)
        return out
