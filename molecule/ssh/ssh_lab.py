"""Controller side of the ssh scenario: the ACME lab, the hosts' first certificates, their ports.

``ssh_lab.py start EPHEMERAL_DIR`` starts the lab (Pebble behind the lab's ACME proxy, which adds ARI, and
BIND9, on loopback high ports), makes an old CA's certificates for each host (all due: 1.5 days left of 30),
an ACME account key and a trust bundle (the old CA and Pebble's issuer roots, for the hosts' probes), picks a
free port for each nginx server and writes what the inventory needs to ``EPHEMERAL_DIR/scenario.json`` (0600:
it holds the TSIG secret and the account key, as a vault file would).  ``ssh_lab.py stop EPHEMERAL_DIR``
stops the lab.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "support"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "lab"))
from certgen import TestCA, key_pem, new_key, now  # noqa: E402
from lab import Lab, free_port  # noqa: E402

# host -> its certificates (name -> domains); "api" is one name set on two hosts (one order, a controller key),
# "web" a name set of one host (its key made on the host, only the CSR travels)
HOSTS = {
    "gg-ssh-1": {"web": ["ssh1.example.test"], "api": ["api.ssh.example.test"]},
    "gg-ssh-2": {"web": ["ssh2.example.test"], "api": ["api.ssh.example.test"]},
    "gg-ssh-3": {"web": ["ssh3.example.test"]},
}


def _write(path: str, data: bytes, mode: int = 0o600) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def start(eph: str) -> None:
    info = Lab.start(os.path.join(eph, "lab"))
    scenario_path = os.path.join(eph, "scenario.json")
    if os.path.exists(scenario_path):
        with open(scenario_path) as handle:
            if json.load(handle).get("directory") == info["proxy"]["directory"]:
                return  # same lab, same certificates: prepare twice changes nothing
    ca = TestCA("ssh fleet old CA")
    with open(info["issuer_roots"], "rb") as handle:
        trust = ca.root_pem + b"\n" + handle.read()
    _write(os.path.join(eph, "certs", "trust.pem"), trust, 0o644)
    hosts: dict[str, dict[str, list[dict[str, object]]]] = {}
    for host, certs in HOSTS.items():
        entry: dict[str, list[dict[str, object]]] = {"certificates": [], "servers": []}
        for name, domains in certs.items():
            folder = os.path.join(eph, "certs", host, name)
            issued = ca.issue(domains, days=30, not_before=now() - dt.timedelta(days=28.5))
            _write(os.path.join(folder, "cert.pem"), issued.cert_pem, 0o644)
            _write(os.path.join(folder, "chain.pem"), issued.chain_pem, 0o644)
            _write(os.path.join(folder, "fullchain.pem"), issued.fullchain_pem, 0o644)
            _write(os.path.join(folder, "privkey.pem"), issued.key_pem)
            port = free_port()
            # certwatch_certificates of the host, in the inventory model (files in the default certwatch_cert_dir)
            entry["certificates"].append({"name": name, "domains": domains, "reload": {"systemd": "nginx.service"},
                                          "probe": {"port": port, "ca_bundle": "/etc/ghostguard/test-trust.pem"}})
            entry["servers"].append({"name": name, "server_name": domains[0], "port": port, "files": folder})
        hosts[host] = entry
    scenario = {
        "directory": info["proxy"]["directory"],
        "ca_bundle": info["ca_bundle"],
        "issuer_roots": info["issuer_roots"],
        "trust": os.path.join(eph, "certs", "trust.pem"),
        "nameserver": info["dns"]["nameserver"],
        "rfc2136": {"server": "127.0.0.1", "port": info["dns"]["port"], "key_name": info["tsig"]["name"],
                    "key_secret": info["tsig"]["secret"], "key_algorithm": info["tsig"]["algorithm"]},
        "account_key": key_pem(new_key()).decode(),
        "hosts": hosts,
    }
    _write(scenario_path, json.dumps(scenario, indent=1).encode())


def main() -> None:
    action, path = sys.argv[1], sys.argv[2]
    if action == "start":
        start(path)
    elif action == "stop":
        Lab.stop(os.path.join(path, "lab"))
    else:
        sys.exit("usage: ssh_lab.py start|stop EPHEMERAL_DIR")


if __name__ == "__main__":
    main()
