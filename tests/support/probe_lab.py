# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A CA and a directory for the handshake/probe tests: certificates written beside a trusted root."""

from __future__ import annotations

import pathlib

from certgen import Issued, TestCA
from cryptography.x509.oid import ExtendedKeyUsageOID


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
    return ca.issue(["probe-client.test"], days=1, usage=[ExtendedKeyUsageOID.CLIENT_AUTH])
