"""Make a demo fleet of certificate files: some expired, some due or critical, most fine.

Writes demo/out/hosts/<host>/... and demo/out/inventory.ini (local connection, one entry per host).
"""

from __future__ import annotations

import datetime as dt
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "support"))
from certgen import TestCA, now

FLEET = {
    # host: [(file stem, names, lifetime days, days since issue)]
    "order-1": [("order", ["order.svc.example.test"], 90, 89.2), ("grpc", ["order-grpc.example.test"], 90, 20)],
    "order-2": [("order", ["order.svc.example.test"], 90, 91), ("grpc", ["order-grpc.example.test"], 90, 20)],
    "inventory-1": [("inventory", ["inventory.svc.example.test", "inv.example.test"], 90, 65),
                    ("shortlived", ["inv-edge.example.test"], 6, 1)],
    "web-1": [("www", ["www.example.test", "example.test"], 397, 100), ("api", ["api.example.test"], 6, 3.5)],
}


def main() -> None:
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "out"))
    ca = TestCA("ghostguard demo CA")
    lines = ["[fleet]"]
    for host, certs in FLEET.items():
        directory = os.path.join(out, "hosts", host, "tls")
        for stem, names, days, age in certs:
            start = now() - dt.timedelta(days=age)
            ca.issue(names, days=days, not_before=start).write(directory, stem)
        lines.append("%s audit_paths='[\"%s\"]'" % (host, directory))
    # one broken file, as a real fleet has
    with open(os.path.join(out, "hosts", "web-1", "tls", "legacy.pem"), "w") as handle:
        handle.write("-----BEGIN CERTIFICATE-----\nMIIBtruncated\n")
    lines += ["", "[fleet:vars]", "ansible_connection=local", "ansible_python_interpreter=%s" % sys.executable]
    with open(os.path.join(out, "inventory.ini"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print("demo fleet: %d hosts, %d certificates in %s" % (len(FLEET), sum(len(c) for c in FLEET.values()), out))


if __name__ == "__main__":
    main()
