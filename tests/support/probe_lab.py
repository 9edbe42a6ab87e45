# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A CA and a directory for the handshake/probe tests: certificates written beside a trusted root."""

from __future__ import annotations

import datetime as dt
import pathlib

from certgen import Issued, TestCA, now
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class ProbeLab:
    def __init__(self, root: pathlib.Path) -> None:
        self.dir = root
        self.ca = TestCA("probe unit root")
        self.root_file = str(root / "root.pem")
        (root / "root.pem").write_bytes(self.ca.root_pem)

    def write(self, issued: Issued, stem: str) -> tuple[str, str]:
        """Write ``stem.pem`` (leaf + chain) and ``stem.key``; return both paths."""
        cert = issued.write(str(self.dir), stem)
        return cert, str(self.dir / (stem + ".key"))


def client_issued(ca: TestCA) -> Issued:
    """A client certificate (clientAuth usage) issued by *ca*."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "probe client")]))
        .issuer_name(ca.signer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now() - dt.timedelta(minutes=1))
        .not_valid_after(now() + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.signer_key, hashes.SHA256())
    )
    return Issued(cert, key, list(ca.chain))
