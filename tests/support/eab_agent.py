# Copyright (c) 2026 ghostguard developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The certwatch agent in renew mode against a CA that requires external account binding.

The role installs the agent on this machine (cron scheduler, every path under *tmp*, the EAB HMAC key from an
ansible-vault file); the agent then runs ``renew`` on a due ``issue_on: host`` certificate with the engine files,
configuration and secrets the role installed. Only the Python libraries come from the test's venv: the role's own
venv gets no ACME libraries here (that needs a package index; ``certwatch_renew_python_packages: []``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import subprocess
import sys
import sysconfig
import typing as t

import yaml
from ansible_run import ansible_env
from certgen import TestCA, now
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ansible_collections.ghostguard.certs.plugins.module_utils import _x509

BIN = os.path.dirname(sys.executable)


def install_and_renew(lab: t.Mapping[str, t.Any], pebble: t.Mapping[str, t.Any], tmp: pathlib.Path, kid: str,
                      hmac_key: str) -> dict[str, t.Any]:
    ca = TestCA("eab agent old CA")
    old = ca.issue(["eabagent.example.test"], days=30, not_before=now() - dt.timedelta(days=28, hours=12))
    certs = tmp / "certs" / "web"
    old.write(str(certs), "cert", bundle=False)
    os.replace(certs / "cert.key", certs / "privkey.pem")
    (certs / "chain.pem").write_bytes(old.chain_pem)
    (certs / "fullchain.pem").write_bytes(old.fullchain_pem)
    account_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    base = tmp / "agent"
    (base / "cron.d").mkdir(parents=True)
    ns = lab["dns"]["nameserver"]
    config = base / "etc" / "certwatch.json"
    role_vars: dict[str, t.Any] = {
        "certwatch_mode": "renew", "certwatch_scheduler": "cron", "certwatch_manage_os_packages": False,
        "certwatch_python": sys.executable, "certwatch_venv": str(base / "venv"),
        "certwatch_renew_python_packages": [],
        "certwatch_bin": str(base / "certwatch"), "certwatch_config_path": str(config),
        "certwatch_secrets_dir": str(base / "secrets"), "certwatch_state_dir": str(base / "state"),
        "certwatch_metrics_dir": str(base / "metrics"), "certwatch_cron_file": str(base / "cron.d" / "certwatch"),
        "certwatch_randomized_delay": 0, "certwatch_run_now": False, "certwatch_cert_dir": str(tmp / "certs"),
        "certwatch_acme": {"directory": pebble["directory"], "ca_bundle": pebble["ca_bundle"],
                           "account_key_content": account_key, "terms_agreed": True, "email": "ops@example.test",
                           "eab_kid": kid, "eab_hmac_key": "{{ vault_eab_hmac_key }}"},
        "certwatch_dns": {"provider": "rfc2136", "nameservers": [ns], "propagation_timeout": 30,
                          "rfc2136": {"server": ns, "key_name": lab["tsig"]["name"], "key_secret": lab["tsig"]["secret"],
                                      "key_algorithm": "hmac-sha256"}},
        "certwatch_allowed_domains": ["*.example.test"],
        "certwatch_policy": {"renew_fraction": 0.34, "alert_before": "72h", "leeway": "5m"},  # Pebble: notBefore = now
        "certwatch_certificates": [{"name": "web", "domains": ["eabagent.example.test"], "issue_on": "host"}],
    }
    password = tmp / "vault-password"
    password.write_text("ghostguard-eab-agent\n")
    password.chmod(0o600)
    vault = tmp / "vault.yml"
    vault.write_text(yaml.safe_dump({"vault_eab_hmac_key": hmac_key}))
    subprocess.run([os.path.join(BIN, "ansible-vault"), "encrypt", "--vault-password-file", str(password), str(vault)],
                   check=True, capture_output=True)
    play = tmp / "play.yml"
    play.write_text(yaml.safe_dump([{
        "name": "certwatch agent in renew mode with EAB", "hosts": "localhost", "connection": "local",
        "gather_facts": True, "vars_files": [str(vault)], "vars": role_vars, "roles": ["ghostguard.certs.certwatch"]}]))
    log = tmp / "ansible-agent.log"
    installed = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", str(play), "-vvv",
                                "--vault-password-file", str(password)], capture_output=True, text=True,
                               env=ansible_env(ANSIBLE_LOG_PATH=str(log)), check=False, timeout=600)
    engine = base / "venv" / "lib" / "ghostguard"
    launcher = ("import sys\nsys.path.insert(0, %r)\nsys.path.append(%r)\n"
                "from ghostguard_certs._agent.main import main\nsys.exit(main())\n"
                % (str(engine), sysconfig.get_paths()["purelib"]))
    renewed = subprocess.run([sys.executable, "-I", "-S", "-c", launcher, "--config", str(config),
                              "renew"], capture_output=True, text=True, check=False, timeout=300)
    credentials = json.loads(config.read_text())["secrets"]["credentials"] if config.exists() else ""
    return {"install_rc": installed.returncode, "install_out": installed.stdout + installed.stderr,
            "renew_rc": renewed.returncode, "renew_out": renewed.stdout + renewed.stderr,
            "cert_path": certs / "cert.pem", "old_fingerprint": _x509.fingerprint(old.cert),
            "credentials": pathlib.Path(credentials), "config": config}
