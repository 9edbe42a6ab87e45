"""Certificates for the audit scenario, one directory per host (written on the controller)."""

from __future__ import annotations

import datetime as dt
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "support"))
from certgen import TestCA, now
from cryptography.hazmat.primitives import serialization


def main(out: str) -> None:
    ca = TestCA("molecule audit CA")
    one, two = os.path.join(out, "gg-audit-1"), os.path.join(out, "gg-audit-2")
    ca.issue(["order.example.test"], days=90, not_before=now() - dt.timedelta(days=5)).write(one, "order")
    ca.issue(["old.example.test"], days=30, not_before=now() - dt.timedelta(days=40)).write(one, "old")
    mismatch = ca.issue(["mismatch.example.test"], days=90)
    mismatch.write(one, "mismatch")
    with open(os.path.join(one, "mismatch.key"), "wb") as handle:
        handle.write(ca.issue(["other.example.test"]).key_pem)
    ca.issue(["inventory.example.test"], days=90, not_before=now() - dt.timedelta(days=65)).write(two, "inventory")
    der = ca.issue(["edge.example.test"], days=6, not_before=now() - dt.timedelta(days=5))  # 1 day left: critical
    with open(os.path.join(two, "edge.der"), "wb") as handle:
        handle.write(der.cert.public_bytes(serialization.Encoding.DER))
    with open(os.path.join(two, "broken.pem"), "w") as handle:
        handle.write("-----BEGIN CERTIFICATE-----\nMIIB\n")


if __name__ == "__main__":
    main(sys.argv[1])
