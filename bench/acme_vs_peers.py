# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: one certificate over DNS-01 on the same lab, by acme_dns01 and by its peers.

Contenders (each run as a user would run it, wall time of the whole command):
- ``ghostguard.certs.acme_dns01`` through ``ansible localhost -m`` (RFC 2136 provider);
- certbot + certbot-dns-rfc2136 with its default propagation wait (60 s);
- certbot + certbot-dns-rfc2136 with ``--dns-rfc2136-propagation-seconds 1``;
- a playbook of community.crypto ``acme_certificate`` (two steps) + community.general ``nsupdate``.

Usage: ``python bench/acme_vs_peers.py [--certbot PATH] [--skip-certbot-default] [--out DIR]``.
Prints each wall time and the ratios; exits 1 when acme_dns01 is not the fastest.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import typing as t

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(ROOT, "tests", "lab"), os.path.join(ROOT, "tests", "support")]

from ansible_run import ansible_env  # noqa: E402
from lab import Lab  # noqa: E402

NAME = "bench.example.test"
BIN = os.path.dirname(sys.executable)


def _key_and_csr(directory: str) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    account = ec.generate_private_key(ec.SECP256R1())
    account_path = os.path.join(directory, "account.key")
    with open(os.open(account_path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as handle:
        handle.write(account.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, NAME)]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
           .sign(key, hashes.SHA256()))
    csr_path = os.path.join(directory, "cert.csr")
    with open(csr_path, "wb") as handle:
        handle.write(csr.public_bytes(serialization.Encoding.PEM))
    return account_path, csr_path


def timed(cmd: list[str], env: dict[str, str], log: str) -> float:
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    elapsed = time.monotonic() - started
    with open(log, "w") as handle:
        handle.write("$ %s\n%s\n%s" % (" ".join(cmd), proc.stdout, proc.stderr))
    if proc.returncode != 0:
        raise SystemExit("bench: %s failed (rc %d); see %s" % (cmd[0], proc.returncode, log))
    return elapsed


def run_acme_dns01(info: dict[str, t.Any], out: str) -> float:
    work = os.path.join(out, "acme_dns01")
    os.makedirs(work)
    args = {
        "names": [NAME], "cert_path": work + "/cert.pem", "key_path": work + "/key.pem",
        "fullchain_path": work + "/fullchain.pem", "chain_path": work + "/chain.pem",
        "acme_directory": info["directory"], "acme_ca_bundle": info["ca_bundle"],
        "account_key_path": work + "/account.key", "terms_agreed": True, "dns_provider": "rfc2136",
        "rfc2136": {"server": info["dns"]["nameserver"], "key_name": info["tsig"]["name"],
                    "key_secret": info["tsig"]["secret"]},
        "nameservers": [info["dns"]["nameserver"]],
    }
    cmd = [os.path.join(BIN, "ansible"), "localhost", "-m", "ghostguard.certs.acme_dns01", "-a", json.dumps(args)]
    return timed(cmd, ansible_env(), os.path.join(out, "acme_dns01.log"))


def run_certbot(info: dict[str, t.Any], out: str, certbot: str, propagation: int | None) -> float:
    label = "certbot-default" if propagation is None else "certbot-%ds" % propagation
    work = os.path.join(out, label)
    os.makedirs(work)
    ini = os.path.join(work, "rfc2136.ini")
    with open(os.open(ini, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
        handle.write("dns_rfc2136_server = 127.0.0.1\ndns_rfc2136_port = %d\ndns_rfc2136_name = %s\n"
                     "dns_rfc2136_secret = %s\ndns_rfc2136_algorithm = HMAC-SHA256\n"
                     % (info["dns"]["port"], info["tsig"]["name"], info["tsig"]["secret"]))
    cmd = [certbot, "certonly", "--non-interactive", "--agree-tos", "--register-unsafely-without-email",
           "--server", info["directory"], "--dns-rfc2136", "--dns-rfc2136-credentials", ini,
           "--config-dir", work + "/config", "--work-dir", work + "/work", "--logs-dir", work + "/logs",
           "--key-type", "ecdsa", "-d", NAME]
    if propagation is not None:
        cmd += ["--dns-rfc2136-propagation-seconds", str(propagation)]
    env = dict(os.environ, REQUESTS_CA_BUNDLE=info["ca_bundle"])
    return timed(cmd, env, os.path.join(out, label + ".log"))


PLAYBOOK = """---
- name: Issue with community.crypto acme_certificate and community.general nsupdate
  hosts: localhost
  gather_facts: false
  vars:
    acme_args: &acme
      account_key_src: "{{ work }}/account.key"
      acme_directory: "{{ directory }}"
      acme_version: 2
      validate_certs: false
      terms_agreed: true
      challenge: dns-01
      csr: "{{ work }}/cert.csr"
      dest: "{{ work }}/cert.pem"
      fullchain_dest: "{{ work }}/fullchain.pem"
      remaining_days: 30
  tasks:
    - name: Order and get the challenges
      community.crypto.acme_certificate: *acme
      register: acme_order
    - name: Publish the TXT records
      community.general.nsupdate:
        server: 127.0.0.1
        port: "{{ dns_port }}"
        key_name: "{{ tsig_name }}"
        key_secret: "{{ tsig_secret }}"
        key_algorithm: hmac-sha256
        zone: example.test
        record: "{{ item.key }}."
        type: TXT
        ttl: 60
        value: "{{ item.value }}"
      loop: "{{ acme_order.challenge_data_dns | dict2items }}"
      no_log: true
    - name: Answer the challenges and download the certificate
      community.crypto.acme_certificate:
        <<: *acme
        data: "{{ acme_order }}"
    - name: Remove the TXT records
      community.general.nsupdate:
        server: 127.0.0.1
        port: "{{ dns_port }}"
        key_name: "{{ tsig_name }}"
        key_secret: "{{ tsig_secret }}"
        key_algorithm: hmac-sha256
        zone: example.test
        record: "{{ item.key }}."
        type: TXT
        state: absent
      loop: "{{ acme_order.challenge_data_dns | dict2items }}"
      no_log: true
"""


def run_community_crypto(info: dict[str, t.Any], out: str) -> float:
    work = os.path.join(out, "community.crypto")
    os.makedirs(work)
    _key_and_csr(work)
    playbook = os.path.join(work, "issue.yml")
    with open(playbook, "w") as handle:
        handle.write(PLAYBOOK)
    extra = {"work": work, "directory": info["directory"], "dns_port": info["dns"]["port"],
             "tsig_name": info["tsig"]["name"], "tsig_secret": info["tsig"]["secret"]}
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", playbook, "-e", json.dumps(extra)]
    return timed(cmd, ansible_env(), os.path.join(out, "community.crypto.log"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--certbot", default=shutil.which("certbot") or os.path.join(ROOT, ".venv-bench", "bin", "certbot"))
    parser.add_argument("--skip-certbot-default", action="store_true", help="skip the 60 s certbot run")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "out"))
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    state = os.path.join(args.out, "lab")
    info = Lab.start(state)
    results: dict[str, float] = {}
    try:
        # warm-up (Python imports, page cache) so that no contender pays for being first
        run_acme_dns01(info, os.path.join(args.out, "warmup"))
        results["acme_dns01"] = run_acme_dns01(info, args.out)
        results["community.crypto+nsupdate"] = run_community_crypto(info, args.out)
        if os.path.exists(args.certbot):
            results["certbot rfc2136 (1 s)"] = run_certbot(info, args.out, args.certbot, 1)
            if not args.skip_certbot_default:
                results["certbot rfc2136 (default)"] = run_certbot(info, args.out, args.certbot, None)
        else:
            print("certbot not found at %s: run bench/run.sh (it installs certbot into .venv-bench)" % args.certbot)
    finally:
        Lab.stop(state)
    ours = results["acme_dns01"]
    print("%-28s %8s %8s" % ("contender", "wall s", "x ours"))
    for name, seconds in results.items():
        print("%-28s %8.2f %8.2f" % (name, seconds, seconds / ours))
    met = all(seconds > ours for name, seconds in results.items() if name != "acme_dns01")
    print("target (acme_dns01 fastest): %s" % ("met" if met else "NOT met"))
    with open(os.path.join(args.out, "results.json"), "w") as handle:
        json.dump({"seconds": results, "ratios": {k: v / ours for k, v in results.items()}, "target_met": met}, handle,
                  indent=2)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
