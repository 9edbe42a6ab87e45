"""Controller side of the certwatch scenario: the ACME lab, certificates, ports, the wheelhouse.

``setup_lab.py start EPHEMERAL_DIR`` starts the lab (Pebble + BIND9 on loopback high ports), makes the
hosts' first certificates and an ACME account key, picks a free port for each host's nginx and
writes everything the inventory needs to ``EPHEMERAL_DIR/scenario.json`` (0600: it holds the lab's
TSIG secret and the account key, as a vault file would).  ``setup_lab.py stop EPHEMERAL_DIR`` stops
the lab.  ``setup_lab.py wheelhouse DIR REQ...`` downloads wheels for the hosts' Python (3.11,
manylinux x86_64) once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "support"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "lab"))
from certgen import TestCA, key_pem, new_key, now  # noqa: E402
from lab import Lab, free_port  # noqa: E402

HOSTS = {"gg-cw-1": "cw1.example.test", "gg-cw-2": "cw2.example.test"}


def _write(path: str, data: bytes, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def start(eph: str) -> None:
    info = Lab.start(os.path.join(eph, "lab"))
    scenario_path = os.path.join(eph, "scenario.json")
    if os.path.exists(scenario_path):
        with open(scenario_path) as handle:
            old = json.load(handle)
        if old.get("directory") == info["directory"]:
            return  # same lab, same certificates: converge twice stays idempotent
    ca = TestCA("certwatch molecule CA")
    certs = os.path.join(eph, "certs")
    hosts = {}
    for host, name in HOSTS.items():
        folder = os.path.join(certs, host)
        os.makedirs(folder, exist_ok=True)
        # gg-cw-1: one day left of ten (critical, due); gg-cw-2: fresh, plus a newer one for the ghost test
        first = ca.issue([name], days=10, not_before=now() - dt.timedelta(days=9)) if host == "gg-cw-1" \
            else ca.issue([name], days=90)
        for stem, issued in (("", first), ("next-", ca.issue([name], days=90))):
            _write(os.path.join(folder, stem + "cert.pem"), issued.cert_pem, 0o644)
            _write(os.path.join(folder, stem + "chain.pem"), issued.chain_pem, 0o644)
            _write(os.path.join(folder, stem + "fullchain.pem"), issued.fullchain_pem, 0o644)
            _write(os.path.join(folder, stem + "privkey.pem"), issued.key_pem)
        hosts[host] = {"name": name, "port": free_port(), "certs": folder}
    scenario = {
        "directory": info["directory"],
        "ca_bundle": info["ca_bundle"],
        "issuer_roots": info["issuer_roots"],
        "nameserver": info["dns"]["nameserver"],
        "rfc2136": {"server": "127.0.0.1", "port": info["dns"]["port"], "key_name": info["tsig"]["name"],
                    "key_secret": info["tsig"]["secret"], "key_algorithm": info["tsig"]["algorithm"]},
        "account_key": key_pem(new_key()).decode(),
        "hosts": hosts,
    }
    _write(scenario_path, json.dumps(scenario, indent=1).encode())


def wheelhouse(target: str, requirements: list[str]) -> None:
    if os.path.exists(os.path.join(target, ".complete")):
        return
    tmp = target + ".tmp"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--only-binary=:all:",
         "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
         "--platform", "manylinux2014_x86_64", "--python-version", "3.11", "--implementation", "cp",
         "-d", tmp, *requirements],
        check=True,
    )
    _write(os.path.join(tmp, ".complete"), b"\n".join(r.encode() for r in requirements) + b"\n", 0o644)
    os.replace(tmp, target)


def main() -> None:
    action, path = sys.argv[1], sys.argv[2]
    if action == "start":
        start(path)
    elif action == "stop":
        Lab.stop(os.path.join(path, "lab"))
    elif action == "wheelhouse":
        wheelhouse(path, sys.argv[3:])
    else:
        sys.exit("usage: setup_lab.py start|stop EPHEMERAL_DIR | wheelhouse DIR REQUIREMENT...")


if __name__ == "__main__":
    main()
