# SPDX-License-Identifier: GPL-3.0-or-later
"""The certwatch role: its documented variables, and the refusals it makes before touching a host.

The full role runs on real systemd hosts in molecule/certwatch.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import yaml
from ansible_run import BIN, ROOT, ansible_env

ROLE = pathlib.Path(ROOT) / "roles" / "certwatch"


def role_doc() -> dict:
    proc = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", "role", "--json", "ghostguard.certs.certwatch"],
                          capture_output=True, text=True, env=ansible_env(), check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["ghostguard.certs.certwatch"]


def test_ansible_doc_shows_every_variable() -> None:
    options = role_doc()["entry_points"]["main"]["options"]
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert set(options) == set(defaults)
    for name, spec in options.items():
        assert name.startswith("certwatch_")
        assert spec.get("description") and spec.get("type"), name
        assert spec.get("default") == defaults[name] or (spec.get("default") is None and defaults[name] in ("", [], {})), name
    assert {"name", "domains", "reload", "probe", "issue_on"} <= set(options["certwatch_certificates"]["options"])


def test_human_ansible_doc_renders() -> None:
    proc = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", "role", "ghostguard.certs.certwatch"],
                          capture_output=True, text=True, env=ansible_env(), check=False)
    assert proc.returncode == 0 and "certwatch_trust_bundle" in proc.stdout and "Exit codes" in proc.stdout


def run_validation(tmp_path: pathlib.Path, host_vars: dict[str, dict], extra: dict | None = None) -> subprocess.CompletedProcess[str]:
    inventory = {"all": {"hosts": {h: {"ansible_connection": "local", **v} for h, v in host_vars.items()}}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "play.yml").write_text(yaml.safe_dump([{
        "name": "Validate only", "hosts": "all", "gather_facts": False,
        "tasks": [{"name": "Checks",
                   "ansible.builtin.import_role": {"name": "ghostguard.certs.certwatch", "tasks_from": "validate.yml"}}],
    }]))
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", str(tmp_path / "inventory.yml"), str(tmp_path / "play.yml")]
    if extra:
        cmd += ["-e", json.dumps(extra)]
    return subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(), check=False)


def test_a_name_set_issued_on_two_hosts_is_refused(tmp_path: pathlib.Path) -> None:
    shop = {"name": "shop", "domains": ["Shop.example.test", "www.example.test"], "issue_on": "host"}
    same_set = {"name": "shop2", "domains": ["www.example.test", "shop.example.test"], "issue_on": "host"}
    other = {"name": "api", "domains": ["api.example.test"], "issue_on": "host"}
    proc = run_validation(tmp_path, {
        "web1": {"certwatch_certificates": [shop, other]},
        "web2": {"certwatch_certificates": [same_set]},
        "web3": {"certwatch_certificates": [{**shop, "issue_on": "controller"}]},
    })
    assert proc.returncode != 0
    assert "shop.example.test www.example.test -> web1, web2" in proc.stdout
    assert "let renew.yml order it once" in proc.stdout
    assert "api.example.test ->" not in proc.stdout and "web3" not in proc.stdout.split("Name sets marked")[1]


def test_distinct_name_sets_pass(tmp_path: pathlib.Path) -> None:
    proc = run_validation(tmp_path, {
        "web1": {"certwatch_certificates": [{"name": "a", "domains": ["a.example.test"], "issue_on": "host"}]},
        "web2": {"certwatch_certificates": [{"name": "a", "domains": ["a.example.test"]}]},
    })
    assert proc.returncode == 0, proc.stdout


def test_renew_mode_without_credentials_is_refused(tmp_path: pathlib.Path) -> None:
    proc = run_validation(tmp_path, {
        "web1": {"certwatch_mode": "renew",
                 "certwatch_certificates": [{"name": "a", "domains": ["a.example.test"], "issue_on": "host"}]},
    })
    assert proc.returncode != 0
    assert "certwatch_mode renew needs certwatch_acme (one CA, or a list of CAs" in proc.stdout
    assert "with directory and account_key_content (from a vault file) for every CA" in proc.stdout
    # a list whose second CA has no account key, or two CAs of one name: refused the same way
    cert = [{"name": "a", "domains": ["a.example.test"], "issue_on": "host"}]
    first = {"name": "p", "directory": "https://p/dir", "account_key_content": "k"}
    dns = {"provider": "rfc2136"}
    for acme in ([first, {"name": "b", "directory": "https://b/dir"}],
                 [first, {"name": "b", "directory": "https://b/dir", "account_key_content": "k"},
                  {"name": "b", "directory": "https://c/dir", "account_key_content": "k"}],
                 "https://p/dir"):
        proc = run_validation(tmp_path, {"web1": {"certwatch_mode": "renew", "certwatch_certificates": cert,
                                                  "certwatch_acme": acme, "certwatch_dns": dns}})
        assert proc.returncode != 0 and "for every CA" in proc.stdout, (acme, proc.stdout[-2000:])
    proc = run_validation(tmp_path, {"web1": {"certwatch_mode": "renew", "certwatch_certificates": cert, "certwatch_dns": dns,
                                              "certwatch_acme": [first, {"name": "b", "directory": "https://b/dir",
                                                                         "account_key_content": "k"}]}})
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_bad_interval_is_refused(tmp_path: pathlib.Path) -> None:
    proc = run_validation(tmp_path, {"web1": {}}, {"certwatch_interval": 90})
    assert proc.returncode != 0 and "must be 1-59 minutes or a multiple of 60" in proc.stdout


def test_cron_fallback_on_a_host_without_systemd(tmp_path: pathlib.Path) -> None:
    """This machine has no systemd as PID 1: the role schedules cron, and the cron command works."""
    import sys

    sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
    from certgen import TestCA

    issued = TestCA("cron fallback CA").issue(["cron.example.test"], days=90)
    certs = tmp_path / "certs" / "web"
    issued.write(str(certs), "cert", bundle=False)
    os.replace(certs / "cert.key", certs / "privkey.pem")
    base = tmp_path / "agent"
    role_vars = {
        "certwatch_scheduler": "auto", "certwatch_manage_os_packages": False, "certwatch_python": sys.executable,
        "certwatch_venv": str(base / "venv"), "certwatch_bin": str(base / "certwatch"),
        "certwatch_config_path": str(base / "etc" / "certwatch.json"), "certwatch_secrets_dir": str(base / "secrets"),
        "certwatch_state_dir": str(base / "state"), "certwatch_metrics_dir": str(base / "metrics"),
        "certwatch_cron_file": str(base / "cron.d" / "ghostguard-certwatch"), "certwatch_randomized_delay": 0,
        "certwatch_cert_dir": str(tmp_path / "certs"), "certwatch_run_now": True,
        "certwatch_certificates": [{"name": "web", "domains": ["cron.example.test"]}],
    }
    (base / "cron.d").mkdir(parents=True)
    (tmp_path / "play.yml").write_text(yaml.safe_dump([{
        "name": "Agent on this machine", "hosts": "localhost", "connection": "local", "gather_facts": True,
        "vars": role_vars, "roles": ["ghostguard.certs.certwatch"],
    }]))
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", str(tmp_path / "play.yml")]
    first = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(), check=False)
    assert first.returncode == 0, first.stdout[-3000:]
    second = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(), check=False)
    assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout[-3000:]
    # an upgrade from the flat layout: engine files the collection no longer has are removed, the rest kept
    engine = base / "venv" / "lib" / "ghostguard" / "ghostguard_certs"
    assert (engine / "_agent" / "main.py").is_file() and (engine / "_tls" / "probe.py").is_file()
    stale = [engine / "_agent.py", engine / "_ledger.py", engine / "_acme" / "gone.py"]
    for path in stale:
        path.write_text("raise SystemExit('stale engine file imported')\n")
    upgrade = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(), check=False)
    assert upgrade.returncode == 0, upgrade.stdout[-3000:]
    assert [p for p in stale if p.exists()] == []
    installed = sorted(p.relative_to(engine).as_posix() for p in engine.rglob("*.py"))
    source = pathlib.Path(ROOT) / "plugins" / "module_utils"
    assert installed == sorted(p.relative_to(source).as_posix() for p in source.rglob("*.py"))

    line = (base / "cron.d" / "ghostguard-certwatch").read_text().splitlines()[-1]
    schedule, command = line.split(" root ", 1)
    assert schedule == "*/5 * * * *"
    assert command == "%s --random-delay 0 check 2>&1 | logger -t certwatch" % (base / "certwatch")
    # what cron runs (its output goes to the test instead of syslog)
    run = subprocess.run(command.split(" 2>&1")[0], shell=True, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout.splitlines()[0])
    assert record["cert_id"] == "web" and record["status"] == "ok" and record["host"] == "localhost"
    metrics = (base / "metrics" / "ghostguard_certwatch.prom").read_text()
    check = subprocess.run(["promtool", "check", "metrics"], input=metrics, capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert 'ghostguard_cert_status{filepath="%s",name="web",status="ok"} 1' % (certs / "cert.pem") in metrics
    assert list((base / "secrets").iterdir()) == []  # report mode: no secrets
    # the proof settings reach the agent, the backoff for services that watch their files included
    config = json.loads((base / "etc" / "certwatch.json").read_text())
    assert config["prove"] == {"retries": 20, "retry_delay": 0.5, "watch_retries": 10, "watch_retry_delay": 0.5,
                               "watch_backoff": 2.0, "watch_max_delay": 8.0}
    assert oct((base / "secrets").stat().st_mode & 0o777) == "0o700"
    status = subprocess.run([str(base / "certwatch"), "status"], capture_output=True, text=True, check=False)
    assert status.returncode == 0 and status.stdout.split("\n")[1].split()[:2] == ["web", "ok"]


def test_renew_mode_keeps_its_files_in_the_configured_directories(tmp_path: pathlib.Path) -> None:
    """The ACME CA bundle goes beside the configuration wherever certwatch_config_path is (not /etc/ghostguard);
    the interval reaches the metrics (the silent-agent alert derives from it); the installed command exits by the
    table."""
    import sys

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
    from certgen import TestCA

    ca = TestCA("renew mode CA")
    issued = ca.issue(["renew.example.test"], days=90)
    certs = tmp_path / "certs" / "web"
    issued.write(str(certs), "cert", bundle=False)
    os.replace(certs / "cert.key", certs / "privkey.pem")
    acme_ca = tmp_path / "controller-acme-ca.pem"
    acme_ca.write_bytes(ca.root_pem)
    account_key, backup_key = (ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
        for _key in range(2))
    base = tmp_path / "agent"
    etc = base / "etc" / "ghostguard-test"
    role_vars = {
        "certwatch_mode": "renew", "certwatch_scheduler": "cron", "certwatch_manage_os_packages": False,
        "certwatch_python": sys.executable, "certwatch_venv": str(base / "venv"),
        "certwatch_renew_python_packages": [],  # its checks need only cryptography (no order is placed here)
        "certwatch_bin": str(base / "certwatch"), "certwatch_config_path": str(etc / "certwatch.json"),
        "certwatch_secrets_dir": str(base / "secrets"), "certwatch_state_dir": str(base / "state"),
        "certwatch_metrics_dir": str(base / "metrics"), "certwatch_cron_file": str(base / "cron.d" / "certwatch"),
        "certwatch_interval": 60, "certwatch_randomized_delay": 0, "certwatch_run_now": True,
        "certwatch_cert_dir": str(tmp_path / "certs"),
        # two CAs, primary first (a single mapping is what molecule/certwatch and the demo use)
        "certwatch_acme": [{"name": "primary", "directory": "https://127.0.0.1:9/dir", "ca_bundle": str(acme_ca),
                            "account_key_content": account_key, "terms_agreed": True, "limits": {"orders_per_3h": 10}},
                           {"name": "backup", "directory": "https://127.0.0.1:10/dir", "ca_bundle": str(acme_ca),
                            "account_key_content": backup_key, "terms_agreed": True, "eab_kid": "kid-b",
                            "eab_hmac_key": "aG1hYy1vZi10aGUtYmFja3VwLWNh"}],
        "certwatch_dns": {"provider": "rfc2136",
                          "rfc2136": {"server": "127.0.0.1", "key_name": "k", "key_secret": "c2VjcmV0"}},
        "certwatch_certificates": [{"name": "web", "domains": ["renew.example.test"], "issue_on": "host"}],
    }
    (base / "cron.d").mkdir(parents=True)
    (tmp_path / "play.yml").write_text(yaml.safe_dump([{
        "name": "Agent in renew mode on this machine", "hosts": "localhost", "connection": "local",
        "gather_facts": True, "vars": role_vars, "roles": ["ghostguard.certs.certwatch"],
    }]))
    default_dir = pathlib.Path("/etc/ghostguard")
    before = sorted(default_dir.rglob("*")) if default_dir.exists() else None
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", str(tmp_path / "play.yml")],
                          capture_output=True, text=True, env=ansible_env(), check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]

    bundle = etc / "acme-ca-bundle.pem"
    assert bundle.read_bytes() == acme_ca.read_bytes()
    config = json.loads((etc / "certwatch.json").read_text())
    assert config["acme"]["ca_bundle"] == str(bundle)
    # the second CA: its own account key file (0600), CA bundle and EAB; no secret in the configuration or output
    backup_key_file = base / "secrets" / "acme-account-backup.key"
    assert backup_key_file.read_text().strip() == backup_key.strip()
    assert oct(backup_key_file.stat().st_mode & 0o777) == "0o600"
    assert (etc / "acme-ca-bundle-backup.pem").read_bytes() == acme_ca.read_bytes()
    assert config["acme_fallbacks"] == [{"name": "backup", "directory": "https://127.0.0.1:10/dir", "terms_agreed": True,
                                         "eab_kid": "kid-b", "account_key": str(backup_key_file),
                                         "ca_bundle": str(etc / "acme-ca-bundle-backup.pem")}]
    credentials = base / "secrets" / "credentials.json"
    assert json.loads(credentials.read_text())["eab_hmac_keys"] == {"backup": "aG1hYy1vZi10aGUtYmFja3VwLWNh"}
    assert oct(credentials.stat().st_mode & 0o777) == "0o600"
    for secret in ("aG1hYy1vZi10aGUtYmFja3VwLWNh", backup_key.splitlines()[1], account_key.splitlines()[1]):
        assert secret not in (etc / "certwatch.json").read_text() and secret not in proc.stdout + proc.stderr
    assert config["schedule"] == {"interval": 3600, "randomized_delay": 0}
    assert (sorted(default_dir.rglob("*")) if default_dir.exists() else None) == before  # nothing under /etc/ghostguard
    metrics = (base / "metrics" / "ghostguard_certwatch.prom").read_text()
    assert "\nghostguard_agent_interval_seconds 3600\n" in metrics
    assert "\nghostguard_agent_randomized_delay_seconds 0\n" in metrics

    certwatch = str(base / "certwatch")
    usage = subprocess.run([certwatch, "--bogus", "check"], capture_output=True, text=True, check=False)
    assert usage.returncode == 3 and "usage error: unrecognized arguments: --bogus" in usage.stderr
    ok = subprocess.run([certwatch, "check"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout.splitlines()[0])["status"] == "ok"
